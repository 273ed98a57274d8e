// Transactions driven by a virtual clock; the test plays the remote peer (RFC 3261 §17, RFC 6026).
#include <catch2/catch.hpp>

#include "parse_helper.hpp"

#include <string>
#include <vector>

#include "sipvoice/sip/builder.hpp"
#include "sipvoice/transaction/client_transaction.hpp"
#include "sipvoice/transaction/server_transaction.hpp"

namespace sip = sipvoice::sip;
namespace tx = sipvoice::transaction;
using namespace std::chrono_literals;

namespace {

sip::message request(const std::string& method, const std::string& branch = "z9hG4bK-t1") {
    return parse_wire(sip::message_builder::request(method, "sip:bob@192.0.2.2")
                     .add(sip::header_id::via, "SIP/2.0/UDP 192.0.2.1:5060;branch=" + branch)
                     .add(sip::header_id::max_forwards, "70")
                     .add(sip::header_id::route, "<sip:proxy.example.com;lr>")
                     .add(sip::header_id::from, "<sip:alice@example.com>;tag=a1")
                     .add(sip::header_id::to, "<sip:bob@example.com>")
                     .add(sip::header_id::call_id, "call-1")
                     .add(sip::header_id::cseq, "7 " + method)
                     .str());
}

sip::message response_to(const sip::message& req, int status) {
    return parse_wire(sip::message_builder::response_to(req, status, {}, status > 100 ? "b2" : "").str());
}

// Collects what a transaction produced, by kind.
struct tally {
    int sends = 0;
    int responses = 0;
    int requests = 0;
    int timeouts = 0;
    int transport_errors = 0;
    int terminated = 0;
    std::vector<std::string> sent;
    template <class T>
    void take(T& t) {
        for (auto& o : t.take_outputs()) {
            switch (o.kind) {
                case tx::output_kind::send: ++sends; sent.push_back(o.bytes); break;
                case tx::output_kind::response: ++responses; break;
                case tx::output_kind::request: ++requests; break;
                case tx::output_kind::timeout: ++timeouts; break;
                case tx::output_kind::transport_error: ++transport_errors; break;
                case tx::output_kind::terminated: ++terminated; break;
            }
        }
    }
};

// Advances virtual time deadline by deadline until `until`, recording when requests were (re)sent.
template <class T>
std::vector<long> run_until(T& t, tx::time_point start, tx::time_point until, tally& seen) {
    std::vector<long> at;
    for (auto d = t.next_deadline(); d && *d <= until; d = t.next_deadline()) {
        const int before = seen.sends;
        t.on_time(*d);
        seen.take(t);
        if (seen.sends > before) at.push_back(static_cast<long>(std::chrono::duration_cast<tx::duration>(*d - start).count()));
    }
    return at;
}

}  // namespace

TEST_CASE("INVITE client over UDP: timer A doubles, timer B times out at 64*T1", "[transaction][client]") {
    const tx::time_point t0{};
    tx::client_transaction c(request("INVITE"), false, {}, t0);
    tally seen;
    seen.take(c);
    CHECK(seen.sends == 1);
    CHECK(c.current() == tx::state::calling);
    CHECK(c.deadline(tx::timer::a) == t0 + 500ms);
    CHECK(c.deadline(tx::timer::b) == t0 + 32000ms);
    const auto resent = run_until(c, t0, t0 + 60s, seen);
    CHECK(resent == std::vector<long>{500, 1500, 3500, 7500, 15500, 31500});
    CHECK(seen.timeouts == 1);
    CHECK(seen.terminated == 1);
    CHECK(c.current() == tx::state::terminated);
}

TEST_CASE("non-INVITE client over UDP: timer E caps at T2, T2 once proceeding; F at 64*T1", "[transaction][client]") {
    const tx::time_point t0{};
    tx::client_transaction c(request("REGISTER"), false, {}, t0);
    tally seen;
    seen.take(c);
    auto resent = run_until(c, t0, t0 + 8s, seen);
    CHECK(resent == std::vector<long>{500, 1500, 3500, 7500});
    c.on_response(response_to(c.request(), 100), t0 + 8s);
    seen.take(c);
    CHECK(seen.responses == 1);
    CHECK(c.current() == tx::state::proceeding);
    resent = run_until(c, t0, t0 + 40s, seen);
    CHECK(resent == std::vector<long>{11500, 15500, 19500, 23500, 27500, 31500});
    CHECK(seen.timeouts == 1);
    CHECK(seen.terminated == 1);
}

TEST_CASE("non-INVITE client: a final response completes it, timer K absorbs retransmissions", "[transaction][client]") {
    const tx::time_point t0{};
    tx::client_transaction c(request("OPTIONS"), false, {}, t0);
    tally seen;
    seen.take(c);
    c.on_response(response_to(c.request(), 200), t0 + 100ms);
    seen.take(c);
    CHECK(c.current() == tx::state::completed);
    CHECK(seen.responses == 1);
    CHECK(c.deadline(tx::timer::k) == t0 + 100ms + 5000ms);
    CHECK_FALSE(c.deadline(tx::timer::e).has_value());
    c.on_response(response_to(c.request(), 200), t0 + 200ms);  // retransmitted final: absorbed
    seen.take(c);
    CHECK(seen.responses == 1);
    c.on_time(t0 + 6s);
    seen.take(c);
    CHECK(seen.terminated == 1);
}

TEST_CASE("over TCP nothing is retransmitted and Completed ends at once", "[transaction][client]") {
    const tx::time_point t0{};
    tx::client_transaction c(request("BYE"), true, {}, t0);
    tally seen;
    seen.take(c);
    CHECK_FALSE(c.deadline(tx::timer::e).has_value());
    CHECK(c.deadline(tx::timer::f) == t0 + 32s);
    c.on_response(response_to(c.request(), 200), t0 + 50ms);
    seen.take(c);
    CHECK(seen.sends == 1);
    CHECK(seen.responses == 1);
    CHECK(c.current() == tx::state::terminated);
}

TEST_CASE("INVITE client: a non-2xx final is ACKed by the transaction, again on retransmission", "[transaction][client]") {
    const tx::time_point t0{};
    tx::client_transaction c(request("INVITE"), false, {}, t0);
    tally seen;
    seen.take(c);
    c.on_response(response_to(c.request(), 180), t0 + 100ms);
    c.on_response(response_to(c.request(), 486), t0 + 2s);
    seen.take(c);
    CHECK(c.current() == tx::state::completed);
    CHECK(seen.responses == 2);
    REQUIRE(seen.sends == 2);  // the INVITE, then the ACK
    auto ack = parse_wire(seen.sent[1]);
    CHECK(ack.method() == sip::method::ack);
    CHECK(ack.request_uri().text == "sip:bob@192.0.2.2");
    CHECK(ack.top_via()->branch == "z9hG4bK-t1");  // same branch as the INVITE (§17.1.1.3)
    CHECK(ack.vias().size() == 1);
    CHECK(ack.cseq()->number == 7);
    CHECK(ack.cseq()->method == "ACK");
    CHECK(ack.to()->tag() == "b2");
    CHECK(ack.from()->tag() == "a1");
    CHECK(ack.routes().size() == 1);
    c.on_response(response_to(c.request(), 486), t0 + 3s);
    seen.take(c);
    CHECK(seen.sends == 3);
    CHECK(seen.sent[2] == seen.sent[1]);
    CHECK(seen.responses == 2);  // the retransmission is not passed up
    CHECK(c.deadline(tx::timer::d) == t0 + 2s + 32s);
    c.on_time(t0 + 40s);
    seen.take(c);
    CHECK(seen.terminated == 1);
}

TEST_CASE("INVITE client: 2xx moves to Accepted and forked 2xx reach the TU until timer M", "[transaction][client]") {
    const tx::time_point t0{};
    tx::client_transaction c(request("INVITE"), false, {}, t0);
    tally seen;
    seen.take(c);
    c.on_response(response_to(c.request(), 200), t0 + 1s);
    c.on_response(response_to(c.request(), 200), t0 + 2s);
    seen.take(c);
    CHECK(c.current() == tx::state::accepted);
    CHECK(seen.responses == 2);
    CHECK(seen.sends == 1);  // the ACK for a 2xx is the TU's, not the transaction's
    CHECK(c.deadline(tx::timer::m) == t0 + 1s + 32s);
    CHECK_FALSE(c.deadline(tx::timer::a).has_value());
    c.on_time(t0 + 33s);
    seen.take(c);
    CHECK(seen.terminated == 1);
}

TEST_CASE("INVITE server: 100 at once, retransmissions answered, G doubles to T2, H times out", "[transaction][server]") {
    const tx::time_point t0{};
    const sip::message invite = request("INVITE");
    tx::server_transaction s(invite, false, {});
    tally seen;
    seen.take(s);
    CHECK(seen.requests == 1);
    REQUIRE(seen.sends == 1);
    CHECK(parse_wire(seen.sent[0]).status() == 100);
    s.on_request(invite, t0 + 200ms);  // retransmitted INVITE: the 100 again
    seen.take(s);
    CHECK(seen.sends == 2);
    CHECK(seen.requests == 1);
    s.respond(sip::message_builder::response_to(invite, 486, {}, "b2").str(), 486, t0 + 1s);
    seen.take(s);
    CHECK(s.current() == tx::state::completed);
    const auto resent = run_until(s, t0 + 1s, t0 + 40s, seen);
    CHECK(resent == std::vector<long>{500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500});
    CHECK(seen.timeouts == 1);
    CHECK(seen.terminated == 1);
}

TEST_CASE("INVITE server: the ACK confirms, timer I ends it; ACK of a 2xx goes to the TU", "[transaction][server]") {
    const tx::time_point t0{};
    const sip::message invite = request("INVITE");
    tx::server_transaction s(invite, false, {});
    tally seen;
    s.respond(sip::message_builder::response_to(invite, 603, {}, "b2").str(), 603, t0 + 1s);
    s.on_request(request("ACK"), t0 + 1100ms);
    seen.take(s);
    CHECK(s.current() == tx::state::confirmed);
    CHECK_FALSE(s.deadline(tx::timer::g).has_value());
    CHECK(s.deadline(tx::timer::i) == t0 + 1100ms + 5s);
    s.on_request(request("ACK"), t0 + 1200ms);  // absorbed
    s.on_time(t0 + 7s);
    seen.take(s);
    CHECK(seen.terminated == 1);
    CHECK(seen.requests == 1);

    tx::server_transaction ok(invite, false, {});
    tally seen_ok;
    ok.respond(sip::message_builder::response_to(invite, 200, {}, "b2").str(), 200, t0 + 1s);
    ok.on_request(invite, t0 + 1200ms);  // retransmitted INVITE in Accepted: absorbed
    ok.on_request(request("ACK"), t0 + 1500ms);
    seen_ok.take(ok);
    CHECK(ok.current() == tx::state::accepted);
    CHECK(seen_ok.requests == 2);  // the INVITE, then its ACK
    CHECK(seen_ok.sends == 2);     // 100 and 200
    CHECK(ok.deadline(tx::timer::l) == t0 + 1s + 32s);
}

TEST_CASE("non-INVITE server: absorbed while Trying, last response resent, timer J", "[transaction][server]") {
    const tx::time_point t0{};
    const sip::message reg = request("REGISTER");
    tx::server_transaction s(reg, false, {});
    tally seen;
    s.on_request(reg, t0 + 100ms);
    seen.take(s);
    CHECK(seen.requests == 1);
    CHECK(seen.sends == 0);
    s.respond(sip::message_builder::response_to(reg, 200, {}, "b2").str(), 200, t0 + 200ms);
    s.on_request(reg, t0 + 300ms);
    seen.take(s);
    CHECK(seen.sends == 2);
    CHECK(seen.sent[0] == seen.sent[1]);
    CHECK(s.deadline(tx::timer::j) == t0 + 200ms + 32s);
    s.on_time(t0 + 33s);
    seen.take(s);
    CHECK(seen.terminated == 1);

    tx::server_transaction tcp(reg, true, {});
    tcp.respond(sip::message_builder::response_to(reg, 200, {}, "b2").str(), 200, t0);
    CHECK(tcp.current() == tx::state::terminated);
}

TEST_CASE("transport errors end a transaction and tell the TU", "[transaction]") {
    const tx::time_point t0{};
    tx::client_transaction c(request("OPTIONS"), false, {}, t0);
    c.on_transport_error();
    tally seen;
    seen.take(c);
    CHECK(seen.transport_errors == 1);
    CHECK(seen.terminated == 1);
    CHECK_FALSE(c.next_deadline().has_value());
}

TEST_CASE("configurable T1/T2/T4", "[transaction]") {
    const tx::time_point t0{};
    tx::timer_config fast;
    fast.t1 = 100ms;
    fast.t2 = 400ms;
    fast.t4 = 1000ms;
    tx::client_transaction c(request("OPTIONS"), false, fast, t0);
    CHECK(c.deadline(tx::timer::e) == t0 + 100ms);
    CHECK(c.deadline(tx::timer::f) == t0 + 6400ms);
    tally seen;
    const auto resent = run_until(c, t0, t0 + 2s, seen);
    CHECK(resent == std::vector<long>{100, 300, 700, 1100, 1500, 1900});
}

TEST_CASE("transaction keys (RFC 3261 §17.1.3, §17.2.3)", "[transaction][keys]") {
    const sip::message invite = request("INVITE", "z9hG4bK-k1");
    const sip::message ack = request("ACK", "z9hG4bK-k1");
    const sip::message cancel = request("CANCEL", "z9hG4bK-k1");
    const sip::message other = request("INVITE", "z9hG4bK-k2");
    REQUIRE(tx::server_key(invite).has_value());
    CHECK(tx::server_key(ack) == tx::server_key(invite));
    CHECK(tx::server_key(cancel) != tx::server_key(invite));
    CHECK(tx::server_key(other) != tx::server_key(invite));
    // The response matches its request's client transaction.
    CHECK(tx::client_key(response_to(invite, 180)) == tx::client_key(invite));
    CHECK(tx::client_key(response_to(cancel, 200)) != tx::client_key(invite));
    // RFC 2543 peers (no magic cookie): the fallback key still ties ACK and retransmissions to the INVITE.
    const sip::message old_invite = request("INVITE", "old-style-1");
    const sip::message old_ack = request("ACK", "old-style-1");
    REQUIRE(tx::server_key(old_invite).has_value());
    CHECK(tx::server_key(old_invite)->rfind("2543|", 0) == 0);
    CHECK(tx::server_key(old_ack) == tx::server_key(old_invite));
}
