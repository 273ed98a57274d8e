// sipvoice/sip/validate.hpp: what a user agent (RFC 3261 §8.2) or proxy (§16.3) must do with a message
// that parsed: accept it, answer it with an error status, or drop it silently.
//
// The checks, in the order the RFC applies them:
//   1. Syntax of every header the stack understands (typed parse of each), required headers
//      (§8.1.1), single-valued headers appearing once, scalars within their limits, CSeq method equal
//      to the request method (§8.1.1.5), Request-URI without headers (§19.1.1 table) -> 400 for a
//      request, drop for a response (a malformed response is never answered, §18.1.2).
//   2. Protocol version other than SIP/2.0 -> 505.
//   3. Method: unknown -> 501, known but not allowed -> 405 (§8.2.1).
//   4. Request-URI scheme not understood -> 416 (§8.2.2.1).
//   5. Require (UA) / Proxy-Require (proxy) naming extensions not supported -> 420 with Unsupported
//      (§8.2.2.3, §16.3 step 4). Max-Forwards 0 at a proxy -> 483 (§16.3 step 3).
//   6. Credentials in a scheme the server does not know -> 401/407 with a fresh challenge
//      (RFC 4475 §3.3.7), when the policy authenticates.
//   7. Body: Content-Type or Content-Encoding not understood -> 415 (§8.2.3); an INVITE whose Accept
//      excludes SDP -> 406 (RFC 4475 §3.3.15).
//   Responses: more than one Via at a UA -> drop (§8.1.3.3); at a proxy, a next hop whose sent-by is a
//   broadcast or multicast address -> drop (RFC 4475 §3.3.10).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "sipvoice/sip/message.hpp"

namespace sipvoice::sip {

enum class role : std::uint8_t { user_agent, proxy };

inline constexpr std::string_view default_allowed_methods[] = {
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "UPDATE", "PRACK",
    "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE"};
// What the user agent (ua/) takes in a Require: "100rel" since its invite sessions do RFC 3262.
inline constexpr std::string_view default_supported_extensions[] = {"path", "timer", "replaces", "norefersub", "100rel"};
inline constexpr std::string_view default_accepted_content_types[] = {
    "application/sdp", "multipart/mixed", "multipart/alternative", "multipart/related",
    "application/dtmf-relay", "application/dtmf", "message/sipfrag", "text/plain"};
inline constexpr std::string_view default_accepted_encodings[] = {"identity"};

struct validation_policy {
    sip::role role = role::user_agent;
    // Methods this element processes; others known to RFCs get 405, unknown ones 501.
    std::span<const std::string_view> allowed_methods = default_allowed_methods;
    // Option tags this element supports (Require / Proxy-Require).
    std::span<const std::string_view> supported_extensions = default_supported_extensions;
    // Body types processed (type/subtype, case-insensitive); anything else gets 415.
    std::span<const std::string_view> accepted_content_types = default_accepted_content_types;
    std::span<const std::string_view> accepted_encodings = default_accepted_encodings;
    // Whether this element challenges requests (then unknown credential schemes get 401/407).
    bool authenticates = true;
};

enum class action : std::uint8_t { accept, respond, drop };

struct verdict {
    sip::action action = action::accept;
    int status = 0;                 // when action == respond
    std::string_view reason;        // standard reason phrase for status
    bool malformed = false;         // the message itself is broken (400 or dropped for syntax)
    parse_error where;              // for malformed: what and where
    std::string detail;             // the header concerned ("CSeq", "Call-ID"), or what was refused
    std::string unsupported;        // for 420: the option tags to list in Unsupported
    [[nodiscard]] bool accepted() const noexcept { return action == action::accept; }
};

verdict validate(const message& m, const validation_policy& policy = {});

}  // namespace sipvoice::sip
