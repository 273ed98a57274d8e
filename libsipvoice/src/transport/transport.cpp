// SIP transports (RFC 3261 §18) on standalone Asio: UDP sockets, TCP and TLS connections.
#include "sipvoice/transport/transport.hpp"

#include <array>
#include <deque>
#include <map>
#include <random>
#include <vector>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/post.hpp>
#include <asio/ssl.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <openssl/rand.h>

#include "../sip/charset.hpp"
#include "sipvoice/config.hpp"
#include "sipvoice/sip/framer.hpp"
#include "sipvoice/transport/stun.hpp"

namespace sipvoice {

std::string_view log_level_name(log_level level) noexcept {
    switch (level) {
        case log_level::debug: return "debug";
        case log_level::info: return "info";
        case log_level::warning: return "warning";
        case log_level::error: return "error";
    }
    return "?";
}

}  // namespace sipvoice

namespace sipvoice::transport {

using asio::ip::tcp;
using asio::ip::udp;

std::string_view protocol_name(protocol p) noexcept {
    switch (p) {
        case protocol::udp: return "UDP";
        case protocol::tcp: return "TCP";
        case protocol::tls: return "TLS";
    }
    return "UDP";
}

std::optional<protocol> parse_protocol(std::string_view name) noexcept {
    if (sip::detail::iequals(name, "udp")) return protocol::udp;
    if (sip::detail::iequals(name, "tcp")) return protocol::tcp;
    if (sip::detail::iequals(name, "tls")) return protocol::tls;
    return std::nullopt;
}

std::string host_text(const asio::ip::address& a) {
    if (a.is_v6()) return "[" + a.to_string() + "]";
    return a.to_string();
}

std::string to_string(const endpoint& e) { return host_text(e.address) + ":" + std::to_string(e.port); }

namespace {

endpoint from_asio(const tcp::endpoint& e) { return {e.address(), e.port()}; }
endpoint from_asio(const udp::endpoint& e) { return {e.address(), e.port()}; }

// A datagram of nothing but CR/LF/space is a keep-alive (RFC 5626 §3.5.1 style, or a NAT ping some
// phones send); a first byte below 0x04 is STUN (RFC 5389 §6). Neither is SIP: ignore silently.
bool is_keepalive_datagram(std::string_view d) noexcept {
    if (d.empty()) return true;
    if (static_cast<unsigned char>(d[0]) < 4) return true;
    for (char c : d)
        if (c != '\r' && c != '\n' && c != ' ') return false;
    return true;
}

}  // namespace

class connection;

struct sip_transport::impl : std::enable_shared_from_this<impl> {
    impl(asio::io_context& context, transport_config c) : io(context), cfg(std::move(c)) {}

    struct udp_listener {
        explicit udp_listener(asio::io_context& io) : socket(io) {}
        udp::socket socket;
        std::vector<char> buffer = std::vector<char>(65536);
        udp::endpoint from;
    };
    struct acceptor {
        acceptor(asio::io_context& io, protocol p) : socket(io), proto(p) {}
        tcp::acceptor socket;
        protocol proto;
    };

    void log(log_level level, const std::string& text) const {
        if (log_cb) log_cb(level, text);
    }
    std::error_code open_udp(const asio::ip::address& addr, std::uint16_t& port);
    std::error_code open_acceptor(const asio::ip::address& addr, protocol p, std::uint16_t& port);
    std::error_code make_tls_contexts();
    void receive(udp_listener& l);
    void accept(acceptor& a);
    void deliver(std::string bytes, const flow& from, sip::transport_kind kind);
    std::shared_ptr<connection> find(protocol p, const endpoint& to) const;
    std::shared_ptr<connection> open_connection(protocol p, const endpoint& to, std::string server_name,
                                                std::error_code& ec);
    void send_datagram(const endpoint& to, std::string bytes, send_handler done);
    void closed(connection& c, std::error_code ec);
    void stun_retransmit(const stun::transaction_id& id);
    void stun_received(std::string_view datagram, const endpoint& from);

    // STUN Binding requests under way (stun_ping), by transaction id.
    struct stun_pending {
        endpoint to;
        std::string request;
        std::unique_ptr<asio::steady_timer> timer;
        sipvoice::time_point deadline;
        duration gap{500};  // RFC 5389 §7.2.1: RTO 500 ms, doubled after each retransmission
        bool sent_last = false;  // the next expiry is the deadline
        sip_transport::stun_handler done;
    };
    std::map<stun::transaction_id, stun_pending> stun_requests;

    asio::io_context& io;
    transport_config cfg;
    message_handler message_cb;
    closed_handler closed_cb;
    sipvoice::log_handler log_cb;
    std::vector<std::unique_ptr<udp_listener>> udp_sockets;
    std::vector<std::unique_ptr<acceptor>> acceptors;
    std::optional<asio::ssl::context> client_tls;
    std::optional<asio::ssl::context> server_tls;
    std::map<std::uint64_t, std::shared_ptr<connection>> connections;
    std::uint64_t next_id = 1;
    std::array<std::uint16_t, 3> ports{};
    bool stopped = false;
};

// One TCP or TLS connection: a framer on the read side, a queue on the write side, a timer for the
// connect/handshake deadline and the idle timeout, and the keep-alive pings of connections we opened.
class connection : public std::enable_shared_from_this<connection> {
public:
    using tls_stream = asio::ssl::stream<tcp::socket>;

    connection(sip_transport::impl& owner, protocol p, std::uint64_t id, bool outbound)
        : owner_(owner.weak_from_this()), io_(owner.io), proto_(p), id_(id), outbound_(outbound),
          framer_(sip::framer_limits{owner.cfg.max_message_size, owner.cfg.max_message_size, false}),
          timer_(owner.io), keepalive_(owner.io), idle_timeout_(owner.cfg.idle_timeout),
          keepalive_interval_(owner.cfg.keepalive_interval) {
        if (p == protocol::tls)
            tls_.emplace(tcp::socket(owner.io), outbound ? *owner.client_tls : *owner.server_tls);
        else
            plain_.emplace(owner.io);
    }

    tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }
    [[nodiscard]] protocol proto() const noexcept { return proto_; }
    [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
    [[nodiscard]] const endpoint& remote() const noexcept { return remote_; }
    [[nodiscard]] bool usable() const noexcept { return phase_ != phase::closed; }
    [[nodiscard]] flow as_flow() const { return {proto_, remote_, local_, id_}; }

    // Outbound: connect, then (TLS) handshake with verification of `server_name`.
    void start_connect(const endpoint& to, std::string server_name, bool verify) {
        remote_ = to;
        server_name_ = std::move(server_name);
        arm_deadline();
        auto self = shared_from_this();
        socket().async_connect(tcp::endpoint(to.address, to.port), [self, verify](std::error_code ec) {
            if (ec) return self->close(ec);
            self->learn_local();
            if (!self->tls_) return self->opened();
            self->start_client_handshake(verify);
        });
    }

    // Inbound: the socket is connected; TLS still needs its handshake.
    void start_accepted() {
        std::error_code ec;
        remote_ = from_asio(socket().remote_endpoint(ec));
        learn_local();
        arm_deadline();
        if (!tls_) return opened();
        auto self = shared_from_this();
        tls_->async_handshake(asio::ssl::stream_base::server, [self](std::error_code e) {
            if (e) return self->close(e);
            self->opened();
        });
    }

    void send(std::string bytes, sip_transport::send_handler done) {
        if (phase_ == phase::closed) {
            if (done) asio::post(io_, [done] { done(asio::error::not_connected); });
            return;
        }
        queue_.push_back({std::move(bytes), std::move(done)});
        if (phase_ == phase::open && !writing_) write_next();
    }
    // A connect probe: completes when the connection is open (or at once when it already is).
    void when_open(sip_transport::send_handler done) { send({}, std::move(done)); }

    // RFC 5626 §4.4.1 for this connection: a ping every `interval` (0: none), and with a pong
    // timeout, the connection closed as failed when no pong follows a ping within it.
    void set_keepalive(duration interval, duration pong_timeout) {
        keepalive_interval_ = interval;
        pong_timeout_ = pong_timeout;
        awaiting_pong_ = false;
        keepalive_.cancel();
        if (phase_ == phase::open && keepalive_interval_.count() > 0) arm_keepalive();
    }

    void close(std::error_code ec) {
        if (phase_ == phase::closed) return;
        phase_ = phase::closed;
        timer_.cancel();
        keepalive_.cancel();
        std::error_code ignored;
        socket().shutdown(tcp::socket::shutdown_both, ignored);
        socket().close(ignored);
        auto pending = std::move(queue_);
        queue_.clear();
        const std::error_code why = ec ? ec : asio::error::connection_aborted;
        for (auto& [bytes, done] : pending)
            if (done) done(why);
        if (auto owner = owner_.lock()) owner->closed(*this, ec);
    }

private:
    enum class phase : std::uint8_t { connecting, open, closed };

    void learn_local() {
        std::error_code ec;
        local_ = from_asio(socket().local_endpoint(ec));
    }

    void start_client_handshake(bool verify) {
        SSL* ssl = tls_->native_handle();
        std::error_code ec;
        (void)asio::ip::make_address(server_name_, ec);
        const bool is_address = !ec;
        // RFC 6066 §3: SNI carries host names only, never IP literals.
        if (!server_name_.empty() && !is_address) SSL_set_tlsext_host_name(ssl, server_name_.c_str());
        if (verify) {
            tls_->set_verify_mode(asio::ssl::verify_peer);
            const std::string expected = server_name_.empty() ? remote_.address.to_string() : server_name_;
            tls_->set_verify_callback(asio::ssl::host_name_verification(expected));
        } else {
            tls_->set_verify_mode(asio::ssl::verify_none);
        }
        auto self = shared_from_this();
        tls_->async_handshake(asio::ssl::stream_base::client, [self](std::error_code e) {
            if (e) return self->close(e);
            self->opened();
        });
    }

    void arm_deadline() {
        timer_.expires_after(std::chrono::milliseconds(owner_connect_timeout()));
        auto self = shared_from_this();
        timer_.async_wait([self](std::error_code ec) {
            if (ec || self->phase_ != phase::connecting) return;
            self->close(asio::error::timed_out);
        });
    }
    std::int64_t owner_connect_timeout() const {
        auto owner = owner_.lock();
        return owner ? owner->cfg.connect_timeout.count() : 5000;
    }

    void opened() {
        phase_ = phase::open;
        timer_.cancel();
        touch();
        arm_idle();
        if (outbound_ && keepalive_interval_.count() > 0) arm_keepalive();
        read();
        // Messages that waited for the connection go; then the probes (empty entries) are answered.
        // Their handlers may send at once, so the queue must be whole before they run.
        std::deque<std::pair<std::string, sip_transport::send_handler>> rest;
        std::vector<sip_transport::send_handler> probes;
        for (auto& entry : queue_) {
            if (entry.first.empty())
                probes.push_back(std::move(entry.second));
            else
                rest.push_back(std::move(entry));
        }
        queue_ = std::move(rest);
        if (!queue_.empty() && !writing_) write_next();
        for (auto& done : probes)
            if (done) done({});
    }

    void touch() { last_activity_ = sipvoice::clock::now(); }

    void arm_idle() {
        if (idle_timeout_.count() <= 0) return;
        timer_.expires_at(last_activity_ + idle_timeout_);
        auto self = shared_from_this();
        timer_.async_wait([self](std::error_code ec) {
            if (ec || self->phase_ != phase::open) return;
            if (sipvoice::clock::now() - self->last_activity_ >= self->idle_timeout_)
                return self->close(asio::error::timed_out);
            self->arm_idle();
        });
    }

    void arm_keepalive() {
        keepalive_.expires_after(keepalive_interval_);
        auto self = shared_from_this();
        keepalive_.async_wait([self](std::error_code ec) {
            if (ec || self->phase_ != phase::open) return;
            self->send("\r\n\r\n", {});  // RFC 5626 §4.4.1 ping
            if (self->pong_timeout_.count() > 0) return self->await_pong();
            self->arm_keepalive();
        });
    }

    // After a ping that must be answered: the next ping once the pong came, or the end of the flow.
    void await_pong() {
        awaiting_pong_ = true;
        keepalive_.expires_after(pong_timeout_);
        auto self = shared_from_this();
        keepalive_.async_wait([self](std::error_code ec) {
            if (ec || self->phase_ != phase::open || !self->awaiting_pong_) return;
            if (auto owner = self->owner_.lock())
                owner->log(log_level::warning, "no keep-alive pong from " + to_string(self->remote_) + " within " +
                                                   std::to_string(self->pong_timeout_.count() / 1000) + " s: closing the " +
                                                   std::string(protocol_name(self->proto_)) + " connection (RFC 5626 §4.4.1)");
            self->close(asio::error::timed_out);
        });
    }

    void pong_received() {
        if (!awaiting_pong_) return;
        awaiting_pong_ = false;
        keepalive_.cancel();  // the pong wait's handler sees the cancel and does nothing
        if (phase_ == phase::open && keepalive_interval_.count() > 0) arm_keepalive();
    }

    template <class Handler>
    void read_some(Handler&& h) {
        if (tls_)
            tls_->async_read_some(asio::buffer(buffer_), std::forward<Handler>(h));
        else
            plain_->async_read_some(asio::buffer(buffer_), std::forward<Handler>(h));
    }

    void read() {
        auto self = shared_from_this();
        read_some([self](std::error_code ec, std::size_t n) {
            if (ec) return self->close(ec);
            self->touch();
            self->framer_.feed(std::string_view(self->buffer_.data(), n));
            if (!self->drain_framer()) return;
            if (self->phase_ == phase::open) self->read();
        });
    }

    // Hands every complete message up; false when the stream broke.
    bool drain_framer() {
        for (;;) {
            sip::frame_event ev = framer_.next();
            switch (ev.kind) {
                case sip::frame_kind::need_more: return true;
                case sip::frame_kind::ping: send("\r\n", {}); break;  // RFC 5626 §4.4.1 pong
                case sip::frame_kind::pong: pong_received(); break;
                case sip::frame_kind::error: {
                    if (auto owner = owner_.lock())
                        owner->log(log_level::warning, "closing " + std::string(protocol_name(proto_)) + " connection from " +
                                                           to_string(remote_) + ": " + std::string(sip::describe(ev.error.code)));
                    close(std::make_error_code(std::errc::message_size));
                    return false;
                }
                case sip::frame_kind::message: {
                    auto owner = owner_.lock();
                    if (!owner) return false;
                    owner->deliver(std::move(ev.bytes), as_flow(), sip::transport_kind::stream);
                    if (phase_ != phase::open) return false;
                    break;
                }
            }
        }
    }

    void write_next() {
        if (queue_.empty() || phase_ != phase::open) {
            writing_ = false;
            return;
        }
        writing_ = true;
        if (queue_.front().first.empty()) {  // a probe queued while open
            auto done = std::move(queue_.front().second);
            queue_.pop_front();
            if (done) done({});
            return write_next();
        }
        auto self = shared_from_this();
        auto on_written = [self](std::error_code ec, std::size_t) {
            if (self->phase_ == phase::closed) return;
            auto done = std::move(self->queue_.front().second);
            self->queue_.pop_front();
            if (ec) {
                if (done) done(ec);
                return self->close(ec);
            }
            self->touch();
            if (done) done({});
            self->write_next();
        };
        if (tls_)
            asio::async_write(*tls_, asio::buffer(queue_.front().first), on_written);
        else
            asio::async_write(*plain_, asio::buffer(queue_.front().first), on_written);
    }

    std::weak_ptr<sip_transport::impl> owner_;
    asio::io_context& io_;
    protocol proto_;
    std::uint64_t id_;
    bool outbound_;
    std::optional<tcp::socket> plain_;
    std::optional<tls_stream> tls_;
    endpoint remote_;
    endpoint local_;
    std::string server_name_;
    phase phase_ = phase::connecting;
    sip::stream_framer framer_;
    std::array<char, 16384> buffer_{};
    std::deque<std::pair<std::string, sip_transport::send_handler>> queue_;
    bool writing_ = false;
    asio::steady_timer timer_;      // connect deadline, then idle timeout
    asio::steady_timer keepalive_;
    sipvoice::time_point last_activity_{};
    duration idle_timeout_;
    duration keepalive_interval_;
    duration pong_timeout_{};
    bool awaiting_pong_ = false;
};

// ---- impl ------------------------------------------------------------------------------------------

std::error_code sip_transport::impl::open_udp(const asio::ip::address& addr, std::uint16_t& port) {
    auto l = std::make_unique<udp_listener>(io);
    std::error_code ec;
    const udp::endpoint ep(addr, port);
    l->socket.open(ep.protocol(), ec);
    if (ec) return ec;
    if (addr.is_v6()) l->socket.set_option(asio::ip::v6_only(true), ec);
    l->socket.bind(ep, ec);
    if (ec) return ec;
    port = l->socket.local_endpoint(ec).port();
    receive(*l);
    udp_sockets.push_back(std::move(l));
    return {};
}

std::error_code sip_transport::impl::open_acceptor(const asio::ip::address& addr, protocol p, std::uint16_t& port) {
    auto a = std::make_unique<acceptor>(io, p);
    std::error_code ec;
    const tcp::endpoint ep(addr, port);
    a->socket.open(ep.protocol(), ec);
    if (ec) return ec;
    a->socket.set_option(tcp::acceptor::reuse_address(true), ec);
    if (addr.is_v6()) a->socket.set_option(asio::ip::v6_only(true), ec);
    a->socket.bind(ep, ec);
    if (ec) return ec;
    a->socket.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return ec;
    port = a->socket.local_endpoint(ec).port();
    accept(*a);
    acceptors.push_back(std::move(a));
    return {};
}

std::error_code sip_transport::impl::make_tls_contexts() {
    std::error_code ec;
    if (!SIPVOICE_HAVE_TLS) return {};  // built with SIPVOICE_WITH_TLS=OFF: TLS sends fail, nothing listens
    client_tls.emplace(asio::ssl::context::tls_client);
    client_tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                            asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    const tls_options& t = cfg.tls_settings;
    if (!t.ca_file.empty()) {
        client_tls->load_verify_file(t.ca_file, ec);
        if (ec) return ec;
    }
    if (!t.ca_dir.empty()) {
        client_tls->add_verify_path(t.ca_dir, ec);
        if (ec) return ec;
    }
    if (t.ca_file.empty() && t.ca_dir.empty()) client_tls->set_default_verify_paths(ec);
    if (ec) return ec;
    if (!t.certificate_file.empty()) {  // a client certificate too, for PBXs doing mutual TLS
        client_tls->use_certificate_chain_file(t.certificate_file, ec);
        if (!ec) client_tls->use_private_key_file(t.private_key_file, asio::ssl::context::pem, ec);
        if (ec) return ec;
        server_tls.emplace(asio::ssl::context::tls_server);
        server_tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                                asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                                asio::ssl::context::no_tlsv1_1);
        server_tls->use_certificate_chain_file(t.certificate_file, ec);
        if (!ec) server_tls->use_private_key_file(t.private_key_file, asio::ssl::context::pem, ec);
        if (ec) return ec;
    }
    return {};
}

void sip_transport::impl::receive(udp_listener& l) {
    std::weak_ptr<impl> weak = weak_from_this();
    l.socket.async_receive_from(asio::buffer(l.buffer), l.from, [weak, &l](std::error_code ec, std::size_t n) {
        auto self = weak.lock();
        if (!self || self->stopped || ec == asio::error::operation_aborted) return;
        if (!ec) {
            std::string_view d(l.buffer.data(), n);
            if (n > self->cfg.max_message_size) {
                self->log(log_level::warning, "dropped a " + std::to_string(n) + "-byte datagram from " +
                                                  to_string(from_asio(l.from)) + ": larger than max_message_size");
            } else if (stun::is_stun(d)) {
                self->stun_received(d, from_asio(l.from));
            } else if (!is_keepalive_datagram(d)) {
                std::error_code e2;
                flow from{protocol::udp, from_asio(l.from), from_asio(l.socket.local_endpoint(e2)), 0};
                self->deliver(std::string(d), from, sip::transport_kind::datagram);
            }
        }
        // ICMP errors surface here as connection_refused on Linux: not fatal to a shared socket.
        if (!self->stopped) self->receive(l);
    });
}

void sip_transport::impl::accept(acceptor& a) {
    std::weak_ptr<impl> weak = weak_from_this();
    a.socket.async_accept([weak, &a](std::error_code ec, tcp::socket s) {
        auto self = weak.lock();
        if (!self || self->stopped || ec == asio::error::operation_aborted) return;
        if (!ec) {
            if (self->connections.size() >= self->cfg.max_connections) {
                std::error_code e2;
                self->log(log_level::warning, "refused a " + std::string(protocol_name(a.proto)) + " connection from " +
                                                  to_string(from_asio(s.remote_endpoint(e2))) + ": max_connections (" +
                                                  std::to_string(self->cfg.max_connections) + ") reached");
                s.close(e2);
            } else if (a.proto == protocol::tls && !self->server_tls) {
                std::error_code e2;
                s.close(e2);
            } else {
                auto c = std::make_shared<connection>(*self, a.proto, self->next_id++, false);
                c->socket() = std::move(s);
                self->connections.emplace(c->id(), c);
                c->start_accepted();
            }
        }
        self->accept(a);
    });
}

void sip_transport::impl::deliver(std::string bytes, const flow& from, sip::transport_kind kind) {
    sip::parse_options opts;
    opts.transport = kind;
    opts.max_message_size = cfg.max_message_size;
    auto parsed = sip::message::parse(std::move(bytes), opts);
    if (!parsed) {
        // RFC 3261 §18.3 / §16.3: nothing can be answered without a parsable Via; the datagram is dropped.
        log(log_level::warning, "dropped an unparsable message from " + to_string(from.remote) + " (" +
                                    std::string(protocol_name(from.proto)) + "): " +
                                    std::to_string(parsed.error().line) + ":" + std::to_string(parsed.error().column) +
                                    ": " + std::string(parsed.error().what()));
        return;
    }
    if (message_cb) message_cb(std::move(*parsed), from);
}

std::shared_ptr<connection> sip_transport::impl::find(protocol p, const endpoint& to) const {
    for (const auto& [id, c] : connections)
        if (c->proto() == p && c->remote() == to && c->usable()) return c;
    return nullptr;
}

std::shared_ptr<connection> sip_transport::impl::open_connection(protocol p, const endpoint& to, std::string server_name,
                                                                 std::error_code& ec) {
    if (auto c = find(p, to)) return c;
    if (connections.size() >= cfg.max_connections) {
        ec = std::make_error_code(std::errc::too_many_files_open);
        return nullptr;
    }
    if (p == protocol::tls && !client_tls) {
        ec = std::make_error_code(std::errc::protocol_not_supported);
        return nullptr;
    }
    auto c = std::make_shared<connection>(*this, p, next_id++, true);
    connections.emplace(c->id(), c);
    log(log_level::debug, "connecting " + std::string(protocol_name(p)) + " to " + to_string(to));
    c->start_connect(to, std::move(server_name), cfg.tls_settings.verify_peer);
    return c;
}

void sip_transport::impl::send_datagram(const endpoint& to, std::string bytes, send_handler done) {
    udp_listener* l = nullptr;
    for (auto& s : udp_sockets) {
        std::error_code ec;
        if (s->socket.local_endpoint(ec).address().is_v6() == to.address.is_v6()) l = s.get();
    }
    if (l == nullptr || bytes.size() > cfg.max_message_size) {
        const std::error_code ec = l == nullptr ? std::make_error_code(std::errc::address_family_not_supported)
                                                : std::make_error_code(std::errc::message_size);
        if (done) asio::post(io, [done, ec] { done(ec); });
        return;
    }
    auto data = std::make_shared<std::string>(std::move(bytes));
    l->socket.async_send_to(asio::buffer(*data), udp::endpoint(to.address, to.port),
                            [data, done](std::error_code ec, std::size_t) {
                                if (done) done(ec);
                            });
}

void sip_transport::impl::closed(connection& c, std::error_code ec) {
    const flow f = c.as_flow();
    auto keep = connections.find(c.id());
    std::shared_ptr<connection> hold;  // the connection may be running its last handler
    if (keep != connections.end()) {
        hold = keep->second;
        connections.erase(keep);
    }
    const std::string why = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ? "by the peer" : ec.message();
    log(log_level::debug, std::string(protocol_name(f.proto)) + " connection with " + to_string(f.remote) + " closed: " + why);
    if (closed_cb && !stopped) closed_cb(f, ec);
}

// ---- sip_transport ---------------------------------------------------------------------------------

sip_transport::sip_transport(asio::io_context& io, transport_config config)
    : impl_(std::make_shared<impl>(io, std::move(config))) {}

sip_transport::~sip_transport() { stop(); }

std::error_code sip_transport::start() {
    impl& m = *impl_;
    m.stopped = false;
    if (auto ec = m.make_tls_contexts()) return ec;
    std::vector<asio::ip::address> addrs;
    if (m.cfg.bind_address.empty()) {
        addrs = {asio::ip::address_v4::any(), asio::ip::address_v6::any()};
    } else {
        std::error_code ec;
        addrs.push_back(asio::ip::make_address(m.cfg.bind_address, ec));
        if (ec) return ec;
    }
    // Each protocol gets one port for all families: the first family fixes it when 0 was asked.
    struct want {
        protocol p;
        bool on;
        std::uint16_t port;
    };
    const bool tls_listen = m.cfg.tls && m.server_tls.has_value();
    for (const want& w : {want{protocol::udp, m.cfg.udp, m.cfg.udp_port}, want{protocol::tcp, m.cfg.tcp, m.cfg.tcp_port},
                          want{protocol::tls, tls_listen, m.cfg.tls_port}}) {
        if (!w.on) continue;
        std::uint16_t port = w.port;
        for (std::size_t i = 0; i < addrs.size(); ++i) {
            const std::error_code ec = w.p == protocol::udp ? m.open_udp(addrs[i], port) : m.open_acceptor(addrs[i], w.p, port);
            // IPv6 may be missing on the host: with the default "all addresses", IPv4 alone is enough.
            if (ec && !(m.cfg.bind_address.empty() && addrs[i].is_v6())) return ec;
            if (ec) m.log(log_level::info, "no IPv6 " + std::string(protocol_name(w.p)) + " listener: " + ec.message());
        }
        m.ports[static_cast<std::size_t>(w.p)] = port;
    }
    return {};
}

void sip_transport::impl::stun_retransmit(const stun::transaction_id& id) {
    auto it = stun_requests.find(id);
    if (it == stun_requests.end()) return;
    stun_pending& p = it->second;
    const sipvoice::time_point now = sipvoice::clock::now();
    if (p.sent_last || now >= p.deadline) {
        auto done = std::move(p.done);
        stun_requests.erase(it);
        if (done) done(std::nullopt, asio::error::timed_out);
        return;
    }
    send_datagram(p.to, p.request, {});
    // The next retransmission, unless the deadline comes first: then only the wait for an answer.
    sipvoice::time_point next = now + p.gap;
    if (next >= p.deadline) {
        next = p.deadline;
        p.sent_last = true;
    }
    p.gap *= 2;
    p.timer->expires_at(next);
    std::weak_ptr<impl> weak = weak_from_this();
    p.timer->async_wait([weak, id](std::error_code ec) {
        auto self = weak.lock();
        if (ec || !self || self->stopped) return;
        self->stun_retransmit(id);
    });
}

void sip_transport::impl::stun_received(std::string_view datagram, const endpoint& from) {
    auto r = stun::read_response(datagram);
    if (!r) return;  // a request or indication (we answer none), or malformed
    auto it = stun_requests.find(r->id);
    // A late answer to a retransmission, not ours, or from elsewhere than where the request went.
    if (it == stun_requests.end() || !(it->second.to == from)) return;
    auto done = std::move(it->second.done);
    stun_requests.erase(it);
    if (!done) return;
    if (r->success && r->mapped) return done(r->mapped, {});
    // An error response, or a success without an address: the server is there, but no binding.
    done(std::nullopt, std::make_error_code(std::errc::protocol_error));
}

void sip_transport::stun_ping(const endpoint& to, duration timeout, stun_handler done) {
    impl& m = *impl_;
    if (m.stopped) {
        if (done) asio::post(m.io, [done] { done(std::nullopt, asio::error::operation_aborted); });
        return;
    }
    stun::transaction_id id{};  // RFC 5389 §6: cryptographically random, so that no one can guess it
    if (RAND_bytes(id.data(), static_cast<int>(id.size())) != 1) {
        std::random_device rd;
        for (auto& b : id) b = static_cast<std::uint8_t>(rd());
    }
    impl::stun_pending& p = m.stun_requests[id];
    p.to = to;
    p.request = stun::binding_request(id);
    p.timer = std::make_unique<asio::steady_timer>(m.io);
    p.deadline = sipvoice::clock::now() + timeout;
    p.done = std::move(done);
    m.stun_retransmit(id);
}

void sip_transport::stop() {
    impl& m = *impl_;
    if (m.stopped) return;
    m.stopped = true;
    m.stun_requests.clear();  // their timers go with them; no handler runs after stop()
    std::error_code ec;
    for (auto& s : m.udp_sockets) s->socket.close(ec);
    for (auto& a : m.acceptors) a->socket.close(ec);
    auto conns = m.connections;
    for (auto& [id, c] : conns) c->close(asio::error::operation_aborted);
    m.connections.clear();
}

void sip_transport::on_message(message_handler handler) { impl_->message_cb = std::move(handler); }
void sip_transport::on_closed(closed_handler handler) { impl_->closed_cb = std::move(handler); }
void sip_transport::on_log(log_handler handler) { impl_->log_cb = std::move(handler); }

void sip_transport::send(protocol p, const endpoint& to, std::string bytes, send_handler done, std::string server_name) {
    impl& m = *impl_;
    if (m.stopped) {
        if (done) asio::post(m.io, [done] { done(asio::error::operation_aborted); });
        return;
    }
    if (p == protocol::udp) return m.send_datagram(to, std::move(bytes), std::move(done));
    std::error_code ec;
    auto c = m.open_connection(p, to, std::move(server_name), ec);
    if (!c) {
        if (done) asio::post(m.io, [done, ec] { done(ec); });
        return;
    }
    c->send(std::move(bytes), std::move(done));
}

void sip_transport::send(const flow& to, std::string bytes, send_handler done) {
    impl& m = *impl_;
    if (to.proto != protocol::udp) {
        auto it = m.connections.find(to.connection);
        if (it != m.connections.end() && it->second->usable()) return it->second->send(std::move(bytes), std::move(done));
    }
    // RFC 3261 §18.2.2: the connection is gone; open a new one to the same address.
    send(to.proto, to.remote, std::move(bytes), std::move(done));
}

void sip_transport::connect(protocol p, const endpoint& to, send_handler done, std::string server_name) {
    impl& m = *impl_;
    if (p == protocol::udp || m.stopped) {
        if (done) asio::post(m.io, [done, p] { done(p == protocol::udp ? std::error_code() : asio::error::operation_aborted); });
        return;
    }
    std::error_code ec;
    auto c = m.open_connection(p, to, std::move(server_name), ec);
    if (!c) {
        if (done) asio::post(m.io, [done, ec] { done(ec); });
        return;
    }
    c->when_open(std::move(done));
}

bool sip_transport::set_keepalive(protocol p, const endpoint& to, duration interval, duration pong_timeout) {
    if (p == protocol::udp) return false;
    auto c = impl_->find(p, to);
    if (!c) return false;
    c->set_keepalive(interval, pong_timeout);
    return true;
}

std::optional<flow> sip_transport::connection_to(protocol p, const endpoint& to) const {
    if (p == protocol::udp) return std::nullopt;
    if (auto c = impl_->find(p, to)) return c->as_flow();
    return std::nullopt;
}

std::uint16_t sip_transport::local_port(protocol p) const noexcept { return impl_->ports[static_cast<std::size_t>(p)]; }

asio::ip::address sip_transport::local_address_for(const asio::ip::address& remote) const {
    std::error_code ec;
    if (!impl_->cfg.bind_address.empty()) {
        auto a = asio::ip::make_address(impl_->cfg.bind_address, ec);
        if (!ec && !a.is_unspecified()) return a;
    }
    // A connected UDP socket sends nothing but tells which source address routing picks.
    udp::socket probe(impl_->io);
    probe.open(remote.is_v6() ? udp::v6() : udp::v4(), ec);
    if (!ec) probe.connect(udp::endpoint(remote, 9), ec);
    if (!ec) {
        auto local = probe.local_endpoint(ec);
        if (!ec) return local.address();
    }
    return remote.is_v6() ? asio::ip::address(asio::ip::address_v6::loopback())
                          : asio::ip::address(asio::ip::address_v4::loopback());
}

std::size_t sip_transport::connection_count() const noexcept { return impl_->connections.size(); }
const transport_config& sip_transport::config() const noexcept { return impl_->cfg; }

// ---- received / rport ------------------------------------------------------------------------------

sip::message stamp_received(sip::message request, const endpoint& source) {
    auto vias = request.vias();
    auto first = vias.begin();
    if (first == vias.end()) return request;
    auto via = *first;
    if (!via) return request;
    const std::string source_host = source.address.to_string();
    std::string_view sent_host = via->host;
    if (sent_host.size() > 2 && sent_host.front() == '[') sent_host = sent_host.substr(1, sent_host.size() - 2);
    std::error_code ec;
    const auto sent_addr = asio::ip::make_address(sent_host, ec);
    const bool same_host = !ec && sent_addr == source.address;
    // RFC 3581 §4: with rport, received is added even when it equals sent-by.
    if (same_host && !via->has_rport) return request;

    const std::string_view raw = via->params.raw();
    const std::string_view bytes = request.bytes();
    const std::size_t params_at = static_cast<std::size_t>(raw.data() - bytes.data());
    if (raw.empty()) return request;  // a Via without branch: nothing the transaction layer could match
    std::string params;
    for (const sip::param& p : via->params) {
        if (sip::detail::iequals(p.name, "received") || sip::detail::iequals(p.name, "rport")) continue;
        params += ';';
        params += p.name;
        if (p.has_value) {
            params += '=';
            params += p.value;
        }
    }
    params += ";received=" + source_host;
    if (via->has_rport) params += ";rport=" + std::to_string(source.port);
    std::string out;
    out.reserve(bytes.size() + 48);
    out.append(bytes.substr(0, params_at));
    out.append(params);
    out.append(bytes.substr(params_at + raw.size()));
    // The body is untouched, so it parses as it did (a datagram without Content-Length keeps its body).
    const sip::parse_options opts{sip::transport_kind::datagram, out.size(), 1024};
    auto reparsed = sip::message::parse(std::move(out), opts);
    if (!reparsed) return request;
    return std::move(*reparsed);
}

}  // namespace sipvoice::transport
