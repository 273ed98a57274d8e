// Error descriptions, SIP status mapping and the std::error_category of the sdp/ layer.
#include "sipvoice/sdp/error.hpp"

#include <string>

namespace sipvoice::sdp {

std::string_view describe(errc code) noexcept {
    switch (code) {
        case errc::ok: return "no error";
        case errc::empty: return "empty session description";
        case errc::bad_line: return "malformed line (not <type>=<value>, unknown type, or a control character)";
        case errc::bad_order: return "line out of place";
        case errc::bad_version: return "protocol version is not 0";
        case errc::duplicate_line: return "line allowed once appears more than once";
        case errc::missing_origin: return "missing o= line";
        case errc::bad_origin: return "malformed o= line";
        case errc::bad_connection: return "malformed c= line";
        case errc::bad_bandwidth: return "malformed b= line";
        case errc::bad_timing: return "malformed t= or r= line";
        case errc::bad_media: return "malformed m= line";
        case errc::bad_attribute: return "malformed attribute";
        case errc::missing_connection: return "media stream without a connection address";
        case errc::too_large: return "too many media descriptions or formats";
        case errc::no_usable_media: return "no audio stream over RTP/AVP";
        case errc::no_common_codec: return "no codec in common";
        case errc::answer_mismatch: return "answer does not match the offer";
        case errc::media_rejected: return "the answer declined the audio stream";
        case errc::no_offer_pending: return "answer without an outstanding offer";
        case errc::offer_pending: return "offer while our own offer is outstanding";
        case errc::bad_local_media: return "local media settings unusable";
    }
    return "unknown error";
}

int sip_status(errc code) noexcept {
    switch (code) {
        case errc::ok: return 0;
        // A body that does not parse makes the request malformed (RFC 3261 §21.4.1).
        case errc::empty:
        case errc::bad_line:
        case errc::bad_order:
        case errc::bad_version:
        case errc::duplicate_line:
        case errc::missing_origin:
        case errc::bad_origin:
        case errc::bad_connection:
        case errc::bad_bandwidth:
        case errc::bad_timing:
        case errc::bad_media:
        case errc::bad_attribute:
        case errc::missing_connection:
        case errc::too_large: return 400;
        // RFC 3261 §14.2: an offer crossing ours.
        case errc::offer_pending: return 491;
        // Our own settings, not the peer's fault (RFC 3261 §21.5.1).
        case errc::bad_local_media: return 500;
        // An offer we cannot accept (RFC 3261 §13.3.1.1, §21.4.26). Answer errors arrive in responses
        // or ACK, which are not answered; 488 is what an UPDATE/PRACK carrying one gets.
        case errc::no_usable_media:
        case errc::no_common_codec:
        case errc::answer_mismatch:
        case errc::media_rejected:
        case errc::no_offer_pending: return 488;
    }
    return 400;
}

namespace {
class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "sdp"; }
    std::string message(int ev) const override { return std::string(describe(static_cast<errc>(ev))); }
};
}  // namespace

const std::error_category& sdp_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace sipvoice::sdp
