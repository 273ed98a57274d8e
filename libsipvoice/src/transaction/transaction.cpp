// Transaction keys and the pieces shared by the client and server transactions (RFC 3261 §17).
#include "sipvoice/transaction/transaction.hpp"

#include "../sip/charset.hpp"

namespace sipvoice::transaction {

std::string_view state_name(state s) noexcept {
    switch (s) {
        case state::calling: return "calling";
        case state::trying: return "trying";
        case state::proceeding: return "proceeding";
        case state::completed: return "completed";
        case state::confirmed: return "confirmed";
        case state::accepted: return "accepted";
        case state::terminated: return "terminated";
    }
    return "?";
}

transaction::transaction(sip::message request, bool reliable, timer_config timers)
    : request_(std::move(request)), invite_(request_.method() == sip::method::invite), reliable_(reliable),
      cfg_(timers), interval_(timers.t1) {}

std::optional<time_point> transaction::next_deadline() const noexcept {
    std::optional<time_point> next;
    for (const auto& t : timers_)
        if (t && (!next || *t < *next)) next = t;
    return next;
}

std::optional<timer> transaction::pop_due(time_point now) {
    if (state_ == state::terminated) return std::nullopt;
    std::optional<std::size_t> due;
    for (std::size_t i = 0; i < timer_count; ++i)
        if (timers_[i] && *timers_[i] <= now && (!due || *timers_[i] < *timers_[*due])) due = i;
    if (!due) return std::nullopt;
    timers_[*due].reset();
    return static_cast<timer>(*due);
}

void transaction::terminate() {
    for (auto& t : timers_) t.reset();
    state_ = state::terminated;
    emit(output_kind::terminated);
}

void transaction::fail(output_kind why) {
    if (state_ == state::terminated) return;
    emit(why);
    terminate();
}

std::optional<std::string> server_key(const sip::message& request) {
    auto via = request.top_via();
    auto cseq = request.cseq();
    if (!via || !cseq || !request.is_request()) return std::nullopt;
    // RFC 3261 §17.2.3: the ACK of an INVITE belongs to the INVITE's transaction.
    const std::string_view method = request.method() == sip::method::ack ? "INVITE" : request.method_name();
    std::string key;
    if (via->rfc3261_branch()) {
        key.append(via->branch).append("|").append(sip::detail::lowercase(via->host)).append(":").append(std::to_string(via->port));
    } else {
        // RFC 2543 fallback (§17.2.3): Request-URI, From tag, Call-ID, CSeq number and top Via.
        auto from = request.from();
        auto call_id = request.call_id();
        if (!from || !call_id) return std::nullopt;
        key.append("2543|").append(request.request_uri().text).append("|").append(from->tag()).append("|");
        key.append(*call_id).append("|").append(std::to_string(cseq->number)).append("|");
        key.append(request.header(sip::header_id::via));
    }
    key.append("|").append(method);
    return key;
}

std::optional<std::string> client_key(const sip::message& message) {
    auto via = message.top_via();
    auto cseq = message.cseq();
    if (!via || !cseq || via->branch.empty()) return std::nullopt;
    // RFC 3261 §17.1.3: the branch of the top Via and the CSeq method.
    std::string key(via->branch);
    key.append("|").append(cseq->method);
    return key;
}

}  // namespace sipvoice::transaction
