#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <vector>

#include "sipvoice/rtp/sender.hpp"
#include "sipvoice/rtp/sequence.hpp"
#include "sipvoice/rtp/source.hpp"

namespace rtp = sipvoice::rtp;
using namespace std::chrono_literals;
using sipvoice::time_point;

namespace {

rtp::packet pkt(std::uint16_t seq, std::uint32_t ts, std::uint32_t ssrc = 0x5eed) {
    rtp::packet p;
    p.sequence = seq;
    p.timestamp = ts;
    p.ssrc = ssrc;
    return p;
}

const time_point t0 = time_point{} + 1000s;

}  // namespace

TEST_CASE("rtp sequence: serial arithmetic across the 16-bit and 32-bit wraps", "[rtp][sequence]") {
    CHECK(rtp::seq_diff(0, 65535) == 1);
    CHECK(rtp::seq_diff(65535, 0) == -1);
    CHECK(rtp::seq_diff(5, 65530) == 11);
    CHECK(rtp::seq_newer(0, 65535));
    CHECK_FALSE(rtp::seq_newer(65535, 0));
    CHECK_FALSE(rtp::seq_newer(7, 7));
    CHECK(rtp::seq_diff(32767, 0) == 32767);
    CHECK(rtp::seq_diff(32768, 0) == -32768);  // exactly half way reads as behind

    CHECK(rtp::ts_diff(0, 0xffffff60u) == 160);
    CHECK(rtp::ts_diff(0xffffff60u, 0) == -160);
    CHECK(rtp::ts_newer(100, 0xfffffff0u));
    CHECK_FALSE(rtp::ts_newer(0xfffffff0u, 100));
}

TEST_CASE("rtp sequence: unwrapping keeps counting across wraps and places reordered packets behind", "[rtp][sequence]") {
    rtp::sequence_unwrapper u;
    CHECK(u.unwrap(65534) == 65534);
    CHECK(u.unwrap(65535) == 65535);
    CHECK(u.unwrap(1) == 65537);      // 0 was skipped (lost or late)
    CHECK(u.unwrap(0) == 65536);      // the late one lands behind, not 64K ahead
    CHECK(u.newest() == 65537);
    for (std::uint32_t i = 2; i < 3 * 65536; i += 1000) CHECK(u.unwrap(static_cast<std::uint16_t>(i)) == 65536 + i);

    rtp::timestamp_unwrapper t;
    CHECK(t.unwrap(0xfffffe00u) == 0xfffffe00LL);
    CHECK(t.unwrap(0x00000100u) == 0x100000100LL);
    CHECK(t.unwrap(0xffffff00u) == 0xffffff00LL);
}

TEST_CASE("rtp sequence: RFC 3550 A.1 probation, wrap, misorder, jump and restart", "[rtp][sequence]") {
    rtp::sequence_validator v;
    CHECK(v.update(65533) == rtp::sequence_verdict::probation);
    CHECK_FALSE(v.confirmed());
    CHECK(v.update(65534) == rtp::sequence_verdict::valid);  // two in a row: believed
    CHECK(v.confirmed());
    CHECK(v.base() == 65534);
    CHECK(v.update(65535) == rtp::sequence_verdict::valid);
    CHECK(v.update(0) == rtp::sequence_verdict::valid);  // the wrap
    CHECK(v.cycles() == 65536);
    CHECK(v.extended_max() == 65536);
    CHECK(v.update(3) == rtp::sequence_verdict::valid);  // 1 and 2 missing
    CHECK(v.update(1) == rtp::sequence_verdict::out_of_order);
    CHECK(v.update(3) == rtp::sequence_verdict::out_of_order);  // duplicate: counted (A.3)
    CHECK(v.received() == 6);
    CHECK(v.expected() == 65536 + 3 - 65534 + 1);  // 6: 65534, 65535, 0, 1, 2, 3

    // A jump beyond max_dropout is dropped; the packet after it confirms a restart.
    CHECK(v.update(20000) == rtp::sequence_verdict::rejected);
    CHECK(v.update(4) == rtp::sequence_verdict::valid);  // the old stream goes on
    CHECK(v.update(20000) == rtp::sequence_verdict::rejected);
    CHECK(v.update(20001) == rtp::sequence_verdict::restarted);
    CHECK(v.base() == 20001);
    CHECK(v.received() == 1);
    CHECK(v.cycles() == 0);

    // Further behind than max_misorder reads as a jump, not as reordering.
    CHECK(v.update(20001 - 200) == rtp::sequence_verdict::rejected);
    CHECK(v.update(20002) == rtp::sequence_verdict::valid);
}

TEST_CASE("rtp sequence: probation restarts on a packet out of sequence", "[rtp][sequence]") {
    rtp::sequence_validator v({.min_sequential = 3});
    CHECK(v.update(10) == rtp::sequence_verdict::probation);
    CHECK(v.update(11) == rtp::sequence_verdict::probation);
    CHECK(v.update(40) == rtp::sequence_verdict::probation);  // out of sequence: a new run from 40
    CHECK(v.update(41) == rtp::sequence_verdict::probation);
    CHECK(v.update(42) == rtp::sequence_verdict::valid);
    CHECK(v.base() == 42);
}

TEST_CASE("rtp source: interarrival jitter against a hand-computed example (RFC 3550 A.8)", "[rtp][source]") {
    // 8 kHz, 20 ms packets (160 units). Arrivals at 0, 20, 45, 60, 80 ms:
    //   arrival in units:  0   160   360   480   640
    //   timestamp:         0   160   320   480   640
    //   transit:           0     0    40     0     0
    //   |D|:                     0    40    40     0
    //   J = J + (|D| - J)/16:   0   2.5  4.84375  4.541  (J starts at 0)
    // The RFC's integer form keeps 16*J: 0, 0, 40, 77, 72 -> reported J = 16*J >> 4 = 0, 0, 2, 4, 4.
    rtp::receive_source src(0x5eed, {.clock_rate = 8000});
    const int arrivals_ms[] = {0, 20, 45, 60, 80};
    const std::uint32_t expected_jitter[] = {0, 0, 2, 4, 4};
    // Probation: the first packet is not counted (A.1), so prime with one packet before.
    REQUIRE(src.on_packet(pkt(99, 0xffffff60u), t0 - 20ms) == rtp::sequence_verdict::probation);
    for (int i = 0; i < 5; ++i) {
        const auto v = src.on_packet(pkt(static_cast<std::uint16_t>(100 + i), static_cast<std::uint32_t>(160 * i)),
                                     t0 + std::chrono::milliseconds{arrivals_ms[i]});
        CHECK(v == rtp::sequence_verdict::valid);
        CHECK(src.jitter() == expected_jitter[i]);
    }
    CHECK(src.jitter_time() == 500us);  // 4 units at 8 kHz
}

TEST_CASE("rtp source: jitter of a perfectly paced stream stays zero across the timestamp wrap", "[rtp][source]") {
    rtp::receive_source src(1, {.clock_rate = 48000});
    std::uint32_t ts = 0xffffffffu - 960 * 10;
    for (int i = 0; i < 50; ++i, ts += 960)
        src.on_packet(pkt(static_cast<std::uint16_t>(65530 + i), ts), t0 + std::chrono::milliseconds{20 * i});
    CHECK(src.jitter() == 0);
    CHECK(src.sequence().cycles() == 65536);
}

TEST_CASE("rtp source: loss statistics and the report block (RFC 3550 A.3, §6.4.1)", "[rtp][source]") {
    rtp::receive_source src(0xabc, {.clock_rate = 8000});
    auto at = [](int i) { return t0 + std::chrono::milliseconds{20 * i}; };
    // 100 packets 1000..1099 with 10 lost (every tenth).
    for (int i = 0; i < 100; ++i)
        if (i % 10 != 5) src.on_packet(pkt(static_cast<std::uint16_t>(1000 + i), 160u * i), at(i));
    // The first packet was probation: base 1001, 99 expected, 89 received... the lost ones
    // are 1005, 1015, ..., 1095: 10 of them.
    CHECK(src.cumulative_lost() == 10);

    // An SR from the source, 250 ms before our report.
    rtp::sender_info si;
    si.ntp_timestamp = 0x0000b705'20000000ULL;
    src.on_sender_report(si, at(100));
    const rtp::report_block b = src.make_report_block(at(100) + 250ms);
    CHECK(b.ssrc == 0xabc);
    CHECK(b.cumulative_lost == 10);
    CHECK(b.fraction_lost == (10 * 256) / 99);
    CHECK(b.highest_sequence == 1099);
    CHECK(b.jitter == 0);
    CHECK(b.last_sr == 0xb7052000);
    CHECK(b.delay_since_last_sr == 0x4000);  // 0.25 s in 1/65536 s

    // Next interval: 50 packets, none lost, and 5 duplicates: fraction 0, cumulative down by 5.
    CHECK_FALSE(src.heard_since_report());
    for (int i = 100; i < 150; ++i) src.on_packet(pkt(static_cast<std::uint16_t>(1000 + i), 160u * i), at(i));
    for (int i = 145; i < 150; ++i) src.on_packet(pkt(static_cast<std::uint16_t>(1000 + i), 160u * i), at(150));
    const rtp::report_block b2 = src.make_report_block(at(150));
    CHECK(b2.fraction_lost == 0);
    CHECK(b2.cumulative_lost == 5);
    CHECK(b2.highest_sequence == 1149);
}

TEST_CASE("rtp source: extended highest sequence number across the wrap", "[rtp][source]") {
    rtp::receive_source src(1);
    for (int i = 0; i < 20; ++i) src.on_packet(pkt(static_cast<std::uint16_t>(65526 + i), 160u * i), t0 + std::chrono::milliseconds{20 * i});
    const auto b = src.make_report_block(t0 + 1s);
    CHECK(b.highest_sequence == 65536 + 9);  // one cycle, sequence 9
    CHECK(b.cumulative_lost == 0);
    CHECK(b.last_sr == 0);
    CHECK(b.delay_since_last_sr == 0);
}

TEST_CASE("rtp sender: sequence wrap, media clock and the SR's sender info", "[rtp][sender]") {
    rtp::sender s({.ssrc = 0x1234, .first_sequence = 65534, .first_timestamp = 0xffffff00u, .clock_rate = 8000});
    const rtp::packet a = s.next(0, true, 160, t0);
    s.advance(160);
    const rtp::packet b = s.next(0, false, 160, t0 + 20ms);
    s.advance(160);
    const rtp::packet c = s.next(0, false, 160, t0 + 40ms);
    s.advance(160);
    CHECK(a.sequence == 65534);
    CHECK(b.sequence == 65535);
    CHECK(c.sequence == 0);
    CHECK(a.marker);
    CHECK_FALSE(b.marker);
    CHECK(a.timestamp == 0xffffff00u);
    CHECK(b.timestamp == 0xffffffa0u);
    CHECK(c.timestamp == 0x40u);  // wrapped
    CHECK(c.ssrc == 0x1234);

    // An event packet at an explicit timestamp takes a sequence number but leaves the media clock.
    const rtp::packet e = s.next_at(b.timestamp, 101, false, 4, t0 + 50ms);
    CHECK(e.sequence == 1);
    CHECK(e.timestamp == b.timestamp);
    CHECK(e.payload_type == 101);
    CHECK(s.timestamp() == 0xe0u);

    CHECK(s.packet_count() == 4);
    CHECK(s.octet_count() == 3 * 160 + 4);
    // The SR's RTP timestamp: the media clock at the report's instant, 30 ms after packet c.
    const rtp::sender_info info = s.report(t0 + 70ms, 0x1122334455667788ULL);
    CHECK(info.ntp_timestamp == 0x1122334455667788ULL);
    CHECK(info.rtp_timestamp == 0x40u + 240);
    CHECK(info.packet_count == 4);

    s.change_ssrc(0x9999);
    CHECK(s.ssrc() == 0x9999);
    CHECK(s.packet_count() == 0);
    CHECK(s.next(0, false, 1, t0 + 80ms).ssrc == 0x9999);
}
