// Character classes of the RFC 3261 §25.1 grammar, as one 256-entry table of bit flags, and the
// small scanning helpers every sip/ parser shares. Internal to the library.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "sipvoice/sip/error.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sipvoice::sip::detail {

// One table entry per byte; 32 bits so that the scanners' compound classes (auth values, token68,
// host labels) are single lookups too.
using char_flags = std::uint32_t;

enum : char_flags {
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
    c_authvalue = 1U << 16,  // unquoted auth-param value as accepted here: token / "/" ":" "@" "[" "]" "="
    c_token68 = 1U << 17,    // token68 body: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" (RFC 7235 §2.1)
    c_label = 1U << 18,      // host label character: c_hostchar without "."
    c_ws_comma = 1U << 19,   // c_ws / "," (what separates auth-params)
};

consteval std::array<char_flags, 256> make_char_table() {
    std::array<char_flags, 256> t{};
    auto set = [&](std::string_view chars, char_flags flags) {
        for (char c : chars) t[static_cast<unsigned char>(c)] |= flags;
    };
    for (int c = 'a'; c <= 'z'; ++c) t[c] |= (c <= 'f') ? (c_alpha | c_alnum | c_hex) : (c_alpha | c_alnum);
    for (int c = 'A'; c <= 'Z'; ++c) t[c] |= (c <= 'F') ? (c_alpha | c_alnum | c_hex) : (c_alpha | c_alnum);
    for (int c = '0'; c <= '9'; ++c) t[c] |= c_digit | c_alnum | c_hex;
    const char_flags common = c_token | c_unreserved | c_user | c_password | c_paramchar | c_hnvchar |
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
    for (int c = 0; c < 256; ++c)
        if (t[c] & c_token) t[c] |= c_authvalue;
    set("/:@[]=", c_authvalue);
    for (int c = 0; c < 256; ++c)
        if (t[c] & c_alnum) t[c] |= c_token68 | c_label;
    set("-._~+/", c_token68);
    set("-_", c_label);
    set(" \t\r\n,", c_ws_comma);
    return t;
}

inline constexpr std::array<char_flags, 256> char_table = make_char_table();

// An error at a byte offset (the common return of every parser here).
constexpr error fail(errc code, std::size_t offset) noexcept { return {code, static_cast<std::uint32_t>(offset)}; }

constexpr bool is(char c, char_flags flags) noexcept {
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

// ASCII case-insensitive equality. Byte by byte: equal, or a letter and its other case (the only
// pair of bytes that differ in 0x20 alone and give a letter once OR-ed with 0x20); no to_lower() of
// either side.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto x = static_cast<unsigned char>(a[i]);
        const unsigned d = x ^ static_cast<unsigned char>(b[i]);
        if (d == 0) continue;
        if (d != 0x20U || static_cast<unsigned>((x | 0x20U) - 'a') >= 26U) return false;
    }
    return true;
}

// Not constexpr: reaching it while a lower_word is built at compile time stops the compilation (sip/
// builds without exceptions, so no throw).
inline void lower_word_takes_lowercase_letters_only() noexcept {}

// A literal of lowercase letters, checked at compile time, for is_name() below.
template <std::size_t N>
struct lower_word {
    char text[N]{};
    consteval lower_word(const char (&word)[N]) {  // NOLINT(google-explicit-constructor): literals convert
        for (std::size_t i = 0; i + 1 < N; ++i) {
            if (word[i] < 'a' || word[i] > 'z') lower_word_takes_lowercase_letters_only();
            text[i] = word[i];
        }
    }
    static constexpr std::size_t size = N - 1;
};

// iequals(s, W) for a word of letters, a few bytes at a time: among all byte values, only a letter and
// its capital give that letter once OR-ed with 0x20, so (bytes | 0x20...) == word compares exactly.
// For the parameter names the parsers look for (branch, received, tag, expires...).
template <lower_word W>
inline bool is_name(std::string_view s) noexcept {
    constexpr std::size_t n = W.size;
    if (s.size() != n) return false;
    const char* const p = s.data();
    if constexpr (n >= 4 && n <= 8) {
        std::uint32_t head = 0, tail = 0, want_head = 0, want_tail = 0;
        std::memcpy(&head, p, 4);
        std::memcpy(&tail, p + n - 4, 4);
        std::memcpy(&want_head, W.text, 4);
        std::memcpy(&want_tail, W.text + n - 4, 4);
        return ((head | 0x20202020U) == want_head) & ((tail | 0x20202020U) == want_tail);
    } else {
        for (std::size_t i = 0; i < n; ++i)
            if (static_cast<char>(p[i] | 0x20) != W.text[i]) return false;
        return true;
    }
}

constexpr bool all_of(std::string_view s, char_flags flags) noexcept {
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

#if defined(__SSE2__)
// Offset of the first byte of [p, p + n) that `match` flags (match: 16 bytes -> a byte mask vector), or
// n. Whole 16-byte blocks, then one last load that ends exactly at p + n and overlaps bytes already
// seen (shifted out of the bit mask): a byte loop over the last up to 15 bytes used to cost more than
// all the blocks before it. Texts of 8 to 15 bytes take two overlapping 8-byte loads; shorter ones a
// byte loop. Nothing is read outside [p, p + n).
template <class Match, class MatchByte>
inline std::size_t find_first_sse2(const char* p, std::size_t n, Match match, MatchByte match_byte) noexcept {
    if (n >= 16) {
        std::size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            const int mask = _mm_movemask_epi8(match(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i))));
            if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
        }
        if (i == n) return n;
        const std::size_t last = n - 16;
        const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(match(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + last))))) >> (i - last);
        return mask != 0 ? i + static_cast<std::size_t>(__builtin_ctz(mask)) : n;
    }
    if (n >= 8) {
        const __m128i lo = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
        const __m128i hi = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + n - 8));
        const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(match(_mm_unpacklo_epi64(lo, hi))));
        if ((mask & 0xffU) != 0) return static_cast<std::size_t>(__builtin_ctz(mask));
        return (mask >> 8) != 0 ? n - 8 + static_cast<std::size_t>(__builtin_ctz(mask >> 8)) : n;
    }
    for (std::size_t i = 0; i < n; ++i)
        if (match_byte(p[i])) return i;
    return n;
}
#endif

// Offset of the first byte a in [p, p + n), or n: memchr without the call, for short lines.
inline std::size_t find_byte(const char* p, std::size_t n, char a) noexcept {
#if defined(__SSE2__)
    const __m128i va = _mm_set1_epi8(a);
    return find_first_sse2(p, n, [va](__m128i x) { return _mm_cmpeq_epi8(x, va); }, [a](char c) { return c == a; });
#else
    for (std::size_t i = 0; i < n; ++i)
        if (p[i] == a) return i;
    return n;
#endif
}

// string_view::find(c) without the library call (npos when absent), for the short texts here.
inline std::size_t find_char(std::string_view s, char c, std::size_t from = 0) noexcept {
    if (from >= s.size()) return std::string_view::npos;
    const std::size_t i = from + find_byte(s.data() + from, s.size() - from, c);
    return i < s.size() ? i : std::string_view::npos;
}

// Offset of the first byte a or b in [p, p + n), or n.
inline std::size_t find_first_of2(const char* p, std::size_t n, char a, char b) noexcept {
#if defined(__SSE2__)
    const __m128i va = _mm_set1_epi8(a);
    const __m128i vb = _mm_set1_epi8(b);
    return find_first_sse2(
        p, n, [va, vb](__m128i x) { return _mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)); },
        [a, b](char c) { return c == a || c == b; });
#else
    for (std::size_t i = 0; i < n; ++i)
        if (p[i] == a || p[i] == b) return i;
    return n;
#endif
}

// find_first_of2() for a loop that searches for the same two bytes again and again (the message
// parser's colons and line ends): the comparison vectors are made once, and the usual case, 16 bytes
// or more left and a hit within a few blocks, is a tight loop. The last bytes go to find_first_of2().
class byte_pair_finder {
public:
    byte_pair_finder(char a, char b) noexcept
        : a_(a), b_(b)
#if defined(__SSE2__)
          , va_(_mm_set1_epi8(a)), vb_(_mm_set1_epi8(b))
#endif
    {
    }
    // Offset of the first byte a or b in [p, p + n), or n.
    std::size_t operator()(const char* p, std::size_t n) const noexcept {
        std::size_t i = 0;
#if defined(__SSE2__)
        for (; n - i >= 16; i += 16) {
            const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
            const int mask = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, va_), _mm_cmpeq_epi8(x, vb_)));
            if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
        }
#endif
        return i + find_first_of2(p + i, n - i, a_, b_);
    }

private:
    char a_;
    char b_;
#if defined(__SSE2__)
    __m128i va_;
    __m128i vb_;
#endif
};

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
constexpr std::size_t find_invalid_escaped(std::string_view s, char_flags flags) noexcept {
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
#if defined(__SSE2__)
    const __m128i va = _mm_set1_epi8(a);
    const __m128i vb = _mm_set1_epi8(b);
    const __m128i vc = _mm_set1_epi8(c);
    const __m128i vd = _mm_set1_epi8(d);
    return find_first_sse2(
        p, n,
        [=](__m128i x) {
            return _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)),
                                _mm_or_si128(_mm_cmpeq_epi8(x, vc), _mm_cmpeq_epi8(x, vd)));
        },
        [=](char x) { return x == a || x == b || x == c || x == d; });
#else
    for (std::size_t i = 0; i < n; ++i)
        if (p[i] == a || p[i] == b || p[i] == c || p[i] == d) return i;
    return n;
#endif
}


// Length of the run of characters of class `flags` at p: a table lookup per byte, unrolled by four
// (by eight cut a few instructions but added code at every call site, for no measurable gain).
// SSE2 has no cheap set-membership test (no pshufb): a range-compare version that took alphanumerics,
// '-' and '.' 16 bytes per step cut instructions on long runs but measured slower on tools/bench (most
// runs here are a few bytes long; the vector setup and the extra exits cost more than they save).
template <char_flags flags>
inline std::size_t class_run(const char* p, std::size_t n) noexcept {
    const char* q = p;
    const char* const end = p + n;
    for (; end - q >= 4; q += 4) {
        if (!is(q[0], flags)) return static_cast<std::size_t>(q - p);
        if (!is(q[1], flags)) return static_cast<std::size_t>(q - p) + 1;
        if (!is(q[2], flags)) return static_cast<std::size_t>(q - p) + 2;
        if (!is(q[3], flags)) return static_cast<std::size_t>(q - p) + 3;
    }
    while (q != end && is(*q, flags)) ++q;
    return static_cast<std::size_t>(q - p);
}

// Length of the run of token characters (or gen-value characters with host_extras) at p.
template <bool host_extras = false>
inline std::size_t token_run(const char* p, std::size_t n) noexcept {
    return class_run<host_extras ? c_genvalue : c_token>(p, n);
}

// Length of the run at p of characters of class `flags` and of valid %HH escapes (RFC 3261 §25.1
// escaped), in one pass. It stops at the first other byte, which may be a '%' that starts no valid
// escape within [p, p + n): the caller tells those apart by looking at p[result].
template <char_flags flags>
inline std::size_t escaped_run(const char* p, std::size_t n) noexcept {
    std::size_t i = 0;
    for (;;) {
        i += class_run<flags>(p + i, n - i);
        if (i + 2 < n && p[i] == '%' && is(p[i + 1], c_hex) && is(p[i + 2], c_hex)) {
            i += 3;
            continue;
        }
        return i;
    }
}

// Parses 1*DIGIT (leading zeros allowed) into out, refusing values above max. Returns false for
// non-digits or empty; sets `overflow` when the digits are valid but the value exceeds max.
constexpr bool parse_uint(std::string_view s, std::uint64_t max, std::uint64_t& out, bool& overflow) noexcept {
    overflow = false;
    if (s.empty()) return false;
    if (s.size() <= 9) {  // at most 999999999: no step can overflow, and a value within max never exceeded it
        std::uint64_t v = 0;
        for (const char c : s) {
            const auto d = static_cast<unsigned>(static_cast<unsigned char>(c) - '0');
            if (d > 9) return false;
            v = v * 10 + d;
        }
        if (v <= max) {
            out = v;
            return true;
        }
        // Above max: the loop below says where it first went over (the value it keeps).
    }
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
// Reads and converts the digits in one pass (parse_uint's verdict: empty or above 65535 is refused).
inline bool port_at(std::string_view s, std::size_t& j, std::uint16_t& port) noexcept {
    const std::size_t p = j;
    if (s.size() - j >= 5) {  // the usual 1 to 4 digits followed by something else: no overflow possible
        const char* const q = s.data() + j;
        const auto digit = [q](int k) { return static_cast<unsigned>(static_cast<unsigned char>(q[k]) - '0'); };
        const unsigned d0 = digit(0);
        const unsigned d1 = digit(1);
        if (d0 <= 9) {
            std::size_t k = 1;
            unsigned v = d0;
            if (d1 <= 9) {
                v = v * 10 + d1;
                k = 2;
                if (digit(2) <= 9) {
                    v = v * 10 + digit(2);
                    k = 3;
                    if (digit(3) <= 9) {
                        v = v * 10 + digit(3);
                        k = 4;
                    }
                }
            }
            if (k < 4 || digit(4) > 9) {
                port = static_cast<std::uint16_t>(v);
                j += k;
                return true;
            }
        }
    }
    std::uint32_t v = 0;
    bool overflow = false;
    for (; j < s.size() && is_digit(s[j]); ++j) {
        v = v * 10 + static_cast<unsigned>(s[j] - '0');
        if (v > 65535) {
            overflow = true;
            v = 65536;  // stays above the limit without wrapping, however many digits follow
        }
    }
    if (j == p || overflow) return false;
    port = static_cast<std::uint16_t>(v);
    return true;
}

}  // namespace sipvoice::sip::detail
