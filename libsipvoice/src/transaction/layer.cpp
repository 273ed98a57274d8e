// The transaction layer: matching messages to transactions (RFC 3261 §17.1.3, §17.2.3).
#include "sipvoice/transaction/layer.hpp"

#include <type_traits>

namespace sipvoice::transaction {

std::optional<std::string> layer::send_request(sip::message request, bool reliable, time_point now) {
    auto key = client_key(request);
    if (!key || clients_.count(*key) != 0) return std::nullopt;
    auto it = clients_.emplace(*key, client_transaction(std::move(request), reliable, cfg_, now)).first;
    drain(clients_, it);
    return key;
}

bool layer::respond(const std::string& key, std::string response_bytes, int status, time_point now) {
    auto it = servers_.find(key);
    if (it == servers_.end()) return false;
    it->second.respond(std::move(response_bytes), status, now);
    drain(servers_, it);
    return true;
}

void layer::on_message(sip::message message, bool reliable, time_point now) {
    if (message.is_response()) {
        auto key = client_key(message);
        auto it = key ? clients_.find(*key) : clients_.end();
        if (it != clients_.end()) {
            it->second.on_response(std::move(message), now);
            drain(clients_, it);
            return;
        }
        auto cseq = message.cseq();
        if (message.status() >= 200 && message.status() < 300 && cseq && cseq->method == "INVITE")
            outputs_.push_back({{}, {output_kind::response, {}, std::move(message)}});
        return;
    }
    auto key = server_key(message);
    if (!key) return;  // no Via or CSeq: nothing to match or answer with
    auto it = servers_.find(*key);
    if (it != servers_.end()) {
        it->second.on_request(std::move(message), now);
        drain(servers_, it);
        return;
    }
    if (message.method() == sip::method::ack) {
        outputs_.push_back({{}, {output_kind::request, {}, std::move(message)}, true});
        return;
    }
    drain(servers_, servers_.emplace(*key, server_transaction(std::move(message), reliable, cfg_)).first);
}

void layer::on_transport_error(const std::string& key, bool server) {
    if (server) {
        auto it = servers_.find(key);
        if (it == servers_.end()) return;
        it->second.on_transport_error();
        drain(servers_, it);
    } else {
        auto it = clients_.find(key);
        if (it == clients_.end()) return;
        it->second.on_transport_error();
        drain(clients_, it);
    }
}

void layer::on_time(time_point now) {
    for (auto it = clients_.begin(); it != clients_.end();) {
        it->second.on_time(now);
        it = drain(clients_, it);
    }
    for (auto it = servers_.begin(); it != servers_.end();) {
        it->second.on_time(now);
        it = drain(servers_, it);
    }
}

std::optional<time_point> layer::next_deadline() const noexcept {
    std::optional<time_point> next;
    auto consider = [&](const transaction& tx) {
        auto d = tx.next_deadline();
        if (d && (!next || *d < *next)) next = d;
    };
    for (const auto& [key, tx] : clients_) consider(tx);
    for (const auto& [key, tx] : servers_) consider(tx);
    return next;
}

std::vector<keyed_output> layer::take_outputs() { return std::exchange(outputs_, {}); }

const client_transaction* layer::client(const std::string& key) const {
    auto it = clients_.find(key);
    return it == clients_.end() ? nullptr : &it->second;
}

const server_transaction* layer::server(const std::string& key) const {
    auto it = servers_.find(key);
    return it == servers_.end() ? nullptr : &it->second;
}

// Moves what one transaction produced into the layer's outputs, and forgets it once terminated.
// Returns the iterator to the next transaction.
template <class T>
typename std::map<std::string, T>::iterator layer::drain(std::map<std::string, T>& transactions,
                                                         typename std::map<std::string, T>::iterator it) {
    constexpr bool server = std::is_same_v<T, server_transaction>;
    for (auto& out : it->second.take_outputs()) outputs_.push_back({it->first, std::move(out), server});
    return it->second.current() == state::terminated ? transactions.erase(it) : std::next(it);
}

}  // namespace sipvoice::transaction
