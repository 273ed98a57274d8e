// The codec registry and the audio_codec implementations over g711, g722, plc and opus.
#include "sipvoice/codec/codec.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "sipvoice/codec/g711.hpp"
#include "sipvoice/codec/g722.hpp"
#include "sipvoice/codec/plc.hpp"

namespace sipvoice::codec {
namespace {

// RFC 3551 Table 4 for the static ones, RFC 7587 §7 for Opus.
constexpr std::array<codec_info, 4> registry{{
    {codec_id::pcmu, "PCMU", 8000, 1, 0, 8000, true},
    {codec_id::pcma, "PCMA", 8000, 1, 8, 8000, true},
    {codec_id::g722, "G722", g722::rtp_clock_rate, 1, 9, g722::sample_rate, g722_available},
    {codec_id::opus, "opus", opus_rtp_clock_rate, 2, -1, 48000, opus_available},
}};

bool iequal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// Concealment for the codecs without their own (G.711, G.722): the waveform PLC, or silence when
// it is switched off.
std::size_t conceal_or_silence(plc& p, bool use_plc, std::span<std::int16_t> pcm) noexcept {
    if (use_plc) p.conceal(pcm);
    else std::fill(pcm.begin(), pcm.end(), std::int16_t{0});
    return pcm.size();
}

class g711_codec final : public audio_codec {
public:
    g711_codec(const codec_info& info, std::uint32_t frame, bool use_plc)
        : audio_codec(info, g711::sample_rate, frame), alaw_(info.id == codec_id::pcma), use_plc_(use_plc) {}

    std::size_t max_payload_size() const noexcept override { return frame_samples(); }

    result<std::size_t> encode(std::span<const std::int16_t> pcm, std::span<std::uint8_t> payload) noexcept override {
        if (payload.size() < pcm.size()) return error{errc::buffer_too_small};
        return alaw_ ? g711::encode_alaw(pcm, payload) : g711::encode_ulaw(pcm, payload);
    }

    result<std::size_t> decode(std::span<const std::uint8_t> payload, std::span<std::int16_t> pcm) noexcept override {
        if (pcm.size() < payload.size()) return error{errc::buffer_too_small};
        const std::size_t n = alaw_ ? g711::decode_alaw(payload, pcm) : g711::decode_ulaw(payload, pcm);
        if (!use_plc_) return n;
        if (!plc_.concealing()) remember(payload.first(n));
        else plc_.frame(pcm.first(n));  // the end of a loss: crossfaded out of the concealment
        return n;
    }

    result<std::size_t> conceal(std::span<std::int16_t> pcm) noexcept override {
        if (use_plc_ && !plc_.concealing()) catch_up();
        return conceal_or_silence(plc_, use_plc_, pcm);
    }

    void reset() noexcept override {
        plc_.reset();
        pending_ = 0;
    }

private:
    // The concealment's history is the audio played since the last loss. It is kept here as the
    // frames' G.711 codes (half the bytes of the PCM, at 2,000 calls the difference is cache misses)
    // and decoded for the PLC only when a loss begins, which gives it the same history: of the
    // codes since the last loss only the last history_samples() matter, and `kept` holds more.
    static constexpr std::size_t kept = 512;
    static_assert(kept >= plc::history_samples(g711::sample_rate));

    void remember(std::span<const std::uint8_t> codes) noexcept {
        if (codes.size() >= kept) codes = codes.last(kept);
        const std::size_t first = std::min(codes.size(), kept - head_);
        std::memcpy(codes_.data() + head_, codes.data(), first);
        std::memcpy(codes_.data(), codes.data() + first, codes.size() - first);
        head_ = (head_ + codes.size()) % kept;
        pending_ = std::min(pending_ + codes.size(), kept);
    }

    void catch_up() noexcept {
        if (pending_ == 0) return;
        std::array<std::int16_t, kept> pcm;
        for (std::size_t i = 0, at = (head_ + kept - pending_) % kept; i < pending_; ++i, at = at + 1 == kept ? 0 : at + 1)
            pcm[i] = alaw_ ? g711::alaw_to_linear(codes_[at]) : g711::ulaw_to_linear(codes_[at]);
        plc_.frame(std::span<std::int16_t>(pcm.data(), pending_));  // not concealing: into the history
        pending_ = 0;
    }

    bool alaw_;
    bool use_plc_;
    plc plc_{g711::sample_rate};
    std::size_t head_ = 0;     // where the next code goes
    std::size_t pending_ = 0;  // codes the PLC has not seen yet (the last ones before head_)
    std::array<std::uint8_t, kept> codes_;
};

// 16 kHz PCM, 8 kHz RTP clock (RFC 3551 §4.5.2): audio_codec::rtp_samples() halves the sample count.
// No concealment of its own: codec::plc at 16 kHz, as G.711 has it at 8 kHz.
class g722_codec final : public audio_codec {
public:
    g722_codec(const codec_info& info, std::uint32_t frame, g722_encoder enc, g722_decoder dec, bool use_plc)
        : audio_codec(info, g722::sample_rate, frame), encoder_(std::move(enc)), decoder_(std::move(dec)),
          use_plc_(use_plc) {}

    std::size_t max_payload_size() const noexcept override { return frame_samples() / g722::samples_per_octet; }

    result<std::size_t> encode(std::span<const std::int16_t> pcm, std::span<std::uint8_t> payload) noexcept override {
        return encoder_.encode(pcm, payload);
    }

    result<std::size_t> decode(std::span<const std::uint8_t> payload, std::span<std::int16_t> pcm) noexcept override {
        auto n = decoder_.decode(payload, pcm);
        if (n && use_plc_) plc_.frame(pcm.first(*n));
        return n;
    }

    result<std::size_t> conceal(std::span<std::int16_t> pcm) noexcept override {
        return conceal_or_silence(plc_, use_plc_, pcm);
    }

    // The decoder's ADPCM predictors follow the old stream: a new one starts from a fresh state.
    void reset() noexcept override {
        (void)decoder_.reset();
        plc_.reset();
    }

private:
    g722_encoder encoder_;
    g722_decoder decoder_;
    bool use_plc_;
    plc plc_{g722::sample_rate};
};

class opus_codec final : public audio_codec {
public:
    opus_codec(const codec_info& info, std::uint32_t rate, std::uint32_t frame, opus_encoder enc, opus_decoder dec)
        : audio_codec(info, rate, frame), encoder_(std::move(enc)), decoder_(std::move(dec)) {}

    std::size_t max_payload_size() const noexcept override { return opus_max_packet; }

    result<std::size_t> encode(std::span<const std::int16_t> pcm, std::span<std::uint8_t> payload) noexcept override {
        return encoder_.encode(pcm, payload);
    }
    result<std::size_t> decode(std::span<const std::uint8_t> payload, std::span<std::int16_t> pcm) noexcept override {
        return decoder_.decode(payload, pcm);
    }
    result<std::size_t> conceal(std::span<std::int16_t> pcm) noexcept override { return decoder_.conceal(pcm); }
    result<std::size_t> recover(std::span<const std::uint8_t> next_payload, std::span<std::int16_t> pcm) noexcept override {
        return decoder_.decode_fec(next_payload, pcm);
    }
    void reset() noexcept override { (void)decoder_.reset(); }

private:
    opus_encoder encoder_;
    opus_decoder decoder_;
};

}  // namespace

std::span<const codec_info> known_codecs() noexcept { return registry; }

const codec_info* find_codec(std::string_view name, std::uint32_t clock_rate, std::uint8_t channels) noexcept {
    if (channels == 0) channels = 1;
    for (const auto& c : registry) {
        if (!iequal(c.name, name) || c.clock_rate != clock_rate) continue;
        if (c.channels == channels || (c.id == codec_id::opus && channels == 1)) return &c;
    }
    return nullptr;
}

const codec_info* find_codec(codec_id id) noexcept {
    for (const auto& c : registry) {
        if (c.id == id) return &c;
    }
    return nullptr;
}

const codec_info* find_static_codec(std::uint8_t payload_type) noexcept {
    for (const auto& c : registry) {
        if (c.payload_type == payload_type) return &c;
    }
    return nullptr;
}

result<std::unique_ptr<audio_codec>> make_codec(const codec_info& info, const codec_options& options) {
    if (!info.available) return error{errc::not_available};
    const std::uint32_t rate = options.sample_rate != 0 ? options.sample_rate : info.sample_rate;
    if (options.ptime_ms == 0 || options.ptime_ms > 120) return error{errc::bad_frame_size};
    switch (info.id) {
        case codec_id::pcmu:
        case codec_id::pcma: {
            if (rate != g711::sample_rate) return error{errc::bad_sample_rate};
            return std::unique_ptr<audio_codec>(new g711_codec(info, rate / 1000 * options.ptime_ms, options.plc));
        }
        case codec_id::opus: {
            opus_config cfg = options.opus;
            cfg.sample_rate = rate;
            cfg.frame_ms = options.ptime_ms;
            auto enc = opus_encoder::create(cfg);
            if (!enc) return enc.error();
            auto dec = opus_decoder::create(rate);
            if (!dec) return dec.error();
            return std::unique_ptr<audio_codec>(
                new opus_codec(info, rate, enc->frame_samples(), std::move(*enc), std::move(*dec)));
        }
        case codec_id::g722: {
            if (rate != g722::sample_rate) return error{errc::bad_sample_rate};
            auto enc = g722_encoder::create();
            if (!enc) return enc.error();
            auto dec = g722_decoder::create();
            if (!dec) return dec.error();
            return std::unique_ptr<audio_codec>(
                new g722_codec(info, rate / 1000 * options.ptime_ms, std::move(*enc), std::move(*dec), options.plc));
        }
    }
    return error{errc::not_available};
}

result<std::unique_ptr<audio_codec>> make_codec(std::string_view name, std::uint32_t clock_rate, std::uint8_t channels,
                                                const codec_options& options) {
    const codec_info* info = find_codec(name, clock_rate, channels);
    if (info == nullptr) return error{errc::unknown_codec};
    return make_codec(*info, options);
}

}  // namespace sipvoice::codec
