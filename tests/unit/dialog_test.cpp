// Dialogs (RFC 3261 §12): creation on both sides, requests inside them (loose and strict routing),
// CSeq ordering and target refresh.
#include <catch2/catch.hpp>

#include "parse_helper.hpp"
#include "sipvoice/sip/validate.hpp"
#include "sipvoice/ua/dialog.hpp"

using namespace sipvoice;


namespace {

const char* invite_text =
    "INVITE sip:1001@192.0.2.10:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP proxy.example.com:5060;branch=z9hG4bKp1\r\n"
    "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKa1\r\n"
    "Record-Route: <sip:proxy.example.com;lr>\r\n"
    "Record-Route: <sip:edge.example.com;lr;transport=tcp>\r\n"
    "From: \"Alice\" <sip:alice@example.com>;tag=a-tag\r\n"
    "To: <sip:1001@example.com>\r\n"
    "Call-ID: call-1@198.51.100.7\r\n"
    "CSeq: 314 INVITE\r\n"
    "Contact: <sip:alice@198.51.100.7:5060>\r\n"
    "Max-Forwards: 69\r\n"
    "Content-Length: 0\r\n\r\n";

}  // namespace

TEST_CASE("dialog: UAS side from an INVITE (RFC 3261 §12.1.1)", "[dialog]") {
    const sip::message invite = parse_wire(invite_text);
    auto d = ua::dialog::for_uas(invite, "b-tag", "<sip:1001@192.0.2.10:5060>");
    REQUIRE(d);
    CHECK(d->id() == ua::dialog_id{"call-1@198.51.100.7", "b-tag", "a-tag"});
    CHECK(d->remote_target() == "sip:alice@198.51.100.7:5060");
    CHECK(d->remote_seq() == 314u);
    CHECK(d->remote_uri() == "\"Alice\" <sip:alice@example.com>");
    CHECK(d->local_uri() == "<sip:1001@example.com>");
    REQUIRE(d->route_set().size() == 2);
    CHECK(d->route_set()[0] == "<sip:proxy.example.com;lr>");  // the request's order at the UAS
    CHECK(d->next_hop() == "sip:proxy.example.com;lr");

    // BYE from our side: Request-URI = remote target, Route = route set, tags swapped into place.
    const sip::message bye = parse_wire(d->request("BYE", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKb1").str());
    CHECK(bye.request_uri().text == "sip:alice@198.51.100.7:5060");
    CHECK(bye.from()->tag() == "b-tag");
    CHECK(bye.to()->tag() == "a-tag");
    CHECK(bye.cseq()->number == 1);
    CHECK(bye.cseq()->method == "BYE");
    CHECK(bye.count(sip::header_id::route) == 2);
    CHECK(bye.header(sip::header_id::route) == "<sip:proxy.example.com;lr>");
    CHECK(*bye.call_id() == "call-1@198.51.100.7");
    // The next request takes the next number.
    CHECK(parse_wire(d->request("INFO", "SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKb2").str()).cseq()->number == 2);

    // The dialog-identifying check needs a To tag: an INVITE without one is not in the dialog.
    CHECK(d->on_request(invite) == ua::dialog::check::not_this_dialog);
    CHECK_FALSE(ua::dialog::for_uas(invite, "", "<sip:x@y>"));
}

TEST_CASE("dialog: a Contact with URI headers gives a remote target without them (RFC 3261 §19.1.5)", "[dialog]") {
    std::string text = invite_text;
    const std::string contact = "Contact: <sip:alice@198.51.100.7:5060>";
    text.replace(text.find(contact), contact.size(),
                 "Contact: <sip:alice@198.51.100.7:5060;transport=udp?Replaces=abc%40host%3Bto-tag%3D1>");
    const sip::message invite = parse_wire(text);
    auto d = ua::dialog::for_uas(invite, "b-tag", "<sip:1001@192.0.2.10:5060>");
    REQUIRE(d);
    CHECK(d->remote_target() == "sip:alice@198.51.100.7:5060;transport=udp");
    // The BYE's Request-URI has no headers, so a peer can take it (a fuzzer found the 400 case).
    const sip::message bye = parse_wire(d->request("BYE", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKb1").str());
    CHECK(bye.request_uri().headers.empty());
    CHECK(sip::validate(bye).accepted());
}

TEST_CASE("dialog: UAC side, early then confirmed by a 2xx with its own route set (§12.1.2)", "[dialog]") {
    const sip::message invite = parse_wire(
        "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKc1\r\n"
        "From: <sip:1001@example.com>;tag=ours\r\nTo: <sip:bob@example.com>\r\nCall-ID: c2\r\n"
        "CSeq: 7 INVITE\r\nContact: <sip:1001@192.0.2.10:5060>\r\nContent-Length: 0\r\n\r\n");
    const sip::message ringing = parse_wire(
        "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKc1\r\n"
        "Record-Route: <sip:p2.example.com;lr>\r\nRecord-Route: <sip:p1.example.com;lr>\r\n"
        "From: <sip:1001@example.com>;tag=ours\r\nTo: <sip:bob@example.com>;tag=theirs\r\nCall-ID: c2\r\n"
        "CSeq: 7 INVITE\r\nContact: <sip:bob@203.0.113.5>\r\nContent-Length: 0\r\n\r\n");
    auto d = ua::dialog::for_uac(invite, ringing);
    REQUIRE(d);
    CHECK(d->early());
    CHECK(d->id() == ua::dialog_id{"c2", "ours", "theirs"});
    CHECK(d->local_seq() == 7);
    REQUIRE(d->route_set().size() == 2);
    CHECK(d->route_set()[0] == "<sip:p1.example.com;lr>");  // reversed at the UAC
    const sip::message ok = parse_wire(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKc1\r\n"
        "Record-Route: <sip:p1.example.com;lr>\r\n"
        "From: <sip:1001@example.com>;tag=ours\r\nTo: <sip:bob@example.com>;tag=theirs\r\nCall-ID: c2\r\n"
        "CSeq: 7 INVITE\r\nContact: <sip:bob@203.0.113.6:5070>\r\nContent-Length: 0\r\n\r\n");
    d->confirm(ok);
    CHECK_FALSE(d->early());
    CHECK(d->remote_target() == "sip:bob@203.0.113.6:5070");
    CHECK(d->route_set() == std::vector<std::string>{"<sip:p1.example.com;lr>"});
    // The ACK for the 2xx repeats the INVITE's CSeq number.
    const sip::message ack = parse_wire(d->request("ACK", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKc2", 7).str());
    CHECK(ack.cseq()->number == 7);
    CHECK(ack.cseq()->method == "ACK");
    CHECK(d->local_seq() == 7);
    CHECK(parse_wire(d->request("BYE", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKc3").str()).cseq()->number == 8);

    // No To tag, or a final failure: no dialog.
    const sip::message trying = parse_wire(
        "SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKc1\r\n"
        "From: <sip:1001@example.com>;tag=ours\r\nTo: <sip:bob@example.com>\r\nCall-ID: c2\r\nCSeq: 7 INVITE\r\n"
        "Content-Length: 0\r\n\r\n");
    CHECK_FALSE(ua::dialog::for_uac(invite, trying));
}

TEST_CASE("dialog: strict routing puts the first route in the Request-URI (§12.2.1.1)", "[dialog]") {
    std::string text = invite_text;
    const std::string loose = "Record-Route: <sip:proxy.example.com;lr>\r\n";
    text.replace(text.find(loose), loose.size(), "Record-Route: <sip:strict.example.com>\r\n");
    auto d = ua::dialog::for_uas(parse_wire(text), "b-tag", "<sip:1001@192.0.2.10>");
    REQUIRE(d);
    const sip::message bye = parse_wire(d->request("BYE", "SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKs1").str());
    CHECK(bye.request_uri().text == "sip:strict.example.com");
    std::vector<std::string> routes;
    for (auto r : bye.routes()) routes.emplace_back(r->text);
    CHECK(routes == std::vector<std::string>{"<sip:edge.example.com;lr;transport=tcp>", "<sip:alice@198.51.100.7:5060>"});
    CHECK(d->next_hop() == "sip:strict.example.com");
}

TEST_CASE("dialog: CSeq order and target refresh of incoming requests (§12.2.2)", "[dialog]") {
    auto d = ua::dialog::for_uas(parse_wire(invite_text), "b-tag", "<sip:1001@192.0.2.10>");
    REQUIRE(d);
    auto in_dialog = [](std::string method, int cseq, std::string contact = {}) {
        return parse_wire(method + " sip:1001@192.0.2.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK" +
                     method + std::to_string(cseq) + "\r\nFrom: <sip:alice@example.com>;tag=a-tag\r\n"
                     "To: <sip:1001@example.com>;tag=b-tag\r\nCall-ID: call-1@198.51.100.7\r\nCSeq: " +
                     std::to_string(cseq) + " " + method + "\r\n" + (contact.empty() ? "" : "Contact: <" + contact + ">\r\n") +
                     "Content-Length: 0\r\n\r\n");
    };
    CHECK(d->on_request(in_dialog("ACK", 314)) == ua::dialog::check::ok);
    CHECK(d->on_request(in_dialog("INVITE", 315, "sip:alice@198.51.100.99:5062")) == ua::dialog::check::ok);
    CHECK(d->remote_target() == "sip:alice@198.51.100.99:5062");  // re-INVITE moved the target
    CHECK(d->on_request(in_dialog("INFO", 316, "sip:ignored@x")) == ua::dialog::check::ok);
    CHECK(d->remote_target() == "sip:alice@198.51.100.99:5062");  // INFO is no target refresh
    CHECK(d->on_request(in_dialog("BYE", 312)) == ua::dialog::check::out_of_order);  // answer 500
    CHECK(d->on_request(in_dialog("BYE", 317)) == ua::dialog::check::ok);
    CHECK(d->remote_seq() == 317u);

    const sip::message other = parse_wire(
        "BYE sip:1001@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKo\r\nFrom: <sip:a@x>;tag=zzz\r\n"
        "To: <sip:b@x>;tag=b-tag\r\nCall-ID: call-1@198.51.100.7\r\nCSeq: 400 BYE\r\nContent-Length: 0\r\n\r\n");
    CHECK(d->on_request(other) == ua::dialog::check::not_this_dialog);
    CHECK(ua::dialog_id_of(other) == ua::dialog_id{"call-1@198.51.100.7", "b-tag", "zzz"});
}
