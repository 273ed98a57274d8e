// Client transactions: INVITE (RFC 3261 §17.1.1 with the RFC 6026 Accepted state) and non-INVITE (§17.1.2).
#include <algorithm>

#include "sipvoice/sip/builder.hpp"
#include "sipvoice/transaction/transaction.hpp"

namespace sipvoice::transaction {

client_transaction::client_transaction(sip::message request, bool reliable, timer_config timers, time_point now)
    : request_(std::move(request)), wire_(request_.bytes()), invite_(request_.method() == sip::method::invite),
      reliable_(reliable), cfg_(timers), interval_(timers.t1) {
    send_request();
    if (invite_) {
        state_ = state::calling;
        if (!reliable_) start(timer::a, cfg_.t1, now);  // §17.1.1.2: retransmit over UDP only
        start(timer::b, 64 * cfg_.t1, now);
    } else {
        state_ = state::trying;
        if (!reliable_) start(timer::e, cfg_.t1, now);
        start(timer::f, 64 * cfg_.t1, now);
    }
}

void client_transaction::send_request() { outputs_.push_back({output_kind::send, wire_, {}}); }

void client_transaction::start(timer t, duration d, time_point now) { timers_[static_cast<std::size_t>(t)] = now + d; }

void client_transaction::terminate() {
    for (auto& t : timers_) t.reset();
    state_ = state::terminated;
    outputs_.push_back({output_kind::terminated, {}, {}});
}

std::optional<time_point> client_transaction::next_deadline() const noexcept {
    std::optional<time_point> next;
    for (const auto& t : timers_)
        if (t && (!next || *t < *next)) next = t;
    return next;
}

void client_transaction::on_time(time_point now) {
    // Fire every timer that is due, earliest first (a firing may stop or restart others).
    for (;;) {
        std::optional<std::size_t> due;
        for (std::size_t i = 0; i < timer_count; ++i)
            if (timers_[i] && *timers_[i] <= now && (!due || *timers_[i] < *timers_[*due])) due = i;
        if (!due || state_ == state::terminated) return;
        timers_[*due].reset();
        fire(static_cast<timer>(*due), now);
    }
}

void client_transaction::fire(timer t, time_point now) {
    switch (t) {
        case timer::a:  // §17.1.1.2: retransmit, doubling the interval
            if (state_ != state::calling) return;
            send_request();
            interval_ *= 2;
            start(timer::a, interval_, now);
            return;
        case timer::e:  // §17.1.2.2: doubling up to T2 while Trying, T2 once Proceeding
            if (state_ != state::trying && state_ != state::proceeding) return;
            send_request();
            interval_ = state_ == state::trying ? std::min(2 * interval_, cfg_.t2) : cfg_.t2;
            start(timer::e, interval_, now);
            return;
        case timer::b:
        case timer::f:
            outputs_.push_back({output_kind::timeout, {}, {}});
            terminate();
            return;
        case timer::d:
        case timer::k:
        case timer::m:
            terminate();
            return;
        default:
            return;
    }
}

void client_transaction::on_response(sip::message response, time_point now) {
    if (state_ == state::terminated || !response.is_response()) return;
    const int status = response.status();
    auto deliver = [&] { outputs_.push_back({output_kind::response, {}, std::move(response)}); };
    if (invite_) {
        switch (state_) {
            case state::calling:
            case state::proceeding:
                stop(timer::a);
                stop(timer::b);  // an INVITE may ring as long as the callee wants (Figure 5)
                if (status < 200) {
                    state_ = state::proceeding;
                    deliver();
                } else if (status < 300) {
                    // RFC 6026 §8.4: Accepted, so that 2xx retransmissions and forks reach the TU.
                    state_ = state::accepted;
                    deliver();
                    start(timer::m, 64 * cfg_.t1, now);
                } else {
                    state_ = state::completed;
                    ack_ = ack_for(request_, response);
                    outputs_.push_back({output_kind::send, ack_, {}});
                    deliver();
                    if (reliable_) terminate();
                    else start(timer::d, duration{32000}, now);  // §17.1.1.2: at least 32 s over UDP
                }
                return;
            case state::accepted:
                if (status >= 200 && status < 300) deliver();
                return;
            case state::completed:
                if (status >= 300) outputs_.push_back({output_kind::send, ack_, {}});  // the final was retransmitted
                return;
            default:
                return;
        }
    }
    if (state_ != state::trying && state_ != state::proceeding) return;  // Completed absorbs retransmissions
    if (status < 200) {
        state_ = state::proceeding;
        deliver();
        return;
    }
    state_ = state::completed;
    stop(timer::e);
    stop(timer::f);
    deliver();
    if (reliable_) terminate();
    else start(timer::k, cfg_.t4, now);
}

void client_transaction::on_transport_error() {
    if (state_ == state::terminated) return;
    outputs_.push_back({output_kind::transport_error, {}, {}});
    terminate();
}

std::string client_transaction::ack_for(const sip::message& invite, const sip::message& response) {
    // RFC 3261 §17.1.1.3: same Request-URI, Call-ID, From and CSeq number; To of the response; the
    // INVITE's top Via only; its Route headers.
    std::string_view via_line = invite.header(sip::header_id::via);  // the first Via line ...
    std::string_view top_via;
    sip::next_list_element(via_line, top_via);                        // ... and its first element
    sip::message_builder ack = sip::message_builder::request("ACK", invite.request_uri().text);
    ack.add(sip::header_id::via, top_via);
    ack.add(sip::header_id::max_forwards, "70");
    for (const sip::header_field& f : invite.fields())
        if (f.id == sip::header_id::route) ack.add(sip::header_id::route, invite.value(f));
    ack.add(sip::header_id::from, invite.header(sip::header_id::from));
    ack.add(sip::header_id::to, response.header(sip::header_id::to));
    ack.add(sip::header_id::call_id, invite.header(sip::header_id::call_id));
    auto cseq = invite.cseq();
    ack.add(sip::header_id::cseq, std::to_string(cseq ? cseq->number : 0) + " ACK");
    return ack.str();
}

}  // namespace sipvoice::transaction
