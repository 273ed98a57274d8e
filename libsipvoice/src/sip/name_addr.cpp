// name-addr / addr-spec (RFC 3261 §20.10, §25.1).
#include "sipvoice/sip/name_addr.hpp"

#include "charset.hpp"

namespace sipvoice::sip {
namespace {
using namespace detail;
error fail(errc code, std::size_t offset) noexcept { return {code, static_cast<std::uint32_t>(offset)}; }
}  // namespace

result<name_addr> parse_name_addr(std::string_view text) noexcept {
    name_addr out;
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
        const std::size_t raquot = s.find('>', laquot + 1);
        if (raquot == std::string_view::npos) return fail(errc::bad_header_value, laquot);
        // LAQUOT = SWS "<" and RAQUOT = ">" SWS: no whitespace inside the brackets (RFC 4475 §3.1.2.14).
        auto u = parse_uri(s.substr(laquot + 1, raquot - laquot - 1));
        if (!u) return fail(u.error().code, laquot + 1 + u.error().offset);
        out.address = *u;
        after = raquot + 1;
    } else {
        // addr-spec: the URI ends at the first ';' or whitespace; what follows are header params, and
        // the URI itself may hold no '?', ',' or ';' (RFC 3261 §20.10).
        std::size_t end = i;
        while (end < s.size() && s[end] != ';' && !is_ws(s[end])) ++end;
        const std::string_view uri_text = s.substr(i, end - i);
        const std::size_t bad = uri_text.find_first_of("?,<>\"");
        if (bad != std::string_view::npos) return fail(errc::bad_uri, i + bad);
        auto u = parse_uri(uri_text);
        if (!u) return fail(u.error().code, i + u.error().offset);
        out.address = *u;
        after = end;
    }
    const std::size_t p = skip_ws(s, after);
    const std::string_view params = s.substr(p);
    if (!params.empty() && params[0] != ';') return fail(errc::bad_header_value, p);
    const error pe = validate_params(params, param_syntax::header);
    if (pe.failed()) return fail(pe.code, p + pe.offset);
    out.params = param_list(params, param_syntax::header);
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
