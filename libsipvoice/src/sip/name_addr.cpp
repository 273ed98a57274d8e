// name-addr / addr-spec (RFC 3261 §20.10, §25.1).
#include "sipvoice/sip/name_addr.hpp"

#include "sipvoice/sip/headers.hpp"

#include "charset.hpp"
#include "params_scan.hpp"
#include "parse_into.hpp"
#include "uri_parse.hpp"

namespace sipvoice::sip {
using namespace detail;

namespace detail {
namespace {
// With in_list, `text` runs from the element to the end of the header value, which has not been split
// at its commas: a top-level ',' ends the element where the end of the text would, and `end` gets the
// element's length. The caller falls back to split-then-parse on any failure, so this mode only has to
// agree with next_list_element() on success: outside quoted strings a valid name-addr holds no '"',
// and no ',', '<' or '>' outside its one <...>, whose URI holds no '"' (see parse_via in headers.cpp).
// (A run-time flag rather than a template parameter: one copy of the parser instead of two measured
// faster on tools/bench, From/To and Contact/Route being parsed alternately.)
error parse_name_addr_impl(bool in_list, std::string_view text, name_addr& out, param_visitor visit, void* context,
                           std::size_t& end) noexcept {
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
    } else if (s[i] == '<') {  // no display name: what the loop below finds at once, without the loop
        out.display_name = s.substr(i, 0);
        laquot = i;
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
        const error ue = read_uri(s.substr(laquot + 1, raquot - laquot - 1), out.address);
        if (ue.failed()) return fail(ue.code, laquot + 1 + ue.offset);
        after = raquot + 1;
    } else {
        // addr-spec: the URI ends at the first ';' or whitespace; what follows are header params, and
        // the URI itself may hold no '?', ',' or ';' (RFC 3261 §20.10).
        std::size_t end_of_uri = i;
        while (end_of_uri < s.size() && s[end_of_uri] != ';' && !is_ws(s[end_of_uri]) && !(in_list && s[end_of_uri] == ','))
            ++end_of_uri;
        const std::string_view uri_text = s.substr(i, end_of_uri - i);
        const std::size_t bad = uri_text.find_first_of("?,<>\"");
        if (bad != std::string_view::npos) return fail(errc::bad_uri, i + bad);
        const error ue = read_uri(uri_text, out.address);
        if (ue.failed()) return fail(ue.code, i + ue.offset);
        after = end_of_uri;
    }
    const std::size_t p = skip_ws(s, after);
    std::string_view rest = s.substr(p);
    if (!rest.empty() && rest[0] != ';' && !(in_list && rest[0] == ',')) return fail(errc::bad_header_value, p);
    std::size_t params_end = in_list ? after : s.size();  // where the element ends without parameters
    param prm;
    error pe;
    bool seen_tag = false;
    while ((in_list ? next_header_param<true>(rest, prm, pe) : next_header_param<false>(rest, prm, pe))) {
        if (in_list) params_end = static_cast<std::size_t>(rest.data() - s.data());
        if (!seen_tag && is_name<"tag">(prm.name)) {  // the first tag counts, as for params.get("tag")
            seen_tag = true;
            out.tag_value = prm.has_value ? prm.value : std::string_view{};
        }
        if (visit != nullptr) {
            const error ve = visit(prm, context);
            if (ve.failed()) return fail(ve.code, static_cast<std::size_t>(prm.name.data() - s.data()));
        }
    }
    if (pe.failed()) return fail(pe.code, static_cast<std::size_t>(rest.data() - s.data()) + pe.offset);
    // Without parameters the (empty) list sits where the element ends, as it did in the split element.
    const std::size_t list_at = params_end < p ? params_end : p;
    out.params = param_list(s.substr(list_at, params_end - list_at), param_syntax::header);
    if (in_list) out.text = s.substr(0, params_end);
    end = params_end;
    return {};
}
}  // namespace

error parse_name_addr_into(std::string_view text, name_addr& out, param_visitor visit, void* context) noexcept {
    std::size_t end = 0;
    return parse_name_addr_impl(false, text, out, visit, context, end);
}

bool parse_first_name_addr(std::string_view text, name_addr& out, param_visitor visit, void* context,
                           std::size_t& end) noexcept {
    return !parse_name_addr_impl(true, text, out, visit, context, end).failed();
}

// message.hpp's accessors (headers.hpp), here next to the parser they call.
error parse_fresh(std::string_view text, name_addr& out) noexcept {
    std::size_t end = 0;
    return parse_name_addr_impl(false, text, out, nullptr, nullptr, end);
}

bool parse_first_element(std::string_view text, name_addr& out, std::size_t& end) noexcept {
    return !parse_name_addr_impl(true, text, out, nullptr, nullptr, end).failed();
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
