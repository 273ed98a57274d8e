// What the invite_session tests of a call we take share: alice (198.51.100.7) calls 1001 at
// 192.0.2.10; her INVITE, and her requests inside the dialog our session created.
#pragma once

#include <string>

#include "invite_session_uac.hpp"
#include "parse_helper.hpp"
#include "sipvoice/sip/builder.hpp"
#include "sipvoice/ua/invite_session.hpp"

namespace sipvoice::test::uas {

using uac::headers;

// alice's INVITE, with `body` (her offer; empty: none) and `extra` headers (Require: 100rel...).
inline sip::message invite_from_alice(const std::string& body, const headers& extra = {}) {
    sip::message_builder b = sip::message_builder::request("INVITE", "sip:1001@192.0.2.10:5060");
    b.add(sip::header_id::via, "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKinv1")
        .add(sip::header_id::from, "<sip:alice@example.com>;tag=a1")
        .add(sip::header_id::to, "<sip:1001@example.com>")
        .add(sip::header_id::call_id, "call-9")
        .add(sip::header_id::cseq, "10 INVITE")
        .add(sip::header_id::contact, "<sip:alice@198.51.100.7:5060>")
        .add(sip::header_id::max_forwards, "70");
    for (const auto& [id, value] : extra) b.add(id, value);
    if (!body.empty()) b.body("application/sdp", body);
    return parse_wire(b.str());
}

// alice's request `method` inside the dialog of session `s`, with `body` and `extra` headers.
inline sip::message from_alice(const ua::invite_session& s, const std::string& method, int cseq, const std::string& body = {},
                               const headers& extra = {}) {
    sip::message_builder b = sip::message_builder::request(method, "sip:1001@192.0.2.10:5060");
    b.add(sip::header_id::via, "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK" + method + std::to_string(cseq))
        .add(sip::header_id::from, "<sip:alice@example.com>;tag=a1")
        .add(sip::header_id::to, "<sip:1001@example.com>;tag=" + s.current_dialog()->id().local_tag)
        .add(sip::header_id::call_id, "call-9")
        .add(sip::header_id::cseq, std::to_string(cseq) + " " + method)
        .add(sip::header_id::contact, "<sip:alice@198.51.100.7:5060>")
        .add(sip::header_id::max_forwards, "70");
    for (const auto& [id, value] : extra) b.add(id, value);
    if (!body.empty()) b.body("application/sdp", body);
    return parse_wire(b.str());
}

}  // namespace sipvoice::test::uas
