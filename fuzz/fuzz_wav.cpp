// fuzz_wav: media::parse_wav on arbitrary bytes, strict and lenient, plus the codecs it leans on.
//
// Input: byte 0 chooses how the rest is read. Even: the rest is the file. Odd: the rest describes
// one, so that the fuzzer reaches the chunk and fmt checks without first guessing "RIFF....WAVE"
// (the shared seeds are SIP messages): a RIFF header is written, then records of (tag selector,
// length, flags, [tag,] content) become chunks ("fmt ", "data", "LIST", "fact", or the four
// octets that follow), each declaring its true length or, when flagged, a wrong one; the RIFF size
// is right unless the description's first octet has its top bit set (then the next four give it).
//
// Properties:
//  - a parsed file has 1 or 2 channels, a non-zero rate and whole frames; an error's offset lies
//    within the input;
//  - strict success implies lenient success with the same audio;
//  - serialize_wav of the audio parses back to the same rate, channels and samples (or refuses a
//    rate whose 16-bit byte rate does not fit 32 bits, which an 8-bit file can have);
//  - every sample read from a G.711 file is a G.711 level: decode(encode(s)) == s.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "sipvoice/codec/g711.hpp"
#include "sipvoice/media/wav.hpp"

namespace {
using namespace sipvoice;

void put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::vector<std::uint8_t> build(const std::uint8_t* data, std::size_t size) {
    static const char* const tags[4] = {"fmt ", "data", "LIST", "fact"};
    std::vector<std::uint8_t> body{'W', 'A', 'V', 'E'};
    bool given_riff_size = false;
    std::uint32_t riff_size = 0;
    std::size_t at = 0;
    if (size >= 5 && (data[0] & 0x80) != 0) {
        given_riff_size = true;
        riff_size = static_cast<std::uint32_t>(data[1] | (data[2] << 8) | (data[3] << 16) | (data[4] << 24));
        at = 5;
    }
    while (at + 3 <= size) {
        const std::uint8_t selector = data[at];
        const std::size_t len = data[at + 1];
        const bool lie = (data[at + 2] & 1) != 0;  // declare a size other than the content's
        at += 3;
        if ((selector & 7) < 4) {
            const char* t = tags[selector & 3];
            body.insert(body.end(), t, t + 4);
        } else {
            for (int i = 0; i < 4; ++i) body.push_back(at < size ? data[at++] : 0);
        }
        const std::size_t take = std::min(len, size - at);
        put32(body, static_cast<std::uint32_t>(lie ? len * 3 + 1 : take));
        body.insert(body.end(), data + at, data + at + take);
        if (take % 2 == 1) body.push_back(0);
        at += take;
    }
    std::vector<std::uint8_t> file{'R', 'I', 'F', 'F'};
    put32(file, given_riff_size ? riff_size : static_cast<std::uint32_t>(body.size()));
    file.insert(file.end(), body.begin(), body.end());
    return file;
}

void check(std::span<const std::uint8_t> file) {
    auto strict = media::parse_wav(file);
    auto lenient = media::parse_wav(file, {.allow_truncated = true});
    for (auto* r : {&strict, &lenient}) {
        if (!*r) {
            FUZZ_CHECK(r->error().offset <= file.size());
            FUZZ_CHECK(!r->error().what().empty());
            continue;
        }
        const auto& a = **r;
        FUZZ_CHECK(a.channels == 1 || a.channels == 2);
        FUZZ_CHECK(a.sample_rate != 0);
        FUZZ_CHECK(a.samples.size() % a.channels == 0);
    }
    if (strict) {
        FUZZ_CHECK(lenient.has_value());
        FUZZ_CHECK(lenient->samples == strict->samples);
        FUZZ_CHECK(lenient->sample_rate == strict->sample_rate && lenient->channels == strict->channels);
    }
    if (!lenient) return;
    const auto& a = *lenient;
    auto bytes = media::serialize_wav(a);
    if (!bytes) {
        // Only a rate too high for a 16-bit header's byte rate (an 8-bit file can have one).
        FUZZ_CHECK(bytes.error().code == media::wav_errc::bad_argument);
        FUZZ_CHECK(static_cast<std::uint64_t>(a.sample_rate) * 2 * a.channels > 0xFFFFFFFFu);
        return;
    }
    auto back = media::parse_wav(*bytes);
    FUZZ_CHECK(back.has_value());
    FUZZ_CHECK(back->samples == a.samples && back->sample_rate == a.sample_rate && back->channels == a.channels);
    for (std::int16_t s : a.samples) {
        if (a.encoding == media::wav_encoding::ulaw) {
            const std::uint8_t c = codec::g711::linear_to_ulaw(s);
            FUZZ_CHECK(codec::g711::ulaw_to_linear(c) == s);
        } else if (a.encoding == media::wav_encoding::alaw) {
            const std::uint8_t c = codec::g711::linear_to_alaw(s);
            FUZZ_CHECK(codec::g711::alaw_to_linear(c) == s);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    if ((data[0] & 1) == 0) {
        check({data + 1, size - 1});
    } else {
        const auto file = build(data + 1, size - 1);
        check(file);
    }
    return 0;
}
