// Invite sessions and reliable provisional responses (RFC 3262, 100rel): the PRACKs of a call we
// place, and the reliable 180 of a call we take. The test plays the peer.
#include <catch2/catch.hpp>

#include "invite_session_uac.hpp"
#include "parse_helper.hpp"
#include "sipvoice/sip/builder.hpp"
#include "sipvoice/ua/invite_session.hpp"

using namespace sipvoice;
using ua::session_event_kind;
using ua::session_output_kind;
using ua::session_state;
using namespace std::chrono_literals;
using namespace sipvoice::test::uac;

namespace {

// bob's provisional or final response to our INVITE, reliable when `rseq` is set.
sip::message from_bob(const sip::message& invite, int status, const std::string& rseq = {}, const std::string& body = {}) {
    sip::message_builder b = sip::message_builder::response_to(invite, status, {}, "b1");
    b.add(sip::header_id::contact, "<sip:bob@203.0.113.5:5060>");
    if (!rseq.empty()) b.add(sip::header_id::require, "100rel").add(sip::header_id::rseq, rseq);
    if (!body.empty()) b.body("application/sdp", body);
    return parse_wire(b.str());
}

// alice's INVITE to us, with `extra` headers (Require or Supported: 100rel).
sip::message invite_from_alice(const headers& extra) {
    sip::message_builder b = sip::message_builder::request("INVITE", "sip:1001@192.0.2.10:5060");
    b.add(sip::header_id::via, "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKinv1")
        .add(sip::header_id::from, "<sip:alice@example.com>;tag=a1")
        .add(sip::header_id::to, "<sip:1001@example.com>")
        .add(sip::header_id::call_id, "call-rel")
        .add(sip::header_id::cseq, "10 INVITE")
        .add(sip::header_id::contact, "<sip:alice@198.51.100.7:5060>")
        .add(sip::header_id::max_forwards, "70");
    for (const auto& [id, value] : extra) b.add(id, value);
    b.body("application/sdp", offer);
    return parse_wire(b.str());
}

// alice's PRACK in the early dialog, with RAck `rack`.
sip::message prack_from_alice(const ua::invite_session& s, int cseq, const std::string& rack) {
    sip::message_builder b = sip::message_builder::request("PRACK", "sip:1001@192.0.2.10:5060");
    b.add(sip::header_id::via, "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKpr" + std::to_string(cseq))
        .add(sip::header_id::from, "<sip:alice@example.com>;tag=a1")
        .add(sip::header_id::to, "<sip:1001@example.com>;tag=" + s.current_dialog()->id().local_tag)
        .add(sip::header_id::call_id, "call-rel")
        .add(sip::header_id::cseq, std::to_string(cseq) + " PRACK")
        .add(sip::header_id::rack, rack)
        .add(sip::header_id::max_forwards, "70");
    return parse_wire(b.str());
}

}  // namespace

TEST_CASE("invite_session UAC: Supported 100rel, each reliable provisional response PRACKed once and in order",
          "[invite_session][prack]") {
    const time_point t0{};
    auto s = ua::invite_session::outgoing("sip:bob@example.com", offer, config(1800), 9, t0);
    const sip::message inv = parse_wire(s.take_outputs().at(0).bytes);
    CHECK(inv.header(sip::header_id::supported) == "100rel, timer");
    CHECK(inv.header(sip::header_id::allow).find("PRACK") != std::string_view::npos);

    s.on_response(from_bob(inv, 180, "5"), t0);
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == session_output_kind::request);
    CHECK(out[0].destination == "sip:bob@203.0.113.5:5060");  // the early dialog's remote target
    const sip::message prack = parse_wire(out[0].bytes);
    CHECK(prack.method_name() == "PRACK");
    CHECK(prack.header(sip::header_id::rack) == "5 1 INVITE");
    CHECK(prack.cseq()->number == 2);
    CHECK(prack.to()->tag() == "b1");
    CHECK(prack.from()->tag() == inv.from()->tag());
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::progress);
    CHECK(ev[0].status == 180);

    // Its retransmission, and one that skips an RSeq: no PRACK, no event.
    s.on_response(from_bob(inv, 180, "5"), t0 + 500ms);
    s.on_response(from_bob(inv, 183, "7", answer), t0 + 600ms);
    CHECK(s.take_outputs().empty());
    CHECK(s.take_events().empty());
    // The next one in order, with early media.
    s.on_response(from_bob(inv, 183, "6", answer), t0 + 700ms);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    const sip::message second_prack = parse_wire(out[0].bytes);
    CHECK(second_prack.header(sip::header_id::rack) == "6 1 INVITE");
    CHECK(second_prack.cseq()->number == 3);
    ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].status == 183);
    CHECK(ev[0].sdp == answer);
    // An unreliable provisional response is news as ever, and PRACKed never.
    s.on_response(from_bob(inv, 180), t0 + 800ms);
    CHECK(s.take_outputs().empty());
    CHECK(s.take_events().size() == 1);

    // A PRACK refused (481) or unanswered changes nothing: the INVITE's 200 decides.
    s.on_dialog_response(nullptr, t0 + 1s, prack.cseq()->number);
    CHECK(s.take_outputs().empty());
    CHECK(s.state() == session_state::early);
    s.on_response(from_bob(inv, 200, {}, answer), t0 + 2s);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == session_output_kind::send_ack);
    CHECK(parse_wire(out[0].bytes).cseq()->number == 1);  // the INVITE's CSeq, whatever the PRACKs took
    CHECK(s.state() == session_state::connected);
    s.on_dialog_response(nullptr, t0 + 3s, second_prack.cseq()->number);
    CHECK(s.take_outputs().empty());
    CHECK(s.state() == session_state::connected);  // a late PRACK failure does not end the call (no BYE)
}

TEST_CASE("invite_session UAS: an INVITE requiring 100rel gets a reliable 180, retransmitted until its PRACK",
          "[invite_session][prack]") {
    const time_point t0{};
    auto s = ua::invite_session::incoming(invite_from_alice({{sip::header_id::require, "100rel"}}), "inv", config(), 7);
    s.take_events();
    s.ring(t0);
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].status == 180);
    const sip::message ringing = parse_wire(out[0].bytes);
    CHECK(ringing.header(sip::header_id::require) == "100rel");
    std::uint32_t rseq = 0;
    REQUIRE_FALSE(sip::parse_number(ringing.header(sip::header_id::rseq), 0x7fffffffU, rseq).failed());
    CHECK(rseq >= 1);
    // A second ring while the first waits for its PRACK sends nothing (RFC 3262 §3: one at a time).
    s.ring(t0 + 100ms, 183);
    CHECK(s.take_outputs().empty());

    // Again at T1, then 2*T1 later.
    CHECK(s.next_deadline() == t0 + 500ms);
    s.on_time(t0 + 500ms);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].bytes == ringing.bytes());
    CHECK(out[0].status == 180);
    CHECK(s.next_deadline() == t0 + 1500ms);

    // A PRACK for another RSeq or another INVITE: 481, and the 180 goes on.
    s.on_request(prack_from_alice(s, 11, std::to_string(rseq + 1) + " 10 INVITE"), "p1", t0 + 600ms);
    s.on_request(prack_from_alice(s, 12, std::to_string(rseq) + " 9 INVITE"), "p2", t0 + 700ms);
    out = s.take_outputs();
    REQUIRE(out.size() == 2);
    CHECK(out[0].status == 481);
    CHECK(out[1].status == 481);
    CHECK(s.next_deadline() == t0 + 1500ms);
    // The right one: 200, the retransmissions stop.
    s.on_request(prack_from_alice(s, 13, std::to_string(rseq) + " 10 INVITE"), "p3", t0 + 800ms);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].key == "p3");
    CHECK(out[0].status == 200);
    CHECK_FALSE(s.next_deadline());

    // The next reliable one takes the next RSeq.
    s.ring(t0 + 900ms, 183);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(parse_wire(out[0].bytes).header(sip::header_id::rseq) == std::to_string(rseq + 1));
    // The 200 goes without waiting for that PRACK (the 183 had no SDP) and ends its retransmissions.
    s.accept(answer, t0 + 1s);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].status == 200);
    CHECK(s.next_deadline() == t0 + 1500ms);  // the 2xx's own retransmission, not the 183's
    s.on_time(t0 + 1500ms);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].status == 200);
}

TEST_CASE("invite_session UAS: no PRACK within 64*T1 refuses the INVITE with 500; Supported alone gets a plain 180",
          "[invite_session][prack]") {
    const time_point t0{};
    auto s = ua::invite_session::incoming(invite_from_alice({{sip::header_id::require, "100rel"}}), "inv", config(), 7);
    s.take_events();
    s.ring(t0);
    s.take_outputs();
    int retransmissions = 0;
    while (auto at = s.next_deadline()) {
        s.on_time(*at);
        for (const auto& o : s.take_outputs()) {
            if (o.status == 180) ++retransmissions;
            else CHECK(o.status == 500);
        }
        if (s.state() == session_state::terminated) {
            CHECK(*at == t0 + 32s);  // 64*T1
            break;
        }
    }
    CHECK(retransmissions == 6);  // at 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s
    CHECK(s.state() == session_state::terminated);
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].status == 500);

    auto plain = ua::invite_session::incoming(invite_from_alice({{sip::header_id::supported, "100rel"}}), "inv", config(), 7);
    plain.ring(t0);
    const auto out = plain.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK_FALSE(parse_wire(out[0].bytes).has(sip::header_id::rseq));
    CHECK_FALSE(plain.next_deadline());
}
