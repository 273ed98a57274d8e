// sipvoice/codec/error.hpp: what can go wrong in the codec/ layer (G.711, G.722, PLC, Opus, resampling).
//
// The layer builds with -fno-exceptions, so failures are values: an `error` is a code plus, when a
// library said no, that library's own code (a negative OPUS_* value, or libsamplerate's error number)
// so that a log line can name the real cause (describe(error) gives the library's own message then).
#pragma once

#include <cstdint>
#include <string_view>
#include <system_error>

#include "sipvoice/result.hpp"

namespace sipvoice::codec {

enum class errc : std::uint8_t {
    ok = 0,
    not_available,     // this build has no such codec: SIPVOICE_WITH_OPUS / _G722 / _SAMPLERATE off
    unknown_codec,     // no codec of that encoding name, clock rate and channel count
    bad_sample_rate,   // a PCM rate the codec or resampler does not take
    bad_channels,      // a channel count the codec does not take (this layer encodes mono)
    bad_frame_size,    // a PCM length that is not a frame size the codec takes
    bad_setting,       // bitrate, complexity or loss percentage out of range
    buffer_too_small,  // the output span cannot hold what the call must write
    bad_packet,        // a payload the decoder cannot decode (corrupt or not of this codec)
    not_initialized,   // a default-constructed or moved-from object was used
    library_error,     // libopus, libsamplerate or spandsp failed otherwise; error::detail holds its code
                       // (none for spandsp, whose calls return only NULL or a count)
};

// A short English description of the code, for logs.
std::string_view describe(errc code) noexcept;

enum class library : std::uint8_t { none, opus, samplerate };

struct error {
    errc code = errc::ok;
    library source = library::none;  // whose code `detail` is
    int detail = 0;                  // the library's own error code, 0 when none

    [[nodiscard]] constexpr bool failed() const noexcept { return code != errc::ok; }
    // The library's own message when it reported the error (opus_strerror, src_strerror), else
    // describe(code).
    [[nodiscard]] std::string_view what() const noexcept;
    friend constexpr bool operator==(const error&, const error&) = default;
};

template <class T>
using result = sipvoice::result<T, error>;

// std::error_code interoperability, for the I/O layers above (the library detail is dropped).
const std::error_category& codec_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), codec_category()}; }

}  // namespace sipvoice::codec

template <>
struct std::is_error_code_enum<sipvoice::codec::errc> : std::true_type {};
