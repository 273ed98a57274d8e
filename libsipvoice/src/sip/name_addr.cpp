// name-addr / addr-spec (RFC 3261 §20.10, §25.1).
#include "sipvoice/sip/name_addr.hpp"

#include "charset.hpp"
#include "params_scan.hpp"
#include "parse_into.hpp"

namespace sipvoice::sip {
using namespace detail;

namespace detail {
error parse_name_addr_into(std::string_view text, name_addr& out, param_visitor visit, void* context) noexcept {
    out.text = text;
    const std::string_view s = text;
    std::size_t i = skip_ws(s, 0);
    if (i >= s.size()) return fail(errc::bad_header_value, i);

    std::size_t laquot = std::string_view::npos;
    if (s[i] == '"') {
        const std::size_t q = quoted_length(s, i);
        if (q == 0) return fail(errc::unterminated_quote, i);
        out.display_name = s.substr(i, q);
        out.quoted_display_name = true;
        const std::size_t j = skip_ws(s, i + q);
        if (j >= s.size() || s[j] != '<') return fail(errc::bad_display_name, j);
        laquot = j;
    } else {
        // *(token LWS) followed by '<' is a display name; anything else starts an addr-spec.
        std::size_t j = i;
        while (j < s.size() && (is_token_char(s[j]) || is_ws(s[j]))) ++j;
        if (j < s.size() && s[j] == '<') {
            out.display_name = trim(s.substr(i, j - i));
            laquot = j;
        }
    }

    std::size_t after = 0;
    if (laquot != std::string_view::npos) {
        out.angle_brackets = true;
        const std::size_t raquot = find_char(s, '>', laquot + 1);
        if (raquot == std::string_view::npos) return fail(errc::bad_header_value, laquot);
        // LAQUOT = SWS "<" and RAQUOT = ">" SWS: no whitespace inside the brackets (RFC 4475 §3.1.2.14).
        const error ue = parse_uri_into(s.substr(laquot + 1, raquot - laquot - 1), out.address);
        if (ue.failed()) return fail(ue.code, laquot + 1 + ue.offset);
        after = raquot + 1;
    } else {
        // addr-spec: the URI ends at the first ';' or whitespace; what follows are header params, and
        // the URI itself may hold no '?', ',' or ';' (RFC 3261 §20.10).
        std::size_t end = i;
        while (end < s.size() && s[end] != ';' && !is_ws(s[end])) ++end;
        const std::string_view uri_text = s.substr(i, end - i);
        const std::size_t bad = uri_text.find_first_of("?,<>\"");
        if (bad != std::string_view::npos) return fail(errc::bad_uri, i + bad);
        const error ue = parse_uri_into(uri_text, out.address);
        if (ue.failed()) return fail(ue.code, i + ue.offset);
        after = end;
    }
    const std::size_t p = skip_ws(s, after);
    const std::string_view params = s.substr(p);
    if (!params.empty() && params[0] != ';') return fail(errc::bad_header_value, p);
    std::string_view rest = params;
    param prm;
    error pe;
    bool seen_tag = false;
    while (next_param(rest, param_syntax::header, prm, pe)) {
        if (!seen_tag && iequals(prm.name, "tag")) {  // the first tag counts, as for params.get("tag")
            seen_tag = true;
            out.tag_value = prm.has_value ? prm.value : std::string_view{};
        }
        if (visit != nullptr) {
            const error ve = visit(prm, context);
            if (ve.failed()) return fail(ve.code, static_cast<std::size_t>(prm.name.data() - s.data()));
        }
    }
    if (pe.failed()) return fail(pe.code, static_cast<std::size_t>(rest.data() - s.data()) + pe.offset);
    out.params = param_list(params, param_syntax::header);
    return {};
}
}  // namespace detail

result<name_addr> parse_name_addr(std::string_view text) noexcept {
    name_addr out;
    const error e = detail::parse_name_addr_into(text, out, nullptr, nullptr);
    if (e.failed()) return e;
    return out;
}

std::string name_addr::display() const {
    return quoted_display_name ? unquote(display_name) : std::string(display_name);
}

std::string unquote(std::string_view text) {
    if (text.size() < 2 || text.front() != '"' || text.back() != '"') return std::string(text);
    std::string out;
    out.reserve(text.size() - 2);
    for (std::size_t i = 1; i + 1 < text.size(); ++i) {
        if (text[i] == '\\' && i + 2 < text.size()) ++i;
        out.push_back(text[i]);
    }
    return out;
}

std::string quote(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    out.push_back('"');
    for (char c : text) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

}  // namespace sipvoice::sip
