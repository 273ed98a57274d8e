// Internal: the one-parameter scanners shared by validation and iteration (inline: they are the
// innermost loop of every header with parameters).
#pragma once

#include <string_view>

#include "charset.hpp"
#include "sipvoice/sip/params.hpp"

namespace sipvoice::sip::detail {

// ";" pname [ "=" pvalue ], pname/pvalue = 1*( paramchar / escaped ), no whitespace (RFC 3261 §25.1).
// The escapes are checked in the same pass.
inline bool next_uri_param(std::string_view& rest, param& out, error& err) noexcept {
    const char* const s = rest.data();
    const std::size_t n = rest.size();
    if (n == 0) return false;
    if (s[0] != ';') {
        err = {errc::bad_param, 0};
        return false;
    }
    std::size_t i = 1;
    auto run = [&](std::size_t& j) {
        const std::size_t b = j;
        while (j < n) {
            const char c = s[j];
            if (is(c, c_paramchar)) {
                ++j;
            } else if (c == '%') {
                if (n - j < 3 || hex_value(s[j + 1]) < 0 || hex_value(s[j + 2]) < 0) {
                    err = {errc::bad_escape, static_cast<std::uint32_t>(j)};
                    return false;
                }
                j += 3;
            } else {
                break;
            }
        }
        if (j == b) {
            err = {errc::bad_param, static_cast<std::uint32_t>(j)};
            return false;
        }
        return true;
    };
    const std::size_t name_begin = i;
    if (!run(i)) return false;
    out.name = {s + name_begin, i - name_begin};
    out.value = {};
    out.has_value = false;
    if (i < n && s[i] == '=') {
        const std::size_t value_begin = ++i;
        if (!run(i)) return false;
        out.value = {s + value_begin, i - value_begin};
        out.has_value = true;
    }
    if (i < n && s[i] != ';') {
        err = {errc::bad_param, static_cast<std::uint32_t>(i)};
        return false;
    }
    rest = {s + i, n - i};
    return true;
}

// SEMI generic-param: LWS allowed around ';' and '=', value a gen-value or a quoted-string.
//
// With InList, the parameters are those of one element of a comma list that has not been split yet:
// a ',' ends the list where the end of the text would (rest is then left at the ',' or the end). The
// element parsers use that to read an element in the same pass that finds where it ends.
template <bool InList = false>
inline bool next_header_param(std::string_view& rest, param& out, error& err) noexcept {
    const char* const s = rest.data();
    const std::size_t n = rest.size();
    // The usual ";name" or ";name=token" with no LWS, then ';' or the end (or ','), without the
    // whitespace loops of the general path below (which gives the same result for it).
    if (n >= 2 && s[0] == ';') {
        const std::size_t e = 1 + token_run(s + 1, n - 1);
        if (e > 1) {
            auto ends_here = [&](std::size_t k) { return k == n || s[k] == ';' || (InList && s[k] == ','); };
            if (ends_here(e)) {
                out.name = {s + 1, e - 1};
                out.value = {};
                out.has_value = false;
                rest = {s + e, n - e};
                return true;
            }
            if (s[e] == '=') {
                const std::size_t v = e + 1;
                const std::size_t j = v + token_run<true>(s + v, n - v);
                if (j > v && ends_here(j)) {
                    out.name = {s + 1, e - 1};
                    out.value = {s + v, j - v};
                    out.has_value = true;
                    rest = {s + j, n - j};
                    return true;
                }
            }
        }
    }
    std::size_t i = 0;
    while (i < n && is_ws(s[i])) ++i;
    if (i >= n || (InList && s[i] == ',')) {
        rest = InList ? std::string_view{s + i, n - i} : std::string_view{s + n, 0};
        return false;
    }
    if (s[i] != ';') {
        err = {errc::bad_param, static_cast<std::uint32_t>(i)};
        return false;
    }
    ++i;
    while (i < n && is_ws(s[i])) ++i;
    const std::size_t name_begin = i;
    i += token_run(s + i, n - i);
    if (i == name_begin) {
        err = {errc::bad_param, static_cast<std::uint32_t>(i)};
        return false;
    }
    out.name = {s + name_begin, i - name_begin};
    out.value = {};
    out.has_value = false;
    std::size_t j = i;
    while (j < n && is_ws(s[j])) ++j;
    if (j < n && s[j] == '=') {
        ++j;
        while (j < n && is_ws(s[j])) ++j;
        const std::size_t value_begin = j;
        if (j < n && s[j] == '"') {
            const std::size_t q = quoted_length(rest, j);
            if (q == 0) {
                err = {errc::unterminated_quote, static_cast<std::uint32_t>(j)};
                return false;
            }
            j += q;
        } else {
            j += token_run<true>(s + j, n - j);
        }
        if (j == value_begin) {
            err = {errc::bad_param, static_cast<std::uint32_t>(j)};
            return false;
        }
        out.value = {s + value_begin, j - value_begin};
        out.has_value = true;
        i = j;
        while (j < n && is_ws(s[j])) ++j;
    }
    // What follows must be the next ';' or the end (or, in a list, the ',' before the next element).
    if (j < n && s[j] != ';' && !(InList && s[j] == ',')) {
        err = {errc::bad_param, static_cast<std::uint32_t>(j)};
        return false;
    }
    rest = {s + i, n - i};
    return true;
}


// Reads the next ";name[=value]" from rest. Returns false at the end of the list (err untouched) or
// on a syntax error (err set, offset relative to `rest` as it was passed in). On success `rest`
// advances past the parameter.
inline bool next_param(std::string_view& rest, param_syntax syntax, param& out, error& err) noexcept {
    return syntax == param_syntax::uri ? next_uri_param(rest, out, err) : next_header_param(rest, out, err);
}


}  // namespace sipvoice::sip::detail
