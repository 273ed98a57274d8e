// Invite sessions and reliable provisional responses (RFC 3262, 100rel): the PRACKs of a call we
// place, and the reliable 180 of a call we take. The test plays the peer.
#include <catch2/catch.hpp>

#include "invite_session_uac.hpp"
#include "invite_session_uas.hpp"
#include "parse_helper.hpp"
#include "sipvoice/sip/builder.hpp"
#include "sipvoice/ua/invite_session.hpp"

using namespace sipvoice;
using ua::session_event_kind;
using ua::session_output_kind;
using ua::session_state;
using namespace std::chrono_literals;
using namespace sipvoice::test::uac;
using sipvoice::test::uas::from_alice;
using sipvoice::test::uas::invite_from_alice;

namespace {

// bob's provisional or final response to our INVITE, reliable when `rseq` is set.
sip::message from_bob(const sip::message& invite, int status, const std::string& rseq = {}, const std::string& body = {},
                      const std::string& tag = "b1") {
    return reply(invite, status, tag, body,
                 rseq.empty() ? headers{} : headers{{sip::header_id::require, "100rel"}, {sip::header_id::rseq, rseq}});
}

// alice's PRACK in the early dialog, with RAck `rack`.
sip::message prack_from_alice(const ua::invite_session& s, int cseq, const std::string& rack) {
    return from_alice(s, "PRACK", cseq, {}, {{sip::header_id::rack, rack}});
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
    auto s = ua::invite_session::incoming(invite_from_alice(offer, {{sip::header_id::require, "100rel"}}), "inv", config(), 7);
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
    auto s = ua::invite_session::incoming(invite_from_alice(offer, {{sip::header_id::require, "100rel"}}), "inv", config(), 7);
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

    auto plain = ua::invite_session::incoming(invite_from_alice(offer, {{sip::header_id::supported, "100rel"}}), "inv", config(), 7);
    plain.ring(t0);
    const auto out = plain.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK_FALSE(parse_wire(out[0].bytes).has(sip::header_id::rseq));
    CHECK_FALSE(plain.next_deadline());
}

TEST_CASE("invite_session UAC: forked reliable provisional responses are PRACKed in each fork's own CSeq order",
          "[invite_session][prack]") {
    const time_point t0{};
    auto s = ua::invite_session::outgoing("sip:bob@example.com", offer, config(), 9, t0);
    const sip::message inv = parse_wire(s.take_outputs().at(0).bytes);
    auto prack_of = [&](const sip::message& response) {
        s.on_response(response, t0);
        auto out = s.take_outputs();
        REQUIRE(out.size() == 1);
        return parse_wire(out[0].bytes);
    };
    const sip::message p1 = prack_of(from_bob(inv, 180, "1", {}, "b1"));
    CHECK(p1.to()->tag() == "b1");
    CHECK(p1.cseq()->number == 2);
    const sip::message p2 = prack_of(from_bob(inv, 180, "1", {}, "b2"));  // another fork, its own RSeq
    CHECK(p2.to()->tag() == "b2");
    CHECK(p2.cseq()->number == 2);
    const sip::message p3 = prack_of(from_bob(inv, 183, "2", answer, "b2"));
    CHECK(p3.to()->tag() == "b2");
    CHECK(p3.header(sip::header_id::rack) == "2 1 INVITE");
    CHECK(p3.cseq()->number == 3);  // not 2 again: the fork's dialog is kept
    s.take_events();

    // b2 answers: the call goes on in b2's dialog, whose next request comes after its PRACKs.
    s.on_response(from_bob(inv, 200, {}, answer, "b2"), t0 + 1s);
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == session_output_kind::send_ack);
    CHECK(parse_wire(out[0].bytes).to()->tag() == "b2");
    REQUIRE(s.state() == session_state::connected);
    s.hangup(t0 + 2s);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    const sip::message bye = parse_wire(out[0].bytes);
    CHECK(bye.method_name() == "BYE");
    CHECK(bye.to()->tag() == "b2");
    CHECK(bye.cseq()->number == 4);
}

TEST_CASE("invite_session UAC: a PRACK challenged with 407 goes again with credentials; an offerless INVITE offers no 100rel",
          "[invite_session][prack]") {
    const time_point t0{};
    auto cfg = config(1800);
    cfg.credentials = auth::credentials{"auth1001", "secret"};
    auto s = ua::invite_session::outgoing("sip:bob@example.com", offer, cfg, 9, t0);
    const sip::message inv = parse_wire(s.take_outputs().at(0).bytes);
    s.on_response(from_bob(inv, 180, "3"), t0);
    const sip::message prack = parse_wire(s.take_outputs().at(0).bytes);
    sip::message_builder challenge = sip::message_builder::response_to(prack, 407);
    challenge.add(sip::header_id::proxy_authenticate, R"(Digest realm="pbx.example.com", nonce="n7")");
    const sip::message challenged = parse_wire(challenge.str());
    s.on_dialog_response(&challenged, t0 + 100ms, prack.cseq()->number);
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    const sip::message again = parse_wire(out[0].bytes);
    CHECK(again.method_name() == "PRACK");
    CHECK(again.header(sip::header_id::rack) == "3 1 INVITE");
    CHECK(again.cseq()->number == prack.cseq()->number + 1);
    CHECK(again.header(sip::header_id::proxy_authorization).find("username=\"auth1001\"") != std::string_view::npos);
    // A second challenge is not answered again.
    sip::message_builder second = sip::message_builder::response_to(again, 407);
    second.add(sip::header_id::proxy_authenticate, R"(Digest realm="pbx.example.com", nonce="n8")");
    const sip::message challenged_again = parse_wire(second.str());
    s.on_dialog_response(&challenged_again, t0 + 200ms, again.cseq()->number);
    CHECK(s.take_outputs().empty());
    CHECK(s.state() == session_state::early);

    auto offerless = ua::invite_session::outgoing("sip:bob@example.com", "", config(1800), 9, t0);
    CHECK(parse_wire(offerless.take_outputs().at(0).bytes).header(sip::header_id::supported) == "timer");
}

TEST_CASE("invite_session UAS: a second PRACK for the same response gets 481; an offerless INVITE requiring 100rel is not rung",
          "[invite_session][prack]") {
    const time_point t0{};
    auto s = ua::invite_session::incoming(invite_from_alice(offer, {{sip::header_id::require, "100rel"}}), "inv", config(), 7);
    s.ring(t0);
    std::uint32_t rseq = 0;
    REQUIRE_FALSE(sip::parse_number(parse_wire(s.take_outputs().at(0).bytes).header(sip::header_id::rseq), 0x7fffffffU, rseq).failed());
    const std::string rack = std::to_string(rseq) + " 10 INVITE";
    s.on_request(prack_from_alice(s, 11, rack), "p1", t0 + 100ms);
    s.on_request(prack_from_alice(s, 12, rack), "p2", t0 + 200ms);  // a new transaction, not a retransmission
    auto out = s.take_outputs();
    REQUIRE(out.size() == 2);
    CHECK(out[0].status == 200);
    CHECK(out[1].status == 481);

    // No offer in the INVITE: a reliable 180 would have to carry ours (RFC 3262 §5), so none goes;
    // the 200 carries the offer as ever.
    auto offerless = ua::invite_session::incoming(invite_from_alice("", {{sip::header_id::require, "100rel"}}), "inv2", config(), 7);
    offerless.ring(t0);
    CHECK(offerless.take_outputs().empty());
    CHECK_FALSE(offerless.next_deadline());
    offerless.accept(answer, t0 + 1s);
    out = offerless.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].status == 200);
    CHECK(parse_wire(out[0].bytes).body() == answer);
}
