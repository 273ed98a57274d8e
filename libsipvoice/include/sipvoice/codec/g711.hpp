// sipvoice/codec/g711.hpp: ITU-T G.711 companding, mu-law (PCMU) and A-law (PCMA).
//
// G.711 maps a uniform sample to an 8-bit "character signal": a sign, a 3-bit segment and a 4-bit
// step within the segment, the segments doubling in width (G.711 §2, §3, Tables 1 and 2). The
// tables are defined on a uniform scale of 8159 units for mu-law (14 bits with sign) and 4096 units
// for A-law (13 bits with sign); here a 16-bit PCM sample stands for sample/4 mu-law units or
// sample/8 A-law units, the usual left-justified reading of those 14 and 13 bits.
//
// Encoding (linear_to_ulaw, linear_to_alaw) quantizes the MAGNITUDE: it finds the decision interval
// [x(n), x(n+1)) of G.711 Tables 1a/2a that holds |sample| and keeps the sign apart. So the encoder
// is exactly symmetric, encode(-x) differs from encode(x) in the sign bit alone (for x > -32768), and
// magnitudes beyond the last decision value (32636 for mu-law, 32768 for A-law) take the last
// interval (overload). Decoding gives the quantized value y(n) of the interval, scaled back to
// 16 bits: mu-law yields multiples of 4 in [-32124, 32124], A-law multiples of 8 in [-32256, 32256].
// So decode(encode(x)) is the G.711 quantization of x, and encode(decode(c)) == c for every code c
// but one: mu-law has two codes for zero (0xFF "+0" and 0x7F "-0", G.711 Table 2a note), both
// decode to 0 and 0 encodes to 0xFF, so encode(decode(0x7F)) == 0xFF. Small negative samples
// (-1 .. -3) encode to 0x7F, keeping their sign. A-law has no zero level (the smallest magnitudes
// decode to +-8), so all of its 256 codes round-trip.
//
// Transmission order (G.711 §3, §4): mu-law inverts all bits of the character before it goes on the
// line except that the sign bit 1 means positive (so 0xFF is +0, 0x80 the largest positive level);
// A-law inverts the even bits (XOR 0x55, so 0xD5 is the smallest positive level, 0xAA the largest).
// The codes here are as they travel in RTP (RFC 3551 §4.5.14).
//
// Decoding is one lookup in a 256-entry table built at compile time from the G.711 definition;
// encoding is a few integer operations and no table (the segment is the position of the leading
// one of the magnitude, read from the exponent of its float conversion, which vectorizes). Both are
// constexpr; the block functions below run them over spans (one RTP payload of 20 ms is 160
// samples/octets): under 1 ns per sample either way on a 2.6 GHz x86-64 (gcc -O3).
//
//   std::array<std::uint8_t, 160> payload;
//   codec::g711::encode_ulaw(frame, payload);        // 160 PCM16 samples in, 160 octets out
//   codec::g711::decode_ulaw(rtp.payload, pcm);
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

namespace sipvoice::codec::g711 {

inline constexpr std::uint32_t sample_rate = 8000;  // G.711 §1: 8000 samples per second

// The two codes of silence: what a muted stream sends.
inline constexpr std::uint8_t ulaw_silence = 0xFF;  // +0
inline constexpr std::uint8_t alaw_silence = 0xD5;  // +8/32768, the smallest positive level

namespace detail {

// The quantized value y(n) of code c in 16-bit units (G.711 Table 2a for mu-law, Table 1a for
// A-law), from the segment/step structure: segment s spans [x(s), x(s+1)) in 16 steps of equal
// width, y(n) is the middle of its step.
constexpr std::int16_t ulaw_level(std::uint8_t code) noexcept {
    const unsigned n = ~code & 0x7Fu;  // bits 2..8 are sent inverted
    const unsigned segment = n >> 4;
    const unsigned step = n & 0x0Fu;
    // In mu-law units segment s begins at 2^(s+5) - 33 (segment 0 at -1: its first interval,
    // [0, 1), is half as wide as the others) and its steps are 2^(s+1) wide.
    const int width = 2 << segment;
    const int begin = (32 << segment) - 33;
    const int level = begin + static_cast<int>(step) * width + width / 2;
    return static_cast<std::int16_t>((code & 0x80u) != 0 ? 4 * level : -4 * level);
}

constexpr std::int16_t alaw_level(std::uint8_t code) noexcept {
    const unsigned c = code ^ 0x55u;  // even bits are sent inverted
    const unsigned n = c & 0x7Fu;
    const unsigned segment = n >> 4;
    const unsigned step = n & 0x0Fu;
    // In A-law units segments 0 and 1 both have steps 2 wide ([0, 32) and [32, 64)); from there
    // segment s begins at 2^(s+4) with steps 2^s wide.
    const int width = segment == 0 ? 2 : 1 << segment;
    const int begin = segment == 0 ? 0 : 16 << segment;
    const int level = begin + static_cast<int>(step) * width + width / 2;
    return static_cast<std::int16_t>((c & 0x80u) != 0 ? 8 * level : -8 * level);
}

template <std::int16_t (*level)(std::uint8_t)>
constexpr std::array<std::int16_t, 256> make_table() noexcept {
    std::array<std::int16_t, 256> t{};
    for (unsigned c = 0; c < 256; ++c) t[c] = level(static_cast<std::uint8_t>(c));
    return t;
}

inline constexpr std::array<std::int16_t, 256> ulaw_table = make_table<ulaw_level>();
inline constexpr std::array<std::int16_t, 256> alaw_table = make_table<alaw_level>();

static_assert(std::numeric_limits<float>::is_iec559, "the encoders read the exponent of an IEEE 754 float");

// The leading one of v (1 <= v < 2^24) and the four bits after it, as exponent and mantissa of v
// converted to float: bits 30..23 are 127 + the leading one's position, bits 22..19 the next four.
// So (bits >> 19) is (127 + position) * 16 + those four bits, with no loop, no count-leading-zeros
// and no per-lane variable shift: the block encoders vectorize.
constexpr unsigned leading_bits(unsigned v) noexcept {
    // Through int: a signed conversion is one instruction (cvtdq2ps), an unsigned one is not.
    return std::bit_cast<std::uint32_t>(static_cast<float>(static_cast<int>(v))) >> 19;
}

}  // namespace detail

// One sample. See the top of the file for the quantization rule.
constexpr std::uint8_t linear_to_ulaw(std::int16_t sample) noexcept {
    const int x = sample;
    const unsigned sign = x < 0 ? 0x00u : 0x80u;
    // Magnitude in mu-law units (|x| / 4, truncated: the decision values are whole units), held
    // below the last decision value 8159 so that overload takes the last interval.
    const unsigned m = std::min(static_cast<unsigned>(x < 0 ? -x : x) >> 2, 8158u);
    // With a bias of 33 the segment boundaries 2^(s+5) - 33 become powers of two: segment s is
    // the leading one at bit s+5, the step the four bits after it. (segment << 4 | step) is then
    // leading_bits() less (127 + 5) * 16.
    const unsigned n = detail::leading_bits(m + 33) - (132u << 4);
    return static_cast<std::uint8_t>(sign | (~n & 0x7Fu));
}

constexpr std::uint8_t linear_to_alaw(std::int16_t sample) noexcept {
    const int x = sample;
    const unsigned sign = x < 0 ? 0x00u : 0x80u;
    // Magnitude in A-law units, 0..4095: |x| / 8, with 32768 (only -32768 has it) taken as 32767.
    // (Subtracting instead of std::min keeps the loop free of branches for gcc 12's vectorizer.)
    int magnitude = x < 0 ? -x : x;
    magnitude -= magnitude >> 15;
    const unsigned m = static_cast<unsigned>(magnitude) >> 3;
    // Segment s >= 1 is [2^(s+4), 2^(s+5)): the leading one at bit s+4, the step the four bits
    // after it. Segment 0, [0, 32), has the same 2-unit steps as segment 1, so it is read as
    // segment 1 (m + 32) less one segment; without a branch, so that the loops vectorize.
    const unsigned low = m < 32 ? 1u : 0u;
    const unsigned n = detail::leading_bits(m | (low << 5)) - (131u << 4) - (low << 4);
    return static_cast<std::uint8_t>((sign | n) ^ 0x55u);
}

constexpr std::int16_t ulaw_to_linear(std::uint8_t code) noexcept { return detail::ulaw_table[code]; }
constexpr std::int16_t alaw_to_linear(std::uint8_t code) noexcept { return detail::alaw_table[code]; }

// Block forms. Each converts min(in.size(), out.size()) samples and returns that count; one PCM16
// sample makes one octet and back.
std::size_t encode_ulaw(std::span<const std::int16_t> pcm, std::span<std::uint8_t> out) noexcept;
std::size_t encode_alaw(std::span<const std::int16_t> pcm, std::span<std::uint8_t> out) noexcept;
std::size_t decode_ulaw(std::span<const std::uint8_t> codes, std::span<std::int16_t> out) noexcept;
std::size_t decode_alaw(std::span<const std::uint8_t> codes, std::span<std::int16_t> out) noexcept;

// Transcoding between a PCMU and a PCMA leg (a gateway), one table lookup per octet. The tables are
// the composition through the 16-bit level: alaw_to_ulaw(c) == linear_to_ulaw(alaw_to_linear(c)).
std::size_t ulaw_to_alaw(std::span<const std::uint8_t> in, std::span<std::uint8_t> out) noexcept;
std::size_t alaw_to_ulaw(std::span<const std::uint8_t> in, std::span<std::uint8_t> out) noexcept;

}  // namespace sipvoice::codec::g711
