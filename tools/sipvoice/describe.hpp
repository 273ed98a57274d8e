// JSON descriptions of parsed SIP messages, shared by `sipvoice parse` (text and --json output).
#pragma once

#include <nlohmann/json.hpp>

#include "sipvoice/sip/message.hpp"
#include "sipvoice/sip/validate.hpp"

namespace sipvoice::cli {

nlohmann::ordered_json describe_uri(const sip::uri& u);
// Start line, every header (raw value plus its typed reading, or the parse error), body length.
nlohmann::ordered_json describe_message(const sip::message& m);
nlohmann::ordered_json describe_verdict(const sip::verdict& v);

}  // namespace sipvoice::cli
