// What the invite_session tests of a call we place share: our configuration (1001 at 192.0.2.10,
// calling bob at 203.0.113.5), the offer and answer, bob's responses, and requests from bob inside
// the dialog.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "parse_helper.hpp"
#include "sipvoice/sip/builder.hpp"
#include "sipvoice/ua/invite_session.hpp"

namespace sipvoice::test::uac {

// No session timer unless asked for: no refreshes in the way of the requests a test looks at.
inline ua::session_config config(std::uint32_t session_expires = 0) {
    ua::session_config c;
    c.local_uri = "<sip:1001@pbx.example.com>";
    c.contact = "<sip:1001@192.0.2.10:5060>";
    c.sent_by = "192.0.2.10:5060";
    c.session_expires = session_expires;
    return c;
}

inline const std::string offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
                                 "m=audio 5000 RTP/AVP 0\r\n";
inline const std::string answer = "v=0\r\no=- 2 2 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n"
                                  "m=audio 4000 RTP/AVP 0\r\n";

using headers = std::vector<std::pair<sip::header_id, std::string>>;

// The peer's (bob's) response to `request`, with his Contact when it is 101-299.
inline sip::message reply(const sip::message& request, int status, const std::string& tag, const std::string& body = {},
                          const headers& extra = {}) {
    sip::message_builder b = sip::message_builder::response_to(request, status, {}, tag);
    if (status > 100 && status < 300) b.add(sip::header_id::contact, "<sip:bob@203.0.113.5:5060>");
    for (const auto& [id, value] : extra) b.add(id, value);
    if (!body.empty()) b.body("application/sdp", body);
    return parse_wire(b.str());
}

// A request from the peer (bob) inside the session's dialog, with `extra` headers and a body.
// `named`: headers the parser has no id for ("Refer-Sub"), by name.
inline sip::message from_callee(const ua::invite_session& s, const std::string& method, int cseq, const headers& extra = {},
                                const std::string& body = {}, const std::string& content_type = "application/sdp",
                                const std::vector<std::pair<std::string, std::string>>& named = {}) {
    const auto& id = s.current_dialog()->id();
    sip::message_builder b = sip::message_builder::request(method, "sip:1001@192.0.2.10:5060");
    b.add(sip::header_id::via, "SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK" + method + std::to_string(cseq))
        .add(sip::header_id::from, "<sip:bob@example.com>;tag=" + id.remote_tag)
        .add(sip::header_id::to, "<sip:1001@pbx.example.com>;tag=" + id.local_tag)
        .add(sip::header_id::call_id, id.call_id)
        .add(sip::header_id::cseq, std::to_string(cseq) + " " + method)
        .add(sip::header_id::contact, "<sip:bob@203.0.113.5:5060>")
        .add(sip::header_id::max_forwards, "70");
    for (const auto& [hid, value] : extra) b.add(hid, value);
    for (const auto& [name, value] : named) b.add(name, value);
    if (!body.empty()) b.body(content_type, body);
    return parse_wire(b.str());
}

}  // namespace sipvoice::test::uac
