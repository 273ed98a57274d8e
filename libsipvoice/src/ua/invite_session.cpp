// Invite sessions (RFC 3261 §13-15, RFC 3311 UPDATE, RFC 4028 session timers, RFC 3515 REFER):
// one call's signaling on top of a dialog.
#include "sipvoice/ua/invite_session.hpp"

#include <algorithm>
#include <cctype>

#include "sipvoice/sip/builder.hpp"
#include "../sip/charset.hpp"
#include "text.hpp"

namespace sipvoice::ua {
using detail::lists_token;
namespace {

// The SDP a message carries, or empty (a body of another type is not an offer or answer).
std::string sdp_of(const sip::message& m) {
    if (m.body().empty()) return {};
    auto ct = m.content_type();
    if (ct && !ct->matches("application", "sdp")) return {};
    return std::string(m.body());
}

// A DTMF key as SIP INFO carries it: "Signal=5\r\nDuration=160" (application/dtmf-relay, the form
// Cisco introduced and Asterisk, FreeSWITCH and 3CX send) or "5" (application/dtmf). Signal 10 and 11
// are * and # in some implementations.
struct info_key {
    char digit = 0;
    int duration_ms = 0;
};
std::optional<info_key> dtmf_of_info(const sip::message& m) {
    auto ct = m.content_type();
    if (!ct) return std::nullopt;
    const bool relay = ct->matches("application", "dtmf-relay");
    if (!relay && !ct->matches("application", "dtmf")) return std::nullopt;
    std::string_view signal;
    int duration = 0;
    std::string_view body = m.body();
    if (!relay) {
        signal = sip::detail::trim(body);
    } else {
        while (!body.empty()) {
            const std::size_t nl = body.find('\n');
            std::string_view line = body.substr(0, nl);
            body = nl == std::string_view::npos ? std::string_view{} : body.substr(nl + 1);
            const std::size_t eq = line.find('=');
            if (eq == std::string_view::npos) continue;
            const std::string_view key = sip::detail::trim(line.substr(0, eq));
            const std::string_view value = sip::detail::trim(line.substr(eq + 1));
            if (sip::detail::iequals(key, "Signal")) signal = value;
            if (sip::detail::iequals(key, "Duration")) {
                int d = 0;
                for (char c : value) {
                    if (c < '0' || c > '9' || d > 100000) break;
                    d = d * 10 + (c - '0');
                }
                duration = d;
            }
        }
    }
    char digit = 0;
    if (signal == "10") digit = '*';
    else if (signal == "11") digit = '#';
    else if (signal.size() == 1) {
        const char c = static_cast<char>(std::toupper(static_cast<unsigned char>(signal[0])));
        if ((c >= '0' && c <= '9') || c == '*' || c == '#' || (c >= 'A' && c <= 'D')) digit = c;
    }
    if (digit == 0) return std::nullopt;
    return info_key{digit, duration};
}

// The Session-Expires of a message, when it has a usable one.
std::optional<sip::session_expires> session_expires_of(const sip::message& m) {
    if (!m.has(sip::header_id::session_expires)) return std::nullopt;
    auto se = m.session_expires();
    if (!se || se->delta == 0) return std::nullopt;
    return *se;
}

// "<sip:pbx.example.com;transport=tcp;lr>": a loose Route to an outbound proxy.
std::string route_to(const std::string& proxy) {
    std::string uri = proxy;
    if (!uri.empty() && uri.front() == '<') uri = uri.substr(1, uri.find('>') - 1);
    if (uri.find(";lr") == std::string::npos) {
        const std::size_t headers = uri.find('?');
        uri.insert(headers == std::string::npos ? uri.size() : headers, ";lr");
    }
    return "<" + uri + ">";
}

// RFC 3420: the status code of the Status-Line a message/sipfrag body starts with ("SIP/2.0 180
// Ringing" -> 180). Nothing for another body type, a fragment without a Status-Line (a sipfrag may
// hold only headers) or one that is not well-formed: the peer's text is never trusted further.
std::optional<int> sipfrag_status(const sip::message& m) {
    auto ct = m.content_type();
    if (!ct || !ct->matches("message", "sipfrag")) return std::nullopt;
    // Only the first line matters (RFC 3515 §2.4.5: a Status-Line): the message parser reads it, so
    // that what counts as a Status-Line is what it is everywhere else; the headers a sipfrag may
    // carry after it (RFC 3420) are not needed and a bad one must not hide the status.
    const std::string_view body = m.body();
    std::string line(body.substr(0, body.find_first_of("\r\n")));
    line += "\r\n";
    auto frag = sip::message::parse(std::move(line));
    if (!frag || !frag->is_response()) return std::nullopt;
    return frag->status();
}

// RFC 3515 §2.4.5: every NOTIFY of a REFER's subscription carries a Status-Line as message/sipfrag.
std::string sipfrag_of(int status) {
    return "SIP/2.0 " + std::to_string(status) + " " + std::string(sip::reason_phrase(status)) + "\r\n";
}

// How long our implicit subscription to a peer's REFER lasts (the expires of our first NOTIFY).
constexpr std::chrono::seconds refer_subscription{60};

}  // namespace

// Calls f(name, value), both unescaped, for each header of a URI (hname=hvalue joined by '&',
// %-escaped; RFC 3261 §19.1.5). An item without '=' has no value.
template <typename F>
static void for_each_uri_header(std::string_view raw, F f) {
    while (!raw.empty()) {
        const std::size_t amp = raw.find('&');
        const std::string_view item = raw.substr(0, amp);
        raw = amp == std::string_view::npos ? std::string_view{} : raw.substr(amp + 1);
        const std::size_t eq = item.find('=');
        f(sip::unescape(item.substr(0, eq)), eq == std::string_view::npos ? std::string{} : sip::unescape(item.substr(eq + 1)));
    }
}

// The headers of a URI that may go into an INVITE we send: those a transfer or redirect may ask
// for, never ones that would change the request's identity or routing (Call-ID, From, Via, Route...).
static std::vector<std::pair<std::string, std::string>> uri_headers_of(std::string_view raw) {
    static constexpr std::string_view taken[] = {"Replaces", "Subject", "Priority", "Alert-Info", "Call-Info", "Referred-By"};
    std::vector<std::pair<std::string, std::string>> out;
    for_each_uri_header(raw, [&](const std::string& name, const std::string& value) {
        const auto known = std::find_if(std::begin(taken), std::end(taken), [&](std::string_view t) { return sip::detail::iequals(t, name); });
        // One header line: no line break or other control character may come in from the URI.
        const bool one_line = !value.empty() && std::none_of(value.begin(), value.end(), [](char ch) {
            return (static_cast<unsigned char>(ch) < 0x20 && ch != '\t') || ch == 0x7f;
        });
        if (known != std::end(taken) && one_line) out.emplace_back(std::string(*known), value);
    });
    return out;
}

// Whether a URI's headers name `name`.
static bool has_uri_header(std::string_view raw, std::string_view name) {
    bool found = false;
    for_each_uri_header(raw, [&](const std::string& n, const std::string&) { found = found || sip::detail::iequals(n, name); });
    return found;
}

std::string_view session_state_name(session_state s) noexcept {
    switch (s) {
        case session_state::incoming: return "incoming";
        case session_state::calling: return "calling";
        case session_state::early: return "early";
        case session_state::accepted: return "accepted";
        case session_state::connected: return "connected";
        case session_state::terminating: return "terminating";
        case session_state::terminated: return "terminated";
    }
    return "?";
}

invite_session::invite_session(session_config cfg, std::uint64_t seed) : cfg_(std::move(cfg)), rng_(seed) {}

std::string invite_session::token(std::size_t n) { return detail::random_token(rng_, n); }

std::string invite_session::via() {
    return "SIP/2.0/" + cfg_.via_transport + " " + cfg_.sent_by + ";branch=z9hG4bK" + token(16) + ";rport";
}

// ---- RFC 4028 session timers -----------------------------------------------------------------------

void invite_session::add_session_timer_request_headers(sip::message_builder& b, std::string_view supported) const {
    if (cfg_.session_expires == 0) {
        if (!supported.empty()) b.add(sip::header_id::supported, supported);
        return;
    }
    b.add(sip::header_id::supported, supported.empty() ? std::string("timer") : std::string(supported) + ", timer");
    // In a request of ours we are the transaction's UAC: "uac" says we refresh. Before a timer is
    // agreed (the initial INVITE) we offer to be the refresher.
    const std::uint32_t interval = se_interval_ != 0 ? se_interval_ : cfg_.session_expires;
    const bool we = se_interval_ == 0 || we_refresh_;
    b.add(sip::header_id::session_expires, std::to_string(interval) + ";refresher=" + (we ? "uac" : "uas"));
    b.add(sip::header_id::min_se, std::to_string(cfg_.min_se));
}

void invite_session::add_session_timer_response_headers(sip::message_builder& b, const sip::message& request) const {
    if (cfg_.session_expires == 0) return;
    b.add(sip::header_id::supported, "timer");
    if (se_interval_ == 0) return;
    // The request's sender is this transaction's UAC.
    b.add(sip::header_id::session_expires, std::to_string(se_interval_) + ";refresher=" + (we_refresh_ ? "uas" : "uac"));
    if (!we_refresh_ && lists_token(request.supported(), "timer")) b.add(sip::header_id::require, "timer");
}

bool invite_session::timer_request_too_small(const sip::message& request, sip::message_builder* reject) const {
    if (cfg_.session_expires == 0) return false;
    auto se = session_expires_of(request);
    if (!se || se->delta >= cfg_.min_se) return false;
    // RFC 4028 §8.1: too short: 422 with the smallest interval we take.
    if (reject) {
        *reject = sip::message_builder::response_to(request, 422, "Session Interval Too Small");
        reject->add(sip::header_id::min_se, std::to_string(cfg_.min_se));
        reject->add(sip::header_id::server, cfg_.user_agent);
    }
    return true;
}

void invite_session::negotiate_uas_timer(const sip::message& request) {
    if (cfg_.session_expires == 0) return;
    const bool peer_supports = lists_token(request.supported(), "timer");
    auto se = session_expires_of(request);
    if (!se) {
        // RFC 4028 §9: a request without Session-Expires from a UA that supports timers may still
        // get one from us, with us refreshing; from one that does not, no timer.
        if (peer_supports) {
            se_interval_ = cfg_.session_expires;
            we_refresh_ = true;
        } else {
            se_interval_ = 0;
        }
        return;
    }
    // We may shorten the interval, never below the request's Min-SE or ours.
    std::uint32_t floor = cfg_.min_se;
    if (auto min = request.min_se(); min && request.has(sip::header_id::min_se)) floor = std::max(floor, *min);
    se_interval_ = std::max(std::min(se->delta, cfg_.session_expires), std::min(floor, se->delta));
    // "uac": the sender refreshes. "uas", or left to us: we refresh, which needs nothing of the peer.
    we_refresh_ = !sip::detail::iequals(se->refresher, "uac");
}

void invite_session::apply_uac_timer(const sip::message& response_2xx) {
    if (cfg_.session_expires == 0) return;
    auto se = session_expires_of(response_2xx);
    if (!se) {
        se_interval_ = 0;  // RFC 4028 §7.2: no Session-Expires in the 2xx: no session expiration
        return;
    }
    se_interval_ = se->delta;
    we_refresh_ = !sip::detail::iequals(se->refresher, "uas");  // our request: "uac" is us
}

void invite_session::start_session_timer(time_point now) {
    refresh_at_.reset();
    expire_at_.reset();
    if (se_interval_ == 0 || cfg_.session_expires == 0) return;
    const auto interval = std::chrono::duration_cast<duration>(std::chrono::seconds(se_interval_));
    if (we_refresh_) {
        refresh_at_ = now + interval / 2;  // RFC 4028 §10: half the interval is recommended
    } else {
        // RFC 4028 §10: the other side sends BYE when no refresh came by the interval minus
        // min(32 s, interval / 3).
        expire_at_ = now + interval -
                     std::min(std::chrono::duration_cast<duration>(std::chrono::seconds(32)), interval / 3);
    }
}

// ---- UAS ------------------------------------------------------------------------------------------

invite_session invite_session::incoming(const sip::message& invite, std::string key, session_config cfg, std::uint64_t seed) {
    invite_session s(std::move(cfg), seed);
    s.state_ = session_state::incoming;
    s.invite_ = invite;
    s.invite_key_ = std::move(key);
    s.local_tag_ = s.token(10);
    if (auto id = invite.call_id()) s.call_id_ = std::string(*id);
    s.peer_allows_update_ = lists_token(invite.allow(), "UPDATE");
    sip::message_builder too_small = sip::message_builder::response_to(invite, 422);
    if (s.timer_request_too_small(invite, &too_small)) {
        s.outputs_.push_back({session_output_kind::respond, s.invite_key_, 422, too_small.str(), {}});
        s.end(422, "the caller's session interval is below our Min-SE");
        return s;
    }
    s.negotiate_uas_timer(invite);
    // RFC 3262 §3: only an INVITE that requires it gets reliable provisional responses (one that
    // merely supports it gets them as before).
    s.reliable_provisional_ = lists_token(invite.require(), "100rel");
    const std::string offer = sdp_of(invite);
    s.invite_had_offer_ = !offer.empty();
    if (s.invite_had_offer_) s.events_.push_back({session_event_kind::offer, 0, offer, {}});
    return s;
}

std::string invite_session::response_to_invite(int status, const std::string& sdp, std::uint32_t rseq) {
    sip::message_builder b = sip::message_builder::response_to(*invite_, status, {}, status > 100 ? local_tag_ : "");
    if (rseq != 0) b.add(sip::header_id::require, "100rel").add(sip::header_id::rseq, std::to_string(rseq));
    if (status > 100 && status < 300) {
        // RFC 3261 §12.1.1: a dialog-creating response carries the Record-Route of the request
        // and our Contact.
        for (const sip::header_field& f : invite_->fields())
            if (f.id == sip::header_id::record_route) b.add(sip::header_id::record_route, invite_->value(f));
        b.add(sip::header_id::contact, cfg_.contact);
    }
    if (status >= 200 && status < 300) {
        b.add(sip::header_id::allow, cfg_.allow);
        add_session_timer_response_headers(b, *invite_);
    }
    b.add(sip::header_id::server, cfg_.user_agent);
    if (!sdp.empty()) b.body("application/sdp", sdp);
    return b.str();
}

void invite_session::respond_invite(int status, std::string sdp, time_point now) {
    (void)now;
    outputs_.push_back({session_output_kind::respond, invite_key_, status, response_to_invite(status, sdp), {}});
}

void invite_session::ring(time_point now, int status) {
    if (state_ != session_state::incoming || uac_) return;
    if (reliable_provisional_ && status > 100) {
        // RFC 3262 §3: one reliable provisional response at a time; RSeq starts anywhere below
        // 2**31 and goes up by one. An offerless INVITE's first reliable one would have to carry our
        // offer (§5): none is sent, the 200 carries it.
        if (!unacked_provisional_.empty() || !invite_had_offer_) return;
        rseq_ = rseq_ == 0 ? 1 + static_cast<std::uint32_t>(rng_() % 0x7fffffffU) : rseq_ + 1;
        unacked_provisional_ = response_to_invite(status, {}, rseq_);
        unacked_status_ = status;
        rseq_acked_ = false;
        outputs_.push_back({session_output_kind::respond, invite_key_, status, unacked_provisional_, {}});
        prack_interval_ = cfg_.timers.t1;
        prack_retransmit_at_ = now + prack_interval_;
        prack_deadline_ = now + 64 * cfg_.timers.t1;
    } else {
        respond_invite(status, {}, now);
    }
    if (!dialog_) dialog_ = dialog::for_uas(*invite_, local_tag_, cfg_.contact);  // early, §12.1.1
}

void invite_session::on_prack(const sip::message& request, const std::string& key) {
    // RAck: response-num CSeq-num Method (RFC 3262 §7.2), matched against our last reliable one.
    const std::string_view rack = request.header(sip::header_id::rack);
    std::uint32_t rseq = 0;
    sip::cseq cs;
    const std::size_t sp = rack.find_first_of(" \t", rack.find_first_not_of(" \t"));
    const bool parsed = sp != std::string_view::npos && !sip::parse_number(rack.substr(0, sp), 0xffffffffU, rseq).failed() &&
                        !sip::parse_value(rack.substr(sp), cs).failed();
    std::optional<std::uint32_t> invite_cseq;
    if (invite_)
        if (auto c = invite_->cseq()) invite_cseq = c->number;
    if (!parsed || rseq_ == 0 || rseq_acked_ || rseq != rseq_ || cs.number != invite_cseq || cs.method != "INVITE") {
        respond_to(request, key, 481);
        return;
    }
    rseq_acked_ = true;
    stop_provisional_retransmits();
    respond_to(request, key, 200);
}

void invite_session::accept(std::string sdp, time_point now) {
    if (state_ != session_state::incoming || uac_) return;
    // RFC 3262 §3: the final response ends the retransmissions of an unacknowledged reliable 1xx
    // (which carried no SDP, so the 2xx need not wait); a late PRACK is still answered.
    stop_provisional_retransmits();
    final_response_ = response_to_invite(200, sdp);
    outputs_.push_back({session_output_kind::respond, invite_key_, 200, final_response_, {}});
    if (!dialog_) dialog_ = dialog::for_uas(*invite_, local_tag_, cfg_.contact);
    if (!dialog_) {  // an INVITE without Contact cannot make a dialog; it passed validation, so rare
        end(500, "the INVITE had no usable Contact");
        return;
    }
    local_sdp_ = std::move(sdp);
    state_ = session_state::accepted;
    // RFC 3261 §13.3.1.4: the 2xx goes again at T1, 2*T1, ... up to T2 until the ACK comes; with
    // no ACK after 64*T1 the call is ended.
    retransmit_interval_ = cfg_.timers.t1;
    retransmit_at_ = now + retransmit_interval_;
    ack_deadline_ = now + 64 * cfg_.timers.t1;
    start_session_timer(now);  // RFC 4028 §10: the timer runs from the 2xx
}

void invite_session::reject(int status, time_point now) {
    if (status < 300) return;
    // A re-INVITE's or UPDATE's offer we cannot take (488): refused, the session goes on as it was
    // (RFC 3261 §14.2).
    if (!pending_update_key_.empty() && update_) {
        sip::message_builder b = sip::message_builder::response_to(*update_, status);
        b.add(sip::header_id::server, cfg_.user_agent);
        outputs_.push_back({session_output_kind::respond, pending_update_key_, status, b.str(), {}});
        pending_update_key_.clear();
        update_.reset();
        try_queued_reoffer(now);
        return;
    }
    if (!pending_reinvite_key_.empty() && invite_ && state_ == session_state::connected) {
        sip::message_builder b = sip::message_builder::response_to(*invite_, status);
        b.add(sip::header_id::server, cfg_.user_agent);
        outputs_.push_back({session_output_kind::respond, pending_reinvite_key_, status, b.str(), {}});
        pending_reinvite_key_.clear();
        reinvite_offerless_ = false;
        try_queued_reoffer(now);
        return;
    }
    if (state_ != session_state::incoming || uac_) return;
    respond_invite(status, {}, now);
    end(status, "rejected " + std::to_string(status) + " " + std::string(sip::reason_phrase(status)));
}

void invite_session::on_ack(const sip::message& ack, time_point now) {
    if (state_ != session_state::accepted && state_ != session_state::connected) return;
    if (dialog_ && dialog_->on_request(ack) != dialog::check::ok) return;
    retransmit_at_.reset();
    ack_deadline_.reset();
    if (state_ == session_state::connected) {  // the ACK of a re-INVITE's 2xx
        if (awaiting_ack_answer_) {
            awaiting_ack_answer_ = false;
            const std::string answer_sdp = sdp_of(ack);
            if (!answer_sdp.empty()) events_.push_back({session_event_kind::answer, 0, answer_sdp, {}});
        }
        try_queued_reoffer(now);
        return;
    }
    state_ = session_state::connected;
    // RFC 3264 §4 / RFC 3261 §13.2.1: our 200 carried the offer, the ACK carries the answer.
    if (!invite_had_offer_) {
        const std::string answer_sdp = sdp_of(ack);
        if (!answer_sdp.empty()) events_.push_back({session_event_kind::answer, 0, answer_sdp, {}});
    }
    events_.push_back({session_event_kind::connected, 200, {}, {}});
    try_queued_reoffer(now);
}

void invite_session::on_cancel(time_point now) {
    if (state_ != session_state::incoming || uac_) return;
    respond_invite(487, {}, now);  // RFC 3261 §9.2: the INVITE ends with 487
    end(487, "cancelled by the caller");
}

// ---- UAC ------------------------------------------------------------------------------------------

invite_session invite_session::outgoing(std::string target_uri, std::string offer_sdp, session_config cfg, std::uint64_t seed,
                                        time_point now) {
    invite_session s(std::move(cfg), seed);
    s.uac_ = true;
    s.state_ = session_state::calling;
    s.target_ = std::move(target_uri);
    if (auto u = sip::parse_uri(s.target_); u && !u->headers.empty()) {
        s.uri_headers_ = uri_headers_of(u->headers);
        s.target_ = std::string(sip::without_headers(*u));
    }
    s.original_to_ = "<" + s.target_ + ">";
    s.local_tag_ = s.token(10);
    s.call_id_ = s.token(20);
    s.offered_ = !offer_sdp.empty();
    s.offer_sdp_ = std::move(offer_sdp);
    s.invite_cseq_ = 0;
    s.send_invite(now);
    return s;
}

void invite_session::send_invite(time_point now, const std::string& authorization_line, bool proxy_auth) {
    (void)now;
    ++invite_cseq_;
    sip::message_builder b = sip::message_builder::request("INVITE", target_);
    b.add(sip::header_id::via, via()).add(sip::header_id::max_forwards, "70");
    if (!cfg_.outbound_proxy.empty()) b.add(sip::header_id::route, route_to(cfg_.outbound_proxy));
    b.add(sip::header_id::from, cfg_.local_uri + ";tag=" + local_tag_)
        .add(sip::header_id::to, original_to_)
        .add(sip::header_id::call_id, call_id_)
        .add(sip::header_id::cseq, std::to_string(invite_cseq_) + " INVITE")
        .add(sip::header_id::contact, cfg_.contact)
        .add(sip::header_id::allow, cfg_.allow);
    for (const auto& [name, value] : uri_headers_) b.add(name, value);
    // RFC 3262 §5: offered only with our offer in the INVITE; otherwise a reliable 1xx would bring the
    // peer's offer, whose answer would have to go in the PRACK.
    add_session_timer_request_headers(b, offered_ ? "100rel" : "");
    if (!authorization_line.empty())
        b.add(proxy_auth ? sip::header_id::proxy_authorization : sip::header_id::authorization, authorization_line);
    b.add(sip::header_id::user_agent, cfg_.user_agent);
    if (offered_) b.body("application/sdp", offer_sdp_);
    invite_bytes_ = b.str();
    if (auto parsed = sip::message::parse(invite_bytes_)) invite_ = std::move(*parsed);
    dialog_.reset();  // an early dialog of an earlier attempt is gone with its transaction
    // ...and so are its reliable provisional responses: RSeq starts anew with each transaction.
    pracked_.clear();
    forks_.clear();
    std::erase_if(in_flight_, [](const pending_request& r) { return r.method == "PRACK"; });
    state_ = session_state::calling;
    outputs_.push_back({session_output_kind::request, {}, 0, invite_bytes_,
                        cfg_.outbound_proxy.empty() ? target_ : cfg_.outbound_proxy, invite_cseq_});
}

bool invite_session::next_redirect_target(time_point now) {
    if (redirect_targets_.empty() || redirects_ >= cfg_.max_redirects) return false;
    ++redirects_;
    target_ = std::move(redirect_targets_.front());
    redirect_targets_.pop_front();
    invite_authorized_ = false;
    send_invite(now);
    return true;
}

bool invite_session::retry_invite(const sip::message& response, time_point now) {
    const int status = response.status();
    if (cancel_wanted_ || state_ == session_state::terminating) return false;
    if ((status == 401 || status == 407) && cfg_.credentials) {
        auto ch = auth::first_supported(response);
        if (!ch) return false;
        // A second challenge to credentials we already sent means they are wrong, unless the server
        // only says its nonce went stale (RFC 7616 §3.3).
        if (invite_authorized_ && !ch->stale) return false;
        invite_authorized_ = true;
        send_invite(now, auth::authorization(*ch, *cfg_.credentials, "INVITE", target_, token(16), 1), ch->proxy);
        return true;
    }
    if (status >= 300 && status < 400) {
        // RFC 3261 §8.1.3.4: the redirect's Contacts, most preferred (highest q; none said is 1.0)
        // first, the order of the response among equals; they replace what an earlier redirect left.
        std::vector<std::pair<int, std::string>> targets;
        for (auto c : response.contacts()) {
            if (!c || c->star) continue;
            const auto scheme = c->address.address.scheme;
            if (scheme != sip::uri_scheme::sip && scheme != sip::uri_scheme::sips) continue;
            // No headers in a Request-URI (§19.1.5).
            targets.emplace_back(c->q < 0 ? 1000 : c->q, std::string(sip::without_headers(c->address.address)));
        }
        std::stable_sort(targets.begin(), targets.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
        redirect_targets_.clear();
        for (auto& t : targets) redirect_targets_.push_back(std::move(t.second));
        return next_redirect_target(now);
    }
    if (status == 422 && cfg_.session_expires != 0 && timer_retries_ < 2) {
        // RFC 4028 §7.4: ask again with the interval the peer's Min-SE names.
        auto min = response.min_se();
        if (!min || !response.has(sip::header_id::min_se) || *min == 0) return false;
        ++timer_retries_;
        cfg_.min_se = std::max(cfg_.min_se, *min);
        cfg_.session_expires = std::max(cfg_.session_expires, *min);
        send_invite(now);
        return true;
    }
    // A target we were redirected to failed, not globally (6xx): the next one (§8.1.3.4).
    if (status >= 400 && status < 600) return next_redirect_target(now);
    return false;
}

void invite_session::on_response(const sip::message& response, time_point now) {
    const int status = response.status();
    // A retransmitted 2xx to one of our re-INVITEs (its transaction is gone): its ACK was lost.
    if (auto cs = response.cseq(); cs && status >= 200 && status < 300 && dialog_ && !dialog_->early() &&
                                   cs->method == "INVITE" && (!uac_ || cs->number != invite_cseq_)) {
        if (cs->number <= dialog_->local_seq() && dialog_id_of(response) == dialog_->id())
            outputs_.push_back({session_output_kind::send_ack, {}, 0, dialog_->request("ACK", via(), cs->number).str(),
                                dialog_->next_hop()});
        return;
    }
    if (!uac_ || !invite_) return;
    // A response to an earlier INVITE of this call (before an authentication retry or redirect): that
    // attempt is over.
    if (auto cs = response.cseq(); cs && cs->number != invite_cseq_) return;
    auto to = response.to();
    const std::string_view remote_tag = to ? to->tag() : std::string_view{};

    if (status >= 200 && status < 300) {
        if (state_ == session_state::terminated) return;
        // RFC 3261 §13.2.2.4: a second dialog from a forking proxy is ACKed and ended at once.
        if (dialog_ && !dialog_->early() && dialog_->id().remote_tag != remote_tag) {
            auto other = take_fork(remote_tag);  // a fork we PRACKed in: its CSeq goes on
            if (!other) other = dialog::for_uac(*invite_, response);
            if (other) {
                outputs_.push_back({session_output_kind::send_ack, {}, 0,
                                    other->request("ACK", via(), invite_cseq_).str(), other->next_hop()});
                sip::message_builder bye = other->request("BYE", via());
                bye.add(sip::header_id::user_agent, cfg_.user_agent);
                outputs_.push_back({session_output_kind::request, {}, 0, bye.str(), other->next_hop()});
            }
            return;
        }
        if (dialog_ && dialog_->id().remote_tag == remote_tag && !dialog_->early()) {
            // A retransmission of the 2xx: its ACK is lost, send it again.
            outputs_.push_back({session_output_kind::send_ack, {}, 0, dialog_->request("ACK", via(), invite_cseq_).str(),
                                dialog_->next_hop()});
            return;
        }
        if (dialog_ && dialog_->id().remote_tag == remote_tag) {
            dialog_->confirm(response);
        } else if (auto fork = take_fork(remote_tag)) {
            dialog_ = std::move(fork);  // the answering fork's early dialog, with the CSeq its PRACKs took
            dialog_->confirm(response);
        } else {
            dialog_ = dialog::for_uac(*invite_, response);
        }
        if (!dialog_) {
            end(status, "the 2xx had no To tag or Contact");
            return;
        }
        peer_allows_update_ = lists_token(response.allow(), "UPDATE");
        apply_uac_timer(response);
        const std::string sdp = sdp_of(response);
        if (offered_) {
            local_sdp_ = offer_sdp_;
            if (!sdp.empty()) events_.push_back({session_event_kind::answer, status, sdp, {}});
            sip::message_builder ack = dialog_->request("ACK", via(), invite_cseq_);
            outputs_.push_back({session_output_kind::send_ack, {}, 0, ack.str(), dialog_->next_hop()});
            state_ = session_state::connected;
            start_session_timer(now);
            events_.push_back({session_event_kind::connected, status, {}, {}});
            if (cancel_wanted_) hangup(now);  // the CANCEL lost the race against the 2xx: BYE instead
        } else {
            // Our INVITE had no offer: the 2xx has it and our ACK must carry the answer (answer()).
            state_ = session_state::accepted;
            events_.push_back({session_event_kind::offer, status, sdp, {}});
        }
        return;
    }
    if (status >= 300) {
        if (state_ == session_state::terminated) return;
        // The transaction ACKs a non-2xx final response itself (RFC 3261 §17.1.1.3).
        if (retry_invite(response, now)) return;
        std::string reason = status == 487 ? "cancelled"
                                           : "rejected " + std::to_string(status) + " " + std::string(response.reason_phrase());
        if ((status == 401 || status == 407) && cfg_.credentials) reason = "authentication failed: " + reason;
        end(status, std::move(reason));
        return;
    }
    if (status > 100 && state_ != session_state::terminated && state_ != session_state::terminating) {
        if (!remote_tag.empty() && !dialog_) dialog_ = dialog::for_uac(*invite_, response);
        // RFC 3262 §4: a reliable provisional response is news once; its retransmissions are not.
        if (!remote_tag.empty() && lists_token(response.require(), "100rel") && !prack(response, remote_tag, now)) return;
        if (state_ == session_state::calling) state_ = session_state::early;
        const std::string sdp = sdp_of(response);
        events_.push_back({session_event_kind::progress, status, sdp, {}});
        if (cancel_wanted_) cancel(now);
    }
}

void invite_session::on_invite_failed(std::string reason, time_point now) {
    (void)now;
    if (!uac_ || state_ == session_state::terminated || state_ == session_state::connected) return;
    end(408, std::move(reason));
}

bool invite_session::resend_invite(time_point now) {
    if (!uac_ || state_ != session_state::calling || cancel_wanted_) return false;
    invite_authorized_ = false;
    send_invite(now);
    return true;
}

void invite_session::cancel(time_point now) {
    (void)now;
    if (!uac_ || !invite_) return;
    if (state_ == session_state::calling) {
        cancel_wanted_ = true;  // RFC 3261 §9.1: not before a provisional response has arrived
        return;
    }
    if (state_ != session_state::early) return;
    // RFC 3261 §9.1: the CANCEL copies Request-URI, Call-ID, From, To, CSeq number, Route and the
    // top Via (same branch) of the INVITE.
    sip::message_builder b = sip::message_builder::request("CANCEL", target_);
    b.add(sip::header_id::via, invite_->header(sip::header_id::via)).add(sip::header_id::max_forwards, "70");
    if (!cfg_.outbound_proxy.empty()) b.add(sip::header_id::route, route_to(cfg_.outbound_proxy));
    b.add(sip::header_id::from, invite_->header(sip::header_id::from))
        .add(sip::header_id::to, invite_->header(sip::header_id::to))
        .add(sip::header_id::call_id, call_id_)
        .add(sip::header_id::cseq, std::to_string(invite_cseq_) + " CANCEL")
        .add(sip::header_id::user_agent, cfg_.user_agent);
    outputs_.push_back({session_output_kind::cancel, {}, 0, b.str(), cfg_.outbound_proxy.empty() ? target_ : cfg_.outbound_proxy});
    state_ = session_state::terminating;
    cancel_wanted_ = false;
}

bool invite_session::prack(const sip::message& response, std::string_view remote_tag, time_point now) {
    std::uint32_t rseq = 0;
    if (sip::parse_number(response.header(sip::header_id::rseq), 0xffffffffU, rseq).failed() || rseq == 0) return false;
    auto seen = std::find_if(pracked_.begin(), pracked_.end(), [&](const auto& p) { return p.first == remote_tag; });
    if (seen != pracked_.end()) {
        // RFC 3262 §4: one more than the last, else a retransmission (or out of order): dropped.
        if (rseq != seen->second + 1) return false;
        seen->second = rseq;
    } else {
        pracked_.emplace_back(std::string(remote_tag), rseq);
    }
    const std::string rack = std::to_string(rseq) + " " + std::to_string(invite_cseq_) + " INVITE";
    if (dialog_ && dialog_->id().remote_tag == remote_tag) {
        send_in_dialog("PRACK", purpose::other, now, {}, {}, false, 0, "application/sdp", {{sip::header_id::rack, rack}});
    } else {
        // Another fork's early dialog, kept for its CSeq: its PRACK goes in that dialog, and nothing
        // waits for the answer (cseq 0: the user agent reports no outcome).
        auto fork = fork_with(remote_tag);
        if (fork == forks_.end()) {
            auto made = dialog::for_uac(*invite_, response);
            if (!made) return true;
            forks_.push_back(std::move(*made));
            fork = std::prev(forks_.end());
        }
        sip::message_builder b = fork->request("PRACK", via());
        b.add(sip::header_id::rack, rack).add(sip::header_id::user_agent, cfg_.user_agent);
        outputs_.push_back({session_output_kind::request, {}, 0, b.str(), fork->next_hop(), 0});
    }
    return true;
}

std::vector<dialog>::iterator invite_session::fork_with(std::string_view remote_tag) {
    return std::find_if(forks_.begin(), forks_.end(), [&](const dialog& d) { return d.id().remote_tag == remote_tag; });
}

std::optional<dialog> invite_session::take_fork(std::string_view remote_tag) {
    auto it = fork_with(remote_tag);
    if (it == forks_.end()) return std::nullopt;
    std::optional<dialog> d = std::move(*it);
    forks_.erase(it);
    return d;
}

// ---- both -----------------------------------------------------------------------------------------

bool invite_session::offer_open() const noexcept {
    if (!pending_reinvite_key_.empty() || !pending_update_key_.empty() || awaiting_ack_answer_ || reoffer_retry_at_)
        return true;
    return std::any_of(in_flight_.begin(), in_flight_.end(),
                       [](const pending_request& r) { return r.method == "INVITE" || r.why == purpose::reoffer; });
}

void invite_session::on_request(const sip::message& request, const std::string& key, time_point now) {
    auto respond = [&](int status, const std::string& sdp = {}, bool timer_headers = false) {
        sip::message_builder b = sip::message_builder::response_to(request, status);
        if (timer_headers) {
            b.add(sip::header_id::contact, cfg_.contact);
            add_session_timer_response_headers(b, request);
        }
        b.add(sip::header_id::server, cfg_.user_agent);
        if (!sdp.empty()) b.body("application/sdp", sdp);
        outputs_.push_back({session_output_kind::respond, key, status, b.str(), {}});
    };
    if (!dialog_) return respond(481);
    switch (dialog_->on_request(request)) {
        case dialog::check::not_this_dialog: return respond(481);
        case dialog::check::out_of_order: return respond(500);  // RFC 3261 §12.2.2
        case dialog::check::ok: break;
    }
    const std::string_view method = request.method_name();
    if (method == "PRACK") return on_prack(request, key);
    if (method == "BYE") {
        respond(200);
        end(0, "remote hangup");
        return;
    }
    if (method == "INVITE" || method == "UPDATE") {
        sip::message_builder too_small = sip::message_builder::response_to(request, 422);
        if (timer_request_too_small(request, &too_small)) {
            outputs_.push_back({session_output_kind::respond, key, 422, too_small.str(), {}});
            return;
        }
    }
    if (method == "INVITE") {
        // RFC 3261 §14.2: one offer at a time; a re-INVITE while another offer is open gets 491.
        if (offer_open() || state_ != session_state::connected) return respond(491);
        pending_reinvite_key_ = key;
        invite_ = request;
        invite_key_ = key;
        if (auto allow = request.allow(); allow.begin() != allow.end()) peer_allows_update_ = lists_token(allow, "UPDATE");
        negotiate_uas_timer(request);
        const std::string sdp = sdp_of(request);
        reinvite_offerless_ = sdp.empty();
        events_.push_back({session_event_kind::offer, 0, sdp, {}});
        return;
    }
    if (method == "UPDATE") {
        const std::string sdp = sdp_of(request);
        if (!sdp.empty()) {
            // RFC 3311 §5.2: an offer in an UPDATE while another is open gets 491.
            if (offer_open() || (state_ != session_state::connected && state_ != session_state::accepted))
                return respond(491);
            negotiate_uas_timer(request);
            pending_update_key_ = key;
            update_ = request;
            events_.push_back({session_event_kind::offer, 0, sdp, {}});
            return;
        }
        // A session refresh (RFC 4028 §9) or a target refresh without offer.
        negotiate_uas_timer(request);
        respond(200, {}, true);
        if (state_ == session_state::connected) start_session_timer(now);
        return;
    }
    if (method == "REFER") return on_refer(request, key, now);
    if (method == "NOTIFY") return on_notify(request, key, now);
    if (method == "INFO") {
        if (auto key_pressed = dtmf_of_info(request)) {
            session_event ev{session_event_kind::dtmf, 0, {}, {}};
            ev.digit = key_pressed->digit;
            ev.duration_ms = key_pressed->duration_ms;
            events_.push_back(std::move(ev));
        }
        return respond(200);
    }
    respond(200);  // OPTIONS and others inside the dialog
}

void invite_session::answer(std::string sdp, time_point now) {
    if (!pending_update_key_.empty() && update_) {
        sip::message_builder b = sip::message_builder::response_to(*update_, 200);
        b.add(sip::header_id::contact, cfg_.contact);
        add_session_timer_response_headers(b, *update_);
        b.add(sip::header_id::server, cfg_.user_agent);
        b.body("application/sdp", sdp);
        outputs_.push_back({session_output_kind::respond, pending_update_key_, 200, b.str(), {}});
        pending_update_key_.clear();
        update_.reset();
        local_sdp_ = std::move(sdp);
        if (state_ == session_state::connected) start_session_timer(now);
        try_queued_reoffer(now);
        return;
    }
    if (!pending_reinvite_key_.empty() && invite_) {
        final_response_ = response_to_invite(200, sdp);
        outputs_.push_back({session_output_kind::respond, pending_reinvite_key_, 200, final_response_, {}});
        pending_reinvite_key_.clear();
        awaiting_ack_answer_ = reinvite_offerless_;  // our offer went in the 200; the ACK answers it
        reinvite_offerless_ = false;
        local_sdp_ = std::move(sdp);
        retransmit_interval_ = cfg_.timers.t1;
        retransmit_at_ = now + retransmit_interval_;
        ack_deadline_ = now + 64 * cfg_.timers.t1;
        start_session_timer(now);
        return;
    }
    if (uac_ && state_ == session_state::accepted && dialog_) {  // our offerless INVITE: the answer rides the ACK
        sip::message_builder ack = dialog_->request("ACK", via(), invite_cseq_);
        ack.body("application/sdp", sdp);
        outputs_.push_back({session_output_kind::send_ack, {}, 0, ack.str(), dialog_->next_hop()});
        local_sdp_ = std::move(sdp);
        state_ = session_state::connected;
        start_session_timer(now);
        events_.push_back({session_event_kind::connected, 200, {}, {}});
    }
}

void invite_session::reoffer(std::string sdp, time_point now, bool by_update) {
    if (state_ != session_state::connected || !dialog_) {
        events_.push_back({session_event_kind::offer_rejected, 491, {}, "no confirmed call to re-offer in"});
        return;
    }
    if (offer_open()) {
        queued_reoffer_ = std::move(sdp);  // sent when the open offer is settled
        queued_by_update_ = by_update;
        return;
    }
    send_in_dialog(offer_method(by_update), purpose::reoffer, now, sdp);
}

const char* invite_session::offer_method(bool by_update) const noexcept {
    return by_update && peer_allows_update_ ? "UPDATE" : "INVITE";
}

bool invite_session::send_dtmf_info(char digit, int duration_ms, time_point now) {
    const std::string_view keys = "0123456789*#ABCD";
    if (state_ != session_state::connected || !dialog_ || keys.find(digit) == std::string_view::npos) return false;
    const std::string body = "Signal=" + std::string(1, digit) + "\r\nDuration=" + std::to_string(std::max(duration_ms, 0)) + "\r\n";
    send_in_dialog("INFO", purpose::other, now, body, {}, false, 0, "application/dtmf-relay");
    return true;
}

void invite_session::try_queued_reoffer(time_point now) {
    if (!queued_reoffer_ || state_ != session_state::connected || offer_open()) return;
    std::string sdp = std::move(*queued_reoffer_);
    queued_reoffer_.reset();
    send_in_dialog(offer_method(queued_by_update_), purpose::reoffer, now, sdp);
}

void invite_session::send_in_dialog(std::string method, purpose why, time_point now, const std::string& sdp,
                                    const std::string& authorization_line, bool proxy_auth, int glare_retries,
                                    std::string_view content_type, header_list headers) {
    (void)now;
    if (!dialog_) return;
    sip::message_builder b = dialog_->request(method, via());
    const bool target_refresh = method == "INVITE" || method == "UPDATE";
    // RFC 6665 wants a Contact in every NOTIFY; a REFER sets up the subscription's usage too.
    if (target_refresh || method == "REFER" || method == "NOTIFY") b.add(sip::header_id::contact, cfg_.contact);
    if (target_refresh) {
        b.add(sip::header_id::allow, cfg_.allow);
        add_session_timer_request_headers(b);
    }
    for (const auto& [id, value] : headers) b.add(id, value);
    if (!authorization_line.empty())
        b.add(proxy_auth ? sip::header_id::proxy_authorization : sip::header_id::authorization, authorization_line);
    b.add(sip::header_id::user_agent, cfg_.user_agent);
    if (!sdp.empty()) b.body(content_type, sdp);
    const std::uint32_t cseq = dialog_->local_seq();
    if (method == "REFER" && refer_) refer_->cseq = cseq;  // a retry with credentials has a new CSeq
    in_flight_.push_back(
        {cseq, method, why, sdp, !authorization_line.empty(), glare_retries, std::string(content_type), std::move(headers)});
    outputs_.push_back({session_output_kind::request, {}, 0, b.str(), dialog_->next_hop(), cseq});
}

bool invite_session::retry_with_credentials(const pending_request& req, const sip::message* response, time_point now) {
    if (!response || req.authorized || !cfg_.credentials || !dialog_) return false;
    if (response->status() != 401 && response->status() != 407) return false;
    auto ch = auth::first_supported(*response);
    if (!ch) return false;
    auto line = auth::authorization(*ch, *cfg_.credentials, req.method, dialog_->remote_target(), token(16), 1, req.sdp);
    send_in_dialog(req.method, req.why, now, req.sdp, line, ch->proxy, req.glare_retries, req.content_type, req.headers);
    return true;
}

void invite_session::respond_to(const sip::message& request, const std::string& key, int status, bool contact,
                                std::span<const std::pair<std::string_view, std::string_view>> extra) {
    sip::message_builder b = sip::message_builder::response_to(request, status);
    if (contact) b.add(sip::header_id::contact, cfg_.contact);
    b.add(sip::header_id::server, cfg_.user_agent);
    for (const auto& [name, value] : extra) b.add(name, value);
    outputs_.push_back({session_output_kind::respond, key, status, b.str(), {}});
}

// ---- RFC 3515 REFER -------------------------------------------------------------------------------

bool invite_session::refer(std::string refer_to_uri, time_point now) {
    if (state_ != session_state::connected || !dialog_) return false;
    if (refer_ && !refer_->finished) return false;  // one transfer at a time
    std::string_view uri = sip::detail::trim(refer_to_uri);
    if (uri.size() >= 2 && uri.front() == '<' && uri.back() == '>') uri = uri.substr(1, uri.size() - 2);
    // Whatever goes between the brackets must be one URI and nothing that could end the header.
    if (uri.empty() || uri.find_first_of("<>\r\n \t") != std::string_view::npos || !sip::parse_uri(uri)) return false;
    refer_ = our_refer{};
    send_in_dialog("REFER", purpose::other, now, {}, {}, false, 0, "application/sdp",
                   {{sip::header_id::refer_to, "<" + std::string(uri) + ">"},
                    {sip::header_id::referred_by, dialog_->local_uri()}});  // RFC 3892
    return true;
}

void invite_session::refer_response(const pending_request& req, int status, time_point now) {
    if (!refer_ || refer_->cseq != req.cseq || refer_->finished) return;  // an older REFER, or a NOTIFY came first
    if (status >= 200 && status < 300) {
        // Timer N (RFC 6665): without a NOTIFY within 64*T1 the subscription never started. A
        // NOTIFY that overtook the 2xx has set its own deadline already.
        if (!refer_->deadline) refer_->deadline = now + 64 * cfg_.timers.t1;
        events_.push_back({session_event_kind::refer_accepted, status, {}, {}});
        return;
    }
    refer_.reset();
    session_event ev{session_event_kind::refer_failed, status, {}, status == 408 ? "no answer to the REFER" : "REFER refused"};
    ev.final = true;
    events_.push_back(std::move(ev));
}

void invite_session::on_notify(const sip::message& request, const std::string& key, time_point now) {
    // RFC 6665: 489 Bad Event for a package we did not subscribe to, 481 for a subscription we do not have.
    auto event = request.event();
    if (!event || !sip::detail::iequals(event->package, "refer")) return respond_to(request, key, 489);
    if (!refer_ || (!event->id.empty() && event->id != std::to_string(refer_->cseq))) return respond_to(request, key, 481);
    respond_to(request, key, 200);  // whatever the body: a peer we answer otherwise may end the call
    // Subscription-State (RFC 6665): one we cannot read ends nothing and sets no duration.
    const auto sub = request.subscription_state();
    const bool terminated = sub && sub->terminated();
    const std::optional<int> code = sipfrag_status(request);
    if (refer_->finished) {  // the outcome is known; only the subscription's end is left
        if (terminated) refer_.reset();
        return;
    }
    if (code && *code >= 300) {
        refer_.reset();
        session_event ev{session_event_kind::refer_failed, *code, {}, "the transfer target answered " + std::to_string(*code)};
        ev.final = true;
        events_.push_back(std::move(ev));
        return;
    }
    const bool final = terminated || (code && *code >= 200);
    if (code || final) {
        session_event ev{session_event_kind::refer_progress, code.value_or(0), {}, {}};
        ev.final = final;
        events_.push_back(std::move(ev));
    }
    if (terminated) {
        refer_.reset();
        return;
    }
    refer_->finished = final;
    // The subscription lasts what this NOTIFY says (the notifier chooses the duration of a REFER's
    // subscription); past that, and 64*T1 for a late NOTIFY, it is over.
    const auto expires = sub && sub->has_expires() ? std::chrono::seconds(sub->expires) : refer_subscription;
    refer_->deadline = now + std::chrono::duration_cast<duration>(expires) + 64 * cfg_.timers.t1;
}

void invite_session::on_refer(const sip::message& request, const std::string& key, time_point now) {
    if (!cfg_.accept_refer) return respond_to(request, key, 603);
    if (state_ != session_state::connected && state_ != session_state::accepted) return respond_to(request, key, 403);
    // RFC 3515 §2.4.1-2.4.2: exactly one Refer-To, or 400.
    auto to = request.refer_to();
    auto cseq = request.cseq();
    if (!to || request.count(sip::header_id::refer_to) != 1 || !cseq) return respond_to(request, key, 400);
    if (peer_refer_) return respond_to(request, key, 491);  // the peer's earlier transfer is still under way
    session_event ev{session_event_kind::refer_requested, 0, {}, {}};
    ev.target = std::string(to->address.text);
    // RFC 3892 §3: the request the REFER triggers carries its Referred-By. As a header of the
    // target URI (RFC 3261 §19.1.5) it goes into the INVITE whoever places the call (unless the
    // Refer-To already names one).
    if (const std::string_view by = request.header(sip::header_id::referred_by);
        !by.empty() && !has_uri_header(to->address.headers, "Referred-By")) {
        // The parser unfolded a folded line in place (sip/message.hpp): the value holds no line break.
        ev.target += ev.target.find('?') == std::string::npos ? '?' : '&';
        ev.target += "Referred-By=" + sip::escape(by, sip::uri_component::header);
    }
    // RFC 4488: "Refer-Sub: false" asks for no implicit subscription. We honour it: the 202 says
    // so with the same header, and no NOTIFY follows (notify_refer() then sends nothing).
    std::string_view refer_sub = request.header("Refer-Sub");
    refer_sub = sip::detail::trim(refer_sub.substr(0, refer_sub.find(';')));
    const bool subscription = !sip::detail::iequals(refer_sub, "false");
    static constexpr std::pair<std::string_view, std::string_view> no_subscription[] = {{"Refer-Sub", "false"}};
    using named_headers = std::span<const std::pair<std::string_view, std::string_view>>;
    respond_to(request, key, 202, true, subscription ? named_headers{} : named_headers{no_subscription});
    events_.push_back(std::move(ev));
    if (!subscription) return;
    peer_refer fresh;
    fresh.cseq = cseq->number;
    fresh.expires_at = now + std::chrono::duration_cast<duration>(refer_subscription);
    peer_refer_ = std::move(fresh);
    // RFC 3515 §2.4.4: the implicit subscription starts with an immediate NOTIFY.
    send_refer_notify(100, false, {}, now);
}

void invite_session::notify_refer(int status, time_point now) {
    if (!peer_refer_ || status < 100 || status > 699 || state_ == session_state::terminated) return;
    // RFC 3515 §2.4.7: the NOTIFY with the final status ends the subscription, reason=noresource.
    send_refer_notify(status, status >= 200, "noresource", now);
}

time_point invite_session::final_notify_deadline() const noexcept {
    return peer_refer_->expires_at + 64 * cfg_.timers.t1;
}

void invite_session::send_refer_notify(int status, bool final, std::string_view reason, time_point now) {
    if (!peer_refer_ || !dialog_ || peer_refer_->final_queued()) return;
    peer_refer_->last_status = status;
    if (peer_refer_->notify_cseq != 0) {
        // The last NOTIFY has no final response yet: this state follows it (on_dialog_response).
        peer_refer_->queued = peer_refer::queued_notify{status, final, std::string(reason)};
        return;
    }
    std::string sub_state;
    if (final) {
        sub_state = "terminated;reason=" + std::string(reason);
    } else {
        // The time left, rounded up (RFC 6665: expires says how long the subscription still lasts).
        const auto left = std::chrono::ceil<std::chrono::seconds>(peer_refer_->expires_at - now);
        sub_state = "active;expires=" + std::to_string(std::max<long long>(static_cast<long long>(left.count()), 1));
    }
    // RFC 3515 §2.4.6: the id names the REFER the NOTIFY reports on (needed from a second REFER on).
    header_list headers{{sip::header_id::event, "refer;id=" + std::to_string(peer_refer_->cseq)},
                        {sip::header_id::subscription_state, std::move(sub_state)}};
    send_in_dialog("NOTIFY", purpose::other, now, sipfrag_of(status), {}, false, 0, "message/sipfrag", std::move(headers));
    peer_refer_->notify_cseq = in_flight_.back().cseq;
    if (final) peer_refer_.reset();
}

void invite_session::stop_provisional_retransmits() {
    unacked_provisional_.clear();
    prack_retransmit_at_.reset();
    prack_deadline_.reset();
}

void invite_session::stop_timers() {
    stop_provisional_retransmits();
    retransmit_at_.reset();
    ack_deadline_.reset();
    refresh_at_.reset();
    expire_at_.reset();
    reoffer_retry_at_.reset();
    queued_reoffer_.reset();
    // Once the call is ending no subscription of a REFER is kept up: NOTIFYs for ours are still
    // answered (refer_), none is sent for the peer's.
    if (refer_) refer_->deadline.reset();
    peer_refer_.reset();
}

void invite_session::send_bye(time_point now) {
    stop_timers();
    send_in_dialog("BYE", purpose::bye, now);
    state_ = session_state::terminating;
}

void invite_session::end_with_bye(int status, std::string reason, time_point now) {
    send_bye(now);
    // The call ends when the BYE is answered (or times out): until then the user agent keeps it,
    // so the BYE goes out even when the application stops right after.
    pending_end_ = std::make_pair(status, std::move(reason));
}

void invite_session::hangup(time_point now, std::string reason) {
    if (state_ == session_state::accepted || state_ == session_state::connected) return end_with_bye(0, std::move(reason), now);
    hangup(now);
}

void invite_session::hangup(time_point now) {
    switch (state_) {
        case session_state::incoming: reject(603, now); return;
        case session_state::calling:
        case session_state::early: cancel(now); return;
        case session_state::accepted:
        case session_state::connected: send_bye(now); return;
        case session_state::terminating:
        case session_state::terminated: return;
    }
}

void invite_session::on_dialog_response(const sip::message* response, time_point now, std::uint32_t cseq) {
    std::string_view method;  // the response's CSeq method: a number alone may name another dialog's request
    if (response) {
        if (auto cs = response->cseq()) {
            cseq = cs->number;
            method = cs->method;
        }
    }
    auto it = std::find_if(in_flight_.begin(), in_flight_.end(),
                           [&](const pending_request& r) { return r.cseq == cseq && (method.empty() || r.method == method); });
    if (it == in_flight_.end()) {
        // Not a request of ours we know (an old caller without cseq): only a BYE's end matters.
        if (state_ == session_state::terminating && (method.empty() || method == "BYE")) {
            if (pending_end_) end(pending_end_->first, std::move(pending_end_->second));
            else end(response ? response->status() : 408, "local hangup");
        }
        return;
    }
    pending_request req = std::move(*it);
    in_flight_.erase(it);
    const int status = response ? response->status() : 408;

    if (req.why == purpose::bye) {
        // Whatever the BYE's fate (200, 481, timeout), the call is over for us; a challenge is
        // answered once so that a PBX that authenticates BYE still gets one it accepts.
        if (req.why == purpose::bye && (status == 401 || status == 407) && cfg_.credentials && !req.authorized && response) {
            if (auto ch = auth::first_supported(*response)) {
                auto line = auth::authorization(*ch, *cfg_.credentials, "BYE", dialog_->remote_target(), token(16), 1);
                send_in_dialog("BYE", purpose::bye, now, {}, line, ch->proxy);
                return;
            }
        }
        if (state_ == session_state::terminating) {
            if (pending_end_) end(pending_end_->first, std::move(pending_end_->second));
            else end(status, "local hangup");
        }
        return;
    }
    // A PRACK's fate changes nothing but a challenge, answered once: the INVITE's own response
    // decides the call.
    if (req.method == "PRACK") {
        retry_with_credentials(req, response, now);
        return;
    }
    if (req.method == "NOTIFY") {
        // Ours for the peer's REFER, which may have come before its ACK (state accepted): handled
        // in either state, or the NOTIFYs queued behind this one would never go. Once the call
        // ends there is no subscription (stop_timers()).
        // RFC 6665 (and RFC 5057 on dialog usages): a NOTIFY refused or unanswered ends the
        // subscription, not the call.
        if (!dialog_ || !peer_refer_ || peer_refer_->notify_cseq != req.cseq) return;  // an earlier subscription's
        if (retry_with_credentials(req, response, now)) {
            peer_refer_->notify_cseq = in_flight_.back().cseq;  // the one to wait for now
            return;
        }
        if (status >= 300) {
            peer_refer_.reset();
            return;
        }
        // Answered: the state reported meanwhile, if any, goes now.
        peer_refer_->notify_cseq = 0;
        if (auto next = std::exchange(peer_refer_->queued, std::nullopt))
            send_refer_notify(next->status, next->final, next->reason, now);
        return;
    }
    if (state_ != session_state::connected || !dialog_) return;  // e.g. a re-offer's answer after our BYE
    if (retry_with_credentials(req, response, now)) return;
    if (req.method == "REFER") {
        refer_response(req, status, now);
        if (status != 481 && status != 408) return;  // those end the call too, below
    }

    // RFC 3261 §12.2.1.2: a 481 or 408 (or no answer at all) to a request inside the dialog ends it.
    if (status == 481 || status == 408) {
        end_with_bye(status,
                     status == 481 ? "the peer no longer knows the call (481 to " + req.method + ")"
                                   : "no answer to our " + req.method + " (408)",
                     now);
        return;
    }
    if (status == 422 && response && cfg_.session_expires != 0 && timer_retries_ < 2) {
        if (auto min = response->min_se(); min && *min > 0) {
            ++timer_retries_;
            cfg_.min_se = std::max(cfg_.min_se, *min);
            se_interval_ = std::max(se_interval_, *min);
            send_in_dialog(req.method, req.why, now, req.sdp, {}, false, req.glare_retries);
            return;
        }
    }

    if (req.method == "INVITE") {
        if (status >= 200 && status < 300 && response) {
            // RFC 3261 §13.2.2.4: the ACK of a re-INVITE's 2xx, with the re-INVITE's CSeq.
            dialog_->on_target_refresh_response(*response);
            outputs_.push_back({session_output_kind::send_ack, {}, 0, dialog_->request("ACK", via(), req.cseq).str(),
                                dialog_->next_hop()});
            apply_uac_timer(*response);
            start_session_timer(now);
            if (req.why == purpose::reoffer) {
                local_sdp_ = req.sdp;
                const std::string sdp = sdp_of(*response);
                events_.push_back({session_event_kind::answer, status, sdp, {}});
            }
        } else if (status == 491 && req.glare_retries == 0) {
            retry_after_glare(req, now);
            return;
        } else if (req.why == purpose::reoffer) {
            events_.push_back({session_event_kind::offer_rejected, status, {},
                               response ? std::string(response->reason_phrase()) : std::string("no answer")});
        } else {
            start_session_timer(now);  // a refresh refused for another reason: try again later
        }
        try_queued_reoffer(now);
        return;
    }
    if (req.method == "UPDATE") {
        const bool offer = req.why == purpose::reoffer;
        if (status >= 200 && status < 300 && response) {
            dialog_->on_target_refresh_response(*response);
            apply_uac_timer(*response);
            start_session_timer(now);
            if (offer) {
                local_sdp_ = req.sdp;
                events_.push_back({session_event_kind::answer, status, sdp_of(*response), {}});
            }
        } else if (status == 405 || status == 501) {
            // The peer does not take UPDATE after all: the offer (or the refresh) by re-INVITE at once.
            peer_allows_update_ = false;
            send_in_dialog("INVITE", req.why, now, offer ? req.sdp : local_sdp_);
            return;
        } else if (offer && status == 491 && req.glare_retries == 0) {
            retry_after_glare(req, now);  // RFC 3311 §5.2: as for a re-INVITE
            return;
        } else if (offer) {
            events_.push_back({session_event_kind::offer_rejected, status, {},
                               response ? std::string(response->reason_phrase()) : std::string("no answer")});
        } else {
            start_session_timer(now);
        }
        try_queued_reoffer(now);
        return;
    }
}

void invite_session::retry_after_glare(const pending_request& req, time_point now) {
    // RFC 3261 §14.1: glare: again after 2.1-4 s when we own the Call-ID, else 0-2 s.
    std::uniform_int_distribution<int> ms = uac_ ? std::uniform_int_distribution<int>(2100, 4000)
                                                 : std::uniform_int_distribution<int>(0, 2000);
    reoffer_retry_ = req;
    reoffer_retry_.glare_retries = 1;
    reoffer_retry_.authorized = false;
    reoffer_retry_at_ = now + duration(ms(rng_));
}

void invite_session::on_time(time_point now) {
    if (prack_deadline_ && now >= *prack_deadline_ && state_ == session_state::incoming) {
        // RFC 3262 §3: no PRACK in 64*T1: the INVITE is refused with a 5xx.
        respond_invite(500, {}, now);
        end(500, "no PRACK for our reliable provisional response");
        return;
    }
    if (prack_retransmit_at_ && now >= *prack_retransmit_at_ && !unacked_provisional_.empty()) {
        outputs_.push_back({session_output_kind::respond, invite_key_, unacked_status_, unacked_provisional_, {}});
        prack_interval_ *= 2;
        prack_retransmit_at_ = now + prack_interval_;
    }
    if (retransmit_at_ && now >= *retransmit_at_) {
        outputs_.push_back({session_output_kind::respond, invite_key_, 200, final_response_, {}});
        retransmit_interval_ = std::min(2 * retransmit_interval_, cfg_.timers.t2);
        retransmit_at_ = now + retransmit_interval_;
    }
    if (ack_deadline_ && now >= *ack_deadline_) {
        retransmit_at_.reset();
        ack_deadline_.reset();
        if (state_ == session_state::accepted) {
            // RFC 3261 §13.3.1.4: no ACK: the dialog is confirmed but the session ends with a BYE.
            end_with_bye(408, "no ACK for the 2xx", now);
            return;
        }
        awaiting_ack_answer_ = false;
    }
    if (peer_refer_ && peer_refer_->final_queued() && now >= final_notify_deadline()) {
        // The open NOTIFY's transaction ends long before this (64*T1 after it was sent): a last guard
        // so that a subscription can never outlive its expiry by more.
        peer_refer_.reset();
    }
    if (peer_refer_ && !peer_refer_->final_queued() && now >= peer_refer_->expires_at && state_ != session_state::terminated) {
        // The application never told the outcome: the subscription runs out (RFC 6665, reason=timeout).
        send_refer_notify(peer_refer_->last_status, true, "timeout", now);
    }
    if (state_ != session_state::connected) return;
    if (refer_ && refer_->deadline && now >= *refer_->deadline) {
        const bool reported = refer_->finished;
        refer_.reset();
        if (!reported) {
            session_event ev{session_event_kind::refer_failed, 408, {}, "the transfer's subscription ended without an outcome"};
            ev.final = true;
            events_.push_back(std::move(ev));
        }
    }
    if (reoffer_retry_at_ && now >= *reoffer_retry_at_) {
        reoffer_retry_at_.reset();
        if (offer_open()) {
            // The peer's own offer got in first; ours follows it.
            if (reoffer_retry_.why == purpose::reoffer && !queued_reoffer_) {
                queued_reoffer_ = reoffer_retry_.sdp;
                queued_by_update_ = reoffer_retry_.method == "UPDATE";
            }
        } else {
            const std::string& sdp = reoffer_retry_.why == purpose::refresh ? local_sdp_ : reoffer_retry_.sdp;
            send_in_dialog(offer_method(reoffer_retry_.method == "UPDATE"), reoffer_retry_.why, now, sdp, {}, false,
                           reoffer_retry_.glare_retries);
        }
    }
    if (refresh_at_ && now >= *refresh_at_) {
        refresh_at_.reset();
        if (offer_open()) {
            refresh_at_ = now + duration(1000);  // an offer is on its way; it refreshes the session too
        } else if (peer_allows_update_) {
            send_in_dialog("UPDATE", purpose::refresh, now);  // RFC 4028 §7.4: UPDATE needs no SDP
        } else {
            send_in_dialog("INVITE", purpose::refresh, now, local_sdp_);
        }
    }
    if (expire_at_ && now >= *expire_at_) {
        expire_at_.reset();
        // RFC 4028 §10: no refresh came: the session is over.
        end_with_bye(408, "session timer expired: no refresh within " + std::to_string(se_interval_) + " s", now);
    }
}

std::optional<time_point> invite_session::next_deadline() const noexcept {
    std::optional<time_point> next;
    for (const auto& t : {retransmit_at_, ack_deadline_, reoffer_retry_at_, refresh_at_, expire_at_, prack_retransmit_at_, prack_deadline_})
        if (t && (!next || *t < *next)) next = t;
    // on_time() acts on a REFER's deadline only in a confirmed call (stop_timers() clears them when
    // it ends), so a deadline never stays due without being acted on.
    if (refer_ && refer_->deadline && state_ == session_state::connected && (!next || *refer_->deadline < *next))
        next = refer_->deadline;
    // (Once the final NOTIFY waits for the last one's response, only the guard of on_time() is left.)
    if (peer_refer_) {
        const time_point due = peer_refer_->final_queued() ? final_notify_deadline() : peer_refer_->expires_at;
        if (!next || due < *next) next = due;
    }
    return next;
}

void invite_session::end(int status, std::string reason) {
    if (state_ == session_state::terminated) return;
    state_ = session_state::terminated;
    stop_timers();
    refer_.reset();
    events_.push_back({session_event_kind::terminated, status, {}, std::move(reason)});
}

}  // namespace sipvoice::ua
