// Client transactions: INVITE (RFC 3261 §17.1.1 with the RFC 6026 Accepted state) and non-INVITE (§17.1.2).
#include <algorithm>

#include "sipvoice/sip/builder.hpp"
#include "sipvoice/transaction/client_transaction.hpp"

namespace sipvoice::transaction {

client_transaction::client_transaction(sip::message request, bool reliable, timer_config timers, time_point now)
    : transaction(std::move(request), reliable, timers), wire_(request_.bytes()) {
    emit(output_kind::send, wire_);
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

void client_transaction::on_time(time_point now) {
    while (auto t = pop_due(now)) fire(*t, now);  // earliest first: a firing may stop or restart others
}

void client_transaction::fire(timer t, time_point now) {
    switch (t) {
        case timer::a:  // §17.1.1.2: retransmit, doubling the interval
            if (state_ != state::calling) return;
            emit(output_kind::send, wire_);
            interval_ *= 2;
            start(timer::a, interval_, now);
            return;
        case timer::e:  // §17.1.2.2: doubling up to T2 while Trying, T2 once Proceeding
            if (state_ != state::trying && state_ != state::proceeding) return;
            emit(output_kind::send, wire_);
            interval_ = state_ == state::trying ? std::min(2 * interval_, cfg_.t2) : cfg_.t2;
            start(timer::e, interval_, now);
            return;
        case timer::b:
        case timer::f:
            fail(output_kind::timeout);
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
                    emit(output_kind::send, ack_);
                    deliver();
                    if (reliable_) terminate();
                    else start(timer::d, duration{32000}, now);  // §17.1.1.2: at least 32 s over UDP
                }
                return;
            case state::accepted:
                if (status >= 200 && status < 300) deliver();
                return;
            case state::completed:
                if (status >= 300) emit(output_kind::send, ack_);  // the final was retransmitted
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
