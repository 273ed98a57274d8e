// Internal: one-parameter scanner shared by validation and iteration.
#pragma once

#include <string_view>

#include "sipvoice/sip/params.hpp"

namespace sipvoice::sip::detail {

// Reads the next ";name[=value]" from rest. Returns false at the end of the list (err untouched) or
// on a syntax error (err set, offset relative to `rest` as it was passed in). On success `rest`
// advances past the parameter.
bool next_param(std::string_view& rest, param_syntax syntax, param& out, error& err) noexcept;

}  // namespace sipvoice::sip::detail
