// sipvoice/sip/uri.hpp: SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966), other schemes opaque.
//
//   sip:user:password@host:port;uri-parameters?headers
//
// parse_uri() validates the whole URI and returns a view whose parts point into the parsed text;
// user, password, parameter values and headers stay %-escaped (unescape() decodes them). Hosts keep
// their brackets when they are IPv6 references ("[2001:db8::1]"); host_address() strips them.
// URIs of unknown schemes ("http:", "isbn:", "soap.beep:") are kept opaque: scheme + the rest.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sipvoice/sip/error.hpp"
#include "sipvoice/sip/params.hpp"

namespace sipvoice::sip {

enum class uri_scheme : std::uint8_t { sip, sips, tel, other };
enum class host_type : std::uint8_t { none, name, ipv4, ipv6 };

struct uri {
    using initialized_by_default = void;  // every member below has its initializer (result.hpp)
    uri_scheme scheme = uri_scheme::other;
    std::string_view scheme_name;  // as written, e.g. "SIP" or "soap.beep"
    std::string_view user;         // escaped; for tel: the telephone number
    std::string_view password;     // escaped
    bool has_user = false;
    bool has_password = false;
    std::string_view host;         // as written; IPv6 references keep their brackets
    host_type host_kind = host_type::none;
    std::uint16_t port = 0;
    bool has_port = false;
    param_list params{{}, param_syntax::uri};
    std::string_view headers;      // after '?', escaped, without the '?'
    std::string_view opaque;       // for uri_scheme::other: everything after "scheme:"
    std::string_view text;         // the whole URI

    [[nodiscard]] bool is_sip() const noexcept { return scheme == uri_scheme::sip || scheme == uri_scheme::sips; }
    // The host without IPv6 brackets.
    [[nodiscard]] std::string_view host_address() const noexcept;
    [[nodiscard]] std::string_view param(std::string_view name) const noexcept { return params.get(name); }
    [[nodiscard]] bool has_param(std::string_view name) const noexcept { return params.contains(name); }
    [[nodiscard]] std::string_view transport() const noexcept { return params.get("transport"); }
    [[nodiscard]] std::string_view maddr() const noexcept { return params.get("maddr"); }
    [[nodiscard]] bool lr() const noexcept { return params.contains("lr"); }
};

result<uri> parse_uri(std::string_view text) noexcept;

// The URI as a Request-URI may carry it: without its headers ("sip:x@host?Replaces=..." ->
// "sip:x@host"; RFC 3261 §19.1.5 forbids them there, and a peer answers 400). For a target taken
// from a Contact: a dialog's remote target, a redirect's new target.
std::string_view without_headers(const uri& u) noexcept;

// RFC 3261 §19.1.4 URI comparison (sip/sips): user and password case-sensitive after unescaping, host
// case-insensitive, parameters per the rules of that section, headers compared as a set.
bool uri_equivalent(const uri& a, const uri& b);

// Host classification and validation (RFC 3261 §25.1 host, RFC 5118 §4 IPv6 references).
host_type classify_host(std::string_view host) noexcept;  // host_type::none when invalid
bool is_ipv4_address(std::string_view text) noexcept;
bool is_ipv6_address(std::string_view text) noexcept;    // without brackets

// %-escaping (RFC 3261 §25.1 escaped, RFC 3986 §2.1).
enum class uri_component : std::uint8_t { user, password, param, header };
std::string unescape(std::string_view text);
std::string escape(std::string_view text, uri_component component);
// True when every '%' in text starts a valid %HH escape.
bool valid_escapes(std::string_view text) noexcept;

}  // namespace sipvoice::sip
