// fuzz_stun: STUN Binding responses (transport/stun: is_stun, read_response, binding_success), as
// the UDP transport reads every datagram that looks like STUN.
//
// Properties:
//  - never a crash or a read outside the input;
//  - read_response() answers only for what is_stun() accepts, and only for Binding responses;
//  - an error response carries no mapped address, an error code is 0 or 300..699;
//  - a success's mapped address, written back with binding_success() for the same transaction,
//    reads back the same (IPv4 and IPv6, XOR of port and address).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_common.hpp"
#include "sipvoice/transport/stun.hpp"

using namespace sipvoice::transport;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view d = sipvoice::fuzz::as_text(data, size);
    const bool looks = stun::is_stun(d);
    const auto r = stun::read_response(d);
    if (!r) return 0;
    FUZZ_CHECK(looks);
    FUZZ_CHECK(size >= 20 && (data[0] == 0x01) && (data[1] == 0x01 || data[1] == 0x11));
    FUZZ_CHECK(r->success == (data[1] == 0x01));
    if (!r->success) FUZZ_CHECK(!r->mapped);
    FUZZ_CHECK(r->error_code == 0 || (r->error_code >= 300 && r->error_code <= 699));
    if (r->mapped) {
        const std::string back = stun::binding_success(r->id, *r->mapped);
        FUZZ_CHECK(stun::is_stun(back));
        const auto again = stun::read_response(back);
        FUZZ_CHECK(again && again->success && again->id == r->id && again->mapped && *again->mapped == *r->mapped);
    }
    return 0;
}
