// sipvoice/transaction/server_transaction.hpp: the server side of a request (RFC 3261 §17.2): INVITE
// (Proceeding, Accepted, Completed, Confirmed; timers G, H, I, L) and non-INVITE (Trying, Proceeding,
// Completed; timer J).
#pragma once

#include <string>

#include "sipvoice/transaction/transaction.hpp"

namespace sipvoice::transaction {

class server_transaction : public transaction {
public:
    // Created by a new request (delivered to the TU as an output). An INVITE server transaction answers
    // 100 Trying at once (RFC 3261 §17.2.1: the TU may take longer than 200 ms).
    server_transaction(sip::message request, bool reliable, timer_config timers);

    // A retransmission of the request, or an ACK for this INVITE transaction.
    void on_request(sip::message request, time_point now);
    // The TU's response (any status). Provisional ones are resent on request retransmissions.
    void respond(std::string response_bytes, int status, time_point now);
    void on_time(time_point now);
    void on_transport_error() { fail(output_kind::transport_error); }

private:
    void send(std::string bytes);
    void fire(timer t, time_point now);

    std::string last_response_;
};

}  // namespace sipvoice::transaction
