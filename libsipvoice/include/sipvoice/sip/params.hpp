// sipvoice/sip/params.hpp: views over ";name=value" parameter lists.
//
// Two grammars share one view:
//  - header parameters (RFC 3261 §25.1 generic-param): LWS is allowed around ';' and '=', values are
//    tokens, hosts (IPv6 references included) or quoted strings;
//  - URI parameters (RFC 3261 §19.1.1 uri-parameter): no whitespace, values are %-escaped paramchars.
// The view never copies: names and values point into the text that was parsed (values keep their
// quotes and %-escapes; see unquote() and unescape()). Names compare case-insensitively.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "sipvoice/sip/error.hpp"

namespace sipvoice::sip {

struct param {
    std::string_view name;
    std::string_view value;  // raw: quotes and escapes kept; empty when !has_value
    bool has_value = false;
};

enum class param_syntax : std::uint8_t { header, uri };

class param_list {
public:
    param_list() = default;
    // `raw` starts at the first ';' (or is empty). It must have passed validate_params().
    param_list(std::string_view raw, param_syntax syntax) noexcept : raw_(raw), syntax_(syntax) {}

    [[nodiscard]] std::string_view raw() const noexcept { return raw_; }
    [[nodiscard]] param_syntax syntax() const noexcept { return syntax_; }
    [[nodiscard]] bool empty() const noexcept { return raw_.empty(); }
    [[nodiscard]] std::size_t size() const noexcept;

    [[nodiscard]] std::optional<param> find(std::string_view name) const noexcept;
    [[nodiscard]] bool contains(std::string_view name) const noexcept { return find(name).has_value(); }
    // The raw value of `name`, or `fallback` when absent or valueless.
    [[nodiscard]] std::string_view get(std::string_view name, std::string_view fallback = {}) const noexcept;

    class iterator {
    public:
        using value_type = param;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        iterator(std::string_view rest, param_syntax syntax) noexcept;
        const param& operator*() const noexcept { return current_; }
        const param* operator->() const noexcept { return &current_; }
        iterator& operator++() noexcept;
        iterator operator++(int) noexcept { auto copy = *this; ++*this; return copy; }
        friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.done_ == b.done_ && (a.done_ || a.rest_.data() == b.rest_.data()); }

    private:
        void load() noexcept;
        std::string_view rest_;
        std::string_view next_;
        param current_;
        param_syntax syntax_ = param_syntax::header;
        bool done_ = true;
    };
    [[nodiscard]] iterator begin() const noexcept { return {raw_, syntax_}; }
    [[nodiscard]] iterator end() const noexcept { return {}; }

private:
    std::string_view raw_;
    param_syntax syntax_ = param_syntax::header;
};

// Checks a parameter list ("" or ";a=b;c") against its grammar. On failure the error offset is
// relative to `raw`.
error validate_params(std::string_view raw, param_syntax syntax) noexcept;


}  // namespace sipvoice::sip
