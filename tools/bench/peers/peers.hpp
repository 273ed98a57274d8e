// Peer SIP parsers used as baselines in the parser benchmark.
//
// Each adapter fully parses one complete SIP message with a third-party
// library and touches every commonly used header once (start line, Via,
// From/To, Call-ID, CSeq, Contact, Route/Record-Route, auth headers, ...).
// This header deliberately includes no peer library headers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sipvoice::bench {

// Each returns a checksum-ish value that depends on the parsed data (so the
// optimizer can't drop work), or 0 on parse failure. Every call frees all
// memory it allocated.
std::uint64_t parse_osip(const char* data, std::size_t len);   // GNU oSIP2
std::uint64_t parse_sofia(const char* data, std::size_t len);  // Sofia-SIP
std::uint64_t parse_re(const char* data, std::size_t len);     // libre

// One-time global init each library needs (osip parser_init, sofia su_init,
// libre_init). Thread-safe and safe to call repeatedly; the parse_* functions
// call it themselves on first use as well.
void peers_init();

}  // namespace sipvoice::bench
