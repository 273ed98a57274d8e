// Error descriptions and the std::error_category of the codec/ layer.
#include "sipvoice/codec/error.hpp"

#include <string>

#include "sipvoice/config.hpp"

#if SIPVOICE_HAVE_OPUS
#include <opus.h>
#endif
#if SIPVOICE_HAVE_SAMPLERATE
#include <samplerate.h>
#endif

namespace sipvoice::codec {

std::string_view describe(errc code) noexcept {
    switch (code) {
        case errc::ok: return "no error";
        case errc::not_available: return "codec not available in this build";
        case errc::unknown_codec: return "unknown codec";
        case errc::bad_sample_rate: return "unsupported sample rate";
        case errc::bad_channels: return "unsupported channel count";
        case errc::bad_frame_size: return "unsupported frame size";
        case errc::bad_setting: return "setting out of range";
        case errc::buffer_too_small: return "output buffer too small";
        case errc::bad_packet: return "payload cannot be decoded";
        case errc::not_initialized: return "codec object not initialized";
        case errc::library_error: return "codec library error";
    }
    return "unknown error";
}

std::string_view error::what() const noexcept {
    switch (source) {
        case library::opus:
#if SIPVOICE_HAVE_OPUS
            if (detail != 0) return opus_strerror(detail);
#endif
            break;
        case library::samplerate:
#if SIPVOICE_HAVE_SAMPLERATE
            if (detail != 0) {
                if (const char* s = src_strerror(detail)) return s;
            }
#endif
            break;
        case library::none: break;
    }
    return describe(code);
}

namespace {
class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "codec"; }
    std::string message(int ev) const override { return std::string(describe(static_cast<errc>(ev))); }
};
}  // namespace

const std::error_category& codec_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace sipvoice::codec
