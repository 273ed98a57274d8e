// sipvoice/sdp/error.hpp: what can be wrong with a session description or an offer/answer exchange.
//
// Parse errors carry the 1-based line of the offending line (for a line that is missing: the line
// where it was expected, i.e. the first line after the section that lacks it). Negotiation errors
// (no common codec, an answer that does not fit our offer) carry line 0. sip_status() says what a
// user agent answers an INVITE/UPDATE whose SDP failed: 400 for a malformed body, 488 Not Acceptable
// Here for an offer it cannot accept (RFC 3261 §13.3.1.1, §21.4.26), 491 for an offer that crosses
// ours (RFC 3261 §14.2).
#pragma once

#include <cstdint>
#include <string_view>
#include <system_error>

#include "sipvoice/result.hpp"

namespace sipvoice::sdp {

enum class errc : std::uint8_t {
    ok = 0,
    // parsing (RFC 8866 §5, §9)
    empty,               // no lines at all
    bad_line,            // not "<type>=<value>", an unknown type letter, a NUL or bare CR in a line
    bad_order,           // v= not first, or a session-level line (o s t r z u e p) inside a media section
    bad_version,         // v= other than 0
    duplicate_line,      // a line allowed once per section (v o s c) repeated
    missing_origin,      // no o= line
    bad_origin,          // o= without its six fields, or a version that is not a number
    bad_connection,      // c= malformed: nettype not IN, addrtype not IP4/IP6, address not of that type
    bad_bandwidth,       // b= not "<type>:<kbps>"
    bad_timing,          // t= not two numbers, or r= without a t= before it
    bad_media,           // m= malformed: port, proto, or an RTP format that is no payload type 0..127
    bad_attribute,       // a= name not a token, or rtpmap/fmtp/ptime/maxptime/rtcp not of their grammar
    missing_connection,  // an active media stream with no c= at media or session level (RFC 8866 §5.7)
    too_large,           // more media descriptions or formats than the limits in session_description.hpp
    // offer/answer (RFC 3264)
    no_usable_media,     // the offer has no active audio stream over RTP/AVP or RTP/AVPF
    no_common_codec,     // no codec of ours in the offer (or answer)
    answer_mismatch,     // the answer does not fit our offer (RFC 3264 §6: same number of m-lines)
    media_rejected,      // the answer declined our audio stream (port 0)
    no_offer_pending,    // an answer arrived while we had no offer outstanding
    offer_pending,       // an offer arrived while ours is outstanding (glare, RFC 3261 §14.2)
    bad_local_media,     // the application's local_media is unusable (no address, no codec)
};

// A short English description of the code, for logs.
std::string_view describe(errc code) noexcept;

struct error {
    errc code = errc::ok;
    std::uint32_t line = 0;  // 1-based line of the problem; 0 for negotiation errors

    [[nodiscard]] constexpr bool failed() const noexcept { return code != errc::ok; }
    [[nodiscard]] std::string_view what() const noexcept { return describe(code); }
    friend constexpr bool operator==(const error&, const error&) = default;
};

template <class T>
using result = sipvoice::result<T, error>;

// The SIP status a UAS answers a request whose SDP failed with `code` (0 for errc::ok).
int sip_status(errc code) noexcept;

// std::error_code interoperability, for the I/O layers above.
const std::error_category& sdp_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), sdp_category()}; }

}  // namespace sipvoice::sdp

template <>
struct std::is_error_code_enum<sipvoice::sdp::errc> : std::true_type {};
