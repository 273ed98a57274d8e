// ua::user_agent over 127.0.0.1: OPTIONS answered, requests it cannot take refused the RFC way,
// OPTIONS sent and answered between two agents, and a registration against a registrar played by
// the test through a bare sip_transport (401 challenge, then 200; a dropped TCP connection); calls
// between agents, blind transfer (REFER) among three of them included.
#include <algorithm>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <catch2/catch.hpp>
#include <functional>
#include <optional>
#include <vector>

#include "../unit/loopback.hpp"
#include "dns_server.hpp"
#include "sipvoice/auth/digest.hpp"
#include "sipvoice/sip/builder.hpp"
#include "sipvoice/transport/stun.hpp"
#include "sipvoice/ua/user_agent.hpp"

using namespace sipvoice;
using transport::protocol;
using test::run_until;

namespace {

ua::user_agent_config local_config() {
    ua::user_agent_config c;
    c.transport.bind_address = "127.0.0.1";
    c.transport.udp_port = c.transport.tcp_port = c.transport.tls_port = 0;
    c.seed = 42;
    return c;
}

// The peer the test plays: a bare transport, every message it gets kept.
struct peer {
    explicit peer(asio::io_context& io) : t(io, [] {
        transport::transport_config c;
        c.bind_address = "127.0.0.1";
        c.udp_port = c.tcp_port = c.tls_port = 0;
        return c;
    }()) {
        REQUIRE_FALSE(t.start());
        t.on_message([this](sip::message m, const transport::flow& f) {
            messages.push_back(std::move(m));
            flows.push_back(f);
        });
    }
    transport::sip_transport t;
    std::vector<sip::message> messages;
    std::vector<transport::flow> flows;
};

// A bare TCP transport on 127.0.0.1 (any free port), for the test to play a registrar.
transport::transport_config tcp_registrar_config() {
    transport::transport_config rc;
    rc.bind_address = "127.0.0.1";
    rc.udp = false;
    rc.tcp_port = 0;
    return rc;
}

// A bare UDP transport on 127.0.0.1, for the test to play a proxy.
transport::transport_config udp_proxy_config() {
    transport::transport_config pc;
    pc.bind_address = "127.0.0.1";
    pc.udp_port = 0;
    pc.tcp = pc.tls = false;
    return pc;
}

// Whether `m` carries a Proxy-Authorization that answers the test proxy's challenge (realm "proxy",
// `nonce`, MD5 without qop) for `who`; nothing when it carries none.
std::optional<bool> proxy_digest_ok(const sip::message& m, const std::string& nonce, const auth::credentials& who) {
    auto creds = m.proxy_authorization();
    if (creds.empty()) return std::nullopt;
    const sip::auth_value v = *creds.front();
    auth::challenge ch;
    ch.realm = "proxy";
    ch.nonce = nonce;
    ch.proxy = true;
    // get() returns the values unquoted.
    return v.params.get("response") == auth::response(ch, who, m.method_name(), v.params.get("uri"), "", "", 0);
}

std::string request(std::string_view method, std::uint16_t port, std::string_view branch) {
    return std::string(method) + " sip:ua@127.0.0.1:" + std::to_string(port) + " SIP/2.0\r\n" +
           "Via: SIP/2.0/UDP 127.0.0.1:1;branch=" + std::string(branch) + ";rport\r\nMax-Forwards: 70\r\n"
           "From: <sip:peer@127.0.0.1>;tag=p1\r\nTo: <sip:ua@127.0.0.1>\r\nCall-ID: " + std::string(branch) + "\r\n"
           "CSeq: 1 " + std::string(method) + "\r\nContent-Length: 0\r\n\r\n";
}

}  // namespace

TEST_CASE("user_agent answers OPTIONS with 200, Allow, Accept and Supported", "[ua][loopback]") {
    asio::io_context io;
    ua::user_agent agent(io, local_config());
    REQUIRE_FALSE(agent.start());
    peer p(io);
    const std::uint16_t port = agent.transport().local_port(protocol::udp);
    p.t.send(protocol::udp, {asio::ip::make_address("127.0.0.1"), port}, request("OPTIONS", port, "z9hG4bKo1"), {});
    REQUIRE(run_until(io, [&] { return !p.messages.empty(); }));
    const sip::message& r = p.messages[0];
    CHECK(r.status() == 200);
    CHECK(r.header(sip::header_id::allow) == "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, PRACK");
    CHECK(r.header(sip::header_id::accept) == "application/sdp");
    CHECK(r.has(sip::header_id::supported));
    CHECK_FALSE(r.to()->tag().empty());
    // RFC 3581: the response says where the request came from.
    CHECK(r.top_via()->received == "127.0.0.1");
    CHECK(r.top_via()->rport == p.t.local_port(protocol::udp));
}

TEST_CASE("user_agent refuses what it cannot take: 405 with Allow, 481 for BYE, retransmissions absorbed",
          "[ua][loopback]") {
    asio::io_context io;
    ua::user_agent agent(io, local_config());
    REQUIRE_FALSE(agent.start());
    peer p(io);
    const std::uint16_t port = agent.transport().local_port(protocol::udp);
    const transport::endpoint to{asio::ip::make_address("127.0.0.1"), port};
    p.t.send(protocol::udp, to, request("MESSAGE", port, "z9hG4bKm1"), {});
    REQUIRE(run_until(io, [&] { return p.messages.size() == 1; }));
    CHECK(p.messages[0].status() == 405);
    CHECK(p.messages[0].header(sip::header_id::allow) == agent.allow());
    p.t.send(protocol::udp, to, request("BYE", port, "z9hG4bKb1"), {});
    REQUIRE(run_until(io, [&] { return p.messages.size() == 2; }));
    CHECK(p.messages[1].status() == 481);
    // A retransmitted BYE gets the same answer again from the server transaction.
    p.t.send(protocol::udp, to, request("BYE", port, "z9hG4bKb1"), {});
    REQUIRE(run_until(io, [&] { return p.messages.size() == 3; }));
    CHECK(p.messages[2].status() == 481);
    CHECK(p.messages[2].to()->tag() == p.messages[1].to()->tag());
}

TEST_CASE("user_agent sends OPTIONS over UDP and TCP and reports the answer or its absence", "[ua][loopback]") {
    asio::io_context io;
    ua::user_agent a(io, local_config()), b(io, local_config());
    REQUIRE_FALSE(a.start());
    REQUIRE_FALSE(b.start());
    for (std::string uri : {"sip:127.0.0.1:" + std::to_string(b.transport().local_port(protocol::udp)),
                            "sip:127.0.0.1:" + std::to_string(b.transport().local_port(protocol::tcp)) + ";transport=tcp"}) {
        std::optional<ua::request_outcome> out;
        a.send_options(uri, [&](const ua::request_outcome& r) { out = r; });
        REQUIRE(run_until(io, [&] { return out.has_value(); }));
        REQUIRE(out->response);
        CHECK(out->response->status() == 200);
    }
    std::uint16_t dead = 0;
    {
        asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
        dead = probe.local_endpoint().port();
    }
    std::optional<ua::request_outcome> out;
    a.send_options("sip:127.0.0.1:" + std::to_string(dead) + ";transport=tcp", [&](const ua::request_outcome& r) { out = r; });
    REQUIRE(run_until(io, [&] { return out.has_value(); }));
    CHECK_FALSE(out->response);
    CHECK(out->error.find("refused") != std::string::npos);
    out.reset();
    a.send_options("http://example.com", [&](const ua::request_outcome& r) { out = r; });
    REQUIRE(run_until(io, [&] { return out.has_value(); }));
    CHECK(out->error.find("not a usable SIP URI") != std::string::npos);
}

TEST_CASE("user_agent moves an OPTIONS on to the host's next address when the first refuses it (RFC 3263 §4.3)",
          "[ua][loopback]") {
    asio::io_context io;
    ua::user_agent b(io, local_config());
    REQUIRE_FALSE(b.start());
    // multi.test has two addresses: 127.0.0.2 first, where nothing listens on b's port, then b's.
    test::dns_server dns(io);
    dns.serve([&](const std::vector<std::uint8_t>& q, const asio::ip::udp::endpoint& from) {
        const auto qq = test::read_question(q);
        REQUIRE(qq);
        if (qq->name != "multi.test" || qq->type != ns_t_a) return dns.send(test::respond(q, qq->id, ns_r_nxdomain, 0, {}), from);
        auto both = test::rr(ns_t_a, {127, 0, 0, 2}, 0);
        const auto second = test::rr(ns_t_a, {127, 0, 0, 1}, 0);
        both.insert(both.end(), second.begin(), second.end());
        dns.send(test::respond(q, qq->id, 0, 2, both), from);
    });
    ua::user_agent_config ac = local_config();
    ac.dns_server = dns.address();
    std::vector<std::string> logs;  // before the agent: it still logs while it is destroyed
    ua::user_agent a(io, ac);
    REQUIRE_FALSE(a.start());
    a.on_log([&](log_level, std::string_view text) { logs.emplace_back(text); });
    std::optional<ua::request_outcome> out;
    a.send_options("sip:multi.test:" + std::to_string(b.transport().local_port(protocol::tcp)) + ";transport=tcp",
                   [&](const ua::request_outcome& r) { out = r; });
    REQUIRE(run_until(io, [&] { return out.has_value(); }));
    REQUIRE(out->response);
    CHECK(out->response->status() == 200);
    const auto said = [&](const std::string& what) {
        return std::any_of(logs.begin(), logs.end(), [&](const std::string& l) { return l.find(what) != std::string::npos; });
    };
    CHECK(said("127.0.0.2:"));
    CHECK(said("trying the next address of multi.test"));
    CHECK(dns.got.size() == 1);  // one lookup: the second address came with the first
}

TEST_CASE("user_agent registers through a digest challenge, re-registers after the TCP connection drops, "
          "and un-registers on shutdown",
          "[ua][loopback]") {
    asio::io_context io;
    ua::user_agent agent(io, local_config());
    REQUIRE_FALSE(agent.start());
    transport::transport_config rc = tcp_registrar_config();
    auto registrar = std::make_unique<transport::sip_transport>(io, rc);
    REQUIRE_FALSE(registrar->start());
    const std::uint16_t port = registrar->local_port(protocol::tcp);

    // The registrar: 401 to a REGISTER without credentials, 200 (with the requested expiry) to one
    // whose digest response is right, 403 otherwise.
    const auth::credentials who{"auth1001", "pw"};
    int registers = 0;
    int unregisters = 0;
    auto serve = [&](transport::sip_transport& t) {
        t.on_message([&, tp = &t](sip::message m, const transport::flow& f) {
            if (m.method_name() != "REGISTER") return;
            ++registers;
            if (m.expires().value_or(1) == 0) ++unregisters;
            auto creds = m.authorization();
            if (creds.empty()) {
                sip::message_builder b = sip::message_builder::response_to(m, 401, {}, "r1");
                b.add(sip::header_id::www_authenticate, R"(Digest realm="test", nonce="n1", qop="auth", algorithm=MD5)");
                tp->send(f, b.str(), {});
                return;
            }
            const sip::auth_value value = *creds.front();
            auth::challenge ch;
            ch.realm = "test";
            ch.nonce = "n1";
            ch.qop_auth = true;
            const std::string want =
                auth::response(ch, who, "REGISTER", std::string(value.params.get("uri")), "auth", std::string(value.params.get("cnonce")),
                               static_cast<std::uint32_t>(std::stoul(std::string(value.params.get("nc")), nullptr, 16)));
            const bool ok = std::string(value.params.get("username")) == "auth1001" && std::string(value.params.get("response")) == want;
            sip::message_builder b = sip::message_builder::response_to(m, ok ? 200 : 403, {}, "r1");
            if (ok)
                b.add(sip::header_id::contact,
                      std::string(m.header(sip::header_id::contact)) + ";expires=" + std::string(m.header(sip::header_id::expires)));
            tp->send(f, b.str(), {});
        });
    };
    serve(*registrar);

    std::vector<ua::registration_state> states;
    ua::account acct;
    acct.registrar = "sip:127.0.0.1:" + std::to_string(port) + ";transport=tcp";
    acct.user = "1001";
    acct.auth_user = "auth1001";
    acct.password = "pw";
    acct.expires = 120;
    acct.keepalive = std::chrono::milliseconds(100);
    auto last = [&] { return states.empty() ? ua::registration_status::unregistered : states.back().status; };
    agent.add_registration(acct, [&](const ua::registration_state& s) { states.push_back(s); });
    REQUIRE(run_until(io, [&] { return last() == ua::registration_status::registered; }));
    CHECK(states.back().expires == 120);

    // The registrar goes away, as in a restart: the broken connection is noticed at once.
    registrar->stop();
    registrar.reset();
    REQUIRE(run_until(io, [&] { return last() == ua::registration_status::failed; }));
    CHECK(states.back().reason.find("cannot reach the registrar") != std::string::npos);

    // Back on the same port: probed every 100 ms, so registered again long before the 2 s backoff.
    rc.tcp_port = port;
    registrar = std::make_unique<transport::sip_transport>(io, rc);
    REQUIRE_FALSE(registrar->start());
    serve(*registrar);
    const int before = registers;
    REQUIRE(run_until(io, [&] { return last() == ua::registration_status::registered; }, std::chrono::milliseconds(1500)));
    CHECK(registers > before);

    bool done = false;
    agent.shutdown([&] { done = true; });
    REQUIRE(run_until(io, [&] { return done; }));
    CHECK(unregisters == 1);
    CHECK(last() == ua::registration_status::unregistered);
}

TEST_CASE("user_agent moves a UDP request above the MTU to TCP, Via included (RFC 3261 §18.1.1)", "[ua][loopback]") {
    asio::io_context io;
    ua::user_agent agent(io, local_config());
    REQUIRE_FALSE(agent.start());
    // The peer listens on one port number for UDP and TCP, as a SIP server does.
    transport::transport_config udp_only;
    udp_only.bind_address = "127.0.0.1";
    udp_only.udp_port = 0;
    udp_only.tcp = udp_only.tls = false;
    transport::sip_transport peer_udp(io, udp_only);
    REQUIRE_FALSE(peer_udp.start());
    const std::uint16_t port = peer_udp.local_port(protocol::udp);
    transport::transport_config tcp_only = udp_only;
    tcp_only.udp = false;
    tcp_only.tcp = true;
    tcp_only.tcp_port = port;
    transport::sip_transport peer_tcp(io, tcp_only);
    REQUIRE_FALSE(peer_tcp.start());
    std::vector<std::pair<sip::message, transport::flow>> got;
    for (auto* t : {&peer_udp, &peer_tcp})
        t->on_message([&got](sip::message m, const transport::flow& f) { got.emplace_back(std::move(m), f); });

    const std::string uri = "sip:peer@127.0.0.1:" + std::to_string(port);
    agent.send_request("MESSAGE", uri, {{}, "text/plain", "short", std::nullopt}, {});
    agent.send_request("MESSAGE", uri, {{}, "text/plain", std::string(1400, 'x'), std::nullopt}, {});
    REQUIRE(run_until(io, [&] { return got.size() >= 2; }));
    const auto small = got[0].second.proto == protocol::udp ? 0 : 1;
    CHECK(got[small].second.proto == protocol::udp);
    CHECK(got[small].first.top_via()->transport == "UDP");
    CHECK(got[1 - small].second.proto == protocol::tcp);
    CHECK(got[1 - small].first.top_via()->transport == "TCP");
    CHECK(got[1 - small].first.body().size() == 1400);
}

TEST_CASE("user_agent puts the advertised address into Via and Contact (behind NAT)", "[ua][loopback]") {
    asio::io_context io;
    auto cfg = local_config();
    cfg.advertised_host = "192.0.2.33";
    cfg.advertised_port = 5999;
    ua::user_agent agent(io, cfg);
    REQUIRE_FALSE(agent.start());
    peer p(io);
    agent.send_options("sip:127.0.0.1:" + std::to_string(p.t.local_port(protocol::udp)), {});
    REQUIRE(run_until(io, [&] { return !p.messages.empty(); }));
    auto via = p.messages[0].top_via();
    CHECK(via->host == "192.0.2.33");
    CHECK(via->port == 5999);
    CHECK(via->has_rport);
    CHECK(p.messages[0].header(sip::header_id::contact) == "<sip:192.0.2.33:5999>");
}

TEST_CASE("user_agent over IPv6: OPTIONS on [::1] over UDP and TCP", "[ua][loopback]") {
    asio::io_context io;
    auto cfg = local_config();
    cfg.transport.bind_address = "::1";
    ua::user_agent a(io, cfg), b(io, cfg);
    REQUIRE_FALSE(a.start());
    REQUIRE_FALSE(b.start());
    for (std::string uri : {"sip:[::1]:" + std::to_string(b.transport().local_port(protocol::udp)),
                            "sip:[::1]:" + std::to_string(b.transport().local_port(protocol::tcp)) + ";transport=tcp"}) {
        std::optional<ua::request_outcome> out;
        a.send_options(uri, [&](const ua::request_outcome& r) { out = r; });
        REQUIRE(run_until(io, [&] { return out.has_value(); }));
        REQUIRE(out->response);
        CHECK(out->response->status() == 200);
        auto via = out->response->top_via();
        CHECK(via->host == "[::1]");
        CHECK(via->received == "::1");
    }
}

TEST_CASE("user_agent answers a 407 to any request once with Proxy-Authorization, and never loops",
          "[ua][loopback][auth]") {
    asio::io_context io;
    ua::user_agent agent(io, local_config());
    REQUIRE_FALSE(agent.start());
    transport::sip_transport proxy(io, udp_proxy_config());
    REQUIRE_FALSE(proxy.start());
    // The proxy challenges every request without credentials and accepts only "pw" for "alice".
    std::vector<sip::message> seen;
    proxy.on_message([&](sip::message m, const transport::flow& f) {
        if (!m.is_request()) return;
        seen.push_back(m);
        int status = 407;
        if (auto ok = proxy_digest_ok(m, "abc", {"alice", "pw"}); ok && *ok) status = 200;
        sip::message_builder b = sip::message_builder::response_to(m, status, {}, "px");
        if (status == 407) b.add(sip::header_id::proxy_authenticate, R"(Digest realm="proxy", nonce="abc")");
        proxy.send(f, b.str(), {});
    });
    const std::string uri = "sip:bob@127.0.0.1:" + std::to_string(proxy.local_port(protocol::udp));

    std::optional<ua::request_outcome> out;
    ua::user_agent::request_extras good{{}, "text/plain", "hi", auth::credentials{"alice", "pw"}};
    agent.send_request("MESSAGE", uri, good, [&](const ua::request_outcome& r) { out = r; });
    REQUIRE(run_until(io, [&] { return out.has_value(); }));
    REQUIRE(out->response);
    CHECK(out->response->status() == 200);
    REQUIRE(seen.size() == 2);
    CHECK(seen[1].call_id().value() == seen[0].call_id().value());
    CHECK(seen[1].cseq()->number == seen[0].cseq()->number + 1);
    CHECK(seen[1].from()->tag() == seen[0].from()->tag());
    CHECK(seen[1].top_via()->branch != seen[0].top_via()->branch);

    seen.clear();
    out.reset();
    ua::user_agent::request_extras bad{{}, "text/plain", "hi", auth::credentials{"alice", "wrong"}};
    agent.send_request("MESSAGE", uri, bad, [&](const ua::request_outcome& r) { out = r; });
    REQUIRE(run_until(io, [&] { return out.has_value(); }));
    REQUIRE(out->response);
    CHECK(out->response->status() == 407);  // handed over, not retried again
    io.run_for(std::chrono::milliseconds(100));
    CHECK(seen.size() == 2);
}

namespace {

// Records what happens to a call.
struct recorder : ua::call_handler {
    std::vector<std::string> events;
    int final_status = -1;
    std::string reason;
    std::string answer_sdp;
    void on_progress(int status, const std::string&) override { events.push_back("progress " + std::to_string(status)); }
    void on_answer(const std::string& sdp) override {
        events.emplace_back("answer");
        answer_sdp = sdp;
    }
    void on_offer(const std::string&) override { events.emplace_back("offer"); }
    void on_connected() override { events.emplace_back("connected"); }
    void on_terminated(int status, const std::string& why) override {
        events.emplace_back("terminated");
        final_status = status;
        reason = why;
    }
    [[nodiscard]] bool ended() const { return final_status != -1; }
};

const std::string sdp_a = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
const std::string sdp_b = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";

}  // namespace

TEST_CASE("user_agent calls: ring, answer, BYE from the caller, over UDP and TCP", "[ua][loopback][call]") {
    for (const std::string transport_param : {"", ";transport=tcp"}) {
        asio::io_context io;
        ua::user_agent a(io, local_config()), b(io, local_config());
        REQUIRE_FALSE(a.start());
        REQUIRE_FALSE(b.start());
        auto callee = std::make_shared<recorder>();
        std::string offer_seen;
        b.on_incoming_call([&](ua::call c, const sip::message& invite) {
            offer_seen = std::string(invite.body());
            c.set_handler(callee);
            c.ring();
            c.accept(sdp_b);
        });
        auto caller = std::make_shared<recorder>();
        const auto port = b.transport().local_port(transport_param.empty() ? protocol::udp : protocol::tcp);
        ua::call c = a.place_call("sip:1002@127.0.0.1:" + std::to_string(port) + transport_param, sdp_a, caller,
                                  "sip:1001@127.0.0.1");
        REQUIRE(run_until(io, [&] { return callee->events.size() >= 1 && !caller->events.empty() && caller->events.back() == "connected"; }));
        CHECK(offer_seen == sdp_a);
        CHECK(caller->answer_sdp == sdp_b);
        CHECK(caller->events == std::vector<std::string>{"progress 180", "answer", "connected"});
        REQUIRE(run_until(io, [&] { return !callee->events.empty() && callee->events.back() == "connected"; }));
        CHECK(a.call_count() == 1);
        CHECK(b.call_count() == 1);

        c.hangup();
        REQUIRE(run_until(io, [&] { return caller->ended() && callee->ended(); }));
        CHECK(caller->reason == "local hangup");
        CHECK(caller->final_status == 200);
        CHECK(callee->reason == "remote hangup");
        CHECK(a.call_count() == 0);
        CHECK(b.call_count() == 0);
    }
}

TEST_CASE("user_agent calls over TLS without a certificate: the Contact names the connection, the callee's BYE comes back",
          "[ua][loopback][call]") {
    const test::test_certificate cert = test::make_test_certificate();
    asio::io_context io;
    auto caller_cfg = local_config();  // no certificate: listens for no TLS
    caller_cfg.transport.tls_settings.ca_file = cert.cert_file;
    auto callee_cfg = local_config();
    callee_cfg.transport.tls_settings.certificate_file = cert.cert_file;
    callee_cfg.transport.tls_settings.private_key_file = cert.key_file;
    ua::user_agent a(io, caller_cfg), b(io, callee_cfg);
    REQUIRE_FALSE(a.start());
    REQUIRE_FALSE(b.start());
    REQUIRE(a.transport().local_port(protocol::tls) == 0);
    REQUIRE(b.transport().local_port(protocol::tls) != 0);
    auto callee = std::make_shared<recorder>();
    std::optional<ua::call> incoming;
    std::string contact;  // the Contact's transport parameter
    std::uint16_t contact_port = 0;
    std::uint16_t source_port = 0;
    b.on_incoming_call([&](ua::call c, const sip::message& invite) {
        if (auto first = invite.contacts().begin(); first != invite.contacts().end() && *first) {
            contact = std::string((*first)->address.address.transport());
            contact_port = (*first)->address.address.port;
        }
        incoming = c;
        c.set_handler(callee);
        c.accept(sdp_b);
    });
    auto caller = std::make_shared<recorder>();
    const transport::endpoint callee_at{asio::ip::make_address("127.0.0.1"), b.transport().local_port(protocol::tls)};
    ua::call c = a.place_call("sip:1002@127.0.0.1:" + std::to_string(callee_at.port) + ";transport=tls", sdp_a, caller,
                              "sip:1001@127.0.0.1");
    REQUIRE(run_until(io, [&] { return !caller->events.empty() && caller->events.back() == "connected"; }));
    const auto conn = a.transport().connection_to(protocol::tls, callee_at);
    REQUIRE(conn);
    source_port = conn->local.port;
    CAPTURE(contact);
    CHECK(contact_port == source_port);
    CHECK(contact_port != a.transport().local_port(protocol::tcp));
    CHECK(contact == "tls");

    // The callee hangs up: its BYE goes to the Contact, which only the connection can reach.
    REQUIRE(incoming);
    REQUIRE(run_until(io, [&] { return !callee->events.empty() && callee->events.back() == "connected"; }));
    incoming->hangup();
    REQUIRE(run_until(io, [&] { return caller->ended() && callee->ended(); }));
    CHECK(caller->reason == "remote hangup");
    CHECK(callee->final_status == 200);
}

TEST_CASE("user_agent calls: a refusal, and a CANCEL while ringing", "[ua][loopback][call]") {
    asio::io_context io;
    ua::user_agent a(io, local_config()), b(io, local_config());
    REQUIRE_FALSE(a.start());
    REQUIRE_FALSE(b.start());
    const std::string uri = "sip:1002@127.0.0.1:" + std::to_string(b.transport().local_port(protocol::udp));
    auto callee = std::make_shared<recorder>();
    bool busy = true;
    b.on_incoming_call([&](ua::call c, const sip::message&) {
        c.set_handler(callee);
        if (busy) c.reject(486);
        else c.ring();
    });
    auto refused = std::make_shared<recorder>();
    a.place_call(uri, sdp_a, refused);
    REQUIRE(run_until(io, [&] { return refused->ended(); }));
    CHECK(refused->final_status == 486);
    CHECK(refused->reason == "rejected 486 Busy Here");

    busy = false;
    callee = std::make_shared<recorder>();
    auto cancelled = std::make_shared<recorder>();
    ua::call c = a.place_call(uri, sdp_a, cancelled);
    REQUIRE(run_until(io, [&] { return !cancelled->events.empty(); }));  // 180 came
    c.hangup();                                                           // -> CANCEL
    REQUIRE(run_until(io, [&] { return cancelled->ended() && callee->ended(); }));
    CHECK(cancelled->final_status == 487);
    CHECK(callee->final_status == 487);
    CHECK(callee->reason == "cancelled by the caller");
}

TEST_CASE("user_agent calls: the CANCEL goes where the INVITE went, whatever DNS says by then (RFC 3261 §9.1)",
          "[ua][loopback][call]") {
    asio::io_context io;
    // The callee, and another agent where a fresh lookup of the callee's domain leads once the
    // INVITE is out: the name server's SRV answer (TTL 0, so nothing is kept) changes then.
    ua::user_agent b(io, local_config()), elsewhere(io, local_config());
    REQUIRE_FALSE(b.start());
    REQUIRE_FALSE(elsewhere.start());
    std::uint16_t srv_port = b.transport().local_port(protocol::udp);
    test::dns_server dns(io);
    dns.serve([&](const std::vector<std::uint8_t>& q, const asio::ip::udp::endpoint& from) {
        const auto qq = test::read_question(q);
        REQUIRE(qq);
        if (qq->type == ns_t_a) return dns.send(test::respond(q, qq->id, 0, 1, test::rr(ns_t_a, {127, 0, 0, 1}, 0)), from);
        if (qq->name != "_sip._udp.callee.test") return dns.send(test::respond(q, qq->id, ns_r_nxdomain, 0, {}), from);
        const std::vector<std::uint8_t> srv = {0, 10, 0, 10, static_cast<std::uint8_t>(srv_port >> 8),
                                               static_cast<std::uint8_t>(srv_port & 0xff), 1, 'b', 0};
        dns.send(test::respond(q, qq->id, 0, 1, test::rr(ns_t_srv, srv, 0)), from);
    });
    ua::user_agent_config ac = local_config();
    ac.dns_server = dns.address();
    ua::user_agent a(io, ac);
    REQUIRE_FALSE(a.start());
    auto callee = std::make_shared<recorder>();
    b.on_incoming_call([&](ua::call c, const sip::message&) {
        c.set_handler(callee);
        c.ring();
    });
    bool elsewhere_called = false;
    elsewhere.on_incoming_call([&](ua::call, const sip::message&) { elsewhere_called = true; });
    auto caller = std::make_shared<recorder>();
    ua::call c = a.place_call("sip:1002@callee.test", sdp_a, caller);
    REQUIRE(run_until(io, [&] { return !caller->events.empty(); }));  // 180 from b
    srv_port = elsewhere.transport().local_port(protocol::udp);
    const std::size_t asked = dns.got.size();
    c.hangup();  // -> CANCEL, to b
    REQUIRE(run_until(io, [&] { return caller->ended() && callee->ended(); }));
    CHECK(caller->final_status == 487);
    CHECK(callee->reason == "cancelled by the caller");
    CHECK(dns.got.size() == asked);  // the CANCEL's destination was not looked up again
    CHECK_FALSE(elsewhere_called);
}

TEST_CASE("user_agent calls: no incoming handler means 480, shutdown ends calls with BYE", "[ua][loopback][call]") {
    asio::io_context io;
    ua::user_agent a(io, local_config()), b(io, local_config());
    REQUIRE_FALSE(a.start());
    REQUIRE_FALSE(b.start());
    const std::string uri = "sip:1002@127.0.0.1:" + std::to_string(b.transport().local_port(protocol::udp));
    auto r = std::make_shared<recorder>();
    a.place_call(uri, sdp_a, r);
    REQUIRE(run_until(io, [&] { return r->ended(); }));
    CHECK(r->final_status == 480);

    auto callee = std::make_shared<recorder>();
    b.on_incoming_call([&](ua::call c, const sip::message&) {
        c.set_handler(callee);
        c.accept(sdp_b);
    });
    auto caller = std::make_shared<recorder>();
    a.place_call(uri, sdp_a, caller);
    REQUIRE(run_until(io, [&] { return !caller->events.empty() && caller->events.back() == "connected"; }));
    bool done = false;
    b.shutdown([&] { done = true; });
    REQUIRE(run_until(io, [&] { return done && caller->ended(); }));
    CHECK(caller->reason == "remote hangup");
    CHECK(callee->reason == "local hangup");
}

namespace {

// A callee that answers every offer it gets with `sdp`, and keeps the keys it got by SIP INFO.
struct answering_callee : recorder {
    ua::call self;
    std::string sdp = sdp_b;
    std::vector<std::string> offers;
    std::string keys;
    void on_dtmf(char digit, int) override { keys += digit; }
    void on_offer(const std::string& offer) override {
        recorder::on_offer(offer);
        offers.push_back(offer);
        self.answer(sdp);
    }
};

}  // namespace

namespace {
// A call as 1001 through the test's proxy at `proxy_uri`, with the credentials it challenges for.
ua::call_options through_proxy(std::string proxy_uri) {
    ua::call_options opts;
    opts.from = "sip:1001@pbx.example.com";
    opts.proxy = std::move(proxy_uri);
    opts.credentials = auth::credentials{"auth1001", "pw"};
    return opts;
}
}  // namespace

TEST_CASE("user_agent calls: an INVITE challenged with 407 by the outbound proxy is sent again with credentials",
          "[ua][loopback][call][auth]") {
    asio::io_context io;
    ua::user_agent a(io, local_config());
    REQUIRE_FALSE(a.start());
    transport::sip_transport proxy(io, udp_proxy_config());
    REQUIRE_FALSE(proxy.start());
    // The proxy challenges an INVITE without credentials; with the right ones it answers 486 (the
    // callee is busy), which proves the credentials went through without a callee behind it.
    std::vector<sip::message> invites;
    bool digest_ok = false;
    proxy.on_message([&](sip::message m, const transport::flow& f) {
        if (!m.is_request() || m.method_name() != "INVITE") return;
        invites.push_back(m);
        int status = 407;
        if (auto ok = proxy_digest_ok(m, "n1", {"auth1001", "pw"})) {
            digest_ok = *ok;
            status = digest_ok ? 486 : 403;
        }
        sip::message_builder b = sip::message_builder::response_to(m, status, {}, "px");
        if (status == 407) b.add(sip::header_id::proxy_authenticate, R"(Digest realm="proxy", nonce="n1")");
        proxy.send(f, b.str(), {});
    });
    const ua::call_options opts = through_proxy("sip:127.0.0.1:" + std::to_string(proxy.local_port(protocol::udp)));
    auto r = std::make_shared<recorder>();
    a.place_call("sip:1002@pbx.example.com", sdp_a, r, opts);
    REQUIRE(run_until(io, [&] { return r->ended(); }));
    CHECK(r->final_status == 486);
    REQUIRE(invites.size() == 2);
    CHECK(digest_ok);
    CHECK(invites[0].request_uri().text == "sip:1002@pbx.example.com");
    CHECK(invites[0].header(sip::header_id::route) == "<" + opts.proxy + ";lr>");
    CHECK(invites[1].cseq()->number == invites[0].cseq()->number + 1);
    CHECK(invites[1].call_id().value() == invites[0].call_id().value());
    CHECK(invites[1].from()->address.text == "sip:1001@pbx.example.com");
}

TEST_CASE("user_agent calls: the INVITE with credentials goes to the proxy that challenged it, whatever DNS says by then",
          "[ua][loopback][call][auth]") {
    asio::io_context io;
    transport::sip_transport proxy(io, udp_proxy_config());
    REQUIRE_FALSE(proxy.start());
    // proxy.test is the proxy until its first INVITE; from then on DNS (TTL 0) says 127.0.0.2,
    // where nobody listens.
    bool moved = false;
    test::dns_server dns(io);
    dns.serve_moving_name("proxy.test", &moved);
    std::vector<sip::message> invites;
    proxy.on_message([&](sip::message m, const transport::flow& f) {
        if (!m.is_request() || m.method_name() != "INVITE") return;
        invites.push_back(m);
        moved = true;
        const bool authorized = proxy_digest_ok(m, "n1", {"auth1001", "pw"}).value_or(false);
        sip::message_builder b = sip::message_builder::response_to(m, authorized ? 486 : 407, {}, "px");
        if (!authorized) b.add(sip::header_id::proxy_authenticate, R"(Digest realm="proxy", nonce="n1")");
        proxy.send(f, b.str(), {});
    });
    ua::user_agent_config ac = local_config();
    ac.dns_server = dns.address();
    ua::user_agent a(io, ac);
    REQUIRE_FALSE(a.start());
    const ua::call_options opts = through_proxy("sip:proxy.test:" + std::to_string(proxy.local_port(protocol::udp)));
    auto r = std::make_shared<recorder>();
    a.place_call("sip:1002@pbx.example.com", sdp_a, r, opts);
    REQUIRE(run_until(io, [&] { return r->ended(); }));
    CHECK(r->final_status == 486);  // the proxy's answer to the INVITE with credentials
    REQUIRE(invites.size() == 2);
    CHECK(invites[1].cseq()->number == invites[0].cseq()->number + 1);
}

TEST_CASE("user_agent calls: the ACK and BYE to a host name go where the INVITE went, whatever DNS says by then",
          "[ua][loopback][call]") {
    // Through an outbound proxy that record-routes by its name, and straight to a callee whose
    // Contact names the host the INVITE went to.
    for (const bool through_proxy : {true, false}) {
        CAPTURE(through_proxy);
        asio::io_context io;
        transport::sip_transport server(io, udp_proxy_config());
        REQUIRE_FALSE(server.start());
        const std::string port = std::to_string(server.local_port(protocol::udp));
        const std::string named = "sip:pbx.test:" + port;
        // pbx.test is the server until the INVITE comes; from then on DNS (TTL 0) says 127.0.0.2,
        // where nobody listens. The server answers for the callee.
        bool moved = false;
        test::dns_server dns(io);
        dns.serve_moving_name("pbx.test", &moved);
        std::vector<std::string> got;  // the methods the server got, in order
        server.on_message([&](sip::message m, const transport::flow& f) {
            if (!m.is_request()) return;
            got.emplace_back(m.method_name());
            moved = true;
            if (m.method_name() == "ACK") return;
            sip::message_builder b = sip::message_builder::response_to(m, 200, {}, "px");
            if (m.method_name() == "INVITE") {
                if (through_proxy) {
                    b.add(sip::header_id::record_route, "<" + named + ";lr>");
                    b.add(sip::header_id::contact, "<sip:1002@127.0.0.1:" + port + ">");
                } else {
                    b.add(sip::header_id::contact, "<sip:1002@pbx.test:" + port + ">");
                }
                b.body("application/sdp", sdp_b);
            }
            server.send(f, b.str(), {});
        });
        ua::user_agent_config ac = local_config();
        ac.dns_server = dns.address();
        ua::user_agent a(io, ac);
        REQUIRE_FALSE(a.start());
        ua::call_options opts;
        if (through_proxy) opts.proxy = named;
        auto caller = std::make_shared<recorder>();
        ua::call c = a.place_call(through_proxy ? "sip:1002@pbx.example.com" : "sip:1002@pbx.test:" + port, sdp_a, caller, opts);
        REQUIRE(run_until(io, [&] { return !caller->events.empty() && caller->events.back() == "connected"; }));
        REQUIRE(run_until(io, [&] { return got.size() == 2; }));
        CHECK(got[1] == "ACK");
        const std::size_t asked = dns.got.size();
        c.hangup();  // -> BYE, to the route set's proxy or the remote target
        REQUIRE(run_until(io, [&] { return caller->ended(); }));
        CHECK(caller->final_status == 200);
        CHECK(got == std::vector<std::string>{"INVITE", "ACK", "BYE"});
        CHECK(dns.got.size() == asked);  // the BYE's next hop was not looked up again
    }
}

TEST_CASE("user_agent calls: hold and unhold by re-INVITE, DTMF by INFO, and RFC 4028 session refreshes keep the call up",
          "[ua][loopback][call][timer]") {
    asio::io_context io;
    auto cfg = local_config();
    cfg.session_expires = 3;  // refreshed every 1.5 s; without refreshes the callee ends it after 2 s
    cfg.min_se = 2;
    ua::user_agent a(io, cfg), b(io, cfg);
    REQUIRE_FALSE(a.start());
    REQUIRE_FALSE(b.start());
    auto callee = std::make_shared<answering_callee>();
    b.on_incoming_call([&](ua::call c, const sip::message&) {
        callee->self = c;
        c.set_handler(callee);
        c.accept(sdp_b);
    });
    auto caller = std::make_shared<recorder>();
    ua::call c = a.place_call("sip:1002@127.0.0.1:" + std::to_string(b.transport().local_port(protocol::udp)), sdp_a,
                              caller);
    REQUIRE(run_until(io, [&] { return !caller->events.empty() && caller->events.back() == "connected"; }));
    REQUIRE(run_until(io, [&] { return !callee->events.empty() && callee->events.back() == "connected"; }));

    const std::string hold = sdp_a.substr(0, sdp_a.find("o=- 1 1")) + "o=- 1 2" +
                             sdp_a.substr(sdp_a.find("o=- 1 1") + 7) + "a=sendonly\r\n";
    callee->sdp = sdp_b + "a=recvonly\r\n";
    c.reoffer(hold);
    REQUIRE(run_until(io, [&] { return caller->events.back() == "answer"; }));
    CHECK(callee->offers.size() == 2);  // the INVITE's, then the hold
    CHECK(callee->offers.back() == hold);
    CHECK(caller->answer_sdp == sdp_b + "a=recvonly\r\n");
    callee->sdp = sdp_b;
    c.reoffer(sdp_a);
    REQUIRE(run_until(io, [&] { return callee->offers.size() == 3 && caller->answer_sdp == sdp_b; }));

    // DTMF by SIP INFO, in order.
    for (char k : std::string("12#")) CHECK(c.send_dtmf_info(k));
    REQUIRE(run_until(io, [&] { return callee->keys == "12#"; }));

    // Well past the session interval: refreshes (UPDATE) kept both sides up.
    io.run_for(std::chrono::milliseconds(4500));
    CHECK_FALSE(caller->ended());
    CHECK_FALSE(callee->ended());
    CHECK(c.state() == ua::session_state::connected);
    CHECK(callee->offers.size() == 3);  // the INVITE's, hold, unhold: a refresh is not an offer

    callee->self.hangup();
    REQUIRE(run_until(io, [&] { return caller->ended() && callee->ended(); }));
    CHECK(caller->reason == "remote hangup");
}

namespace {

// The transferor's side: every report on its REFER, as "status" or "status final".
struct transferor : recorder {
    std::vector<std::string> refer_reports;
    void on_refer_progress(int status, bool final) override {
        refer_reports.push_back(std::to_string(status) + (final ? " final" : ""));
    }
    [[nodiscard]] bool transfer_over() const {
        return !refer_reports.empty() && refer_reports.back().find("final") != std::string::npos;
    }
};

// The transferee's side: on a REFER it calls the target through its own user agent and reports
// that call's progress and outcome back with notify_refer().
struct transferee : recorder {
    ua::user_agent* agent = nullptr;
    ua::call self;
    std::string target;
    ua::call onward;
    struct onward_call : recorder {
        ua::call parent;
        void on_progress(int status, const std::string& sdp) override {
            recorder::on_progress(status, sdp);
            parent.notify_refer(status);
        }
        void on_connected() override {
            recorder::on_connected();
            parent.notify_refer(200);
        }
        void on_terminated(int status, const std::string& why) override {
            const bool before_answer = std::find(events.begin(), events.end(), "connected") == events.end();
            recorder::on_terminated(status, why);
            if (before_answer) parent.notify_refer(status);
        }
    };
    std::shared_ptr<onward_call> onward_handler = std::make_shared<onward_call>();
    bool on_refer(const std::string& to) override {
        target = to;
        onward_handler->parent = self;
        onward = agent->place_call(to, sdp_b, onward_handler);
        return true;
    }
};

ua::user_agent_config config_with_seed(std::uint64_t seed) {
    auto c = local_config();
    c.seed = seed;
    return c;
}

// A transfer's three agents on one io_context, started: a (the transferor), b (answers every call
// as `callee`, a transferee that calls on when REFERred) and t (the target, left to the test).
// Different seeds give them different tags and Call-IDs.
struct three_agents {
    asio::io_context io;
    ua::user_agent a, b, t;
    std::shared_ptr<transferee> callee = std::make_shared<transferee>();
    explicit three_agents(std::uint64_t a_seed = 42, std::uint64_t b_seed = 42, std::uint64_t t_seed = 42)
        : a(io, config_with_seed(a_seed)), b(io, config_with_seed(b_seed)), t(io, config_with_seed(t_seed)) {
        REQUIRE_FALSE(a.start());
        REQUIRE_FALSE(b.start());
        REQUIRE_FALSE(t.start());
        callee->agent = &b;
        b.on_incoming_call([this](ua::call c, const sip::message&) {
            callee->self = c;
            c.set_handler(callee);
            c.accept(sdp_b);
        });
    }
};

}  // namespace

TEST_CASE("user_agent calls: blind transfer by REFER, the transferee calls the target and NOTIFYs the outcome",
          "[ua][loopback][call][refer]") {
    three_agents agents;
    asio::io_context& io = agents.io;
    ua::user_agent &a = agents.a, &b = agents.b, &t = agents.t;
    const std::shared_ptr<transferee> callee = agents.callee;
    auto target = std::make_shared<recorder>();
    std::string referred_by;  // of the INVITE that reaches the target
    t.on_incoming_call([&](ua::call c, const sip::message& invite) {
        referred_by = std::string(invite.header(sip::header_id::referred_by));
        c.set_handler(target);
        c.ring();
        c.accept(sdp_a);
    });
    auto caller = std::make_shared<transferor>();
    ua::call c = a.place_call("sip:1002@127.0.0.1:" + std::to_string(b.transport().local_port(protocol::udp)), sdp_a,
                              caller, "sip:1001@127.0.0.1");
    REQUIRE(run_until(io, [&] { return !caller->events.empty() && caller->events.back() == "connected"; }));
    REQUIRE(run_until(io, [&] { return !callee->events.empty() && callee->events.back() == "connected"; }));

    const std::string target_uri = "sip:1003@127.0.0.1:" + std::to_string(t.transport().local_port(protocol::udp));
    REQUIRE(c.refer(target_uri));
    CHECK_FALSE(c.refer(target_uri));  // one transfer at a time
    REQUIRE(run_until(io, [&] { return caller->transfer_over(); }));
    // RFC 3892: our REFER's Referred-By goes with the target, and into the transferee's INVITE.
    CHECK(callee->target == target_uri + "?Referred-By=%3Csip:1001%40127.0.0.1%3E");
    CHECK(referred_by == "<sip:1001@127.0.0.1>");
    REQUIRE_FALSE(caller->refer_reports.empty());
    CHECK(caller->refer_reports.front() == "202");
    CHECK(caller->refer_reports.back() == "200 final");
    // The first NOTIFY (100 Trying) and the target's ringing came in between, in order.
    const auto at = [&](const std::string& r) {
        return std::find(caller->refer_reports.begin(), caller->refer_reports.end(), r) - caller->refer_reports.begin();
    };
    CHECK(at("100") < at("180"));
    CHECK(at("180") < at("200 final"));
    CHECK(callee->onward_handler->events.back() == "connected");
    REQUIRE(run_until(io, [&] { return !target->events.empty() && target->events.back() == "connected"; }));
    // Both calls are still up: the transferor hangs up now, as a blind transfer does.
    CHECK(a.call_count() == 1);
    CHECK(b.call_count() == 2);
    c.hangup();
    REQUIRE(run_until(io, [&] { return caller->ended() && callee->ended(); }));
    CHECK(callee->reason == "remote hangup");
    CHECK(t.call_count() == 1);
    callee->onward.hangup();
    REQUIRE(run_until(io, [&] { return target->ended(); }));
}

TEST_CASE("user_agent calls: a REFER is declined with 603 when the call has no handler, its handler does not take it, "
          "or transfers are off",
          "[ua][loopback][call][refer]") {
    enum class mode { no_handler, handler_not_taking, transfers_off };
    for (const mode m : {mode::no_handler, mode::handler_not_taking, mode::transfers_off}) {
        INFO(static_cast<int>(m));
        asio::io_context io;
        auto cfg = local_config();
        cfg.accept_refer = m != mode::transfers_off;
        ua::user_agent a(io, local_config()), b(io, cfg);
        REQUIRE_FALSE(a.start());
        REQUIRE_FALSE(b.start());
        auto callee = std::make_shared<transferee>();
        callee->agent = &b;
        auto plain = std::make_shared<recorder>();  // on_refer() not overridden
        b.on_incoming_call([&](ua::call c, const sip::message&) {
            if (m == mode::transfers_off) c.set_handler(callee);  // with a handler, the setting alone declines
            if (m == mode::handler_not_taking) c.set_handler(plain);
            c.accept(sdp_b);
        });
        auto caller = std::make_shared<transferor>();
        ua::call c = a.place_call("sip:1002@127.0.0.1:" + std::to_string(b.transport().local_port(protocol::udp)),
                                  sdp_a, caller);
        REQUIRE(run_until(io, [&] { return !caller->events.empty() && caller->events.back() == "connected"; }));
        REQUIRE(c.refer("sip:1003@127.0.0.1:9"));
        // At once: well before the subscription's 60 s would run out.
        REQUIRE(run_until(io, [&] { return caller->transfer_over(); }, std::chrono::seconds(5)));
        // Declined instead of the 202, or (a handler that does not take it) by a NOTIFY after it.
        CHECK(caller->refer_reports == (m == mode::handler_not_taking ? std::vector<std::string>{"202", "100", "603 final"}
                                                                       : std::vector<std::string>{"603 final"}));
        CHECK(callee->target.empty());
        CHECK(c.state() == ua::session_state::connected);
        c.hangup();
        REQUIRE(run_until(io, [&] { return caller->ended(); }));
    }
}

TEST_CASE("user_agent calls: an INVITE with Replaces takes a connected call's place, which ends with BYE (RFC 3891)",
          "[ua][loopback][call][replaces]") {
    asio::io_context io;
    // b's tags unlike a's, so that swapped tags name no dialog.
    ua::user_agent a(io, local_config()), b(io, config_with_seed(43));
    REQUIRE_FALSE(a.start());
    REQUIRE_FALSE(b.start());
    const std::uint16_t b_port = b.transport().local_port(protocol::udp);
    std::vector<std::shared_ptr<recorder>> at_b;  // each call b took, in order
    std::vector<ua::call> b_calls;
    std::vector<std::string> replaces_seen;
    b.on_incoming_call([&](ua::call c, const sip::message& invite) {
        replaces_seen.emplace_back(invite.header(sip::header_id::replaces));
        at_b.push_back(std::make_shared<recorder>());
        b_calls.push_back(c);
        c.set_handler(at_b.back());
        c.accept(sdp_b);
    });
    auto caller = std::make_shared<recorder>();
    a.place_call("sip:1002@127.0.0.1:" + std::to_string(b_port), sdp_a, caller);
    REQUIRE(run_until(io, [&] { return !at_b.empty() && !at_b[0]->events.empty() && at_b[0]->events.back() == "connected"; }));
    const auto d = b_calls[0].dialog();
    REQUIRE(d);
    CHECK_FALSE(d->local_tag.empty());
    CHECK_FALSE(d->remote_tag.empty());

    // A third party (the test, through a bare transport) sends INVITEs naming b's dialog with a.
    peer p(io);
    const transport::endpoint to_b{asio::ip::make_address("127.0.0.1"), b_port};
    const std::string p_contact = "<sip:p@127.0.0.1:" + std::to_string(p.t.local_port(protocol::udp)) + ">";
    int n = 0;
    auto invite_with = [&](const std::string& replaces) {
        ++n;
        sip::message_builder m = sip::message_builder::request("INVITE", "sip:1002@127.0.0.1:" + std::to_string(b_port));
        m.add(sip::header_id::via, "SIP/2.0/UDP 127.0.0.1:" + std::to_string(p.t.local_port(protocol::udp)) +
                                       ";branch=z9hG4bKrep" + std::to_string(n))
            .add(sip::header_id::max_forwards, "70")
            .add(sip::header_id::from, "<sip:p@127.0.0.1>;tag=p" + std::to_string(n))
            .add(sip::header_id::to, "<sip:1002@127.0.0.1>")
            .add(sip::header_id::call_id, "replacing-" + std::to_string(n))
            .add(sip::header_id::cseq, "1 INVITE")
            .add(sip::header_id::contact, p_contact)
            .add(sip::header_id::replaces, replaces)
            .body("application/sdp", sdp_a);
        const std::size_t before = p.messages.size();
        p.t.send(protocol::udp, to_b, m.str(), {});
        REQUIRE(run_until(io, [&] {
            return std::any_of(p.messages.begin() + static_cast<std::ptrdiff_t>(before), p.messages.end(),
                               [](const sip::message& r) { return r.is_response() && r.status() >= 200; });
        }));
        return *std::find_if(p.messages.begin() + static_cast<std::ptrdiff_t>(before), p.messages.end(),
                             [](const sip::message& r) { return r.is_response() && r.status() >= 200; });
    };
    const std::string tags = ";to-tag=" + d->local_tag + ";from-tag=" + d->remote_tag;
    CHECK(invite_with(d->call_id + ";to-tag=" + d->remote_tag + ";from-tag=" + d->local_tag).status() == 481);  // tags swapped
    CHECK(invite_with("no-such-call" + tags).status() == 481);
    CHECK(invite_with(d->call_id + tags + ";early-only").status() == 486);  // the call is confirmed
    CHECK(invite_with(d->call_id + ";to-tag=" + d->local_tag).status() == 400);  // from-tag missing
    CHECK(at_b.size() == 1);  // none of them reached the application
    CHECK(caller->events.back() == "connected");

    const sip::message ok = invite_with(d->call_id + tags);
    REQUIRE(ok.status() == 200);
    REQUIRE(at_b.size() == 2);
    CHECK(replaces_seen[1] == d->call_id + tags);
    CHECK_FALSE(caller->ended());  // not before the new call is confirmed
    sip::message_builder ack = sip::message_builder::request("ACK", "sip:1002@127.0.0.1:" + std::to_string(b_port));
    ack.add(sip::header_id::via, "SIP/2.0/UDP 127.0.0.1:" + std::to_string(p.t.local_port(protocol::udp)) + ";branch=z9hG4bKrepack")
        .add(sip::header_id::max_forwards, "70")
        .add(sip::header_id::from, std::string(ok.header(sip::header_id::from)))
        .add(sip::header_id::to, std::string(ok.header(sip::header_id::to)))
        .add(sip::header_id::call_id, std::string(ok.header(sip::header_id::call_id)))
        .add(sip::header_id::cseq, "1 ACK");
    p.t.send(protocol::udp, to_b, ack.str(), {});
    // The replaced call ends: b's BYE reaches a.
    REQUIRE(run_until(io, [&] { return caller->ended() && at_b[0]->ended(); }));
    CHECK(caller->reason == "remote hangup");
    CHECK(at_b[0]->reason == "replaced");
    CHECK(at_b[1]->events.back() == "connected");
    CHECK_FALSE(at_b[1]->ended());
    CHECK(b.call_count() == 1);
}

TEST_CASE("user_agent calls: attended transfer, the REFER's Refer-To carries Replaces and the target swaps the calls",
          "[ua][loopback][call][refer][replaces]") {
    three_agents agents(1, 2, 3);
    asio::io_context& io = agents.io;
    ua::user_agent &a = agents.a, &b = agents.b, &t = agents.t;
    const std::shared_ptr<transferee> callee = agents.callee;
    std::vector<std::shared_ptr<recorder>> at_t;
    std::vector<std::string> replaces_at_t;
    t.on_incoming_call([&](ua::call c, const sip::message& invite) {
        replaces_at_t.emplace_back(invite.header(sip::header_id::replaces));
        at_t.push_back(std::make_shared<recorder>());
        c.set_handler(at_t.back());
        c.accept(sdp_a);
    });
    // a talks to b, then consults t on a second call.
    auto first = std::make_shared<transferor>();
    ua::call to_b = a.place_call("sip:1002@127.0.0.1:" + std::to_string(b.transport().local_port(protocol::udp)), sdp_a,
                                 first, "sip:1001@127.0.0.1");
    REQUIRE(run_until(io, [&] { return !callee->events.empty() && callee->events.back() == "connected"; }));
    const std::string t_uri = "sip:1003@127.0.0.1:" + std::to_string(t.transport().local_port(protocol::udp));
    auto consult = std::make_shared<recorder>();
    ua::call to_t = a.place_call(t_uri, sdp_a, consult, "sip:1001@127.0.0.1");
    REQUIRE(run_until(io, [&] { return !at_t.empty() && !at_t[0]->events.empty() && at_t[0]->events.back() == "connected"; }));
    const auto d = to_t.dialog();
    REQUIRE(d);

    // RFC 3891 §7.1: the Replaces names the consultation call as the target sees it (to-tag its own).
    const std::string replaces = d->call_id + ";to-tag=" + d->remote_tag + ";from-tag=" + d->local_tag;
    REQUIRE(to_b.refer(t_uri + "?Replaces=" + sip::escape(replaces, sip::uri_component::header)));
    REQUIRE(run_until(io, [&] { return first->transfer_over(); }));
    CHECK(first->refer_reports.back() == "200 final");
    // b's INVITE reached t with the Replaces (out of the URI, not in its Request-URI), and took the
    // consultation call's place: t ended it with a BYE to a.
    REQUIRE(run_until(io, [&] { return consult->ended() && at_t[0]->ended(); }));
    REQUIRE(replaces_at_t.size() == 2);
    CHECK(replaces_at_t[1] == replaces);
    CHECK(consult->reason == "remote hangup");
    CHECK(at_t[0]->reason == "replaced");
    CHECK(at_t[1]->events.back() == "connected");
    CHECK(callee->onward_handler->events.back() == "connected");
    // The transferor leaves; b and t stay connected.
    to_b.hangup();
    REQUIRE(run_until(io, [&] { return first->ended() && callee->ended(); }));
    CHECK(a.call_count() == 0);
    CHECK(t.call_count() == 1);
    CHECK_FALSE(at_t[1]->ended());
}

TEST_CASE("user_agent with outbound (RFC 5626): the Contact of calls over the flow asks for it (ob) only when the registrar requires outbound",
          "[ua][loopback][outbound]") {
    asio::io_context io;
    ua::user_agent a(io, local_config());
    REQUIRE_FALSE(a.start());
    transport::sip_transport registrar(io, tcp_registrar_config());
    REQUIRE_FALSE(registrar.start());
    const bool supports = GENERATE(true, false);
    std::vector<sip::message> registers;
    std::vector<sip::message> invites;
    registrar.on_message([&](sip::message m, const transport::flow& f) {
        if (!m.is_request()) return;
        sip::message_builder b = sip::message_builder::response_to(m, m.method_name() == "REGISTER" ? 200 : 486, {}, "r1");
        if (m.method_name() == "REGISTER") {
            registers.push_back(m);
            b.add(sip::header_id::contact, std::string(m.header(sip::header_id::contact)) + ";expires=300");
            if (supports) b.add("Require", "outbound").add("Flow-Timer", "1");
        } else if (m.method_name() == "INVITE") {
            invites.push_back(m);
        }
        registrar.send(f, b.str(), {});
    });
    const std::string uri = "sip:127.0.0.1:" + std::to_string(registrar.local_port(protocol::tcp)) + ";transport=tcp";
    ua::account acct;
    acct.registrar = uri;
    acct.user = "1001";
    acct.outbound = true;
    acct.instance_id = "urn:uuid:00000000-0000-1000-8000-000a95a0e128";
    std::vector<ua::registration_state> states;
    a.add_registration(acct, [&](const ua::registration_state& s) { states.push_back(s); });
    REQUIRE(run_until(io, [&] { return !states.empty() && states.back().status == ua::registration_status::registered; }));
    CHECK(states.back().outbound == supports);
    CHECK(states.back().flow_timer == (supports ? 1U : 0U));
    REQUIRE(!registers.empty());
    CHECK(registers[0].contacts().front()->address.params.get("+sip.instance") ==
          "\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\"");

    auto r = std::make_shared<recorder>();
    a.place_call("sip:1002@127.0.0.1", sdp_a, r, through_proxy(uri));
    REQUIRE(run_until(io, [&] { return r->ended(); }));
    REQUIRE(invites.size() == 1);
    const std::string contact(invites[0].header(sip::header_id::contact));
    CHECK((contact.find(";ob>") != std::string::npos) == supports);
    // The flow's pings (every 0.8-1 s at a Flow-Timer of 1) are answered: still registered, one connection.
    const std::size_t events = states.size();
    run_until(io, [] { return false; }, std::chrono::milliseconds(2500));
    CHECK(states.size() == events);
    CHECK(registrar.connection_count() == 1);
}

namespace {
// A UDP registrar that also answers STUN on its SIP port (as Kamailio's stun module does): 200 with
// Require: outbound and Flow-Timer: 1 to every REGISTER, 200 to OPTIONS, and to a Binding request
// the source address, another one (a NAT that rebound), or nothing.
struct stun_registrar {
    enum class stun_mode { answer, rebound, silent };
    explicit stun_registrar(asio::io_context& io) : socket(io, {asio::ip::make_address("127.0.0.1"), 0}) { serve(); }
    asio::ip::udp::socket socket;
    std::array<char, 65536> buf{};
    asio::ip::udp::endpoint from;
    stun_mode mode = stun_mode::answer;
    int registers = 0;
    int options = 0;
    int stuns = 0;
    void serve() {
        socket.async_receive_from(asio::buffer(buf), from, [this](std::error_code ec, std::size_t n) {
            if (ec) return;
            const std::string d(buf.data(), n);
            if (transport::stun::is_stun(d)) {
                ++stuns;
                transport::stun::transaction_id tid{};
                std::copy(d.begin() + 8, d.begin() + 20, tid.begin());
                transport::endpoint mapped{from.address(), from.port()};
                if (mode == stun_mode::rebound) mapped = {asio::ip::make_address("203.0.113.9"), 4000};
                if (mode != stun_mode::silent) socket.send_to(asio::buffer(transport::stun::binding_success(tid, mapped)), from);
            } else if (auto m = sip::message::parse(std::string_view(d)); m && m->is_request()) {
                sip::message_builder b = sip::message_builder::response_to(*m, 200, {}, "r1");
                if (m->method_name() == "REGISTER") {
                    ++registers;
                    b.add(sip::header_id::contact, std::string(m->header(sip::header_id::contact)) + ";expires=300");
                    b.add("Require", "outbound").add("Flow-Timer", "1");
                } else if (m->method_name() == "OPTIONS") {
                    ++options;
                }
                socket.send_to(asio::buffer(b.str()), from);
            }
            serve();
        });
    }
};
}  // namespace

TEST_CASE("user_agent with outbound over UDP: STUN keep-alives, a NAT rebinding registers again, "
          "a registrar that answers no STUN is checked with OPTIONS",
          "[ua][loopback][outbound]") {
    asio::io_context io;
    ua::user_agent a(io, local_config());
    REQUIRE_FALSE(a.start());
    std::vector<std::string> logs;
    a.on_log([&](log_level, std::string_view text) { logs.emplace_back(text); });
    stun_registrar registrar(io);
    const auto mode = GENERATE(stun_registrar::stun_mode::answer, stun_registrar::stun_mode::rebound,
                               stun_registrar::stun_mode::silent);
    registrar.mode = mode;
    ua::account acct;
    acct.registrar = "sip:127.0.0.1:" + std::to_string(registrar.socket.local_endpoint().port());
    acct.user = "1001";
    acct.outbound = true;
    std::vector<ua::registration_state> states;
    a.add_registration(acct, [&](const ua::registration_state& s) { states.push_back(s); });
    REQUIRE(run_until(io, [&] { return !states.empty() && states.back().status == ua::registration_status::registered; }));
    CHECK(states.back().outbound);
    CHECK(states.back().flow_timer == 1);
    // Pings every 0.8-1 s: three or more in 3 s (STUN while it is answered).
    run_until(io, [] { return false; }, std::chrono::milliseconds(3000));
    if (mode != stun_registrar::stun_mode::silent) CHECK(registrar.stuns >= 3);
    CHECK(states.back().status == ua::registration_status::registered);
    const auto logged = [&](std::string_view what) {
        return std::any_of(logs.begin(), logs.end(), [&](const std::string& l) { return l.find(what) != std::string::npos; });
    };
    switch (mode) {
        case stun_registrar::stun_mode::answer:
            CHECK(registrar.registers == 1);
            CHECK(registrar.options == 0);
            break;
        case stun_registrar::stun_mode::rebound:
            // Once for the new mapped address, not again for each keep-alive that says the same.
            CHECK(registrar.registers == 2);
            CHECK(logged("(NAT rebinding): registering again"));
            break;
        case stun_registrar::stun_mode::silent:
            // STUN goes unanswered, OPTIONS are answered: the flow is kept, watched with OPTIONS.
            CHECK(registrar.stuns == 2);  // the first request and its retransmission, then no more
            CHECK(registrar.options >= 2);
            CHECK(registrar.registers == 1);
            CHECK(logged("no answer to the STUN keep-alive"));
            break;
    }
}
