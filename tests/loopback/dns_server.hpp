// tests/loopback/dns_server.hpp: a name server the test plays on a UDP socket of 127.0.0.1, and the
// wire helpers to answer with (the real name server, dnsmasq, is in tests/interop).
#pragma once

#include <arpa/nameser.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

namespace sipvoice::test {

// The question of a query: its id, name and type.
using asio::ip::udp;

struct question {
    std::uint16_t id = 0;
    std::string name;
    int type = 0;
};
inline std::optional<question> read_question(const std::vector<std::uint8_t>& q) {
    ns_msg m;
    if (ns_initparse(q.data(), static_cast<int>(q.size()), &m) < 0 || ns_msg_count(m, ns_s_qd) != 1) return std::nullopt;
    ns_rr rr;
    if (ns_parserr(&m, ns_s_qd, 0, &rr) < 0) return std::nullopt;
    return question{static_cast<std::uint16_t>(ns_msg_id(m)), ns_rr_name(rr), ns_rr_type(rr)};
}

// A response to `q`: its question copied, then the answers' wire bytes (owner compressed to it).
inline std::vector<std::uint8_t> respond(const std::vector<std::uint8_t>& query, std::uint16_t id, unsigned rcode, unsigned count,
                                  const std::vector<std::uint8_t>& answers) {
    std::vector<std::uint8_t> r(query);
    r[0] = static_cast<std::uint8_t>(id >> 8);
    r[1] = static_cast<std::uint8_t>(id & 0xff);
    r[2] = 0x81;  // QR, RD
    r[3] = static_cast<std::uint8_t>(0x80 | rcode);
    r[6] = 0;
    r[7] = static_cast<std::uint8_t>(count);
    r.insert(r.end(), answers.begin(), answers.end());
    return r;
}
inline std::vector<std::uint8_t> rr(unsigned type, const std::vector<std::uint8_t>& rdata, unsigned ttl = 300) {
    std::vector<std::uint8_t> b = {0xC0, 12, static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type & 0xff), 0, 1,
                                   static_cast<std::uint8_t>(ttl >> 24), static_cast<std::uint8_t>(ttl >> 16),
                                   static_cast<std::uint8_t>(ttl >> 8), static_cast<std::uint8_t>(ttl),
                                   0, static_cast<std::uint8_t>(rdata.size())};
    b.insert(b.end(), rdata.begin(), rdata.end());
    return b;
}

struct dns_server {
    asio::io_context& io;
    udp::socket socket;
    std::vector<std::vector<std::uint8_t>> got;
    explicit dns_server(asio::io_context& c) : io(c), socket(c, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
    std::string address() const { return "127.0.0.1:" + std::to_string(socket.local_endpoint().port()); }
    // Each query to `reply`, which sends what it wants back.
    void serve(std::function<void(const std::vector<std::uint8_t>&, const udp::endpoint&)> reply) {
        auto buf = std::make_shared<std::array<std::uint8_t, 1500>>();
        auto from = std::make_shared<udp::endpoint>();
        socket.async_receive_from(asio::buffer(*buf), *from, [this, buf, from, reply](std::error_code ec, std::size_t n) {
            if (ec) return;
            got.emplace_back(buf->begin(), buf->begin() + static_cast<std::ptrdiff_t>(n));
            reply(got.back(), *from);
            serve(reply);
        });
    }
    void send(const std::vector<std::uint8_t>& bytes, const udp::endpoint& to) { socket.send_to(asio::buffer(bytes), to); }
    // `name` has one A record with TTL 0 (never cached): 127.0.0.1, or 127.0.0.2 (where nobody
    // listens) once `*moved` is set; every other question gets NXDOMAIN.
    void serve_moving_name(std::string name, const bool* moved) {
        serve([this, name, moved](const std::vector<std::uint8_t>& q, const udp::endpoint& from) {
            const auto qq = read_question(q);
            if (!qq || qq->name != name || qq->type != ns_t_a) return send(respond(q, qq ? qq->id : 0, ns_r_nxdomain, 0, {}), from);
            const std::uint8_t last = *moved ? 2 : 1;
            send(respond(q, qq->id, 0, 1, rr(ns_t_a, {127, 0, 0, last}, 0)), from);
        });
    }
};

}  // namespace sipvoice::test
