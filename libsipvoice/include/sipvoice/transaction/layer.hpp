// sipvoice/transaction/layer.hpp: the transaction layer (RFC 3261 §17): the set of live transactions,
// matching each incoming message to its transaction (§17.1.3, §17.2.3), creating server transactions
// for new requests, and passing up what belongs to the transaction user (TU).
//
// Sans-I/O like the transactions: the transport hands it every received message with on_message(),
// the TU sends with send_request() / respond(), and the caller drains take_outputs(), each tagged with
// the key of the transaction it came from.
//
//   layer.send_request(invite, reliable, now);      // a client transaction, sent at once
//   layer.on_message(parsed, reliable, now);         // responses, retransmissions, new requests, ACKs
//   for (auto& [key, out] : layer.take_outputs()) ...
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sipvoice/transaction/client_transaction.hpp"
#include "sipvoice/transaction/server_transaction.hpp"

namespace sipvoice::transaction {

struct keyed_output {
    std::string key;  // the transaction's key; empty for a message no transaction owns (see on_message)
    output out;
    bool server = false;  // from a server transaction (client and server keys are separate spaces)
};

class layer {
public:
    explicit layer(timer_config timers = {}) : cfg_(timers) {}

    // Starts a client transaction for the request; returns its key, or nothing when the request has no
    // Via branch / CSeq (a transaction could never match its responses) or the key is taken.
    std::optional<std::string> send_request(sip::message request, bool reliable, time_point now);
    // The TU's response for the server transaction `key`.
    bool respond(const std::string& key, std::string response_bytes, int status, time_point now);

    // A message from the transport:
    //  - a response goes to its client transaction; one that matches none is passed up unowned only if
    //    it is a 2xx to an INVITE (a retransmission or a fork after the transaction ended, RFC 6026),
    //    and otherwise dropped (RFC 3261 §18.1.2);
    //  - a request goes to its server transaction (a retransmission, or the ACK of a non-2xx); an ACK
    //    that matches none is passed up unowned (the ACK of a 2xx, RFC 3261 §17.2.3); any other request
    //    creates a server transaction, which passes it up.
    void on_message(sip::message message, bool reliable, time_point now);

    // The transport failed to send for transaction `key` (RFC 3261 §17.1.4, §17.2.4): the TU is told
    // and the transaction ends.
    void on_transport_error(const std::string& key, bool server);

    void on_time(time_point now);
    [[nodiscard]] std::optional<time_point> next_deadline() const noexcept;
    std::vector<keyed_output> take_outputs();

    [[nodiscard]] std::size_t size() const noexcept { return clients_.size() + servers_.size(); }
    [[nodiscard]] const client_transaction* client(const std::string& key) const;
    [[nodiscard]] const server_transaction* server(const std::string& key) const;

private:
    template <class T>
    typename std::map<std::string, T>::iterator drain(std::map<std::string, T>& transactions,
                                                      typename std::map<std::string, T>::iterator it);

    timer_config cfg_;
    std::map<std::string, client_transaction> clients_;
    std::map<std::string, server_transaction> servers_;
    std::vector<keyed_output> outputs_;
};

}  // namespace sipvoice::transaction
