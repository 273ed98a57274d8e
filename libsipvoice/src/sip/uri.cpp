// URIs: sip/sips (RFC 3261 §19.1, §25.1), tel (RFC 3966), everything else opaque (RFC 3986 §3).
#include "sipvoice/sip/uri.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "charset.hpp"
#include "host.hpp"
#include "parse_into.hpp"
#include "uri_parse.hpp"

namespace sipvoice::sip {
using namespace detail;

bool is_ipv4_address(std::string_view s) noexcept { return ipv4_address(s); }

bool is_ipv6_address(std::string_view s) noexcept {
    // RFC 4291 §2.2 text forms, incl. "::" once and a trailing dotted IPv4 address.
    if (s.size() < 2) return false;
    int groups = 0;
    bool compressed = false;
    std::size_t i = 0;
    if (s.substr(0, 2) == "::") {
        compressed = true;
        i = 2;
        if (i == s.size()) return true;
    } else if (s[0] == ':') {
        return false;
    }
    while (i < s.size()) {
        std::size_t j = i;
        while (j < s.size() && is(s[j], c_hex) && j - i < 5) ++j;
        if (j < s.size() && s[j] == '.') {  // embedded IPv4 as the last 32 bits
            if (!is_ipv4_address(s.substr(i))) return false;
            groups += 2;
            i = s.size();
            break;
        }
        if (j == i || j - i > 4) return false;
        ++groups;
        if (j == s.size()) {
            i = j;
            break;
        }
        if (s[j] != ':') return false;
        if (j + 1 < s.size() && s[j + 1] == ':') {
            if (compressed) return false;  // "::" only once; ":::" never
            compressed = true;
            i = j + 2;
            if (i == s.size()) break;
            if (s[i] == ':') return false;
        } else {
            i = j + 1;
            if (i == s.size()) return false;  // trailing single ':'
        }
    }
    return compressed ? groups < 8 : groups == 8;
}

host_type classify_host(std::string_view h) noexcept { return host_kind(h); }

std::string_view uri::host_address() const noexcept {
    if (host_kind == host_type::ipv6 && host.size() >= 2) return host.substr(1, host.size() - 2);
    return host;
}

namespace detail {
error parse_uri_into(std::string_view text, uri& u) noexcept { return read_uri(text, u); }
}  // namespace detail

std::string_view without_headers(const uri& u) noexcept {
    const std::string_view text = u.text;
    if (u.headers.empty() || u.headers.data() <= text.data() || u.headers.data() > text.data() + text.size())
        return text;
    return text.substr(0, static_cast<std::size_t>(u.headers.data() - text.data()) - 1);  // and the '?'
}

result<uri> parse_uri(std::string_view text) noexcept {
    uri u;
    const error e = detail::parse_uri_into(text, u);
    if (e.failed()) return e;
    return u;
}

bool valid_escapes(std::string_view text) noexcept {
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') continue;
        if (text.size() - i < 3 || hex_value(text[i + 1]) < 0 || hex_value(text[i + 2]) < 0) return false;
        i += 2;
    }
    return true;
}

std::string unescape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && text.size() - i >= 3 && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

std::string escape(std::string_view text, uri_component component) {
    char_flags allowed = c_user;
    switch (component) {
        case uri_component::user: allowed = c_user; break;
        case uri_component::password: allowed = c_password; break;
        case uri_component::param: allowed = c_paramchar; break;
        case uri_component::header: allowed = c_hnvchar; break;
    }
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (is(c, allowed)) {
            out.push_back(c);
        } else {
            const auto b = static_cast<unsigned char>(c);
            out.push_back('%');
            out.push_back(hex[b >> 4]);
            out.push_back(hex[b & 15]);
        }
    }
    return out;
}

bool uri_equivalent(const uri& a, const uri& b) {
    if (a.scheme != b.scheme) return false;
    if (a.scheme == uri_scheme::other) return iequals(a.scheme_name, b.scheme_name) && a.opaque == b.opaque;
    // tel numbers compare without their visual separators (below), so not as raw user parts.
    if (a.has_user != b.has_user || (a.scheme != uri_scheme::tel && unescape(a.user) != unescape(b.user))) return false;
    if (a.scheme == uri_scheme::tel) {
        // RFC 3966 §4: numbers compare with visual separators ignored.
        auto digits = [](std::string_view s) {
            std::string d;
            for (char c : s)
                if (c != '-' && c != '.' && c != '(' && c != ')') d.push_back(to_lower(c));
            return d;
        };
        if (digits(a.user) != digits(b.user)) return false;
        // RFC 3966 §4: parameters compare by name regardless of order, a name present in one URI only
        // makes them differ, values case-insensitively (phone-context digits without separators).
        if (a.params.size() != b.params.size()) return false;
        for (const param& p : a.params) {
            const auto pa = a.params.find(p.name);  // a repeated parameter counts by its first occurrence
            const auto pb = b.params.find(p.name);
            if (!pb || pa->has_value != pb->has_value) return false;
            if (iequals(pa->name, "phone-context") && !pa->value.empty() && pa->value[0] == '+') {
                if (digits(unescape(pa->value)) != digits(unescape(pb->value))) return false;
            } else if (!iequals(unescape(pa->value), unescape(pb->value))) {
                return false;
            }
        }
        return true;
    }
    if (a.has_password != b.has_password || unescape(a.password) != unescape(b.password)) return false;
    if (!iequals(a.host, b.host)) return false;
    if (a.has_port != b.has_port || a.port != b.port) return false;
    // RFC 3261 §19.1.4: user, ttl, method, maddr and transport must match when either URI has them;
    // other parameters only when both have them.
    static constexpr std::string_view strict[] = {"user", "ttl", "method", "maddr", "transport"};
    for (std::string_view name : strict) {
        const auto pa = a.params.find(name);
        const auto pb = b.params.find(name);
        if (pa.has_value() != pb.has_value()) return false;
        if (pa && !iequals(unescape(pa->value), unescape(pb->value))) return false;
    }
    for (const param& p : a.params) {
        // A repeated parameter counts by its first occurrence, on both sides.
        const auto pa = a.params.find(p.name);
        const auto pb = b.params.find(p.name);
        if (pb && !iequals(unescape(pa->value), unescape(pb->value))) return false;
    }
    // Headers: the same set of hname=hvalue pairs.
    auto split = [](std::string_view h) {
        std::vector<std::string> items;
        std::size_t start = 0;
        while (!h.empty() && start <= h.size()) {
            const std::size_t amp = h.find('&', start);
            items.push_back(unescape(h.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start)));
            if (amp == std::string_view::npos) break;
            start = amp + 1;
        }
        std::sort(items.begin(), items.end());
        return items;
    };
    return split(a.headers) == split(b.headers);
}

}  // namespace sipvoice::sip
