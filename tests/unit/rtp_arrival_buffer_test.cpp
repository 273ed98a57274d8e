#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include "sipvoice/rtp/arrival_buffer.hpp"

namespace rtp = sipvoice::rtp;
using namespace std::chrono_literals;
using sipvoice::time_point;

namespace {

const time_point t0 = time_point{} + 100s;

struct out {
    rtp::playout_kind kind;
    std::uint16_t seq;      // frame, lost
    std::uint16_t named;    // frame: the sequence number the payload carries; lost: the FEC payload's, or 0
};

// Packets carry their own sequence number (and a byte of the SSRC) as payload, so the test can tell
// what came out, and that the payload outlives the packet it came from.
class feeder {
public:
    explicit feeder(rtp::arrival_buffer& b) : b_(b) {}

    std::vector<out> push(std::uint16_t seq, time_point at, std::uint32_t ssrc = 0x5eed) {
        std::vector<std::uint8_t> payload = {static_cast<std::uint8_t>(seq >> 8), static_cast<std::uint8_t>(seq),
                                             static_cast<std::uint8_t>(ssrc)};
        rtp::packet p;
        p.sequence = seq;
        p.timestamp = 1000U + 160U * seq;
        p.ssrc = ssrc;
        p.payload = payload;
        auto r = collect(b_.push(p, at));
        payload.assign(payload.size(), 0xff);  // whatever is held must be a copy
        return r;
    }
    std::vector<out> poll(time_point at) { return collect(b_.poll(at)); }

private:
    static std::uint16_t named(rtp::bytes_view v) {
        return v.size() >= 2 ? static_cast<std::uint16_t>(v[0] << 8 | v[1]) : 0;
    }
    static std::vector<out> collect(std::span<const rtp::playout> frames) {
        std::vector<out> r;
        for (const rtp::playout& f : frames)
            r.push_back({f.kind, f.sequence, f.kind == rtp::playout_kind::lost ? named(f.next_payload) : named(f.payload)});
        return r;
    }
    rtp::arrival_buffer& b_;
};

bool is_frame(const std::vector<out>& o, std::uint16_t seq) {
    return o.size() == 1 && o[0].kind == rtp::playout_kind::frame && o[0].seq == seq && o[0].named == seq;
}

}  // namespace

TEST_CASE("arrival buffer: packets in order come out the moment they arrive, and poll adds nothing", "[rtp][arrival]") {
    rtp::arrival_buffer b({.frame = 20ms});
    feeder f(b);
    CHECK(f.poll(t0).empty());  // the consumer's clock starts
    for (std::uint16_t i = 0; i < 50; ++i) {
        const time_point at = t0 + 3ms + i * 20ms;
        CHECK(is_frame(f.push(i, at), i));
        // Ticks at another phase, and a packet up to 9 ms late, ask for no stand-in.
        CHECK(f.poll(at + 17ms).empty());
    }
    CHECK(b.stats().played == 50);
    CHECK(b.stats().concealed == 0);
}

TEST_CASE("arrival buffer: before the first packet the clock gets silence, one frame per 20 ms", "[rtp][arrival]") {
    rtp::arrival_buffer b({.frame = 20ms});
    feeder f(b);
    int nothing = 0;
    for (int k = 0; k <= 50; ++k)
        for (const out& o : f.poll(t0 + k * 20ms)) nothing += o.kind == rtp::playout_kind::nothing ? 1 : 0;
    CHECK(nothing >= 48);
    CHECK(nothing <= 50);
}

TEST_CASE("arrival buffer: a packet that overtook another waits for it", "[rtp][arrival]") {
    rtp::arrival_buffer b({.frame = 20ms});
    feeder f(b);
    CHECK(is_frame(f.push(10, t0), 10));
    CHECK(f.push(12, t0 + 20ms).empty());
    CHECK(b.held() == 1);
    const auto o = f.push(11, t0 + 25ms);
    REQUIRE(o.size() == 2);
    CHECK(o[0].seq == 11);
    CHECK(o[0].named == 11);
    CHECK(o[1].seq == 12);
    CHECK(o[1].named == 12);  // copied when held, not the overwritten buffer
    CHECK(b.held() == 0);
    CHECK(b.stats().lost == 0);
}

TEST_CASE("arrival buffer: a missing packet is given up on the tick, with the next one for FEC", "[rtp][arrival]") {
    rtp::arrival_buffer b({.frame = 20ms});
    feeder f(b);
    CHECK(is_frame(f.push(1, t0), 1));
    CHECK(is_frame(f.push(2, t0 + 20ms), 2));
    // 3 is lost; 4 and 5 arrive and wait.
    CHECK(f.push(4, t0 + 60ms).empty());
    CHECK(f.push(5, t0 + 80ms).empty());
    // 1.5 frames after the last frame out (2 at 20 ms) the tick gives 3 up.
    const auto o = f.poll(t0 + 85ms);
    REQUIRE(o.size() == 3);
    CHECK(o[0].kind == rtp::playout_kind::lost);
    CHECK(o[0].seq == 3);
    CHECK(o[0].named == 4);
    CHECK(o[1].seq == 4);
    CHECK(o[2].seq == 5);
    CHECK(b.stats().lost == 1);
    // 3 after all: too late, dropped; 4 again: a duplicate.
    CHECK(f.push(3, t0 + 90ms).empty());
    CHECK(f.push(4, t0 + 91ms).empty());
    CHECK(b.stats().late == 1);
    CHECK(b.stats().duplicates == 1);
    CHECK(is_frame(f.push(6, t0 + 100ms), 6));
}

TEST_CASE("arrival buffer: silence suppression is filled in time and consumes no sequence number", "[rtp][arrival]") {
    rtp::arrival_buffer b({.frame = 20ms});
    feeder f(b);
    CHECK(is_frame(f.push(7, t0), 7));
    int conceal = 0;
    // 400 ms with no packet, ticks every 20 ms at a phase of 5 ms.
    for (int k = 1; k <= 20; ++k)
        for (const out& o : f.poll(t0 + 5ms + k * 20ms)) conceal += o.kind == rtp::playout_kind::conceal ? 1 : 0;
    CHECK(conceal >= 18);
    CHECK(conceal <= 20);
    // The talker resumes with the next number: it plays at once.
    CHECK(is_frame(f.push(8, t0 + 410ms), 8));
    CHECK(b.stats().lost == 0);
}

TEST_CASE("arrival buffer: a gap wider than it holds is skipped at once", "[rtp][arrival]") {
    rtp::arrival_buffer b({.frame = 20ms, .reorder = 4, .jump = 64});
    feeder f(b);
    CHECK(is_frame(f.push(100, t0), 100));
    CHECK(f.push(102, t0 + 40ms).empty());  // held
    const auto o = f.push(110, t0 + 200ms);
    REQUIRE(o.size() == 2);
    CHECK(o[0].seq == 102);
    CHECK(o[1].seq == 110);
    CHECK(b.stats().lost == 8);  // 101, 103..109
    CHECK(is_frame(f.push(111, t0 + 220ms), 111));
}

TEST_CASE("arrival buffer: sequence numbers wrap around", "[rtp][arrival]") {
    rtp::arrival_buffer b;
    feeder f(b);
    CHECK(is_frame(f.push(65534, t0), 65534));
    CHECK(f.push(0, t0 + 40ms).empty());
    const auto o = f.push(65535, t0 + 41ms);
    REQUIRE(o.size() == 2);
    CHECK(o[0].seq == 65535);
    CHECK(o[1].seq == 0);
    CHECK(is_frame(f.push(1, t0 + 60ms), 1));
}

TEST_CASE("arrival buffer: a stray packet does not restart the stream, two in a row do", "[rtp][arrival]") {
    rtp::arrival_buffer b;
    feeder f(b);
    CHECK(is_frame(f.push(500, t0), 500));
    SECTION("another SSRC") {
        CHECK(f.push(9000, t0 + 10ms, 0xbad).empty());
        CHECK(is_frame(f.push(501, t0 + 20ms), 501));
        CHECK(b.stats().held == 1);
        CHECK(f.push(20, t0 + 30ms, 0x77).empty());
        const auto o = f.push(21, t0 + 40ms, 0x77);
        REQUIRE(o.size() == 2);
        CHECK(o[0].seq == 20);
        CHECK(o[0].named == 20);
        CHECK(o[1].seq == 21);
        CHECK(b.stats().resyncs == 1);
        CHECK(b.stats().held == 1);  // the first stray one
        CHECK(f.push(502, t0 + 50ms).empty());  // the old source is now the stranger
    }
    SECTION("a jump of the same source, forward and back") {
        CHECK(f.push(5000, t0 + 10ms).empty());
        CHECK(is_frame(f.push(501, t0 + 20ms), 501));
        CHECK(f.push(100, t0 + 30ms).empty());
        CHECK(is_frame(f.push(502, t0 + 40ms), 502));
        CHECK(f.push(3000, t0 + 50ms).empty());
        const auto o = f.push(3001, t0 + 60ms);
        REQUIRE(o.size() == 2);
        CHECK(o[1].seq == 3001);
        CHECK(b.stats().resyncs == 1);
    }
}

TEST_CASE("arrival buffer: over a lossy, reordered minute the consumer's clock keeps time", "[rtp][arrival]") {
    rtp::arrival_buffer b({.frame = 20ms});
    feeder f(b);
    std::size_t frames = 0;
    int next_poll = 0;
    const auto tick_until = [&](time_point until) {
        for (; t0 + 7ms + next_poll * 20ms <= until; ++next_poll) frames += f.poll(t0 + 7ms + next_poll * 20ms).size();
    };
    // 3000 packets (60 s), every 10th lost, every 7th swapped with the next one (arrives 25 ms later).
    std::vector<std::pair<time_point, std::uint16_t>> wire;
    for (std::uint16_t i = 0; i < 3000; ++i) {
        if (i % 10 == 9) continue;
        wire.emplace_back(t0 + i * 20ms + (i % 7 == 3 ? 25ms : 0ms), i);
    }
    std::stable_sort(wire.begin(), wire.end());
    for (const auto& [at, seq] : wire) {
        tick_until(at);
        frames += f.push(seq, at).size();
    }
    tick_until(t0 + 60s);
    // About one frame per 20 ms of stream (3000), a late packet at worst one extra.
    CHECK(frames >= 2990);
    CHECK(frames <= 3000 + 3000 / 7);
    CHECK(b.stats().played + b.stats().late == 2700);
    CHECK(b.held() == 0);
}
