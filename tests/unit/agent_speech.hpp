// Speech for the agent's offline tests: flite's voice, seeded so that the audio (and what the
// recognizer makes of it) is the same on every run, and the narrowband line a G.711 call carries.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "offline_backends.hpp"
#include "sipvoice/codec/resampler.hpp"

namespace sipvoice::agent::test {

inline flite_tts& voice() {
    static std::string error;
    static const std::unique_ptr<flite_tts> tts = flite_tts::create(&error);
    INFO(error);
    REQUIRE(tts != nullptr);
    return *tts;
}

// Flite draws the noise of its excitation from rand(): seeded, the audio is the same every run.
inline std::vector<std::int16_t> speak(std::string_view text) {
    std::srand(1);
    std::vector<std::int16_t> pcm;
    const std::string error =
        voice().synthesize(text, [&](std::span<const std::int16_t> s) { pcm.insert(pcm.end(), s.begin(), s.end()); }, {});
    INFO(error);
    REQUIRE(error.empty());
    return pcm;
}

// 16 kHz to 8 kHz, as a G.711 call carries it.
inline std::vector<std::int16_t> narrowband(std::span<const std::int16_t> wide) {
    auto down = sipvoice::codec::resampler::create(16000, 8000);
    REQUIRE(down);
    std::vector<std::int16_t> narrow(down->output_samples(wide.size()));
    auto n = down->process(wide, narrow);
    REQUIRE(n);
    narrow.resize(*n);
    return narrow;
}

}  // namespace sipvoice::agent::test
