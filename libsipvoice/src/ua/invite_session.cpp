// Invite sessions (RFC 3261 §13-15): one call's signaling on top of a dialog.
#include "sipvoice/ua/invite_session.hpp"

#include <algorithm>

#include "sipvoice/sip/builder.hpp"
#include "text.hpp"

namespace sipvoice::ua {
namespace {

// The SDP a message carries, or empty (a body of another type is not an offer or answer).
std::string sdp_of(const sip::message& m) {
    if (m.body().empty()) return {};
    auto ct = m.content_type();
    if (ct && !ct->matches("application", "sdp")) return {};
    return std::string(m.body());
}

}  // namespace

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

// ---- UAS ------------------------------------------------------------------------------------------

invite_session invite_session::incoming(const sip::message& invite, std::string key, session_config cfg, std::uint64_t seed) {
    invite_session s(std::move(cfg), seed);
    s.state_ = session_state::incoming;
    s.invite_ = invite;
    s.invite_key_ = std::move(key);
    s.local_tag_ = s.token(10);
    if (auto id = invite.call_id()) s.call_id_ = std::string(*id);
    const std::string offer = sdp_of(invite);
    s.invite_had_offer_ = !offer.empty();
    if (s.invite_had_offer_) s.events_.push_back({session_event_kind::offer, 0, offer, {}});
    return s;
}

std::string invite_session::response_to_invite(int status, const std::string& sdp) {
    sip::message_builder b = sip::message_builder::response_to(*invite_, status, {}, status > 100 ? local_tag_ : "");
    if (status > 100 && status < 300) {
        // RFC 3261 §12.1.1: a dialog-creating response carries the Record-Route of the request
        // and our Contact.
        for (const sip::header_field& f : invite_->fields())
            if (f.id == sip::header_id::record_route) b.add(sip::header_id::record_route, invite_->value(f));
        b.add(sip::header_id::contact, cfg_.contact);
    }
    if (status >= 200 && status < 300) b.add(sip::header_id::allow, cfg_.allow);
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
    respond_invite(status, {}, now);
    if (!dialog_) dialog_ = dialog::for_uas(*invite_, local_tag_, cfg_.contact);  // early, §12.1.1
}

void invite_session::accept(std::string sdp, time_point now) {
    if (state_ != session_state::incoming || uac_) return;
    final_response_ = response_to_invite(200, sdp);
    outputs_.push_back({session_output_kind::respond, invite_key_, 200, final_response_, {}});
    if (!dialog_) dialog_ = dialog::for_uas(*invite_, local_tag_, cfg_.contact);
    if (!dialog_) {  // an INVITE without Contact cannot make a dialog; it passed validation, so rare
        end(500, "the INVITE had no usable Contact");
        return;
    }
    state_ = session_state::accepted;
    // RFC 3261 §13.3.1.4: the 2xx goes again at T1, 2*T1, ... up to T2 until the ACK comes; with
    // no ACK after 64*T1 the call is ended.
    retransmit_interval_ = cfg_.timers.t1;
    retransmit_at_ = now + retransmit_interval_;
    ack_deadline_ = now + 64 * cfg_.timers.t1;
}

void invite_session::reject(int status, time_point now) {
    if (state_ != session_state::incoming || uac_ || status < 300) return;
    respond_invite(status, {}, now);
    end(status, "rejected " + std::to_string(status) + " " + std::string(sip::reason_phrase(status)));
}

void invite_session::on_ack(const sip::message& ack, time_point now) {
    (void)now;
    if (state_ != session_state::accepted && state_ != session_state::connected) return;
    if (dialog_ && dialog_->on_request(ack) != dialog::check::ok) return;
    retransmit_at_.reset();
    ack_deadline_.reset();
    if (state_ == session_state::connected) return;  // the ACK of a re-INVITE's 2xx
    state_ = session_state::connected;
    // RFC 3264 §4 / RFC 3261 §13.2.1: our 200 carried the offer, the ACK carries the answer.
    if (!invite_had_offer_) {
        const std::string answer_sdp = sdp_of(ack);
        if (!answer_sdp.empty()) events_.push_back({session_event_kind::answer, 0, answer_sdp, {}});
    }
    events_.push_back({session_event_kind::connected, 200, {}, {}});
}

void invite_session::on_cancel(time_point now) {
    if (state_ != session_state::incoming || uac_) return;
    respond_invite(487, {}, now);  // RFC 3261 §9.2: the INVITE ends with 487
    end(487, "cancelled by the caller");
}

// ---- UAC ------------------------------------------------------------------------------------------

invite_session invite_session::outgoing(std::string target_uri, std::string offer_sdp, session_config cfg, std::uint64_t seed,
                                        time_point now) {
    (void)now;
    invite_session s(std::move(cfg), seed);
    s.uac_ = true;
    s.state_ = session_state::calling;
    s.target_ = std::move(target_uri);
    s.local_tag_ = s.token(10);
    s.call_id_ = s.token(20);
    s.offered_ = !offer_sdp.empty();
    sip::message_builder b = sip::message_builder::request("INVITE", s.target_);
    b.add(sip::header_id::via, s.via())
        .add(sip::header_id::max_forwards, "70")
        .add(sip::header_id::from, s.cfg_.local_uri + ";tag=" + s.local_tag_)
        .add(sip::header_id::to, "<" + s.target_ + ">")
        .add(sip::header_id::call_id, s.call_id_)
        .add(sip::header_id::cseq, std::to_string(s.invite_cseq_) + " INVITE")
        .add(sip::header_id::contact, s.cfg_.contact)
        .add(sip::header_id::allow, s.cfg_.allow)
        .add(sip::header_id::user_agent, s.cfg_.user_agent);
    if (s.offered_) b.body("application/sdp", offer_sdp);
    s.invite_bytes_ = b.str();
    if (auto parsed = sip::message::parse(s.invite_bytes_)) s.invite_ = std::move(*parsed);
    s.outputs_.push_back({session_output_kind::request, {}, 0, s.invite_bytes_, s.target_});
    return s;
}

void invite_session::on_response(const sip::message& response, time_point now) {
    if (!uac_ || !invite_) return;
    const int status = response.status();
    auto to = response.to();
    const std::string_view remote_tag = to ? to->tag() : std::string_view{};

    if (status >= 200 && status < 300) {
        if (state_ == session_state::terminated) return;
        // RFC 3261 §13.2.2.4: a second dialog from a forking proxy is ACKed and ended at once.
        if (dialog_ && !dialog_->early() && dialog_->id().remote_tag != remote_tag) {
            if (auto other = dialog::for_uac(*invite_, response)) {
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
        if (dialog_ && dialog_->id().remote_tag == remote_tag)
            dialog_->confirm(response);
        else
            dialog_ = dialog::for_uac(*invite_, response);
        if (!dialog_) {
            end(status, "the 2xx had no To tag or Contact");
            return;
        }
        const std::string sdp = sdp_of(response);
        if (offered_) {
            if (!sdp.empty()) events_.push_back({session_event_kind::answer, status, sdp, {}});
            sip::message_builder ack = dialog_->request("ACK", via(), invite_cseq_);
            outputs_.push_back({session_output_kind::send_ack, {}, 0, ack.str(), dialog_->next_hop()});
            state_ = session_state::connected;
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
        end(status, status == 487 ? "cancelled" : "rejected " + std::to_string(status) + " " + std::string(response.reason_phrase()));
        return;
    }
    if (status > 100 && state_ != session_state::terminated && state_ != session_state::terminating) {
        if (!remote_tag.empty() && !dialog_) dialog_ = dialog::for_uac(*invite_, response);
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

void invite_session::cancel(time_point now) {
    (void)now;
    if (!uac_ || !invite_) return;
    if (state_ == session_state::calling) {
        cancel_wanted_ = true;  // RFC 3261 §9.1: not before a provisional response has arrived
        return;
    }
    if (state_ != session_state::early) return;
    // RFC 3261 §9.1: the CANCEL copies Request-URI, Call-ID, From, To, CSeq number and the top Via
    // (same branch) of the INVITE.
    sip::message_builder b = sip::message_builder::request("CANCEL", target_);
    b.add(sip::header_id::via, invite_->header(sip::header_id::via))
        .add(sip::header_id::max_forwards, "70")
        .add(sip::header_id::from, invite_->header(sip::header_id::from))
        .add(sip::header_id::to, invite_->header(sip::header_id::to))
        .add(sip::header_id::call_id, call_id_)
        .add(sip::header_id::cseq, std::to_string(invite_cseq_) + " CANCEL")
        .add(sip::header_id::user_agent, cfg_.user_agent);
    outputs_.push_back({session_output_kind::cancel, {}, 0, b.str(), target_});
    state_ = session_state::terminating;
    cancel_wanted_ = false;
}

// ---- both -----------------------------------------------------------------------------------------

void invite_session::on_request(const sip::message& request, const std::string& key, time_point now) {
    auto respond = [&](int status) {
        sip::message_builder b = sip::message_builder::response_to(request, status);
        b.add(sip::header_id::server, cfg_.user_agent);
        outputs_.push_back({session_output_kind::respond, key, status, b.str(), {}});
    };
    if (!dialog_) return respond(481);
    switch (dialog_->on_request(request)) {
        case dialog::check::not_this_dialog: return respond(481);
        case dialog::check::out_of_order: return respond(500);  // RFC 3261 §12.2.2
        case dialog::check::ok: break;
    }
    const std::string_view method = request.method_name();
    if (method == "BYE") {
        respond(200);
        end(0, "remote hangup");
        return;
    }
    if (method == "INVITE") {
        // RFC 3261 §14.2: one offer at a time; a second re-INVITE meanwhile gets 491.
        if (!pending_reinvite_key_.empty() || state_ != session_state::connected) return respond(491);
        pending_reinvite_key_ = key;
        invite_ = request;
        invite_key_ = key;
        events_.push_back({session_event_kind::offer, 0, sdp_of(request), {}});
        return;
    }
    (void)now;
    respond(200);  // INFO, UPDATE without offer, OPTIONS: accepted (their content is the user agent's)
}

void invite_session::answer(std::string sdp, time_point now) {
    if (!pending_reinvite_key_.empty() && invite_) {
        final_response_ = response_to_invite(200, sdp);
        outputs_.push_back({session_output_kind::respond, pending_reinvite_key_, 200, final_response_, {}});
        pending_reinvite_key_.clear();
        retransmit_interval_ = cfg_.timers.t1;
        retransmit_at_ = now + retransmit_interval_;
        ack_deadline_ = now + 64 * cfg_.timers.t1;
        return;
    }
    if (uac_ && state_ == session_state::accepted && dialog_) {  // our offerless INVITE: the answer rides the ACK
        sip::message_builder ack = dialog_->request("ACK", via(), invite_cseq_);
        ack.body("application/sdp", sdp);
        outputs_.push_back({session_output_kind::send_ack, {}, 0, ack.str(), dialog_->next_hop()});
        state_ = session_state::connected;
        events_.push_back({session_event_kind::connected, 200, {}, {}});
    }
}

void invite_session::send_in_dialog(std::string_view method, time_point now, const std::string& sdp) {
    (void)now;
    if (!dialog_) return;
    sip::message_builder b = dialog_->request(method, via());
    if (method == "INVITE" || method == "UPDATE") b.add(sip::header_id::contact, cfg_.contact);
    b.add(sip::header_id::user_agent, cfg_.user_agent);
    if (!sdp.empty()) b.body("application/sdp", sdp);
    outputs_.push_back({session_output_kind::request, {}, 0, b.str(), dialog_->next_hop()});
}

void invite_session::hangup(time_point now) {
    switch (state_) {
        case session_state::incoming: reject(603, now); return;
        case session_state::calling:
        case session_state::early: cancel(now); return;
        case session_state::accepted:
        case session_state::connected:
            retransmit_at_.reset();
            ack_deadline_.reset();
            send_in_dialog("BYE", now);
            state_ = session_state::terminating;
            return;
        case session_state::terminating:
        case session_state::terminated: return;
    }
}

void invite_session::on_dialog_response(const sip::message* response, time_point now) {
    (void)now;
    if (state_ != session_state::terminating) return;
    // Whatever the BYE's fate (200, 481, timeout), the call is over for us.
    end(response ? response->status() : 408, "local hangup");
}

void invite_session::on_time(time_point now) {
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
            send_in_dialog("BYE", now);
            end(408, "no ACK for the 2xx");
        }
    }
}

std::optional<time_point> invite_session::next_deadline() const noexcept {
    std::optional<time_point> next = retransmit_at_;
    if (ack_deadline_ && (!next || *ack_deadline_ < *next)) next = ack_deadline_;
    return next;
}

void invite_session::end(int status, std::string reason) {
    if (state_ == session_state::terminated) return;
    state_ = session_state::terminated;
    retransmit_at_.reset();
    ack_deadline_.reset();
    events_.push_back({session_event_kind::terminated, status, {}, std::move(reason)});
}

}  // namespace sipvoice::ua
