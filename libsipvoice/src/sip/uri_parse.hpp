// Internal: the URI parser (RFC 3261 §19.1, §25.1; RFC 3966; RFC 3986 opaque), inline so that the
// name-addr parser, which reads a URI in most headers, has no call per URI part.
#pragma once

#include <string_view>

#include "charset.hpp"
#include "host.hpp"
#include "sipvoice/sip/uri.hpp"

namespace sipvoice::sip::detail {

// Host, then optional ":port"; returns the length consumed or sets err.
inline std::size_t parse_hostport(std::string_view s, uri& u, error& err) noexcept {
    std::size_t i = 0;
    if (!s.empty() && s[0] == '[') {
        const std::size_t close = find_char(s, ']');
        if (close == std::string_view::npos) {
            err = fail(errc::bad_host, 0);
            return 0;
        }
        i = close + 1;
        u.host = s.substr(0, i);
        u.host_kind = host_kind(u.host);
    } else {
        i = scan_host(s.data(), s.size(), u.host_kind);  // run and kind in one pass
        u.host = s.substr(0, i);
    }
    if (u.host_kind == host_type::none) {
        err = fail(errc::bad_host, 0);
        return 0;
    }
    if (i < s.size() && s[i] == ':') {
        std::size_t j = i + 1;
        if (!port_at(s, j, u.port)) {
            err = fail(errc::bad_port, i + 1);
            return 0;
        }
        u.has_port = true;
        i = j;
    }
    return i;
}

// uri-parameters (";" pname [ "=" pvalue ], RFC 3261 §25.1) checked in one pass per name and value;
// the same verdict and offsets (relative to `raw`) as validate_params(raw, param_syntax::uri).
inline error validate_uri_params(std::string_view raw) noexcept {
    const char* const p = raw.data();
    const std::size_t n = raw.size();
    std::size_t i = 0;
    // One name or value: 1*( paramchar / escaped ); a '%' that starts no escape is bad_escape.
    auto run = [&](errc& code) {
        const std::size_t b = i;
        i += escaped_run<c_paramchar>(p + i, n - i);
        if (i < n && p[i] == '%') {
            code = errc::bad_escape;
            return false;
        }
        if (i == b) {
            code = errc::bad_param;
            return false;
        }
        return true;
    };
    while (i < n) {
        if (p[i] != ';') return fail(errc::bad_param, i);
        ++i;
        errc code = errc::ok;
        if (!run(code)) return fail(code, i);
        if (i < n && p[i] == '=') {
            ++i;
            if (!run(code)) return fail(code, i);
        }
        if (i < n && p[i] != ';') return fail(errc::bad_param, i);
    }
    return {};
}

// hname "=" hvalue *( "&" hname "=" hvalue ), RFC 3261 §25.1.
inline error validate_uri_headers(std::string_view h) noexcept {
    std::size_t start = 0;
    for (;;) {
        const std::size_t amp = h.find('&', start);
        const std::string_view one = h.substr(start, amp == std::string_view::npos ? h.size() - start : amp - start);
        const std::size_t eq = one.find('=');
        if (one.empty() || eq == 0 || eq == std::string_view::npos) return fail(errc::bad_uri, start);
        const std::size_t bad_name = find_invalid_escaped(one.substr(0, eq), c_hnvchar);
        if (bad_name != std::string_view::npos) return fail(errc::bad_uri, start + bad_name);
        const std::size_t bad_value = find_invalid_escaped(one.substr(eq + 1), c_hnvchar);
        if (bad_value != std::string_view::npos) return fail(errc::bad_uri, start + eq + 1 + bad_value);
        if (amp == std::string_view::npos) return {};
        start = amp + 1;
    }
}

inline error parse_sip_uri(std::string_view s, std::size_t base, uri& u) noexcept {
    // userinfo: an '@' can only be the userinfo separator in a valid SIP URI (escaped everywhere else),
    // and the user part may itself hold '?', ';' and '/' (RFC 3261 §25.1 user-unreserved).
    std::size_t host_start = 0;
    const std::size_t at = find_char(s, '@');
    if (at != std::string_view::npos) {
        // One pass over the user: its characters and escapes, up to the first ':' (the password's)
        // or the first byte that is neither.
        const std::size_t colon = escaped_run<c_user>(s.data(), at);
        u.user = s.substr(0, colon);
        u.has_user = true;
        if (colon == 0) return fail(errc::bad_uri, base);  // empty user (or a bad first byte, same offset)
        if (colon < at && s[colon] != ':') return fail(errc::bad_uri, base + colon);
        if (colon < at) {
            u.password = s.substr(colon + 1, at - colon - 1);
            u.has_password = true;
            const std::size_t good = escaped_run<c_password>(u.password.data(), u.password.size());
            if (good != u.password.size()) return fail(errc::bad_uri, base + colon + 1 + good);
        }
        host_start = at + 1;
    }
    // headers: after the first '?' that follows the host
    const std::size_t q = find_char(s, '?', host_start);
    std::string_view main = s;
    if (q != std::string_view::npos) {
        u.headers = s.substr(q + 1);
        main = s.substr(0, q);
        const error e = validate_uri_headers(u.headers);
        if (e.failed()) return fail(e.code, base + q + 1 + e.offset);
    }
    error err;
    const std::size_t hp = parse_hostport(main.substr(host_start), u, err);
    if (err.failed()) return fail(err.code, base + host_start + err.offset);
    const std::size_t params_start = host_start + hp;
    const std::string_view params = main.substr(params_start);
    if (!params.empty() && params[0] != ';') return fail(errc::bad_uri, base + params_start);
    if (!params.empty()) {  // (most URIs have none: no call then)
        const error pe = validate_uri_params(params);
        if (pe.failed()) return fail(pe.code, base + params_start + pe.offset);
    }
    u.params = param_list(params, param_syntax::uri);
    return {};
}

inline error parse_tel_uri(std::string_view s, std::size_t base, uri& u) noexcept {
    // telephone-subscriber (RFC 3966 §3): global "+digits" or local digits with visual separators,
    // then ;parameters.
    const std::size_t semi = find_char(s, ';');
    const std::string_view number = s.substr(0, semi);
    if (number.empty()) return fail(errc::bad_uri, base);
    // RFC 3966 §3: global-number-digits = "+" *phonedigit DIGIT *phonedigit and local-number-digits =
    // *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex: at least one digit besides the separators.
    bool has_digit = false;
    for (std::size_t i = 0; i < number.size(); ++i) {
        const char c = number[i];
        const bool ok = is(c, c_hex) || c == '-' || c == '.' || c == '(' || c == ')' || c == '*' || c == '#' ||
                        (c == '+' && i == 0);
        if (!ok) return fail(errc::bad_uri, base + i);
        if (is(c, c_hex) || c == '*' || c == '#') has_digit = true;
    }
    if (!has_digit) return fail(errc::bad_uri, base);
    u.user = number;
    u.has_user = true;
    if (semi != std::string_view::npos) {
        const std::string_view params = s.substr(semi);
        const error pe = validate_params(params, param_syntax::uri);
        if (pe.failed()) return fail(pe.code, base + semi + pe.offset);
        u.params = param_list(params, param_syntax::uri);
    }
    return {};
}

// parse_uri_into(): inline here so that the name-addr parser reads its URI without calls.
inline error read_uri(std::string_view text, uri& u) noexcept {
    u.text = text;
    // "sip:" and "sips:" in any case, without the general scheme scan below (same outcome).
    const char* const t = text.data();
    if (text.size() >= 4 && (t[0] | 0x20) == 's' && (t[1] | 0x20) == 'i' && (t[2] | 0x20) == 'p') {
        if (t[3] == ':') {
            u.scheme_name = text.substr(0, 3);
            u.scheme = uri_scheme::sip;
            return parse_sip_uri(text.substr(4), 4, u);
        }
        if (text.size() >= 5 && (t[3] | 0x20) == 's' && t[4] == ':') {
            u.scheme_name = text.substr(0, 4);
            u.scheme = uri_scheme::sips;
            return parse_sip_uri(text.substr(5), 5, u);
        }
    }
    const std::size_t colon = find_char(text, ':');
    if (colon == std::string_view::npos || colon == 0) return fail(errc::bad_uri, 0);
    const std::string_view scheme = text.substr(0, colon);
    if (!is(scheme[0], c_alpha)) return fail(errc::bad_uri, 0);
    for (std::size_t i = 0; i < scheme.size(); ++i)
        if (!is(scheme[i], c_scheme)) return fail(errc::bad_uri, i);
    u.scheme_name = scheme;
    const std::string_view rest = text.substr(colon + 1);
    const std::size_t base = colon + 1;
    error e;
    if (iequals(scheme, "sip") || iequals(scheme, "sips")) {
        u.scheme = scheme.size() == 3 ? uri_scheme::sip : uri_scheme::sips;
        e = parse_sip_uri(rest, base, u);
    } else if (iequals(scheme, "tel")) {
        u.scheme = uri_scheme::tel;
        e = parse_tel_uri(rest, base, u);
    } else {
        u.scheme = uri_scheme::other;
        u.opaque = rest;
        if (rest.empty()) return fail(errc::bad_uri, base);
        for (std::size_t i = 0; i < rest.size(); ++i)
            if (!is(rest[i], c_uric)) return fail(errc::bad_uri, base + i);
    }
    return e;
}

}  // namespace sipvoice::sip::detail
