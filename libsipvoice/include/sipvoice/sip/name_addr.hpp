// sipvoice/sip/name_addr.hpp: the address form of From, To, Contact, Route, Record-Route, Refer-To,
// Reply-To, P-Asserted-Identity... (RFC 3261 §20.10, §25.1):
//
//   name-addr:  [ display-name ] LAQUOT addr-spec RAQUOT *( SEMI generic-param )
//   addr-spec:  URI *( SEMI generic-param )
//
// The rule that trips hand-written parsers: in addr-spec form (no angle brackets) everything after the
// first ';' is a *header* parameter, not a URI parameter, and the URI may contain no ',', '?' or ';'.
// Inside <...> the parameters belong to the URI.
#pragma once

#include <string>
#include <string_view>

#include "sipvoice/sip/error.hpp"
#include "sipvoice/sip/params.hpp"
#include "sipvoice/sip/uri.hpp"

namespace sipvoice::sip {

struct name_addr {
    using initialized_by_default = void;  // every member below has its initializer (result.hpp)
    std::string_view display_name;  // raw; quotes kept when quoted
    bool quoted_display_name = false;
    bool angle_brackets = false;     // name-addr form
    uri address;
    param_list params{{}, param_syntax::header};  // header parameters (tag, expires, q, lr on Route...)
    std::string_view text;
    std::string_view tag_value;  // the tag parameter, found while the parameters were validated

    [[nodiscard]] std::string_view tag() const noexcept { return tag_value; }
    // The display name as a user sees it: quotes removed, quoted-pairs decoded, tokens as written.
    [[nodiscard]] std::string display() const;
};

result<name_addr> parse_name_addr(std::string_view text) noexcept;

// Removes the surrounding DQUOTEs of a quoted-string and decodes quoted-pairs ("\"" -> '"').
// Text that is not quoted is returned unchanged.
std::string unquote(std::string_view text);
// Quotes text as a quoted-string, escaping '"' and '\'.
std::string quote(std::string_view text);

}  // namespace sipvoice::sip
