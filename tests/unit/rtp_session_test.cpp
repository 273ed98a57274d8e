#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <variant>
#include <vector>

#include "sipvoice/rtp/session.hpp"

namespace rtp = sipvoice::rtp;
using namespace std::chrono_literals;
using sipvoice::time_point;

namespace {

const time_point t0 = time_point{} + 5000s;
const auto wall0 = std::chrono::system_clock::time_point{} + std::chrono::hours{24 * 365 * 50};

rtp::ntp_timestamp ntp_at(time_point t) { return rtp::to_ntp(wall0 + (t - t0)); }

std::vector<rtp::rtcp_packet> parse(const std::vector<std::uint8_t>& b) {
    auto c = rtp::parse_rtcp(b);
    REQUIRE(c.has_value());
    return *c;
}

// Sends one 20 ms PCMU frame from `s` and feeds it to `to`, as if it arrived `delay` later.
void send_frame(rtp::session& s, rtp::session& to, time_point now, std::chrono::milliseconds delay) {
    static const std::vector<std::uint8_t> frame(160, 0xff);
    rtp::packet p = s.sender().next(0, false, frame.size(), now);
    p.payload = frame;
    s.sender().advance(160);
    auto wire = rtp::build_packet(p);
    REQUIRE(wire.has_value());
    auto parsed = rtp::parse_packet(*wire);
    REQUIRE(parsed.has_value());
    to.on_rtp(*parsed, now + delay);
}

}  // namespace

TEST_CASE("rtp session: the A.7 interval", "[rtp][session]") {
    rtp::interval_inputs in;
    in.members = 2;
    in.senders = 2;
    in.avg_rtcp_size = 100;
    in.rtcp_bandwidth = 400;  // 5% of 64 kbit/s in octets per second
    CHECK(rtp::rtcp_interval(in) == 5s);  // 0.5 s computed: the 5 s minimum rules a call
    in.initial = true;
    CHECK(rtp::rtcp_interval(in) == 2500ms);

    // A large audience with one sender: receivers share 75% of the bandwidth, the sender 25%.
    in.initial = false;
    in.members = 1000;
    in.senders = 1;
    in.we_sent = false;
    CHECK(rtp::rtcp_interval(in) == std::chrono::microseconds{333'000'000});  // 100 * 999 / 300 s
    in.we_sent = true;
    CHECK(rtp::rtcp_interval(in) == 5s);  // 100 * 1 / 100 = 1 s, below the minimum
}

TEST_CASE("rtp session: two peers exchange RTP and RTCP; report blocks, CNAME and RTT", "[rtp][session]") {
    rtp::session alice({.sender = {.ssrc = 0xa11ce, .first_sequence = 65000, .first_timestamp = 1000},
                        .cname = "alice@192.0.2.1",
                        .random_seed = 7},
                       t0);
    rtp::session bob({.sender = {.ssrc = 0xb0b, .first_sequence = 10, .first_timestamp = 99},
                      .cname = "bob@192.0.2.2",
                      .random_seed = 11},
                     t0);
    const auto one_way = 30ms;

    // The first report comes after 2.5 s * [0.5, 1.5] (A.7: initial).
    CHECK(alice.next_report() >= t0 + 1250ms);
    CHECK(alice.next_report() <= t0 + 3750ms);

    struct in_flight {
        time_point arrival;
        rtp::session* to;
        std::vector<std::uint8_t> wire;
    };
    std::vector<in_flight> link;
    std::optional<std::chrono::microseconds> rtt;
    time_point now = t0;
    for (int i = 0; i < 1500; ++i, now += 20ms) {  // 30 s
        // RTCP whose time has come is delivered first, at its arrival time.
        for (auto it = link.begin(); it != link.end();) {
            if (it->arrival > now) {
                ++it;
                continue;
            }
            const auto events = it->to->on_rtcp(parse(it->wire), it->arrival, it->wire.size());
            if (it->to == &alice && events.round_trip) rtt = events.round_trip;
            it = link.erase(it);
        }
        send_frame(alice, bob, now, one_way);
        send_frame(bob, alice, now, one_way);
        for (auto* pair : {&alice, &bob}) {
            rtp::session& from = *pair;
            rtp::session& to = pair == &alice ? bob : alice;
            if (now < from.next_report()) continue;
            const auto wire = from.make_report(now, ntp_at(now));
            const auto c = parse(wire);
            // Both sent RTP: an SR with one block, then the CNAME.
            REQUIRE(c.size() == 2);
            const auto* sr = std::get_if<rtp::sender_report>(&c[0]);
            REQUIRE(sr);
            CHECK(sr->ssrc == from.ssrc());
            REQUIRE(sr->reports.size() == 1);
            CHECK(sr->reports[0].ssrc == to.ssrc());
            CHECK(sr->reports[0].cumulative_lost == 0);
            CHECK(sr->reports[0].fraction_lost == 0);
            CHECK(sr->reports[0].jitter == 0);
            CHECK(sr->info.packet_count == from.sender().packet_count());
            CHECK(std::get<rtp::source_description>(c[1]).chunks[0].cname() ==
                  (pair == &alice ? "alice@192.0.2.1" : "bob@192.0.2.2"));
            // Later intervals: 5 s * [0.5, 1.5].
            CHECK(from.next_report() - now >= 2500ms);
            CHECK(from.next_report() - now <= 7500ms);
            link.push_back({now + one_way, &to, wire});
        }
    }
    REQUIRE(rtt);
    // A - LSR - DLSR with DLSR in 1/65536 s: within a few tens of microseconds of 60 ms.
    CHECK(rtt->count() >= 59'950);
    CHECK(rtt->count() <= 60'050);
    CHECK(alice.round_trip_time() == rtt);
    CHECK(bob.round_trip_time());
    CHECK(alice.cname(0xb0b) == "bob@192.0.2.2");
    CHECK(bob.cname(0xa11ce) == "alice@192.0.2.1");
    const rtp::receive_source* from_alice = bob.source(0xa11ce);
    REQUIRE(from_alice);
    CHECK(from_alice->packets() == 1499);  // the first one was probation (A.1)
    CHECK(from_alice->cumulative_lost() == 0);
}

TEST_CASE("rtp session: RR while only receiving, SR once sending, extra RRs beyond 31 sources", "[rtp][session]") {
    rtp::session s({.sender = {.ssrc = 1}, .cname = "me", .max_sources = 40}, t0);
    for (std::uint32_t src = 100; src < 135; ++src)  // 35 remote sources, two packets each
        for (std::uint16_t q = 0; q < 2; ++q) {
            rtp::packet p;
            p.ssrc = src;
            p.sequence = q;
            p.timestamp = 160u * q;
            CHECK(s.on_rtp(p, t0 + std::chrono::milliseconds{20 * q}) != rtp::sequence_verdict::rejected);
        }
    CHECK(s.source_count() == 35);
    auto wire = s.make_report(t0 + 1s, ntp_at(t0 + 1s));  // the parsed packets view into it
    auto c = parse(wire);
    REQUIRE(c.size() == 3);  // RR with 31 blocks, RR with 4, SDES
    const auto* rr = std::get_if<rtp::receiver_report>(&c[0]);
    REQUIRE(rr);
    CHECK(rr->reports.size() == 31);
    CHECK(std::get<rtp::receiver_report>(c[1]).reports.size() == 4);
    CHECK(std::holds_alternative<rtp::source_description>(c[2]));

    // Nothing heard since: no blocks. Once we send, an SR.
    s.sender().next(0, false, 160, t0 + 2s);
    wire = s.make_report(t0 + 8s, ntp_at(t0 + 8s));
    c = parse(wire);
    REQUIRE(c.size() == 2);
    const auto* sr = std::get_if<rtp::sender_report>(&c[0]);
    REQUIRE(sr);
    CHECK(sr->reports.empty());
    CHECK(sr->info.packet_count == 1);
    CHECK(sr->info.octet_count == 160);
}

TEST_CASE("rtp session: our own SSRC, the source bound, BYE in and out, silent sources", "[rtp][session]") {
    rtp::session s({.sender = {.ssrc = 42}, .cname = "me", .max_sources = 2}, t0);
    rtp::packet p;
    p.ssrc = 42;
    CHECK(s.on_rtp(p, t0) == rtp::sequence_verdict::rejected);  // looped back, or a collision
    p.ssrc = 7;
    CHECK(s.on_rtp(p, t0) == rtp::sequence_verdict::probation);
    p.ssrc = 8;
    CHECK(s.on_rtp(p, t0) == rtp::sequence_verdict::probation);
    p.ssrc = 9;
    CHECK(s.on_rtp(p, t0) == rtp::sequence_verdict::rejected);  // beyond max_sources
    CHECK(s.source_count() == 2);

    // A BYE from 7 (and one for a source we never heard of): 7 is forgotten and reported.
    const std::vector<rtp::rtcp_packet> bye{rtp::receiver_report{7, {}, {}}, rtp::goodbye{{7, 1234}, "hangup"}};
    const auto events = s.on_rtcp(bye, t0 + 1s);
    REQUIRE(events.byes.size() == 1);
    CHECK(events.byes[0] == 7);
    CHECK(s.source(7) == nullptr);
    CHECK(s.source_count() == 1);

    // Our BYE: a report, our CNAME, then BYE with our SSRC and the reason.
    const auto wire = s.make_bye(t0 + 2s, ntp_at(t0 + 2s), "call ended");
    const auto c = parse(wire);
    REQUIRE(c.size() == 3);
    const auto* b = std::get_if<rtp::goodbye>(&c[2]);
    REQUIRE(b);
    CHECK(b->sources == std::vector<std::uint32_t>{42});
    CHECK(b->reason == "call ended");

    // Source 8, silent since t0, is forgotten after five intervals (§6.3.5).
    s.on_time(t0 + 10s);
    CHECK(s.source(8) != nullptr);
    s.on_time(t0 + 40s);
    CHECK(s.source(8) == nullptr);
}

TEST_CASE("rtp session: a BYE wins over the other packets of its compound", "[rtp][session]") {
    // Found by fuzz_rtcp: an SDES after the BYE (against §6.1's order) must not bring the source back.
    rtp::session s({.sender = {.ssrc = 42}, .cname = "me"}, t0);
    const std::vector<rtp::rtcp_packet> c{rtp::receiver_report{7, {}, {}}, rtp::goodbye{{7}, {}},
                                          rtp::source_description{{{7, {{rtp::sdes_cname, "late"}}}}}};
    const auto events = s.on_rtcp(c, t0 + 1s);
    CHECK(events.byes == std::vector<std::uint32_t>{7});
    CHECK(s.source(7) == nullptr);
    CHECK(s.source_count() == 0);
}
