// G.722 through spandsp (see g722.hpp). Without spandsp every entry point answers not_available.
#include "sipvoice/codec/g722.hpp"

#include <limits>

#if SIPVOICE_HAVE_G722
#include <spandsp/telephony.h>
// telephony.h first: g722.h uses its SPAN_DECLARE.
#include <spandsp/g722.h>
#endif

namespace sipvoice::codec {
namespace {

[[maybe_unused]] constexpr error unavailable{errc::not_available};
[[maybe_unused]] constexpr error uninitialized{errc::not_initialized};
// spandsp counts in int.
[[maybe_unused]] constexpr std::size_t max_len = static_cast<std::size_t>(std::numeric_limits<int>::max()) / 2;

}  // namespace

// ---- encoder

void g722_encoder::deleter::operator()([[maybe_unused]] g722_encode_state_s* s) const noexcept {
#if SIPVOICE_HAVE_G722
    g722_encode_free(s);
#endif
}

result<g722_encoder> g722_encoder::create() noexcept {
#if SIPVOICE_HAVE_G722
    g722_encoder enc;
    // NULL: spandsp allocates the state (malloc, no exception); options 0: 16 kHz PCM, unpacked octets.
    enc.state_.reset(g722_encode_init(nullptr, static_cast<int>(g722::bitrate), 0));
    if (!enc.state_) return error{errc::library_error};
    return enc;
#else
    return unavailable;
#endif
}

result<std::size_t> g722_encoder::encode(std::span<const std::int16_t> pcm, std::span<std::uint8_t> out) noexcept {
#if SIPVOICE_HAVE_G722
    if (!state_) return uninitialized;
    // g722_encode() reads samples in pairs: an odd count would read past the end.
    if (pcm.size() % g722::samples_per_octet != 0 || pcm.size() > max_len) return error{errc::bad_frame_size};
    const std::size_t octets = pcm.size() / g722::samples_per_octet;
    if (out.size() < octets) return error{errc::buffer_too_small};
    const int n = g722_encode(state_.get(), out.data(), pcm.data(), static_cast<int>(pcm.size()));
    if (n < 0) return error{errc::library_error};
    return static_cast<std::size_t>(n);
#else
    (void)pcm;
    (void)out;
    return unavailable;
#endif
}

error g722_encoder::reset() noexcept {
#if SIPVOICE_HAVE_G722
    if (!state_) return uninitialized;
    // With a state given, init clears and reinitialises it in place.
    if (g722_encode_init(state_.get(), static_cast<int>(g722::bitrate), 0) == nullptr) return {errc::library_error};
    return {};
#else
    return unavailable;
#endif
}

// ---- decoder

void g722_decoder::deleter::operator()([[maybe_unused]] g722_decode_state_s* s) const noexcept {
#if SIPVOICE_HAVE_G722
    g722_decode_free(s);
#endif
}

result<g722_decoder> g722_decoder::create() noexcept {
#if SIPVOICE_HAVE_G722
    g722_decoder dec;
    dec.state_.reset(g722_decode_init(nullptr, static_cast<int>(g722::bitrate), 0));
    if (!dec.state_) return error{errc::library_error};
    return dec;
#else
    return unavailable;
#endif
}

result<std::size_t> g722_decoder::decode(std::span<const std::uint8_t> payload, std::span<std::int16_t> pcm) noexcept {
#if SIPVOICE_HAVE_G722
    if (!state_) return uninitialized;
    if (payload.size() > max_len) return error{errc::bad_packet};
    if (pcm.size() < payload.size() * g722::samples_per_octet) return error{errc::buffer_too_small};
    const int n = g722_decode(state_.get(), pcm.data(), payload.data(), static_cast<int>(payload.size()));
    if (n < 0) return error{errc::library_error};
    return static_cast<std::size_t>(n);
#else
    (void)payload;
    (void)pcm;
    return unavailable;
#endif
}

error g722_decoder::reset() noexcept {
#if SIPVOICE_HAVE_G722
    if (!state_) return uninitialized;
    if (g722_decode_init(state_.get(), static_cast<int>(g722::bitrate), 0) == nullptr) return {errc::library_error};
    return {};
#else
    return unavailable;
#endif
}

}  // namespace sipvoice::codec
