// Character classes of the RFC 3261 §25.1 grammar, as one 256-entry table of bit flags, and the
// small scanning helpers every sip/ parser shares. Internal to the library.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sipvoice/sip/error.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sipvoice::sip::detail {

enum : std::uint16_t {
    c_alnum = 1U << 0,
    c_token = 1U << 1,       // alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
    c_unreserved = 1U << 2,  // alphanum / mark
    c_user = 1U << 3,        // unreserved / user-unreserved (escapes checked apart)
    c_password = 1U << 4,    // unreserved / "&" / "=" / "+" / "$" / ","
    c_paramchar = 1U << 5,   // param-unreserved / unreserved
    c_hnvchar = 1U << 6,     // hnv-unreserved / unreserved
    c_word = 1U << 7,        // Call-ID word
    c_hex = 1U << 8,
    c_digit = 1U << 9,
    c_alpha = 1U << 10,
    c_ws = 1U << 11,         // SP / HTAB / CR / LF (LWS after in-place unfolding)
    c_hostchar = 1U << 12,   // alphanum / "-" / "." / "_" (underscore tolerated in the wild)
    c_scheme = 1U << 13,     // alphanum / "+" / "-" / "."
    c_uric = 1U << 14,       // characters of an opaque URI (RFC 3986 reserved / unreserved / "%")
    c_genvalue = 1U << 15,   // gen-value outside quotes: token / host (":" "[" "]" for IPv6)
};

consteval std::array<std::uint16_t, 256> make_char_table() {
    std::array<std::uint16_t, 256> t{};
    auto set = [&](std::string_view chars, std::uint16_t flags) {
        for (char c : chars) t[static_cast<unsigned char>(c)] |= flags;
    };
    for (int c = 'a'; c <= 'z'; ++c) t[c] |= (c <= 'f') ? (c_alpha | c_alnum | c_hex) : (c_alpha | c_alnum);
    for (int c = 'A'; c <= 'Z'; ++c) t[c] |= (c <= 'F') ? (c_alpha | c_alnum | c_hex) : (c_alpha | c_alnum);
    for (int c = '0'; c <= '9'; ++c) t[c] |= c_digit | c_alnum | c_hex;
    const std::uint16_t common = c_token | c_unreserved | c_user | c_password | c_paramchar | c_hnvchar |
                                 c_word | c_hostchar | c_scheme | c_uric;
    for (int c = 0; c < 256; ++c)
        if (t[c] & c_alnum) t[c] |= common;
    const std::string_view mark = "-_.!~*'()";
    set(mark, c_unreserved | c_user | c_password | c_paramchar | c_hnvchar | c_uric);
    set("-.!%*_+`'~", c_token);
    set("&=+$,;?/", c_user);
    set("&=+$,", c_password);
    set("[]/:&+$", c_paramchar);
    set("[]/?:+$", c_hnvchar);
    set("-.!%*_+`'~()<>:\\\"/[]?{}", c_word);
    set("-._", c_hostchar);
    set("+-.", c_scheme);
    set(";/?:@&=+$,[]%#", c_uric);
    set(" \t\r\n", c_ws);
    for (int c = 0; c < 256; ++c)
        if (t[c] & c_token) t[c] |= c_genvalue;
    set(":[]", c_genvalue);
    return t;
}

inline constexpr std::array<std::uint16_t, 256> char_table = make_char_table();

// An error at a byte offset (the common return of every parser here).
constexpr error fail(errc code, std::size_t offset) noexcept { return {code, static_cast<std::uint32_t>(offset)}; }

constexpr bool is(char c, std::uint16_t flags) noexcept {
    return (char_table[static_cast<unsigned char>(c)] & flags) != 0;
}
constexpr bool is_ws(char c) noexcept { return is(c, c_ws); }
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_token_char(char c) noexcept { return is(c, c_token); }

constexpr char to_lower(char c) noexcept {
    return static_cast<char>(c + 32 * (static_cast<unsigned char>(c - 'A') < 26U));
}

inline std::string lowercase(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = to_lower(c);
    return out;
}

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (to_lower(a[i]) != to_lower(b[i])) return false;
    return true;
}

constexpr bool all_of(std::string_view s, std::uint16_t flags) noexcept {
    for (char c : s)
        if (!is(c, flags)) return false;
    return true;
}

constexpr bool is_token(std::string_view s) noexcept { return !s.empty() && all_of(s, c_token); }

constexpr std::string_view trim(std::string_view s) noexcept {
    std::size_t b = 0;
    std::size_t e = s.size();
    while (b < e && is_ws(s[b])) ++b;
    while (e > b && is_ws(s[e - 1])) --e;
    return s.substr(b, e - b);
}

constexpr std::size_t skip_ws(std::string_view s, std::size_t i) noexcept {
    while (i < s.size() && is_ws(s[i])) ++i;
    return i;
}

// Offset of the first byte a in [p, p + n), or n: memchr without the call, for short lines.
inline std::size_t find_byte(const char* p, std::size_t n, char a) noexcept {
    std::size_t i = 0;
#if defined(__SSE2__)
    const __m128i va = _mm_set1_epi8(a);
    for (; i + 16 <= n; i += 16) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
        const int mask = _mm_movemask_epi8(_mm_cmpeq_epi8(x, va));
        if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    }
#endif
    for (; i < n; ++i)
        if (p[i] == a) return i;
    return n;
}

// string_view::find(c) without the library call (npos when absent), for the short texts here.
inline std::size_t find_char(std::string_view s, char c, std::size_t from = 0) noexcept {
    if (from >= s.size()) return std::string_view::npos;
    const std::size_t i = from + find_byte(s.data() + from, s.size() - from, c);
    return i < s.size() ? i : std::string_view::npos;
}

// Offset of the first byte a or b in [p, p + n), or n.
inline std::size_t find_first_of2(const char* p, std::size_t n, char a, char b) noexcept {
    std::size_t i = 0;
#if defined(__SSE2__)
    const __m128i va = _mm_set1_epi8(a);
    const __m128i vb = _mm_set1_epi8(b);
    for (; i + 16 <= n; i += 16) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
        const int mask = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)));
        if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    }
#endif
    for (; i < n; ++i)
        if (p[i] == a || p[i] == b) return i;
    return n;
}

// Length of the quoted-string starting at s[i] == '"' including both quotes, or 0 when unterminated.
// quoted-pair = "\" %x00-09 / %x0B-0C / %x0E-7F (RFC 3261 §25.1).
inline std::size_t quoted_length(std::string_view s, std::size_t i) noexcept {
    std::size_t j = i + 1;
    while (j < s.size()) {
        j += find_first_of2(s.data() + j, s.size() - j, '"', '\\');
        if (j >= s.size()) break;
        const char c = s[j];
        if (c == '"') return j + 1 - i;
        if (c == '\\') {
            if (j + 1 >= s.size()) return 0;
            const auto n = static_cast<unsigned char>(s[j + 1]);
            if (n > 0x7f || n == '\r' || n == '\n') return 0;
            j += 2;
            continue;
        }
    }
    return 0;
}

constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Characters allowed (besides %HH escapes) by `flags`; returns the offset of the first bad one or npos.
constexpr std::size_t find_invalid_escaped(std::string_view s, std::uint16_t flags) noexcept {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '%') {
            if (s.size() - i < 3) return i;
            if (hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0) return i;
            i += 2;
            continue;
        }
        if (!is(c, flags)) return i;
    }
    return std::string_view::npos;
}

// Offset of the first of the four bytes a, b, c, d in [p, p + n), or n. Header values are scanned
// with this (16 bytes per step where SSE2 is available) instead of byte by byte.
inline std::size_t find_first_of4(const char* p, std::size_t n, char a, char b, char c, char d) noexcept {
    std::size_t i = 0;
#if defined(__SSE2__)
    const __m128i va = _mm_set1_epi8(a);
    const __m128i vb = _mm_set1_epi8(b);
    const __m128i vc = _mm_set1_epi8(c);
    const __m128i vd = _mm_set1_epi8(d);
    for (; i + 16 <= n; i += 16) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
        const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)),
                                         _mm_or_si128(_mm_cmpeq_epi8(x, vc), _mm_cmpeq_epi8(x, vd)));
        const int mask = _mm_movemask_epi8(hit);
        if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    }
#endif
    for (; i < n; ++i)
        if (p[i] == a || p[i] == b || p[i] == c || p[i] == d) return i;
    return n;
}


// Length of the run of token characters (or gen-value characters with host_extras) at p. A table
// lookup per byte: SSE2 has no cheap set-membership test (a range-compare version measured slower on
// tools/bench), and most runs here are a few bytes long.
template <bool host_extras = false>
inline std::size_t token_run(const char* p, std::size_t n) noexcept {
    constexpr std::uint16_t flags = host_extras ? c_genvalue : c_token;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        if (!is(p[i], flags)) return i;
        if (!is(p[i + 1], flags)) return i + 1;
        if (!is(p[i + 2], flags)) return i + 2;
        if (!is(p[i + 3], flags)) return i + 3;
    }
    while (i < n && is(p[i], flags)) ++i;
    return i;
}

// Parses 1*DIGIT (leading zeros allowed) into out, refusing values above max. Returns false for
// non-digits or empty; sets `overflow` when the digits are valid but the value exceeds max.
constexpr bool parse_uint(std::string_view s, std::uint64_t max, std::uint64_t& out, bool& overflow) noexcept {
    overflow = false;
    if (s.empty()) return false;
    std::uint64_t v = 0;
    for (char c : s) {
        if (!is_digit(c)) return false;
        if (!overflow) {
            v = v * 10 + static_cast<unsigned>(c - '0');
            if (v > max) overflow = true;
        }
    }
    out = v;
    return true;
}

// port = 1*DIGIT, at most 65535 (RFC 3261 §25.1), starting at s[j]; j advances past the digits.
inline bool port_at(std::string_view s, std::size_t& j, std::uint16_t& port) noexcept {
    const std::size_t p = j;
    while (j < s.size() && is_digit(s[j])) ++j;
    std::uint64_t v = 0;
    bool overflow = false;
    if (!parse_uint(s.substr(p, j - p), 65535, v, overflow) || overflow) return false;
    port = static_cast<std::uint16_t>(v);
    return true;
}

}  // namespace sipvoice::sip::detail
