// RTP/RTCP sockets with symmetric RTP (RFC 3550 §11, RFC 4961, RFC 5761).
#include "sipvoice/media/rtp_socket.hpp"

#include <array>
#include <cstdint>
#include <random>

#include <asio/ip/udp.hpp>

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

struct rtp_socket::impl : std::enable_shared_from_this<impl> {
    impl(asio::io_context& context, rtp_socket_config c)
        : rtp_latch_(c.learning_packets), mux(c.rtcp_mux), io(context), cfg(std::move(c)), rtp(context), rtcp(context),
          rtcp_latch_(cfg.learning_packets) {}

    struct receiver {
        std::array<std::uint8_t, 2048> buffer{};
        udp::endpoint from;
    };

    void receive(udp::socket& s, receiver& r, bool rtcp_socket) {
        std::weak_ptr<impl> weak = weak_from_this();
        // The members a packet reads: fetched while the weak pointer is locked (a miss of its own
        // at thousands of calls). Kept as a number and only ever prefetched: the socket may be gone.
        const auto hot = reinterpret_cast<std::uintptr_t>(rtcp_socket ? static_cast<const void*>(&rtcp_latch_)
                                                                       : static_cast<const void*>(&rtp_latch_));
        s.async_receive_from(asio::buffer(r.buffer), r.from, [weak, &s, &r, rtcp_socket, hot](std::error_code ec, std::size_t n) {
            for (std::uintptr_t line = hot; line < hot + 192; line += 64) __builtin_prefetch(reinterpret_cast<const void*>(line));
            auto self = weak.lock();
            if (!self || ec == asio::error::operation_aborted || !s.is_open()) return;
            // The next receive is started however the handler ends (it may throw out of run()).
            struct next {
                impl& m;
                udp::socket& socket;
                receiver& rx;
                bool rtcp;
                ~next() {
                    if (socket.is_open()) m.receive(socket, rx, rtcp);
                }
            } again{*self, s, r, rtcp_socket};
            if (!ec && n >= 2) {
                const time_point now = sipvoice::clock::now();
                const std::span<const std::uint8_t> packet(r.buffer.data(), n);
                // RFC 5761 §4: on a muxed socket, packet types 192-223 are RTCP.
                const bool is_rtcp = rtcp_socket || (self->mux && r.buffer[1] >= 192 && r.buffer[1] <= 223);
                const transport::endpoint from{r.from.address(), r.from.port()};
                if (is_rtcp) {
                    if (self->rtcp_latch_.on_packet(from) && self->rtcp_cb) self->rtcp_cb(packet, now);
                } else if (self->rtp_latch_.on_packet(from)) {
                    ++self->received;
                    if (self->rtp_cb) self->rtp_cb(packet, now);
                }
            }
        });
    }

    bool send(udp::socket& s, const std::optional<transport::endpoint>& to, std::span<const std::uint8_t> packet) {
        // c=0.0.0.0 (RFC 3264 §8.4 hold) or port 0 is no destination: the kernel would deliver a
        // datagram to 0.0.0.0 to this very host.
        if (!to || !s.is_open() || to->address.is_unspecified() || to->port == 0) return false;
        std::error_code ec;
        // Datagrams this small go out at once; a full buffer drops the packet (the socket is
        // non-blocking, see open()), which RTP tolerates better than a send queue that delays every
        // later one.
        s.send_to(asio::buffer(packet.data(), packet.size()), udp::endpoint(to->address, to->port), 0, ec);
        return !ec;
    }

    // What each packet reads first, together; the receive buffers last.
    rtp_latch rtp_latch_;
    packet_handler rtp_cb;
    std::uint64_t sent = 0;       // RTP
    std::uint64_t received = 0;   // RTP
    const bool mux;               // cfg.rtcp_mux
    asio::io_context& io;
    rtp_socket_config cfg;
    udp::socket rtp;
    udp::socket rtcp;
    rtp_latch rtcp_latch_;
    packet_handler rtcp_cb;
    std::uint64_t rtcp_sent = 0;
    receiver rtp_rx;
    receiver rtcp_rx;
};

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
        // Sends must not wait: asio's synchronous send_to polls a socket it was not told is
        // non-blocking until the full send buffer has room, which would stall every call on the thread.
        if (!e1) m.rtp.non_blocking(true, e1);
        if (!e1 && !e2 && !m.cfg.rtcp_mux) m.rtcp.non_blocking(true, e2);
        if (!e1 && !e2) {
            m.receive(m.rtp, m.rtp_rx, false);
            if (!m.cfg.rtcp_mux) m.receive(m.rtcp, m.rtcp_rx, true);
            return {};
        }
        std::error_code ignored;
        m.rtp.close(ignored);
        m.rtcp.close(ignored);
    }
    return std::make_error_code(std::errc::address_in_use);
}

void rtp_socket::close() {
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

void rtp_socket::prefetch() const noexcept {
    __builtin_prefetch(&impl_->rtp);
    __builtin_prefetch(&impl_->rtp_latch_);
    __builtin_prefetch(&impl_->sent);
}

const rtp_latch& rtp_socket::latch() const noexcept { return impl_->rtp_latch_; }
std::uint64_t rtp_socket::packets_sent() const noexcept { return impl_->sent; }
std::uint64_t rtp_socket::packets_received() const noexcept { return impl_->received; }
std::uint64_t rtp_socket::rtcp_packets_sent() const noexcept { return impl_->rtcp_sent; }

}  // namespace sipvoice::media
