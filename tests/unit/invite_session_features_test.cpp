// Invite sessions, continued: authentication, redirects, re-offers, UPDATE, INFO DTMF and RFC 4028
// session timers. The test plays the peer and checks each message the session produces.
#include <catch2/catch.hpp>

#include "sipvoice/sip/validate.hpp"

#include "parse_helper.hpp"
#include "sipvoice/sip/builder.hpp"
#include "sipvoice/ua/invite_session.hpp"
#include "invite_session_uac.hpp"
#include "invite_session_uas.hpp"

using namespace sipvoice;
using ua::session_event_kind;
using ua::session_output_kind;
using ua::session_state;
using namespace std::chrono_literals;
using namespace sipvoice::test::uac;

namespace {

const std::string hold_offer = "v=0\r\no=- 1 2 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
                               "m=audio 5000 RTP/AVP 0\r\na=sendonly\r\n";

// A UAC call to bob, answered with `ok_headers` in the 200; the outputs and events so far are drained.
ua::invite_session connected_call(const headers& ok_headers = {}, std::uint32_t session_expires = 0,
                                  time_point at = time_point{}) {
    auto s = ua::invite_session::outgoing("sip:bob@example.com", offer, config(session_expires), 9, at);
    const sip::message inv = parse_wire(s.take_outputs().at(0).bytes);
    s.on_response(reply(inv, 200, "b1", answer, ok_headers), at);
    s.take_outputs();
    s.take_events();
    REQUIRE(s.state() == session_state::connected);
    return s;
}

const std::string challenge_407 =
    "Digest realm=\"pbx.example.com\", nonce=\"4f1d2a\", algorithm=MD5";

}  // namespace

TEST_CASE("invite_session UAC: a 407 is answered once with Proxy-Authorization, a second one ends the call",
          "[invite_session][auth]") {
    auto cfg = config();
    cfg.credentials = auth::credentials{"auth1001", "secret"};
    auto s = ua::invite_session::outgoing("sip:1002@pbx.example.com", offer, cfg, 9, time_point{});
    const sip::message first = parse_wire(s.take_outputs().at(0).bytes);
    CHECK_FALSE(first.has(sip::header_id::proxy_authorization));

    s.on_response(reply(first, 407, "p1", {}, {{sip::header_id::proxy_authenticate, challenge_407}}), time_point{});
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == session_output_kind::request);
    const sip::message second = parse_wire(out[0].bytes);
    CHECK(second.method_name() == "INVITE");
    CHECK(std::string(second.call_id().value()) == std::string(first.call_id().value()));
    CHECK(second.from()->tag() == first.from()->tag());
    CHECK(second.cseq()->number == first.cseq()->number + 1);
    CHECK(second.top_via()->branch != first.top_via()->branch);
    const std::string creds(second.header(sip::header_id::proxy_authorization));
    CHECK(creds.find("username=\"auth1001\"") != std::string::npos);
    CHECK(creds.find("realm=\"pbx.example.com\"") != std::string::npos);
    CHECK(creds.find("uri=\"sip:1002@pbx.example.com\"") != std::string::npos);
    CHECK(second.body() == offer);
    CHECK(s.state() == session_state::calling);
    CHECK(s.take_events().empty());

    // A response to the first INVITE that comes late changes nothing.
    s.on_response(reply(first, 180, "x"), time_point{});
    CHECK(s.take_events().empty());

    s.on_response(reply(second, 407, "p2", {}, {{sip::header_id::proxy_authenticate, challenge_407}}), time_point{});
    CHECK(s.take_outputs().empty());
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::terminated);
    CHECK(ev[0].status == 407);
    CHECK(ev[0].reason.rfind("authentication failed", 0) == 0);
}

TEST_CASE("invite_session UAC: without credentials a 401 ends the call", "[invite_session][auth]") {
    auto s = ua::invite_session::outgoing("sip:1002@pbx.example.com", offer, config(), 9, time_point{});
    const sip::message first = parse_wire(s.take_outputs().at(0).bytes);
    s.on_response(reply(first, 401, "p1", {}, {{sip::header_id::www_authenticate, challenge_407}}), time_point{});
    CHECK(s.take_outputs().empty());
    CHECK(s.state() == session_state::terminated);
}

TEST_CASE("invite_session UAC: an outbound proxy gets the INVITE with a loose Route, and the CANCEL too",
          "[invite_session]") {
    auto cfg = config();
    cfg.outbound_proxy = "sip:127.0.0.1:5080;transport=tcp";
    auto s = ua::invite_session::outgoing("sip:1002@pbx.example.com", offer, cfg, 9, time_point{});
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].destination == "sip:127.0.0.1:5080;transport=tcp");
    const sip::message inv = parse_wire(out[0].bytes);
    CHECK(inv.request_uri().text == "sip:1002@pbx.example.com");
    CHECK(inv.header(sip::header_id::route) == "<sip:127.0.0.1:5080;transport=tcp;lr>");
    s.on_response(reply(inv, 180, "b1"), time_point{});
    s.cancel(time_point{});
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == session_output_kind::cancel);
    CHECK(out[0].destination == "sip:127.0.0.1:5080;transport=tcp");
    CHECK(parse_wire(out[0].bytes).header(sip::header_id::route) == "<sip:127.0.0.1:5080;transport=tcp;lr>");
}

TEST_CASE("invite_session UAC: a redirect's Contact with URI headers is followed without them (RFC 3261 §19.1.5)",
          "[invite_session]") {
    auto s = ua::invite_session::outgoing("sip:sales@example.com", offer, config(), 9, time_point{});
    const sip::message inv = parse_wire(s.take_outputs().at(0).bytes);
    s.on_response(reply(inv, 302, "r", {}, {{sip::header_id::contact, "<sip:desk1@198.51.100.9?Replaces=abc%40host>"}}),
                  time_point{});
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    const sip::message next = parse_wire(out[0].bytes);
    CHECK(next.request_uri().text == "sip:desk1@198.51.100.9");
    CHECK(sip::validate(next).accepted());  // a fuzzer found the 400 case
}

TEST_CASE("invite_session UAC: a 302 is followed to its Contact, up to the redirect limit", "[invite_session]") {
    auto cfg = config();
    cfg.max_redirects = 2;
    auto s = ua::invite_session::outgoing("sip:sales@example.com", offer, cfg, 9, time_point{});
    sip::message inv = parse_wire(s.take_outputs().at(0).bytes);
    for (int hop = 1; hop <= 2; ++hop) {
        const std::string where = "sip:desk" + std::to_string(hop) + "@198.51.100.9:5062";
        s.on_response(reply(inv, 302, "r", {}, {{sip::header_id::contact, "<" + where + ">"}}), time_point{});
        auto out = s.take_outputs();
        REQUIRE(out.size() == 1);
        CHECK(out[0].destination == where);
        const sip::message next = parse_wire(out[0].bytes);
        CHECK(next.request_uri().text == where);
        CHECK(next.to()->address.text == "sip:sales@example.com");  // To stays (RFC 3261 §8.1.3.4)
        CHECK(next.cseq()->number == inv.cseq()->number + 1);
        inv = next;
    }
    s.on_response(reply(inv, 302, "r", {}, {{sip::header_id::contact, "<sip:desk3@198.51.100.9>"}}), time_point{});
    CHECK(s.take_outputs().empty());
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].status == 302);
    CHECK(s.state() == session_state::terminated);
}

TEST_CASE("invite_session UAC: a redirect's Contacts are tried by q; a 4xx/5xx moves on, a 6xx ends", "[invite_session]") {
    auto cfg = config();
    cfg.max_redirects = 5;
    auto s = ua::invite_session::outgoing("sip:sales@example.com", offer, cfg, 9, time_point{});
    sip::message inv = parse_wire(s.take_outputs().at(0).bytes);
    // Order in the response: q=0.2, none (1.0), q=0.7, a tel: URI (not ours to call), q=0.7 again.
    s.on_response(reply(inv, 302, "r", {},
                        {{sip::header_id::contact, "<sip:low@198.51.100.9>;q=0.2, <sip:plain@198.51.100.9>"},
                         {sip::header_id::contact, "<sip:mid1@198.51.100.9>;q=0.7, <tel:+15551234>;q=1, <sip:mid2@198.51.100.9>;q=0.7"}}),
                  time_point{});
    std::vector<std::string> tried;
    for (int status : {486, 503, 404, 480}) {
        auto out = s.take_outputs();
        REQUIRE(out.size() == 1);
        inv = parse_wire(out[0].bytes);
        tried.emplace_back(inv.request_uri().text);
        s.on_response(reply(inv, status, "t"), time_point{});
    }
    CHECK(tried == std::vector<std::string>{"sip:plain@198.51.100.9", "sip:mid1@198.51.100.9", "sip:mid2@198.51.100.9",
                                            "sip:low@198.51.100.9"});
    // All of them failed: the call ends with the last answer.
    CHECK(s.take_outputs().empty());
    auto ev = s.take_events();
    REQUIRE_FALSE(ev.empty());
    CHECK(ev.back().status == 480);
    CHECK(s.state() == session_state::terminated);

    // A 6xx is a global refusal: no other Contact is tried.
    auto g = ua::invite_session::outgoing("sip:sales@example.com", offer, cfg, 9, time_point{});
    inv = parse_wire(g.take_outputs().at(0).bytes);
    g.on_response(reply(inv, 302, "r", {}, {{sip::header_id::contact, "<sip:a@198.51.100.9>, <sip:b@198.51.100.9>"}}),
                  time_point{});
    inv = parse_wire(g.take_outputs().at(0).bytes);
    CHECK(inv.request_uri().text == "sip:a@198.51.100.9");
    g.on_response(reply(inv, 603, "t"), time_point{});
    CHECK(g.take_outputs().empty());
    CHECK(g.state() == session_state::terminated);
}

TEST_CASE("invite_session UAC: re-offer by UPDATE (RFC 3311): answered in its 2xx with no ACK, 488 and 405 handled",
          "[invite_session][reoffer]") {
    const time_point t0{};
    auto s = connected_call({{sip::header_id::allow, "INVITE, ACK, BYE, CANCEL, UPDATE"}});
    s.reoffer(hold_offer, t0 + 1s, true);
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    const sip::message upd = parse_wire(out[0].bytes);
    CHECK(upd.method_name() == "UPDATE");
    CHECK(upd.body() == hold_offer);
    CHECK(upd.content_type()->matches("application", "sdp"));

    // A second offer while the UPDATE's is open waits for it.
    s.reoffer(offer, t0 + 1100ms, true);
    CHECK(s.take_outputs().empty());
    const std::string held_answer = answer + "a=recvonly\r\n";
    s.on_dialog_response(&static_cast<const sip::message&>(reply(upd, 200, "b1", held_answer)), t0 + 1200ms, out[0].cseq);
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::answer);
    CHECK(ev[0].sdp == held_answer);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);  // no ACK for an UPDATE: only the queued offer
    const sip::message second = parse_wire(out[0].bytes);
    CHECK(second.method_name() == "UPDATE");
    CHECK(second.body() == offer);

    // Refused: the offer is rejected, the call stays.
    s.on_dialog_response(&static_cast<const sip::message&>(reply(second, 488, "b1")), t0 + 2s, out[0].cseq);
    ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::offer_rejected);
    CHECK(ev[0].status == 488);
    CHECK(s.state() == session_state::connected);

    // A peer that turns out not to take UPDATE (405): the same offer by re-INVITE at once.
    s.reoffer(hold_offer, t0 + 3s, true);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    const sip::message third = parse_wire(out[0].bytes);
    CHECK(third.method_name() == "UPDATE");
    s.on_dialog_response(&static_cast<const sip::message&>(reply(third, 405, "b1")), t0 + 3100ms, out[0].cseq);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    const sip::message reinvite = parse_wire(out[0].bytes);
    CHECK(reinvite.method_name() == "INVITE");
    CHECK(reinvite.body() == hold_offer);
    CHECK(s.take_events().empty());
    // ...and later offers go by re-INVITE straight away.
    s.on_dialog_response(&static_cast<const sip::message&>(reply(reinvite, 200, "b1", held_answer)), t0 + 3200ms, out[0].cseq);
    s.take_outputs();
    s.take_events();
    s.reoffer(offer, t0 + 4s, true);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(parse_wire(out[0].bytes).method_name() == "INVITE");
}

TEST_CASE("invite_session UAC: without UPDATE in the peer's Allow a re-offer by UPDATE is a re-INVITE", "[invite_session][reoffer]") {
    auto s = connected_call({{sip::header_id::allow, "INVITE, ACK, BYE, CANCEL"}});
    s.reoffer(hold_offer, time_point{} + 1s, true);
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(parse_wire(out[0].bytes).method_name() == "INVITE");
}

TEST_CASE("invite_session UAC: re-offer (hold) by re-INVITE, its 2xx ACKed with its CSeq, a 488 keeps the call",
          "[invite_session][reoffer]") {
    const time_point t0{};
    auto s = connected_call();
    s.reoffer(hold_offer, t0 + 1s);
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == session_output_kind::request);
    CHECK(out[0].destination == "sip:bob@203.0.113.5:5060");
    const sip::message re = parse_wire(out[0].bytes);
    CHECK(re.method_name() == "INVITE");
    CHECK(re.to()->tag() == "b1");
    CHECK(re.body() == hold_offer);
    CHECK(re.cseq()->number == out[0].cseq);

    // A second re-offer while the first is open waits for it.
    s.reoffer(offer, t0 + 1100ms);
    CHECK(s.take_outputs().empty());

    const std::string held_answer = answer + "a=recvonly\r\n";
    s.on_dialog_response(&static_cast<const sip::message&>(reply(re, 200, "b1", held_answer)), t0 + 1200ms, out[0].cseq);
    out = s.take_outputs();
    REQUIRE(out.size() == 2);
    CHECK(out[0].kind == session_output_kind::send_ack);
    const sip::message ack = parse_wire(out[0].bytes);
    CHECK(ack.cseq()->number == re.cseq()->number);
    CHECK(ack.cseq()->method == "ACK");
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::answer);
    CHECK(ev[0].sdp == held_answer);
    // ...and the queued one goes now.
    const sip::message unhold = parse_wire(out[1].bytes);
    CHECK(unhold.method_name() == "INVITE");
    CHECK(unhold.body() == offer);
    CHECK(unhold.cseq()->number == re.cseq()->number + 1);

    const sip::message refused = reply(unhold, 488, "b1");
    s.on_dialog_response(&refused, t0 + 2s, out[1].cseq);
    CHECK(s.take_outputs().empty());  // the transaction ACKs a non-2xx
    ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::offer_rejected);
    CHECK(ev[0].status == 488);
    CHECK(s.state() == session_state::connected);
}

TEST_CASE("invite_session: glare (491) retries the re-offer after the RFC 3261 §14.1 delay; 481 ends the call",
          "[invite_session][reoffer]") {
    const time_point t0{};
    auto s = connected_call();
    s.reoffer(hold_offer, t0);
    auto out = s.take_outputs();
    const sip::message re = parse_wire(out.at(0).bytes);
    const sip::message glare = reply(re, 491, "b1");
    s.on_dialog_response(&glare, t0, out[0].cseq);
    CHECK(s.take_outputs().empty());
    REQUIRE(s.next_deadline());
    // We placed the call, so we own the Call-ID: 2.1 to 4 s.
    CHECK(*s.next_deadline() >= t0 + 2100ms);
    CHECK(*s.next_deadline() <= t0 + 4000ms);
    s.on_time(*s.next_deadline());
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    const sip::message again = parse_wire(out[0].bytes);
    CHECK(again.method_name() == "INVITE");
    CHECK(again.body() == hold_offer);

    const sip::message gone = reply(again, 481, "b1");
    s.on_dialog_response(&gone, t0 + 5s, out[0].cseq);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    const sip::message bye = parse_wire(out[0].bytes);
    CHECK(bye.method_name() == "BYE");
    CHECK(s.state() == session_state::terminating);
    s.on_dialog_response(&static_cast<const sip::message&>(reply(bye, 481, "b1")), t0 + 5s, out[0].cseq);
    auto ev = s.take_events();
    REQUIRE_FALSE(ev.empty());
    CHECK(ev.back().kind == session_event_kind::terminated);
    CHECK(ev.back().status == 481);
}

TEST_CASE("invite_session: a re-INVITE without offer takes our offer in the 200 and its answer from the ACK",
          "[invite_session][reoffer]") {
    const time_point t0{};
    auto s = connected_call();
    s.on_request(from_callee(s, "INVITE", 1), "re", t0 + 1s);
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::offer);
    CHECK(ev[0].sdp.empty());
    s.answer(offer, t0 + 1s);
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].status == 200);
    CHECK(parse_wire(out[0].bytes).body() == offer);
    s.on_ack(from_callee(s, "ACK", 1, {}, answer), t0 + 1100ms);
    ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::answer);
    CHECK(ev[0].sdp == answer);
}

TEST_CASE("invite_session: UPDATE with an offer is answered in its 200; INFO carries DTMF", "[invite_session]") {
    const time_point t0{};
    auto s = connected_call();
    s.on_request(from_callee(s, "UPDATE", 1, {}, hold_offer), "upd", t0 + 1s);
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::offer);
    CHECK(ev[0].sdp == hold_offer);
    // Another offer meanwhile: 491 (RFC 3311 §5.2).
    s.on_request(from_callee(s, "INVITE", 2, {}, offer), "re", t0 + 1s);
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].status == 491);
    s.answer(answer, t0 + 1s);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].key == "upd");
    CHECK(out[0].status == 200);
    const sip::message ok = parse_wire(out[0].bytes);
    CHECK(ok.cseq()->method == "UPDATE");
    CHECK(ok.body() == answer);
    CHECK(ok.has(sip::header_id::contact));

    s.on_request(from_callee(s, "INFO", 3, {}, "Signal=5\r\nDuration=160\r\n", "application/dtmf-relay"), "i1", t0 + 2s);
    s.on_request(from_callee(s, "INFO", 4, {}, "#", "application/dtmf"), "i2", t0 + 2s);
    s.on_request(from_callee(s, "INFO", 5, {}, "Signal=11\r\n", "application/dtmf-relay"), "i3", t0 + 2s);
    s.on_request(from_callee(s, "INFO", 6, {}, "Signal=x\r\n", "application/dtmf-relay"), "i4", t0 + 2s);
    out = s.take_outputs();
    REQUIRE(out.size() == 4);
    for (const auto& o : out) CHECK(o.status == 200);
    ev = s.take_events();
    REQUIRE(ev.size() == 3);
    CHECK(ev[0].kind == session_event_kind::dtmf);
    CHECK(ev[0].digit == '5');
    CHECK(ev[0].duration_ms == 160);
    CHECK(ev[1].digit == '#');
    CHECK(ev[2].digit == '#');
}

TEST_CASE("session timers (RFC 4028) as UAC and refresher: UPDATE at half the interval", "[invite_session][timer]") {
    const time_point t0{};
    auto s = ua::invite_session::outgoing("sip:bob@example.com", offer, config(1800), 9, t0);
    const sip::message inv = parse_wire(s.take_outputs().at(0).bytes);
    CHECK(inv.header(sip::header_id::session_expires) == "1800;refresher=uac");
    CHECK(inv.header(sip::header_id::min_se) == "90");
    CHECK(inv.header(sip::header_id::supported) == "100rel, timer");

    s.on_response(reply(inv, 200, "b1", answer,
                        {{sip::header_id::session_expires, "120;refresher=uac"},
                         {sip::header_id::require, "timer"},
                         {sip::header_id::allow, "INVITE, ACK, BYE, CANCEL, UPDATE"}}),
                  t0);
    s.take_outputs();
    s.take_events();
    CHECK(s.session_interval() == 120);
    CHECK(s.refresher());
    REQUIRE(s.next_deadline() == t0 + 60s);
    s.on_time(t0 + 60s);
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    const sip::message update = parse_wire(out[0].bytes);
    CHECK(update.method_name() == "UPDATE");
    CHECK(update.body().empty());
    CHECK(update.header(sip::header_id::session_expires) == "120;refresher=uac");
    const sip::message ok = reply(update, 200, "b1", {}, {{sip::header_id::session_expires, "120;refresher=uac"}});
    s.on_dialog_response(&ok, t0 + 60s, out[0].cseq);
    CHECK(s.next_deadline() == t0 + 120s);
    CHECK(s.take_events().empty());
}

TEST_CASE("session timers: without UPDATE in Allow the refresh is a re-INVITE with the same SDP, its answer not "
          "handed up", "[invite_session][timer]") {
    const time_point t0{};
    auto s = connected_call({{sip::header_id::session_expires, "100;refresher=uac"}, {sip::header_id::allow, "INVITE, ACK, BYE"}},
                            1800, t0);
    REQUIRE(s.next_deadline() == t0 + 50s);
    s.on_time(t0 + 50s);
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    const sip::message re = parse_wire(out[0].bytes);
    CHECK(re.method_name() == "INVITE");
    CHECK(re.body() == offer);
    s.on_dialog_response(&static_cast<const sip::message&>(reply(re, 200, "b1", answer,
                                                                  {{sip::header_id::session_expires, "100;refresher=uac"}})),
                         t0 + 50s, out[0].cseq);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == session_output_kind::send_ack);
    CHECK(s.take_events().empty());
    CHECK(s.next_deadline() == t0 + 100s);
}

TEST_CASE("session timers: when the peer refreshes and does not, we end the call with a BYE", "[invite_session][timer]") {
    const time_point t0{};
    auto s = connected_call({{sip::header_id::session_expires, "90;refresher=uas"}}, 1800, t0);
    CHECK_FALSE(s.refresher());
    // RFC 4028 §10: interval - min(32, interval/3) = 90 - 30.
    REQUIRE(s.next_deadline() == t0 + 60s);
    // A refresh from the peer moves the deadline.
    s.on_request(from_callee(s, "UPDATE", 1, {{sip::header_id::session_expires, "90;refresher=uac"}}),
                 "u", t0 + 40s);
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].status == 200);
    CHECK(parse_wire(out[0].bytes).header(sip::header_id::session_expires) == "90;refresher=uac");
    REQUIRE(s.next_deadline() == t0 + 100s);
    s.on_time(t0 + 100s);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    const sip::message bye = parse_wire(out[0].bytes);
    CHECK(bye.method_name() == "BYE");
    CHECK(s.take_events().empty());  // over when the BYE is answered
    s.on_dialog_response(&static_cast<const sip::message&>(reply(bye, 200, "b1")), t0 + 100s, out[0].cseq);
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::terminated);
    CHECK(ev[0].reason.find("session timer expired") != std::string::npos);
}

TEST_CASE("session timers as UAS: too short gets 422 with Min-SE; otherwise the 200 names the refresher",
          "[invite_session][timer]") {
    auto inv = [](const std::string& se, bool supports) {
        headers extra;
        if (supports) extra.emplace_back(sip::header_id::supported, "timer");
        if (!se.empty()) extra.emplace_back(sip::header_id::session_expires, se);
        return test::uas::invite_from_alice(offer, extra);
    };
    {
        auto s = ua::invite_session::incoming(inv("30", true), "k", config(1800), 7);
        auto out = s.take_outputs();
        REQUIRE(out.size() == 1);
        CHECK(out[0].status == 422);
        CHECK(parse_wire(out[0].bytes).header(sip::header_id::min_se) == "90");
        CHECK(s.state() == session_state::terminated);
    }
    {
        auto s = ua::invite_session::incoming(inv("600;refresher=uac", true), "k", config(1800), 7);
        s.accept(answer, time_point{});
        const sip::message ok = parse_wire(s.take_outputs().at(0).bytes);
        CHECK(ok.header(sip::header_id::session_expires) == "600;refresher=uac");
        CHECK(ok.header(sip::header_id::require) == "timer");
        CHECK_FALSE(s.refresher());
    }
    {
        // The caller does not support timers (a proxy put Session-Expires in): we refresh.
        auto s = ua::invite_session::incoming(inv("3600", false), "k", config(1800), 7);
        s.accept(answer, time_point{});
        const sip::message ok = parse_wire(s.take_outputs().at(0).bytes);
        CHECK(ok.header(sip::header_id::session_expires) == "1800;refresher=uas");
        CHECK_FALSE(ok.has(sip::header_id::require));
        CHECK(s.refresher());
    }
    {
        // Session timers off: a too-short interval is ignored rather than refused.
        auto s = ua::invite_session::incoming(inv("30", true), "k", config(0), 7);
        CHECK(s.take_outputs().empty());
        s.accept(answer, time_point{});
        CHECK_FALSE(parse_wire(s.take_outputs().at(0).bytes).has(sip::header_id::session_expires));
        CHECK(s.session_interval() == 0);
    }
}

TEST_CASE("invite_session: a re-offer we cannot take is refused with 488 and the call goes on", "[invite_session][reoffer]") {
    const time_point t0{};
    auto s = connected_call();
    s.on_request(from_callee(s, "INVITE", 1, {}, offer), "re", t0);
    s.take_events();
    s.reject(488, t0);
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].key == "re");
    CHECK(out[0].status == 488);
    CHECK(s.state() == session_state::connected);
    // The next offer is taken again.
    s.on_request(from_callee(s, "UPDATE", 2, {}, offer), "up", t0);
    CHECK(s.take_events().size() == 1);
    s.reject(488, t0);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].key == "up");
    CHECK(out[0].status == 488);
    CHECK(s.state() == session_state::connected);
}

TEST_CASE("invite_session: DTMF sent as INFO application/dtmf-relay, only in a confirmed call", "[invite_session]") {
    const time_point t0{};
    auto early = ua::invite_session::outgoing("sip:bob@example.com", offer, config(), 9, t0);
    early.take_outputs();
    CHECK_FALSE(early.send_dtmf_info('5', 160, t0));
    CHECK(early.take_outputs().empty());

    auto s = connected_call();
    CHECK_FALSE(s.send_dtmf_info('x', 160, t0));
    REQUIRE(s.send_dtmf_info('#', 250, t0));
    auto out = s.take_outputs();
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == session_output_kind::request);
    const sip::message info = parse_wire(out[0].bytes);
    CHECK(info.method_name() == "INFO");
    CHECK(info.to()->tag() == "b1");
    CHECK(info.content_type()->matches("application", "dtmf-relay"));
    CHECK(info.body() == "Signal=#\r\nDuration=250\r\n");
    // The session's own INFO parser reads it back.
    auto peer = connected_call();
    peer.on_request(from_callee(peer, "INFO", 7, {}, std::string(info.body()), "application/dtmf-relay"), "k", t0);
    auto ev = peer.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].digit == '#');
    CHECK(ev[0].duration_ms == 250);
    // Its 200 changes nothing.
    const sip::message ok = reply(info, 200, "b1");
    s.on_dialog_response(&ok, t0, out[0].cseq);
    CHECK(s.take_outputs().empty());
    CHECK(s.state() == session_state::connected);
}

TEST_CASE("invite_session: a re-INVITE and a BYE in the dialog challenged with 401 are sent again once with credentials",
          "[invite_session][auth]") {
    const time_point t0{};
    auto cfg = config();
    cfg.credentials = auth::credentials{"auth1001", "secret"};
    auto s = ua::invite_session::outgoing("sip:bob@example.com", offer, cfg, 9, t0);
    const sip::message inv = parse_wire(s.take_outputs().at(0).bytes);
    s.on_response(reply(inv, 200, "b1", answer), t0);
    s.take_outputs();
    s.take_events();

    s.reoffer(hold_offer, t0);
    auto out = s.take_outputs();
    const sip::message re = parse_wire(out.at(0).bytes);
    const sip::message challenge =
        reply(re, 401, "b1", {}, {{sip::header_id::www_authenticate, "Digest realm=\"bob\", nonce=\"n2\""}});
    s.on_dialog_response(&challenge, t0, out[0].cseq);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    const sip::message again = parse_wire(out[0].bytes);
    CHECK(again.method_name() == "INVITE");
    CHECK(again.cseq()->number == re.cseq()->number + 1);
    CHECK(again.body() == hold_offer);
    const std::string creds(again.header(sip::header_id::authorization));
    CHECK(creds.find("username=\"auth1001\"") != std::string::npos);
    CHECK(creds.find("uri=\"sip:bob@203.0.113.5:5060\"") != std::string::npos);
    // A second challenge is final: the re-offer is rejected, the call goes on.
    const sip::message twice =
        reply(again, 401, "b1", {}, {{sip::header_id::www_authenticate, "Digest realm=\"bob\", nonce=\"n3\""}});
    s.on_dialog_response(&twice, t0, out[0].cseq);
    CHECK(s.take_outputs().empty());
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::offer_rejected);
    CHECK(ev[0].status == 401);
    CHECK(s.state() == session_state::connected);

    s.hangup(t0);
    out = s.take_outputs();
    const sip::message bye = parse_wire(out.at(0).bytes);
    const sip::message bye_challenge =
        reply(bye, 407, "b1", {}, {{sip::header_id::proxy_authenticate, "Digest realm=\"px\", nonce=\"n4\""}});
    s.on_dialog_response(&bye_challenge, t0, out[0].cseq);
    out = s.take_outputs();
    REQUIRE(out.size() == 1);
    const sip::message bye2 = parse_wire(out[0].bytes);
    CHECK(bye2.method_name() == "BYE");
    CHECK(bye2.has(sip::header_id::proxy_authorization));
    CHECK(s.state() == session_state::terminating);
    const sip::message bye_ok = reply(bye2, 200, "b1");
    s.on_dialog_response(&bye_ok, t0, out[0].cseq);
    ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::terminated);
    CHECK(ev[0].reason == "local hangup");
}

TEST_CASE("invite_session UAC: headers in the target URI go into the INVITE, not its Request-URI (RFC 3261 §19.1.5)",
          "[invite_session][replaces]") {
    auto s = ua::invite_session::outgoing(
        "sip:bob@example.com;transport=tcp?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2&Subject=hi%20there"
        "&Call-ID=evil&Priority=urgent%0D%0AX-Injected:%201",
        offer, config(), 9, time_point{});
    const sip::message inv = parse_wire(s.take_outputs().at(0).bytes);
    CHECK(inv.request_uri().text == "sip:bob@example.com;transport=tcp");
    CHECK(inv.header(sip::header_id::to) == "<sip:bob@example.com;transport=tcp>");
    CHECK(inv.header(sip::header_id::replaces) == "abc@h;to-tag=1;from-tag=2");
    CHECK(inv.header("Subject") == "hi there");
    CHECK(inv.header(sip::header_id::call_id) != "evil");  // never taken from a URI
    CHECK_FALSE(inv.has(sip::header_id::priority));       // a line break in it: dropped
    CHECK(inv.header("X-Injected").empty());
}
