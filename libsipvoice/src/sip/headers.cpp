// Header names and typed header values (RFC 3261 §7.3, §20, §25.1; RFC 3326, 3515, 3581, 4028, 6665).
#include "sipvoice/sip/headers.hpp"

#include <array>
#include <cstring>

#include "charset.hpp"
#include "host.hpp"
#include "params_scan.hpp"
#include "parse_into.hpp"

namespace sipvoice::sip {
namespace {
using namespace detail;


enum : std::uint8_t { f_list = 1, f_single = 2, f_may_be_empty = 4 };

struct header_info {
    header_id id;
    std::string_view name;
    char compact;
    std::uint8_t flags;
};

constexpr header_info header_table[] = {
    {header_id::other, "", 0, 0},
    {header_id::accept, "Accept", 0, f_list | f_may_be_empty},
    {header_id::accept_encoding, "Accept-Encoding", 0, f_list | f_may_be_empty},
    {header_id::accept_language, "Accept-Language", 0, f_list | f_may_be_empty},
    {header_id::alert_info, "Alert-Info", 0, f_list},
    {header_id::allow, "Allow", 0, f_list | f_may_be_empty},
    {header_id::allow_events, "Allow-Events", 'u', f_list},
    {header_id::authentication_info, "Authentication-Info", 0, f_single},
    {header_id::authorization, "Authorization", 0, 0},
    {header_id::call_id, "Call-ID", 'i', f_single},
    {header_id::call_info, "Call-Info", 0, f_list},
    {header_id::contact, "Contact", 'm', f_list},
    {header_id::content_disposition, "Content-Disposition", 0, f_single},
    {header_id::content_encoding, "Content-Encoding", 'e', f_list},
    {header_id::content_language, "Content-Language", 0, f_list},
    {header_id::content_length, "Content-Length", 'l', f_single},
    {header_id::content_type, "Content-Type", 'c', f_single},
    {header_id::cseq, "CSeq", 0, f_single},
    {header_id::date, "Date", 0, f_single},
    {header_id::error_info, "Error-Info", 0, f_list},
    {header_id::event, "Event", 'o', f_single},
    {header_id::expires, "Expires", 0, f_single},
    {header_id::from, "From", 'f', f_single},
    {header_id::identity, "Identity", 'y', f_single},
    {header_id::in_reply_to, "In-Reply-To", 0, f_list},
    {header_id::max_forwards, "Max-Forwards", 0, f_single},
    {header_id::mime_version, "MIME-Version", 0, f_single},
    {header_id::min_expires, "Min-Expires", 0, f_single},
    {header_id::min_se, "Min-SE", 0, f_single},
    {header_id::organization, "Organization", 0, f_single | f_may_be_empty},
    {header_id::p_asserted_identity, "P-Asserted-Identity", 0, f_list},
    {header_id::p_preferred_identity, "P-Preferred-Identity", 0, f_list},
    {header_id::path, "Path", 0, f_list},
    {header_id::priority, "Priority", 0, f_single},
    {header_id::privacy, "Privacy", 0, 0},
    {header_id::proxy_authenticate, "Proxy-Authenticate", 0, 0},
    {header_id::proxy_authorization, "Proxy-Authorization", 0, 0},
    {header_id::proxy_require, "Proxy-Require", 0, f_list},
    {header_id::rack, "RAck", 0, f_single},
    {header_id::reason, "Reason", 0, f_list},
    {header_id::record_route, "Record-Route", 0, f_list},
    {header_id::refer_to, "Refer-To", 'r', f_single},
    {header_id::referred_by, "Referred-By", 'b', f_single},
    {header_id::replaces, "Replaces", 0, f_single},
    {header_id::reply_to, "Reply-To", 0, f_single},
    {header_id::require, "Require", 0, f_list},
    {header_id::retry_after, "Retry-After", 0, f_single},
    {header_id::route, "Route", 0, f_list},
    {header_id::rseq, "RSeq", 0, f_single},
    {header_id::server, "Server", 0, f_single},
    {header_id::service_route, "Service-Route", 0, f_list},
    {header_id::session_expires, "Session-Expires", 'x', f_single},
    {header_id::subject, "Subject", 's', f_single | f_may_be_empty},
    {header_id::subscription_state, "Subscription-State", 0, f_single},
    {header_id::supported, "Supported", 'k', f_list | f_may_be_empty},
    {header_id::timestamp, "Timestamp", 0, f_single},
    {header_id::to, "To", 't', f_single},
    {header_id::unsupported, "Unsupported", 0, f_list},
    {header_id::user_agent, "User-Agent", 0, f_single},
    {header_id::via, "Via", 'v', f_list},
    {header_id::warning, "Warning", 0, f_list},
    {header_id::www_authenticate, "WWW-Authenticate", 0, 0},
};
static_assert(std::size(header_table) == header_id_count, "one table row per header_id");

consteval bool table_in_id_order() {
    for (std::size_t i = 0; i < std::size(header_table); ++i)
        if (static_cast<std::size_t>(header_table[i].id) != i) return false;
    return true;
}
static_assert(table_in_id_order(), "header_table rows must follow header_id order");

// Buckets of ids by name length, so a lookup compares against a handful of names at most. Each entry
// keeps its name lowercased and an OR-mask (0x20 for letters, 0 for '-'): (input | mask) == lower then
// compares letters case-insensitively and '-' exactly, 4 or 8 bytes at a time.
constexpr std::size_t max_name_length = 24;
struct name_key {
    header_id id = header_id::other;
    std::size_t length = 0;
    std::array<char, max_name_length> lower{};
    std::array<char, max_name_length> mask{};
};
struct length_buckets {
    std::array<std::array<name_key, 8>, max_name_length + 1> keys{};
    std::array<std::uint8_t, max_name_length + 1> count{};
};
consteval length_buckets make_buckets() {
    length_buckets b{};
    for (const auto& h : header_table) {
        if (h.name.empty() || h.name.size() > max_name_length) continue;
        name_key k;
        k.id = h.id;
        k.length = h.name.size();
        for (std::size_t i = 0; i < h.name.size(); ++i) {
            const char c = h.name[i];
            const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
            k.lower[i] = letter ? static_cast<char>(c | 0x20) : c;
            k.mask[i] = letter ? 0x20 : 0;
        }
        b.keys[h.name.size()][b.count[h.name.size()]++] = k;
    }
    return b;
}
constexpr length_buckets buckets = make_buckets();

template <class W>
inline bool chunk_equal(const char* name, const name_key& k, std::size_t at) noexcept {
    W x;
    W m;
    W l;
    std::memcpy(&x, name + at, sizeof(W));
    std::memcpy(&m, k.mask.data() + at, sizeof(W));
    std::memcpy(&l, k.lower.data() + at, sizeof(W));
    return static_cast<W>(x | m) == l;
}

inline bool key_equal(std::string_view name, const name_key& k) noexcept {
    const std::size_t n = name.size();
    const char* p = name.data();
    if (n >= 8) {
        for (std::size_t i = 0; i + 8 <= n; i += 8)
            if (!chunk_equal<std::uint64_t>(p, k, i)) return false;
        return chunk_equal<std::uint64_t>(p, k, n - 8);
    }
    if (n >= 4) return chunk_equal<std::uint32_t>(p, k, 0) && chunk_equal<std::uint32_t>(p, k, n - 4);
    for (std::size_t i = 0; i < n; ++i)
        if (static_cast<char>(p[i] | k.mask[i]) != k.lower[i]) return false;
    return true;
}

constexpr std::array<header_id, 26> make_compact() {
    std::array<header_id, 26> c{};
    for (const auto& h : header_table)
        if (h.compact != 0) c[static_cast<std::size_t>(h.compact - 'a')] = h.id;
    return c;
}
constexpr std::array<header_id, 26> compact_ids = make_compact();

}  // namespace

header_id lookup_header(std::string_view name) noexcept {
    if (name.size() == 1) {
        const char c = to_lower(name[0]);
        return (c >= 'a' && c <= 'z') ? compact_ids[static_cast<std::size_t>(c - 'a')] : header_id::other;
    }
    // An empty name (": value") must not read name[0]: string_view{} has no storage at all.
    if (name.empty() || name.size() > max_name_length) return header_id::other;
    const auto& keys = buckets.keys[name.size()];
    const char first = static_cast<char>(name[0] | 0x20);
    for (std::size_t i = 0; i < buckets.count[name.size()]; ++i)
        if (keys[i].lower[0] == first && key_equal(name, keys[i])) return keys[i].id;
    return header_id::other;
}

std::string_view canonical_name(header_id id) noexcept { return header_table[static_cast<std::size_t>(id)].name; }
bool is_list_header(header_id id) noexcept { return (header_table[static_cast<std::size_t>(id)].flags & f_list) != 0; }
bool is_single_header(header_id id) noexcept { return (header_table[static_cast<std::size_t>(id)].flags & f_single) != 0; }
bool may_be_empty(header_id id) noexcept { return (header_table[static_cast<std::size_t>(id)].flags & f_may_be_empty) != 0; }

bool next_list_element(std::string_view& rest, std::string_view& element) noexcept {
    const std::string_view s = rest;
    std::size_t i = 0;
    bool in_angle = false;
    for (;;) {
        // Commas inside quoted strings and <...> do not separate elements.
        i += find_first_of4(s.data() + i, s.size() - i, ',', '"', '<', '>');
        if (i >= s.size()) break;
        const char c = s[i];
        if (c == '"') {
            const std::size_t q = quoted_length(s, i);
            if (q == 0) {  // unterminated: the element runs to the end and fails its own parse
                i = s.size();
                break;
            }
            i += q;
            continue;
        }
        if (c == ',' && !in_angle) break;
        in_angle = c == '<' ? true : c == '>' ? false : in_angle;
        ++i;
    }
    element = trim(s.substr(0, i));
    if (element.empty()) element = s.substr(i, 0);  // keep the pointer inside the value for offsets
    if (i < s.size()) {
        rest = s.substr(i + 1);
        return true;
    }
    rest = s.substr(s.size());
    return false;
}

bool next_token_element(std::string_view& rest, std::string_view& element, bool& is_token) noexcept {
    const char* const s = rest.data();
    const std::size_t n = rest.size();
    std::size_t i = 0;
    while (i < n && is_ws(s[i])) ++i;
    const std::size_t b = i;
    i += token_run(s + i, n - i);
    const std::size_t e = i;
    while (i < n && is_ws(s[i])) ++i;
    is_token = e > b;
    if (e > b && i == n) {
        element = {s + b, e - b};
        rest = {s + n, 0};
        return false;
    }
    if (e > b && s[i] == ',') {
        element = {s + b, e - b};
        rest = {s + i + 1, n - i - 1};
        return true;
    }
    is_token = false;
    return next_list_element(rest, element);
}

// ---- Via ------------------------------------------------------------------------------------------

error parse_value(std::string_view s, via& out) noexcept {
    out = via{};
    std::size_t i = skip_ws(s, 0);
    auto token_at = [&](std::string_view& dst) {
        const std::size_t b = i;
        i += token_run(s.data() + i, s.size() - i);
        dst = s.substr(b, i - b);
        return i > b;
    };
    auto slash = [&] {
        i = skip_ws(s, i);
        if (i >= s.size() || s[i] != '/') return false;
        i = skip_ws(s, i + 1);
        return true;
    };
    if (s.size() - i > 8 && std::memcmp(s.data() + i, "SIP/2.0/", 8) == 0) {  // the usual spelling
        out.protocol_name = s.substr(i, 3);
        out.protocol_version = s.substr(i + 4, 3);
        i += 8;
        if (!token_at(out.transport)) return fail(errc::bad_header_value, i);
    } else if (!token_at(out.protocol_name) || !slash() || !token_at(out.protocol_version) || !slash() ||
               !token_at(out.transport)) {
        return fail(errc::bad_header_value, i);
    }
    if (i >= s.size() || !is_ws(s[i])) return fail(errc::bad_header_value, i);
    i = skip_ws(s, i);
    const std::size_t host_begin = i;
    if (i < s.size() && s[i] == '[') {
        const std::size_t close = find_char(s, ']', i);
        if (close == std::string_view::npos) return fail(errc::bad_host, i);
        i = close + 1;
    } else {
        while (i < s.size() && is(s[i], c_hostchar)) ++i;
    }
    out.host = s.substr(host_begin, i - host_begin);
    out.host_kind = host_kind(out.host);
    if (out.host_kind == host_type::none) return fail(errc::bad_host, host_begin);
    std::size_t j = skip_ws(s, i);
    if (j < s.size() && s[j] == ':') {
        j = skip_ws(s, j + 1);
        const std::size_t p = j;
        if (!port_at(s, j, out.port)) return fail(errc::bad_port, p);
        out.has_port = true;
        i = j;
    }
    const std::size_t pstart = skip_ws(s, i);
    const std::string_view params = s.substr(pstart);
    if (!params.empty() && params[0] != ';') return fail(errc::bad_header_value, pstart);
    std::string_view rest = params;
    param p;
    error err;
    while (next_param(rest, param_syntax::header, p, err)) {
        const auto at = static_cast<std::size_t>(p.name.data() - s.data());
        if (iequals(p.name, "branch")) {
            if (!p.has_value) return fail(errc::bad_param, at);
            out.branch = p.value;
        } else if (iequals(p.name, "received")) {
            // RFC 3261 §20.42 received = IPv4address / IPv6address; RFC 5118 §4.5 tolerates brackets.
            std::string_view addr = p.value;
            if (addr.size() > 2 && addr.front() == '[' && addr.back() == ']') addr = addr.substr(1, addr.size() - 2);
            if (!ipv4_address(addr) && !is_ipv6_address(addr)) return fail(errc::bad_param, at);
            out.received = p.value;
        } else if (iequals(p.name, "maddr")) {
            if (!p.has_value || host_kind(p.value) == host_type::none) return fail(errc::bad_param, at);
            out.maddr = p.value;
        } else if (iequals(p.name, "rport")) {
            out.has_rport = true;
            if (p.has_value) {
                std::uint64_t v = 0;
                bool overflow = false;
                if (!parse_uint(p.value, 65535, v, overflow) || overflow) return fail(errc::bad_param, at);
                out.rport = static_cast<std::uint16_t>(v);
            }
        } else if (iequals(p.name, "ttl")) {
            std::uint64_t v = 0;
            bool overflow = false;
            if (!p.has_value || !parse_uint(p.value, 255, v, overflow) || overflow) return fail(errc::bad_param, at);
            out.ttl = static_cast<int>(v);
        }
    }
    if (err.failed()) return fail(err.code, static_cast<std::size_t>(rest.data() - s.data()) + err.offset);
    out.params = param_list(params, param_syntax::header);
    return {};
}

// ---- CSeq, numbers, Call-ID, Date ------------------------------------------------------------------

error parse_value(std::string_view s, cseq& out) noexcept {
    out = cseq{};
    std::size_t i = skip_ws(s, 0);
    const std::size_t b = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    std::uint64_t n = 0;
    bool overflow = false;
    if (!parse_uint(s.substr(b, i - b), max_cseq, n, overflow)) return fail(errc::bad_number, b);
    if (overflow) return fail(errc::number_too_large, b);  // RFC 3261 §8.1.1.5: less than 2**31
    if (i >= s.size() || !is_ws(s[i])) return fail(errc::bad_header_value, i);
    i = skip_ws(s, i);
    const std::string_view m = trim(s.substr(i));
    if (!is_token(m)) return fail(errc::bad_method, i);
    out.number = static_cast<std::uint32_t>(n);
    out.method = m;
    return {};
}

error parse_number(std::string_view text, std::uint32_t max, std::uint32_t& out) noexcept {
    const std::size_t b = skip_ws(text, 0);
    const std::string_view s = trim(text);
    std::uint64_t v = 0;
    bool overflow = false;
    if (!parse_uint(s, max, v, overflow)) return fail(errc::bad_number, b);
    if (overflow) return fail(errc::number_too_large, b);
    out = static_cast<std::uint32_t>(v);
    return {};
}

error parse_call_id(std::string_view text) noexcept {
    const std::string_view s = trim(text);
    const std::size_t b = skip_ws(text, 0);
    if (s.empty()) return fail(errc::bad_header_value, b);
    const std::size_t at = find_char(s, '@');
    const std::string_view w1 = s.substr(0, at);
    if (w1.empty() || !all_of(w1, c_word)) return fail(errc::bad_header_value, b);
    if (at != std::string_view::npos) {
        const std::string_view w2 = s.substr(at + 1);
        if (w2.empty() || !all_of(w2, c_word)) return fail(errc::bad_header_value, b + at + 1);
    }
    return {};
}

error parse_date(std::string_view text, std::int64_t& out) noexcept {
    // rfc1123-date = wkday "," SP date1 SP time SP "GMT"; date1 = 2DIGIT SP month SP 4DIGIT
    const std::size_t b = skip_ws(text, 0);
    const std::string_view s = trim(text);
    static constexpr std::string_view days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (s.size() != 29) return fail(errc::bad_date, b);
    bool day_ok = false;
    for (auto d : days) day_ok |= s.substr(0, 3) == d;
    if (!day_ok || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
        s[22] != ':' || s[25] != ' ' || s.substr(26) != "GMT")
        return fail(errc::bad_date, b);
    auto num = [&](std::size_t at, std::size_t len, std::uint64_t& v) {
        bool overflow = false;
        return parse_uint(s.substr(at, len), 9999, v, overflow);
    };
    std::uint64_t day = 0, year = 0, hh = 0, mm = 0, ss = 0;
    int month = -1;
    for (int m = 0; m < 12; ++m)
        if (s.substr(8, 3) == months[m]) month = m;
    if (month < 0 || !num(5, 2, day) || !num(12, 4, year) || !num(17, 2, hh) || !num(20, 2, mm) || !num(23, 2, ss) ||
        day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
        return fail(errc::bad_date, b);
    // Days from civil (proleptic Gregorian), after H. Hinnant's well-known algorithm.
    const std::int64_t y = static_cast<std::int64_t>(year) - (month < 2 ? 1 : 0);
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const std::int64_t yoe = y - era * 400;
    const std::int64_t mp = (month + 10) % 12;
    const std::int64_t doy = (153 * mp + 2) / 5 + static_cast<std::int64_t>(day) - 1;
    const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    const std::int64_t days_since_epoch = era * 146097 + doe - 719468;
    out = days_since_epoch * 86400 + static_cast<std::int64_t>(hh * 3600 + mm * 60 + ss);
    return {};
}

// ---- name-addr based ------------------------------------------------------------------------------

error parse_value(std::string_view text, name_addr& out) noexcept {
    out = name_addr{};
    return parse_name_addr_into(text, out, nullptr, nullptr);
}

namespace {
// Contact's expires and q parameters, checked in the name-addr's own parameter pass.
error contact_param(const param& p, void* context) noexcept {
    auto& out = *static_cast<contact*>(context);
    if (iequals(p.name, "expires")) {
        std::uint64_t v = 0;
        bool overflow = false;
        if (!p.has_value || !parse_uint(p.value, max_delta_seconds, v, overflow)) return {errc::bad_param, 0};
        if (overflow) return {errc::number_too_large, 0};
        out.expires = static_cast<std::uint32_t>(v);
        out.expires_present = true;
    } else if (iequals(p.name, "q")) {
        // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
        const std::string_view q = p.value;
        // "0." and "1." are valid: "." is followed by 0*3DIGIT (RFC 3261 §25.1 qvalue).
        if (q.empty() || (q[0] != '0' && q[0] != '1') || q.size() > 5 || (q.size() > 1 && q[1] != '.'))
            return {errc::bad_param, 0};
        int v = (q[0] - '0') * 1000;
        int scale = 100;
        for (std::size_t k = 2; k < q.size(); ++k, scale /= 10) {
            if (!is_digit(q[k])) return {errc::bad_param, 0};
            v += (q[k] - '0') * scale;
        }
        if (v > 1000) return {errc::bad_param, 0};
        out.q = v;
    }
    return {};
}
}  // namespace

error parse_value(std::string_view text, contact& out) noexcept {
    out = contact{};
    if (trim(text) == "*") {
        out.star = true;
        return {};
    }
    return parse_name_addr_into(text, out.address, contact_param, &out);
}

// ---- media types ----------------------------------------------------------------------------------

bool media_type::matches(std::string_view t, std::string_view s) const noexcept {
    return (type == "*" || iequals(type, t)) && (subtype == "*" || iequals(subtype, s));
}

error parse_value(std::string_view s, media_type& out) noexcept {
    out = media_type{};
    std::size_t i = skip_ws(s, 0);
    std::size_t b = i;
    while (i < s.size() && is_token_char(s[i])) ++i;
    out.type = s.substr(b, i - b);
    i = skip_ws(s, i);
    if (out.type.empty() || i >= s.size() || s[i] != '/') return fail(errc::bad_header_value, i);
    i = skip_ws(s, i + 1);
    b = i;
    while (i < s.size() && is_token_char(s[i])) ++i;
    out.subtype = s.substr(b, i - b);
    if (out.subtype.empty()) return fail(errc::bad_header_value, i);
    const std::size_t p = skip_ws(s, i);
    const std::string_view params = s.substr(p);
    if (!params.empty() && params[0] != ';') return fail(errc::bad_header_value, p);
    const error pe = validate_params(params, param_syntax::header);
    if (pe.failed()) return fail(pe.code, p + pe.offset);
    out.params = param_list(params, param_syntax::header);
    return {};
}

// ---- authentication -------------------------------------------------------------------------------

namespace detail {
namespace {
constexpr bool is_auth_value_char(char c) noexcept { return is_token_char(c) || c == '/' || c == ':' || c == '@' || c == '[' || c == ']' || c == '='; }

// auth-param = token BWS "=" BWS ( token / quoted-string ), separated by commas (RFC 7235 §2.1).
bool next_auth_param_checked(std::string_view& rest, param& out, error& err) noexcept {
    const std::string_view s = rest;
    std::size_t i = 0;
    while (i < s.size() && (is_ws(s[i]) || s[i] == ',')) ++i;
    if (i >= s.size()) {
        rest = s.substr(s.size());
        return false;
    }
    const std::size_t nb = i;
    while (i < s.size() && is_token_char(s[i])) ++i;
    if (i == nb) {
        err = fail(errc::bad_param, i);
        return false;
    }
    out.name = s.substr(nb, i - nb);
    i = skip_ws(s, i);
    if (i >= s.size() || s[i] != '=') {
        err = fail(errc::bad_param, i);
        return false;
    }
    i = skip_ws(s, i + 1);
    const std::size_t vb = i;
    if (i < s.size() && s[i] == '"') {
        const std::size_t q = quoted_length(s, i);
        if (q == 0) {
            err = fail(errc::unterminated_quote, i);
            return false;
        }
        i += q;
    } else {
        while (i < s.size() && is_auth_value_char(s[i])) ++i;
    }
    if (i == vb) {
        err = fail(errc::bad_param, i);
        return false;
    }
    out.value = s.substr(vb, i - vb);
    out.has_value = true;
    i = skip_ws(s, i);
    if (i < s.size() && s[i] != ',') {
        err = fail(errc::bad_param, i);
        return false;
    }
    rest = s.substr(i);
    return true;
}
}  // namespace

bool next_auth_param(std::string_view& rest, param& out) noexcept {
    error err;
    return next_auth_param_checked(rest, out, err);
}
}  // namespace detail

std::optional<param> auth_params::find(std::string_view name) const noexcept {
    std::string_view rest = raw;
    param p;
    while (detail::next_auth_param(rest, p))
        if (iequals(p.name, name)) return p;
    return std::nullopt;
}

std::string_view auth_params::get(std::string_view name, std::string_view fallback) const noexcept {
    auto p = find(name);
    if (!p) return fallback;
    std::string_view v = p->value;
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
}

error parse_value(std::string_view s, auth_value& out) noexcept {
    out = auth_value{};
    std::size_t i = skip_ws(s, 0);
    const std::size_t b = i;
    while (i < s.size() && is_token_char(s[i])) ++i;
    out.scheme = s.substr(b, i - b);
    if (out.scheme.empty()) return fail(errc::bad_header_value, b);
    if (i < s.size() && !is_ws(s[i])) return fail(errc::bad_header_value, i);
    i = skip_ws(s, i);
    const std::string_view rest_all = trim(s.substr(i));
    if (rest_all.empty()) return {};
    // token68 (RFC 7235 §2.1): 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    {
        std::size_t k = 0;
        while (k < rest_all.size() && (is(rest_all[k], c_alnum) || rest_all[k] == '-' || rest_all[k] == '.' ||
                                       rest_all[k] == '_' || rest_all[k] == '~' || rest_all[k] == '+' || rest_all[k] == '/'))
            ++k;
        const std::size_t body = k;
        while (k < rest_all.size() && rest_all[k] == '=') ++k;
        if (k == rest_all.size() && body > 0 && (k > body || rest_all.find('=') == std::string_view::npos)) {
            out.token68 = rest_all;
            return {};
        }
    }
    std::string_view rest = rest_all;
    param p;
    error err;
    while (detail::next_auth_param_checked(rest, p, err)) {
    }
    if (err.failed()) return fail(err.code, static_cast<std::size_t>(rest.data() - s.data()) + err.offset);
    out.params.raw = rest_all;
    return {};
}

// ---- Reason, Session-Expires, Event, tokens -----------------------------------------------------------

namespace {
// token *( SEMI generic-param ): splits the leading token and validates the parameters.
error token_with_params(std::string_view s, std::string_view& tok, param_list& params) noexcept {
    std::size_t i = skip_ws(s, 0);
    const std::size_t b = i;
    while (i < s.size() && is_token_char(s[i])) ++i;
    tok = s.substr(b, i - b);
    if (tok.empty()) return fail(errc::bad_header_value, b);
    const std::size_t p = skip_ws(s, i);
    const std::string_view raw = s.substr(p);
    if (!raw.empty() && raw[0] != ';') return fail(errc::bad_header_value, p);
    const error pe = validate_params(raw, param_syntax::header);
    if (pe.failed()) return fail(pe.code, p + pe.offset);
    params = param_list(raw, param_syntax::header);
    return {};
}
}  // namespace

error parse_value(std::string_view s, reason& out) noexcept {
    out = reason{};
    const error e = token_with_params(s, out.protocol, out.params);
    if (e.failed()) return e;
    if (auto c = out.params.find("cause")) {
        std::uint64_t v = 0;
        bool overflow = false;
        if (!c->has_value || !parse_uint(c->value, 65535, v, overflow) || overflow)
            return fail(errc::bad_param, static_cast<std::size_t>(c->name.data() - s.data()));
        out.cause = static_cast<int>(v);
    }
    out.text = out.params.get("text");
    return {};
}

error parse_value(std::string_view s, session_expires& out) noexcept {
    out = session_expires{};
    std::string_view delta;
    const error e = token_with_params(s, delta, out.params);
    if (e.failed()) return e;
    std::uint64_t v = 0;
    bool overflow = false;
    if (!parse_uint(delta, max_delta_seconds, v, overflow)) return fail(errc::bad_number, skip_ws(s, 0));
    if (overflow) return fail(errc::number_too_large, skip_ws(s, 0));
    out.delta = static_cast<std::uint32_t>(v);
    if (auto r = out.params.find("refresher")) {
        if (!r->has_value || !(iequals(r->value, "uac") || iequals(r->value, "uas")))
            return fail(errc::bad_param, static_cast<std::size_t>(r->name.data() - s.data()));
        out.refresher = r->value;
    }
    return {};
}

error parse_value(std::string_view s, event& out) noexcept {
    out = event{};
    const error e = token_with_params(s, out.package, out.params);
    if (e.failed()) return e;
    out.id = out.params.get("id");
    return {};
}

error parse_value(std::string_view s, token& out) noexcept {
    const std::string_view t = trim(s);
    if (!is_token(t)) return fail(errc::bad_header_value, skip_ws(s, 0));
    out.text = t;
    return {};
}

}  // namespace sipvoice::sip
