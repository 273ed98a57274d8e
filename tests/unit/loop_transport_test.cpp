// transport::loop_network on its own: latency, inboxes, the impairment hook, nodes and their timers,
// all on the virtual clock.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "sipvoice/transport/loop.hpp"

using sipvoice::duration;
using sipvoice::time_point;
using sipvoice::transport::loop_network;
using sipvoice::transport::random_loss;
using namespace std::chrono_literals;

TEST_CASE("loop_network: datagrams arrive after the latency, in send order, in the inbox", "[transport][loop]") {
    loop_network net(30ms);
    const time_point t0 = net.now();
    net.send("a", "b", "one");
    net.send("a", "b", "two");
    net.set_latency(10ms);
    net.send("c", "b", "three");  // a shorter path: it overtakes the first two
    CHECK(net.in_flight() == 3);
    CHECK(net.next_event() == t0 + 10ms);
    CHECK(net.take("b").empty());  // nothing arrives while the clock stands still

    auto first = net.receive("b", t0 + 1s);
    REQUIRE(first.has_value());
    CHECK(first->bytes == "three");
    CHECK(first->from == "c");
    CHECK(first->sent == t0);
    CHECK(first->arrives == t0 + 10ms);
    CHECK(net.now() == t0 + 10ms);  // the clock stops at the arrival

    net.run_until(t0 + 100ms);
    CHECK(net.now() == t0 + 100ms);
    auto rest = net.take("b");
    REQUIRE(rest.size() == 2);
    CHECK(rest[0].bytes == "one");
    CHECK(rest[1].bytes == "two");
    CHECK(rest[0].arrives == t0 + 30ms);
    CHECK(net.take("b").empty());

    CHECK_FALSE(net.receive("b", t0 + 200ms).has_value());  // gives up at the limit
    CHECK(net.now() == t0 + 200ms);
    net.run_until(t0);  // the past: the clock does not go back
    CHECK(net.now() == t0 + 200ms);
    CHECK(net.stats().sent == 3);
    CHECK(net.stats().delivered == 3);
    CHECK(net.stats().lost == 0);
    CHECK_FALSE(net.next_event().has_value());
}

TEST_CASE("loop_network: the impairment loses, mangles, delays and redirects", "[transport][loop]") {
    loop_network net(20ms, time_point{} + 1h);
    const time_point t0 = net.now();
    net.set_impairment([](loop_network::datagram& d) {
        if (d.bytes == "lose me") return false;
        if (d.bytes == "mangle me") d.bytes = "m@ngled";
        if (d.bytes == "delay me") d.arrives += 100ms;
        if (d.bytes == "redirect me") d.to = "elsewhere";
        if (d.bytes == "from the past") d.arrives = d.sent - 1s;  // never earlier than now
        return true;
    });
    net.send("a", "b", "delay me");
    net.send("a", "b", "lose me");
    net.send("a", "b", "mangle me");
    net.send("a", "b", "redirect me");
    net.send("a", "b", "from the past");
    net.run_for(1s);
    auto got = net.take("b");
    REQUIRE(got.size() == 3);
    CHECK(got[0].bytes == "from the past");
    CHECK(got[0].arrives == t0);
    CHECK(got[1].bytes == "m@ngled");
    CHECK(got[2].bytes == "delay me");  // reordered behind the later one
    CHECK(got[2].arrives == t0 + 120ms);
    REQUIRE(net.take("elsewhere").size() == 1);
    CHECK(net.stats().lost == 1);
    CHECK(net.stats().delivered == 4);

    net.set_impairment({});  // everything arrives again
    net.send("a", "b", "lose me");
    CHECK(net.receive("b", net.now() + 1s).has_value());
}

TEST_CASE("loop_network: nodes are woken by deliveries and at their deadlines, in time order", "[transport][loop]") {
    loop_network net(5ms);
    const time_point t0 = net.now();
    // A pinger: every 100 ms it sends "ping" to the echo node; the echo answers at once.
    std::optional<time_point> next_ping = t0;
    std::vector<std::string> log;
    auto at = [&](time_point t) { return std::to_string((t - t0) / 1ms); };
    net.attach("pinger", {
        .on_datagram = [&](const loop_network::datagram& d, time_point now) { log.push_back(at(now) + " " + d.bytes); },
        .on_time = [&](time_point now) {
            if (next_ping && *next_ping <= now) {
                net.send("pinger", "echo", "ping");
                next_ping = *next_ping + 100ms;
            }
        },
        .next_deadline = [&] { return next_ping; },
    });
    net.attach("echo", {
        .on_datagram = [&](const loop_network::datagram& d, time_point) { net.send("echo", d.from, "pong"); },
        .on_time = {},
        .next_deadline = {},
    });
    net.run_until(t0 + 250ms);
    CHECK(log == std::vector<std::string>{"10 pong", "110 pong", "210 pong"});
    CHECK(net.stats().sent == 6);
    CHECK(net.now() == t0 + 250ms);
    CHECK(net.next_event() == t0 + 300ms);

    // A node without on_datagram leaves its datagrams in the inbox; detached, the pinger stops.
    net.attach("echo", {});
    net.run_until(t0 + 350ms);
    auto pings = net.take("echo");
    REQUIRE(pings.size() == 1);
    CHECK(pings[0].arrives == t0 + 305ms);
    net.detach("pinger");
    net.run_until(t0 + 1s);
    CHECK(net.take("echo").empty());
    CHECK_FALSE(net.next_event().has_value());
}

TEST_CASE("loop_network: handlers may detach and send; a stale deadline does not stall the clock", "[transport][loop]") {
    loop_network net(0ms);  // zero latency: delivered in the same instant, after the sender's step
    const time_point t0 = net.now();
    int calls = 0;
    net.attach("self-removing", {
        .on_datagram = [&](const loop_network::datagram&, time_point now) {
            ++calls;
            net.detach("self-removing");  // its handler stays alive until it returns
            CHECK_FALSE(net.receive("x", now + 1s).has_value());  // the clock is the outer run's
        },
        .on_time = {},
        .next_deadline = {},
    });
    net.attach("stale", {
        .on_datagram = {},
        .on_time = {},
        .next_deadline = [&]() -> std::optional<time_point> { return t0; },  // never moves on
    });
    net.send("a", "self-removing", "1");
    net.send("a", "self-removing", "2");
    net.run_until(t0 + 1s);
    CHECK(calls == 1);
    CHECK(net.take("self-removing").size() == 1);  // the second one, after the node left
    CHECK(net.now() == t0 + 1s);
    CHECK(net.next_event() == net.now());  // reported, but not waited for again
}

TEST_CASE("random_loss: reproducible for a seed, near the rate", "[transport][loop]") {
    auto run = [](double p, std::uint64_t seed) {
        loop_network net;
        net.set_impairment(random_loss(p, seed));
        for (int i = 0; i < 2000; ++i) net.send("a", "b", std::to_string(i));
        return net.stats().lost;
    };
    const auto lost = run(0.3, 42);
    CHECK(lost == run(0.3, 42));
    CHECK(lost > 500);
    CHECK(lost < 700);
    CHECK(run(0.0, 1) == 0);
    CHECK(run(1.0, 1) == 2000);
    CHECK(run(7.0, 1) == 2000);  // clamped
}
