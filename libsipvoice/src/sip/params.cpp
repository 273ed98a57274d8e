// Parameter lists: header generic-params and URI uri-parameters (RFC 3261 §19.1.1, §25.1).
#include "sipvoice/sip/params.hpp"

#include "charset.hpp"
#include "params_scan.hpp"

namespace sipvoice::sip {

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
