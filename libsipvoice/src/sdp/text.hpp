// Internal: the few character helpers the sdp/ parser and negotiator share. The sip/ layer has its own
// in its private charset.hpp; SDP's grammar (RFC 8866 §9) is different enough (token-char, no LWS
// folding, byte-string values) that sharing would only couple the two layers' internals.
#pragma once

#include <charconv>
#include <cstdint>
#include <limits>
#include <string_view>

namespace sipvoice::sdp::detail {

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }
constexpr char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 8866 §9 token-char: %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E.
constexpr bool is_token_char(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return u == 0x21 || (u >= 0x23 && u <= 0x27) || u == 0x2A || u == 0x2B || u == 0x2D || u == 0x2E ||
           (u >= 0x30 && u <= 0x39) || (u >= 0x41 && u <= 0x5A) || (u >= 0x5E && u <= 0x7E);
}

constexpr bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_token_char(c)) return false;
    return true;
}

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

constexpr bool icontains(std::string_view haystack, std::string_view needle) noexcept {
    if (needle.size() > haystack.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i)
        if (iequals(haystack.substr(i, needle.size()), needle)) return true;
    return false;
}

constexpr std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (is_space(s.front()) || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (is_space(s.back()) || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

constexpr std::string_view trim_left(std::string_view s) noexcept {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    return s;
}

// The next whitespace-separated word of s (runs of SP/HTAB separate words), consumed from s.
constexpr std::string_view next_word(std::string_view& s) noexcept {
    s = trim_left(s);
    std::size_t n = 0;
    while (n < s.size() && !is_space(s[n])) ++n;
    const std::string_view word = s.substr(0, n);
    s.remove_prefix(n);
    s = trim_left(s);
    return word;
}

// 1*DIGIT into an unsigned type, false on anything else or overflow.
template <class T>
bool parse_number(std::string_view s, T& out) noexcept {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_digit(c)) return false;
    std::uint64_t v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc{} || r.ptr != s.data() + s.size()) return false;
    if (v > std::numeric_limits<T>::max()) return false;
    out = static_cast<T>(v);
    return true;
}

}  // namespace sipvoice::sdp::detail
