// JSON descriptions of parsed SIP messages.
#include "describe.hpp"

#include <string>

#include "sipvoice/sip/headers.hpp"

namespace sipvoice::cli {
namespace {

using json = nlohmann::ordered_json;

// nlohmann::json insists on valid UTF-8; SIP values may hold any octet (RFC 4475 intmeth.dat).
std::string printable(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c < 0x7f) {
            out.push_back(ch);
        } else {
            static constexpr char hex[] = "0123456789ABCDEF";
            out += "\\x";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

json describe_params(const sip::param_list& params) {
    json out = json::object();
    for (const sip::param& p : params) out[printable(p.name)] = p.has_value ? json(printable(p.value)) : json(true);
    return out;
}

json describe_name_addr(const sip::name_addr& na) {
    json out;
    if (!na.display_name.empty()) out["display_name"] = printable(na.display());
    out["uri"] = describe_uri(na.address);
    if (!na.params.empty()) out["params"] = describe_params(na.params);
    return out;
}

json error_json(sip::error e) { return json{{"error", std::string(sip::describe(e.code))}}; }

template <class T, class F>
json describe_value(std::string_view text, F&& fn) {
    T v{};
    const sip::error e = sip::parse_value(text, v);
    if (e.failed()) return error_json(e);
    return fn(v);
}

json describe_number(std::string_view text, std::uint32_t max) {
    std::uint32_t n = 0;
    const sip::error e = sip::parse_number(text, max, n);
    return e.failed() ? error_json(e) : json(n);
}

json typed(sip::header_id id, std::string_view text) {
    using sip::header_id;
    switch (id) {
        case header_id::via:
            return describe_value<sip::via>(text, [](const sip::via& v) {
                json o{{"protocol", printable(v.protocol_name) + "/" + printable(v.protocol_version)},
                       {"transport", printable(v.transport)},
                       {"host", printable(v.host)}};
                if (v.has_port) o["port"] = v.port;
                if (!v.branch.empty()) o["branch"] = printable(v.branch);
                if (!v.received.empty()) o["received"] = printable(v.received);
                if (v.has_rport) o["rport"] = v.rport == 0 ? json(true) : json(v.rport);
                if (!v.maddr.empty()) o["maddr"] = printable(v.maddr);
                if (v.ttl >= 0) o["ttl"] = v.ttl;
                return o;
            });
        case header_id::from:
        case header_id::to:
        case header_id::route:
        case header_id::record_route:
        case header_id::refer_to:
        case header_id::referred_by:
        case header_id::reply_to:
        case header_id::path:
        case header_id::service_route:
        case header_id::p_asserted_identity:
        case header_id::p_preferred_identity:
            return describe_value<sip::name_addr>(text, describe_name_addr);
        case header_id::contact:
            return describe_value<sip::contact>(text, [](const sip::contact& c) {
                if (c.star) return json("*");
                json o = describe_name_addr(c.address);
                if (c.has_expires()) o["expires"] = c.expires;
                if (c.q >= 0) o["q"] = c.q / 1000.0;
                return o;
            });
        case header_id::cseq:
            return describe_value<sip::cseq>(text, [](const sip::cseq& c) {
                return json{{"number", c.number}, {"method", printable(c.method)}};
            });
        case header_id::call_id: {
            const sip::error e = sip::parse_call_id(text);
            return e.failed() ? error_json(e) : json(printable(text));
        }
        case header_id::max_forwards: return describe_number(text, sip::max_max_forwards);
        case header_id::content_length:
        case header_id::expires:
        case header_id::min_expires:
        case header_id::min_se: return describe_number(text, sip::max_delta_seconds);
        case header_id::content_type:
        case header_id::accept:
            return describe_value<sip::media_type>(text, [](const sip::media_type& m) {
                json o{{"type", printable(m.type) + "/" + printable(m.subtype)}};
                if (!m.params.empty()) o["params"] = describe_params(m.params);
                return o;
            });
        case header_id::allow:
        case header_id::supported:
        case header_id::require:
        case header_id::proxy_require:
        case header_id::unsupported:
        case header_id::allow_events:
            return describe_value<sip::token>(text, [](const sip::token& t) { return json(printable(t.text)); });
        case header_id::www_authenticate:
        case header_id::proxy_authenticate:
        case header_id::authorization:
        case header_id::proxy_authorization:
            return describe_value<sip::auth_value>(text, [](const sip::auth_value& a) {
                json o{{"scheme", printable(a.scheme)}};
                if (!a.token68.empty()) o["token68"] = printable(a.token68);
                json params = json::object();
                a.params.for_each([&](const sip::param& p) { params[printable(p.name)] = printable(p.value); });
                if (!params.empty()) o["params"] = params;
                return o;
            });
        case header_id::reason:
            return describe_value<sip::reason>(text, [](const sip::reason& r) {
                json o{{"protocol", printable(r.protocol)}};
                if (r.cause >= 0) o["cause"] = r.cause;
                if (!r.text.empty()) o["text"] = printable(r.text);
                return o;
            });
        case header_id::session_expires:
            return describe_value<sip::session_expires>(text, [](const sip::session_expires& s) {
                json o{{"delta", s.delta}};
                if (!s.refresher.empty()) o["refresher"] = printable(s.refresher);
                return o;
            });
        case header_id::event:
            return describe_value<sip::event>(text, [](const sip::event& e) {
                json o{{"package", printable(e.package)}};
                if (!e.id.empty()) o["id"] = printable(e.id);
                return o;
            });
        case header_id::subscription_state:
            return describe_value<sip::subscription_state>(text, [](const sip::subscription_state& st) {
                json o{{"state", printable(st.state)}};
                if (st.has_expires()) o["expires"] = st.expires;
                if (!st.reason.empty()) o["reason"] = printable(st.reason);
                return o;
            });
        default: return nullptr;
    }
}

}  // namespace

json describe_uri(const sip::uri& u) {
    json o{{"scheme", printable(u.scheme_name)}};
    if (u.scheme == sip::uri_scheme::other) {
        o["opaque"] = printable(u.opaque);
        return o;
    }
    if (u.has_user) o["user"] = printable(sip::unescape(u.user));
    if (u.has_password) o["password"] = printable(sip::unescape(u.password));
    if (!u.host.empty()) o["host"] = printable(u.host);
    if (u.has_port) o["port"] = u.port;
    if (!u.params.empty()) o["params"] = describe_params(u.params);
    if (!u.headers.empty()) o["headers"] = printable(u.headers);
    return o;
}

json describe_message(const sip::message& m) {
    json out;
    if (m.is_request()) {
        out["type"] = "request";
        out["method"] = printable(m.method_name());
        out["request_uri"] = printable(m.request_uri().text);
        out["request_uri_parts"] = describe_uri(m.request_uri());
    } else {
        out["type"] = "response";
        out["status"] = m.status();
        out["reason"] = printable(m.reason_phrase());
    }
    out["version"] = printable(m.version());
    json headers = json::array();
    for (const sip::header_field& f : m.fields()) {
        json h{{"name", f.id == sip::header_id::other ? printable(m.name(f)) : std::string(sip::canonical_name(f.id))},
               {"value", printable(m.value(f))},
               {"line", f.line}};
        const std::string_view value = m.value(f);
        if (sip::is_list_header(f.id)) {
            json elements = json::array();
            std::string_view rest = value;
            std::string_view element;
            bool more = !(value.empty() && sip::may_be_empty(f.id));
            while (more) {
                more = sip::next_list_element(rest, element);
                elements.push_back(typed(f.id, element));
            }
            if (!elements.empty() && !elements[0].is_null()) h["parsed"] = elements;
        } else if (json t = typed(f.id, value); !t.is_null()) {
            h["parsed"] = t;
        }
        headers.push_back(h);
    }
    out["headers"] = headers;
    out["body_length"] = m.body().size();
    if (m.trailing_bytes() > 0) out["ignored_trailing_bytes"] = m.trailing_bytes();
    return out;
}

json describe_verdict(const sip::verdict& v) {
    json out;
    switch (v.action) {
        case sip::action::accept: out["action"] = "accept"; break;
        case sip::action::respond: out["action"] = "respond"; break;
        case sip::action::drop: out["action"] = "drop"; break;
    }
    if (v.action == sip::action::respond) {
        out["status"] = v.status;
        out["reason"] = std::string(v.reason);
    }
    out["malformed"] = v.malformed;
    if (!v.detail.empty()) out["detail"] = printable(v.detail);
    if (!v.unsupported.empty()) out["unsupported"] = printable(v.unsupported);
    if (v.where.failed()) {
        out["line"] = v.where.line;
        out["column"] = v.where.column;
    }
    return out;
}

}  // namespace sipvoice::cli
