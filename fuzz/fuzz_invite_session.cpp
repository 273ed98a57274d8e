// fuzz_invite_session: one call's signaling state machine (ua/invite_session) driven by hostile
// messages: the offer/answer, re-INVITE, UPDATE, INFO (DTMF bodies), CANCEL, BYE, ACK, 3xx, 401/407,
// 422 and Session-Expires/Min-SE handling, and RFC 3262 (reliable 1xx with RSeq, PRACK with RAck).
//
// The input is a sequence of SIP messages separated by NUL bytes. Two sessions take them:
//  - a UAS: the first message, when it is an INVITE the validator accepts, creates it; it rings and
//    answers; every later message goes in as a request in the dialog (ACK, CANCEL, or on_request) or
//    as a response (to the INVITE of the UAC below, or to a request of its own dialog);
//  - a UAC calling a fixed target with credentials and session timers: every message goes in as a
//    response to its INVITE or to a request of its dialog, or as a request in its dialog.
// Between messages the clock moves on and every deadline due is run.
//
// Properties beyond "no crash, no UB, no leak": every message a session builds (responses, requests,
// ACK, CANCEL) parses as SIP and passes the validator's syntax checks, whatever was echoed into it
// from the input; a DTMF event carries one of 0-9 * # A-D; a terminated session builds nothing more
// on its own.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"
#include "sipvoice/sip/message.hpp"
#include "sipvoice/sip/validate.hpp"
#include "sipvoice/ua/invite_session.hpp"

namespace {

using namespace sipvoice;

const std::string our_sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
                            "m=audio 5000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

ua::session_config config() {
    ua::session_config c;
    c.local_uri = "<sip:1001@pbx.example.com>";
    c.contact = "<sip:1001@192.0.2.10:5060>";
    c.sent_by = "192.0.2.10:5060";
    c.credentials = auth::credentials{"auth1001", "secret"};
    c.session_expires = 120;
    c.min_se = 90;
    return c;
}

// Everything a session built must be a SIP message a peer can read.
void drain(ua::invite_session& s) {
    for (ua::session_output& o : s.take_outputs()) {
        auto m = sip::message::parse(std::move(o.bytes));
        FUZZ_CHECK(m.has_value());
        const sip::verdict v = sip::validate(*m);
        FUZZ_CHECK(!v.malformed);
        if (o.kind == ua::session_output_kind::respond) FUZZ_CHECK(m->is_response() && m->status() == o.status);
        else FUZZ_CHECK(m->is_request());
    }
    for (const ua::session_event& e : s.take_events()) {
        if (e.kind != ua::session_event_kind::dtmf) continue;
        const std::string_view keys = "0123456789*#ABCD";
        FUZZ_CHECK(keys.find(e.digit) != std::string_view::npos);
        FUZZ_CHECK(e.duration_ms >= 0);
    }
}

void run_due(ua::invite_session& s, time_point& now) {
    now += std::chrono::milliseconds(700);
    for (int i = 0; i < 64; ++i) {
        auto d = s.next_deadline();
        if (!d || *d > now) break;
        s.on_time(*d);
        drain(s);
    }
}

void feed(ua::invite_session& s, const sip::message& m, time_point now, std::size_t index) {
    if (m.is_response()) {
        auto cs = m.cseq();
        const std::uint32_t number = cs ? cs->number : 0;
        if (cs && cs->method == "INVITE" && number <= 3) s.on_response(m, now);
        s.on_dialog_response(&m, now, number);
    } else if (m.method() == sip::method::ack) {
        s.on_ack(m, now);
    } else if (m.method() == sip::method::cancel) {
        s.on_cancel(now);
    } else {
        s.on_request(m, "key-" + std::to_string(index), now);
        // The application answers what it is offered, and hangs up once in a while.
        s.answer(our_sdp, now);
    }
    drain(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input = sipvoice::fuzz::as_text(data, size);
    std::vector<std::string_view> parts;
    for (std::size_t start = 0; start <= input.size() && parts.size() < 16;) {
        const std::size_t end = input.find('\0', start);
        parts.push_back(input.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos) break;
        start = end + 1;
    }

    time_point now{};
    std::optional<ua::invite_session> uas;
    auto uac = ua::invite_session::outgoing("sip:1002@pbx.example.com", our_sdp, config(), 7, now);
    drain(uac);

    for (std::size_t i = 0; i < parts.size(); ++i) {
        auto m = sip::message::parse(std::string(parts[i]));
        if (!m) continue;
        if (sip::validate(*m).action != sip::action::accept) continue;
        if (i == 0 && m->is_request() && m->method() == sip::method::invite) {
            uas = ua::invite_session::incoming(*m, "key-invite", config(), 9);
            drain(*uas);
            uas->ring(now);
            uas->accept(our_sdp, now);
            drain(*uas);
            continue;
        }
        if (uas) feed(*uas, *m, now, i);
        feed(uac, *m, now, i);
        if (i % 5 == 4) uac.reoffer(our_sdp, now);
        drain(uac);
        if (uas) run_due(*uas, now);
        run_due(uac, now);
    }
    uac.hangup(now);
    drain(uac);
    if (uas) {
        uas->hangup(now);
        drain(*uas);
    }
    return 0;
}
