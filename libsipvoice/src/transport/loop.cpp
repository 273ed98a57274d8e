// The in-memory datagram network on a virtual clock (sipvoice/transport/loop.hpp).
#include "sipvoice/transport/loop.hpp"

#include <random>
#include <utility>

namespace sipvoice::transport {

loop_network::loop_network(duration latency, time_point start) : now_(start), latency_(latency) {}

void loop_network::attach(std::string address, node n) {
    nodes_[std::move(address)] = std::make_shared<node>(std::move(n));
}

void loop_network::detach(const std::string& address) { nodes_.erase(address); }

void loop_network::send(std::string from, std::string to, std::string bytes) {
    datagram d{std::move(from), std::move(to), std::move(bytes), now_, now_ + latency_};
    ++stats_.sent;
    if (impair_ && !impair_(d)) {
        ++stats_.lost;
        return;
    }
    if (d.arrives < now_) d.arrives = now_;
    const time_point at = d.arrives;
    in_flight_.emplace(at, std::move(d));  // after any others arriving at the same instant
}

std::vector<loop_network::datagram> loop_network::take(const std::string& address) {
    std::vector<datagram> out;
    auto it = inboxes_.find(address);
    if (it == inboxes_.end()) return out;
    out.assign(std::make_move_iterator(it->second.begin()), std::make_move_iterator(it->second.end()));
    inboxes_.erase(it);
    return out;
}

// Every node gets the current time; a node a handler detaches meanwhile is not called.
void loop_network::poll() {
    std::vector<std::string> addresses;
    addresses.reserve(nodes_.size());
    for (const auto& [address, n] : nodes_) addresses.push_back(address);
    for (const auto& address : addresses) {
        auto it = nodes_.find(address);
        if (it == nodes_.end()) continue;
        std::shared_ptr<node> n = it->second;  // alive even if its handler detaches it
        if (n->on_time) n->on_time(now_);
    }
}

void loop_network::deliver_due() {
    while (!in_flight_.empty() && in_flight_.begin()->first <= now_) {
        datagram d = std::move(in_flight_.begin()->second);
        in_flight_.erase(in_flight_.begin());
        ++stats_.delivered;
        auto it = nodes_.find(d.to);
        if (it != nodes_.end() && it->second->on_datagram) {
            std::shared_ptr<node> n = it->second;
            n->on_datagram(d, now_);
        } else {
            inboxes_[d.to].push_back(std::move(d));
        }
    }
}

// Right after poll(): a node deadline not later than now has had its on_time(now) and is not waited
// for again, so a node that keeps a stale deadline cannot stall the clock.
std::optional<time_point> loop_network::next_after_poll() const {
    std::optional<time_point> next;
    if (!in_flight_.empty()) next = in_flight_.begin()->first;
    for (const auto& [address, n] : nodes_) {
        if (!n->next_deadline) continue;
        auto d = n->next_deadline();
        if (d && *d > now_ && (!next || *d < *next)) next = d;
    }
    return next;
}

std::optional<time_point> loop_network::next_event() const {
    std::optional<time_point> next;
    if (!in_flight_.empty()) next = in_flight_.begin()->first;
    for (const auto& [address, n] : nodes_) {
        if (!n->next_deadline) continue;
        auto d = n->next_deadline();
        if (d && (!next || *d < *next)) next = d;
    }
    if (next && *next < now_) next = now_;
    return next;
}

std::optional<loop_network::datagram> loop_network::run(time_point until, const std::string* watch) {
    if (running_) return std::nullopt;  // from inside a handler: the outer run owns the clock
    running_ = true;
    std::optional<datagram> got;
    for (;;) {
        poll();
        if (watch) {
            auto it = inboxes_.find(*watch);
            if (it != inboxes_.end() && !it->second.empty()) {
                got = std::move(it->second.front());
                it->second.pop_front();
                break;
            }
        }
        const auto next = next_after_poll();
        if (!next || *next > until) {
            if (until > now_) now_ = until;
            break;
        }
        if (*next > now_) now_ = *next;
        deliver_due();
    }
    running_ = false;
    return got;
}

void loop_network::run_until(time_point until) { run(until, nullptr); }

std::optional<loop_network::datagram> loop_network::receive(const std::string& address, time_point until) {
    return run(until, &address);
}

loop_network::impairment random_loss(double probability, std::uint64_t seed) {
    if (!(probability > 0.0)) probability = 0.0;  // NaN too
    if (probability > 1.0) probability = 1.0;
    return [rng = std::mt19937_64(seed), lose = std::bernoulli_distribution(probability)](loop_network::datagram&) mutable {
        return !lose(rng);
    };
}

}  // namespace sipvoice::transport
