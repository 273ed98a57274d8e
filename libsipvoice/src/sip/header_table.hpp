// Internal: the table of header names (canonical, compact, grammar flags) and the name lookup,
// inline so that the message parser looks each header line's name up without a call.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "charset.hpp"
#include "sipvoice/sip/headers.hpp"

namespace sipvoice::sip::detail {

enum : std::uint8_t { f_list = 1, f_single = 2, f_may_be_empty = 4 };

struct header_info {
    header_id id;
    std::string_view name;
    char compact;
    std::uint8_t flags;
};

constexpr header_info header_table[] = {
    {header_id::other, "", 0, 0},
    {header_id::accept, "Accept", 0, f_list | f_may_be_empty},
    {header_id::accept_encoding, "Accept-Encoding", 0, f_list | f_may_be_empty},
    {header_id::accept_language, "Accept-Language", 0, f_list | f_may_be_empty},
    {header_id::alert_info, "Alert-Info", 0, f_list},
    {header_id::allow, "Allow", 0, f_list | f_may_be_empty},
    {header_id::allow_events, "Allow-Events", 'u', f_list},
    {header_id::authentication_info, "Authentication-Info", 0, f_single},
    {header_id::authorization, "Authorization", 0, 0},
    {header_id::call_id, "Call-ID", 'i', f_single},
    {header_id::call_info, "Call-Info", 0, f_list},
    {header_id::contact, "Contact", 'm', f_list},
    {header_id::content_disposition, "Content-Disposition", 0, f_single},
    {header_id::content_encoding, "Content-Encoding", 'e', f_list},
    {header_id::content_language, "Content-Language", 0, f_list},
    {header_id::content_length, "Content-Length", 'l', f_single},
    {header_id::content_type, "Content-Type", 'c', f_single},
    {header_id::cseq, "CSeq", 0, f_single},
    {header_id::date, "Date", 0, f_single},
    {header_id::error_info, "Error-Info", 0, f_list},
    {header_id::event, "Event", 'o', f_single},
    {header_id::expires, "Expires", 0, f_single},
    {header_id::from, "From", 'f', f_single},
    {header_id::identity, "Identity", 'y', f_single},
    {header_id::in_reply_to, "In-Reply-To", 0, f_list},
    {header_id::max_forwards, "Max-Forwards", 0, f_single},
    {header_id::mime_version, "MIME-Version", 0, f_single},
    {header_id::min_expires, "Min-Expires", 0, f_single},
    {header_id::min_se, "Min-SE", 0, f_single},
    {header_id::organization, "Organization", 0, f_single | f_may_be_empty},
    {header_id::p_asserted_identity, "P-Asserted-Identity", 0, f_list},
    {header_id::p_preferred_identity, "P-Preferred-Identity", 0, f_list},
    {header_id::path, "Path", 0, f_list},
    {header_id::priority, "Priority", 0, f_single},
    {header_id::privacy, "Privacy", 0, 0},
    {header_id::proxy_authenticate, "Proxy-Authenticate", 0, 0},
    {header_id::proxy_authorization, "Proxy-Authorization", 0, 0},
    {header_id::proxy_require, "Proxy-Require", 0, f_list},
    {header_id::rack, "RAck", 0, f_single},
    {header_id::reason, "Reason", 0, f_list},
    {header_id::record_route, "Record-Route", 0, f_list},
    {header_id::refer_to, "Refer-To", 'r', f_single},
    {header_id::referred_by, "Referred-By", 'b', f_single},
    {header_id::replaces, "Replaces", 0, f_single},
    {header_id::reply_to, "Reply-To", 0, f_single},
    {header_id::require, "Require", 0, f_list},
    {header_id::retry_after, "Retry-After", 0, f_single},
    {header_id::route, "Route", 0, f_list},
    {header_id::rseq, "RSeq", 0, f_single},
    {header_id::server, "Server", 0, f_single},
    {header_id::service_route, "Service-Route", 0, f_list},
    {header_id::session_expires, "Session-Expires", 'x', f_single},
    {header_id::subject, "Subject", 's', f_single | f_may_be_empty},
    {header_id::subscription_state, "Subscription-State", 0, f_single},
    {header_id::supported, "Supported", 'k', f_list | f_may_be_empty},
    {header_id::timestamp, "Timestamp", 0, f_single},
    {header_id::to, "To", 't', f_single},
    {header_id::unsupported, "Unsupported", 0, f_list},
    {header_id::user_agent, "User-Agent", 0, f_single},
    {header_id::via, "Via", 'v', f_list},
    {header_id::warning, "Warning", 0, f_list},
    {header_id::www_authenticate, "WWW-Authenticate", 0, 0},
};
static_assert(std::size(header_table) == header_id_count, "one table row per header_id");

consteval bool table_in_id_order() {
    for (std::size_t i = 0; i < std::size(header_table); ++i)
        if (static_cast<std::size_t>(header_table[i].id) != i) return false;
    return true;
}
static_assert(table_in_id_order(), "header_table rows must follow header_id order");

consteval bool flag_bits_agree() {
    for (const auto& h : header_table) {
        if (((h.flags & f_list) != 0) != has_header_bit(list_header_bits, h.id)) return false;
        if (((h.flags & f_may_be_empty) != 0) != has_header_bit(may_be_empty_bits, h.id)) return false;
    }
    return true;
}
static_assert(flag_bits_agree(), "list_header_bits / may_be_empty_bits (headers.hpp) must match header_table");

// Buckets of ids by name length, so a lookup compares against a handful of names at most. Each entry
// keeps its name lowercased and an OR-mask (0x20 for letters, 0 for '-'): (input | mask) == lower then
// compares letters case-insensitively and '-' exactly, 4 or 8 bytes at a time.
constexpr std::size_t max_name_length = 24;
struct name_key {
    header_id id = header_id::other;
    std::size_t length = 0;
    std::array<char, max_name_length> lower{};
    std::array<char, max_name_length> mask{};
};
struct length_buckets {
    std::array<std::array<name_key, 8>, max_name_length + 1> keys{};
    std::array<std::uint8_t, max_name_length + 1> count{};
};
consteval length_buckets make_buckets() {
    length_buckets b{};
    for (const auto& h : header_table) {
        if (h.name.empty() || h.name.size() > max_name_length) continue;
        name_key k;
        k.id = h.id;
        k.length = h.name.size();
        for (std::size_t i = 0; i < h.name.size(); ++i) {
            const char c = h.name[i];
            const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
            k.lower[i] = letter ? static_cast<char>(c | 0x20) : c;
            k.mask[i] = letter ? 0x20 : 0;
        }
        b.keys[h.name.size()][b.count[h.name.size()]++] = k;
    }
    return b;
}
constexpr length_buckets buckets = make_buckets();

template <class W>
inline bool chunk_equal(const char* name, const name_key& k, std::size_t at) noexcept {
    W x;
    W m;
    W l;
    std::memcpy(&x, name + at, sizeof(W));
    std::memcpy(&m, k.mask.data() + at, sizeof(W));
    std::memcpy(&l, k.lower.data() + at, sizeof(W));
    return static_cast<W>(x | m) == l;
}

inline bool key_equal(std::string_view name, const name_key& k) noexcept {
    const std::size_t n = name.size();
    const char* p = name.data();
    if (n >= 8) {
        for (std::size_t i = 0; i + 8 <= n; i += 8)
            if (!chunk_equal<std::uint64_t>(p, k, i)) return false;
        return chunk_equal<std::uint64_t>(p, k, n - 8);
    }
    if (n >= 4) return chunk_equal<std::uint32_t>(p, k, 0) && chunk_equal<std::uint32_t>(p, k, n - 4);
    for (std::size_t i = 0; i < n; ++i)
        if (static_cast<char>(p[i] | k.mask[i]) != k.lower[i]) return false;
    return true;
}

constexpr std::array<header_id, 26> make_compact() {
    std::array<header_id, 26> c{};
    for (const auto& h : header_table)
        if (h.compact != 0) c[static_cast<std::size_t>(h.compact - 'a')] = h.id;
    return c;
}
constexpr std::array<header_id, 26> compact_ids = make_compact();


// Any spelling (full or compact, any case) to its id: lookup_header().
inline header_id find_header_id(std::string_view name) noexcept {
    if (name.size() == 1) {
        const char c = to_lower(name[0]);
        return (c >= 'a' && c <= 'z') ? compact_ids[static_cast<std::size_t>(c - 'a')] : header_id::other;
    }
    // An empty name (": value") must not read name[0]: string_view{} has no storage at all.
    if (name.empty() || name.size() > max_name_length) return header_id::other;
    const auto& keys = buckets.keys[name.size()];
    const char first = static_cast<char>(name[0] | 0x20);
    for (std::size_t i = 0; i < buckets.count[name.size()]; ++i)
        if (keys[i].lower[0] == first && key_equal(name, keys[i])) return keys[i].id;
    return header_id::other;
}

}  // namespace sipvoice::sip::detail
