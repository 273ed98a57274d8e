// sipvoice/codec/opus.hpp: Opus (RFC 6716) through libopus, for one mono voice stream.
//
// An opus_encoder turns 20 ms (or 10/40/60 ms) of PCM16 into one packet; an opus_decoder turns
// packets back into PCM and covers lost ones in two ways:
// - decode_fec(next): the packet AFTER a lost one may carry a low-bitrate copy of it (in-band FEC,
//   "LBRR", RFC 6716 §4.2.4.2, sent when the encoder has inband_fec on and expects loss); decoding it
//   with decode_fec=1 restores the lost frame. Then decode(next) as usual for its own frame.
// - conceal(): the decoder's own concealment (opus_decode with no data), when there is no next packet
//   yet or it carries no FEC (decode_fec then conceals by itself).
//
//   auto enc = codec::opus_encoder::create({.sample_rate = 16000, .bitrate = 24000});
//   if (!enc) log(enc.error().what());
//   std::array<std::uint8_t, codec::opus_max_packet> pkt;
//   auto n = enc->encode(pcm_20ms, pkt);                    // 320 samples at 16 kHz -> *n octets
//
//   auto dec = codec::opus_decoder::create(16000);
//   jitter buffer says frame:  dec->decode(payload, pcm);
//   jitter buffer says lost:   next_payload.empty() ? dec->conceal(pcm) : dec->decode_fec(next_payload, pcm);
//
// The RTP side (RFC 7587): the payload is one Opus packet as produced here, the RTP clock is always
// 48 kHz whatever rate the PCM side runs at (a 20 ms frame advances the timestamp by 960), and the
// SDP says opus/48000/2 even for mono; a mono decoder plays a stereo stream down-mixed.
//
// PCM rates: 8000, 12000, 16000, 24000 or 48000 Hz (what libopus takes), mono. The application is
// OPUS_APPLICATION_VOIP (speech intelligibility first) unless the config says otherwise. With
// in-band FEC on and loss expected, libopus codes in its SILK or hybrid modes (FEC exists only
// there). Settings are checked before they reach libopus, so a bad value is errc::bad_setting, not
// a library error.
//
// Built without libopus (SIPVOICE_WITH_OPUS=OFF, sipvoice/config.hpp: SIPVOICE_HAVE_OPUS 0) the
// classes still exist and create() returns errc::not_available.
//
// Both objects own their libopus state (RAII): move-only; a default-constructed or moved-from object
// answers errc::not_initialized. Not thread-safe: one object per stream direction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "sipvoice/codec/error.hpp"
#include "sipvoice/config.hpp"

// libopus's opaque states (opus.h declares them the same way).
struct OpusEncoder;
struct OpusDecoder;

namespace sipvoice::codec {

inline constexpr bool opus_available = SIPVOICE_HAVE_OPUS != 0;

// RFC 6716 §3.2.1: one frame of at most 1275 octets; 1500 also holds the 2-3 frames of a 40 or
// 60 ms packet at voice bitrates, and fits an Ethernet MTU.
inline constexpr std::size_t opus_max_packet = 1500;
// The longest packet a decoder may meet: 120 ms (RFC 6716 §3.2.5), 5760 samples at 48 kHz.
inline constexpr std::uint32_t opus_max_frame_ms = 120;
// Opus RTP timestamps run at 48 kHz (RFC 7587 §4.1).
inline constexpr std::uint32_t opus_rtp_clock_rate = 48000;

enum class opus_signal : std::uint8_t { automatic, voice, music };  // OPUS_SET_SIGNAL hint

// OPUS_APPLICATION_VOIP favours intelligibility: among other things a high-pass filter that follows
// the pitch (up to about 100 Hz) and stronger noise shaping, so the waveform is kept less closely
// (the tests measure 11-12 dB SNR on speech-like audio at 32 kbit/s, 25-28 dB with `audio`).
// OPUS_APPLICATION_AUDIO keeps the waveform: for synthesized prompts, music on hold.
enum class opus_application : std::uint8_t { voip, audio };

struct opus_config {
    std::uint32_t sample_rate = 48000;  // PCM rate: 8000, 12000, 16000, 24000 or 48000
    std::uint32_t frame_ms = 20;        // 10, 20, 40 or 60 ms per packet (20 for RTP, RFC 7587 §4.2)
    std::int32_t bitrate = 32000;       // bits/s, 6000..510000; 0: libopus chooses (OPUS_AUTO)
    std::int32_t complexity = 5;        // 0..10, CPU against quality; 5 leaves room for many calls
    bool inband_fec = true;             // send LBRR copies of the previous frame (needs loss > 0)
    std::int32_t packet_loss_percent = 10;  // expected loss 0..100: how much FEC to spend
    bool vbr = true;
    bool dtx = false;                   // discontinuous transmission in silence
    opus_signal signal = opus_signal::automatic;
    opus_application application = opus_application::voip;
};

class opus_encoder {
public:
    opus_encoder() noexcept = default;
    static result<opus_encoder> create(const opus_config& config) noexcept;

    opus_encoder(opus_encoder&&) noexcept = default;
    opus_encoder& operator=(opus_encoder&&) noexcept = default;
    opus_encoder(const opus_encoder&) = delete;
    opus_encoder& operator=(const opus_encoder&) = delete;
    ~opus_encoder() = default;

    // One frame: pcm.size() must be frame_samples(). Writes one packet into `out` (opus_max_packet
    // octets are always enough) and returns its size. With DTX on, a packet of 1 or 2 octets means
    // "silence, nothing worth sending" (RFC 7587 §3.1.3).
    result<std::size_t> encode(std::span<const std::int16_t> pcm, std::span<std::uint8_t> out) noexcept;

    // Changes on the fly (e.g. from RTCP loss reports). Out-of-range values: errc::bad_setting.
    error set_bitrate(std::int32_t bits_per_second) noexcept;
    error set_complexity(std::int32_t complexity) noexcept;
    error set_inband_fec(bool on) noexcept;
    error set_packet_loss_percent(std::int32_t percent) noexcept;
    error set_dtx(bool on) noexcept;

    // The encoder's lookahead in samples at the PCM rate: how far decoded audio lags the input
    // (6.5 ms: 2.5 ms of lookahead plus 4 ms of delay compensation). In the hybrid mode at 48 kHz
    // the low band comes out up to 0.2 ms earlier than that (measured in the tests).
    [[nodiscard]] result<std::uint32_t> lookahead() const noexcept;
    [[nodiscard]] const opus_config& config() const noexcept { return config_; }
    [[nodiscard]] std::uint32_t frame_samples() const noexcept { return config_.sample_rate / 1000 * config_.frame_ms; }
    [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }

private:
    struct deleter {
        void operator()(OpusEncoder* s) const noexcept;
    };
    std::unique_ptr<OpusEncoder, deleter> state_;
    opus_config config_;
};

class opus_decoder {
public:
    opus_decoder() noexcept = default;
    // sample_rate: the PCM rate wanted out, whatever rate the sender encoded at (RFC 6716 §2.1.1).
    static result<opus_decoder> create(std::uint32_t sample_rate) noexcept;

    opus_decoder(opus_decoder&&) noexcept = default;
    opus_decoder& operator=(opus_decoder&&) noexcept = default;
    opus_decoder(const opus_decoder&) = delete;
    opus_decoder& operator=(const opus_decoder&) = delete;
    ~opus_decoder() = default;

    // One packet. `out` must hold the packet's samples (packet_samples(); max_frame_samples() holds
    // any packet); returns how many were written. An empty packet is concealed like a lost one of
    // the last packet's duration.
    result<std::size_t> decode(std::span<const std::uint8_t> packet, std::span<std::int16_t> out) noexcept;
    // The frame before `next_packet` was lost: rebuilds it from the FEC data in `next_packet`, or
    // conceals it when there is none. out.size() must be the lost frame's duration exactly (e.g. the
    // 320 samples of 20 ms at 16 kHz; a multiple of 2.5 ms), because the decoder's state continues
    // from there. Decode next_packet afterwards as usual.
    result<std::size_t> decode_fec(std::span<const std::uint8_t> next_packet, std::span<std::int16_t> out) noexcept;
    // A lost frame with nothing to rebuild it from: the decoder's concealment. out.size() is the
    // lost duration, a multiple of 2.5 ms.
    result<std::size_t> conceal(std::span<std::int16_t> out) noexcept;
    // Back to the state of a new decoder (a new stream).
    error reset() noexcept;

    // Samples (at this decoder's rate) that `packet` decodes to, or errc::bad_packet.
    [[nodiscard]] result<std::size_t> packet_samples(std::span<const std::uint8_t> packet) const noexcept;
    // Duration of the last packet decoded (or concealed), in samples.
    [[nodiscard]] std::uint32_t last_packet_samples() const noexcept;
    [[nodiscard]] std::uint32_t sample_rate() const noexcept { return rate_; }
    [[nodiscard]] std::uint32_t max_frame_samples() const noexcept { return rate_ / 1000 * opus_max_frame_ms; }
    [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }

private:
    struct deleter {
        void operator()(OpusDecoder* s) const noexcept;
    };
    result<std::size_t> run(const std::uint8_t* data, std::size_t size, std::span<std::int16_t> out, bool fec) noexcept;
    std::unique_ptr<OpusDecoder, deleter> state_;
    std::uint32_t rate_ = 0;
};

}  // namespace sipvoice::codec
