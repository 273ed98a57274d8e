// Invite sessions, blind transfer: REFER (RFC 3515) and the NOTIFYs of its implicit subscription with
// message/sipfrag bodies (RFC 3420), as transferor and as transferee. The test plays the peer.
#include <catch2/catch.hpp>

#include "parse_helper.hpp"
#include "sipvoice/sip/builder.hpp"
#include "sipvoice/sip/validate.hpp"
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


// The peer's response to `request`; a 2xx to an INVITE carries his answer.
sip::message reply(const sip::message& request, int status, const headers& extra = {}) {
    const bool answers = status >= 200 && status < 300 && request.method_name() == "INVITE";
    return test::uac::reply(request, status, "b1", answers ? answer : std::string(), extra);
}

// A NOTIFY of the peer reporting on our REFER with `sipfrag` as body.
sip::message notify(const ua::invite_session& s, int cseq, const std::string& sipfrag, const std::string& state,
                    const std::string& event = "refer") {
    headers h{{sip::header_id::subscription_state, state}};
    if (!event.empty()) h.emplace_back(sip::header_id::event, event);
    return from_callee(s, "NOTIFY", cseq, h, sipfrag, "message/sipfrag");
}

// A UAC call to bob through a record-routing proxy, confirmed; outputs and events so far drained.
ua::invite_session connected_call(ua::session_config cfg = config()) {
    const time_point t0{};
    auto s = ua::invite_session::outgoing("sip:bob@example.com", offer, std::move(cfg), 9, t0);
    const sip::message inv = parse_wire(s.take_outputs().at(0).bytes);
    s.on_response(reply(inv, 200, {{sip::header_id::record_route, "<sip:proxy.example.com;lr>"}}), t0);
    s.take_outputs();
    s.take_events();
    REQUIRE(s.state() == session_state::connected);
    return s;
}

// The only output, a request: parsed.
sip::message only_request(ua::invite_session& s, ua::session_output* out = nullptr) {
    auto outs = s.take_outputs();
    REQUIRE(outs.size() == 1);
    REQUIRE(outs[0].kind == session_output_kind::request);
    if (out) *out = outs[0];
    return parse_wire(outs[0].bytes);
}

// The only output, a response to server transaction `key`: its status.
int only_response(ua::invite_session& s, const std::string& key) {
    auto outs = s.take_outputs();
    REQUIRE(outs.size() == 1);
    REQUIRE(outs[0].kind == session_output_kind::respond);
    CHECK(outs[0].key == key);
    CHECK(parse_wire(outs[0].bytes).status() == outs[0].status);
    return outs[0].status;
}

// A REFER of ours, sent and accepted with 202; returns its CSeq.
std::uint32_t refer_accepted(ua::invite_session& s, time_point at) {
    REQUIRE(s.refer("sip:1003@pbx.example.com", at));
    ua::session_output out;
    const sip::message refer = only_request(s, &out);
    const sip::message accepted = reply(refer, 202);
    s.on_dialog_response(&accepted, at, out.cseq);
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::refer_accepted);
    CHECK(ev[0].status == 202);
    return out.cseq;
}

// The peer REFERs us (CSeq 30, to sip:a@example.com) at `at`: 202, and our NOTIFY 100 is answered
// 200, so the subscription is open with no NOTIFY outstanding.
void refer_answered(ua::invite_session& s, time_point at) {
    s.on_request(from_callee(s, "REFER", 30, {{sip::header_id::refer_to, "<sip:a@example.com>"}}), "k", at);
    auto outs = s.take_outputs();
    REQUIRE(outs.size() == 2);
    const sip::message trying_ok = reply(parse_wire(outs[1].bytes), 200);
    s.on_dialog_response(&trying_ok, at, outs[1].cseq);
    s.take_events();
}

}  // namespace

TEST_CASE("invite_session REFER: built in the dialog with Refer-To and Referred-By, routed like every request",
          "[invite_session][refer]") {
    const time_point t0{};
    auto s = connected_call();
    REQUIRE(s.refer("sip:1003@pbx.example.com", t0));
    ua::session_output out;
    const sip::message refer = only_request(s, &out);
    CHECK(refer.method_name() == "REFER");
    CHECK(refer.request_uri().text == "sip:bob@203.0.113.5:5060");  // the remote target (the 200's Contact)
    CHECK(refer.header(sip::header_id::refer_to) == "<sip:1003@pbx.example.com>");
    CHECK(refer.header(sip::header_id::referred_by) == "<sip:1001@pbx.example.com>");
    CHECK(refer.cseq()->method == "REFER");
    CHECK(refer.cseq()->number == 2);  // the INVITE had 1
    CHECK(out.cseq == 2);
    CHECK(refer.from()->tag() == s.current_dialog()->id().local_tag);
    CHECK(refer.to()->tag() == "b1");
    CHECK(refer.call_id().value() == s.call_id());
    CHECK(refer.header(sip::header_id::route) == "<sip:proxy.example.com;lr>");
    CHECK(out.destination == "sip:proxy.example.com;lr");
    CHECK(refer.header(sip::header_id::contact) == "<sip:1001@192.0.2.10:5060>");
    CHECK(sip::validate(refer).accepted());
    CHECK(s.take_events().empty());

    // One at a time.
    CHECK_FALSE(s.refer("sip:1004@pbx.example.com", t0));
    CHECK(s.take_outputs().empty());
}

TEST_CASE("invite_session REFER: the target may come in angle brackets, what is not one URI is refused",
          "[invite_session][refer]") {
    const time_point t0{};
    auto s = connected_call();
    CHECK_FALSE(s.refer("", t0));
    CHECK_FALSE(s.refer("not a uri", t0));
    CHECK_FALSE(s.refer("sip:1003@pbx.example.com>\r\nX-Evil: 1", t0));
    CHECK_FALSE(s.refer("<sip:a@b>, <sip:c@d>", t0));
    CHECK(s.take_outputs().empty());
    REQUIRE(s.refer("<sip:1003@pbx.example.com;transport=tcp>", t0));
    const sip::message refer = only_request(s);
    CHECK(refer.header(sip::header_id::refer_to) == "<sip:1003@pbx.example.com;transport=tcp>");
}

TEST_CASE("invite_session REFER: only in a confirmed call", "[invite_session][refer]") {
    const time_point t0{};
    auto calling = ua::invite_session::outgoing("sip:bob@example.com", offer, config(), 9, t0);
    calling.take_outputs();
    CHECK_FALSE(calling.refer("sip:1003@pbx.example.com", t0));
    CHECK(calling.take_outputs().empty());

    auto s = connected_call();
    s.hangup(t0);
    s.take_outputs();
    CHECK(s.state() == session_state::terminating);
    CHECK_FALSE(s.refer("sip:1003@pbx.example.com", t0));
    CHECK(s.take_outputs().empty());
}

TEST_CASE("invite_session REFER: 202, then NOTIFYs 100, 180, 200 answered 200 and reported, final only on 200",
          "[invite_session][refer]") {
    const time_point t0{};
    auto s = connected_call();
    const std::uint32_t cseq = refer_accepted(s, t0);

    struct step {
        std::string sipfrag;
        std::string state;
        int status;
        bool final;
    };
    const std::vector<step> steps = {
        {"SIP/2.0 100 Trying\r\n", "active;expires=60", 100, false},
        {"SIP/2.0 180 Ringing\r\n", "active;expires=58", 180, false},
        {"SIP/2.0 200 OK\r\n", "terminated;reason=noresource", 200, true},
    };
    int peer_cseq = 20;
    for (const step& st : steps) {
        INFO(st.sipfrag);
        const std::string key = "notify-" + std::to_string(peer_cseq);
        s.on_request(notify(s, peer_cseq++, st.sipfrag, st.state, "refer;id=" + std::to_string(cseq)), key, t0 + 1s);
        CHECK(only_response(s, key) == 200);
        auto ev = s.take_events();
        REQUIRE(ev.size() == 1);
        CHECK(ev[0].kind == session_event_kind::refer_progress);
        CHECK(ev[0].status == st.status);
        CHECK(ev[0].final == st.final);
    }
    CHECK(s.state() == session_state::connected);  // the transfer does not end the call by itself
    // The subscription is over: a late NOTIFY is not ours, and a new transfer may start.
    s.on_request(notify(s, peer_cseq++, "SIP/2.0 200 OK\r\n", "terminated"), "late", t0 + 2s);
    CHECK(only_response(s, "late") == 481);
    CHECK(s.take_events().empty());
    CHECK(s.refer("sip:1004@pbx.example.com", t0 + 3s));
}

TEST_CASE("invite_session REFER: a NOTIFY with a failure status is refer_failed", "[invite_session][refer]") {
    const time_point t0{};
    auto s = connected_call();
    refer_accepted(s, t0);
    s.on_request(notify(s, 20, "SIP/2.0 100 Trying\r\n", "active;expires=60"), "n1", t0);
    CHECK(only_response(s, "n1") == 200);
    s.take_events();
    s.on_request(notify(s, 21, "SIP/2.0 486 Busy Here\r\nTo: <sip:1003@pbx.example.com>;tag=x\r\n",
                        "terminated;reason=noresource"),
                 "n2", t0 + 1s);
    CHECK(only_response(s, "n2") == 200);
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::refer_failed);
    CHECK(ev[0].status == 486);
    CHECK(ev[0].final);
    CHECK(s.state() == session_state::connected);
    CHECK(s.refer("sip:1004@pbx.example.com", t0 + 2s));  // the first transfer is over
}

TEST_CASE("invite_session REFER: refused with 403, 405 or 501, the call goes on", "[invite_session][refer]") {
    for (int status : {403, 405, 501}) {
        INFO(status);
        const time_point t0{};
        auto s = connected_call();
        REQUIRE(s.refer("sip:1003@pbx.example.com", t0));
        ua::session_output out;
        const sip::message refer = only_request(s, &out);
        const sip::message refused = reply(refer, status);
        s.on_dialog_response(&refused, t0, out.cseq);
        auto ev = s.take_events();
        REQUIRE(ev.size() == 1);
        CHECK(ev[0].kind == session_event_kind::refer_failed);
        CHECK(ev[0].status == status);
        CHECK(ev[0].final);
        CHECK(s.take_outputs().empty());
        CHECK(s.state() == session_state::connected);
        CHECK(s.refer("sip:1004@pbx.example.com", t0));
    }
}

TEST_CASE("invite_session REFER: no answer is refer_failed 408, and ends the call (RFC 3261 §12.2.1.2)",
          "[invite_session][refer]") {
    const time_point t0{};
    auto s = connected_call();
    REQUIRE(s.refer("sip:1003@pbx.example.com", t0));
    ua::session_output out;
    only_request(s, &out);
    s.on_dialog_response(nullptr, t0 + 32s, out.cseq);
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::refer_failed);
    CHECK(ev[0].status == 408);
    const sip::message bye = only_request(s);
    CHECK(bye.method_name() == "BYE");
    CHECK(s.state() == session_state::terminating);
}

TEST_CASE("invite_session REFER: a 401 is answered once with credentials, Refer-To kept", "[invite_session][refer][auth]") {
    const time_point t0{};
    auto cfg = config();
    cfg.credentials = auth::credentials{"auth1001", "secret"};
    auto s = connected_call(cfg);
    REQUIRE(s.refer("sip:1003@pbx.example.com", t0));
    ua::session_output out;
    const sip::message refer = only_request(s, &out);
    const sip::message challenge = reply(refer, 401, {{sip::header_id::www_authenticate, R"(Digest realm="pbx", nonce="n1")"}});
    s.on_dialog_response(&challenge, t0, out.cseq);
    CHECK(s.take_events().empty());
    ua::session_output again_out;
    const sip::message again = only_request(s, &again_out);
    CHECK(again.method_name() == "REFER");
    CHECK(again.cseq()->number == refer.cseq()->number + 1);
    CHECK(again.header(sip::header_id::refer_to) == "<sip:1003@pbx.example.com>");
    CHECK(again.header(sip::header_id::referred_by) == "<sip:1001@pbx.example.com>");
    CHECK(std::string(again.header(sip::header_id::authorization)).find("username=\"auth1001\"") != std::string::npos);
    // The NOTIFYs name the REFER that was accepted.
    const sip::message accepted = reply(again, 202);
    s.on_dialog_response(&accepted, t0, again_out.cseq);
    REQUIRE(s.take_events().at(0).kind == session_event_kind::refer_accepted);
    s.on_request(notify(s, 20, "SIP/2.0 100 Trying\r\n", "active", "refer;id=" + std::to_string(refer.cseq()->number)),
                 "old", t0);
    CHECK(only_response(s, "old") == 481);
    s.on_request(notify(s, 21, "SIP/2.0 100 Trying\r\n", "active", "refer;id=" + std::to_string(again_out.cseq)), "new",
                 t0);
    CHECK(only_response(s, "new") == 200);
    CHECK(s.take_events().at(0).kind == session_event_kind::refer_progress);
}

TEST_CASE("invite_session REFER: a NOTIFY that overtakes the 202 is reported, the 202 after it too",
          "[invite_session][refer]") {
    const time_point t0{};
    auto s = connected_call();
    REQUIRE(s.refer("sip:1003@pbx.example.com", t0));
    ua::session_output out;
    const sip::message refer = only_request(s, &out);
    s.on_request(notify(s, 20, "SIP/2.0 100 Trying\r\n", "active;expires=60"), "n1", t0);
    CHECK(only_response(s, "n1") == 200);
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::refer_progress);
    const sip::message accepted = reply(refer, 202);
    s.on_dialog_response(&accepted, t0, out.cseq);
    ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::refer_accepted);
    // The NOTIFY's expiry (60 s), not Timer N, bounds the wait for the next one.
    s.on_time(t0 + 40s);
    CHECK(s.take_events().empty());
}

TEST_CASE("invite_session REFER: without a NOTIFY within 64*T1 of the 202, or after the last one expired, refer_failed 408",
          "[invite_session][refer]") {
    const time_point t0{};
    auto s = connected_call();
    refer_accepted(s, t0);
    REQUIRE(s.next_deadline());
    CHECK(*s.next_deadline() == t0 + 32s);
    s.on_time(t0 + 31s);
    CHECK(s.take_events().empty());
    s.on_time(t0 + 32s);
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::refer_failed);
    CHECK(ev[0].status == 408);
    CHECK(s.state() == session_state::connected);
    CHECK_FALSE(s.next_deadline());

    refer_accepted(s, t0 + 40s);
    s.on_request(notify(s, 20, "SIP/2.0 180 Ringing\r\n", "active;expires=10"), "n1", t0 + 41s);
    s.take_outputs();
    s.take_events();
    CHECK(*s.next_deadline() == t0 + 41s + 10s + 32s);
    s.on_time(*s.next_deadline());
    ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::refer_failed);
    CHECK(ev[0].status == 408);
}

TEST_CASE("invite_session REFER: a sipfrag's Status-Line is read without its line end and before any headers",
          "[invite_session][refer]") {
    const time_point t0{};
    auto s = connected_call();
    const std::uint32_t cseq = refer_accepted(s, t0);
    // RFC 3420 lets a sipfrag carry headers after the Status-Line; only the status is wanted, and a
    // header the parser would refuse does not hide it.
    const std::vector<std::pair<std::string, int>> bodies = {
        {"SIP/2.0 180 Ringing", 180},
        {"SIP/2.0 183 Session Progress\r\nContact: <sip:x@example.com>\r\n", 183},
        {"SIP/2.0 181 Forwarded\r\nnot a header line\r\n\r\n", 181},
        {"SIP/2.0 182\r\n", 182},
    };
    int peer_cseq = 30;
    for (const auto& [body, status] : bodies) {
        INFO(body);
        const std::string key = "n" + std::to_string(peer_cseq);
        s.on_request(notify(s, peer_cseq++, body, "active;expires=60", "refer;id=" + std::to_string(cseq)), key, t0 + 1s);
        CHECK(only_response(s, key) == 200);
        auto ev = s.take_events();
        REQUIRE(ev.size() == 1);
        CHECK(ev[0].kind == session_event_kind::refer_progress);
        CHECK(ev[0].status == status);
        CHECK_FALSE(ev[0].final);
    }
}

TEST_CASE("invite_session NOTIFY: a bad Event gets 489, none of ours pending 481, a garbage sipfrag 200",
          "[invite_session][refer]") {
    const time_point t0{};
    auto s = connected_call();
    // No REFER of ours: there is no subscription.
    s.on_request(notify(s, 20, "SIP/2.0 200 OK\r\n", "terminated"), "k0", t0);
    CHECK(only_response(s, "k0") == 481);

    refer_accepted(s, t0);
    s.on_request(notify(s, 21, "SIP/2.0 200 OK\r\n", "active", "presence"), "k1", t0);
    CHECK(only_response(s, "k1") == 489);
    s.on_request(notify(s, 22, "SIP/2.0 200 OK\r\n", "active", ""), "k2", t0);
    CHECK(only_response(s, "k2") == 489);
    CHECK(s.take_events().empty());

    // Bodies that are no sipfrag Status-Line: answered 200, nothing reported while the subscription lasts.
    int cseq = 23;
    for (const std::string& body : {std::string("garbage"), std::string("SIP/2.0 2x0 OK\r\n"), std::string("SIP/2.0 99 Low\r\n"),
                                    std::string("SIP/2.0 1800 Long\r\n"), std::string("HTTP/1.1 200 OK\r\n"),
                                    std::string("SIP/2.0 18"), std::string("\r\n\r\n"), std::string(1, '\0')}) {
        const std::string key = "g" + std::to_string(cseq);
        s.on_request(notify(s, cseq++, body, "active;expires=abc"), key, t0);
        CHECK(only_response(s, key) == 200);
        CHECK(s.take_events().empty());
    }
    // A sipfrag in another type of body is not read either.
    s.on_request(from_callee(s, "NOTIFY", cseq++, {{sip::header_id::event, "refer"}, {sip::header_id::subscription_state, "active"}},
                             "SIP/2.0 486 Busy Here\r\n", "text/plain"),
                 "plain", t0);
    CHECK(only_response(s, "plain") == 200);
    CHECK(s.take_events().empty());
    // The subscription's end without a status we can read: final, status 0.
    s.on_request(notify(s, cseq++, "garbage", "terminated;reason=noresource"), "end", t0);
    CHECK(only_response(s, "end") == 200);
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::refer_progress);
    CHECK(ev[0].status == 0);
    CHECK(ev[0].final);
    CHECK(s.state() == session_state::connected);
}

TEST_CASE("invite_session transferee: REFER answered 202, NOTIFY 100 at once, the target to the application, "
          "notify_refer(200) ends the subscription",
          "[invite_session][refer]") {
    const time_point t0{};
    auto s = connected_call();
    s.on_request(from_callee(s, "REFER", 30, {{sip::header_id::refer_to, "<sip:1003@pbx.example.com;user=phone>"},
                                               {sip::header_id::referred_by, "<sip:bob@example.com>"}}),
                 "refer-key", t0);
    auto outs = s.take_outputs();
    REQUIRE(outs.size() == 2);
    CHECK(outs[0].kind == session_output_kind::respond);
    CHECK(outs[0].key == "refer-key");
    CHECK(outs[0].status == 202);
    const sip::message accepted = parse_wire(outs[0].bytes);
    CHECK(accepted.status() == 202);
    CHECK(accepted.cseq()->method == "REFER");
    REQUIRE(outs[1].kind == session_output_kind::request);
    const sip::message trying = parse_wire(outs[1].bytes);
    CHECK(trying.method_name() == "NOTIFY");
    CHECK(trying.request_uri().text == "sip:bob@203.0.113.5:5060");
    CHECK(trying.header(sip::header_id::route) == "<sip:proxy.example.com;lr>");
    CHECK(trying.to()->tag() == "b1");
    CHECK(trying.header(sip::header_id::event) == "refer;id=30");
    CHECK(trying.header(sip::header_id::subscription_state) == "active;expires=60");
    CHECK(trying.content_type()->matches("message", "sipfrag"));
    CHECK(trying.body() == "SIP/2.0 100 Trying\r\n");
    CHECK(trying.has(sip::header_id::contact));
    CHECK(sip::validate(trying).accepted());
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == session_event_kind::refer_requested);
    // RFC 3892: the REFER's Referred-By rides in the target as a URI header, for the INVITE.
    CHECK(ev[0].target == "sip:1003@pbx.example.com;user=phone?Referred-By=%3Csip:bob%40example.com%3E");
    const sip::message trying_ok = reply(trying, 200);
    s.on_dialog_response(&trying_ok, t0, outs[1].cseq);
    CHECK(s.take_outputs().empty());

    // Progress 10 s later: the subscription's time left.
    s.notify_refer(180, t0 + 10s);
    const sip::message ringing = only_request(s);
    CHECK(ringing.body() == "SIP/2.0 180 Ringing\r\n");
    CHECK(ringing.header(sip::header_id::subscription_state) == "active;expires=50");
    CHECK(ringing.cseq()->number == trying.cseq()->number + 1);
    const sip::message ringing_ok = reply(ringing, 200);
    s.on_dialog_response(&ringing_ok, t0 + 10s, ringing.cseq()->number);
    CHECK(s.take_outputs().empty());

    s.notify_refer(200, t0 + 12s);
    const sip::message done = only_request(s);
    CHECK(done.method_name() == "NOTIFY");
    CHECK(done.header(sip::header_id::event) == "refer;id=30");
    CHECK(done.header(sip::header_id::subscription_state) == "terminated;reason=noresource");
    CHECK(done.body() == "SIP/2.0 200 OK\r\n");
    // Nothing is open any more.
    s.notify_refer(486, t0 + 13s);
    CHECK(s.take_outputs().empty());
    CHECK_FALSE(s.next_deadline());
    CHECK(s.state() == session_state::connected);
}

TEST_CASE("invite_session transferee: a REFER to the callee of an incoming call, and a failure reported",
          "[invite_session][refer]") {
    const time_point t0{};
    auto s = ua::invite_session::incoming(test::uas::invite_from_alice(answer), "inv", config(), 7);
    s.accept(offer, t0);
    s.take_outputs();
    const std::string tag = s.current_dialog()->id().local_tag;
    auto caller_request = [&](const std::string& method, int cseq, const headers& extra) {
        sip::message_builder b = sip::message_builder::request(method, "sip:1001@192.0.2.10:5060");
        b.add(sip::header_id::via, "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK" + method + std::to_string(cseq))
            .add(sip::header_id::from, "<sip:alice@example.com>;tag=a1")
            .add(sip::header_id::to, "<sip:1001@example.com>;tag=" + tag)
            .add(sip::header_id::call_id, "call-9")
            .add(sip::header_id::cseq, std::to_string(cseq) + " " + method)
            .add(sip::header_id::contact, "<sip:alice@198.51.100.7:5060>");
        for (const auto& [id, value] : extra) b.add(id, value);
        return parse_wire(b.str());
    };
    s.on_ack(caller_request("ACK", 10, {}), t0);
    s.take_events();
    REQUIRE(s.state() == session_state::connected);

    s.on_request(caller_request("REFER", 11, {{sip::header_id::refer_to, "sip:1003@example.com"}}), "r", t0);
    auto outs = s.take_outputs();
    REQUIRE(outs.size() == 2);
    CHECK(outs[0].status == 202);
    const sip::message trying = parse_wire(outs[1].bytes);
    CHECK(trying.request_uri().text == "sip:alice@198.51.100.7:5060");
    CHECK(trying.from()->tag() == tag);
    CHECK(trying.to()->tag() == "a1");
    CHECK(trying.header(sip::header_id::event) == "refer;id=11");
    auto ev = s.take_events();
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].target == "sip:1003@example.com");
    const sip::message trying_ok = reply(trying, 200);
    s.on_dialog_response(&trying_ok, t0, outs[1].cseq);

    s.notify_refer(486, t0 + 1s);
    const sip::message busy = only_request(s);
    CHECK(busy.body() == "SIP/2.0 486 Busy Here\r\n");
    CHECK(busy.header(sip::header_id::subscription_state) == "terminated;reason=noresource");
}

TEST_CASE("invite_session transferee: REFER without Refer-To or with two gets 400, a second one while the first is open 491",
          "[invite_session][refer]") {
    const time_point t0{};
    auto s = connected_call();
    s.on_request(from_callee(s, "REFER", 30), "none", t0);
    CHECK(only_response(s, "none") == 400);
    s.on_request(from_callee(s, "REFER", 31, {{sip::header_id::refer_to, "<sip:a@example.com>"},
                                               {sip::header_id::refer_to, "<sip:b@example.com>"}}),
                 "two", t0);
    CHECK(only_response(s, "two") == 400);
    CHECK(s.take_events().empty());

    s.on_request(from_callee(s, "REFER", 32, {{sip::header_id::refer_to, "<sip:a@example.com>"}}), "first", t0);
    CHECK(s.take_outputs().size() == 2);
    CHECK(s.take_events().size() == 1);
    s.on_request(from_callee(s, "REFER", 33, {{sip::header_id::refer_to, "<sip:b@example.com>"}}), "second", t0);
    CHECK(only_response(s, "second") == 491);
    CHECK(s.take_events().empty());
    CHECK(s.state() == session_state::connected);
}

TEST_CASE("invite_session transferee: Refer-Sub: false (RFC 4488) gets a 202 saying so and no NOTIFY",
          "[invite_session][refer]") {
    const time_point t0{};
    for (const std::string& value : {std::string("false"), std::string(" FALSE ;x=1")}) {
        INFO(value);
        auto s = connected_call();
        s.on_request(from_callee(s, "REFER", 30, {{sip::header_id::refer_to, "<sip:1003@pbx.example.com>"},
                                                   {sip::header_id::require, "norefersub"}},
                                 {}, "application/sdp", {{"Refer-Sub", value}}),
                     "k", t0);
        auto outs = s.take_outputs();
        REQUIRE(outs.size() == 1);  // the 202 and nothing else: no NOTIFY 100
        CHECK(outs[0].status == 202);
        const sip::message accepted = parse_wire(outs[0].bytes);
        CHECK(accepted.header("Refer-Sub") == "false");
        auto ev = s.take_events();
        REQUIRE(ev.size() == 1);
        CHECK(ev[0].kind == session_event_kind::refer_requested);
        CHECK(ev[0].target == "sip:1003@pbx.example.com");
        // The outcome has nowhere to go, and a second transfer may come at once.
        s.notify_refer(200, t0 + 1s);
        CHECK(s.take_outputs().empty());
        CHECK_FALSE(s.next_deadline());
        s.on_request(from_callee(s, "REFER", 31, {{sip::header_id::refer_to, "<sip:1004@pbx.example.com>"}}), "k2", t0 + 2s);
        outs = s.take_outputs();
        REQUIRE(outs.size() == 2);  // with a subscription this time: 202 and NOTIFY 100
        CHECK(outs[0].status == 202);
        CHECK(parse_wire(outs[0].bytes).header("Refer-Sub").empty());
        CHECK(parse_wire(outs[1].bytes).method_name() == "NOTIFY");
    }
    // "Refer-Sub: true" is the default: a subscription.
    auto s = connected_call();
    s.on_request(from_callee(s, "REFER", 30, {{sip::header_id::refer_to, "<sip:1003@pbx.example.com>"}}, {}, "application/sdp",
                             {{"Refer-Sub", "true"}}),
                 "k", t0);
    CHECK(s.take_outputs().size() == 2);
}

TEST_CASE("invite_session transferee: accept_refer off declines with 603", "[invite_session][refer]") {
    const time_point t0{};
    auto cfg = config();
    cfg.accept_refer = false;
    auto s = connected_call(cfg);
    s.on_request(from_callee(s, "REFER", 30, {{sip::header_id::refer_to, "<sip:a@example.com>"}}), "k", t0);
    CHECK(only_response(s, "k") == 603);
    CHECK(s.take_events().empty());
}

TEST_CASE("invite_session transferee: a subscription the application never ends runs out after 60 s, a refused NOTIFY "
          "ends it without ending the call",
          "[invite_session][refer]") {
    const time_point t0{};
    auto s = connected_call();
    refer_answered(s, t0);
    REQUIRE(s.next_deadline());
    CHECK(*s.next_deadline() == t0 + 60s);
    s.on_time(t0 + 60s);
    const sip::message timeout = only_request(s);
    CHECK(timeout.method_name() == "NOTIFY");
    CHECK(timeout.header(sip::header_id::subscription_state) == "terminated;reason=timeout");
    CHECK(timeout.body() == "SIP/2.0 100 Trying\r\n");
    CHECK_FALSE(s.next_deadline());

    // The peer refuses our NOTIFY with 481: its subscription is gone, the call is not.
    s.on_request(from_callee(s, "REFER", 31, {{sip::header_id::refer_to, "<sip:b@example.com>"}}), "k2", t0 + 61s);
    auto outs = s.take_outputs();
    REQUIRE(outs.size() == 2);
    const sip::message trying = parse_wire(outs[1].bytes);
    const sip::message gone = reply(trying, 481);
    s.on_dialog_response(&gone, t0 + 61s, outs[1].cseq);
    CHECK(s.take_outputs().empty());
    CHECK(s.state() == session_state::connected);
    s.notify_refer(200, t0 + 62s);
    CHECK(s.take_outputs().empty());
}

TEST_CASE("invite_session transferee: one NOTIFY at a time, the newest state sent when the last one is answered, "
          "a final one kept",
          "[invite_session][refer]") {
    const time_point t0{};
    auto cfg = config();
    cfg.credentials = auth::credentials{"auth1001", "secret"};
    auto s = connected_call(cfg);
    s.on_request(from_callee(s, "REFER", 30, {{sip::header_id::refer_to, "<sip:a@example.com>"}}), "k", t0);
    auto outs = s.take_outputs();
    REQUIRE(outs.size() == 2);
    s.take_events();
    const sip::message trying = parse_wire(outs[1].bytes);
    CHECK(trying.body() == "SIP/2.0 100 Trying\r\n");

    // The target rings, then sends early media, while the NOTIFY 100 has no answer yet: nothing
    // goes out, and the 200 to it releases the newest state only.
    s.notify_refer(180, t0 + 1s);
    s.notify_refer(183, t0 + 2s);
    CHECK(s.take_outputs().empty());
    const sip::message trying_ok = reply(trying, 200);
    s.on_dialog_response(&trying_ok, t0 + 3s, outs[1].cseq);
    ua::session_output progress_out;
    const sip::message progress = only_request(s, &progress_out);
    CHECK(progress.body() == "SIP/2.0 183 Session Progress\r\n");
    CHECK(progress.header(sip::header_id::subscription_state) == "active;expires=57");
    CHECK(progress.cseq()->number == trying.cseq()->number + 1);

    // A challenge to it: sent again with credentials, which is then the one to wait for.
    const sip::message challenge = reply(progress, 401, {{sip::header_id::www_authenticate, R"(Digest realm="pbx", nonce="n1")"}});
    s.on_dialog_response(&challenge, t0 + 4s, progress_out.cseq);
    ua::session_output again_out;
    const sip::message again = only_request(s, &again_out);
    CHECK(again.method_name() == "NOTIFY");
    CHECK(again.body() == "SIP/2.0 183 Session Progress\r\n");
    CHECK(std::string(again.header(sip::header_id::authorization)).find("username=\"auth1001\"") != std::string::npos);

    // The outcome while that one is open is kept, and nothing replaces a final state: neither a
    // later progress nor the subscription's expiry (only a last guard, 64*T1 past it, is left).
    s.notify_refer(200, t0 + 5s);
    s.notify_refer(180, t0 + 6s);
    CHECK(s.take_outputs().empty());
    REQUIRE(s.next_deadline());
    CHECK(*s.next_deadline() == t0 + 60s + 64 * 500ms);
    s.on_time(t0 + 61s);
    CHECK(s.take_outputs().empty());
    // A late answer to the challenged NOTIFY is not the open one's.
    s.on_dialog_response(&trying_ok, t0 + 61s, outs[1].cseq);
    CHECK(s.take_outputs().empty());
    const sip::message again_ok = reply(again, 200);
    s.on_dialog_response(&again_ok, t0 + 62s, again_out.cseq);
    const sip::message done = only_request(s);
    CHECK(done.body() == "SIP/2.0 200 OK\r\n");
    CHECK(done.header(sip::header_id::subscription_state) == "terminated;reason=noresource");
    CHECK(done.header(sip::header_id::event) == "refer;id=30");

    // The subscription is over: a new transfer may start.
    s.on_request(from_callee(s, "REFER", 31, {{sip::header_id::refer_to, "<sip:b@example.com>"}}), "k2", t0 + 63s);
    CHECK(s.take_outputs().size() == 2);
    CHECK(s.state() == session_state::connected);
}

TEST_CASE("invite_session transferee: the subscription's expiry while a NOTIFY is open sends the timeout NOTIFY after it",
          "[invite_session][refer]") {
    const time_point t0{};
    auto s = connected_call();
    refer_answered(s, t0);
    s.notify_refer(180, t0 + 59s);
    ua::session_output ringing_out;
    const sip::message ringing = only_request(s, &ringing_out);
    s.on_time(t0 + 60s);
    CHECK(s.take_outputs().empty());
    REQUIRE(s.next_deadline());
    CHECK(*s.next_deadline() == t0 + 92s);
    SECTION("the open NOTIFY answered: the timeout NOTIFY follows") {
        const sip::message ringing_ok = reply(ringing, 200);
        s.on_dialog_response(&ringing_ok, t0 + 60s, ringing_out.cseq);
        const sip::message timeout = only_request(s);
        CHECK(timeout.body() == "SIP/2.0 180 Ringing\r\n");
        CHECK(timeout.header(sip::header_id::subscription_state) == "terminated;reason=timeout");
    }
    SECTION("never answered (no transaction timeout either): the guard drops the subscription") {
        s.on_time(t0 + 92s);
        CHECK(s.take_outputs().empty());
        CHECK_FALSE(s.next_deadline());
        s.on_request(from_callee(s, "REFER", 31, {{sip::header_id::refer_to, "<sip:b@example.com>"}}), "k2", t0 + 93s);
        auto again = s.take_outputs();
        REQUIRE(again.size() == 2);
        CHECK(again[0].status == 202);
    }
}

TEST_CASE("invite_session transferee: a REFER before our 2xx's ACK, its NOTIFY answered before the ACK, reports go on",
          "[invite_session][refer]") {
    const time_point t0{};
    auto s = ua::invite_session::incoming(test::uas::invite_from_alice(answer), "inv", config(), 7);
    s.accept(offer, t0);
    s.take_outputs();
    REQUIRE(s.state() == session_state::accepted);
    s.on_request(test::uas::from_alice(s, "REFER", 11, {}, {{sip::header_id::refer_to, "<sip:1003@example.com>"}}), "r", t0);
    auto outs = s.take_outputs();
    REQUIRE(outs.size() == 2);
    CHECK(outs[0].status == 202);
    const sip::message trying = parse_wire(outs[1].bytes);
    CHECK(trying.body() == "SIP/2.0 100 Trying\r\n");
    const sip::message trying_ok = reply(trying, 200);
    s.on_dialog_response(&trying_ok, t0, outs[1].cseq);
    s.on_ack(test::uas::from_alice(s, "ACK", 10), t0 + 1s);
    REQUIRE(s.state() == session_state::connected);
    s.take_events();
    s.notify_refer(200, t0 + 2s);
    const sip::message done = only_request(s);
    CHECK(done.body() == "SIP/2.0 200 OK\r\n");
    CHECK(done.header(sip::header_id::subscription_state) == "terminated;reason=noresource");
}

TEST_CASE("invite_session: REFER and NOTIFY are in the default Allow", "[invite_session][refer]") {
    const std::string allow = ua::session_config{}.allow;
    CHECK(allow.find("REFER") != std::string::npos);
    CHECK(allow.find("NOTIFY") != std::string::npos);
}

TEST_CASE("invite_session transferee: the REFER's Referred-By joins the target's headers, unless the target names one",
          "[invite_session][refer]") {
    const time_point t0{};
    const auto target_of = [&](std::string refer_to, std::string referred_by) {
        auto s = connected_call();
        headers h{{sip::header_id::refer_to, std::move(refer_to)}};
        if (!referred_by.empty()) h.push_back({sip::header_id::referred_by, std::move(referred_by)});
        s.on_request(from_callee(s, "REFER", 30, h), "k", t0);
        auto ev = s.take_events();
        REQUIRE(ev.size() == 1);
        return ev[0].target;
    };
    CHECK(target_of("<sip:a@example.com?Replaces=x%40y%3Bto-tag%3D1%3Bfrom-tag%3D2>", "<sip:b@example.com>;cid=c1") ==
          "sip:a@example.com?Replaces=x%40y%3Bto-tag%3D1%3Bfrom-tag%3D2&Referred-By=%3Csip:b%40example.com%3E%3Bcid%3Dc1");
    CHECK(target_of("<sip:a@example.com?referred-by=%3Csip:c%40example.com%3E>", "<sip:b@example.com>") ==
          "sip:a@example.com?referred-by=%3Csip:c%40example.com%3E");
    CHECK(target_of("<sip:a@example.com>", "") == "sip:a@example.com");
}
