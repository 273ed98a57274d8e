// sipvoice/transport/stun.hpp: the STUN Binding transaction (RFC 5389) that keeps a UDP flow alive
// and watches its NAT binding (RFC 5626 §4.4.2), as a request builder and a response reader.
//
//   stun::transaction_id id = ...;                 // 96 random bits
//   send(stun::binding_request(id));               // 20 bytes, from the SIP socket to the registrar
//   if (auto r = stun::read_response(datagram))    // a Binding success or error response
//       if (r->id == id && r->success) use(r->mapped);  // our address as the registrar sees it
//
// Only what a keep-alive needs: Binding requests without attributes (no FINGERPRINT or
// MESSAGE-INTEGRITY, RFC 5626 §8), and responses read for XOR-MAPPED-ADDRESS (else MAPPED-ADDRESS)
// and ERROR-CODE. Anything malformed is refused: never a read outside the datagram.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sipvoice/transport/transport.hpp"

namespace sipvoice::transport::stun {

inline constexpr std::uint32_t magic_cookie = 0x2112A442;
using transaction_id = std::array<std::uint8_t, 12>;

// A Binding request (class request, method Binding) with this transaction id and no attributes.
std::string binding_request(const transaction_id& id);

// Whether a datagram is a STUN message at all (RFC 5389 §6: the two top bits zero, a length that
// fits and is a multiple of 4, the magic cookie), so that it is not taken for SIP.
bool is_stun(std::string_view datagram) noexcept;

struct response {
    transaction_id id{};
    bool success = false;     // a Binding success response; else an error response
    std::optional<endpoint> mapped;  // success: XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS
    int error_code = 0;       // error: 300..699 from ERROR-CODE, 0 when it has none
};

// A Binding success or error response; nothing for requests, indications, other methods and
// malformed messages (an attribute running past the end, a bad address family or length).
std::optional<response> read_response(std::string_view datagram);

// A Binding success response to `request_id` naming `mapped` in XOR-MAPPED-ADDRESS (for tests and
// for answering a peer's keep-alive).
std::string binding_success(const transaction_id& request_id, const endpoint& mapped);

}  // namespace sipvoice::transport::stun
