// Internal: host classification (RFC 3261 §25.1 host, RFC 5118), inline because every Via, URI and
// received= goes through it. The public wrappers are in uri.cpp.
#pragma once

#include <algorithm>
#include <string_view>

#include "charset.hpp"
#include "sipvoice/sip/uri.hpp"

namespace sipvoice::sip::detail {

inline bool all_digits_and_dots(std::string_view s) noexcept {
    return std::all_of(s.begin(), s.end(), [](char c) { return is_digit(c) || c == '.'; });
}

inline bool hostname(std::string_view s) noexcept {
    // *( domainlabel "." ) toplabel [ "." ]: non-empty labels of alphanum / "-" (and "_", seen in the
    // wild); the top label must not be all digits (that would be a malformed IPv4 address).
    if (!s.empty() && s.back() == '.') s.remove_suffix(1);
    if (s.empty() || s.front() == '.') return false;
    bool top_all_digits = true;
    char prev = '.';
    for (const char c : s) {
        if (c == '.') {
            if (prev == '.') return false;  // empty label
            top_all_digits = true;
        } else if (is(c, c_hostchar)) {
            top_all_digits = top_all_digits && is_digit(c);
        } else {
            return false;
        }
        prev = c;
    }
    return !top_all_digits;
}

inline bool ipv4_address(std::string_view s) noexcept {
    // dotted quad, each part 1-3 digits, at most 255 (RFC 3261 §25.1 IPv4address)
    const char* p = s.data();
    const char* const end = p + s.size();
    for (int part = 0; part < 4; ++part) {
        if (p == end || !is_digit(*p)) return false;
        unsigned v = static_cast<unsigned>(*p++ - '0');
        for (int k = 0; k < 2 && p != end && is_digit(*p); ++k) v = v * 10 + static_cast<unsigned>(*p++ - '0');
        if (v > 255) return false;
        if (part < 3) {
            if (p == end || *p != '.') return false;
            ++p;
        }
    }
    return p == end;
}

inline host_type host_kind(std::string_view h) noexcept {
    if (h.empty()) return host_type::none;
    if (h.front() == '[') {
        if (h.size() < 3 || h.back() != ']') return host_type::none;
        return is_ipv6_address(h.substr(1, h.size() - 2)) ? host_type::ipv6 : host_type::none;
    }
    if (is_digit(h.front())) {
        if (ipv4_address(h)) return host_type::ipv4;
        if (all_digits_and_dots(h)) return host_type::none;
    }
    return hostname(h) ? host_type::name : host_type::none;
}

}  // namespace sipvoice::sip::detail
