// sipvoice/transport/loop.hpp: an in-memory datagram network on a virtual clock, for tests.
//
// loop_network carries datagrams between named addresses the way UDP would: each one arrives after a
// one-way latency, or never, or mangled, as an impairment hook decides. It owns the only clock: the
// sans-I/O layers on it (transaction/layer.hpp, ua/registration.hpp, or anything with the same
// now / next_deadline() / on_time() shape) run on its now(), and run_until() steps that clock through
// deliveries and their timers in time order. A minute of retransmissions, timeouts and refreshes runs
// in microseconds, deterministically: no sockets, no threads, no real clock, no Asio.
//
// A party is a node attached at an address: on_datagram() gets what arrives there, on_time() is called
// at every step of the clock (fire what is due, send what is queued), next_deadline() says when it
// must be woken without a datagram. An address with no node keeps what arrives in an inbox, which
// is how a test plays the remote peer (the style of sofia-sip's s2check: wait for the REGISTER,
// answer 401, expect a REGISTER with credentials):
//
//   transport::loop_network net(std::chrono::milliseconds(20));      // 20 ms one-way latency
//   transaction::layer uac;
//   net.attach("192.0.2.1:5060", {
//       .on_datagram = [&](const auto& d, time_point now) {
//           if (auto m = sip::message::parse(d.bytes)) uac.on_message(std::move(*m), false, now);
//       },
//       .on_time = [&](time_point now) {
//           uac.on_time(now);
//           for (auto& o : uac.take_outputs())
//               if (o.out.kind == transaction::output_kind::send) net.send("192.0.2.1:5060", "192.0.2.2:5060", o.out.bytes);
//               else to_the_tu(o);
//       },
//       .next_deadline = [&] { return uac.next_deadline(); },
//   });
//   net.set_impairment([n = 0](auto&) mutable { return ++n != 1; });  // the first datagram is lost
//   uac.send_request(options, /*reliable=*/false, net.now());
//   auto req = net.receive("192.0.2.2:5060", net.now() + 1s);        // the retransmission, at 520 ms
//   net.send("192.0.2.2:5060", req->from, answer(req->bytes, 200));
//   net.run_until(net.now() + 32s);                                   // timer K ends the transaction
//
// It is a datagram network: run the layers on it with reliable = false. Datagrams sent at the same
// instant arrive in the order they were sent unless the impairment moves their arrival time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sipvoice/clock.hpp"

namespace sipvoice::transport {

class loop_network {
public:
    struct datagram {
        std::string from;  // the sender's address: where an answer goes
        std::string to;
        std::string bytes;
        time_point sent{};
        time_point arrives{};  // sent + latency, unless the impairment moved it
    };

    // A party on the network. Every member may be empty.
    struct node {
        // A datagram arrived at the node's address. Without it, datagrams go to the address's inbox.
        std::function<void(const datagram&, time_point now)> on_datagram;
        // Called at every step of the clock (after the step's deliveries), not only at next_deadline():
        // fire the timers that are due, and send what the node has queued. Must do nothing otherwise.
        std::function<void(time_point now)> on_time;
        // The node's earliest timer; nothing when only a datagram can wake it. A deadline not later
        // than now() once on_time(now()) ran is not waited for again.
        std::function<std::optional<time_point>()> next_deadline;
    };

    // Called on every datagram as it is sent; returns false to lose it. It may also change the bytes
    // (a mangled datagram), `arrives` (extra delay, reordering; never earlier than now) or `to`.
    using impairment = std::function<bool(datagram&)>;

    struct counters {
        std::size_t sent = 0;       // every send()
        std::size_t lost = 0;       // refused by the impairment
        std::size_t delivered = 0;  // to a node or an inbox
    };

    explicit loop_network(duration latency = duration(20), time_point start = {});
    // Nodes' handlers hold on to the network they were attached to.
    loop_network(const loop_network&) = delete;
    loop_network& operator=(const loop_network&) = delete;

    [[nodiscard]] time_point now() const noexcept { return now_; }
    [[nodiscard]] duration latency() const noexcept { return latency_; }
    // For datagrams sent from now on.
    void set_latency(duration latency) noexcept { latency_ = latency; }
    // Replaces the impairment; an empty one delivers every datagram intact.
    void set_impairment(impairment hook) { impair_ = std::move(hook); }

    // Puts a node at `address` (replacing the one there). Datagrams already in its inbox stay there.
    void attach(std::string address, node n);
    // Takes the node away: datagrams to the address go to its inbox again.
    void detach(const std::string& address);

    // Sends a datagram at now(); it arrives at now() + latency() unless the impairment decides
    // otherwise. Handlers may send, attach, detach and take, but not run the clock.
    void send(std::string from, std::string to, std::string bytes);

    // Runs the clock to `until`: every delivery and node timer due by then, in time order; now() is
    // `until` afterwards (a time already past leaves the clock where it is).
    void run_until(time_point until);
    void run_for(duration d) { run_until(now_ + d); }
    // The next datagram in the inbox of `address`, running the clock until one arrives (now() is its
    // arrival time) or until `until` passes (nothing; now() is `until`).
    std::optional<datagram> receive(const std::string& address, time_point until);
    // Everything in the inbox of `address`, without running the clock.
    std::vector<datagram> take(const std::string& address);

    // When something happens next: the earliest arrival or node deadline (one not later than now()
    // counts as now()).
    [[nodiscard]] std::optional<time_point> next_event() const;
    [[nodiscard]] std::size_t in_flight() const noexcept { return in_flight_.size(); }
    [[nodiscard]] const counters& stats() const noexcept { return stats_; }

private:
    void poll();
    void deliver_due();
    std::optional<time_point> next_after_poll() const;
    std::optional<datagram> run(time_point until, const std::string* watch);

    time_point now_;
    duration latency_;
    impairment impair_;
    std::multimap<time_point, datagram> in_flight_;  // equal arrival times keep their send order
    std::map<std::string, std::shared_ptr<node>> nodes_;
    std::map<std::string, std::deque<datagram>> inboxes_;
    counters stats_;
    bool running_ = false;
};

// An impairment that loses each datagram with `probability`, reproducibly for a given seed.
loop_network::impairment random_loss(double probability, std::uint64_t seed);

}  // namespace sipvoice::transport
