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

// The host at p: the run of c_hostchar bytes and its host_kind(), what the URI and Via parsers used to
// get from a scan of the run followed by host_kind() over it, in one pass for the usual hosts (a
// dotted quad, or a name whose top label is not all digits). Anything else (hosts beginning with a
// digit that are no IPv4 address, empty labels) goes through the two-pass original. Returns the
// length of the run; `kind` is host_type::none when the run is no valid host. No IPv6 references.
inline std::size_t scan_host(const char* p, std::size_t n, host_type& kind) noexcept {
    if (n != 0 && is_digit(p[0])) {
        // IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT, parsed as ipv4_address() does
        // (greedy parts, each at most 255); it is the whole run when no host character follows.
        const char* q = p;
        const char* const end = p + n;
        int part = 0;
        for (; part < 4; ++part) {
            // 1 to 3 digits (the caller saw the first digit of the first part), unrolled.
            if (q == end || !is_digit(*q)) break;
            unsigned v = static_cast<unsigned>(*q++ - '0');
            if (q != end && is_digit(*q)) {
                v = v * 10 + static_cast<unsigned>(*q++ - '0');
                if (q != end && is_digit(*q)) v = v * 10 + static_cast<unsigned>(*q++ - '0');
            }
            if (v > 255) break;
            if (part < 3) {
                if (q == end || *q != '.') break;
                ++q;
            }
        }
        if (part == 4 && (q == end || !is(*q, c_hostchar))) {
            kind = host_type::ipv4;
            return static_cast<std::size_t>(q - p);
        }
    } else {
        // hostname: labels of host characters, single dots between them, an optional trailing dot,
        // and a top label that is not all digits (hostname() above). Label by label: each one is a
        // run of c_label bytes (a table lookup per byte), then a dot or the end of the host.
        const char* q = p;
        const char* const end = p + n;
        const char* top = p;  // the last non-empty label
        const char* top_end = p;
        for (;;) {
            const char* const label = q;
            q += class_run<c_label>(q, static_cast<std::size_t>(end - q));
            if (q == label) break;  // an empty label: at the start, after a dot, or a dot after a dot
            top = label;
            top_end = q;
            if (q == end || *q != '.') break;
            ++q;
        }
        // The run of host characters ended here unless an empty label stopped the scan at a dot (or a
        // label at a '.'-less host character, which c_label holds all of): the original decides those.
        if ((q == end || !is(*q, c_hostchar)) && top_end != p) {
            bool top_digits = true;
            for (const char* c = top; c != top_end; ++c) top_digits = top_digits && is_digit(*c);
            kind = top_digits ? host_type::none : host_type::name;
            return static_cast<std::size_t>(q - p);
        }
        if (q == p && (q == end || !is(*q, c_hostchar))) {  // no host character at all
            kind = host_type::none;
            return 0;
        }
    }
    std::size_t i = 0;
    while (i < n && is(p[i], c_hostchar)) ++i;
    kind = host_kind(std::string_view(p, i));
    return i;
}

}  // namespace sipvoice::sip::detail
