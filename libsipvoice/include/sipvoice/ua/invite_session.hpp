// sipvoice/ua/invite_session.hpp: one call's signaling (RFC 3261 §13-15, RFC 3264 offer/answer
// carried as opaque SDP text), as a sans-I/O state machine on top of ua/dialog.
//
// The session builds the messages of its call and reacts to those of the peer; it sends nothing
// itself. The user agent around it runs every request through the transaction layer, hands in what
// arrives, calls on_time() at next_deadline(), and drains take_outputs() and take_events():
//
//   auto s = ua::invite_session::incoming(invite, server_key, cfg, seed);  // UAS
//   s.ring(now);                        // 180 Ringing
//   s.accept(answer_sdp, now);          // 200 OK, retransmitted until the ACK comes (§13.3.1.4)
//   ... s.on_ack(ack, now) -> event connected ...
//   s.hangup(now);                      // BYE
//
//   auto c = ua::invite_session::outgoing("sip:bob@example.com", offer_sdp, cfg, seed, now);  // UAC
//   ... c.on_response(resp, now): 1xx -> early, 2xx -> ACK sent and connected, else ended ...
//
// What it covers: UAS answer/reject/ring with the 2xx retransmitted until ACK (a call without ACK
// ends with a BYE after 64*T1), INVITE without offer (offer in 200, answer in ACK), CANCEL before
// the final response (487), BYE both ways, a lower in-dialog CSeq answered 500, re-INVITE and UPDATE
// offers handed to the application (491 while another offer is open), INFO with
// application/dtmf-relay or application/dtmf as DTMF events; UAC with provisional responses, early
// dialog, ACK for the 2xx built here, CANCEL, 401/407 answered with credentials, 3xx followed to the
// first Contact (a limited number of times), 422 retried with the peer's Min-SE, non-2xx endings,
// and extra 2xx from a forking proxy ACKed and BYEd; reliable provisional responses (RFC 3262, 100rel)
// in both roles: our INVITE says Supported: 100rel and each reliable 1xx is PRACKed once (its
// retransmissions and out-of-order ones dropped), and an INVITE that requires 100rel gets its 180/183
// with RSeq, retransmitted until the PRACK comes (answered 200; one that matches nothing 481), a 500
// after 64*T1 without one (an offerless INVITE gets no provisional response then: the first reliable
// one would have to carry our offer; our own offerless INVITE does not say 100rel); one reliable
// provisional response at a time (ring() while one waits for its PRACK sends nothing); re-offers of our own (re-INVITE) with 491
// retried after the RFC 3261 §14.1 delay and 481/408 ending the call; session timers (RFC 4028) in
// both roles: Session-Expires and Min-SE negotiated, the refresher sends an UPDATE (or a re-INVITE
// with the last SDP when the peer does not allow UPDATE) at half the interval, the other side ends
// the call with a BYE when no refresh came in time.
//
// Blind transfer (RFC 3515 REFER, RFC 3420 message/sipfrag), in both roles:
//  - transferor: refer() sends REFER with Refer-To and Referred-By (RFC 3892); its 2xx is
//    refer_accepted, each NOTIFY of the implicit subscription is answered 200 and reported as
//    refer_progress with the status of the sipfrag body, a final failure (non-2xx to the REFER, no
//    answer, a NOTIFY with a sipfrag status >= 300) as refer_failed. One REFER at a time.
//  - transferee: a REFER in the confirmed call is answered 202 at once, a NOTIFY "SIP/2.0 100
//    Trying" follows, and refer_requested hands the Refer-To URI (with the REFER's Referred-By as a
//    URI header, RFC 3892, so that the INVITE to it carries one) to the application, which reports
//    the outcome of its own INVITE with notify_refer() (a final status ends the subscription).
//    One NOTIFY is outstanding at a time: a state reported while the last NOTIFY awaits its
//    response goes out once that response came, the newest state only (a final one always), so
//    that the peer sees them in order.
//    A REFER with "Refer-Sub: false" (RFC 4488) gets a 202 with "Refer-Sub: false" and no
//    subscription: no NOTIFY at all, and notify_refer() sends nothing.
// The subscription is not refreshed with SUBSCRIBE (we send none and answer none); each side ends it
// on its own when it runs out (see refer() and notify_refer()).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "sipvoice/auth/digest.hpp"
#include "sipvoice/clock.hpp"
#include "sipvoice/sip/message.hpp"
#include "sipvoice/transaction/transaction.hpp"
#include "sipvoice/ua/dialog.hpp"

namespace sipvoice::ua {

struct session_config {
    std::string local_uri;      // From of an outgoing call, e.g. "<sip:1001@pbx.example.com>"
    std::string contact;        // our Contact, e.g. "<sip:1001@192.0.2.10:5060>"
    std::string via_transport = "UDP";
    std::string sent_by;        // host:port for our Via
    std::string user_agent = "sipvoice";
    std::string allow = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, PRACK";
    // A REFER from the peer (RFC 3515): accepted (202, then refer_requested) or declined with 603.
    bool accept_refer = true;
    transaction::timer_config timers;
    // UAC: credentials for a 401/407 (to the INVITE and to requests inside the dialog), and the
    // outbound proxy the INVITE goes to (with a loose Route to it), e.g. "sip:pbx.example.com;transport=tcp".
    std::optional<auth::credentials> credentials;
    std::string outbound_proxy;
    int max_redirects = 3;  // 3xx followed before the call fails with the 3xx
    // RFC 4028 session timers: the interval we ask for (seconds) and the smallest we accept; 0 turns
    // session timers off (a peer's Session-Expires is then ignored, which the RFC allows).
    std::uint32_t session_expires = 1800;
    std::uint32_t min_se = 90;
};

enum class session_state : std::uint8_t {
    incoming,     // UAS: INVITE received, no final response yet
    calling,      // UAC: INVITE sent, nothing with a To tag back yet
    early,        // a provisional response created an early dialog
    accepted,     // UAS: 2xx sent, waiting for the ACK
    connected,    // confirmed dialog
    terminating,  // our BYE or CANCEL is out
    terminated,
};
std::string_view session_state_name(session_state s) noexcept;

enum class session_event_kind : std::uint8_t {
    progress,    // UAC: a provisional response (status, and early media SDP when it carries one)
    offer,       // the peer's offer (re-INVITE, or the ACK/200 answering our offerless INVITE): answer it
    answer,      // the peer's answer to our offer
    connected,   // the dialog is confirmed
    terminated,  // the call is over: status and reason say why
    dtmf,        // a key in a SIP INFO (digit, duration_ms)
    offer_rejected,  // our re-offer failed with `status`; the previous session stays in force
    // Our REFER (refer()):
    refer_accepted,  // its 2xx (status: 202, or 200)
    // A NOTIFY of its subscription: `status` is the code of the sipfrag status line ("SIP/2.0 180
    // Ringing" -> 180, 0 when the body had none we could read), `final` set when that code is >= 200
    // or the subscription is terminated. A NOTIFY reporting a failure (>= 300) is refer_failed
    // instead, so every NOTIFY gives one event.
    refer_progress,
    // The transfer failed: a non-2xx final response to the REFER (408 when none came: the call then
    // ends too, RFC 3261 §12.2.1.2), a NOTIFY with a sipfrag status >= 300, or 408 when the
    // subscription ended without an outcome (no NOTIFY within 64*T1 of the 2xx, or none before the
    // last one's expiry). `status` says which; `final` is set.
    refer_failed,
    // The peer asks us to transfer (its REFER, answered 202): call `target` (the Refer-To URI, any
    // ?headers such as Replaces kept) and report the outcome with notify_refer().
    refer_requested,
};

struct session_event {
    session_event_kind kind = session_event_kind::progress;
    int status = 0;
    std::string sdp;
    std::string reason;  // for terminated: "remote hangup", "cancelled", "rejected 486 Busy Here", ...
    char digit = 0;      // for dtmf
    int duration_ms = 0;
    std::string target{};  // for refer_requested: the Refer-To URI (+ ?Referred-By=..., RFC 3892)
    bool final = false;  // for refer_progress (and refer_failed, always final)
};

enum class session_output_kind : std::uint8_t {
    respond,   // a response to the server transaction `key` (layer.respond)
    request,   // a request for a new client transaction toward `destination` (BYE, re-INVITE...)
    send_ack,  // an ACK for a 2xx: sent as is to `destination`, no transaction (RFC 3261 §13.2.2.4)
    cancel,    // a CANCEL for our INVITE: a client transaction toward the INVITE's destination
};

struct session_output {
    session_output_kind kind = session_output_kind::request;
    std::string key;          // for respond
    int status = 0;           // for respond
    std::string bytes;
    std::string destination;  // URI of the next hop for request / send_ack / cancel
    std::uint32_t cseq = 0;   // for request: its CSeq number, handed back to on_dialog_response()
};

class invite_session {
public:
    // UAS: `invite` arrived on server transaction `key`.
    static invite_session incoming(const sip::message& invite, std::string key, session_config cfg, std::uint64_t seed);
    // UAC: builds the INVITE (take_outputs() has it as a request) with `offer_sdp` (may be empty: then
    // the 200 carries the peer's offer and the ACK our answer, see answer()). Headers in the URI
    // ("sip:bob@pbx?Replaces=..." from a Refer-To, RFC 3261 §19.1.5) go into the INVITE rather than its
    // Request-URI: Replaces, Subject, Priority, Alert-Info, Call-Info and Referred-By; others are
    // ignored, and so is one whose value would not be a single header line.
    static invite_session outgoing(std::string target_uri, std::string offer_sdp, session_config cfg, std::uint64_t seed,
                                   time_point now);

    // ---- UAS
    void ring(time_point now, int status = 180);
    // 200 OK with `sdp`: the answer to the INVITE's offer, or our offer when it had none.
    void accept(std::string sdp, time_point now);
    // A final refusal of the INVITE (486, 603...); in a confirmed call, the refusal of the peer's
    // pending re-INVITE or UPDATE offer (488), after which the call goes on as before.
    void reject(int status, time_point now);
    void on_ack(const sip::message& ack, time_point now);
    // A CANCEL matched our INVITE (the user agent answers the CANCEL itself with 200).
    void on_cancel(time_point now);

    // ---- UAC
    void on_response(const sip::message& response, time_point now);
    // The INVITE's transaction timed out or could not be sent.
    void on_invite_failed(std::string reason, time_point now);
    // RFC 3263 §4.3: the INVITE again in a new transaction (new branch, next CSeq, no credentials:
    // another server challenges anew), for the user agent to send to the destination's next server
    // after no answer, a transport error or a 503. False, and nothing sent, once the call has moved
    // on: a provisional response came, a CANCEL is wanted, or it ended.
    bool resend_invite(time_point now);
    void cancel(time_point now);

    // ---- both
    // A request inside the dialog (BYE, re-INVITE, INFO, UPDATE, OPTIONS, REFER, NOTIFY) on server
    // transaction `key`.
    void on_request(const sip::message& request, const std::string& key, time_point now);
    // The final response to a request this session sent in the dialog (BYE, re-INVITE, UPDATE,
    // INFO, REFER, NOTIFY): `response` is nullptr when there was none (timeout, transport error); `cseq` is the
    // request's (session_output::cseq), needed when there is no response.
    void on_dialog_response(const sip::message* response, time_point now, std::uint32_t cseq = 0);
    // The answer to the peer's offer (after an offer event: re-INVITE, UPDATE). An offer event with
    // empty SDP is a re-INVITE without offer: answer() then takes OUR offer, and the peer's answer
    // comes in the ACK (an answer event).
    void answer(std::string sdp, time_point now);
    // A new offer of ours in the confirmed dialog (hold, unhold, codec change): a re-INVITE, or with
    // `by_update` an UPDATE (RFC 3311: no ACK, answered at once; a peer that does not take UPDATE,
    // 405/501 or no UPDATE in its Allow, gets the re-INVITE instead). The answer comes as an answer
    // event, a failure as offer_rejected. While another offer is open the re-offer waits for it.
    void reoffer(std::string sdp, time_point now, bool by_update = false);
    // A key sent as SIP INFO with application/dtmf-relay ("Signal=5", "Duration=160"), for peers that
    // take DTMF that way rather than as RFC 4733 events. Only in a confirmed call; false otherwise or
    // for a key that is not 0-9 * # A-D.
    bool send_dtmf_info(char digit, int duration_ms, time_point now);
    // Blind transfer: a REFER (RFC 3515) asking the peer to call `refer_to_uri` ("sip:1003@pbx",
    // with or without <>), with Referred-By our URI, routed like every request in the dialog (a
    // 401/407 is answered once with the credentials). False, and nothing sent, when the call is not
    // confirmed, the URI does not parse, or an earlier REFER has no final outcome yet. Outcome:
    // refer_accepted, refer_progress..., or refer_failed. The call itself goes on: hang up once the
    // transfer succeeded. NOTIFYs are reported until the call has ended (a BYE of ours answered);
    // after that they get 481 from the user agent.
    bool refer(std::string refer_to_uri, time_point now);
    // Transferee: the outcome of the transfer the peer asked for (refer_requested), as a NOTIFY with
    // "SIP/2.0 <status> <reason>" in message/sipfrag: a status >= 200 is final (Subscription-State
    // terminated;reason=noresource), 101-199 is progress (the subscription stays active). Does nothing
    // when no REFER of the peer is open. An application that never calls it still ends the
    // subscription: when it expires (60 s) the session sends the terminated NOTIFY itself
    // (reason=timeout, as RFC 6665 has it) with the last status.
    void notify_refer(int status, time_point now);
    void hangup(time_point now);
    // The same, but a confirmed call ends with `reason` (and status 0) once its BYE is answered:
    // "replaced" when another call took its place (RFC 3891).
    void hangup(time_point now, std::string reason);
    void on_time(time_point now);

    [[nodiscard]] session_state state() const noexcept { return state_; }
    [[nodiscard]] const std::optional<dialog>& current_dialog() const noexcept { return dialog_; }
    [[nodiscard]] std::optional<time_point> next_deadline() const noexcept;
    [[nodiscard]] const std::string& call_id() const noexcept { return call_id_; }
    // The session timer in force (RFC 4028), 0 when none; whether we are the refresher.
    [[nodiscard]] std::uint32_t session_interval() const noexcept { return se_interval_; }
    [[nodiscard]] bool refresher() const noexcept { return we_refresh_; }
    std::vector<session_output> take_outputs() { return std::exchange(outputs_, {}); }
    std::vector<session_event> take_events() { return std::exchange(events_, {}); }

private:
    invite_session(session_config cfg, std::uint64_t seed);
    std::string token(std::size_t n);
    std::string via();
    // rseq != 0: a reliable provisional response (RFC 3262: Require: 100rel, RSeq).
    std::string response_to_invite(int status, const std::string& sdp, std::uint32_t rseq = 0);
    void respond_invite(int status, std::string sdp, time_point now);
    void end(int status, std::string reason);
    void end_with_bye(int status, std::string reason, time_point now);  // BYE, then end when it is answered
    void send_bye(time_point now);  // BYE in the dialog; terminating until it is answered
    void stop_timers();
    void stop_provisional_retransmits();  // RFC 3262, UAS: the reliable 1xx goes no more
    // RFC 3262 §4, UAC: PRACK for the reliable provisional `response` of the early dialog with
    // `remote_tag`; false when it is not to be taken (no valid RSeq, a retransmission, out of order).
    bool prack(const sip::message& response, std::string_view remote_tag, time_point now);
    // RFC 3262 §3, UAS: a PRACK in the early dialog.
    void on_prack(const sip::message& request, const std::string& key);

    // Requests we send inside the dialog, and what their final response means.
    enum class purpose : std::uint8_t { bye, reoffer, refresh, other };
    using header_list = std::vector<std::pair<sip::header_id, std::string>>;
    struct pending_request {
        std::uint32_t cseq = 0;
        std::string method;
        purpose why = purpose::other;
        std::string sdp;
        bool authorized = false;  // already carries credentials: a second challenge is final
        int glare_retries = 0;
        std::string content_type = "application/sdp";  // of `sdp`, the body
        header_list headers;  // extra headers (Refer-To, Event...), sent again with credentials
    };
    void send_in_dialog(std::string method, purpose why, time_point now, const std::string& sdp = {},
                        const std::string& authorization_line = {}, bool proxy_auth = false, int glare_retries = 0,
                        std::string_view content_type = "application/sdp", header_list headers = {});
    // A 401/407 to a request in the dialog answered once with the credentials; false when not.
    bool retry_with_credentials(const pending_request& req, const sip::message* response, time_point now);

    // RFC 3515 REFER, both roles
    void on_refer(const sip::message& request, const std::string& key, time_point now);
    void on_notify(const sip::message& request, const std::string& key, time_point now);
    void refer_response(const pending_request& req, int status, time_point now);
    void respond_to(const sip::message& request, const std::string& key, int status, bool contact = false,
                    std::span<const std::pair<std::string_view, std::string_view>> extra = {});  // named headers
    void send_refer_notify(int status, bool final, std::string_view reason, time_point now);
    // With a final NOTIFY queued behind an open one: when the subscription is dropped regardless.
    [[nodiscard]] time_point final_notify_deadline() const noexcept;
    // UAC: (re)builds and sends the INVITE to target_ with the next CSeq.
    void send_invite(time_point now, const std::string& authorization_line = {}, bool proxy_auth = false);
    bool retry_invite(const sip::message& response, time_point now);  // 401/407, 3xx, 422, a redirect target failed
    bool next_redirect_target(time_point now);  // the next Contact of the last redirect, if any is left
    void retry_after_glare(const pending_request& req, time_point now);  // a 491 to our offer
    // The method of an offer of ours: UPDATE when asked for and the peer takes it, else re-INVITE.
    [[nodiscard]] const char* offer_method(bool by_update) const noexcept;

    // RFC 4028
    // `supported`: option tags our Supported lists before "timer" (the INVITE's "100rel").
    void add_session_timer_request_headers(sip::message_builder& b, std::string_view supported = {}) const;
    void add_session_timer_response_headers(sip::message_builder& b, const sip::message& request) const;
    bool timer_request_too_small(const sip::message& request, sip::message_builder* reject) const;
    void negotiate_uas_timer(const sip::message& request);
    void apply_uac_timer(const sip::message& response_2xx);
    void start_session_timer(time_point now);
    [[nodiscard]] bool offer_open() const noexcept;
    void try_queued_reoffer(time_point now);

    session_config cfg_;
    std::mt19937_64 rng_;
    session_state state_ = session_state::incoming;
    bool uac_ = false;
    std::string call_id_;
    std::string local_tag_;
    std::optional<dialog> dialog_;

    // UAS: the INVITE and its server transaction
    std::optional<sip::message> invite_;
    std::string invite_key_;
    bool invite_had_offer_ = false;
    std::string final_response_;  // the 2xx, retransmitted until the ACK
    duration retransmit_interval_{};
    std::optional<time_point> retransmit_at_;
    std::optional<time_point> ack_deadline_;

    // RFC 3262, UAS: the INVITE requires 100rel; the RSeq of our last reliable provisional response,
    // which is retransmitted (T1, doubling) until its PRACK comes, or the INVITE refused at the deadline.
    bool reliable_provisional_ = false;
    std::uint32_t rseq_ = 0;
    std::string unacked_provisional_;
    int unacked_status_ = 0;
    duration prack_interval_{};
    std::optional<time_point> prack_retransmit_at_;
    std::optional<time_point> prack_deadline_;
    bool rseq_acked_ = false;  // ...and its PRACK came (another PRACK for it gets 481)
    // RFC 3262, UAC: the RSeq last PRACKed in each early dialog (remote tag), and the early dialogs
    // of other forks than dialog_'s that we PRACKed in (their CSeq goes on from there).
    std::vector<std::pair<std::string, std::uint32_t>> pracked_;
    std::vector<dialog> forks_;
    std::vector<dialog>::iterator fork_with(std::string_view remote_tag);  // forks_.end() when none
    std::optional<dialog> take_fork(std::string_view remote_tag);          // ...taken out of forks_

    // UAC: what we sent
    std::string invite_bytes_;
    std::string target_;        // Request-URI of the INVITE (changes on a redirect)
    // Headers the target URI carried (?Replaces=...), which go into the INVITE (RFC 3261 §19.1.5).
    std::vector<std::pair<std::string, std::string>> uri_headers_;
    std::string original_to_;   // To of the INVITE (kept across redirects)
    std::string offer_sdp_;
    std::uint32_t invite_cseq_ = 1;
    bool offered_ = false;  // our INVITE carried an offer
    bool cancel_wanted_ = false;
    bool invite_authorized_ = false;
    int redirects_ = 0;
    std::deque<std::string> redirect_targets_;  // the last redirect's Contacts not tried yet, by q
    int timer_retries_ = 0;

    std::string local_sdp_;             // the last SDP we sent (refresh re-INVITEs repeat it)
    std::string pending_reinvite_key_;  // a re-INVITE waiting for the application's answer
    bool reinvite_offerless_ = false;   // ...which carried no offer: our answer() is the offer
    bool awaiting_ack_answer_ = false;  // our offer went in a re-INVITE's 2xx: the ACK has the answer
    std::string pending_update_key_;    // an UPDATE with an offer waiting for the answer
    std::optional<sip::message> update_;  // ...and that UPDATE
    std::vector<pending_request> in_flight_;
    std::optional<std::string> queued_reoffer_;
    bool queued_by_update_ = false;
    std::optional<time_point> reoffer_retry_at_;
    pending_request reoffer_retry_;
    bool peer_allows_update_ = false;

    // RFC 4028
    std::uint32_t se_interval_ = 0;
    bool we_refresh_ = false;
    std::optional<time_point> refresh_at_;
    std::optional<time_point> expire_at_;
    std::optional<std::pair<int, std::string>> pending_end_;  // why the call ends once our BYE is answered

    // RFC 3515: our REFER and its implicit subscription, until the outcome is known...
    struct our_refer {
        std::uint32_t cseq = 0;      // of the REFER (the NOTIFYs' Event id names it)
        bool finished = false;       // the outcome was reported; NOTIFYs are still answered 200
        std::optional<time_point> deadline;  // no (further) NOTIFY by then: the subscription is over
    };
    std::optional<our_refer> refer_;
    // ...and the peer's REFER we accepted, until its final NOTIFY.
    struct peer_refer {
        std::uint32_t cseq = 0;
        int last_status = 100;  // the last status we notified
        time_point expires_at{};
        // One NOTIFY at a time: the CSeq of the one awaiting its final response (0: none), and the
        // newest state to send once it has one (a later state replaces an earlier one; a final
        // one is kept).
        std::uint32_t notify_cseq = 0;
        struct queued_notify {
            int status = 0;
            bool final = false;
            std::string reason;
        };
        std::optional<queued_notify> queued;
        [[nodiscard]] bool final_queued() const noexcept { return queued && queued->final; }
    };
    std::optional<peer_refer> peer_refer_;

    std::vector<session_output> outputs_;
    std::vector<session_event> events_;
};

}  // namespace sipvoice::ua
