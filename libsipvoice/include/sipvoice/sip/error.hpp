// sipvoice/sip/error.hpp: what can be wrong with a SIP message, and where.
//
// Every parser in sip/ reports failure as an `error`: a code plus the byte offset of the offending
// character, relative to the text that was parsed. message::locate() turns an offset into the
// message into a 1-based line and column for humans.
#pragma once

#include <cstdint>
#include <string_view>
#include <system_error>

#include "sipvoice/result.hpp"

namespace sipvoice::sip {

enum class errc : std::uint8_t {
    ok = 0,
    empty_message,            // nothing but whitespace
    no_end_of_headers,        // no empty line ends the header section
    bad_start_line,           // neither "METHOD SP URI SP SIP/x.y" nor "SIP/x.y SP code SP reason"
    bad_method,               // method is not a token
    bad_request_uri,          // Request-URI malformed or not allowed there (RFC 3261 §19.1.1)
    bad_version,              // not SIP/<digits>.<digits>
    bad_status_code,          // not three digits in 100..699
    bad_reason_phrase,        // control characters in the reason phrase
    bad_header_name,          // header name is not a token
    missing_colon,            // header line without ':'
    bad_header_value,         // a header value that does not match its grammar
    unterminated_quote,       // a quoted string without its closing DQUOTE
    bad_uri,                  // URI malformed
    bad_host,                 // host is not a hostname, IPv4 address or IPv6 reference
    bad_port,                 // port is not 1*DIGIT or is above 65535
    bad_param,                // ;name=value parameter malformed
    bad_escape,               // '%' not followed by two hex digits where an escape is required
    bad_number,               // expected digits
    number_too_large,         // a scalar above the limit its header allows (RFC 4475 §3.1.2.4)
    bad_display_name,         // display name neither quoted string nor tokens
    bad_list,                 // empty element or stray separator in a comma-separated list
    missing_header,           // a header RFC 3261 §8.1.1 requires is absent
    duplicate_header,         // a single-valued header appears more than once
    bad_content_length,       // Content-Length not a non-negative integer, or several that differ
    content_length_mismatch,  // Content-Length says more than the datagram holds
    header_too_large,         // header section larger than the configured limit
    body_too_large,           // body larger than the configured limit
    message_too_large,        // whole message larger than the configured limit
    bad_date,                 // Date is not an RFC 1123 date in GMT (RFC 3261 §20.17)
    cseq_method_mismatch,     // CSeq method differs from the request method (RFC 3261 §8.1.1.5)
};

// A short English description of the code, for logs and `sipvoice parse`.
std::string_view describe(errc code) noexcept;

struct error {
    errc code = errc::ok;
    std::uint32_t offset = 0;  // byte offset of the problem in the parsed text

    [[nodiscard]] constexpr bool failed() const noexcept { return code != errc::ok; }
    friend constexpr bool operator==(const error&, const error&) = default;
};

template <class T>
using result = sipvoice::result<T, error>;

// std::error_code interoperability, for the I/O layers above.
const std::error_category& sip_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), sip_category()}; }

}  // namespace sipvoice::sip

template <>
struct std::is_error_code_enum<sipvoice::sip::errc> : std::true_type {};
