// Server transactions: INVITE (RFC 3261 §17.2.1 with the RFC 6026 Accepted state) and non-INVITE (§17.2.2).
#include <algorithm>

#include "sipvoice/sip/builder.hpp"
#include "sipvoice/transaction/transaction.hpp"

namespace sipvoice::transaction {

server_transaction::server_transaction(sip::message request, bool reliable, timer_config timers, time_point now)
    : request_(std::move(request)), invite_(request_.method() == sip::method::invite), reliable_(reliable),
      cfg_(timers), interval_(timers.t1) {
    (void)now;
    outputs_.push_back({output_kind::request, {}, request_});
    if (invite_) {
        // §17.2.1: answer 100 Trying now rather than wait to see whether the TU answers within 200 ms.
        state_ = state::proceeding;
        send(sip::message_builder::response_to(request_, 100).str());
    } else {
        state_ = state::trying;
    }
}

void server_transaction::send(const std::string& bytes) {
    last_response_ = bytes;
    outputs_.push_back({output_kind::send, bytes, {}});
}

void server_transaction::start(timer t, duration d, time_point now) { timers_[static_cast<std::size_t>(t)] = now + d; }

void server_transaction::terminate() {
    for (auto& t : timers_) t.reset();
    state_ = state::terminated;
    outputs_.push_back({output_kind::terminated, {}, {}});
}

std::optional<time_point> server_transaction::next_deadline() const noexcept {
    std::optional<time_point> next;
    for (const auto& t : timers_)
        if (t && (!next || *t < *next)) next = t;
    return next;
}

void server_transaction::on_time(time_point now) {
    for (;;) {
        std::optional<std::size_t> due;
        for (std::size_t i = 0; i < timer_count; ++i)
            if (timers_[i] && *timers_[i] <= now && (!due || *timers_[i] < *timers_[*due])) due = i;
        if (!due || state_ == state::terminated) return;
        timers_[*due].reset();
        fire(static_cast<timer>(*due), now);
    }
}

void server_transaction::fire(timer t, time_point now) {
    switch (t) {
        case timer::g:  // §17.2.1: retransmit the final response, doubling up to T2
            if (state_ != state::completed) return;
            outputs_.push_back({output_kind::send, last_response_, {}});
            interval_ = std::min(2 * interval_, cfg_.t2);
            start(timer::g, interval_, now);
            return;
        case timer::h:  // no ACK came
            outputs_.push_back({output_kind::timeout, {}, {}});
            terminate();
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
        outputs_.push_back({output_kind::send, last_response_, {}});
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

void server_transaction::on_transport_error() {
    if (state_ == state::terminated) return;
    outputs_.push_back({output_kind::transport_error, {}, {}});
    terminate();
}

}  // namespace sipvoice::transaction
