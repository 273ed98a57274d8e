// sipvoice/transaction/client_transaction.hpp: the client side of a request (RFC 3261 §17.1): INVITE
// (Calling, Proceeding, Accepted, Completed; timers A, B, D, M) and non-INVITE (Trying, Proceeding,
// Completed; timers E, F, K).
#pragma once

#include <string>

#include "sipvoice/transaction/transaction.hpp"

namespace sipvoice::transaction {

class client_transaction : public transaction {
public:
    // Sends the request at once (outputs) and starts the timers. `reliable` is TCP/TLS: no retransmission.
    client_transaction(sip::message request, bool reliable, timer_config timers, time_point now);

    void on_response(sip::message response, time_point now);
    void on_time(time_point now);
    // The transport could not send: the TU is told and the transaction ends (RFC 3261 §17.1.4).
    void on_transport_error() { fail(output_kind::transport_error); }

    // RFC 3261 §17.1.1.3: the ACK for a non-2xx final response to an INVITE.
    static std::string ack_for(const sip::message& invite, const sip::message& response);

private:
    void fire(timer t, time_point now);

    std::string wire_;  // the request as sent, for retransmissions
    std::string ack_;   // the ACK sent for a non-2xx final response
};

}  // namespace sipvoice::transaction
