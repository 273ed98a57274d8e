// media/wav.hpp: round trips through files and bytes, the streaming writer, G.711 and other WAV
// flavours, and malformed files rejected with the right reason.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "codec_signal.hpp"
#include "sipvoice/codec/g711.hpp"
#include "sipvoice/media/wav.hpp"

namespace media = sipvoice::media;
namespace fs = std::filesystem;

namespace {

using bytes = std::vector<std::uint8_t>;

// A private directory for the test's files, removed afterwards.
struct temp_dir {
    fs::path path;
    temp_dir() {
        std::random_device rd;
        path = fs::temp_directory_path() / ("sipvoice-wav-test-" + std::to_string(rd()));
        fs::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

void put16(bytes& b, std::uint16_t v) {
    b.push_back(static_cast<std::uint8_t>(v));
    b.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put32(bytes& b, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void tag(bytes& b, const char* t) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(t[i]));
}

struct fmt_fields {
    std::uint16_t format = 1;
    std::uint16_t channels = 1;
    std::uint32_t rate = 8000;
    std::uint16_t bits = 16;
    std::int32_t block_align = -1;  // -1: computed
    std::int32_t byte_rate = -1;
    std::uint32_t fmt_size = 16;
};

bytes fmt_chunk(const fmt_fields& f) {
    bytes b;
    tag(b, "fmt ");
    put32(b, f.fmt_size);
    const std::uint16_t align = f.block_align >= 0 ? static_cast<std::uint16_t>(f.block_align)
                                                   : static_cast<std::uint16_t>(f.channels * f.bits / 8);
    put16(b, f.format);
    put16(b, f.channels);
    put32(b, f.rate);
    put32(b, f.byte_rate >= 0 ? static_cast<std::uint32_t>(f.byte_rate) : f.rate * align);
    put16(b, align);
    put16(b, f.bits);
    for (std::uint32_t i = 16; i < f.fmt_size; ++i) b.push_back(0);
    return b;
}

bytes chunk(const char* t, const bytes& data) {
    bytes b;
    tag(b, t);
    put32(b, static_cast<std::uint32_t>(data.size()));
    b.insert(b.end(), data.begin(), data.end());
    if (data.size() % 2 == 1) b.push_back(0);
    return b;
}

bytes riff(const std::vector<bytes>& chunks) {
    bytes body;
    tag(body, "WAVE");
    for (const auto& c : chunks) body.insert(body.end(), c.begin(), c.end());
    bytes b;
    tag(b, "RIFF");
    put32(b, static_cast<std::uint32_t>(body.size()));
    b.insert(b.end(), body.begin(), body.end());
    return b;
}

bytes read_file(const fs::path& p) {
    bytes b;
    std::FILE* f = std::fopen(p.c_str(), "rb");
    REQUIRE(f != nullptr);
    int c;
    while ((c = std::fgetc(f)) != EOF) b.push_back(static_cast<std::uint8_t>(c));
    std::fclose(f);
    return b;
}

media::wav_errc parse_error(const bytes& b, media::wav_read_options o = {}) {
    auto r = media::parse_wav(b, o);
    REQUIRE_FALSE(r.has_value());
    return r.error().code;
}

}  // namespace

TEST_CASE("wav: write and read back a mono 8 kHz and a stereo 44.1 kHz file", "[wav]") {
    temp_dir dir;
    media::wav_audio mono;
    mono.sample_rate = 8000;
    mono.samples = codec_test::speech_like(8000, 8000);
    REQUIRE_FALSE(media::write_wav(dir.path / "mono.wav", mono).failed());
    CHECK(fs::file_size(dir.path / "mono.wav") == 44 + 2 * 8000);
    auto back = media::read_wav(dir.path / "mono.wav");
    REQUIRE(back.has_value());
    CHECK(back->sample_rate == 8000);
    CHECK(back->channels == 1);
    CHECK(back->encoding == media::wav_encoding::pcm16);
    CHECK(back->samples == mono.samples);
    CHECK(back->frames() == 8000);

    media::wav_audio stereo;
    stereo.sample_rate = 44100;
    stereo.channels = 2;
    const auto left = codec_test::tone(440, 44100, 4410, 20000);
    const auto right = codec_test::tone(660, 44100, 4410, -32767.0);
    for (std::size_t i = 0; i < left.size(); ++i) {
        stereo.samples.push_back(left[i]);
        stereo.samples.push_back(right[i]);
    }
    REQUIRE_FALSE(media::write_wav(dir.path / "stereo.wav", stereo).failed());
    auto s = media::read_wav(dir.path / "stereo.wav");
    REQUIRE(s.has_value());
    CHECK(s->channels == 2);
    CHECK(s->sample_rate == 44100);
    CHECK(s->frames() == 4410);
    CHECK(s->samples == stereo.samples);
}

TEST_CASE("wav: serialize writes the canonical 44-octet header", "[wav]") {
    media::wav_audio a;
    a.sample_rate = 16000;
    a.samples = {1, -2, 0x1234};
    auto b = media::serialize_wav(a);
    REQUIRE(b.has_value());
    const bytes expected_header = riff({fmt_chunk({.rate = 16000}), chunk("data", {1, 0, 0xFE, 0xFF, 0x34, 0x12})});
    CHECK(*b == expected_header);
    auto back = media::parse_wav(*b);
    REQUIRE(back.has_value());
    CHECK(back->samples == a.samples);

    a.channels = 2;
    CHECK(media::serialize_wav(a).error().code == media::wav_errc::partial_frame);
    a.channels = 3;
    CHECK(media::serialize_wav(a).error().code == media::wav_errc::bad_argument);
    a.channels = 1;
    a.sample_rate = 0;
    CHECK(media::serialize_wav(a).error().code == media::wav_errc::bad_argument);
}

TEST_CASE("wav: the streaming writer fixes the sizes on flush and close", "[wav]") {
    temp_dir dir;
    const fs::path p = dir.path / "rec.wav";
    const auto audio = codec_test::speech_like(16000, 16000);
    media::wav_writer w;
    CHECK(w.write(audio).code == media::wav_errc::not_open);
    REQUIRE_FALSE(w.open(p, 16000, 1).failed());
    CHECK(w.is_open());
    // Before any flush the sizes say "unknown": strict readers call the file truncated, lenient
    // ones read what is there.
    REQUIRE_FALSE(w.write(std::span<const std::int16_t>(audio).first(1000)).failed());
    std::fflush(nullptr);
    {
        const auto raw = read_file(p);
        CHECK(parse_error(raw) == media::wav_errc::truncated);
        auto partial = media::parse_wav(raw, {.allow_truncated = true});
        REQUIRE(partial.has_value());
        CHECK(partial->samples.size() <= 1000);  // what reached the disk
    }
    REQUIRE_FALSE(w.flush().failed());
    {
        auto mid = media::read_wav(p);
        REQUIRE(mid.has_value());
        CHECK(mid->samples.size() == 1000);
    }
    for (std::size_t at = 1000; at < audio.size(); at += 320) {
        REQUIRE_FALSE(w.write(std::span<const std::int16_t>(audio).subspan(at, std::min<std::size_t>(320, audio.size() - at))).failed());
    }
    CHECK(w.frames_written() == audio.size());
    REQUIRE_FALSE(w.close().failed());
    CHECK_FALSE(w.is_open());
    CHECK(w.close().code == media::wav_errc::not_open);
    auto back = media::read_wav(p);
    REQUIRE(back.has_value());
    CHECK(back->samples == audio);

    // Stereo: only whole frames.
    REQUIRE_FALSE(w.open(dir.path / "st.wav", 8000, 2).failed());
    const std::vector<std::int16_t> three{1, 2, 3};
    CHECK(w.write(three).code == media::wav_errc::partial_frame);
    CHECK(w.frames_written() == 0);
    {
        media::wav_writer moved = std::move(w);  // the destructor closes and fixes the header
        CHECK_FALSE(w.is_open());
        REQUIRE_FALSE(moved.write(std::span<const std::int16_t>(three).first(2)).failed());
    }
    auto st = media::read_wav(dir.path / "st.wav");
    REQUIRE(st.has_value());
    CHECK(st->frames() == 1);

    CHECK(w.open(dir.path / "no" / "such" / "dir.wav", 8000, 1).code == media::wav_errc::open_failed);
    CHECK(w.open(dir.path / "x.wav", 8000, 3).code == media::wav_errc::bad_argument);
    CHECK(media::read_wav(dir.path / "missing.wav").error().code == media::wav_errc::open_failed);
}

TEST_CASE("wav: G.711, 8-bit and extensible files read into PCM16", "[wav]") {
    bytes codes;
    for (int c = 0; c < 256; ++c) codes.push_back(static_cast<std::uint8_t>(c));
    // mu-law (format 7) with the 18-octet fmt and a fact chunk, as SoX writes it.
    auto u = media::parse_wav(riff({fmt_chunk({.format = 7, .bits = 8, .fmt_size = 18}), chunk("fact", {0, 1, 0, 0}),
                                    chunk("data", codes)}));
    REQUIRE(u.has_value());
    CHECK(u->encoding == media::wav_encoding::ulaw);
    REQUIRE(u->samples.size() == 256);
    for (int c = 0; c < 256; ++c) CHECK(u->samples[c] == sipvoice::codec::g711::ulaw_to_linear(static_cast<std::uint8_t>(c)));
    // A-law (format 6), stereo.
    auto a = media::parse_wav(riff({fmt_chunk({.format = 6, .channels = 2, .bits = 8}), chunk("data", codes)}));
    REQUIRE(a.has_value());
    CHECK(a->encoding == media::wav_encoding::alaw);
    CHECK(a->frames() == 128);
    for (int c = 0; c < 256; ++c) CHECK(a->samples[c] == sipvoice::codec::g711::alaw_to_linear(static_cast<std::uint8_t>(c)));
    // 8-bit PCM is unsigned around 128.
    auto p8 = media::parse_wav(riff({fmt_chunk({.bits = 8}), chunk("data", {0, 128, 255})}));
    REQUIRE(p8.has_value());
    CHECK(p8->encoding == media::wav_encoding::pcm8);
    CHECK(p8->samples == std::vector<std::int16_t>{-32768, 0, 32512});
    // WAVE_FORMAT_EXTENSIBLE with the PCM sub-format.
    bytes ext = fmt_chunk({.format = 0xFFFE, .fmt_size = 40});
    const std::uint8_t tail[24] = {22, 0, 16, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71};
    std::memcpy(ext.data() + 8 + 16, tail, sizeof tail);
    auto e = media::parse_wav(riff({ext, chunk("data", {0x34, 0x12})}));
    REQUIRE(e.has_value());
    CHECK(e->samples == std::vector<std::int16_t>{0x1234});
    // ... but with a float sub-format (3) it is unsupported.
    ext[8 + 24] = 3;
    CHECK(parse_error(riff({ext, chunk("data", {0x34, 0x12})})) == media::wav_errc::unsupported_format);
}

TEST_CASE("wav: unknown and odd-sized chunks are skipped, in any order", "[wav]") {
    auto r = media::parse_wav(riff({chunk("LIST", {1, 2, 3}), chunk("data", {5, 0, 6, 0}), chunk("junk", {9}),
                                    fmt_chunk({.rate = 12345})}));
    REQUIRE(r.has_value());
    CHECK(r->sample_rate == 12345);
    CHECK(r->samples == std::vector<std::int16_t>{5, 6});
    // Octets after the RIFF chunk are not ours.
    bytes trailing = riff({fmt_chunk({}), chunk("data", {1, 0})});
    trailing.insert(trailing.end(), {'x', 'y', 'z'});
    CHECK(media::parse_wav(trailing)->samples == std::vector<std::int16_t>{1});
}

TEST_CASE("wav: malformed files are rejected with the reason and where", "[wav]") {
    const bytes good = riff({fmt_chunk({}), chunk("data", {1, 0, 2, 0})});
    REQUIRE(media::parse_wav(good).has_value());

    CHECK(parse_error({}) == media::wav_errc::truncated);
    CHECK(parse_error({'R', 'I', 'F'}) == media::wav_errc::truncated);
    CHECK(parse_error({'R', 'I', 'F', 'X', 0, 0, 0, 0, 'W', 'A', 'V', 'E'}) == media::wav_errc::not_riff);
    bytes avi = good;
    std::memcpy(avi.data() + 8, "AVI ", 4);
    auto not_wave = media::parse_wav(avi);
    CHECK(not_wave.error().code == media::wav_errc::not_wave);
    CHECK(not_wave.error().offset == 8);
    CHECK_FALSE(not_wave.error().what().empty());

    // Every cut of a good file is an error (no prefix is a valid file, none crashes).
    for (std::size_t len = 0; len < good.size(); ++len) {
        INFO("length " << len);
        CHECK(parse_error(bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len))) == media::wav_errc::truncated);
    }
    // A data chunk longer than the file, with the RIFF size adjusted: truncated, at the data chunk.
    bytes cut = riff({fmt_chunk({}), chunk("data", {1, 0, 2, 0})});
    cut[40] = 100;
    auto t = media::parse_wav(cut);
    CHECK(t.error().code == media::wav_errc::truncated);
    CHECK(t.error().offset == 36);
    // ... which allow_truncated reads as far as it goes.
    auto lenient = media::parse_wav(cut, {.allow_truncated = true});
    REQUIRE(lenient.has_value());
    CHECK(lenient->samples == std::vector<std::int16_t>{1, 2});
    // A RIFF size too small for the chunks in the file.
    bytes small_riff = good;
    small_riff[4] = 20;
    CHECK(parse_error(small_riff) == media::wav_errc::bad_riff_size);

    CHECK(parse_error(riff({chunk("data", {1, 0})})) == media::wav_errc::missing_fmt);
    CHECK(parse_error(riff({fmt_chunk({})})) == media::wav_errc::missing_data);
    CHECK(parse_error(riff({fmt_chunk({}), fmt_chunk({}), chunk("data", {})})) == media::wav_errc::duplicate_fmt);
    CHECK(parse_error(riff({fmt_chunk({}), chunk("data", {}), chunk("data", {})})) == media::wav_errc::duplicate_data);
    CHECK(parse_error(riff({chunk("fmt ", {1, 0, 1, 0}), chunk("data", {})})) == media::wav_errc::bad_fmt);
    CHECK(parse_error(riff({fmt_chunk({.format = 3, .bits = 32}), chunk("data", {})})) == media::wav_errc::unsupported_format);
    CHECK(parse_error(riff({fmt_chunk({.format = 0x55, .bits = 0}), chunk("data", {})})) == media::wav_errc::unsupported_format);
    CHECK(parse_error(riff({fmt_chunk({.bits = 24}), chunk("data", {})})) == media::wav_errc::unsupported_bits);
    CHECK(parse_error(riff({fmt_chunk({.format = 7, .bits = 16}), chunk("data", {})})) == media::wav_errc::unsupported_bits);
    CHECK(parse_error(riff({fmt_chunk({.channels = 3}), chunk("data", {})})) == media::wav_errc::bad_channels);
    CHECK(parse_error(riff({fmt_chunk({.channels = 0}), chunk("data", {})})) == media::wav_errc::bad_channels);
    CHECK(parse_error(riff({fmt_chunk({.rate = 0}), chunk("data", {})})) == media::wav_errc::bad_sample_rate);
    CHECK(parse_error(riff({fmt_chunk({.block_align = 4}), chunk("data", {})})) == media::wav_errc::bad_block_align);
    CHECK(parse_error(riff({fmt_chunk({.byte_rate = 8000}), chunk("data", {})})) == media::wav_errc::bad_byte_rate);
    CHECK(parse_error(riff({fmt_chunk({}), chunk("data", {1, 0, 2})})) == media::wav_errc::partial_frame);
    CHECK(parse_error(riff({fmt_chunk({.channels = 2}), chunk("data", {1, 0})})) == media::wav_errc::partial_frame);
    CHECK(parse_error(riff({fmt_chunk({.format = 0xFFFE, .fmt_size = 20}), chunk("data", {})})) == media::wav_errc::bad_fmt);
}

TEST_CASE("wav: random garbage never parses and never crashes", "[wav]") {
    std::mt19937 rng(5);
    const bytes good = riff({fmt_chunk({}), chunk("data", bytes(64, 7))});
    int accepted = 0;
    for (int i = 0; i < 20000; ++i) {
        bytes b;
        if (i % 2 == 0) {
            b.resize(rng() % 128);
            for (auto& x : b) x = static_cast<std::uint8_t>(rng());
        } else {  // a good file with a few octets changed
            b = good;
            for (int k = 0; k < 3; ++k) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
        }
        for (bool lenient : {false, true}) {
            auto r = media::parse_wav(b, {.allow_truncated = lenient});
            if (r) {
                ++accepted;
                REQUIRE(r->samples.size() % r->channels == 0);
                REQUIRE((r->channels == 1 || r->channels == 2));
            } else {
                REQUIRE(r.error().offset <= b.size());
            }
        }
    }
    CHECK(accepted > 0);  // mutations of the sample data are still valid files
}
