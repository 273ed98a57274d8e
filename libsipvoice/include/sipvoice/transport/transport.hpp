// sipvoice/transport/transport.hpp: SIP over UDP, TCP and TLS (RFC 3261 §18) on standalone Asio.
//
// One sip_transport owns the listening sockets and every connection of a user agent. It runs on the
// caller's io_context and never starts a thread: all handlers run on that context, so the layers
// above need no locks and no socket is ever shared between threads (DESIGN.md, Threading).
//
//   asio::io_context io;
//   transport::sip_transport t(io, cfg);
//   if (auto ec = t.start()) die(ec.message());
//   t.on_message([](sip::message m, const transport::flow& from) { ... });
//   t.send(transport::protocol::tcp, {asio::ip::make_address("192.0.2.1"), 5060}, bytes,
//          [](std::error_code ec) { ... });
//   io.run();
//
// What it does for you:
//  - UDP datagrams and TCP/TLS byte streams cut into messages (sip::stream_framer), with the message
//    and connection limits of transport_config; a malformed message or an oversized one closes the
//    connection (a stream cannot be resynchronised), a bad datagram is dropped;
//  - connection reuse: a send to an address that already has an open connection (ours or one the
//    peer opened, RFC 3261 §18.2.2) goes over it; otherwise a connection is opened and the bytes wait
//    for it;
//  - CRLF keep-alive pings on connections we opened (RFC 5626 §4.4.1), answered pongs, and pings from
//    the peer answered; STUN Binding keep-alives on UDP (§4.4.2, stun_ping);
//  - an idle timeout and a connection limit, so idle connections cannot exhaust us;
//  - TLS with certificate verification on by default (CA file/dir or the system store), host name or
//    IP address checked against the certificate, SNI for names; verification can be switched off
//    explicitly.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>

#include "sipvoice/clock.hpp"
#include "sipvoice/log.hpp"
#include "sipvoice/sip/message.hpp"

namespace sipvoice::transport {

enum class protocol : std::uint8_t { udp, tcp, tls };

// "UDP", "TCP", "TLS": as written in Via (RFC 3261 §20.42).
std::string_view protocol_name(protocol p) noexcept;
// From a Via transport or a ;transport= URI parameter, case-insensitively.
std::optional<protocol> parse_protocol(std::string_view name) noexcept;
// TCP and TLS deliver reliably: no retransmissions (RFC 3261 §17.1.1.2).
constexpr bool is_reliable(protocol p) noexcept { return p != protocol::udp; }
// RFC 3261 §19.1.2: 5060, or 5061 for TLS.
constexpr std::uint16_t default_port(protocol p) noexcept { return p == protocol::tls ? 5061 : 5060; }

struct endpoint {
    asio::ip::address address;
    std::uint16_t port = 0;
    friend bool operator==(const endpoint&, const endpoint&) = default;
    friend bool operator<(const endpoint& a, const endpoint& b) noexcept {
        return a.address != b.address ? a.address < b.address : a.port < b.port;
    }
};
// "192.0.2.1:5060", "[2001:db8::1]:5060".
std::string to_string(const endpoint& e);
// The address as it goes into a Via or URI host: IPv6 in brackets.
std::string host_text(const asio::ip::address& a);

// Where a message came from and the way back to it (RFC 5626 calls it a flow): the protocol, the
// peer's address, and for TCP/TLS the connection it arrived on.
struct flow {
    protocol proto = protocol::udp;
    endpoint remote;
    endpoint local;
    std::uint64_t connection = 0;  // 0 for UDP
};

struct tls_options {
    bool verify_peer = true;       // switching this off is an explicit opt-out (self-signed test PBXs)
    std::string ca_file;           // PEM bundle of trusted CAs; empty with ca_dir empty: the system store
    std::string ca_dir;            // a hashed CA directory (c_rehash)
    std::string certificate_file;  // our certificate chain (PEM); needed to listen for TLS
    std::string private_key_file;  // its key (PEM)
};

struct transport_config {
    std::string bind_address;  // empty: every IPv4 and IPv6 address
    // Listening ports; 0 picks a free one (then local_port() tells which). TLS listens only when a
    // certificate is configured; we can still open TLS connections without one.
    std::uint16_t udp_port = 5060;
    std::uint16_t tcp_port = 5060;
    std::uint16_t tls_port = 5061;
    bool udp = true;
    bool tcp = true;
    bool tls = true;
    std::size_t max_message_size = 65535;  // header section + body, on every transport
    std::size_t max_connections = 256;     // TCP + TLS, both directions; further accepts are refused
    duration idle_timeout{120000};         // a connection that carried nothing for this long is closed
    duration keepalive_interval{30000};    // CRLF ping on connections we opened; 0 switches it off
    duration connect_timeout{5000};        // TCP connect plus TLS handshake
    tls_options tls_settings;
};

class sip_transport {
public:
    using message_handler = std::function<void(sip::message, const flow&)>;
    using send_handler = std::function<void(std::error_code)>;
    using closed_handler = std::function<void(const flow&, std::error_code)>;

    sip_transport(asio::io_context& io, transport_config config);
    ~sip_transport();
    sip_transport(const sip_transport&) = delete;
    sip_transport& operator=(const sip_transport&) = delete;

    // Opens the listening sockets. An error names what failed (address in use, bad certificate...).
    std::error_code start();
    // Closes every socket and connection; pending sends complete with operation_aborted.
    void stop();

    // Every message received, already parsed. Handlers run on the io_context.
    void on_message(message_handler handler);
    // A TCP/TLS connection closed or failed (by either side, or the idle timeout).
    void on_closed(closed_handler handler);
    // Drops, refusals and connection events, for the application's log.
    void on_log(log_handler handler);

    // Sends `bytes` to `to`. UDP: one datagram from the listening socket of the address family.
    // TCP/TLS: over an open connection to `to` when there is one, else over a new connection;
    // `server_name` is what the peer's TLS certificate must match (a host name or an IP address;
    // it is sent as SNI when it is a name). `done` runs once the bytes are written or failed.
    void send(protocol p, const endpoint& to, std::string bytes, send_handler done, std::string server_name = {});
    // Sends back along a flow (a response to a request, RFC 3261 §18.2.2): on the connection the
    // request came on while it is open, else as send() would.
    void send(const flow& to, std::string bytes, send_handler done);
    // Opens (or finds) a connection to `to` without sending a message: a reconnect probe, or a
    // connection whose local port must be known before the first message (see connection_to()).
    void connect(protocol p, const endpoint& to, send_handler done, std::string server_name = {});
    // The TCP/TLS connection to `to` (open, or still opening), as a flow: its local address once it
    // is connected. A user agent that does not listen for a protocol (TLS without a certificate)
    // names this local port in its Via and Contact, so that requests come back over the connection.
    [[nodiscard]] std::optional<flow> connection_to(protocol p, const endpoint& to) const;
    // RFC 5626 §4.4.1 keep-alive of the TCP/TLS connection to `to` (open or opening), in place of
    // transport_config::keepalive_interval: a CRLF ping every `interval` (0: none), and, with a
    // `pong_timeout`, the connection closed as failed (the closed handler gets timed_out) when no
    // pong comes within that time of a ping. Only a peer that supports outbound answers pings, so
    // only such a flow should wait for pongs. False when there is no such connection.
    bool set_keepalive(protocol p, const endpoint& to, duration interval, duration pong_timeout);
    // RFC 5626 §4.4.2 keep-alive of a UDP flow: a STUN Binding request (RFC 5389) to `to` from the
    // SIP socket of its address family, sent again after 0.5, 1, 2, 4 s... until `timeout`. `done`
    // gets our address as `to` saw it (its XOR-MAPPED-ADDRESS), or no address and an error:
    // timed_out (no answer), protocol_error (an error response), operation_aborted (called after
    // stop()). Only an answer from `to` counts; a request still waiting at stop() gets no call.
    using stun_handler = std::function<void(std::optional<endpoint> mapped, std::error_code)>;
    void stun_ping(const endpoint& to, duration timeout, stun_handler done);

    // The listening port of a protocol (0 when it does not listen).
    [[nodiscard]] std::uint16_t local_port(protocol p) const noexcept;
    // The local address the system would send from to reach `remote` (for Via and Contact).
    [[nodiscard]] asio::ip::address local_address_for(const asio::ip::address& remote) const;
    [[nodiscard]] std::size_t connection_count() const noexcept;
    [[nodiscard]] const transport_config& config() const noexcept;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

// RFC 3261 §18.2.1 and RFC 3581 §4: the request's top Via with received= (the source address, when
// it differs from sent-by or when rport was asked for) and rport= (the source port, when asked for).
// Returns the request unchanged when there is nothing to add or it has no Via.
sip::message stamp_received(sip::message request, const endpoint& source);

}  // namespace sipvoice::transport
