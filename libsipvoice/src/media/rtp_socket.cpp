// RTP/RTCP sockets with symmetric RTP (RFC 3550 §11, RFC 4961, RFC 5761).
#include "sipvoice/media/rtp_socket.hpp"

#include <array>
#include <random>

#include <asio/ip/udp.hpp>

#if defined(__linux__)
#include <mutex>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/posix/stream_descriptor.hpp>
#endif

namespace sipvoice::media {

using asio::ip::udp;

void rtp_latch::set_signaled(const transport::endpoint& e) {
    signaled_ = e;
    target_ = e;
    latched_ = false;
    seen_ = 0;
}

bool rtp_latch::on_packet(const transport::endpoint& from) {
    ++seen_;
    if (target_ && from == *target_) return true;
    // c=0.0.0.0 (the RFC 2543 hold, RFC 3264 §8.4): the peer wants nothing from us, RTCP included;
    // what it still sends is taken, but the target stays nowhere.
    if (signaled_ && signaled_->address.is_unspecified()) return true;
    // The signaled host from another port: the peer is behind a NAT that rewrote its port.
    if (signaled_ && from.address == signaled_->address) {
        target_ = from;
        latched_ = true;
        return true;
    }
    // Early in the call the first source is taken whoever it is (the peer's NAT may have rewritten
    // the address too); later a stranger is someone trying to take the stream over.
    if (!latched_ && seen_ <= learning_) {
        target_ = from;
        latched_ = true;
        return true;
    }
    ++dropped_;
    return false;
}

#if defined(__linux__)
namespace {

// The RTP and RTCP sockets of one io_context, read through one epoll set of their own
// (level-triggered) whose descriptor asio waits on. Each asio receive per socket costs a second,
// failing recvfrom per datagram (asio reads again at once in case more is queued) and its own buffer,
// cold when the next datagram comes; here a batch of ready sockets costs one asio wait, one
// epoll_wait and one epoll_ctl (asio's re-arm), and each datagram one recvfrom into a buffer that
// stays in the cache. A socket with more queued than one datagram is reported again by the next
// epoll_wait, so the sockets take turns. Registrations may come from any thread; the reads and the
// handlers run on the thread that runs the io_context, one batch at a time.
class receive_set final : public asio::io_context::service {
public:
    static inline asio::io_context::id id;

    explicit receive_set(asio::io_context& io) : asio::io_context::service(io), wait_(io) {
        const int fd = ::epoll_create1(EPOLL_CLOEXEC);
        std::error_code ec;
        if (fd >= 0) wait_.assign(fd, ec);
        if (fd >= 0 && ec) ::close(fd);
    }

    // Reads `fd` for `owner`; a token for remove(), or 0 when the set cannot take it (the caller then
    // reads the socket itself).
    std::uint64_t add(int fd, std::weak_ptr<rtp_socket::impl> owner, bool rtcp_socket) {
        const std::lock_guard lock(mutex_);
        if (!wait_.is_open()) return 0;
        std::uint32_t index = 0;
        if (!free_.empty()) {
            index = free_.back();
            free_.pop_back();
        } else {
            index = static_cast<std::uint32_t>(slots_.size());
            slots_.emplace_back();
        }
        slot& s = slots_[index];
        s.owner = std::move(owner);
        s.rtcp_socket = rtcp_socket;
        const std::uint64_t token = (std::uint64_t{s.generation} << 32) | index;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = token;
        if (::epoll_ctl(wait_.native_handle(), EPOLL_CTL_ADD, fd, &ev) != 0) {
            release(index);
            return 0;
        }
        if (!waiting_) wait();
        return token;
    }

    // Before `fd` is closed: no datagram of it is read or handed on after this.
    void remove(int fd, std::uint64_t token) {
        const std::lock_guard lock(mutex_);
        const auto index = static_cast<std::uint32_t>(token);
        if (index >= slots_.size() || slots_[index].generation != token >> 32) return;
        epoll_event ev{};
        if (wait_.is_open()) ::epoll_ctl(wait_.native_handle(), EPOLL_CTL_DEL, fd, &ev);
        release(index);
    }

private:
    struct slot {
        std::weak_ptr<rtp_socket::impl> owner;
        std::uint32_t generation = 1;
        bool rtcp_socket = false;
    };

    void release(std::uint32_t index) {
        slot& s = slots_[index];
        s.owner.reset();
        if (++s.generation == 0) s.generation = 1;  // events still queued for the old token no longer match
        free_.push_back(index);
    }

    void shutdown() override {
        const std::lock_guard lock(mutex_);
        std::error_code ignored;
        wait_.close(ignored);
        slots_.clear();
        free_.clear();
    }

    // Under mutex_.
    void wait() {
        waiting_ = true;
        wait_.async_wait(asio::posix::stream_descriptor::wait_read, [this](std::error_code ec) {
            if (!ec) drain();
        });
    }

    void drain();

    std::mutex mutex_;
    asio::posix::stream_descriptor wait_;
    std::vector<slot> slots_;
    std::vector<std::uint32_t> free_;
    bool waiting_ = false;
    std::array<std::uint8_t, 2048> buffer_{};  // one datagram at a time, for every socket of the set
};

}  // namespace
#endif

struct rtp_socket::impl : std::enable_shared_from_this<impl> {
    impl(asio::io_context& context, rtp_socket_config c)
        : io(context), cfg(std::move(c)), rtp(context), rtcp(context), rtp_latch_(cfg.learning_packets),
          rtcp_latch_(cfg.learning_packets) {}

    struct receiver {
        std::array<std::uint8_t, 2048> buffer{};
        udp::endpoint from;
    };

    // A datagram that arrived on the RTP socket (or the RTCP one: `rtcp_socket`).
    void on_datagram(std::span<const std::uint8_t> packet, const udp::endpoint& source, bool rtcp_socket) {
        if (packet.size() < 2) return;
        const time_point now = sipvoice::clock::now();
        // RFC 5761 §4: on a muxed socket, packet types 192-223 are RTCP.
        const bool is_rtcp = rtcp_socket || (cfg.rtcp_mux && packet[1] >= 192 && packet[1] <= 223);
        const transport::endpoint from{source.address(), source.port()};
        if (is_rtcp) {
            if (rtcp_latch_.on_packet(from) && rtcp_cb) rtcp_cb(packet, now);
        } else if (rtp_latch_.on_packet(from)) {
            ++received;
            if (rtp_cb) rtp_cb(packet, now);
        }
    }

    // Each socket read by its own asio receive: where there is no receive set, or it is not wanted.
    void receive(udp::socket& s, std::unique_ptr<receiver>& r, bool rtcp_socket) {
        if (!r) r = std::make_unique<receiver>();
        std::weak_ptr<impl> weak = weak_from_this();
        s.async_receive_from(asio::buffer(r->buffer), r->from, [weak, &s, &r, rtcp_socket](std::error_code ec, std::size_t n) {
            auto self = weak.lock();
            if (!self || ec == asio::error::operation_aborted || !s.is_open()) return;
            // The next receive is started however the handler ends (it may throw out of run()).
            struct next {
                impl& m;
                udp::socket& socket;
                std::unique_ptr<receiver>& rx;
                bool rtcp;
                ~next() {
                    if (socket.is_open()) m.receive(socket, rx, rtcp);
                }
            } again{*self, s, r, rtcp_socket};
            if (!ec) self->on_datagram(std::span<const std::uint8_t>(r->buffer.data(), n), r->from, rtcp_socket);
        });
    }

    // Starts reading `s`: through the io_context's receive set where there is one.
    void start_receive(udp::socket& s, std::uint64_t& key, std::unique_ptr<receiver>& r, bool rtcp_socket) {
#if defined(__linux__)
        if (cfg.shared_receive) {
            std::error_code ec;
            s.non_blocking(true, ec);  // a full send buffer drops the datagram instead of blocking
            if (!ec) key = asio::use_service<receive_set>(io).add(s.native_handle(), weak_from_this(), rtcp_socket);
            if (key != 0) return;
        }
#endif
        receive(s, r, rtcp_socket);
    }

    void stop_receive(udp::socket& s, std::uint64_t& key) {
#if defined(__linux__)
        if (key != 0 && s.is_open()) asio::use_service<receive_set>(io).remove(s.native_handle(), key);
#endif
        key = 0;
    }

    bool send(udp::socket& s, const std::optional<transport::endpoint>& to, std::span<const std::uint8_t> packet) {
        // c=0.0.0.0 (RFC 3264 §8.4 hold) or port 0 is no destination: the kernel would deliver a
        // datagram to 0.0.0.0 to this very host.
        if (!to || !s.is_open() || to->address.is_unspecified() || to->port == 0) return false;
        std::error_code ec;
        // Datagrams this small go out at once; a full buffer drops the packet, which RTP tolerates
        // better than a send queue that delays every later one.
        s.send_to(asio::buffer(packet.data(), packet.size()), udp::endpoint(to->address, to->port), 0, ec);
        return !ec;
    }

    asio::io_context& io;
    rtp_socket_config cfg;
    udp::socket rtp;
    udp::socket rtcp;
    std::uint64_t rtp_key = 0;   // in the receive set (0: not in it)
    std::uint64_t rtcp_key = 0;
    std::unique_ptr<receiver> rtp_rx;  // only for a socket read by its own asio receive
    std::unique_ptr<receiver> rtcp_rx;
    rtp_latch rtp_latch_;
    rtp_latch rtcp_latch_;
    packet_handler rtp_cb;
    packet_handler rtcp_cb;
    std::uint64_t sent = 0;       // RTP
    std::uint64_t received = 0;   // RTP
    std::uint64_t rtcp_sent = 0;
};

#if defined(__linux__)
void receive_set::drain() {
    // Re-armed however this ends (a handler may throw out of io_context::run()).
    struct rearm {
        receive_set& set;
        ~rearm() {
            const std::lock_guard lock(set.mutex_);
            if (set.wait_.is_open()) set.wait();
            else set.waiting_ = false;
        }
    } guard{*this};
    std::array<epoll_event, 64> events;
    const int n = ::epoll_wait(wait_.native_handle(), events.data(), static_cast<int>(events.size()), 0);
    for (int i = 0; i < n; ++i) {
        const std::uint64_t token = events[static_cast<std::size_t>(i)].data.u64;
        std::shared_ptr<rtp_socket::impl> owner;
        bool rtcp_socket = false;
        {
            // A handler earlier in this batch may have closed this socket (its token is gone then).
            const std::lock_guard lock(mutex_);
            const auto index = static_cast<std::uint32_t>(token);
            if (index >= slots_.size() || slots_[index].generation != token >> 32) continue;
            owner = slots_[index].owner.lock();
            rtcp_socket = slots_[index].rtcp_socket;
        }
        if (!owner) continue;
        udp::socket& s = rtcp_socket ? owner->rtcp : owner->rtp;
        udp::endpoint from;
        auto length = static_cast<socklen_t>(from.capacity());
        const ssize_t got = ::recvfrom(s.native_handle(), buffer_.data(), buffer_.size(), MSG_DONTWAIT, from.data(), &length);
        if (got < 0) continue;  // nothing after all, or an ICMP error reported on the socket: read
        from.resize(length);
        owner->on_datagram(std::span<const std::uint8_t>(buffer_.data(), static_cast<std::size_t>(got)), from, rtcp_socket);
    }
}
#endif

rtp_socket::rtp_socket(asio::io_context& io, rtp_socket_config config)
    : impl_(std::make_shared<impl>(io, std::move(config))) {}

rtp_socket::~rtp_socket() { close(); }

std::error_code rtp_socket::open() {
    impl& m = *impl_;
    std::error_code ec;
    const auto addr = asio::ip::make_address(m.cfg.bind_address, ec);
    if (ec) return ec;
    if (m.cfg.port_max <= m.cfg.port_min + 1) return std::make_error_code(std::errc::invalid_argument);
    // Start at a random even port so that calls (and restarts) do not reuse the same ports at once.
    const std::uint32_t pairs = (m.cfg.port_max - m.cfg.port_min) / 2;
    std::uniform_int_distribution<std::uint32_t> pick(0, pairs - 1);
    std::random_device rd;
    const std::uint32_t first = pick(rd);
    for (std::uint32_t i = 0; i < pairs; ++i) {
        const auto port = static_cast<std::uint16_t>(m.cfg.port_min + 2 * ((first + i) % pairs));
        std::error_code e1, e2;
        m.rtp.open(addr.is_v6() ? udp::v6() : udp::v4(), e1);
        if (!e1) m.rtp.bind(udp::endpoint(addr, port), e1);
        if (!e1 && !m.cfg.rtcp_mux) {
            m.rtcp.open(addr.is_v6() ? udp::v6() : udp::v4(), e2);
            if (!e2) m.rtcp.bind(udp::endpoint(addr, static_cast<std::uint16_t>(port + 1)), e2);
        }
        if (!e1 && !e2) {
            m.start_receive(m.rtp, m.rtp_key, m.rtp_rx, false);
            if (!m.cfg.rtcp_mux) m.start_receive(m.rtcp, m.rtcp_key, m.rtcp_rx, true);
            return {};
        }
        std::error_code ignored;
        m.rtp.close(ignored);
        m.rtcp.close(ignored);
    }
    return std::make_error_code(std::errc::address_in_use);
}

void rtp_socket::close() {
    impl_->stop_receive(impl_->rtp, impl_->rtp_key);
    impl_->stop_receive(impl_->rtcp, impl_->rtcp_key);
    std::error_code ignored;
    impl_->rtp.close(ignored);
    impl_->rtcp.close(ignored);
}

std::uint16_t rtp_socket::rtp_port() const noexcept {
    std::error_code ec;
    return impl_->rtp.is_open() ? impl_->rtp.local_endpoint(ec).port() : 0;
}

std::uint16_t rtp_socket::rtcp_port() const noexcept {
    if (impl_->cfg.rtcp_mux) return rtp_port();
    std::error_code ec;
    return impl_->rtcp.is_open() ? impl_->rtcp.local_endpoint(ec).port() : 0;
}

void rtp_socket::set_remote(const transport::endpoint& rtp, const transport::endpoint& rtcp) {
    impl_->rtp_latch_.set_signaled(rtp);
    impl_->rtcp_latch_.set_signaled(impl_->cfg.rtcp_mux ? rtp : rtcp);
}

void rtp_socket::on_rtp(packet_handler handler) { impl_->rtp_cb = std::move(handler); }
void rtp_socket::on_rtcp(packet_handler handler) { impl_->rtcp_cb = std::move(handler); }

bool rtp_socket::send_rtp(std::span<const std::uint8_t> packet) {
    if (!impl_->send(impl_->rtp, impl_->rtp_latch_.target(), packet)) return false;
    ++impl_->sent;
    return true;
}

bool rtp_socket::send_rtcp(std::span<const std::uint8_t> packet) {
    if (!impl_->send(impl_->cfg.rtcp_mux ? impl_->rtp : impl_->rtcp, impl_->rtcp_latch_.target(), packet)) return false;
    ++impl_->rtcp_sent;
    return true;
}

const rtp_latch& rtp_socket::latch() const noexcept { return impl_->rtp_latch_; }
std::uint64_t rtp_socket::packets_sent() const noexcept { return impl_->sent; }
std::uint64_t rtp_socket::packets_received() const noexcept { return impl_->received; }
std::uint64_t rtp_socket::rtcp_packets_sent() const noexcept { return impl_->rtcp_sent; }

}  // namespace sipvoice::media
