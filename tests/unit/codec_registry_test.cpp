// codec/codec.hpp: the registry matches rtpmaps, and make_codec() gives working codec objects.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <random>
#include <span>
#include <string_view>
#include <vector>

#include "codec_signal.hpp"
#include "sipvoice/codec/codec.hpp"
#include "sipvoice/codec/g711.hpp"
#include "sipvoice/codec/g722.hpp"
#include "sipvoice/codec/plc.hpp"

namespace codec = sipvoice::codec;

TEST_CASE("codec registry: rtpmap names, clock rates and static payload types", "[codec][registry]") {
    CHECK(codec::known_codecs().size() == 4);
    const auto* pcmu = codec::find_codec("PCMU", 8000);
    REQUIRE(pcmu != nullptr);
    CHECK(pcmu->id == codec::codec_id::pcmu);
    CHECK(pcmu->payload_type == 0);
    CHECK(pcmu->available);
    CHECK(codec::find_codec("pcmu", 8000, 0) == pcmu);  // RFC 4855 §3: case-insensitive; no channels = 1
    CHECK(codec::find_codec("PCMU", 16000) == nullptr);
    CHECK(codec::find_codec("PCMU", 8000, 2) == nullptr);
    CHECK(codec::find_codec("PCMA", 8000)->payload_type == 8);
    const auto* g722 = codec::find_codec("G722", 8000);
    REQUIRE(g722 != nullptr);
    CHECK(g722->sample_rate == 16000);
    CHECK(g722->available == codec::g722_available);  // with spandsp (SIPVOICE_WITH_G722)
    const auto* opus = codec::find_codec("opus", 48000, 2);
    REQUIRE(opus != nullptr);
    CHECK(opus->payload_type == -1);
    CHECK(opus->available == codec::opus_available);
    CHECK(codec::find_codec("OPUS", 48000, 1) == opus);
    CHECK(codec::find_codec("opus", 16000, 2) == nullptr);
    CHECK(codec::find_codec("telephone-event", 8000) == nullptr);
    CHECK(codec::find_static_codec(0) == pcmu);
    CHECK(codec::find_static_codec(8)->id == codec::codec_id::pcma);
    CHECK(codec::find_static_codec(9) == g722);
    CHECK(codec::find_static_codec(18) == nullptr);
    CHECK(codec::find_static_codec(111) == nullptr);
    CHECK(codec::find_codec(codec::codec_id::opus) == opus);
}

TEST_CASE("codec registry: G.711 objects encode, decode and conceal", "[codec][registry]") {
    for (const char* name : {"PCMU", "PCMA"}) {
        INFO(name);
        auto c = codec::make_codec(name, 8000);
        REQUIRE(c.has_value());
        auto& g = **c;
        CHECK(g.sample_rate() == 8000);
        CHECK(g.frame_samples() == 160);
        CHECK(g.rtp_samples(160) == 160);
        CHECK(g.max_payload_size() == 160);
        const auto pcm = codec_test::tone(300, 8000, 160 * 10, 8000);
        std::vector<std::uint8_t> payload(160);
        std::vector<std::int16_t> out(160);
        for (int f = 0; f < 10; ++f) {
            auto frame = std::span<const std::int16_t>(pcm).subspan(static_cast<std::size_t>(f) * 160, 160);
            REQUIRE(*g.encode(frame, payload) == 160);
            CHECK(payload[0] == (name[3] == 'U' ? codec::g711::linear_to_ulaw(frame[0]) : codec::g711::linear_to_alaw(frame[0])));
            REQUIRE(*g.decode(payload, out) == 160);
        }
        CHECK(codec_test::snr_db(std::span<const std::int16_t>(pcm).last(160), out) > 30.0);
        // A lost frame: the PLC goes on with the tone; recover() without FEC conceals too.
        REQUIRE(*g.conceal(out) == 160);
        CHECK(codec_test::energy(out) > 0);
        REQUIRE(*g.recover(payload, out) == 160);
        CHECK(g.encode(pcm, payload).error().code == codec::errc::buffer_too_small);
        CHECK(g.decode(payload, std::span<std::int16_t>(out).first(10)).error().code == codec::errc::buffer_too_small);
        g.reset();
        REQUIRE(*g.conceal(out) == 160);
        CHECK(codec_test::energy(out) == 0);
    }
    // Without PLC a lost frame is silence; G.711 only runs at 8 kHz.
    auto quiet = codec::make_codec("PCMU", 8000, 1, {.plc = false});
    REQUIRE(quiet.has_value());
    std::vector<std::int16_t> out(160, 5);
    REQUIRE(*(*quiet)->conceal(out) == 160);
    CHECK(codec_test::energy(out) == 0);
    CHECK(codec::make_codec("PCMU", 8000, 1, {.sample_rate = 16000}).error().code == codec::errc::bad_sample_rate);
    CHECK(codec::make_codec("PCMA", 8000, 1, {.ptime_ms = 30}).value()->frame_samples() == 240);
}

TEST_CASE("codec registry: unknown and unavailable codecs", "[codec][registry]") {
    CHECK(codec::make_codec("GSM", 8000).error().code == codec::errc::unknown_codec);
    if (!codec::g722_available) {
        CHECK(codec::make_codec("G722", 8000).error().code == codec::errc::not_available);
    }
    CHECK(codec::make_codec("PCMU", 8000, 1, {.ptime_ms = 0}).error().code == codec::errc::bad_frame_size);
    if (!codec::opus_available) {
        CHECK(codec::make_codec("opus", 48000, 2).error().code == codec::errc::not_available);
    }
}

TEST_CASE("codec registry: an Opus object at 16 kHz with the 48 kHz RTP clock", "[codec][registry]") {
    if (!codec::opus_available) return;
    auto c = codec::make_codec("opus", 48000, 2, {.sample_rate = 16000, .opus = {.bitrate = 24000}});
    REQUIRE(c.has_value());
    auto& o = **c;
    CHECK(o.sample_rate() == 16000);
    CHECK(o.frame_samples() == 320);
    CHECK(o.rtp_samples(320) == 960);  // RFC 7587 §4.1
    const auto pcm = codec_test::speech_like(16000, 16000);
    std::vector<std::uint8_t> payload(o.max_payload_size());
    std::vector<std::int16_t> out(320 * 6);
    std::vector<std::uint8_t> last;
    for (std::size_t at = 0; at + 320 <= pcm.size(); at += 320) {
        auto n = o.encode(std::span<const std::int16_t>(pcm).subspan(at, 320), payload);
        REQUIRE(n.has_value());
        REQUIRE(*n > 0);
        REQUIRE(*o.decode(std::span<const std::uint8_t>(payload.data(), *n), out) == 320);
        last.assign(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    REQUIRE(*o.recover(last, std::span<std::int16_t>(out).first(320)) == 320);
    REQUIRE(*o.conceal(std::span<std::int16_t>(out).first(320)) == 320);
    CHECK(o.encode(std::span<const std::int16_t>(pcm).first(100), payload).error().code == codec::errc::bad_frame_size);
    CHECK(codec::make_codec("opus", 48000, 2, {.sample_rate = 44100}).error().code == codec::errc::bad_sample_rate);
}

TEST_CASE("codec: G.711 concealment is the same whether its history is kept as PCM or as codes", "[codec][plc]") {
    // The G.711 codec keeps the audio since the last loss as its codes and hands it to the PLC when
    // a loss begins. The reference gives the PLC every decoded frame as it comes. Both must play
    // the same samples through losses of one to six frames, losses close together, a frame shorter
    // than the rest and a reset.
    for (const char* name : {"PCMU", "PCMA"}) {
        const bool alaw = std::string_view(name) == "PCMA";
        auto c = codec::make_codec(name, 8000);
        REQUIRE(c);
        codec::plc reference(8000);
        const auto speech = codec_test::speech_like(8000, 8000 * 12);
        std::mt19937 rng(11);
        std::size_t frames = 0, lost = 0, differing = 0;
        for (std::size_t at = 0; at + 160 <= speech.size(); at += 160, ++frames) {
            if (frames == 300) {
                (*c)->reset();
                reference.reset();
            }
            const std::size_t n = frames % 97 == 50 ? 80 : 160;
            std::vector<std::int16_t> ours(160), theirs(160);
            const bool lose = frames > 3 && (rng() % 9 == 0 || (lost > 0 && lost < 6 && rng() % 2 == 0));
            if (lose) {
                REQUIRE((*c)->conceal(ours));
                reference.conceal(theirs);
                ++lost;
            } else {
                std::vector<std::uint8_t> codes(n);
                const std::span<const std::int16_t> pcm(speech.data() + at, n);
                if (alaw) codec::g711::encode_alaw(pcm, codes);
                else codec::g711::encode_ulaw(pcm, codes);
                const auto got = (*c)->decode(codes, ours);
                REQUIRE(got);
                REQUIRE(*got == n);
                if (alaw) codec::g711::decode_alaw(codes, theirs);
                else codec::g711::decode_ulaw(codes, theirs);
                reference.frame(std::span<std::int16_t>(theirs.data(), n));
                lost = 0;
            }
            for (std::size_t i = 0; i < 160; ++i) differing += ours[i] != theirs[i] ? 1 : 0;
        }
        INFO(name << ": " << frames << " frames");
        CHECK(differing == 0);
    }
}
