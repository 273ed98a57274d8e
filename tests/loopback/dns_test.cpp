// transport::srv_resolver over 127.0.0.1: retries and the timeout against a server that never
// answers, answers that are not ours ignored, the answer taken, and the AAAA step after no A. The
// test plays the name server on a UDP socket of its own (the real one, dnsmasq, is in tests/interop).
#include <catch2/catch.hpp>

#include <arpa/nameser.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>

#include "sipvoice/transport/dns.hpp"

namespace tp = sipvoice::transport;
using asio::ip::udp;
using namespace std::chrono_literals;

namespace {

// The question of a query: its id, name and type.
struct question {
    std::uint16_t id = 0;
    std::string name;
    int type = 0;
};
std::optional<question> read_question(const std::vector<std::uint8_t>& q) {
    ns_msg m;
    if (ns_initparse(q.data(), static_cast<int>(q.size()), &m) < 0 || ns_msg_count(m, ns_s_qd) != 1) return std::nullopt;
    ns_rr rr;
    if (ns_parserr(&m, ns_s_qd, 0, &rr) < 0) return std::nullopt;
    return question{static_cast<std::uint16_t>(ns_msg_id(m)), ns_rr_name(rr), ns_rr_type(rr)};
}

// A response to `q`: its question copied, then the answers' wire bytes (owner compressed to it).
std::vector<std::uint8_t> respond(const std::vector<std::uint8_t>& query, std::uint16_t id, unsigned rcode, unsigned count,
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
std::vector<std::uint8_t> rr(unsigned type, const std::vector<std::uint8_t>& rdata) {
    std::vector<std::uint8_t> b = {0xC0, 12, static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type & 0xff), 0, 1,
                                   0, 0, 1, 44, 0, static_cast<std::uint8_t>(rdata.size())};
    b.insert(b.end(), rdata.begin(), rdata.end());
    return b;
}

struct server {
    asio::io_context& io;
    udp::socket socket;
    std::vector<std::vector<std::uint8_t>> got;
    explicit server(asio::io_context& c) : io(c), socket(c, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
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
};

}  // namespace

TEST_CASE("dns resolver: a server that never answers is asked twice, then the lookup fails") {
    asio::io_context io;
    server s(io);
    s.serve([](const auto&, const auto&) {});
    tp::srv_resolver dns(io, s.address());
    dns.set_timeout(100ms, 2);
    bool called = false;
    std::string error;
    const auto start = std::chrono::steady_clock::now();
    dns.lookup("_sip._udp.example.com", [&](std::vector<tp::srv_record> r, std::string e) {
        called = true;
        CHECK(r.empty());
        error = e;
    });
    io.run_for(2s);
    REQUIRE(called);
    CHECK(error.find("no answer from the DNS server 127.0.0.1") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - start >= 200ms);
    REQUIRE(s.got.size() == 2);
    CHECK(s.got[0] == s.got[1]);  // the same query again
    CHECK(read_question(s.got[0])->name == "_sip._udp.example.com");
}

TEST_CASE("dns resolver: answers with another id or from elsewhere are ignored, ours is taken in RFC 2782 order") {
    asio::io_context io;
    server s(io);
    udp::socket stranger(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const std::vector<std::uint8_t> srv_a = {0, 20, 0, 0, 0x13, 0xc4, 1, 'b', 0};  // 20 0 5060 b
    const std::vector<std::uint8_t> srv_b = {0, 10, 0, 0, 0x13, 0xce, 1, 'a', 0};  // 10 0 5070 a
    udp::endpoint client;
    s.serve([&](const std::vector<std::uint8_t>& q, const udp::endpoint& from) {
        const auto qq = read_question(q);
        REQUIRE(qq);
        client = from;
        // A forged answer from another port first, then one with the wrong id, then the real one.
        auto forged = respond(q, qq->id, 0, 1, rr(ns_t_srv, {0, 1, 0, 0, 0, 9, 1, 'x', 0}));
        stranger.send_to(asio::buffer(forged), from);
        s.send(respond(q, static_cast<std::uint16_t>(qq->id + 1), 0, 1, rr(ns_t_srv, {0, 1, 0, 0, 0, 9, 1, 'y', 0})), from);
        auto both = rr(ns_t_srv, srv_a);
        const auto second = rr(ns_t_srv, srv_b);
        both.insert(both.end(), second.begin(), second.end());
        s.send(respond(q, qq->id, 0, 2, both), from);
    });
    tp::srv_resolver dns(io, s.address());
    std::vector<tp::srv_record> got;
    std::string error = "not called";
    dns.lookup("_sip._tcp.example.com", [&](std::vector<tp::srv_record> r, std::string e) {
        got = std::move(r);
        error = e;
    });
    io.run_for(1s);
    CHECK(error.empty());
    REQUIRE(got.size() == 2);
    CHECK(got[0] == tp::srv_record{10, 0, 5070, "a"});
    CHECK(got[1] == tp::srv_record{20, 0, 5060, "b"});
    CHECK(s.got.size() == 1);  // answered at the first try
}

TEST_CASE("dns resolver: an address lookup asks for AAAA when there is no A, and NXDOMAIN is no error") {
    asio::io_context io;
    server s(io);
    s.serve([&](const std::vector<std::uint8_t>& q, const udp::endpoint& from) {
        const auto qq = read_question(q);
        REQUIRE(qq);
        if (qq->name == "gone.example.com") return s.send(respond(q, qq->id, ns_r_nxdomain, 0, {}), from);
        if (qq->type == ns_t_a) return s.send(respond(q, qq->id, 0, 0, {}), from);  // NODATA
        s.send(respond(q, qq->id, 0, 1, rr(ns_t_aaaa, {0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5})), from);
    });
    tp::srv_resolver dns(io, s.address());
    std::vector<asio::ip::address> found;
    std::string error = "not called";
    dns.lookup_address("v6only.example.com", [&](std::vector<asio::ip::address> a, std::string e) {
        found = std::move(a);
        error = e;
    });
    bool gone_called = false;
    dns.lookup("gone.example.com", [&](std::vector<tp::srv_record> r, std::string e) {
        gone_called = true;
        CHECK(r.empty());
        CHECK(e.empty());
    });
    io.run_for(1s);
    CHECK(error.empty());
    REQUIRE(found.size() == 1);
    CHECK(found[0].to_string() == "2001:db8::5");
    CHECK(gone_called);
}

TEST_CASE("dns resolver: a resolver destroyed with a lookup under way never calls it") {
    asio::io_context io;
    server s(io);
    s.serve([](const auto&, const auto&) {});
    bool called = false;
    {
        tp::srv_resolver dns(io, s.address());
        dns.lookup("_sip._udp.example.com", [&](std::vector<tp::srv_record>, std::string) { called = true; });
        io.run_for(50ms);
    }
    io.run_for(300ms);
    CHECK_FALSE(called);
    tp::srv_resolver bad(io, "not-an-address");
    std::string error;
    bad.lookup("_sip._udp.example.com", [&](std::vector<tp::srv_record>, std::string e) { error = e; });
    io.run_for(100ms);
    CHECK(error == "not a DNS server address: not-an-address");
}
