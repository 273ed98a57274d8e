// Parameter lists: header generic-params and URI uri-parameters (RFC 3261 §19.1.1, §25.1).
#include "sipvoice/sip/params.hpp"

#include "charset.hpp"
#include "params_scan.hpp"

namespace sipvoice::sip {
namespace detail {

namespace {
// gen-value = token / host / quoted-string; hosts bring ':' and '[' ']' for IPv6 (RFC 5118 §4.5).
constexpr bool is_gen_value_char(char c) noexcept { return is(c, c_token) || c == ':' || c == '[' || c == ']'; }
}  // namespace

bool next_param(std::string_view& rest, param_syntax syntax, param& out, error& err) noexcept {
    const std::string_view s = rest;
    std::size_t i = 0;
    if (syntax == param_syntax::header) i = skip_ws(s, i);
    if (i >= s.size()) {
        rest = s.substr(s.size());
        return false;
    }
    if (s[i] != ';') {
        err = {errc::bad_param, static_cast<std::uint32_t>(i)};
        return false;
    }
    ++i;
    if (syntax == param_syntax::header) i = skip_ws(s, i);
    const std::size_t name_begin = i;
    if (syntax == param_syntax::header) {
        while (i < s.size() && is_token_char(s[i])) ++i;
    } else {
        while (i < s.size() && (is(s[i], c_paramchar) || s[i] == '%')) ++i;
    }
    if (i == name_begin) {
        err = {errc::bad_param, static_cast<std::uint32_t>(i)};
        return false;
    }
    out.name = s.substr(name_begin, i - name_begin);
    out.value = {};
    out.has_value = false;
    std::size_t j = syntax == param_syntax::header ? skip_ws(s, i) : i;
    if (j < s.size() && s[j] == '=') {
        ++j;
        if (syntax == param_syntax::header) j = skip_ws(s, j);
        const std::size_t value_begin = j;
        if (syntax == param_syntax::header && j < s.size() && s[j] == '"') {
            const std::size_t q = quoted_length(s, j);
            if (q == 0) {
                err = {errc::unterminated_quote, static_cast<std::uint32_t>(j)};
                return false;
            }
            j += q;
        } else if (syntax == param_syntax::header) {
            while (j < s.size() && is_gen_value_char(s[j])) ++j;
        } else {
            while (j < s.size() && (is(s[j], c_paramchar) || s[j] == '%')) ++j;
        }
        if (j == value_begin) {
            err = {errc::bad_param, static_cast<std::uint32_t>(j)};
            return false;
        }
        out.value = s.substr(value_begin, j - value_begin);
        out.has_value = true;
        i = j;
    }
    if (syntax == param_syntax::uri) {
        // Escapes must be well formed in URI parameters (RFC 3261 §25.1 escaped).
        if (find_invalid_escaped(out.name, c_paramchar) != std::string_view::npos ||
            find_invalid_escaped(out.value, c_paramchar) != std::string_view::npos) {
            err = {errc::bad_escape, static_cast<std::uint32_t>(name_begin)};
            return false;
        }
    }
    // What follows must be the next ';' (after LWS for headers) or the end.
    std::size_t k = syntax == param_syntax::header ? skip_ws(s, i) : i;
    if (k < s.size() && s[k] != ';') {
        err = {errc::bad_param, static_cast<std::uint32_t>(k)};
        return false;
    }
    rest = s.substr(i);
    return true;
}

}  // namespace detail

error validate_params(std::string_view raw, param_syntax syntax) noexcept {
    std::string_view rest = raw;
    param p;
    error err;
    while (detail::next_param(rest, syntax, p, err)) {
    }
    if (err.failed()) err.offset += static_cast<std::uint32_t>(rest.data() - raw.data());
    return err;
}

std::size_t param_list::size() const noexcept {
    std::size_t n = 0;
    for (auto it = begin(); it != end(); ++it) ++n;
    return n;
}

std::optional<param> param_list::find(std::string_view name) const noexcept {
    for (const param& p : *this)
        if (detail::iequals(p.name, name)) return p;
    return std::nullopt;
}

std::string_view param_list::get(std::string_view name, std::string_view fallback) const noexcept {
    auto p = find(name);
    return (p && p->has_value) ? p->value : fallback;
}

param_list::iterator::iterator(std::string_view rest, param_syntax syntax) noexcept
    : rest_(rest), syntax_(syntax), done_(false) {
    load();
}

void param_list::iterator::load() noexcept {
    error err;
    if (!detail::next_param(rest_, syntax_, current_, err)) {
        done_ = true;
        rest_ = {};
    }
}

param_list::iterator& param_list::iterator::operator++() noexcept {
    if (!done_) load();
    return *this;
}

}  // namespace sipvoice::sip
