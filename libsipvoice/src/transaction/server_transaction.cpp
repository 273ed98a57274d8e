// Server transactions: INVITE (RFC 3261 §17.2.1 with the RFC 6026 Accepted state) and non-INVITE (§17.2.2).
#include <algorithm>

#include "sipvoice/sip/builder.hpp"
#include "sipvoice/transaction/server_transaction.hpp"

namespace sipvoice::transaction {

server_transaction::server_transaction(sip::message request, bool reliable, timer_config timers)
    : transaction(std::move(request), reliable, timers) {
    outputs_.push_back({output_kind::request, {}, request_});
    if (invite_) {
        // §17.2.1: answer 100 Trying now rather than wait to see whether the TU answers within 200 ms.
        state_ = state::proceeding;
        send(sip::message_builder::response_to(request_, 100).str());
    } else {
        state_ = state::trying;
    }
}

void server_transaction::send(std::string bytes) {
    last_response_ = bytes;
    emit(output_kind::send, std::move(bytes));
}

void server_transaction::on_time(time_point now) {
    while (auto t = pop_due(now)) fire(*t, now);
}

void server_transaction::fire(timer t, time_point now) {
    switch (t) {
        case timer::g:  // §17.2.1: retransmit the final response, doubling up to T2
            if (state_ != state::completed) return;
            emit(output_kind::send, last_response_);
            interval_ = std::min(2 * interval_, cfg_.t2);
            start(timer::g, interval_, now);
            return;
        case timer::h:  // no ACK came
            fail(output_kind::timeout);
            return;
        case timer::i:
        case timer::j:
        case timer::l:
            terminate();
            return;
        default:
            return;
    }
}

void server_transaction::on_request(sip::message request, time_point now) {
    if (state_ == state::terminated) return;
    if (invite_ && request.method() == sip::method::ack) {
        if (state_ == state::completed) {  // the ACK for our non-2xx final response
            state_ = state::confirmed;
            stop(timer::g);
            stop(timer::h);
            if (reliable_) terminate();
            else start(timer::i, cfg_.t4, now);
        } else if (state_ == state::accepted) {
            // RFC 6026 §8.7: the ACK for a 2xx is the TU's business.
            outputs_.push_back({output_kind::request, {}, std::move(request)});
        }
        return;
    }
    // A retransmission of the request: resend the last response (§17.2.1, §17.2.2); absorbed while
    // Trying (nothing was sent yet) and once Accepted or Confirmed.
    if ((state_ == state::proceeding || state_ == state::completed) && !last_response_.empty())
        emit(output_kind::send, last_response_);
}

void server_transaction::respond(std::string response_bytes, int status, time_point now) {
    if (state_ == state::terminated) return;
    if (invite_) {
        if (state_ == state::accepted) {  // RFC 6026 §8.5: the TU retransmits its 2xx through here
            if (status >= 200 && status < 300) send(response_bytes);
            return;
        }
        if (state_ != state::proceeding) return;
        send(response_bytes);
        if (status < 200) return;
        if (status < 300) {
            state_ = state::accepted;
            start(timer::l, 64 * cfg_.t1, now);
            return;
        }
        state_ = state::completed;
        if (!reliable_) start(timer::g, cfg_.t1, now);
        start(timer::h, 64 * cfg_.t1, now);
        return;
    }
    if (state_ != state::trying && state_ != state::proceeding) return;
    send(response_bytes);
    if (status < 200) {
        state_ = state::proceeding;
        return;
    }
    state_ = state::completed;
    if (reliable_) terminate();
    else start(timer::j, 64 * cfg_.t1, now);
}

}  // namespace sipvoice::transaction
