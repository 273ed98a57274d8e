// sipvoice/sip/headers.hpp: header names and typed header values (RFC 3261 §7.3, §20 and extensions).
//
// Header names are case-insensitive and several have compact forms (RFC 3261 §7.3.3 and the
// extensions' RFCs): i Call-ID, m Contact, f From, t To, v Via, l Content-Length, c Content-Type,
// k Supported, s Subject, e Content-Encoding, o Event, r Refer-To, b Referred-By, u Allow-Events,
// x Session-Expires, y Identity. lookup_header() maps any spelling to a header_id.
//
// Each typed value is a small view into the message text, produced by a parse_* function that checks
// the value's grammar. Values of list headers (Via, Contact, Route, Allow, ...) are parsed one element
// at a time; message.hpp iterates the elements across repeated header lines.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "sipvoice/sip/error.hpp"
#include "sipvoice/sip/name_addr.hpp"
#include "sipvoice/sip/params.hpp"
#include "sipvoice/sip/uri.hpp"

namespace sipvoice::sip {

enum class header_id : std::uint8_t {
    other = 0,
    accept, accept_encoding, accept_language, alert_info, allow, allow_events, authentication_info,
    authorization, call_id, call_info, contact, content_disposition, content_encoding, content_language,
    content_length, content_type, cseq, date, error_info, event, expires, from, identity, in_reply_to,
    max_forwards, mime_version, min_expires, min_se, organization, p_asserted_identity,
    p_preferred_identity, path, priority, privacy, proxy_authenticate, proxy_authorization,
    proxy_require, rack, reason, record_route, refer_to, referred_by, replaces, reply_to, require,
    retry_after, route, rseq, server, service_route, session_expires, subject, subscription_state,
    supported, timestamp, to, unsupported, user_agent, via, warning, www_authenticate,
    count_  // number of ids; keep last
};
inline constexpr std::size_t header_id_count = static_cast<std::size_t>(header_id::count_);

// Any spelling (full or compact, any case) to its id; header_id::other when unknown.
header_id lookup_header(std::string_view name) noexcept;
// The canonical full name ("Call-ID", "WWW-Authenticate"); empty for header_id::other.
std::string_view canonical_name(header_id id) noexcept;
// Whether the header's grammar is a comma-separated list whose lines may be combined (RFC 3261 §7.3.1).
bool is_list_header(header_id id) noexcept;
// Whether RFC 3261 allows at most one value of the header in a message (§20, "multi01" of RFC 4475).
bool is_single_header(header_id id) noexcept;
// Whether the header's grammar allows an empty value (Supported, Allow, Accept, Subject...).
bool may_be_empty(header_id id) noexcept;

namespace detail {
// is_list_header() and may_be_empty() as bit masks over header_id, for message.hpp's per-element
// iteration (inline: a call per element cost more than splitting a short token). headers.cpp checks
// them against its table of names.
template <class... Ids>
constexpr std::uint64_t header_bits(Ids... ids) noexcept {
    return ((std::uint64_t{1} << static_cast<unsigned>(ids)) | ...);
}
static_assert(header_id_count <= 64, "header_bits holds one bit per header_id");
inline constexpr std::uint64_t list_header_bits = header_bits(
    header_id::accept, header_id::accept_encoding, header_id::accept_language, header_id::alert_info, header_id::allow,
    header_id::allow_events, header_id::call_info, header_id::contact, header_id::content_encoding,
    header_id::content_language, header_id::error_info, header_id::in_reply_to, header_id::p_asserted_identity,
    header_id::p_preferred_identity, header_id::path, header_id::proxy_require, header_id::reason,
    header_id::record_route, header_id::require, header_id::route, header_id::service_route, header_id::supported,
    header_id::unsupported, header_id::via, header_id::warning);
inline constexpr std::uint64_t may_be_empty_bits = header_bits(
    header_id::accept, header_id::accept_encoding, header_id::accept_language, header_id::allow,
    header_id::organization, header_id::subject, header_id::supported);
constexpr bool has_header_bit(std::uint64_t bits, header_id id) noexcept {
    return ((bits >> static_cast<unsigned>(id)) & 1U) != 0;
}
}  // namespace detail

// Splits the next element off a comma-separated header value, honouring quoted strings and <...>.
// `element` is set to the element trimmed of LWS (a view into `rest`); `rest` advances past the element
// and its comma. Returns true when a comma followed, i.e. another (possibly empty) element is due.
bool next_list_element(std::string_view& rest, std::string_view& element) noexcept;
// The same split for lists of tokens (Allow, Supported, Require...), with a fast path for the usual
// "A, B, C" shape; anything else falls back to next_list_element. `is_token` tells whether the element
// is known to be a well-formed token (true on the fast path).
bool next_token_element(std::string_view& rest, std::string_view& element, bool& is_token) noexcept;
inline bool next_token_element(std::string_view& rest, std::string_view& element) noexcept {
    bool is_token = false;
    return next_token_element(rest, element, is_token);
}

// ---- typed values ------------------------------------------------------------------------------

// Via (RFC 3261 §20.42, RFC 3581 rport, RFC 5118 IPv6).
struct via {
    using initialized_by_default = void;  // every member below has its initializer (result.hpp)
    std::string_view protocol_name;     // "SIP"
    std::string_view protocol_version;  // "2.0"
    std::string_view transport;         // "UDP", "TCP", "TLS", "SCTP", "WS", anything token
    std::string_view host;              // sent-by host; IPv6 reference keeps its brackets
    host_type host_kind = host_type::none;
    std::uint16_t port = 0;
    bool has_port = false;
    std::string_view branch;
    std::string_view received;          // as written (an IPv6 address may carry brackets)
    std::string_view maddr;
    bool has_rport = false;
    std::uint16_t rport = 0;            // 0 when ";rport" has no value (a request asking for it)
    int ttl = -1;                       // -1 when absent
    param_list params{{}, param_syntax::header};

    // RFC 3261 §17.2.3: a branch beginning with the magic cookie identifies the transaction alone.
    [[nodiscard]] bool rfc3261_branch() const noexcept { return branch.size() > 7 && branch.substr(0, 7) == "z9hG4bK"; }
};
error parse_value(std::string_view text, via& out) noexcept;

struct cseq {
    std::uint32_t number = 0;  // RFC 3261 §8.1.1.5: less than 2**31
    std::string_view method;
};
error parse_value(std::string_view text, cseq& out) noexcept;

// Contact (RFC 3261 §20.10): a name-addr, or "*" (only in REGISTER).
struct contact {
    using initialized_by_default = void;  // every member below has its initializer (result.hpp)
    bool star = false;
    name_addr address;
    [[nodiscard]] bool has_expires() const noexcept { return expires_present; }
    std::uint32_t expires = 0;  // valid when has_expires()
    bool expires_present = false;
    int q = -1;                 // q-value x1000 (0..1000), -1 when absent
};
error parse_value(std::string_view text, contact& out) noexcept;
error parse_value(std::string_view text, name_addr& out) noexcept;

// A media type as in Content-Type and Accept (RFC 3261 §20.1, §20.15).
struct media_type {
    using initialized_by_default = void;  // every member below has its initializer (result.hpp)
    std::string_view type;     // "application"
    std::string_view subtype;  // "sdp"
    param_list params{{}, param_syntax::header};
    // Case-insensitive match; "*" matches anything (for Accept ranges).
    [[nodiscard]] bool matches(std::string_view t, std::string_view s) const noexcept;
};
error parse_value(std::string_view text, media_type& out) noexcept;

// WWW-Authenticate, Proxy-Authenticate, Authorization, Proxy-Authorization (RFC 3261 §20.7, §20.27,
// §20.28, §20.44; RFC 7616, RFC 7235 §2.1). The parameters are a comma-separated list of
// name=value pairs, values tokens or quoted strings (kept quoted: see unquote()).
struct auth_params {
    std::string_view raw;
    [[nodiscard]] std::optional<param> find(std::string_view name) const noexcept;
    // The value with surrounding quotes removed (quoted-pairs are not decoded; unquote() does that).
    [[nodiscard]] std::string_view get(std::string_view name, std::string_view fallback = {}) const noexcept;
    template <class F>
    void for_each(F&& f) const;  // f(const param&)

    // Where parse_value() found each parameter in `raw` (offsets into it), recorded in its one
    // validation pass, so that find() and get() compare names instead of reading the list again (a
    // get() cost as much as the parse of the whole value). Left empty (indexed == false) for a value
    // that has more parameters than fit or is too long for the offsets; find() then reads `raw`, as it
    // does for an auth_params made by hand. The index remembers the text it was made for: once `raw`
    // is set to another text, find() reads that text instead.
    struct index_entry {
        std::uint16_t name_at = 0;
        std::uint16_t name_length = 0;
        std::uint16_t value_at = 0;
        std::uint16_t value_length = 0;
    };
    static constexpr std::size_t index_capacity = 16;
    std::array<index_entry, index_capacity> index{};
    std::uint8_t index_size = 0;
    const char* indexed_text = nullptr;  // raw.data() when the index was made
    std::size_t indexed_length = 0;      // raw.size() then
    [[nodiscard]] bool indexed() const noexcept {
        return indexed_text != nullptr && indexed_text == raw.data() && indexed_length == raw.size();
    }
};
struct auth_value {
    using initialized_by_default = void;  // every member below has its initializer (result.hpp)
    std::string_view scheme;   // "Digest"
    auth_params params;
    std::string_view token68;  // for schemes whose credentials are a single token
};
error parse_value(std::string_view text, auth_value& out) noexcept;

// Reason (RFC 3326): protocol ;cause= ;text=
struct reason {
    std::string_view protocol;  // "SIP", "Q.850"
    int cause = -1;
    std::string_view text;      // quoted as written
    param_list params{{}, param_syntax::header};
};
error parse_value(std::string_view text, reason& out) noexcept;

// Session-Expires (RFC 4028 §4): delta-seconds ;refresher=uac|uas
struct session_expires {
    std::uint32_t delta = 0;
    std::string_view refresher;
    param_list params{{}, param_syntax::header};
};
error parse_value(std::string_view text, session_expires& out) noexcept;

// Event (RFC 6665 §8.2.1): event-type ;id= ...
struct event {
    std::string_view package;  // "refer", "presence", "message-summary"
    std::string_view id;
    param_list params{{}, param_syntax::header};
};
error parse_value(std::string_view text, event& out) noexcept;

// Subscription-State (RFC 6665 §8.2.3): substate-value ;expires= ;reason= ;retry-after= ...
struct subscription_state {
    std::string_view state;  // "active", "pending", "terminated", or an extension value
    [[nodiscard]] bool terminated() const noexcept;
    [[nodiscard]] bool has_expires() const noexcept { return expires_present; }
    std::uint32_t expires = 0;  // seconds, valid when has_expires()
    bool expires_present = false;
    std::string_view reason;    // "deactivated", "noresource", "timeout"... (empty when absent)
    param_list params{{}, param_syntax::header};
};
error parse_value(std::string_view text, subscription_state& out) noexcept;

// A bare token, for the elements of Allow, Supported, Require, Proxy-Require, Unsupported,
// Allow-Events, Content-Encoding, Accept-Encoding...
struct token {
    std::string_view text;
};
error parse_value(std::string_view text, token& out) noexcept;

// delta-seconds style scalars: Expires, Min-Expires, Min-SE, Max-Forwards, Content-Length, Retry-After.
// `max` is the header's limit (RFC 3261: 2**32-1 for delta-seconds, 255 for Max-Forwards).
error parse_number(std::string_view text, std::uint32_t max, std::uint32_t& out) noexcept;

// Date (RFC 3261 §20.17): rfc1123-date, always in GMT. Seconds since the epoch.
error parse_date(std::string_view text, std::int64_t& out) noexcept;

// Call-ID (RFC 3261 §25.1): word [ "@" word ].
error parse_call_id(std::string_view text) noexcept;

// Header parameters that RFC 3261 defines as numbers (Contact expires, Via ttl/rport) are validated
// when the value is parsed; these limits are public for builders.
inline constexpr std::uint32_t max_delta_seconds = 4294967295U;
inline constexpr std::uint32_t max_cseq = 2147483647U;
inline constexpr std::uint32_t max_max_forwards = 255U;

// ---- implementation of the template above -------------------------------------------------------
namespace detail {
bool next_auth_param(std::string_view& rest, param& out) noexcept;

// For message.hpp's iteration over list headers: parses the element at the start of `text` (the rest
// of a header value, not yet split at its commas, starting at the element's first non-LWS byte) in the
// same pass that finds where it ends. True when the element parses and ends at a top-level ',' or at
// the end of the text, with `end` its length: then `out` and `end` are what next_list_element() and
// parse_value() would have produced. False otherwise (`out` is then unspecified): split and parse.
// `out` must be freshly value-initialised.
bool parse_first_element(std::string_view text, via& out, std::size_t& end) noexcept;
bool parse_first_element(std::string_view text, name_addr& out, std::size_t& end) noexcept;
bool parse_first_element(std::string_view text, contact& out, std::size_t& end) noexcept;

// parse_value() for a value-initialised `out`: the same result, without first resetting `out` (a few
// hundred bytes for these).
error parse_fresh(std::string_view text, via& out) noexcept;
error parse_fresh(std::string_view text, name_addr& out) noexcept;
error parse_fresh(std::string_view text, contact& out) noexcept;
error parse_fresh(std::string_view text, auth_value& out) noexcept;
}
template <class F>
void auth_params::for_each(F&& f) const {
    std::string_view rest = raw;
    param p;
    while (detail::next_auth_param(rest, p)) f(p);
}

}  // namespace sipvoice::sip
