// Internal: small text helpers the ua/ files share.
#pragma once

#include <cstddef>
#include <random>
#include <string>
#include <string_view>

#include "../sip/charset.hpp"
#include "sipvoice/sip/message.hpp"

namespace sipvoice::ua::detail {

// Call-IDs, tags, branches and cnonces: lowercase letters and digits from `rng` (the state machines
// own their generator so tests can seed them).
inline std::string random_token(std::mt19937_64& rng, std::size_t length) {
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::uniform_int_distribution<std::size_t> pick(0, sizeof alphabet - 2);
    std::string out;
    out.reserve(length);
    for (std::size_t i = 0; i < length; ++i) out.push_back(alphabet[pick(rng)]);
    return out;
}

// A host as it goes into a Via sent-by or a SIP URI: an IPv6 address in brackets (RFC 5118),
// anything else (or one already bracketed) as it is.
inline std::string host_reference(std::string host) {
    if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
    return host;
}

// Whether a token list (Supported, Require, Allow...) names `want`, in any case.
inline bool lists_token(const sip::header_values<sip::token>& values, std::string_view want) {
    for (auto v : values)
        if (v && sip::detail::iequals(v->text, want)) return true;
    return false;
}

}  // namespace sipvoice::ua::detail
