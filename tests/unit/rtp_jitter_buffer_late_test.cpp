// rtp/jitter_buffer on a virtual clock (no sockets; it lives here beside the media tests that found
// the bug): packets that come after their turn still count in the transit spread, so a buffer
// that is too shallow grows until they arrive in time.
#include <catch2/catch.hpp>
#include <algorithm>
#include <chrono>
#include <vector>

#include "sipvoice/rtp/jitter_buffer.hpp"

using namespace sipvoice;
using namespace std::chrono_literals;

TEST_CASE("jitter buffer: late packets raise the target delay until they are in time", "[rtp][jitter_buffer]") {
    rtp::jitter_buffer jb;
    const time_point t0 = time_point{} + 100s;
    const int n = 1000;  // 20 s
    struct arrival {
        time_point at;
        std::uint16_t seq;
    };
    std::vector<arrival> wire;
    for (int i = 0; i < n; ++i) {
        time_point at = t0 + i * 20ms;
        // From 2 s on, one packet in eight is 50 ms behind (two and a half packet times).
        if (i >= 100 && i % 8 == 0) at += 50ms;
        wire.push_back({at, static_cast<std::uint16_t>(1000 + i)});
    }
    std::stable_sort(wire.begin(), wire.end(), [](const arrival& a, const arrival& b) { return a.at < b.at; });
    std::size_t next = 0;
    std::uint64_t late_first_half = 0;
    std::vector<std::uint8_t> payload{1, 2, 3};
    for (int k = 0; k < n + 40; ++k) {
        const time_point now = t0 + 5ms + k * 20ms;
        for (; next < wire.size() && wire[next].at <= now; ++next) {
            rtp::packet p;
            p.sequence = wire[next].seq;
            p.timestamp = 160000u + 160u * static_cast<std::uint32_t>(wire[next].seq - 1000);
            p.ssrc = 0x5eed;
            p.payload = payload;
            jb.push(p, wire[next].at);
        }
        (void)jb.pop(now);
        if (k == n / 2) late_first_half = jb.stats().late;
    }
    const rtp::jitter_stats& s = jb.stats();
    INFO("late " << s.late << " (" << late_first_half << " in the first 10 s), target " << jb.target_delay().count()
                 << " ms, stretched " << s.stretched);
    // 112 packets were behind. Had the late ones been left out of the spread, the target would have
    // stayed at its minimum (the in-time packets alone show no spread) and every one of them would
    // be late.
    CHECK(jb.target_delay() >= 50ms);
    CHECK(s.late <= 10);
    CHECK(s.late == late_first_half);  // none once the target had grown
    CHECK(s.lost == s.late);
    CHECK(s.played + s.dropped + s.lost == static_cast<std::uint64_t>(n));
}
