// Error descriptions and the std::error_category of the rtp/ layer.
#include "sipvoice/rtp/error.hpp"

#include <string>

namespace sipvoice::rtp {

std::string_view describe(errc code) noexcept {
    switch (code) {
        case errc::ok: return "no error";
        case errc::truncated: return "packet shorter than its headers say";
        case errc::bad_version: return "version is not 2";
        case errc::bad_padding: return "invalid padding count";
        case errc::rtcp_payload_type: return "payload type collides with RTCP packet types";
        case errc::bad_length: return "invalid RTCP length field";
        case errc::bad_first_packet: return "compound RTCP packet does not start with SR or RR";
        case errc::misplaced_padding: return "padding on an RTCP packet that is not the last";
        case errc::bad_sdes: return "malformed SDES chunk";
        case errc::bad_bye: return "malformed BYE";
        case errc::too_many: return "too many items for the count field";
        case errc::too_long: return "item too long for its length field";
        case errc::bad_alignment: return "length not a multiple of 4 octets";
        case errc::bad_payload_type: return "payload type above 127";
        case errc::buffer_too_small: return "output buffer too small";
        case errc::bad_event: return "telephone-event payload shorter than 4 octets";
    }
    return "unknown error";
}

namespace {
class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "rtp"; }
    std::string message(int ev) const override { return std::string(describe(static_cast<errc>(ev))); }
};
}  // namespace

const std::error_category& rtp_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace sipvoice::rtp
