// Test signals and measurements shared by the codec tests: tones, a synthetic speech-like signal,
// SNR and delay by cross-correlation.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <random>
#include <span>
#include <vector>

namespace codec_test {

inline std::vector<std::int16_t> tone(double hz, std::uint32_t rate, std::size_t samples, double amplitude = 10000.0,
                                      double phase = 0.0) {
    std::vector<std::int16_t> out(samples);
    for (std::size_t i = 0; i < samples; ++i) {
        out[i] = static_cast<std::int16_t>(
            std::lround(amplitude * std::sin(2.0 * std::numbers::pi * hz * static_cast<double>(i) / rate + phase)));
    }
    return out;
}

// Voiced speech, roughly: a glottal pulse train whose pitch glides between 100 and 180 Hz, shaped
// to the spectral slope of speech, through three formant resonators that move between vowel-like
// positions, under a syllable envelope (4 per second, with short gaps), plus a little breath
// noise. Deterministic; peaks around -6 dBFS.
inline std::vector<std::int16_t> speech_like(std::uint32_t rate, std::size_t samples) {
    std::vector<std::int16_t> out(samples);
    std::vector<double> raw(samples);
    std::mt19937 rng(7);
    std::normal_distribution<double> noise(0.0, 1.0);
    struct resonator {
        double y1 = 0, y2 = 0;
        double run(double x, double f, double bw, double rate_hz) {
            const double r = std::exp(-std::numbers::pi * bw / rate_hz);
            const double a1 = 2 * r * std::cos(2 * std::numbers::pi * f / rate_hz);
            const double a2 = -r * r;
            const double y = (1 - r) * x + a1 * y1 + a2 * y2;
            y2 = y1;
            y1 = y;
            return y;
        }
    };
    resonator f1, f2, f3;
    // (F1, F2, F3) of a few vowels: /a/, /i/, /u/, /e/, /o/.
    const double vowels[5][3] = {{730, 1090, 2440}, {270, 2290, 3010}, {300, 870, 2240}, {530, 1840, 2480}, {570, 840, 2410}};
    double phase = 0;
    const double glottal = std::exp(-2 * std::numbers::pi * 250.0 / rate);
    double g1 = 0, g2 = 0, last = 0;
    for (std::size_t i = 0; i < samples; ++i) {
        const double t = static_cast<double>(i) / rate;
        const double f0 = 140 + 40 * std::sin(2 * std::numbers::pi * 0.7 * t) + 5 * std::sin(2 * std::numbers::pi * 5.5 * t);
        phase += f0 / rate;
        double pulse = 0;
        if (phase >= 1) {
            phase -= 1;
            pulse = 1;
        }
        // Vowel index glides: one vowel per 250 ms syllable, interpolated over its first 60 ms.
        const double syl = t / 0.25;
        const auto k = static_cast<std::size_t>(syl);
        const double into = (syl - static_cast<double>(k)) * 0.25;
        const double w = std::min(1.0, into / 0.06);
        const double* from = vowels[(k + 4) % 5];
        const double* to = vowels[k % 5];
        const double ff1 = from[0] + w * (to[0] - from[0]);
        const double ff2 = from[1] + w * (to[1] - from[1]);
        const double ff3 = from[2] + w * (to[2] - from[2]);
        const double nyquist = rate / 2.0 - 200;
        // The glottal source falls off at -12 dB/octave above a few hundred Hz (two one-pole
        // low-passes), the lips' radiation lifts it by 6 (a first difference): the -6 dB/octave
        // slope of voiced speech, with most energy below 1 kHz.
        g1 = glottal * g1 + (1 - glottal) * (pulse * rate / 100.0);
        g2 = glottal * g2 + (1 - glottal) * g1;
        const double excitation = (g2 - last) + 0.002 * noise(rng);
        last = g2;
        double v = 1.0 * f1.run(excitation, std::min(ff1, nyquist), 80, rate) +
                   0.6 * f2.run(excitation, std::min(ff2, nyquist), 100, rate) +
                   (ff3 < nyquist ? 0.3 * f3.run(excitation, ff3, 150, rate) : 0.0);
        // Syllable envelope: rises and falls within each 250 ms, silent for the last 30 ms.
        const double env = into < 0.22 ? std::sin(std::numbers::pi * into / 0.22) : 0.0;
        raw[i] = v * env;
    }
    double peak = 0;
    for (double v : raw) peak = std::max(peak, std::abs(v));
    for (std::size_t i = 0; i < samples; ++i) out[i] = static_cast<std::int16_t>(std::lround(raw[i] * 16000.0 / peak));
    return out;
}

inline double energy(std::span<const std::int16_t> x) {
    double e = 0;
    for (auto s : x) e += static_cast<double>(s) * s;
    return e;
}

// SNR of `test` against `ref` in dB over their common length.
inline double snr_db(std::span<const std::int16_t> ref, std::span<const std::int16_t> test) {
    const std::size_t n = std::min(ref.size(), test.size());
    double sig = 0, err = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double r = ref[i];
        const double d = r - test[i];
        sig += r * r;
        err += d * d;
    }
    if (err == 0) return 200.0;
    return 10.0 * std::log10(sig / err);
}

// The lag (0..max_lag) at which `test` best matches `ref` delayed by it: test[i + lag] ~ ref[i],
// by normalized cross-correlation over `length` samples of ref starting at `from`.
inline std::size_t best_lag(std::span<const std::int16_t> ref, std::span<const std::int16_t> test, std::size_t from,
                            std::size_t length, std::size_t max_lag) {
    std::size_t best = 0;
    double best_score = -1e300;
    for (std::size_t lag = 0; lag <= max_lag; ++lag) {
        if (from + lag + length > test.size() || from + length > ref.size()) break;
        double dot = 0, e = 0;
        for (std::size_t i = 0; i < length; ++i) {
            const double t = test[from + lag + i];
            dot += static_cast<double>(ref[from + i]) * t;
            e += t * t;
        }
        const double score = e > 0 ? dot / std::sqrt(e) : -1e300;
        if (score > best_score) {
            best_score = score;
            best = lag;
        }
    }
    return best;
}

}  // namespace codec_test
