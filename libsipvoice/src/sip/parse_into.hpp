// Internal: parsers that fill a caller's object in place (no result<T> copy of large views), and let
// the caller see each header parameter during the single validation pass.
#pragma once

#include <string_view>

#include "sipvoice/sip/name_addr.hpp"
#include "sipvoice/sip/uri.hpp"

namespace sipvoice::sip::detail {

error parse_uri_into(std::string_view text, uri& out) noexcept;

// Called for each header parameter; a failed error rejects the value at that parameter.
using param_visitor = error (*)(const param& p, void* context);
error parse_name_addr_into(std::string_view text, name_addr& out, param_visitor visit, void* context) noexcept;
// The first element of an unsplit comma list (see message.hpp's header_values): true on success,
// with `end` the element's length; on failure the caller splits and parses the usual way.
bool parse_first_name_addr(std::string_view text, name_addr& out, param_visitor visit, void* context,
                           std::size_t& end) noexcept;

}  // namespace sipvoice::sip::detail
