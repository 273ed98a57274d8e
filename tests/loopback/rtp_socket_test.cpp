// media/rtp_socket over 127.0.0.1, and the symmetric-RTP latch rules.
#include <catch2/catch.hpp>
#include <memory>
#include <stdexcept>
#include <vector>

#include "../unit/loopback.hpp"
#include "sipvoice/media/rtp_socket.hpp"

using namespace sipvoice;
using test::run_until;

namespace {

transport::endpoint ep(const char* addr, std::uint16_t port) { return {asio::ip::make_address(addr), port}; }

// A minimal RTP header (version 2) with the given payload type, then one payload byte.
std::vector<std::uint8_t> rtp_bytes(std::uint8_t pt, std::uint8_t tag) {
    return {0x80, pt, 0, 1, 0, 0, 0, 160, 0, 0, 0, 42, tag};
}

}  // namespace

TEST_CASE("rtp_latch: the signaled source, a NAT-rewritten port, early learning, and no hijacking later", "[media]") {
    media::rtp_latch latch(3);
    latch.set_signaled(ep("192.0.2.5", 4000));
    CHECK(latch.on_packet(ep("192.0.2.5", 4000)));
    CHECK_FALSE(latch.latched());
    CHECK(latch.on_packet(ep("192.0.2.5", 31000)));  // same host, port rewritten by a NAT
    CHECK(latch.target() == ep("192.0.2.5", 31000));
    CHECK_FALSE(latch.on_packet(ep("203.0.113.66", 4000)));  // a stranger after latching: dropped
    CHECK(latch.target() == ep("192.0.2.5", 31000));
    CHECK(latch.dropped() == 1);

    media::rtp_latch nat(3);
    nat.set_signaled(ep("10.0.0.5", 4000));      // a private address in the SDP
    CHECK(nat.on_packet(ep("198.51.100.9", 61000)));  // the public side of its NAT, first packet
    CHECK(nat.target() == ep("198.51.100.9", 61000));
    CHECK_FALSE(nat.on_packet(ep("203.0.113.66", 4000)));

    media::rtp_latch late(2);
    late.set_signaled(ep("192.0.2.5", 4000));
    CHECK(late.on_packet(ep("192.0.2.5", 4000)));
    CHECK(late.on_packet(ep("192.0.2.5", 4000)));
    CHECK_FALSE(late.on_packet(ep("203.0.113.66", 4000)));  // past the learning packets
    CHECK(late.target() == ep("192.0.2.5", 4000));

    // c=0.0.0.0 (RFC 3264 §8.4): whatever the held peer still sends is taken, nothing goes back to it.
    media::rtp_latch held(3);
    held.set_signaled(ep("0.0.0.0", 4000));
    CHECK(held.on_packet(ep("192.0.2.5", 4000)));
    CHECK(held.on_packet(ep("192.0.2.5", 4000)));
    CHECK(held.target() == ep("0.0.0.0", 4000));
}

TEST_CASE("rtp_socket: nothing is sent toward 0.0.0.0 or port 0", "[media][loopback]") {
    asio::io_context io;
    media::rtp_socket_config cfg;
    cfg.bind_address = "127.0.0.1";
    media::rtp_socket a(io, cfg), b(io, cfg);
    REQUIRE_FALSE(a.open());
    REQUIRE_FALSE(b.open());
    std::size_t got = 0;
    b.on_rtp([&](std::span<const std::uint8_t>, time_point) { ++got; });
    b.on_rtcp([&](std::span<const std::uint8_t>, time_point) { ++got; });
    // On Linux a datagram to 0.0.0.0 reaches this host: b would get it if it were sent.
    a.set_remote(ep("0.0.0.0", b.rtp_port()), ep("0.0.0.0", b.rtcp_port()));
    a.send_rtp(rtp_bytes(0, 1));
    a.send_rtcp(rtp_bytes(200, 2));
    a.set_remote(ep("127.0.0.1", 0), ep("127.0.0.1", 0));
    a.send_rtp(rtp_bytes(0, 3));
    CHECK(a.packets_sent() == 0);
    CHECK(a.rtcp_packets_sent() == 0);
    a.set_remote(ep("127.0.0.1", b.rtp_port()), ep("127.0.0.1", b.rtcp_port()));
    a.send_rtp(rtp_bytes(0, 4));
    REQUIRE(run_until(io, [&] { return got >= 1; }));
    run_until(io, [] { return false; }, std::chrono::milliseconds(100));
    CHECK(got == 1);
    CHECK(a.packets_sent() == 1);
}

TEST_CASE("rtp_socket: even RTP port, RTCP next to it, packets both ways, rtcp-mux split by type", "[media][loopback]") {
    asio::io_context io;
    media::rtp_socket_config cfg;
    cfg.bind_address = "127.0.0.1";
    media::rtp_socket a(io, cfg), b(io, cfg);
    REQUIRE_FALSE(a.open());
    REQUIRE_FALSE(b.open());
    CHECK(a.rtp_port() % 2 == 0);
    CHECK(a.rtcp_port() == a.rtp_port() + 1);
    CHECK(a.rtp_port() != b.rtp_port());
    std::vector<std::uint8_t> got_rtp, got_rtcp;
    b.on_rtp([&](std::span<const std::uint8_t> p, time_point) { got_rtp.push_back(p.back()); });
    b.on_rtcp([&](std::span<const std::uint8_t> p, time_point) { got_rtcp.push_back(p.back()); });
    a.set_remote(ep("127.0.0.1", b.rtp_port()), ep("127.0.0.1", b.rtcp_port()));
    b.set_remote(ep("127.0.0.1", a.rtp_port()), ep("127.0.0.1", a.rtcp_port()));
    a.send_rtp(rtp_bytes(0, 1));
    a.send_rtcp(rtp_bytes(200, 2));
    REQUIRE(run_until(io, [&] { return got_rtp.size() == 1 && got_rtcp.size() == 1; }));
    CHECK(got_rtp[0] == 1);
    CHECK(got_rtcp[0] == 2);

    media::rtp_socket_config mux = cfg;
    mux.rtcp_mux = true;
    media::rtp_socket c(io, mux), d(io, mux);
    REQUIRE_FALSE(c.open());
    REQUIRE_FALSE(d.open());
    CHECK(c.rtcp_port() == c.rtp_port());
    got_rtp.clear();
    got_rtcp.clear();
    d.on_rtp([&](std::span<const std::uint8_t> p, time_point) { got_rtp.push_back(p.back()); });
    d.on_rtcp([&](std::span<const std::uint8_t> p, time_point) { got_rtcp.push_back(p.back()); });
    c.set_remote(ep("127.0.0.1", d.rtp_port()), ep("127.0.0.1", d.rtp_port()));
    c.send_rtp(rtp_bytes(8, 3));
    c.send_rtcp(rtp_bytes(201, 4));  // RR: type 201, in 192-223
    REQUIRE(run_until(io, [&] { return got_rtp.size() == 1 && got_rtcp.size() == 1; }));
    CHECK(got_rtp[0] == 3);
    CHECK(got_rtcp[0] == 4);
}

TEST_CASE("rtp_socket: queued datagrams arrive in order, and handlers may close, reopen or throw", "[media][loopback]") {
    asio::io_context io;
    media::rtp_socket_config cfg;
    cfg.bind_address = "127.0.0.1";
    media::rtp_socket sender(io, cfg);
    REQUIRE_FALSE(sender.open());

    // Five datagrams queued on one socket before anything runs: all five, in order.
    {
        media::rtp_socket b(io, cfg);
        REQUIRE_FALSE(b.open());
        std::vector<std::uint8_t> got;
        b.on_rtp([&](std::span<const std::uint8_t> p, time_point) { got.push_back(p.back()); });
        sender.set_remote(ep("127.0.0.1", b.rtp_port()), ep("127.0.0.1", b.rtcp_port()));
        for (std::uint8_t tag = 1; tag <= 5; ++tag) REQUIRE(sender.send_rtp(rtp_bytes(0, tag)));
        REQUIRE(run_until(io, [&] { return got.size() >= 5; }));
        CHECK(got == std::vector<std::uint8_t>{1, 2, 3, 4, 5});
    }

    // Eight sockets with a datagram each, ready together: the first handler destroys the other seven
    // and opens a fresh socket. Nothing of the seven is handed on, and the fresh socket gets none of
    // their datagrams.
    {
        std::vector<std::unique_ptr<media::rtp_socket>> sockets;
        std::unique_ptr<media::rtp_socket> fresh;
        std::size_t handled = 0;
        std::size_t fresh_got = 0;
        for (int i = 0; i < 8; ++i) {
            sockets.push_back(std::make_unique<media::rtp_socket>(io, cfg));
            REQUIRE_FALSE(sockets.back()->open());
        }
        for (std::size_t i = 0; i < sockets.size(); ++i) {
            sockets[i]->on_rtp([&, i](std::span<const std::uint8_t>, time_point) {
                ++handled;
                for (std::size_t j = 0; j < sockets.size(); ++j)
                    if (j != i) sockets[j].reset();
                fresh = std::make_unique<media::rtp_socket>(io, cfg);
                REQUIRE_FALSE(fresh->open());
                fresh->on_rtp([&](std::span<const std::uint8_t>, time_point) { ++fresh_got; });
            });
        }
        for (auto& s : sockets) {
            sender.set_remote(ep("127.0.0.1", s->rtp_port()), ep("127.0.0.1", s->rtcp_port()));
            REQUIRE(sender.send_rtp(rtp_bytes(0, 7)));
        }
        REQUIRE(run_until(io, [&] { return handled >= 1; }));
        run_until(io, [] { return false; }, std::chrono::milliseconds(100));
        CHECK(handled == 1);
        CHECK(fresh_got == 0);
        // The fresh socket works.
        sender.set_remote(ep("127.0.0.1", fresh->rtp_port()), ep("127.0.0.1", fresh->rtcp_port()));
        REQUIRE(sender.send_rtp(rtp_bytes(0, 8)));
        CHECK(run_until(io, [&] { return fresh_got == 1; }));
    }

    // A handler that throws: the exception leaves io_context::run(), and reading goes on afterwards.
    {
        media::rtp_socket b(io, cfg);
        REQUIRE_FALSE(b.open());
        std::vector<std::uint8_t> got;
        b.on_rtp([&](std::span<const std::uint8_t> p, time_point) {
            got.push_back(p.back());
            if (p.back() == 1) throw std::runtime_error("handler failed");
        });
        sender.set_remote(ep("127.0.0.1", b.rtp_port()), ep("127.0.0.1", b.rtcp_port()));
        REQUIRE(sender.send_rtp(rtp_bytes(0, 1)));
        CHECK_THROWS_AS(run_until(io, [&] { return got.size() >= 1; }), std::runtime_error);
        io.restart();
        REQUIRE(sender.send_rtp(rtp_bytes(0, 2)));
        CHECK(run_until(io, [&] { return got.size() >= 2; }));
        CHECK(got == std::vector<std::uint8_t>{1, 2});
    }
}
