// Header names and typed header values (RFC 3261 §7.3, §20, §25.1; RFC 3326, 3515, 3581, 4028, 6665).
#include "sipvoice/sip/headers.hpp"

#include <array>
#include <cstring>

#include "charset.hpp"
#include "header_table.hpp"
#include "host.hpp"
#include "params_scan.hpp"
#include "parse_into.hpp"

namespace sipvoice::sip {
using namespace detail;

header_id lookup_header(std::string_view name) noexcept { return find_header_id(name); }

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
    // The usual shape, "A, B, C": a token, maybe LWS, then a comma or the end. Anything else (empty
    // elements, quotes, stray characters) takes the general split, which the element's parse rejects.
    const char* const s = rest.data();
    const char* const end = s + rest.size();
    const char* p = s;
    while (p != end && is_ws(*p)) ++p;
    const char* const b = p;
    p += token_run(p, static_cast<std::size_t>(end - p));
    if (p != b) {
        const char* const e = p;
        while (p != end && is_ws(*p)) ++p;
        if (p == end || *p == ',') {
            element = {b, static_cast<std::size_t>(e - b)};
            is_token = true;
            if (p == end) {
                rest = {end, 0};
                return false;
            }
            rest = {p + 1, static_cast<std::size_t>(end - p - 1)};
            return true;
        }
    }
    is_token = false;
    return next_list_element(rest, element);
}

// ---- Via ------------------------------------------------------------------------------------------

namespace {
// via-parm = sent-protocol LWS sent-by *( SEMI via-params ) (RFC 3261 §20.42, RFC 3581 rport).
//
// With InList, `s` runs from the element to the end of the header value, which has not been split at
// its commas: a top-level ',' ends the element where the end of the text would, and `end` receives
// the element's length (up to its last non-LWS byte, what next_list_element() would have cut). The
// caller (message.hpp's iteration) falls back to split-then-parse on any failure, so this mode only
// has to agree with the split on success; a Via holds no '"' outside quoted parameter values and no
// '<', '>' or ',' outside them, which is what makes the two agree.
template <bool InList>
error parse_via(std::string_view s, via& out, std::size_t& end) noexcept {
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
        out.host = s.substr(host_begin, i - host_begin);
        out.host_kind = host_kind(out.host);
    } else {
        i += scan_host(s.data() + i, s.size() - i, out.host_kind);  // the run and its kind in one pass
        out.host = s.substr(host_begin, i - host_begin);
    }
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
    std::string_view rest = s.substr(pstart);
    if (!rest.empty() && rest[0] != ';' && !(InList && rest[0] == ',')) return fail(errc::bad_header_value, pstart);
    std::size_t params_end = InList ? i : s.size();  // where the element ends when it has no parameters
    param p;
    error err;
    while (next_header_param<InList>(rest, p, err)) {
        if constexpr (InList) params_end = static_cast<std::size_t>(rest.data() - s.data());
        const auto at = static_cast<std::size_t>(p.name.data() - s.data());
        if (is_name<"branch">(p.name)) {
            if (!p.has_value) return fail(errc::bad_param, at);
            out.branch = p.value;
        } else if (is_name<"received">(p.name)) {
            // RFC 3261 §20.42 received = IPv4address / IPv6address; RFC 5118 §4.5 tolerates brackets.
            std::string_view addr = p.value;
            if (addr.size() > 2 && addr.front() == '[' && addr.back() == ']') addr = addr.substr(1, addr.size() - 2);
            if (!ipv4_address(addr) && !is_ipv6_address(addr)) return fail(errc::bad_param, at);
            out.received = p.value;
        } else if (is_name<"maddr">(p.name)) {
            if (!p.has_value || host_kind(p.value) == host_type::none) return fail(errc::bad_param, at);
            out.maddr = p.value;
        } else if (is_name<"rport">(p.name)) {
            out.has_rport = true;
            if (p.has_value) {
                std::uint64_t v = 0;
                bool overflow = false;
                if (!parse_uint(p.value, 65535, v, overflow) || overflow) return fail(errc::bad_param, at);
                out.rport = static_cast<std::uint16_t>(v);
            }
        } else if (is_name<"ttl">(p.name)) {
            std::uint64_t v = 0;
            bool overflow = false;
            if (!p.has_value || !parse_uint(p.value, 255, v, overflow) || overflow) return fail(errc::bad_param, at);
            out.ttl = static_cast<int>(v);
        }
    }
    if (err.failed()) return fail(err.code, static_cast<std::size_t>(rest.data() - s.data()) + err.offset);
    // Without parameters the (empty) list sits where the element ends, as it did in the split element.
    const std::size_t list_at = params_end < pstart ? params_end : pstart;
    out.params = param_list(s.substr(list_at, params_end - list_at), param_syntax::header);
    end = params_end;
    return {};
}
}  // namespace

error parse_value(std::string_view s, via& out) noexcept {
    out = via{};
    return detail::parse_fresh(s, out);
}

namespace detail {
bool parse_first_element(std::string_view text, via& out, std::size_t& end) noexcept {
    return !parse_via<true>(text, out, end).failed();
}

error parse_fresh(std::string_view text, via& out) noexcept {
    std::size_t end = 0;
    return parse_via<false>(text, out, end);
}
}  // namespace detail

// ---- CSeq, numbers, Call-ID, Date ------------------------------------------------------------------

namespace {
// 1*DIGIT at s[i], converted in the same pass (parse_uint()'s verdict: `overflow` once above max).
// Returns the end of the digits.
std::size_t digits_at(std::string_view s, std::size_t i, std::uint64_t max, std::uint64_t& value, bool& overflow) noexcept {
    std::uint64_t v = 0;
    overflow = false;
    for (; i < s.size() && is_digit(s[i]); ++i) {
        if (!overflow) {
            v = v * 10 + static_cast<unsigned>(s[i] - '0');
            if (v > max) overflow = true;
        }
    }
    value = v;
    return i;
}
}  // namespace

error parse_value(std::string_view s, cseq& out) noexcept {
    out = cseq{};
    std::size_t i = skip_ws(s, 0);
    const std::size_t b = i;
    std::uint64_t n = 0;
    bool overflow = false;
    i = digits_at(s, i, max_cseq, n, overflow);
    if (i == b) return fail(errc::bad_number, b);
    if (overflow) return fail(errc::number_too_large, b);  // RFC 3261 §8.1.1.5: less than 2**31
    if (i >= s.size() || !is_ws(s[i])) return fail(errc::bad_header_value, i);
    i = skip_ws(s, i);
    // The method: a token, then nothing but LWS (is_token(trim(rest)), in one pass).
    const std::size_t e = i + token_run(s.data() + i, s.size() - i);
    if (e == i || skip_ws(s, e) != s.size()) return fail(errc::bad_method, i);
    out.number = static_cast<std::uint32_t>(n);
    out.method = s.substr(i, e - i);
    return {};
}

error parse_number(std::string_view text, std::uint32_t max, std::uint32_t& out) noexcept {
    // 1*DIGIT between optional LWS; anything else in between is bad_number at the first non-LWS byte.
    const std::size_t b = skip_ws(text, 0);
    std::uint64_t v = 0;
    bool overflow = false;
    const std::size_t e = digits_at(text, b, max, v, overflow);
    if (e == b || skip_ws(text, e) != text.size()) return fail(errc::bad_number, b);
    if (overflow) return fail(errc::number_too_large, b);
    out = static_cast<std::uint32_t>(v);
    return {};
}

error parse_call_id(std::string_view text) noexcept {
    // word [ "@" word ] between optional LWS, read in one pass; what does not take that shape goes
    // through the original checks below, which say where it fails.
    const std::size_t b = skip_ws(text, 0);
    std::size_t e = b + class_run<c_word>(text.data() + b, text.size() - b);
    if (e > b) {
        bool ok = true;
        if (e < text.size() && text[e] == '@') {
            const std::size_t w2 = e + 1;
            e = w2 + class_run<c_word>(text.data() + w2, text.size() - w2);
            ok = e > w2;
        }
        if (ok && skip_ws(text, e) == text.size()) return {};
    }
    const std::string_view s = trim(text);
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
    return detail::parse_fresh(text, out);
}

namespace {
// Contact's expires and q parameters, checked in the name-addr's own parameter pass.
error contact_param(const param& p, void* context) noexcept {
    auto& out = *static_cast<contact*>(context);
    if (is_name<"expires">(p.name)) {
        std::uint64_t v = 0;
        bool overflow = false;
        if (!p.has_value || !parse_uint(p.value, max_delta_seconds, v, overflow)) return {errc::bad_param, 0};
        if (overflow) return {errc::number_too_large, 0};
        out.expires = static_cast<std::uint32_t>(v);
        out.expires_present = true;
    } else if (is_name<"q">(p.name)) {
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
    return detail::parse_fresh(text, out);
}

namespace detail {
error parse_fresh(std::string_view text, contact& out) noexcept {
    if (trim(text) == "*") {
        out.star = true;
        return {};
    }
    return parse_name_addr_into(text, out.address, contact_param, &out);
}

bool parse_first_element(std::string_view text, contact& out, std::size_t& end) noexcept {
    if (!text.empty() && text[0] == '*') return false;  // "*" (or an error): the split path decides
    return parse_first_name_addr(text, out.address, contact_param, &out, end);
}
}  // namespace detail

// ---- media types ----------------------------------------------------------------------------------

bool media_type::matches(std::string_view t, std::string_view s) const noexcept {
    return (type == "*" || iequals(type, t)) && (subtype == "*" || iequals(subtype, s));
}

error parse_value(std::string_view s, media_type& out) noexcept {
    out = media_type{};
    std::size_t i = skip_ws(s, 0);
    std::size_t b = i;
    i += token_run(s.data() + i, s.size() - i);
    out.type = s.substr(b, i - b);
    i = skip_ws(s, i);
    if (out.type.empty() || i >= s.size() || s[i] != '/') return fail(errc::bad_header_value, i);
    i = skip_ws(s, i + 1);
    b = i;
    i += token_run(s.data() + i, s.size() - i);
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

// auth-param = token BWS "=" BWS ( token / quoted-string ), separated by commas (RFC 7235 §2.1).
// Offsets in `err` are relative to `rest` as passed in. The usual "name=value" without BWS takes no
// whitespace loop at all.
__attribute__((always_inline)) inline bool next_auth_param_checked(std::string_view& rest, param& out, error& err) noexcept {
    const char* const s = rest.data();
    const std::size_t n = rest.size();
    std::size_t i = 0;
    while (i < n && is(s[i], c_ws_comma)) ++i;
    if (i >= n) {
        rest = {s + n, 0};
        return false;
    }
    const std::size_t nb = i;
    i += token_run(s + i, n - i);
    if (i == nb) {
        err = fail(errc::bad_param, i);
        return false;
    }
    out.name = {s + nb, i - nb};
    if (i >= n || s[i] != '=') {
        i = skip_ws(rest, i);
        if (i >= n || s[i] != '=') {
            err = fail(errc::bad_param, i);
            return false;
        }
    }
    ++i;
    if (i < n && is_ws(s[i])) i = skip_ws(rest, i);
    const std::size_t vb = i;
    if (i < n && s[i] == '"') {
        const std::size_t q = quoted_length(rest, i);
        if (q == 0) {
            err = fail(errc::unterminated_quote, i);
            return false;
        }
        i += q;
    } else {
        i += class_run<c_authvalue>(s + i, n - i);  // token / "/" ":" "@" "[" "]" "="
        if (i == vb) {
            err = fail(errc::bad_param, i);
            return false;
        }
    }
    out.value = {s + vb, i - vb};
    out.has_value = true;
    if (i < n && s[i] != ',') {
        i = skip_ws(rest, i);
        if (i < n && s[i] != ',') {
            err = fail(errc::bad_param, i);
            return false;
        }
    }
    rest = {s + i, n - i};
    return true;
}
}  // namespace

bool next_auth_param(std::string_view& rest, param& out) noexcept {
    error err;
    return next_auth_param_checked(rest, out, err);
}
}  // namespace detail

namespace {
// auth_params::find(), inline for get() (a call between the two cost as much as an indexed lookup).
__attribute__((always_inline)) inline bool find_auth_param(const auth_params& a, std::string_view name, param& out) noexcept {
    if (a.indexed()) {
        const char* const base = a.raw.data();
        for (std::size_t k = 0; k < a.index_size; ++k) {
            const auth_params::index_entry& e = a.index[k];
            if (!iequals(std::string_view(base + e.name_at, e.name_length), name)) continue;
            out.name = {base + e.name_at, e.name_length};
            out.value = {base + e.value_at, e.value_length};
            out.has_value = true;
            return true;
        }
        return false;
    }
    std::string_view rest = a.raw;
    error err;
    while (detail::next_auth_param_checked(rest, out, err))
        if (iequals(out.name, name)) return true;
    return false;
}
}  // namespace

std::optional<param> auth_params::find(std::string_view name) const noexcept {
    param p;
    if (find_auth_param(*this, name, p)) return p;
    return std::nullopt;
}

std::string_view auth_params::get(std::string_view name, std::string_view fallback) const noexcept {
    param p;
    if (!find_auth_param(*this, name, p)) return fallback;
    std::string_view v = p.value;
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
}

error parse_value(std::string_view s, auth_value& out) noexcept {
    out = auth_value{};
    return detail::parse_fresh(s, out);
}

error detail::parse_fresh(std::string_view s, auth_value& out) noexcept {
    std::size_t i = skip_ws(s, 0);
    const std::size_t b = i;
    i += token_run(s.data() + i, s.size() - i);
    out.scheme = s.substr(b, i - b);
    if (out.scheme.empty()) return fail(errc::bad_header_value, b);
    if (i < s.size() && !is_ws(s[i])) return fail(errc::bad_header_value, i);
    i = skip_ws(s, i);
    const std::string_view rest_all = trim(s.substr(i));
    if (rest_all.empty()) return {};
    // token68 (RFC 7235 §2.1): 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    {
        std::size_t k = 0;
        k += class_run<c_token68>(rest_all.data(), rest_all.size());
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
    // Index the parameters as they are validated (auth_params::index), when their offsets fit.
    bool index = rest_all.size() <= UINT16_MAX;
    std::size_t count = 0;
    while (detail::next_auth_param_checked(rest, p, err)) {
        if (!index) continue;
        if (count == auth_params::index_capacity) {
            index = false;
            continue;
        }
        out.params.index[count++] = {static_cast<std::uint16_t>(p.name.data() - rest_all.data()),
                                     static_cast<std::uint16_t>(p.name.size()),
                                     static_cast<std::uint16_t>(p.value.data() - rest_all.data()),
                                     static_cast<std::uint16_t>(p.value.size())};
    }
    if (err.failed()) return fail(err.code, static_cast<std::size_t>(rest.data() - s.data()) + err.offset);
    out.params.raw = rest_all;
    out.params.index_size = static_cast<std::uint8_t>(count);
    if (index) {
        out.params.indexed_text = rest_all.data();
        out.params.indexed_length = rest_all.size();
    }
    return {};
}

// ---- Reason, Session-Expires, Event, tokens -----------------------------------------------------------

namespace {
// token *( ";" generic-param ): the token, and the parameters checked; `each` sees every parameter as
// it is checked (so a header that wants one of them needs no second pass to find it).
template <class F>
error token_with_params(std::string_view s, std::string_view& tok, param_list& params, F&& each) noexcept {
    std::size_t i = skip_ws(s, 0);
    const std::size_t b = i;
    i += token_run(s.data() + i, s.size() - i);
    tok = s.substr(b, i - b);
    if (tok.empty()) return fail(errc::bad_header_value, b);
    const std::size_t p = skip_ws(s, i);
    const std::string_view raw = s.substr(p);
    if (!raw.empty() && raw[0] != ';') return fail(errc::bad_header_value, p);
    std::string_view rest = raw;
    param prm;
    error pe;
    while (next_header_param(rest, prm, pe)) each(prm);
    if (pe.failed()) return fail(pe.code, p + static_cast<std::size_t>(rest.data() - raw.data()) + pe.offset);
    params = param_list(raw, param_syntax::header);
    return {};
}

error token_with_params(std::string_view s, std::string_view& tok, param_list& params) noexcept {
    return token_with_params(s, tok, params, [](const param&) {});
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
    // The refresher is taken while the parameters are checked: one pass over them. The first one
    // counts, as params.find() would give it.
    std::string_view delta;
    param refresher;
    bool has_refresher = false;
    const error e = token_with_params(s, delta, out.params, [&](const param& prm) {
        if (!has_refresher && is_name<"refresher">(prm.name)) {
            refresher = prm;
            has_refresher = true;
        }
    });
    if (e.failed()) return e;
    std::uint64_t v = 0;
    bool overflow = false;
    if (!parse_uint(delta, max_delta_seconds, v, overflow)) return fail(errc::bad_number, skip_ws(s, 0));
    if (overflow) return fail(errc::number_too_large, skip_ws(s, 0));
    out.delta = static_cast<std::uint32_t>(v);
    if (has_refresher) {
        if (!refresher.has_value || !(iequals(refresher.value, "uac") || iequals(refresher.value, "uas")))
            return fail(errc::bad_param, static_cast<std::size_t>(refresher.name.data() - s.data()));
        out.refresher = refresher.value;
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

bool subscription_state::terminated() const noexcept { return iequals(state, "terminated"); }

error parse_value(std::string_view s, subscription_state& out) noexcept {
    out = subscription_state{};
    // expires and reason are taken while the parameters are checked (the first of each counts).
    param expires;
    bool has_expires = false;
    bool has_reason = false;
    const error e = token_with_params(s, out.state, out.params, [&](const param& prm) {
        if (!has_expires && is_name<"expires">(prm.name)) {
            expires = prm;
            has_expires = true;
        } else if (!has_reason && is_name<"reason">(prm.name)) {
            out.reason = prm.value;
            has_reason = true;
        }
    });
    if (e.failed()) return e;
    if (has_expires) {
        const auto at = static_cast<std::size_t>(expires.name.data() - s.data());
        std::uint64_t v = 0;
        bool overflow = false;
        if (!expires.has_value || !parse_uint(expires.value, max_delta_seconds, v, overflow)) return fail(errc::bad_number, at);
        if (overflow) return fail(errc::number_too_large, at);
        out.expires = static_cast<std::uint32_t>(v);
        out.expires_present = true;
    }
    return {};
}

error parse_value(std::string_view s, token& out) noexcept {
    const std::string_view t = trim(s);
    if (!is_token(t)) return fail(errc::bad_header_value, skip_ws(s, 0));
    out.text = t;
    return {};
}

}  // namespace sipvoice::sip
