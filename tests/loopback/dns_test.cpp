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

#include "dns_server.hpp"
#include "sipvoice/transport/dns.hpp"

namespace tp = sipvoice::transport;
using asio::ip::udp;
using namespace std::chrono_literals;
using namespace sipvoice::test;

TEST_CASE("dns resolver: a server that never answers is asked twice, then the lookup fails") {
    asio::io_context io;
    dns_server s(io);
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
    dns_server s(io);
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
    dns_server s(io);
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
    dns_server s(io);
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

TEST_CASE("dns resolver: answers are kept for their TTL, errors and TTL 0 are not, and the limit switches it off") {
    asio::io_context io;
    dns_server s(io);
    int servfails = 1;  // the first question for broken.example.com fails
    s.serve([&](const std::vector<std::uint8_t>& q, const udp::endpoint& from) {
        const auto qq = read_question(q);
        REQUIRE(qq);
        if (qq->name == "broken.example.com" && servfails-- > 0) return s.send(respond(q, qq->id, ns_r_servfail, 0, {}), from);
        if (qq->name == "short.example.com") return s.send(respond(q, qq->id, 0, 1, rr(ns_t_a, {192, 0, 2, 9}, 0)), from);
        if (qq->type == ns_t_a) return s.send(respond(q, qq->id, 0, 1, rr(ns_t_a, {192, 0, 2, 8})), from);
        s.send(respond(q, qq->id, 0, 1, rr(ns_t_srv, {0, 10, 0, 0, 0x13, 0xc4, 1, 'a', 0})), from);
    });
    tp::srv_resolver dns(io, s.address());
    std::vector<std::string> results;
    auto srv = [&](const std::string& name) {
        dns.lookup(name, [&](std::vector<tp::srv_record> r, std::string e) {
            results.push_back(e.empty() ? std::to_string(r.size()) + " " + (r.empty() ? "" : r[0].target) : "error");
        });
        io.restart();
        io.run_for(200ms);
    };
    auto address = [&](const std::string& name) {
        dns.lookup_address(name, [&](std::vector<asio::ip::address> a, std::string e) {
            results.push_back(e.empty() && !a.empty() ? a[0].to_string() : "error");
        });
        io.restart();
        io.run_for(200ms);
    };
    srv("_sip._udp.example.com");
    CHECK(s.got.size() == 1);
    srv("_SIP._udp.Example.com.");  // the same name: from the cache
    CHECK(s.got.size() == 1);
    address("pbx.example.com");
    address("pbx.example.com");
    CHECK(s.got.size() == 2);
    address("short.example.com");  // TTL 0: asked each time
    address("short.example.com");
    CHECK(s.got.size() == 4);
    address("broken.example.com");  // SERVFAIL: not kept, so the next lookup asks and gets the answer
    address("broken.example.com");
    CHECK(s.got.size() == 6);
    CHECK(dns.queries_sent() == 6);
    dns.set_cache_limit(0s);
    srv("_sip._udp.example.com");
    CHECK(s.got.size() == 7);
    const std::vector<std::string> expected = {"1 a", "1 a", "192.0.2.8", "192.0.2.8", "192.0.2.9", "192.0.2.9",
                                               "error", "192.0.2.8", "1 a"};
    CHECK(results == expected);
}
