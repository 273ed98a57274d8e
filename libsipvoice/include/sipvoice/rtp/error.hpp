// sipvoice/rtp/error.hpp: what can be wrong with an RTP packet, an RTCP compound packet or a
// telephone-event payload, and where.
//
// Every parser and writer in rtp/ reports failure as an `error`: a code plus the byte offset of the
// offending field, relative to the bytes that were parsed (for writers: 0). The layer builds with
// -fno-exceptions, so these are values (result<T>), never thrown.
#pragma once

#include <cstdint>
#include <string_view>
#include <system_error>

#include "sipvoice/result.hpp"

namespace sipvoice::rtp {

enum class errc : std::uint8_t {
    ok = 0,
    truncated,          // shorter than the fixed header, the CSRC list, an extension or a length field says
    bad_version,        // version field is not 2 (RFC 3550 §5.1, A.1, A.2)
    bad_padding,        // padding count of 0 or larger than what follows the header (RFC 3550 §5.1, A.1)
    rtcp_payload_type,  // marker + payload type read as an RTCP packet type 200..204 (RFC 3550 A.1, RFC 5761 §4)
    bad_length,         // an RTCP length field that does not fit the packet type or the compound (RFC 3550 A.2)
    bad_first_packet,   // a compound packet that does not start with SR or RR (RFC 3550 §6.1, A.2)
    misplaced_padding,  // padding bit on an RTCP packet that is not the last of the compound (RFC 3550 A.2)
    bad_sdes,           // an SDES chunk whose items run past the packet or miss their null terminator (§6.5)
    bad_bye,            // a BYE whose reason runs past the packet (RFC 3550 §6.6)
    too_many,           // more than 15 CSRCs, 31 report blocks, 31 SDES chunks or BYE sources in one packet
    too_long,           // an SDES item or BYE reason above 255 octets, an extension above 65535 words
    bad_alignment,      // a header extension or RTCP profile extension that is not a multiple of 4 octets
    bad_payload_type,   // a payload type above 127 given to a writer
    buffer_too_small,   // the output span cannot hold what the writer must write
    bad_event,          // a telephone-event payload shorter than 4 octets (RFC 4733 §2.3)
};

// A short English description of the code, for logs.
std::string_view describe(errc code) noexcept;

struct error {
    errc code = errc::ok;
    std::uint32_t offset = 0;  // byte offset of the problem in the parsed bytes

    [[nodiscard]] constexpr bool failed() const noexcept { return code != errc::ok; }
    friend constexpr bool operator==(const error&, const error&) = default;
};

template <class T>
using result = sipvoice::result<T, error>;

// std::error_code interoperability, for the I/O layers above.
const std::error_category& rtp_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), rtp_category()}; }

}  // namespace sipvoice::rtp

template <>
struct std::is_error_code_enum<sipvoice::rtp::errc> : std::true_type {};
