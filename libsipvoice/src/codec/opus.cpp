// Opus through libopus (see opus.hpp). Without libopus every entry point answers not_available.
#include "sipvoice/codec/opus.hpp"

#include <algorithm>
#include <utility>

#if SIPVOICE_HAVE_OPUS
#include <opus.h>
#endif

namespace sipvoice::codec {
namespace {

[[maybe_unused]] bool valid_rate(std::uint32_t rate) noexcept {
    return rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000 || rate == 48000;
}

[[maybe_unused]] error check(const opus_config& c) noexcept {
    if (!valid_rate(c.sample_rate)) return {errc::bad_sample_rate};
    if (c.frame_ms != 10 && c.frame_ms != 20 && c.frame_ms != 40 && c.frame_ms != 60) return {errc::bad_frame_size};
    if (c.bitrate != 0 && (c.bitrate < 6000 || c.bitrate > 510000)) return {errc::bad_setting};
    if (c.complexity < 0 || c.complexity > 10) return {errc::bad_setting};
    if (c.packet_loss_percent < 0 || c.packet_loss_percent > 100) return {errc::bad_setting};
    return {};
}

#if SIPVOICE_HAVE_OPUS
error from_opus(int code) noexcept {
    switch (code) {
        case OPUS_OK: return {};
        case OPUS_BAD_ARG: return {errc::bad_setting, library::opus, code};
        case OPUS_BUFFER_TOO_SMALL: return {errc::buffer_too_small, library::opus, code};
        case OPUS_INVALID_PACKET:
        case OPUS_INVALID_STATE: return {errc::bad_packet, library::opus, code};
        default: return {errc::library_error, library::opus, code};
    }
}
#endif

constexpr error unavailable{errc::not_available};
constexpr error uninitialized{errc::not_initialized};

}  // namespace

// ---- encoder

void opus_encoder::deleter::operator()([[maybe_unused]] OpusEncoder* s) const noexcept {
#if SIPVOICE_HAVE_OPUS
    opus_encoder_destroy(s);
#endif
}

result<opus_encoder> opus_encoder::create(const opus_config& config) noexcept {
#if SIPVOICE_HAVE_OPUS
    if (auto e = check(config); e.failed()) return e;
    int code = OPUS_OK;
    opus_encoder enc;
    const int application = config.application == opus_application::audio ? OPUS_APPLICATION_AUDIO : OPUS_APPLICATION_VOIP;
    enc.state_.reset(::opus_encoder_create(static_cast<opus_int32>(config.sample_rate), 1, application, &code));
    if (code != OPUS_OK || !enc.state_) return from_opus(code != OPUS_OK ? code : OPUS_ALLOC_FAIL);
    enc.config_ = config;
    OpusEncoder* s = enc.state_.get();
    const int signal = config.signal == opus_signal::voice   ? OPUS_SIGNAL_VOICE
                       : config.signal == opus_signal::music ? OPUS_SIGNAL_MUSIC
                                                             : OPUS_AUTO;
    for (int c : {opus_encoder_ctl(s, OPUS_SET_BITRATE(config.bitrate == 0 ? OPUS_AUTO : config.bitrate)),
                  opus_encoder_ctl(s, OPUS_SET_COMPLEXITY(config.complexity)),
                  opus_encoder_ctl(s, OPUS_SET_INBAND_FEC(config.inband_fec ? 1 : 0)),
                  opus_encoder_ctl(s, OPUS_SET_PACKET_LOSS_PERC(config.packet_loss_percent)),
                  opus_encoder_ctl(s, OPUS_SET_VBR(config.vbr ? 1 : 0)),
                  opus_encoder_ctl(s, OPUS_SET_DTX(config.dtx ? 1 : 0)),
                  opus_encoder_ctl(s, OPUS_SET_SIGNAL(signal))}) {
        if (c != OPUS_OK) return from_opus(c);
    }
    return enc;
#else
    (void)config;
    return unavailable;
#endif
}

result<std::size_t> opus_encoder::encode(std::span<const std::int16_t> pcm, std::span<std::uint8_t> out) noexcept {
#if SIPVOICE_HAVE_OPUS
    if (!state_) return uninitialized;
    if (pcm.size() != frame_samples()) return error{errc::bad_frame_size};
    if (out.empty()) return error{errc::buffer_too_small};
    const auto room = static_cast<opus_int32>(std::min<std::size_t>(out.size(), opus_max_packet));
    const opus_int32 n = ::opus_encode(state_.get(), pcm.data(), static_cast<int>(pcm.size()), out.data(), room);
    if (n < 0) return from_opus(n);
    return static_cast<std::size_t>(n);
#else
    (void)pcm;
    (void)out;
    return unavailable;
#endif
}

error opus_encoder::set_bitrate(std::int32_t bits_per_second) noexcept {
    opus_config c = config_;
    c.bitrate = bits_per_second;
    if (auto e = check(c); e.failed()) return e;
#if SIPVOICE_HAVE_OPUS
    if (!state_) return uninitialized;
    if (auto e = from_opus(opus_encoder_ctl(state_.get(), OPUS_SET_BITRATE(c.bitrate == 0 ? OPUS_AUTO : c.bitrate)));
        e.failed())
        return e;
    config_ = c;
    return {};
#else
    return unavailable;
#endif
}

error opus_encoder::set_complexity(std::int32_t complexity) noexcept {
    opus_config c = config_;
    c.complexity = complexity;
    if (auto e = check(c); e.failed()) return e;
#if SIPVOICE_HAVE_OPUS
    if (!state_) return uninitialized;
    if (auto e = from_opus(opus_encoder_ctl(state_.get(), OPUS_SET_COMPLEXITY(complexity))); e.failed()) return e;
    config_ = c;
    return {};
#else
    return unavailable;
#endif
}

error opus_encoder::set_inband_fec(bool on) noexcept {
#if SIPVOICE_HAVE_OPUS
    if (!state_) return uninitialized;
    if (auto e = from_opus(opus_encoder_ctl(state_.get(), OPUS_SET_INBAND_FEC(on ? 1 : 0))); e.failed()) return e;
    config_.inband_fec = on;
    return {};
#else
    (void)on;
    return unavailable;
#endif
}

error opus_encoder::set_packet_loss_percent(std::int32_t percent) noexcept {
    opus_config c = config_;
    c.packet_loss_percent = percent;
    if (auto e = check(c); e.failed()) return e;
#if SIPVOICE_HAVE_OPUS
    if (!state_) return uninitialized;
    if (auto e = from_opus(opus_encoder_ctl(state_.get(), OPUS_SET_PACKET_LOSS_PERC(percent))); e.failed()) return e;
    config_ = c;
    return {};
#else
    return unavailable;
#endif
}

error opus_encoder::set_dtx(bool on) noexcept {
#if SIPVOICE_HAVE_OPUS
    if (!state_) return uninitialized;
    if (auto e = from_opus(opus_encoder_ctl(state_.get(), OPUS_SET_DTX(on ? 1 : 0))); e.failed()) return e;
    config_.dtx = on;
    return {};
#else
    (void)on;
    return unavailable;
#endif
}

result<std::uint32_t> opus_encoder::lookahead() const noexcept {
#if SIPVOICE_HAVE_OPUS
    if (!state_) return uninitialized;
    opus_int32 samples = 0;
    if (auto e = from_opus(opus_encoder_ctl(state_.get(), OPUS_GET_LOOKAHEAD(&samples))); e.failed()) return e;
    return static_cast<std::uint32_t>(samples);
#else
    return unavailable;
#endif
}

// ---- decoder

void opus_decoder::deleter::operator()([[maybe_unused]] OpusDecoder* s) const noexcept {
#if SIPVOICE_HAVE_OPUS
    opus_decoder_destroy(s);
#endif
}

result<opus_decoder> opus_decoder::create(std::uint32_t sample_rate) noexcept {
#if SIPVOICE_HAVE_OPUS
    if (!valid_rate(sample_rate)) return error{errc::bad_sample_rate};
    int code = OPUS_OK;
    opus_decoder dec;
    dec.state_.reset(::opus_decoder_create(static_cast<opus_int32>(sample_rate), 1, &code));
    if (code != OPUS_OK || !dec.state_) return from_opus(code != OPUS_OK ? code : OPUS_ALLOC_FAIL);
    dec.rate_ = sample_rate;
    return dec;
#else
    (void)sample_rate;
    return unavailable;
#endif
}

result<std::size_t> opus_decoder::run([[maybe_unused]] const std::uint8_t* data, [[maybe_unused]] std::size_t size,
                                      [[maybe_unused]] std::span<std::int16_t> out, [[maybe_unused]] bool fec) noexcept {
#if SIPVOICE_HAVE_OPUS
    if (!state_) return uninitialized;
    const int n = ::opus_decode(state_.get(), data, static_cast<opus_int32>(size), out.data(),
                                static_cast<int>(out.size()), fec ? 1 : 0);
    if (n < 0) return from_opus(n);
    return static_cast<std::size_t>(n);
#else
    return unavailable;
#endif
}

result<std::size_t> opus_decoder::decode(std::span<const std::uint8_t> packet, std::span<std::int16_t> out) noexcept {
    if (!state_) return opus_available ? uninitialized : unavailable;
    if (packet.empty()) {
        // opus_decode() treats a zero-length packet as lost: conceal one packet's worth.
        const std::uint32_t n = last_packet_samples();
        if (n == 0 || out.size() < n) return error{errc::buffer_too_small};
        return run(nullptr, 0, out.first(n), false);
    }
    auto need = packet_samples(packet);
    if (!need) return need.error();
    if (out.size() < *need) return error{errc::buffer_too_small};
    return run(packet.data(), packet.size(), out.first(*need), false);
}

result<std::size_t> opus_decoder::decode_fec(std::span<const std::uint8_t> next_packet,
                                             std::span<std::int16_t> out) noexcept {
    if (!state_) return opus_available ? uninitialized : unavailable;
    if (out.empty() || out.size() % (rate_ / 400) != 0) return error{errc::bad_frame_size};
    if (next_packet.empty()) return conceal(out);
    return run(next_packet.data(), next_packet.size(), out, true);
}

result<std::size_t> opus_decoder::conceal(std::span<std::int16_t> out) noexcept {
    if (!state_) return opus_available ? uninitialized : unavailable;
    if (out.empty() || out.size() % (rate_ / 400) != 0) return error{errc::bad_frame_size};
    return run(nullptr, 0, out, false);
}

error opus_decoder::reset() noexcept {
#if SIPVOICE_HAVE_OPUS
    if (!state_) return uninitialized;
    return from_opus(opus_decoder_ctl(state_.get(), OPUS_RESET_STATE));
#else
    return unavailable;
#endif
}

result<std::size_t> opus_decoder::packet_samples([[maybe_unused]] std::span<const std::uint8_t> packet) const noexcept {
#if SIPVOICE_HAVE_OPUS
    if (!state_) return uninitialized;
    if (packet.empty()) return error{errc::bad_packet};
    const int n = ::opus_decoder_get_nb_samples(state_.get(), packet.data(), static_cast<opus_int32>(packet.size()));
    if (n < 0) return from_opus(n);
    if (n == 0) return error{errc::bad_packet};
    return static_cast<std::size_t>(n);
#else
    return unavailable;
#endif
}

std::uint32_t opus_decoder::last_packet_samples() const noexcept {
#if SIPVOICE_HAVE_OPUS
    if (!state_) return 0;
    opus_int32 n = 0;
    if (opus_decoder_ctl(state_.get(), OPUS_GET_LAST_PACKET_DURATION(&n)) != OPUS_OK || n < 0) return 0;
    return static_cast<std::uint32_t>(n);
#else
    return 0;
#endif
}

}  // namespace sipvoice::codec
