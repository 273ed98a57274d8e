// Internal: what the sdp/ parser and negotiator share about payload formats.
#pragma once

#include <cstdint>

#include "sipvoice/sdp/session_description.hpp"

namespace sipvoice::sdp::detail {

// A format as parse() reads a bare payload type: what an m= line alone says (the static payload
// types of RFC 3551 get their encoding, clock rate and channels; dynamic ones stay empty).
format bare_format(std::uint8_t pt);

}  // namespace sipvoice::sdp::detail
