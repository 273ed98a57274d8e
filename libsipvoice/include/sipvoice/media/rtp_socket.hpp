// sipvoice/media/rtp_socket.hpp: the UDP sockets of one RTP session (RTP and RTCP, RFC 3550 §11;
// or one socket with rtcp-mux, RFC 5761), with symmetric RTP that resists hijacking.
//
// Symmetric RTP (RFC 4961): behind a NAT the peer's packets come from another address than its SDP
// says, and media only flows if we answer to where they come from. Latching blindly lets anyone who
// guesses the port steal the stream, so rtp_latch moves the target only to a source that matches
// the signaled address (the port may differ: NAT), or, within the first packets of the call, to the
// first source seen at all; afterwards strangers are dropped. A signaled 0.0.0.0 (the c=0.0.0.0 hold)
// is never latched away from: nothing is sent, what arrives is taken.
//
//   media::rtp_socket rtp(io, {.bind_address = "0.0.0.0", .port_min = 10000, .port_max = 20000});
//   if (auto ec = rtp.open()) fail(ec);              // an even port for RTP, the next one for RTCP
//   sdp.port = rtp.rtp_port();
//   rtp.set_remote({addr, port}, {addr, port + 1});  // from the answer
//   rtp.on_rtp([](std::span<const std::uint8_t> packet, time_point arrival) { ... });
//   rtp.send_rtp(bytes);
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <asio/io_context.hpp>

#include "sipvoice/clock.hpp"
#include "sipvoice/transport/transport.hpp"

namespace sipvoice::media {

// Where to send RTP, and which sources to accept (sans-I/O; see the top of the file).
class rtp_latch {
public:
    // `learning_packets`: how many packets from the start may latch to any source.
    explicit rtp_latch(std::uint32_t learning_packets = 5) : learning_(learning_packets) {}

    // The signaled address (from SDP); resets what was learned.
    void set_signaled(const transport::endpoint& e);
    // A packet came from `from`: true if it is accepted (and the target may have moved to it).
    bool on_packet(const transport::endpoint& from);
    [[nodiscard]] const std::optional<transport::endpoint>& target() const noexcept { return target_; }
    [[nodiscard]] bool latched() const noexcept { return latched_; }
    [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }

private:
    std::uint32_t learning_;
    std::uint32_t seen_ = 0;
    std::optional<transport::endpoint> signaled_;
    std::optional<transport::endpoint> target_;
    bool latched_ = false;
    std::uint64_t dropped_ = 0;
};

struct rtp_socket_config {
    std::string bind_address = "0.0.0.0";
    std::uint16_t port_min = 10000;  // RTP takes an even port in [port_min, port_max), RTCP the next
    std::uint16_t port_max = 20000;
    bool rtcp_mux = false;           // one socket for both (RFC 5761)
    std::uint32_t learning_packets = 5;
};

class rtp_socket {
public:
    using packet_handler = std::function<void(std::span<const std::uint8_t> packet, time_point arrival)>;

    rtp_socket(asio::io_context& io, rtp_socket_config config);
    ~rtp_socket();
    rtp_socket(const rtp_socket&) = delete;
    rtp_socket& operator=(const rtp_socket&) = delete;

    // Binds RTP (and RTCP) on the first free even port of the range.
    std::error_code open();
    void close();
    [[nodiscard]] std::uint16_t rtp_port() const noexcept;
    [[nodiscard]] std::uint16_t rtcp_port() const noexcept;

    // The peer's addresses from SDP (a=rtcp, or RTP port + 1; the RTP address itself with rtcp-mux).
    void set_remote(const transport::endpoint& rtp, const transport::endpoint& rtcp);
    void on_rtp(packet_handler handler);
    void on_rtcp(packet_handler handler);
    // Sent to the latched target (or the signaled address); dropped (false) before set_remote(),
    // toward an unspecified address or port 0 (c=0.0.0.0 hold), or when the socket refuses it.
    bool send_rtp(std::span<const std::uint8_t> packet);
    bool send_rtcp(std::span<const std::uint8_t> packet);

    // Fetches what send_rtp() reads into the cache ahead of it (see audio_stream's ticks).
    void prefetch() const noexcept;

    [[nodiscard]] const rtp_latch& latch() const noexcept;
    // RTP datagrams that went out and that were accepted; RTCP sent is counted apart.
    [[nodiscard]] std::uint64_t packets_sent() const noexcept;
    [[nodiscard]] std::uint64_t packets_received() const noexcept;
    [[nodiscard]] std::uint64_t rtcp_packets_sent() const noexcept;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace sipvoice::media
