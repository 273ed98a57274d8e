// codec/g711.hpp against an independent reference: the decision and quantized values of ITU-T
// G.711 Tables 1a (A-law) and 2a (mu-law), written out as intervals and searched one by one.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "codec_signal.hpp"
#include "sipvoice/codec/g711.hpp"

namespace g711 = sipvoice::codec::g711;

namespace {

// One quantization interval of G.711: magnitudes in [lower, upper) (in the law's own units) are
// sent as value number n (0 = smallest magnitude) and decoded to `level`.
struct interval {
    int lower;
    int upper;
    int level;
};

// Table 2a (mu-law, 8159 units): eight segments between these decision values, 16 intervals each
// of equal width; the very first interval is [0, 1) with level 0, the rest of segment 1 are 2
// wide. Levels are the interval middles.
std::vector<interval> ulaw_intervals() {
    const int ends[9] = {-1, 31, 95, 223, 479, 991, 2015, 4063, 8159};
    std::vector<interval> t;
    for (int s = 0; s < 8; ++s) {
        const int width = (ends[s + 1] - ends[s]) / 16;
        for (int k = 0; k < 16; ++k) {
            int lo = ends[s] + k * width;
            const int hi = lo + width;
            const int level = lo + width / 2;
            if (lo < 0) lo = 0;  // the first interval: [0, 1), level 0
            t.push_back({lo, hi, level});
        }
    }
    return t;
}

// Table 1a (A-law, 4096 units): segments 1 and 2 are [0, 32) and [32, 64) with intervals 2 wide,
// then each segment doubles: [64, 128) ... [2048, 4096).
std::vector<interval> alaw_intervals() {
    const int ends[9] = {0, 32, 64, 128, 256, 512, 1024, 2048, 4096};
    std::vector<interval> t;
    for (int s = 0; s < 8; ++s) {
        const int width = (ends[s + 1] - ends[s]) / 16;
        for (int k = 0; k < 16; ++k) t.push_back({ends[s] + k * width, ends[s] + (k + 1) * width, ends[s] + k * width + width / 2});
    }
    return t;
}

struct quantized {
    std::uint8_t code;
    int value;  // 16-bit level
};

// Straightforward: magnitude in 16-bit units against every interval scaled to 16 bits; beyond the
// last decision value the last interval (overload). Sign kept apart.
quantized reference(const std::vector<interval>& table, int scale, bool alaw, int x) {
    const int magnitude = std::abs(x);
    int n = 127;
    for (int i = 0; i < 128; ++i) {
        if (magnitude >= table[i].lower * scale && magnitude < table[i].upper * scale) {
            n = i;
            break;
        }
    }
    const bool positive = x >= 0;
    const int value = (positive ? 1 : -1) * table[n].level * scale;
    // Character signal: polarity bit 1 for positive; mu-law sends the 7 magnitude bits inverted
    // (G.711 §3.1, Table 2a), A-law the even bits of the whole octet inverted (§2.1, Table 1a).
    std::uint8_t code;
    if (alaw) {
        code = static_cast<std::uint8_t>(((positive ? 0x80 : 0x00) | n) ^ 0x55);
    } else {
        code = static_cast<std::uint8_t>((positive ? 0x80 : 0x00) | (0x7F - n));
    }
    return {code, value};
}

const std::vector<interval>& ulaw_table() {
    static const auto t = ulaw_intervals();
    return t;
}
const std::vector<interval>& alaw_table() {
    static const auto t = alaw_intervals();
    return t;
}

}  // namespace

TEST_CASE("g711: the reference tables are G.711's", "[codec][g711]") {
    // Spot values printed in G.711 Tables 1a and 2a.
    const auto& u = ulaw_table();
    REQUIRE(u.size() == 128);
    CHECK(u[0].level == 0);
    CHECK(u[1].lower == 1);
    CHECK(u[1].level == 2);
    CHECK(u[16].lower == 31);
    CHECK(u[16].level == 33);
    CHECK(u[127].lower == 7903);
    CHECK(u[127].level == 8031);
    const auto& a = alaw_table();
    REQUIRE(a.size() == 128);
    CHECK(a[0].level == 1);
    CHECK(a[16].level == 33);
    CHECK(a[32].level == 66);
    CHECK(a[127].lower == 3968);
    CHECK(a[127].level == 4032);
}

TEST_CASE("g711: mu-law decode of all 256 codes is G.711 Table 2a", "[codec][g711]") {
    for (int c = 0; c < 256; ++c) {
        INFO("code " << c);
        const int n = 0x7F - (c & 0x7F);
        const int expected = ((c & 0x80) != 0 ? 1 : -1) * ulaw_table()[n].level * 4;
        CHECK(g711::ulaw_to_linear(static_cast<std::uint8_t>(c)) == expected);
    }
    CHECK(g711::ulaw_to_linear(0xFF) == 0);
    CHECK(g711::ulaw_to_linear(0x7F) == 0);
    CHECK(g711::ulaw_to_linear(0x80) == 32124);
    CHECK(g711::ulaw_to_linear(0x00) == -32124);
}

TEST_CASE("g711: A-law decode of all 256 codes is G.711 Table 1a", "[codec][g711]") {
    for (int c = 0; c < 256; ++c) {
        INFO("code " << c);
        const int d = c ^ 0x55;
        const int expected = ((d & 0x80) != 0 ? 1 : -1) * alaw_table()[d & 0x7F].level * 8;
        CHECK(g711::alaw_to_linear(static_cast<std::uint8_t>(c)) == expected);
    }
    CHECK(g711::alaw_to_linear(0xD5) == 8);
    CHECK(g711::alaw_to_linear(0x55) == -8);
    CHECK(g711::alaw_to_linear(0xAA) == 32256);
    CHECK(g711::alaw_to_linear(0x2A) == -32256);
}

TEST_CASE("g711: mu-law encode matches the reference for every 16-bit input", "[codec][g711]") {
    int code_mismatches = 0;
    int value_mismatches = 0;
    for (int x = -32768; x <= 32767; ++x) {
        const auto ref = reference(ulaw_table(), 4, false, x);
        const std::uint8_t code = g711::linear_to_ulaw(static_cast<std::int16_t>(x));
        if (code != ref.code) {
            if (code_mismatches++ < 5) FAIL_CHECK("x=" << x << " code " << int(code) << " expected " << int(ref.code));
        }
        if (g711::ulaw_to_linear(code) != ref.value) {
            if (value_mismatches++ < 5) FAIL_CHECK("x=" << x << " decoded " << g711::ulaw_to_linear(code) << " expected " << ref.value);
        }
    }
    CHECK(code_mismatches == 0);
    CHECK(value_mismatches == 0);
}

TEST_CASE("g711: A-law encode matches the reference for every 16-bit input", "[codec][g711]") {
    int code_mismatches = 0;
    int value_mismatches = 0;
    for (int x = -32768; x <= 32767; ++x) {
        const auto ref = reference(alaw_table(), 8, true, x);
        const std::uint8_t code = g711::linear_to_alaw(static_cast<std::int16_t>(x));
        if (code != ref.code) {
            if (code_mismatches++ < 5) FAIL_CHECK("x=" << x << " code " << int(code) << " expected " << int(ref.code));
        }
        if (g711::alaw_to_linear(code) != ref.value) {
            if (value_mismatches++ < 5) FAIL_CHECK("x=" << x << " decoded " << g711::alaw_to_linear(code) << " expected " << ref.value);
        }
    }
    CHECK(code_mismatches == 0);
    CHECK(value_mismatches == 0);
}

TEST_CASE("g711: encode(decode(code)) == code for all 256 codes, but mu-law's -0", "[codec][g711]") {
    for (int c = 0; c < 256; ++c) {
        INFO("code " << c);
        const auto code = static_cast<std::uint8_t>(c);
        CHECK(g711::linear_to_alaw(g711::alaw_to_linear(code)) == code);
        if (code == 0x7F) {
            // Both zero codes decode to 0, and 0 encodes as +0 (G.711 Table 2a, note on the two zeros).
            CHECK(g711::linear_to_ulaw(g711::ulaw_to_linear(code)) == 0xFF);
        } else {
            CHECK(g711::linear_to_ulaw(g711::ulaw_to_linear(code)) == code);
        }
    }
    // Small negative samples keep their sign as -0.
    CHECK(g711::linear_to_ulaw(-1) == 0x7F);
    CHECK(g711::linear_to_ulaw(-3) == 0x7F);
    CHECK(g711::linear_to_ulaw(3) == 0xFF);
}

TEST_CASE("g711: the quantization is symmetric and monotonic", "[codec][g711]") {
    int prev_u = -40000;
    int prev_a = -40000;
    for (int x = -32767; x <= 32767; ++x) {
        const auto s = static_cast<std::int16_t>(x);
        const auto m = static_cast<std::int16_t>(-x);
        const int u = g711::ulaw_to_linear(g711::linear_to_ulaw(s));
        const int a = g711::alaw_to_linear(g711::linear_to_alaw(s));
        // A-law has no zero level: 0 is +8 and its mirror -0 is the same 0, not -8.
        if (u != -g711::ulaw_to_linear(g711::linear_to_ulaw(m)) ||
            (x != 0 && a != -g711::alaw_to_linear(g711::linear_to_alaw(m)))) {
            FAIL("asymmetric at " << x);
        }
        if (u < prev_u || a < prev_a) FAIL("not monotonic at " << x);
        prev_u = u;
        prev_a = a;
    }
    SUCCEED();
}

TEST_CASE("g711: quantization error stays within half a step", "[codec][g711]") {
    // Inside the range, the level is the middle of the interval: the error is at most half its
    // width (mu-law: 4 * 256 / 2 at the top; A-law: 8 * 128 / 2).
    for (int x = -32635; x <= 32635; ++x) {
        const auto s = static_cast<std::int16_t>(x);
        const int eu = std::abs(g711::ulaw_to_linear(g711::linear_to_ulaw(s)) - x);
        const int ea = std::abs(g711::alaw_to_linear(g711::linear_to_alaw(s)) - x);
        // Relative to the magnitude: G.711's logarithmic steps keep it below 1/32 + a constant.
        if (eu > 512 || eu > std::abs(x) / 16 + 8 || ea > 512 || ea > std::abs(x) / 16 + 8) FAIL("error too large at " << x);
    }
    SUCCEED();
}

TEST_CASE("g711: block functions, transcoding and the SNR of a tone", "[codec][g711]") {
    const auto pcm = codec_test::tone(1000, 8000, 8000, 3000);  // about -21 dBm0
    std::vector<std::uint8_t> u(pcm.size()), a(pcm.size());
    CHECK(g711::encode_ulaw(pcm, u) == pcm.size());
    CHECK(g711::encode_alaw(pcm, a) == pcm.size());
    for (std::size_t i = 0; i < pcm.size(); ++i) {
        REQUIRE(u[i] == g711::linear_to_ulaw(pcm[i]));
        REQUIRE(a[i] == g711::linear_to_alaw(pcm[i]));
    }
    std::vector<std::int16_t> du(pcm.size()), da(pcm.size());
    CHECK(g711::decode_ulaw(u, du) == pcm.size());
    CHECK(g711::decode_alaw(a, da) == pcm.size());
    // G.711's signal-to-quantization noise is about 38 dB over a wide range of levels (G.712 asks
    // for 35 dB and more at -30..0 dBm0 with its noise weighting).
    const double snr_u = codec_test::snr_db(pcm, du);
    const double snr_a = codec_test::snr_db(pcm, da);
    INFO("mu-law SNR " << snr_u << " dB, A-law SNR " << snr_a << " dB");
    CHECK(snr_u > 35.0);
    CHECK(snr_a > 35.0);

    // Sizes: the shorter span wins.
    std::array<std::uint8_t, 4> small{};
    CHECK(g711::encode_ulaw(pcm, small) == 4);
    CHECK(g711::decode_alaw(std::span<const std::uint8_t>(a).first(3), du) == 3);

    // Transcoding tables are the composition through 16 bits.
    std::array<std::uint8_t, 256> all{};
    for (int c = 0; c < 256; ++c) all[c] = static_cast<std::uint8_t>(c);
    std::array<std::uint8_t, 256> to_a{}, to_u{};
    CHECK(g711::ulaw_to_alaw(all, to_a) == 256);
    CHECK(g711::alaw_to_ulaw(all, to_u) == 256);
    for (int c = 0; c < 256; ++c) {
        const auto code = static_cast<std::uint8_t>(c);
        CHECK(to_a[c] == g711::linear_to_alaw(g711::ulaw_to_linear(code)));
        CHECK(to_u[c] == g711::linear_to_ulaw(g711::alaw_to_linear(code)));
    }
}
