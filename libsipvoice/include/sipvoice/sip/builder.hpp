// sipvoice/sip/builder.hpp: building and serializing messages.
//
// The serializer writes canonical messages: "Name: value" with full canonical header names (compact
// forms expanded), one SP after the colon, CRLF line ends, no folding, and a Content-Length that
// matches the body. parse(serialize(m)) == m for every message m that parsed.
//
//   sip::message_builder b = sip::message_builder::request("OPTIONS", "sip:alice@example.com");
//   b.add(sip::header_id::via, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds")
//    .add(sip::header_id::max_forwards, "70")
//    .add("X-Custom", "value");
//   std::string wire = b.str();
#pragma once

#include <string>
#include <string_view>

#include "sipvoice/sip/headers.hpp"
#include "sipvoice/sip/message.hpp"

namespace sipvoice::sip {

class message_builder {
public:
    static message_builder request(std::string_view method, std::string_view request_uri);
    static message_builder response(int status, std::string_view reason = {});
    // A response to `req` per RFC 3261 §8.2.6.2: Via, From, To, Call-ID and CSeq copied, a To tag
    // added when `to_tag` is non-empty and the request's To has none. Record-Route is copied for
    // dialog-creating responses by the dialog layer, not here.
    static message_builder response_to(const message& req, int status, std::string_view reason = {},
                                       std::string_view to_tag = {});

    message_builder& add(header_id id, std::string_view value);
    message_builder& add(std::string_view name, std::string_view value);
    // Sets the body and its Content-Type; Content-Length is always written by str().
    message_builder& body(std::string_view content_type, std::string_view bytes);

    // The wire form. Content-Length always comes last among the headers, with the body's real length;
    // a Content-Length passed to add() is ignored.
    [[nodiscard]] std::string str() const;

private:
    std::string start_line_;
    std::string headers_;  // "Name: value\r\n"...
    std::string content_type_;
    std::string body_;
};

// The canonical wire form of a parsed message (see the top of this file).
std::string serialize(const message& m);

// The standard reason phrase for a status code ("Busy Here" for 486), empty when unknown.
std::string_view reason_phrase(int status) noexcept;

}  // namespace sipvoice::sip
