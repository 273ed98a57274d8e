// The agent's turn-taking pieces: voice activity / end of turn (turn_detector) and the sentence cutter
// that feeds speech synthesis while the model is still writing (sentence_splitter).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "sentence_splitter.hpp"
#include "turn_detector.hpp"

using namespace sipvoice::agent;

namespace {

constexpr std::size_t k_frame = 320;  // 20 ms at 16 kHz

// A frame of noise at `noise_dbfs` plus, when tone_dbfs > -90, a 300 Hz tone at that level.
std::vector<std::int16_t> frame(std::mt19937& rng, double noise_dbfs, double tone_dbfs = -100, std::size_t* phase = nullptr) {
    std::normal_distribution<double> n(0, 32768.0 * std::pow(10, noise_dbfs / 20));
    const double amp = 32768.0 * std::pow(10, tone_dbfs / 20) * std::sqrt(2.0);
    std::vector<std::int16_t> f(k_frame);
    for (std::size_t i = 0; i < k_frame; ++i) {
        double v = n(rng);
        if (tone_dbfs > -90 && phase != nullptr) v += amp * std::sin(2 * M_PI * 300 * static_cast<double>((*phase)++) / 16000);
        f[i] = static_cast<std::int16_t>(std::clamp(v, -32768.0, 32767.0));
    }
    return f;
}

struct run_result {
    std::vector<std::size_t> started;  // frame numbers (1-based) of speech_started
    std::vector<std::size_t> ended;
    std::vector<std::size_t> turn_samples;
};

// A script of (frames, noise dB, tone dB) segments.
struct segment {
    std::size_t frames;
    double noise;
    double tone;
};

run_result run(turn_detector& d, const std::vector<segment>& script, std::uint32_t seed = 1) {
    std::mt19937 rng(seed);
    std::size_t phase = 0;
    run_result r;
    std::size_t n = 0;
    for (const auto& s : script) {
        for (std::size_t i = 0; i < s.frames; ++i) {
            ++n;
            const auto f = frame(rng, s.noise, s.tone, &phase);
            const auto e = d.feed(f);
            if (e == turn_detector::event::speech_started) r.started.push_back(n);
            if (e == turn_detector::event::turn_ended) {
                r.ended.push_back(n);
                r.turn_samples.push_back(d.take_turn().size());
            }
        }
    }
    return r;
}

}  // namespace

TEST_CASE("turn_detector: one utterance over line noise is one turn, ended after the configured silence", "[agent][vad]") {
    turn_detector_config cfg;  // 12 dB / 6 dB, 0.5 s end of turn, 0.2 s minimum speech
    turn_detector d(cfg);
    // 1 s of -55 dBFS noise, 1.2 s of speech at -20 dBFS, then 1 s of noise.
    const auto r = run(d, {{50, -55, -100}, {60, -55, -20}, {50, -55, -100}});
    REQUIRE(r.started.size() == 1);
    REQUIRE(r.ended.size() == 1);
    // Speech starts after min_speech (10 frames) of loud audio, at frame 60.
    CHECK(r.started[0] == 60);
    // The turn ends 25 frames (0.5 s) after the last loud frame (110).
    CHECK(r.ended[0] == 135);
    CHECK(d.last_voiced_frame() == 110);
    // Pre-roll (0.3 s) + the turn from the onset frame on.
    CHECK(r.turn_samples[0] == 4800 + (135 - 60) * k_frame);
    CHECK(d.noise_floor_db() == Approx(-55).margin(2));
}

TEST_CASE("turn_detector: a click or a cough shorter than min_speech starts nothing", "[agent][vad]") {
    turn_detector d;
    const auto r = run(d, {{50, -55, -100}, {5, -55, -10}, {50, -55, -100}, {8, -55, -10}, {50, -55, -100}});
    CHECK(r.started.empty());
    CHECK(r.ended.empty());
}

TEST_CASE("turn_detector: short pauses inside a sentence do not end the turn; a long one does", "[agent][vad]") {
    turn_detector d;
    const auto r = run(d, {{50, -60, -100}, {30, -60, -25}, {15, -60, -100}, {30, -60, -25}, {40, -60, -100}});
    REQUIRE(r.started.size() == 1);
    REQUIRE(r.ended.size() == 1);
    CHECK(r.ended[0] == 50 + 30 + 15 + 30 + 25);
}

TEST_CASE("turn_detector: the noise floor adapts to a louder line, so its noise is not speech", "[agent][vad]") {
    turn_detector d;
    // A quiet line, then the line gets 20 dB noisier (slowly, as line noise does), then speech above it.
    std::vector<segment> script{{50, -65, -100}};
    for (int step = 1; step <= 20; ++step) script.push_back({10, -65.0 + step, -100});
    script.push_back({200, -45, -100});
    const auto quiet = run(d, script);
    CHECK(quiet.started.empty());
    CHECK(d.noise_floor_db() == Approx(-45).margin(3));
    const auto r = run(d, {{40, -45, -15}, {40, -45, -100}}, 7);
    CHECK(r.started.size() == 1);
    CHECK(r.ended.size() == 1);
}

TEST_CASE("turn_detector: digital silence keeps the floor at -60 dBFS and quiet speech still counts", "[agent][vad]") {
    turn_detector d;
    std::vector<std::int16_t> zero(k_frame, 0);
    for (int i = 0; i < 50; ++i) CHECK(d.feed(zero) == turn_detector::event::none);
    CHECK(d.noise_floor_db() == -60);
    const auto r = run(d, {{30, -100, -40}, {30, -100, -100}});
    CHECK(r.started.size() == 1);
    CHECK(r.ended.size() == 1);
}

TEST_CASE("turn_detector: end-of-turn silence is configurable", "[agent][vad]") {
    turn_detector_config cfg;
    cfg.end_of_turn_silence = 0.3;
    turn_detector d(cfg);
    const auto r = run(d, {{30, -55, -100}, {30, -55, -20}, {30, -55, -100}});
    REQUIRE(r.ended.size() == 1);
    CHECK(r.ended[0] == 30 + 30 + 15);
}

TEST_CASE("turn_detector: a caller who never pauses gets the turn cut at max_turn", "[agent][vad]") {
    turn_detector_config cfg;
    cfg.max_turn = 2;
    turn_detector d(cfg);
    const auto r = run(d, {{20, -55, -100}, {300, -55, -20}});
    CHECK(r.ended.size() >= 2);
}

TEST_CASE("sentence_splitter: sentences come out as soon as they are complete", "[agent][sentences]") {
    sentence_splitter s;
    std::vector<std::string> got;
    for (std::string_view tok : {"It", " is", " 3", ".5", " degrees", " outside", ".", " Dr", ". Smith", " says", " hi",
                                 "!", " Anything", " else", "?"}) {
        for (auto& x : s.feed(tok)) got.push_back(x);
    }
    CHECK(got == std::vector<std::string>{"It is 3.5 degrees outside.", "Dr. Smith says hi!"});
    CHECK(s.flush() == "Anything else?");
    CHECK(s.flush().empty());
}

TEST_CASE("sentence_splitter: split at every position gives the same sentences", "[agent][sentences]") {
    const std::string text = "Hello there. The answer is 391! Is that all?\nYes: e.g. this one... and more. End";
    sentence_splitter whole;
    auto expect = whole.feed(text);
    expect.push_back(whole.flush());
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
        sentence_splitter s;
        auto got = s.feed(text.substr(0, cut));
        for (auto& x : s.feed(text.substr(cut))) got.push_back(x);
        got.push_back(s.flush());
        CHECK(got == expect);
    }
    CHECK(expect == std::vector<std::string>{"Hello there.", "The answer is 391!", "Is that all?",
                                             "Yes: e.g. this one... and more.", "End"});
}

TEST_CASE("speakable: markdown is not read out", "[agent][sentences]") {
    CHECK(speakable("**Bold** and `code` and __this__") == "Bold and code and this");
    CHECK(speakable("# Title\n- one\n- two") == "Title one two");
    CHECK(speakable("  a   b \n c ") == "a b c");
    CHECK(speakable("3 - 2 = 1") == "3 - 2 = 1");
}

TEST_CASE("turn_detector: a pause event comes early_silence into a silence, resumed if the caller goes on", "[agent][vad]") {
    turn_detector d;  // early_silence 0.12 s (6 frames), end of turn 0.5 s (25 frames)
    std::mt19937 rng(3);
    std::size_t phase = 0;
    std::vector<std::pair<std::size_t, turn_detector::event>> events;
    std::size_t n = 0;
    auto feed = [&](std::size_t frames, double tone) {
        for (std::size_t i = 0; i < frames; ++i) {
            ++n;
            const auto e = d.feed(frame(rng, -55, tone, &phase));
            if (e != turn_detector::event::none) events.emplace_back(n, e);
        }
    };
    feed(30, -100);
    feed(30, -20);   // speech from frame 31; started at 40
    feed(12, -100);  // a pause at 60 + 6
    CHECK(d.turn_so_far().size() > 0);
    feed(20, -20);   // resumed at 73
    feed(30, -100);  // pause at 92 + 6, turn ended at 92 + 25
    using ev = turn_detector::event;
    const std::vector<std::pair<std::size_t, turn_detector::event>> expect{
        {40, ev::speech_started}, {66, ev::pause}, {73, ev::resumed}, {98, ev::pause}, {117, ev::turn_ended}};
    CHECK(events == expect);
}
