// sipvoice/codec/codec.hpp: the codecs this library knows, and one object per call to encode and
// decode with the codec that SDP negotiated.
//
// The registry describes each codec as SDP and RTP name it: the encoding name and clock rate of its
// rtpmap, its channel count, its static payload type if it has one (RFC 3551 §6, Table 4), and the
// PCM rate it encodes by default. find_codec() matches an rtpmap the way RFC 4855 §3 asks (the
// encoding name is case-insensitive); make_codec() turns the match into an audio_codec.
//
//   name   rtpmap          PT   PCM rate   notes
//   PCMU   PCMU/8000       0    8000       G.711 mu-law, with codec::plc for lost frames
//   PCMA   PCMA/8000       8    8000       G.711 A-law, with codec::plc
//   G722   G722/8000       9    16000      G.722 64 kbit/s, with codec::plc; needs spandsp
//   opus   opus/48000/2    -    48000      dynamic PT; PCM at 8/12/16/24/48 kHz; mono here; needs libopus
//
//   const sdp::negotiated& n = *oa.current();
//   auto c = codec::make_codec(n.codec.name, n.codec.clock_rate, n.codec.channels, {.sample_rate = 16000});
//   if (!c) { log(c.error().what()); hang_up(); }
//   send:      auto bytes = (*c)->encode(pcm_20ms, payload);         rtp timestamp += (*c)->rtp_samples(320)
//   receive:   frame -> (*c)->decode(payload, pcm);  lost -> (*c)->recover(next_payload, pcm)
//
// The RTP clock and the PCM rate differ for Opus (always 48 kHz on the wire, RFC 7587 §4.1) and
// G.722 (8000 on the wire for 16 kHz audio, RFC 3551 §4.5.2): rtp_samples() converts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "sipvoice/codec/error.hpp"
#include "sipvoice/codec/opus.hpp"

namespace sipvoice::codec {

enum class codec_id : std::uint8_t { pcmu, pcma, g722, opus };

struct codec_info {
    codec_id id = codec_id::pcmu;
    std::string_view name;           // encoding name, as written in an rtpmap
    std::uint32_t clock_rate = 0;    // RTP timestamp rate
    std::uint8_t channels = 1;       // rtpmap channel count
    std::int16_t payload_type = -1;  // static payload type, -1 when dynamic
    std::uint32_t sample_rate = 0;   // PCM rate the codec encodes by default
    bool available = false;          // this build encodes and decodes it
};

// Every codec above, in that order.
std::span<const codec_info> known_codecs() noexcept;
// The codec of an rtpmap (name case-insensitive), or nullptr. `channels` 0 means "not given" (1).
// Opus is opus/48000/2 (RFC 7587 §7); opus/48000 and opus/48000/1 are accepted as well.
const codec_info* find_codec(std::string_view name, std::uint32_t clock_rate, std::uint8_t channels = 1) noexcept;
const codec_info* find_codec(codec_id id) noexcept;
// The codec of a static payload type (0, 8, 9), or nullptr for any other number.
const codec_info* find_static_codec(std::uint8_t payload_type) noexcept;

struct codec_options {
    // PCM rate of the audio_codec's encode/decode side. 0: the codec's own (codec_info::sample_rate).
    // G.711 takes 8000 only; G.722 16000 only; Opus 8000, 12000, 16000, 24000 or 48000.
    std::uint32_t sample_rate = 0;
    std::uint32_t ptime_ms = 20;  // frame duration (the peer's a=ptime; RFC 3551 §4.2: 20 ms)
    bool plc = true;              // G.711, G.722: conceal lost frames with codec::plc; false: silence
    // Opus encoder settings; its sample_rate and frame_ms are replaced by the two fields above.
    opus_config opus{};
};

// An encoder and a decoder of one codec, for the two directions of one call.
class audio_codec {
public:
    virtual ~audio_codec() = default;
    audio_codec(const audio_codec&) = delete;
    audio_codec& operator=(const audio_codec&) = delete;

    [[nodiscard]] const codec_info& info() const noexcept { return info_; }
    [[nodiscard]] std::uint32_t sample_rate() const noexcept { return rate_; }
    [[nodiscard]] std::uint32_t frame_samples() const noexcept { return frame_; }  // PCM samples per ptime
    // RTP timestamp units for `pcm_samples` samples at sample_rate().
    [[nodiscard]] std::uint32_t rtp_samples(std::size_t pcm_samples) const noexcept {
        return static_cast<std::uint32_t>(static_cast<std::uint64_t>(pcm_samples) * info_.clock_rate / rate_);
    }
    // Octets one frame's payload takes at most: the size of the buffer to give encode().
    [[nodiscard]] virtual std::size_t max_payload_size() const noexcept = 0;

    // One frame of PCM to one RTP payload; returns the payload's size. G.711 takes any length (one
    // octet per sample), G.722 any even length (one octet per two samples); Opus exactly frame_samples().
    virtual result<std::size_t> encode(std::span<const std::int16_t> pcm, std::span<std::uint8_t> payload) noexcept = 0;
    // One RTP payload to PCM; returns the samples written.
    virtual result<std::size_t> decode(std::span<const std::uint8_t> payload, std::span<std::int16_t> pcm) noexcept = 0;
    // A lost frame of pcm.size() samples (Opus: a multiple of 2.5 ms).
    virtual result<std::size_t> conceal(std::span<std::int16_t> pcm) noexcept = 0;
    // A lost frame, when the packet after it is here: Opus rebuilds it from that packet's in-band FEC,
    // the others conceal. `next_payload` is then decoded as usual.
    virtual result<std::size_t> recover(std::span<const std::uint8_t> next_payload, std::span<std::int16_t> pcm) noexcept {
        (void)next_payload;
        return conceal(pcm);
    }
    // A new stream (the jitter buffer resynchronised): forget the decoder's history.
    virtual void reset() noexcept = 0;

protected:
    audio_codec(const codec_info& info, std::uint32_t sample_rate, std::uint32_t frame_samples) noexcept
        : info_(info), rate_(sample_rate), frame_(frame_samples) {}

private:
    codec_info info_;
    std::uint32_t rate_;
    std::uint32_t frame_;
};

// errc::not_available for a codec this build lacks; errc::bad_sample_rate, bad_frame_size,
// bad_setting for options it cannot take.
result<std::unique_ptr<audio_codec>> make_codec(const codec_info& info, const codec_options& options = {});
// errc::unknown_codec when find_codec() knows no such codec.
result<std::unique_ptr<audio_codec>> make_codec(std::string_view name, std::uint32_t clock_rate,
                                                std::uint8_t channels = 1, const codec_options& options = {});

}  // namespace sipvoice::codec
