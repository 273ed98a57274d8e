// Invite sessions: the test plays the peer and checks each message the session produces.
#include <catch2/catch.hpp>
#include <optional>

#include "invite_session_uas.hpp"
#include "parse_helper.hpp"
#include "sipvoice/sip/builder.hpp"
#include "sipvoice/ua/invite_session.hpp"

using namespace sipvoice;
using ua::session_event_kind;
using ua::session_output_kind;
using ua::session_state;
using namespace std::chrono_literals;
using sipvoice::test::uas::from_alice;
using sipvoice::test::uas::invite_from_alice;

namespace {

ua::session_config config() {
    ua::session_config c;
    c.local_uri = "<sip:1001@pbx.example.com>";
    c.contact = "<sip:1001@192.0.2.10:5060>";
    c.sent_by = "192.0.2.10:5060";
    return c;
}

const std::string offer = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
                          "m=audio 4000 RTP/AVP 0\r\n";
const std::string answer = "v=0\r\no=- 2 2 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
                           "m=audio 5000 RTP/AVP 0\r\n";

}  // namespace

TEST_CASE("invite_session UAS: ring, answer, 2xx retransmitted until the ACK, remote BYE", "[invite_session]") {
    const time_point t0{};
    auto s = ua::invite_session::incoming(invite_from_alice(offer), "key-1", config(), 7);
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::offer);
    CHECK(ev[0].sdp == offer);

    s.ring(t0);
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == session_output_kind::respond);
    CHECK(out[0].key == "key-1");
    CHECK(out[0].status == 180);
    const sip::message ringing = parse_wire(out[0].bytes);
    const std::string tag(ringing.to()->tag());
    CHECK_FALSE(tag.empty());
    CHECK(ringing.header(sip::header_id::contact) == "<sip:1001@192.0.2.10:5060>");

    s.accept(answer, t0 + 1s);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    const sip::message ok = parse_wire(out[0].bytes);
    CHECK(ok.status() == 200);
    CHECK(ok.to()->tag() == tag);  // the same tag as the 180: one dialog
    CHECK(ok.body() == answer);
    CHECK(s.state() == session_state::accepted);
    // RFC 3261 §13.3.1.4: again at T1, then 2*T1...
    CHECK(s.next_deadline() == t0 + 1s + 500ms);
    s.on_time(t0 + 1s + 500ms);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].bytes == ok.bytes());
    CHECK(s.next_deadline() == t0 + 2500ms);

    s.on_ack(from_alice(s, "ACK", 10), t0 + 2s);
    CHECK(s.state() == session_state::connected);
    CHECK_FALSE(s.next_deadline());
    ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::connected);

    s.on_request(from_alice(s, "BYE", 11), "key-bye", t0 + 10s);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].key == "key-bye");
    CHECK(out[0].status == 200);
    ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::terminated);
    CHECK(ev[0].reason == "remote hangup");
    CHECK(s.state() == session_state::terminated);
}

TEST_CASE("invite_session UAS: no ACK ends the call with a BYE after 64*T1", "[invite_session]") {
    const time_point t0{};
    auto s = ua::invite_session::incoming(invite_from_alice(offer), "k", config(), 7);
    s.accept(answer, t0);
    s.take_outputs();
    int retransmissions = 0;
    std::vector<duration> gaps;
    time_point last = t0;
    std::optional<ua::session_output> bye;
    while (auto d = s.next_deadline()) {
        s.on_time(*d);
        for (auto& o : s.take_outputs()) {
            if (o.kind == session_output_kind::respond) {
                ++retransmissions;
                gaps.push_back(std::chrono::duration_cast<duration>(*d - last));
                last = *d;
            } else {
                CHECK(o.kind == session_output_kind::request);
                CHECK(parse_wire(o.bytes).method_name() == "BYE");
                CHECK(o.destination == "sip:alice@198.51.100.7:5060");
                bye = o;
            }
        }
    }
    // The call ends once the BYE is answered (the user agent keeps it until then).
    REQUIRE(bye);
    CHECK(s.state() == session_state::terminating);
    const sip::message bye_ok = parse_wire(sip::message_builder::response_to(parse_wire(bye->bytes), 200).str());
    s.on_dialog_response(&bye_ok, last, bye->cseq);
    CHECK(gaps.front() == 500ms);
    CHECK(*std::max_element(gaps.begin(), gaps.end()) == 4000ms);  // capped at T2
    CHECK(retransmissions >= 8);
    auto ev = s.take_events();
    REQUIRE_FALSE(ev.empty());
    CHECK(ev.back().kind == session_event_kind::terminated);
    CHECK(ev.back().reason == "no ACK for the 2xx");
}

TEST_CASE("invite_session UAS: CANCEL before the answer ends the INVITE with 487", "[invite_session]") {
    auto s = ua::invite_session::incoming(invite_from_alice(offer), "k", config(), 7);
    s.ring(time_point{});
    s.take_outputs();
    s.on_cancel(time_point{});
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].status == 487);
    auto ev = s.take_events();
    CHECK(ev.back().kind == session_event_kind::terminated);
    CHECK(ev.back().status == 487);
    // Nothing more once it is over.
    s.accept(answer, time_point{});
    CHECK(s.take_outputs().empty());
}

TEST_CASE("invite_session UAS: an INVITE without offer gets our offer in the 200 and the answer in the ACK",
          "[invite_session]") {
    auto s = ua::invite_session::incoming(invite_from_alice(""), "k", config(), 7);
    CHECK(s.take_events().empty());
    s.accept(answer, time_point{});
    CHECK(parse_wire(s.take_outputs().at(0).bytes).body() == answer);
    s.on_ack(from_alice(s, "ACK", 10, offer), time_point{} + 100ms);
    auto ev = s.take_events();
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].kind == session_event_kind::answer);
    CHECK(ev[0].sdp == offer);
    CHECK(ev[1].kind == session_event_kind::connected);
}

TEST_CASE("invite_session: in-dialog order, re-INVITE offers, 491 while one is pending, local BYE", "[invite_session]") {
    const time_point t0{};
    auto s = ua::invite_session::incoming(invite_from_alice(offer), "k", config(), 7);
    s.accept(answer, t0);
    s.on_ack(from_alice(s, "ACK", 10), t0);
    s.take_outputs();
    s.take_events();

    s.on_request(from_alice(s, "INVITE", 12, offer), "re-1", t0 + 1s);  // hold, say
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::offer);
    s.on_request(from_alice(s, "INVITE", 13, offer), "re-2", t0 + 1s);
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].key == "re-2");
    CHECK(out[0].status == 491);
    s.answer(answer, t0 + 2s);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].key == "re-1");
    CHECK(out[0].status == 200);
    s.on_ack(from_alice(s, "ACK", 12), t0 + 2s);
    CHECK_FALSE(s.next_deadline());

    s.on_request(from_alice(s, "INFO", 11), "info", t0 + 3s);  // CSeq 11 < 13: out of order
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].status == 500);

    s.hangup(t0 + 4s);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    const sip::message bye = parse_wire(out[0].bytes);
    CHECK(bye.method_name() == "BYE");
    CHECK(bye.request_uri().text == "sip:alice@198.51.100.7:5060");
    CHECK(bye.from()->tag() == s.current_dialog()->id().local_tag);
    CHECK(bye.to()->tag() == "a1");
    CHECK(s.state() == session_state::terminating);
    const sip::message ok = parse_wire(sip::message_builder::response_to(bye, 200).str());
    s.on_dialog_response(&ok, t0 + 4s);
    ev = s.take_events();
    CHECK(ev.back().kind == session_event_kind::terminated);
    CHECK(ev.back().reason == "local hangup");
}

TEST_CASE("invite_session UAC: early dialog, 2xx ACKed, retransmitted 2xx ACKed again, a forked 2xx ended",
          "[invite_session]") {
    const time_point t0{};
    auto s = ua::invite_session::outgoing("sip:bob@example.com", offer, config(), 9, t0);
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == session_output_kind::request);
    CHECK(out[0].destination == "sip:bob@example.com");
    const sip::message inv = parse_wire(out[0].bytes);
    CHECK(inv.method_name() == "INVITE");
    CHECK(inv.body() == offer);
    CHECK(s.state() == session_state::calling);

    auto reply = [&](int status, const std::string& tag, const std::string& body = {}) {
        sip::message_builder b = sip::message_builder::response_to(inv, status, {}, tag);
        if (status > 100) b.add(sip::header_id::contact, "<sip:bob@203.0.113.5:5060>");
        if (!body.empty()) b.body("application/sdp", body);
        return parse_wire(b.str());
    };
    s.on_response(reply(100, ""), t0);
    s.on_response(reply(180, "b1"), t0 + 1s);
    CHECK(s.state() == session_state::early);
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::progress);
    CHECK(ev[0].status == 180);

    s.on_response(reply(200, "b1", answer), t0 + 2s);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == session_output_kind::send_ack);
    const sip::message ack = parse_wire(out[0].bytes);
    CHECK(ack.method_name() == "ACK");
    CHECK(ack.cseq()->number == inv.cseq()->number);
    CHECK(ack.to()->tag() == "b1");
    CHECK(ack.request_uri().text == "sip:bob@203.0.113.5:5060");
    CHECK(out[0].destination == "sip:bob@203.0.113.5:5060");
    ev = s.take_events();
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].kind == session_event_kind::answer);
    CHECK(ev[1].kind == session_event_kind::connected);

    s.on_response(reply(200, "b1", answer), t0 + 2500ms);  // our ACK was lost
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == session_output_kind::send_ack);

    s.on_response(reply(200, "b2", answer), t0 + 3s);  // a second branch of a forking proxy answered
    out = s.take_outputs();
    REQUIRE(out.size() == 2);
    CHECK(out[0].kind == session_output_kind::send_ack);
    CHECK(parse_wire(out[0].bytes).to()->tag() == "b2");
    CHECK(parse_wire(out[1].bytes).method_name() == "BYE");
    CHECK(parse_wire(out[1].bytes).to()->tag() == "b2");
    CHECK(s.current_dialog()->id().remote_tag == "b1");  // the call stays on the first
    CHECK(s.state() == session_state::connected);
}

TEST_CASE("invite_session UAC: CANCEL waits for a provisional response, then copies the INVITE's Via",
          "[invite_session]") {
    const time_point t0{};
    auto s = ua::invite_session::outgoing("sip:bob@example.com", offer, config(), 9, t0);
    const sip::message inv = parse_wire(s.take_outputs().at(0).bytes);
    s.cancel(t0 + 100ms);
    CHECK(s.take_outputs().empty());  // RFC 3261 §9.1: not before a provisional response
    s.on_response(parse_wire(sip::message_builder::response_to(inv, 183, {}, "b1").str()), t0 + 200ms);
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == session_output_kind::cancel);
    const sip::message cancel = parse_wire(out[0].bytes);
    CHECK(cancel.method_name() == "CANCEL");
    CHECK(cancel.top_via()->branch == inv.top_via()->branch);
    CHECK(cancel.cseq()->number == inv.cseq()->number);
    CHECK(cancel.to()->tag().empty());
    s.on_response(parse_wire(sip::message_builder::response_to(inv, 487, {}, "b1").str()), t0 + 300ms);
    auto ev = s.take_events();
    CHECK(ev.back().kind == session_event_kind::terminated);
    CHECK(ev.back().reason == "cancelled");
}

TEST_CASE("invite_session UAC: the INVITE sent again for another server has a new branch and CSeq, and its CANCEL follows it",
          "[invite_session]") {
    const time_point t0{};
    auto s = ua::invite_session::outgoing("sip:bob@example.com", offer, config(), 9, t0);
    const sip::message first = parse_wire(s.take_outputs().at(0).bytes);
    REQUIRE(s.resend_invite(t0 + 1s));  // the first server refused the connection (RFC 3263 §4.3)
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == session_output_kind::request);
    const sip::message again = parse_wire(out[0].bytes);
    CHECK(again.method_name() == "INVITE");
    CHECK(again.top_via()->branch != first.top_via()->branch);
    CHECK(again.cseq()->number == first.cseq()->number + 1);
    CHECK(*again.call_id() == *first.call_id());
    CHECK(again.from()->tag() == first.from()->tag());
    CHECK(again.body() == first.body());
    CHECK(s.state() == session_state::calling);
    CHECK(s.take_events().empty());  // the application sees nothing of it
    // Its CANCEL copies the new INVITE's Via, not the first one's.
    s.on_response(parse_wire(sip::message_builder::response_to(again, 180, {}, "b1").str()), t0 + 2s);
    CHECK_FALSE(s.resend_invite(t0 + 2s));  // a provisional response came: the call has moved on
    s.cancel(t0 + 3s);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(parse_wire(out[0].bytes).top_via()->branch == again.top_via()->branch);
}

TEST_CASE("invite_session UAC: no INVITE sent again once a CANCEL is wanted or the call has ended", "[invite_session]") {
    const time_point t0{};
    auto s = ua::invite_session::outgoing("sip:bob@example.com", offer, config(), 9, t0);
    (void)s.take_outputs();
    s.cancel(t0);  // before any provisional response: wanted, not yet sent
    CHECK_FALSE(s.resend_invite(t0));
    CHECK(s.take_outputs().empty());
    auto ended = ua::invite_session::outgoing("sip:bob@example.com", offer, config(), 9, t0);
    const sip::message inv = parse_wire(ended.take_outputs().at(0).bytes);
    ended.on_response(parse_wire(sip::message_builder::response_to(inv, 486, {}, "b1").str()), t0);
    CHECK_FALSE(ended.resend_invite(t0));
}

TEST_CASE("invite_session UAC: a rejection ends the call with its status", "[invite_session]") {
    auto s = ua::invite_session::outgoing("sip:bob@example.com", offer, config(), 9, time_point{});
    const sip::message inv = parse_wire(s.take_outputs().at(0).bytes);
    s.on_response(parse_wire(sip::message_builder::response_to(inv, 486, {}, "b1").str()), time_point{});
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].status == 486);
    CHECK(ev[0].reason == "rejected 486 Busy Here");
    CHECK(s.state() == session_state::terminated);
}
