// A test helper: writes a sine tone as a WAV file, or says how much of a WAV file's energy is at a
// frequency (the best 200 ms window, by the Goertzel algorithm), so call tests can tell that a tone
// crossed a call without comparing bytes (codecs change them).
//
//   tone_tool make FILE HZ SECONDS RATE
//   tone_tool check FILE HZ MIN_SHARE      exit 0 when some window has at least MIN_SHARE (0..1)
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numbers>
#include <string>

#include "sipvoice/media/wav.hpp"

using namespace sipvoice;

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "make" && argc == 6) {
        const double hz = std::atof(argv[3]);
        const double seconds = std::atof(argv[4]);
        const auto rate = static_cast<std::uint32_t>(std::atoi(argv[5]));
        media::wav_audio a;
        a.sample_rate = rate;
        a.channels = 1;
        a.samples.resize(static_cast<std::size_t>(seconds * rate));
        for (std::size_t i = 0; i < a.samples.size(); ++i)
            a.samples[i] = static_cast<std::int16_t>(8000 * std::sin(2 * std::numbers::pi * hz * static_cast<double>(i) / rate));
        if (auto e = media::write_wav(argv[2], a); e.failed()) {
            std::fprintf(stderr, "tone_tool: %s\n", std::string(e.what()).c_str());
            return 2;
        }
        return 0;
    }
    if (mode == "check" && argc == 5) {
        auto a = media::read_wav(argv[2]);
        if (!a) {
            std::fprintf(stderr, "tone_tool: %s: %s\n", argv[2], std::string(a.error().what()).c_str());
            return 2;
        }
        const double hz = std::atof(argv[3]);
        const double min_share = std::atof(argv[4]);
        const std::size_t window = a->sample_rate / 5;
        const double k = 2 * std::cos(2 * std::numbers::pi * hz / a->sample_rate);
        double best = 0;
        for (std::size_t at = 0; at + window <= a->samples.size(); at += window / 2) {
            double s1 = 0, s2 = 0, total = 0;
            for (std::size_t i = at; i < at + window; ++i) {
                const double v = a->samples[i];
                const double s0 = v + k * s1 - s2;
                s2 = s1;
                s1 = s0;
                total += v * v;
            }
            if (total > 0) best = std::max(best, 2 * (s1 * s1 + s2 * s2 - k * s1 * s2) / (static_cast<double>(window) * total));
        }
        std::printf("share of %.0f Hz in the best 200 ms window: %.4f (%zu samples at %u Hz)\n", hz, best, a->samples.size(),
                    a->sample_rate);
        return best >= min_share ? 0 : 1;
    }
    std::fprintf(stderr, "usage: tone_tool make FILE HZ SECONDS RATE | check FILE HZ MIN_SHARE\n");
    return 2;
}
