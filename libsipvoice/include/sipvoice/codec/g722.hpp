// sipvoice/codec/g722.hpp: ITU-T G.722 (wideband 7 kHz audio, SB-ADPCM) through spandsp.
//
// G.722 splits 16 kHz audio into two sub-bands with a QMF and codes each with ADPCM: two PCM samples
// become one octet, so 20 ms (320 samples) is a 160-octet RTP payload at 64 kbit/s. The DSP is
// spandsp's (Debian libspandsp-dev), bit exact to the ITU test vectors; this file only owns its state.
//
//   auto enc = codec::g722_encoder::create();
//   std::array<std::uint8_t, 160> payload;
//   auto n = enc->encode(pcm_20ms, payload);             // 320 samples at 16 kHz -> 160 octets
//
//   auto dec = codec::g722_decoder::create();
//   auto got = dec->decode(rtp.payload, pcm);            // 160 octets -> 320 samples
//
// The RTP side (RFC 3551 §4.5.2): the rtpmap says G722/8000 and the RTP timestamp advances at 8 kHz,
// half the sampling rate (RFC 1890 assigned 8000 in error and it stays for backward compatibility): a
// 20 ms frame advances it by 160, the number of octets. Static payload type 9. Only the 64 kbit/s
// mode is used on RTP; the 56 and 48 kbit/s modes (auxiliary data channel) are not offered here.
//
// The codec delays audio by the two QMFs, 22 samples (1.4 ms) at 16 kHz from encoder input to decoder
// output. It has no loss concealment of its own: audio_codec (codec.hpp) puts codec::plc behind it as
// for G.711.
//
// Built without spandsp (SIPVOICE_WITH_G722=OFF, sipvoice/config.hpp: SIPVOICE_HAVE_G722 0) the
// classes still exist and create() returns errc::not_available.
//
// Both objects own their spandsp state (RAII): move-only; a default-constructed or moved-from object
// answers errc::not_initialized. Not thread-safe: one object per stream direction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "sipvoice/codec/error.hpp"
#include "sipvoice/config.hpp"

// spandsp's opaque states (spandsp/g722.h declares them the same way).
struct g722_encode_state_s;
struct g722_decode_state_s;

namespace sipvoice::codec {

inline constexpr bool g722_available = SIPVOICE_HAVE_G722 != 0;

namespace g722 {
inline constexpr std::uint32_t sample_rate = 16000;    // G.722 §1: 16000 samples per second
inline constexpr std::uint32_t rtp_clock_rate = 8000;  // RFC 3551 §4.5.2
inline constexpr std::uint32_t bitrate = 64000;        // the mode RTP carries
inline constexpr std::uint32_t samples_per_octet = 2;
inline constexpr std::uint32_t delay_samples = 22;     // encoder input to decoder output, at 16 kHz
}  // namespace g722

class g722_encoder {
public:
    g722_encoder() noexcept = default;
    static result<g722_encoder> create() noexcept;

    g722_encoder(g722_encoder&&) noexcept = default;
    g722_encoder& operator=(g722_encoder&&) noexcept = default;
    g722_encoder(const g722_encoder&) = delete;
    g722_encoder& operator=(const g722_encoder&) = delete;
    ~g722_encoder() = default;

    // Any even number of samples at 16 kHz (errc::bad_frame_size for an odd one); writes
    // pcm.size() / 2 octets into `out` and returns that count.
    result<std::size_t> encode(std::span<const std::int16_t> pcm, std::span<std::uint8_t> out) noexcept;
    // Back to the state of a new encoder.
    error reset() noexcept;
    [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }

private:
    struct deleter {
        void operator()(g722_encode_state_s* s) const noexcept;
    };
    std::unique_ptr<g722_encode_state_s, deleter> state_;
};

class g722_decoder {
public:
    g722_decoder() noexcept = default;
    static result<g722_decoder> create() noexcept;

    g722_decoder(g722_decoder&&) noexcept = default;
    g722_decoder& operator=(g722_decoder&&) noexcept = default;
    g722_decoder(const g722_decoder&) = delete;
    g722_decoder& operator=(const g722_decoder&) = delete;
    ~g722_decoder() = default;

    // One payload of any length; writes payload.size() * 2 samples at 16 kHz into `pcm` (which must
    // hold them: errc::buffer_too_small) and returns that count.
    result<std::size_t> decode(std::span<const std::uint8_t> payload, std::span<std::int16_t> pcm) noexcept;
    // Back to the state of a new decoder (a new stream).
    error reset() noexcept;
    [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }

private:
    struct deleter {
        void operator()(g722_decode_state_s* s) const noexcept;
    };
    std::unique_ptr<g722_decode_state_s, deleter> state_;
};

}  // namespace sipvoice::codec
