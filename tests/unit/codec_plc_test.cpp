// codec/plc.hpp: concealment continues a voiced signal, stays bounded, fades out, and hands back to
// the real audio without a click.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "codec_signal.hpp"
#include "sipvoice/codec/plc.hpp"

namespace codec = sipvoice::codec;

namespace {

constexpr std::size_t frame = 160;  // 20 ms at 8 kHz

// A voiced-like periodic signal: a few harmonics of f0 (so the pitch search has a real waveform).
std::vector<std::int16_t> voiced(double f0, std::size_t samples, double amplitude = 8000) {
    std::vector<std::int16_t> out(samples);
    for (std::size_t i = 0; i < samples; ++i) {
        const double t = static_cast<double>(i) / 8000.0;
        double v = 0;
        for (int h = 1; h <= 5; ++h) v += std::sin(2 * std::numbers::pi * f0 * h * t + 0.3 * h) / h;
        out[i] = static_cast<std::int16_t>(std::lround(amplitude * v / 2.3));
    }
    return out;
}

// Feeds `signal` frame by frame up to frame `lost_from`, conceals `lost` frames, returns the
// concealment; `p` keeps the state.
std::vector<std::int16_t> run_loss(codec::plc& p, std::vector<std::int16_t> signal, std::size_t lost_from, std::size_t lost) {
    for (std::size_t f = 0; f < lost_from; ++f) p.frame(std::span<std::int16_t>(signal).subspan(f * frame, frame));
    std::vector<std::int16_t> out(lost * frame);
    for (std::size_t f = 0; f < lost; ++f) p.conceal(std::span<std::int16_t>(out).subspan(f * frame, frame));
    return out;
}

int peak(std::span<const std::int16_t> x) {
    int m = 0;
    for (auto s : x) m = std::max(m, std::abs(static_cast<int>(s)));
    return m;
}

}  // namespace

// Measured: 37.5 dB at 90 Hz, 26.6 dB at 140 Hz, 19.7 dB at 185 Hz (the shorter the period, the
// more a whole-sample pitch drifts from the true one over 10 ms). Bound: 15 dB.
TEST_CASE("plc: a periodic signal is continued closely for the first 10 ms", "[codec][plc]") {
    for (double f0 : {90.0, 140.0, 185.0}) {
        INFO("f0 " << f0);
        codec::plc p(8000);
        const auto signal = voiced(f0, 20 * frame);
        const auto out = run_loss(p, signal, 10, 1);
        // The true continuation is the signal itself.
        const std::span<const std::int16_t> truth(signal.data() + 10 * frame, 80);
        const double snr = codec_test::snr_db(truth, std::span<const std::int16_t>(out).first(80));
        INFO("pitch " << p.pitch_period() << " samples, SNR over the first 10 ms " << snr << " dB");
        CHECK(snr > 15.0);
        // The pitch found is the period (or a multiple of it) within a sample.
        const double period = 8000.0 / f0;
        const double multiple = p.pitch_period() / period;
        CHECK(std::abs(multiple - std::round(multiple)) * period < 1.01);
    }
}

TEST_CASE("plc: the first concealed sample continues the last real one", "[codec][plc]") {
    codec::plc p(8000);
    // A pitch that is not a whole number of samples: the repetition alone would step.
    const auto signal = voiced(133.3, 20 * frame);
    const auto out = run_loss(p, signal, 10, 1);
    int max_step = 0;
    for (std::size_t i = 1; i < 10 * frame; ++i) max_step = std::max(max_step, std::abs(signal[i] - signal[i - 1]));
    const int junction = std::abs(out[0] - signal[10 * frame - 1]);
    INFO("junction step " << junction << ", largest step in the signal " << max_step);
    CHECK(junction <= max_step);
    for (std::size_t i = 1; i < out.size(); ++i) REQUIRE(std::abs(out[i] - out[i - 1]) <= 2 * max_step);
}

TEST_CASE("plc: output is bounded and decays to silence by 60 ms", "[codec][plc]") {
    for (int kind = 0; kind < 3; ++kind) {
        codec::plc p(8000);
        std::vector<std::int16_t> signal;
        if (kind == 0) signal = voiced(120, 20 * frame, 20000);
        if (kind == 1) signal = codec_test::speech_like(8000, 20 * frame);
        if (kind == 2) {  // noise at full scale
            signal.resize(20 * frame);
            std::srand(3);
            for (auto& s : signal) s = static_cast<std::int16_t>(std::rand() % 65536 - 32768);
        }
        INFO("signal kind " << kind);
        const auto out = run_loss(p, signal, 10, 5);  // 100 ms lost
        const std::span<const std::int16_t> history(signal.data() + 10 * frame - 390, 390);
        CHECK(peak(out) <= peak(history));
        // Energy per 10 ms: full for the first block, then never rising, silent from 60 ms on.
        std::vector<double> e;
        for (std::size_t b = 0; b < out.size() / 80; ++b) e.push_back(codec_test::energy(std::span<const std::int16_t>(out).subspan(b * 80, 80)));
        CHECK(e[0] > 0);
        for (std::size_t b = 2; b < e.size(); ++b) {
            INFO("block " << b);
            // Gain falls 20% per 10 ms block; the waveform's own variation is allowed 10%.
            CHECK(e[b] <= e[b - 1] * 1.1 + 1);
        }
        for (std::size_t b = 6; b < e.size(); ++b) CHECK(e[b] == 0);
        CHECK(p.concealed_samples() == 5 * frame);
        CHECK(p.concealing());
    }
}

TEST_CASE("plc: recovery crossfades from the concealment into the real frame", "[codec][plc]") {
    codec::plc p(8000);
    const auto signal = voiced(110, 30 * frame);
    auto out = run_loss(p, signal, 10, 2);  // frames 10 and 11 lost
    std::vector<std::int16_t> next(signal.begin() + 12 * frame, signal.begin() + 13 * frame);
    const std::vector<std::int16_t> original = next;
    p.frame(next);
    CHECK_FALSE(p.concealing());
    CHECK(p.concealed_samples() == 2 * frame);
    // 4 ms + 1 ms per 10 ms lost (40 ms) = 8 ms, 64 samples changed; the rest is untouched.
    CHECK(std::equal(next.begin() + 64, next.end(), original.begin() + 64));
    CHECK(next[63] != original[63]);
    CHECK(next[0] != original[0]);
    // No click at the junction: the step from the last concealed sample into the frame is of the
    // order of the signal's own steps.
    int max_step = 0;
    for (std::size_t i = 1; i < 10 * frame; ++i) max_step = std::max(max_step, std::abs(signal[i] - signal[i - 1]));
    CHECK(std::abs(next[0] - out.back()) <= 2 * max_step);
    // Good frames without a loss before them pass through unchanged.
    std::vector<std::int16_t> after(signal.begin() + 13 * frame, signal.begin() + 14 * frame);
    const std::vector<std::int16_t> after_original = after;
    p.frame(after);
    CHECK(after == after_original);
}

TEST_CASE("plc: silence, no history, reset, and any slice length", "[codec][plc]") {
    codec::plc fresh(8000);
    std::vector<std::int16_t> out(frame, 1234);
    fresh.conceal(out);
    CHECK(std::all_of(out.begin(), out.end(), [](std::int16_t s) { return s == 0; }));

    codec::plc p(8000);
    auto signal = voiced(150, 10 * frame);
    for (std::size_t f = 0; f < 10; ++f) p.frame(std::span<std::int16_t>(signal).subspan(f * frame, frame));
    // One 160-sample conceal equals 160 one-sample conceals (the state continues across calls).
    codec::plc q = p;
    std::vector<std::int16_t> whole(frame), pieces(frame);
    p.conceal(whole);
    for (std::size_t i = 0; i < frame; ++i) q.conceal(std::span<std::int16_t>(pieces).subspan(i, 1));
    CHECK(whole == pieces);

    p.reset();
    CHECK_FALSE(p.concealing());
    p.conceal(out);
    CHECK(std::all_of(out.begin(), out.end(), [](std::int16_t s) { return s == 0; }));
}

TEST_CASE("plc: works at 16 and 48 kHz", "[codec][plc]") {
    for (std::uint32_t rate : {16000u, 48000u}) {
        INFO("rate " << rate);
        codec::plc p(rate);
        const std::size_t n = rate / 50;
        std::vector<std::int16_t> signal(12 * n);
        for (std::size_t i = 0; i < signal.size(); ++i) {
            const double t = static_cast<double>(i) / rate;
            // 150 Hz: not a whole number of samples per period at either rate.
            signal[i] = static_cast<std::int16_t>(std::lround(6000 * (std::sin(2 * std::numbers::pi * 150 * t) +
                                                                      0.5 * std::sin(2 * std::numbers::pi * 300 * t))));
        }
        for (std::size_t f = 0; f < 10; ++f) p.frame(std::span<std::int16_t>(signal).subspan(f * n, n));
        std::vector<std::int16_t> out(n);
        p.conceal(out);
        const double snr = codec_test::snr_db(std::span<const std::int16_t>(signal).subspan(10 * n, n / 2),
                                              std::span<const std::int16_t>(out).first(n / 2));
        INFO("SNR over the first 10 ms " << snr << " dB, pitch " << p.pitch_period());
        CHECK(snr > 20.0);
    }
}
