// G.711 block conversions (the per-sample functions are constexpr in the header).
#include "sipvoice/codec/g711.hpp"

#include <algorithm>

namespace sipvoice::codec::g711 {
namespace {

template <std::uint8_t (*to)(std::int16_t), std::int16_t (*from)(std::uint8_t)>
constexpr std::array<std::uint8_t, 256> make_transcoding() noexcept {
    std::array<std::uint8_t, 256> t{};
    for (unsigned c = 0; c < 256; ++c) t[c] = to(from(static_cast<std::uint8_t>(c)));
    return t;
}

constexpr auto ulaw_to_alaw_table = make_transcoding<linear_to_alaw, ulaw_to_linear>();
constexpr auto alaw_to_ulaw_table = make_transcoding<linear_to_ulaw, alaw_to_linear>();

// The codec's own fixed points, checked when this file compiles (G.711 Tables 1a, 2a).
static_assert(ulaw_to_linear(0xFF) == 0 && ulaw_to_linear(0x7F) == 0);
static_assert(ulaw_to_linear(0x80) == 32124 && ulaw_to_linear(0x00) == -32124);
static_assert(alaw_to_linear(0xD5) == 8 && alaw_to_linear(0x55) == -8);
static_assert(alaw_to_linear(0xAA) == 32256 && alaw_to_linear(0x2A) == -32256);
static_assert(linear_to_ulaw(0) == 0xFF && linear_to_ulaw(-1) == 0x7F && linear_to_ulaw(-32768) == 0x00);
static_assert(linear_to_alaw(0) == 0xD5 && linear_to_alaw(-1) == 0x55 && linear_to_alaw(32767) == 0xAA);

}  // namespace

std::size_t encode_ulaw(std::span<const std::int16_t> pcm, std::span<std::uint8_t> out) noexcept {
    const std::size_t n = std::min(pcm.size(), out.size());
    for (std::size_t i = 0; i < n; ++i) out[i] = linear_to_ulaw(pcm[i]);
    return n;
}

std::size_t encode_alaw(std::span<const std::int16_t> pcm, std::span<std::uint8_t> out) noexcept {
    const std::size_t n = std::min(pcm.size(), out.size());
    for (std::size_t i = 0; i < n; ++i) out[i] = linear_to_alaw(pcm[i]);
    return n;
}

std::size_t decode_ulaw(std::span<const std::uint8_t> codes, std::span<std::int16_t> out) noexcept {
    const std::size_t n = std::min(codes.size(), out.size());
    for (std::size_t i = 0; i < n; ++i) out[i] = detail::ulaw_table[codes[i]];
    return n;
}

std::size_t decode_alaw(std::span<const std::uint8_t> codes, std::span<std::int16_t> out) noexcept {
    const std::size_t n = std::min(codes.size(), out.size());
    for (std::size_t i = 0; i < n; ++i) out[i] = detail::alaw_table[codes[i]];
    return n;
}

std::size_t ulaw_to_alaw(std::span<const std::uint8_t> in, std::span<std::uint8_t> out) noexcept {
    const std::size_t n = std::min(in.size(), out.size());
    for (std::size_t i = 0; i < n; ++i) out[i] = ulaw_to_alaw_table[in[i]];
    return n;
}

std::size_t alaw_to_ulaw(std::span<const std::uint8_t> in, std::span<std::uint8_t> out) noexcept {
    const std::size_t n = std::min(in.size(), out.size());
    for (std::size_t i = 0; i < n; ++i) out[i] = alaw_to_ulaw_table[in[i]];
    return n;
}

}  // namespace sipvoice::codec::g711
