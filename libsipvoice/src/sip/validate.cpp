// Message validation for user agents (RFC 3261 §8.2) and proxies (§16.3). See validate.hpp.
#include "sipvoice/sip/validate.hpp"

#include <algorithm>
#include <bitset>
#include <string>

#include "charset.hpp"
#include "sipvoice/sip/builder.hpp"

namespace sipvoice::sip {
namespace {
using namespace detail;

bool contains_ci(std::span<const std::string_view> set, std::string_view item) {
    return std::any_of(set.begin(), set.end(), [&](std::string_view s) { return iequals(s, item); });
}

// Parses every element of one header line as T. Returns the first error (offset relative to value).
template <class T>
error check_elements(header_id id, std::string_view value) {
    if (value.empty() && may_be_empty(id)) return {};
    if (!is_list_header(id)) {
        T out{};
        return parse_value(value, out);
    }
    std::string_view rest = value;
    std::string_view element;
    bool more = true;
    while (more) {
        more = next_list_element(rest, element);
        const auto at = static_cast<std::uint32_t>(element.data() - value.data());
        if (element.empty()) return {errc::bad_list, at};
        T out{};
        error e = parse_value(element, out);
        if (e.failed()) {
            e.offset += at;
            return e;
        }
    }
    return {};
}

error check_number(std::string_view value, std::uint32_t max) {
    std::uint32_t v = 0;
    return parse_number(value, max, v);
}

// Retry-After = delta-seconds [ comment ] *( SEMI retry-param )   (RFC 3261 §20.33)
error check_retry_after(std::string_view value) {
    std::size_t end = 0;
    while (end < value.size() && is_digit(value[end])) ++end;
    if (end == 0) return {errc::bad_number, 0};
    return check_number(value.substr(0, end), max_delta_seconds);
}

// The typed syntax check of one header line; headers the stack does not interpret pass unchecked.
error check_field(header_id id, std::string_view value) {
    switch (id) {
        case header_id::via: return check_elements<via>(id, value);
        case header_id::from:
        case header_id::to:
        case header_id::refer_to:
        case header_id::referred_by:
        case header_id::reply_to:
        case header_id::route:
        case header_id::record_route:
        case header_id::path:
        case header_id::service_route:
        case header_id::p_asserted_identity:
        case header_id::p_preferred_identity: return check_elements<name_addr>(id, value);
        case header_id::contact: return check_elements<contact>(id, value);
        case header_id::call_id: return parse_call_id(value);
        case header_id::cseq: return check_elements<cseq>(id, value);
        case header_id::max_forwards: return check_number(value, max_max_forwards);
        case header_id::content_length:
        case header_id::expires:
        case header_id::min_expires:
        case header_id::min_se:
        case header_id::rseq: return check_number(value, max_delta_seconds);
        case header_id::retry_after: return check_retry_after(value);
        case header_id::content_type:
        case header_id::accept: return check_elements<media_type>(id, value);
        case header_id::allow:
        case header_id::allow_events:
        case header_id::supported:
        case header_id::require:
        case header_id::proxy_require:
        case header_id::unsupported:
        case header_id::content_encoding:
        case header_id::accept_encoding: return check_elements<token>(id, value);
        case header_id::www_authenticate:
        case header_id::proxy_authenticate:
        case header_id::authorization:
        case header_id::proxy_authorization: return check_elements<auth_value>(id, value);
        case header_id::reason: return check_elements<reason>(id, value);
        case header_id::session_expires: return check_elements<session_expires>(id, value);
        case header_id::event: return check_elements<event>(id, value);
        case header_id::date: {
            std::int64_t t = 0;
            return parse_date(value, t);
        }
        default: return {};
    }
}

bool is_broadcast_or_multicast(std::string_view host) {
    if (host.size() > 2 && host.front() == '[') {  // IPv6: ff00::/8 (RFC 4291 §2.7)
        return host.size() > 3 && (host[1] == 'f' || host[1] == 'F') && (host[2] == 'f' || host[2] == 'F');
    }
    if (!is_ipv4_address(host)) return false;
    if (host == "255.255.255.255") return true;
    int first = 0;
    for (std::size_t i = 0; i < host.size() && is_digit(host[i]); ++i) first = first * 10 + (host[i] - '0');
    return first >= 224 && first <= 239;  // RFC 5771 multicast
}

// A qvalue of zero ("0", "0.", "0.0", "0.000") means "not acceptable" (RFC 3261 §20.1).
bool zero_qvalue(std::string_view q) {
    if (q.empty() || q[0] != '0') return false;
    for (std::size_t i = 1; i < q.size(); ++i)
        if (q[i] != '.' && q[i] != '0') return false;
    return true;
}

}  // namespace

namespace {
verdict judge(const message& m, const validation_policy& policy) {
    verdict v;
    const bool request = m.is_request();
    auto respond = [&](int status, std::string detail) {
        v.action = action::respond;
        v.status = status;
        v.reason = reason_phrase(status);
        v.detail = std::move(detail);
        return v;
    };
    auto malformed = [&](errc code, std::uint32_t offset, std::string detail) {
        v.malformed = true;
        v.where = m.locate({code, offset});
        v.detail = std::move(detail);
        if (request) {
            v.action = action::respond;
            v.status = 400;
            v.reason = reason_phrase(400);
        } else {
            v.action = action::drop;  // RFC 3261 §18.1.2: a malformed response is discarded
        }
        return v;
    };

    // ---- 1. syntax: required headers (RFC 3261 §8.1.1), single-valued headers, typed values
    static constexpr header_id required[] = {header_id::via, header_id::from, header_id::to, header_id::call_id,
                                             header_id::cseq};
    for (header_id id : required)
        if (!m.has(id)) return malformed(errc::missing_header, 0, std::string(canonical_name(id)));

    std::bitset<header_id_count> seen;
    for (const header_field& f : m.fields()) {
        const auto index = static_cast<std::size_t>(f.id);
        if (is_single_header(f.id)) {
            if (seen.test(index))
                return malformed(errc::duplicate_header, f.name_offset, std::string(canonical_name(f.id)));
            seen.set(index);
        }
        const error e = check_field(f.id, m.value(f));
        if (e.failed())
            return malformed(e.code, f.value_offset + e.offset, std::string(canonical_name(f.id)));
    }

    auto cs = m.cseq();
    if (request) {
        // RFC 3261 §8.1.1.5: the CSeq method matches the request method.
        if (cs->method != m.method_name())
            return malformed(errc::cseq_method_mismatch, m.find(header_id::cseq)->value_offset,
                             "CSeq " + std::string(cs->method) + ", request " + std::string(m.method_name()));
        // RFC 3261 §19.1.1 table: headers are not allowed in a Request-URI.
        if (m.request_uri().is_sip() && !m.request_uri().headers.empty())
            return malformed(errc::bad_request_uri,
                             static_cast<std::uint32_t>(m.request_uri().headers.data() - m.bytes().data()),
                             "headers in the Request-URI");
    } else {
        // ---- responses
        // The second Via is where a proxy would forward the response.
        auto second = m.vias().begin();
        if (second != m.vias().end()) ++second;
        if (second == m.vias().end()) return v;
        if (policy.role == role::user_agent) {
            v.action = action::drop;  // RFC 3261 §8.1.3.3
            v.where = m.locate({errc::bad_header_value, second.offset()});
            v.detail = "response with more than one Via";
            return v;
        }
        if (auto next = *second; next && is_broadcast_or_multicast(next->host)) {
            v.action = action::drop;  // RFC 4475 §3.3.10: never forward to a broadcast address
            v.where = m.locate({errc::bad_host, second.offset()});
            v.detail = "next Via sent-by is a broadcast or multicast address";
            return v;
        }
        return v;
    }

    // ---- 2. version (RFC 3261 §8.2, §21.5.6)
    if (!iequals(m.version(), "SIP/2.0")) return respond(505, "version " + std::string(m.version()));

    // ---- 3. method (RFC 3261 §8.2.1); a proxy forwards methods it does not know (§16.3)
    // RFC 3261 §7.1: the method token is case-sensitive, so "invite" is an unknown extension method.
    const auto& allowed = policy.allowed_methods;
    if (std::find(allowed.begin(), allowed.end(), m.method_name()) == allowed.end()) {
        const bool known = m.method() != method::other;
        return respond(known ? 405 : 501, "method " + std::string(m.method_name()));
    }
    const bool ack_or_cancel = m.method() == method::ack || m.method() == method::cancel;

    // ---- 4. Request-URI scheme (RFC 3261 §8.2.2.1)
    if (m.request_uri().scheme == uri_scheme::other)
        return respond(416, "Request-URI scheme " + std::string(m.request_uri().scheme_name));

    // ---- 5. Max-Forwards at a proxy (§16.3 step 3), then extensions (RFC 3261 §8.2.2.3, §16.3 step 5)
    if (policy.role == role::proxy) {
        auto mf = m.max_forwards();
        if (mf && *mf == 0 && m.method() != method::options) return respond(483, "Max-Forwards is 0");
    }
    if (!ack_or_cancel) {
        std::string unsupported;
        auto collect = [&](header_values<token> values) {
            for (auto t : values) {
                if (!t || contains_ci(policy.supported_extensions, t->text)) continue;
                if (!unsupported.empty()) unsupported.append(", ");
                unsupported.append(t->text);
            }
        };
        collect(policy.role == role::user_agent ? m.require() : m.proxy_require());
        if (!unsupported.empty()) {
            v = respond(420, "unsupported extensions: " + unsupported);
            v.unsupported = std::move(unsupported);
            return v;
        }
    }

    // ---- 6. credentials in a scheme we cannot check (RFC 4475 §3.3.7)
    if (policy.authenticates && !ack_or_cancel) {
        auto unknown_scheme = [](header_values<auth_value> values) {
            for (auto a : values)
                if (a && !iequals(a->scheme, "Digest")) return true;
            return false;
        };
        if (policy.role == role::user_agent && unknown_scheme(m.authorization()))
            return respond(401, "Authorization in an unknown scheme");
        if (policy.role == role::proxy && unknown_scheme(m.proxy_authorization()))
            return respond(407, "Proxy-Authorization in an unknown scheme");
    }

    // ---- 7. body (RFC 3261 §8.2.3) and what the answer may carry (RFC 4475 §3.3.15)
    if (policy.role == role::user_agent) {
        if (!m.body().empty()) {
            auto ct = m.content_type();
            if (!ct) return respond(415, "body without Content-Type");
            bool ok = false;
            for (std::string_view accepted : policy.accepted_content_types) {
                const std::size_t slash = accepted.find('/');
                if (ct->matches(accepted.substr(0, slash), accepted.substr(slash + 1))) ok = true;
            }
            if (!ok) return respond(415, "Content-Type " + std::string(ct->type) + "/" + std::string(ct->subtype));
            for (auto enc : header_values<token>(&m, header_id::content_encoding))
                if (enc && !contains_ci(policy.accepted_encodings, enc->text))
                    return respond(415, "Content-Encoding " + std::string(enc->text));
        }
        if (m.method() == method::invite && m.has(header_id::accept)) {
            bool sdp = false;
            for (auto range : m.accept())
                if (range && range->matches("application", "sdp") && !zero_qvalue(range->params.get("q", "1")))
                    sdp = true;
            if (!sdp) return respond(406, "Accept excludes application/sdp");
        }
    }
    return v;
}
}  // namespace

verdict validate(const message& m, const validation_policy& policy) {
    verdict v = judge(m, policy);
    // An ACK is never answered (RFC 3261 §17.2.3 and §12.2.2 absorb or drop it); a bad one is dropped.
    if (m.is_request() && m.method() == method::ack && v.action == action::respond) v.action = action::drop;
    return v;
}

}  // namespace sipvoice::sip
