// sipvoice/transaction/transaction.hpp: RFC 3261 §17 transactions (with the RFC 6026 Accepted state),
// as sans-I/O state machines.
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

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sipvoice/sip/message.hpp"

namespace sipvoice::transaction {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;
using duration = std::chrono::milliseconds;

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

class client_transaction {
public:
    // Sends the request at once (outputs) and starts the timers. `reliable` is TCP/TLS: no retransmission.
    client_transaction(sip::message request, bool reliable, timer_config timers, time_point now);

    void on_response(sip::message response, time_point now);
    void on_time(time_point now);
    // The transport could not send: the TU is told and the transaction ends (RFC 3261 §17.1.4).
    void on_transport_error();

    [[nodiscard]] state current() const noexcept { return state_; }
    [[nodiscard]] bool is_invite() const noexcept { return invite_; }
    [[nodiscard]] std::optional<time_point> next_deadline() const noexcept;
    [[nodiscard]] std::optional<time_point> deadline(timer t) const noexcept { return timers_[static_cast<std::size_t>(t)]; }
    std::vector<output> take_outputs() { return std::exchange(outputs_, {}); }
    [[nodiscard]] const sip::message& request() const noexcept { return request_; }

    // RFC 3261 §17.1.1.3: the ACK for a non-2xx final response to an INVITE.
    static std::string ack_for(const sip::message& invite, const sip::message& response);

private:
    void send_request();
    void start(timer t, duration d, time_point now);
    void stop(timer t) { timers_[static_cast<std::size_t>(t)].reset(); }
    void terminate();
    void fire(timer t, time_point now);

    sip::message request_;
    std::string wire_;  // the request as sent, for retransmissions
    std::string ack_;   // the ACK sent for a non-2xx final response
    bool invite_ = false;
    bool reliable_ = false;
    timer_config cfg_;
    state state_ = state::calling;
    duration interval_{};  // current retransmission interval (A or E)
    std::optional<time_point> timers_[timer_count];
    std::vector<output> outputs_;
};

class server_transaction {
public:
    // Created by a new request (delivered to the TU as an output). An INVITE server transaction answers
    // 100 Trying at once (RFC 3261 §17.2.1: the TU may take longer than 200 ms).
    server_transaction(sip::message request, bool reliable, timer_config timers, time_point now);

    // A retransmission of the request, or an ACK for this INVITE transaction.
    void on_request(sip::message request, time_point now);
    // The TU's response (any status). Provisional ones are resent on request retransmissions.
    void respond(std::string response_bytes, int status, time_point now);
    void on_time(time_point now);
    void on_transport_error();

    [[nodiscard]] state current() const noexcept { return state_; }
    [[nodiscard]] bool is_invite() const noexcept { return invite_; }
    [[nodiscard]] std::optional<time_point> next_deadline() const noexcept;
    [[nodiscard]] std::optional<time_point> deadline(timer t) const noexcept { return timers_[static_cast<std::size_t>(t)]; }
    std::vector<output> take_outputs() { return std::exchange(outputs_, {}); }
    [[nodiscard]] const sip::message& request() const noexcept { return request_; }

private:
    void send(const std::string& bytes);
    void start(timer t, duration d, time_point now);
    void stop(timer t) { timers_[static_cast<std::size_t>(t)].reset(); }
    void terminate();
    void fire(timer t, time_point now);

    sip::message request_;
    std::string last_response_;
    bool invite_ = false;
    bool reliable_ = false;
    timer_config cfg_;
    state state_ = state::trying;
    duration interval_{};  // timer G's current interval
    std::optional<time_point> timers_[timer_count];
    std::vector<output> outputs_;
};

}  // namespace sipvoice::transaction
