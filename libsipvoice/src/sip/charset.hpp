// Character classes of the RFC 3261 §25.1 grammar, as one 256-entry table of bit flags, and the
// small scanning helpers every sip/ parser shares. Internal to the library.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

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
    return t;
}

inline constexpr std::array<std::uint16_t, 256> char_table = make_char_table();

constexpr bool is(char c, std::uint16_t flags) noexcept {
    return (char_table[static_cast<unsigned char>(c)] & flags) != 0;
}
constexpr bool is_ws(char c) noexcept { return is(c, c_ws); }
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_token_char(char c) noexcept { return is(c, c_token); }

constexpr char to_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

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

// Length of the quoted-string starting at s[i] == '"' including both quotes, or 0 when unterminated.
// quoted-pair = "\" %x00-09 / %x0B-0C / %x0E-7F (RFC 3261 §25.1).
constexpr std::size_t quoted_length(std::string_view s, std::size_t i) noexcept {
    std::size_t j = i + 1;
    while (j < s.size()) {
        const char c = s[j];
        if (c == '"') return j + 1 - i;
        if (c == '\\') {
            if (j + 1 >= s.size()) return 0;
            const auto n = static_cast<unsigned char>(s[j + 1]);
            if (n > 0x7f || n == '\r' || n == '\n') return 0;
            j += 2;
            continue;
        }
        j += 1;
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

}  // namespace sipvoice::sip::detail
