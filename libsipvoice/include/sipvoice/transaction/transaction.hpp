// sipvoice/transaction/transaction.hpp: RFC 3261 §17 transactions (with the RFC 6026 Accepted state),
// as sans-I/O state machines: what client_transaction.hpp and server_transaction.hpp share.
//
// A transaction consumes messages and time and produces outputs: bytes to send, messages for the
// transaction user (TU), a timeout, its end. It owns no socket and no clock: the caller passes `now`
// to every call, asks next_deadline() when to call on_time() again, and drains take_outputs(). The
// transport layer (and the unit tests, which play the remote peer) sit around it.
//
//   client_transaction tx(invite, /*reliable=*/false, timers, now);
//   for (auto& out : tx.take_outputs()) if (out.kind == output_kind::send) udp.send(out.bytes);
//   ... on a response: tx.on_response(std::move(resp), now); ... when next_deadline() passes: tx.on_time(now);
//
// Timers keep their RFC names: A, B, D (INVITE client), E, F, K (non-INVITE client), G, H, I (INVITE
// server), J (non-INVITE server), L, M (RFC 6026). T1, T2 and T4 are configurable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sipvoice/clock.hpp"
#include "sipvoice/sip/message.hpp"

namespace sipvoice::transaction {

using sipvoice::duration;
using sipvoice::time_point;

// RFC 3261 §17 Table 4 / Appendix A.
struct timer_config {
    duration t1{500};
    duration t2{4000};
    duration t4{5000};
};

enum class timer : std::uint8_t { a, b, d, e, f, g, h, i, j, k, l, m };
inline constexpr std::size_t timer_count = 12;

enum class state : std::uint8_t { calling, trying, proceeding, completed, confirmed, accepted, terminated };
std::string_view state_name(state s) noexcept;

enum class output_kind : std::uint8_t {
    send,        // bytes: transmit to the peer (request, retransmission, response, ACK)
    response,    // message: a response for the client TU
    request,     // message: a request (or an ACK for a 2xx, RFC 6026) for the server TU
    timeout,          // timer B, F or H fired: the peer did not answer (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1)
    transport_error,  // the transport could not send (RFC 3261 §17.1.4, §17.2.4)
    terminated,       // the transaction is over; it can be destroyed
};

struct output {
    output_kind kind = output_kind::send;
    std::string bytes;     // for send
    sip::message message;  // for response / request
};

// The key a transaction is found by (RFC 3261 §17.1.3, §17.2.3): the branch, the sent-by of the top
// Via and the method (ACK counts as INVITE). A branch without the magic cookie (RFC 2543) gives a key
// built from Request-URI, From tag, Call-ID, CSeq number and top Via instead (§17.2.3, fallback).
// For a CANCEL the method stays CANCEL, so it is a transaction of its own.
std::optional<std::string> server_key(const sip::message& request);
// The key a response is matched to its client transaction with (§17.1.3): branch + CSeq method.
std::optional<std::string> client_key(const sip::message& message);

// The timers, outputs and state every transaction has; client_transaction and server_transaction
// add their state machines.
class transaction {
public:
    [[nodiscard]] state current() const noexcept { return state_; }
    [[nodiscard]] bool is_invite() const noexcept { return invite_; }
    [[nodiscard]] const sip::message& request() const noexcept { return request_; }
    // The earliest running timer: call on_time() then.
    [[nodiscard]] std::optional<time_point> next_deadline() const noexcept;
    [[nodiscard]] std::optional<time_point> deadline(timer t) const noexcept { return timers_[static_cast<std::size_t>(t)]; }
    std::vector<output> take_outputs() { return std::exchange(outputs_, {}); }

protected:
    transaction(sip::message request, bool reliable, timer_config timers);
    void start(timer t, duration d, time_point now) { timers_[static_cast<std::size_t>(t)] = now + d; }
    void stop(timer t) { timers_[static_cast<std::size_t>(t)].reset(); }
    // The earliest timer due at `now`, taken off the list; none once terminated.
    std::optional<timer> pop_due(time_point now);
    void emit(output_kind kind, std::string bytes = {}) { outputs_.push_back({kind, std::move(bytes), {}}); }
    void terminate();
    void fail(output_kind why);  // timeout or transport error: tell the TU, then end

    sip::message request_;
    bool invite_ = false;
    bool reliable_ = false;
    timer_config cfg_;
    state state_ = state::trying;
    duration interval_{};  // the current retransmission interval (timer A, E or G)
    std::optional<time_point> timers_[timer_count];
    std::vector<output> outputs_;
};

}  // namespace sipvoice::transaction
