// codec/g722.hpp and the G722 audio_codec: frame sizes, the 8 kHz RTP clock of 16 kHz audio, the
// SNR of a tone and of speech-like audio, silence, concealment and the errors.
//
// G.722 is a waveform coder (sub-band ADPCM), so waveform SNR is the right measure. The bounds are a
// margin under what spandsp 0.0.6 (Debian 12) measured when these tests were written (figures in
// each test): a broken wrapper (wrong rate, misaligned frames, a lost frame, a packed bit stream)
// falls far below them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "codec_signal.hpp"
#include "sipvoice/codec/codec.hpp"
#include "sipvoice/codec/g722.hpp"

namespace codec = sipvoice::codec;

namespace {

constexpr std::size_t frame = 320;  // 20 ms at 16 kHz

// Encodes `pcm` 20 ms at a time with one encoder, decodes with one decoder, checks the sizes.
std::vector<std::int16_t> round_trip(const std::vector<std::int16_t>& pcm) {
    auto enc = codec::g722_encoder::create();
    REQUIRE(enc.has_value());
    auto dec = codec::g722_decoder::create();
    REQUIRE(dec.has_value());
    std::vector<std::int16_t> out;
    std::array<std::uint8_t, frame / 2> payload{};
    std::array<std::int16_t, frame> decoded{};
    for (std::size_t at = 0; at + frame <= pcm.size(); at += frame) {
        auto n = enc->encode(std::span<const std::int16_t>(pcm).subspan(at, frame), payload);
        REQUIRE(n.has_value());
        REQUIRE(*n == frame / 2);
        auto got = dec->decode(payload, decoded);
        REQUIRE(got.has_value());
        REQUIRE(*got == frame);
        out.insert(out.end(), decoded.begin(), decoded.end());
    }
    return out;
}

// SNR of the decoded audio against the input delayed by the codec's 22 samples, skipping the first
// 100 ms (the ADPCM predictors adapting).
double aligned_snr(const std::vector<std::int16_t>& pcm, const std::vector<std::int16_t>& decoded) {
    const std::size_t skip = 1600;
    const std::size_t len = decoded.size() - skip - codec::g722::delay_samples;
    return codec_test::snr_db(std::span<const std::int16_t>(pcm).subspan(skip, len),
                              std::span<const std::int16_t>(decoded).subspan(skip + codec::g722::delay_samples, len));
}

}  // namespace

TEST_CASE("g722: without spandsp every entry point says not available", "[codec][g722]") {
    if (codec::g722_available) {
        // The mirror image: a default-constructed object is not initialized.
        codec::g722_encoder e;
        codec::g722_decoder d;
        std::array<std::int16_t, frame> pcm{};
        std::array<std::uint8_t, frame / 2> payload{};
        CHECK(e.encode(pcm, payload).error().code == codec::errc::not_initialized);
        CHECK(d.decode(payload, pcm).error().code == codec::errc::not_initialized);
        CHECK(e.reset().code == codec::errc::not_initialized);
        CHECK_FALSE(e.valid());
        CHECK_FALSE(d.valid());
        return;
    }
    CHECK(codec::g722_encoder::create().error().code == codec::errc::not_available);
    CHECK(codec::g722_decoder::create().error().code == codec::errc::not_available);
    CHECK(codec::make_codec("G722", 8000).error().code == codec::errc::not_available);
}

TEST_CASE("g722: a 1 kHz tone round-trips with a measured SNR", "[codec][g722]") {
    if (!codec::g722_available) return;  // built without spandsp: the first test covers it
    // 1 s of a 1 kHz tone at -10 dBFS and at -40 dBFS (ADPCM adapts its step to the level).
    const auto loud = codec_test::tone(1000.0, 16000, 16000, 10000.0);
    const auto quiet = codec_test::tone(1000.0, 16000, 16000, 300.0);
    const double snr_loud = aligned_snr(loud, round_trip(loud));
    const double snr_quiet = aligned_snr(quiet, round_trip(quiet));
    INFO("1 kHz at amplitude 10000: SNR " << snr_loud << " dB; at 300: " << snr_quiet << " dB");
    // Measured: 47.2 dB and 36.2 dB.
    CHECK(snr_loud > 44.0);
    CHECK(snr_quiet > 32.0);
}

TEST_CASE("g722: speech-like audio, and the codec delay is 22 samples", "[codec][g722]") {
    if (!codec::g722_available) return;  // built without spandsp: the first test covers it
    const auto speech = codec_test::speech_like(16000, 32000);
    const auto decoded = round_trip(speech);
    // Speech is not periodic like a tone, so the delay is unambiguous.
    CHECK(codec_test::best_lag(speech, decoded, 3200, 16000, 64) == codec::g722::delay_samples);
    const double snr = aligned_snr(speech, decoded);
    INFO("speech-like SNR " << snr << " dB");
    CHECK(snr > 33.0);  // measured: 36.5 dB
}

TEST_CASE("g722: silence stays quiet", "[codec][g722]") {
    if (!codec::g722_available) return;  // built without spandsp: the first test covers it
    const std::vector<std::int16_t> silence(16000, 0);
    const auto decoded = round_trip(silence);
    int peak = 0;
    for (auto s : decoded) peak = std::max(peak, std::abs(static_cast<int>(s)));
    INFO("peak of decoded silence " << peak);
    CHECK(peak <= 16);  // measured: 4 (-78 dBFS)
}

TEST_CASE("g722: frame sizes and errors", "[codec][g722]") {
    if (!codec::g722_available) return;  // built without spandsp: the first test covers it
    auto enc = codec::g722_encoder::create();
    auto dec = codec::g722_decoder::create();
    REQUIRE(enc.has_value());
    REQUIRE(dec.has_value());
    std::array<std::int16_t, 641> pcm{};
    std::array<std::uint8_t, 320> payload{};
    // Two samples per octet: any even length; an odd one would leave half an octet.
    CHECK(enc->encode(std::span<const std::int16_t>(pcm).first(160), payload).value() == 80);   // 10 ms
    CHECK(enc->encode(std::span<const std::int16_t>(pcm).first(640), payload).value() == 320);  // 40 ms
    CHECK(enc->encode(std::span<const std::int16_t>(pcm).first(321), payload).error().code == codec::errc::bad_frame_size);
    CHECK(enc->encode(std::span<const std::int16_t>(pcm).first(320), std::span<std::uint8_t>(payload).first(159))
              .error()
              .code == codec::errc::buffer_too_small);
    CHECK(dec->decode(std::span<const std::uint8_t>(payload).first(160), std::span<std::int16_t>(pcm).first(320)).value() ==
          320);
    CHECK(dec->decode(std::span<const std::uint8_t>(payload).first(160), std::span<std::int16_t>(pcm).first(319))
              .error()
              .code == codec::errc::buffer_too_small);
    CHECK_FALSE(enc->reset().failed());
    CHECK_FALSE(dec->reset().failed());
}

TEST_CASE("g722: the audio_codec runs at 16 kHz on an 8 kHz RTP clock", "[codec][g722][registry]") {
    if (!codec::g722_available) return;  // built without spandsp: the first test covers it
    const codec::codec_info* info = codec::find_static_codec(9);
    REQUIRE(info != nullptr);
    CHECK(info->id == codec::codec_id::g722);
    CHECK(info->available);
    auto c = codec::make_codec("G722", 8000);
    REQUIRE(c.has_value());
    codec::audio_codec& g = **c;
    CHECK(g.sample_rate() == 16000);
    CHECK(g.frame_samples() == 320);         // 20 ms at 16 kHz
    CHECK(g.max_payload_size() == 160);      // RFC 3551 §4.5.2: 8 bits per two samples
    CHECK(g.rtp_samples(320) == 160);        // ... and the timestamp advances by 160
    CHECK(codec::make_codec("G722", 8000, 1, {.ptime_ms = 30}).value()->frame_samples() == 480);
    CHECK(codec::make_codec("G722", 8000, 1, {.sample_rate = 8000}).error().code == codec::errc::bad_sample_rate);

    // A tone through it, then a lost frame: the PLC continues the tone instead of going silent.
    const auto tone = codec_test::tone(1000.0, 16000, 16000, 8000.0);
    std::vector<std::uint8_t> payload(g.max_payload_size());
    std::vector<std::int16_t> pcm(frame);
    for (std::size_t at = 0; at + frame <= tone.size() / 2; at += frame) {
        auto n = g.encode(std::span<const std::int16_t>(tone).subspan(at, frame), payload);
        REQUIRE(n.has_value());
        REQUIRE(*n == 160);
        REQUIRE(g.decode(payload, pcm).value() == frame);
    }
    REQUIRE(g.conceal(pcm).value() == frame);
    const double level = std::sqrt(codec_test::energy(pcm) / frame);
    INFO("RMS of the concealed frame " << level);
    CHECK(level > 8000.0 / std::sqrt(2.0) * 0.5);  // the first 10 ms are at full level
    g.reset();
    auto plain = codec::make_codec("G722", 8000, 1, {.plc = false});
    REQUIRE(plain.has_value());
    REQUIRE((*plain)->conceal(pcm).value() == frame);
    CHECK(codec_test::energy(pcm) == 0.0);
}
