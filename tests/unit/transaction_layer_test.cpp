// The transaction layer: matching, creation, unowned messages, cleanup (RFC 3261 §17.1.3, §17.2.3).
#include <catch2/catch.hpp>

#include "parse_helper.hpp"

#include <string>

#include "sipvoice/sip/builder.hpp"
#include "sipvoice/transaction/layer.hpp"

namespace sip = sipvoice::sip;
namespace tx = sipvoice::transaction;
using namespace std::chrono_literals;

namespace {

sip::message request(const std::string& method, const std::string& branch, unsigned cseq = 1) {
    return parse_wire(sip::message_builder::request(method, "sip:bob@192.0.2.2")
                     .add(sip::header_id::via, "SIP/2.0/UDP 192.0.2.1:5060;branch=" + branch)
                     .add(sip::header_id::from, "<sip:alice@example.com>;tag=a1")
                     .add(sip::header_id::to, "<sip:bob@example.com>")
                     .add(sip::header_id::call_id, "layer-1")
                     .add(sip::header_id::cseq, std::to_string(cseq) + " " + method)
                     .str());
}

std::string reply(const sip::message& req, int status) {
    return sip::message_builder::response_to(req, status, {}, status > 100 ? "b2" : "").str();
}

int count(const std::vector<tx::keyed_output>& outs, tx::output_kind kind, const std::string* key = nullptr) {
    int n = 0;
    for (const auto& o : outs)
        if (o.out.kind == kind && (key == nullptr || o.key == *key)) ++n;
    return n;
}

}  // namespace

TEST_CASE("layer: a client INVITE, its responses, and a 2xx after the transaction ended", "[transaction][layer]") {
    const tx::time_point t0{};
    tx::layer l;
    const sip::message invite = request("INVITE", "z9hG4bK-L1");
    auto key = l.send_request(invite, false, t0);
    REQUIRE(key.has_value());
    CHECK_FALSE(l.send_request(invite, false, t0).has_value());  // the same key twice
    auto outs = l.take_outputs();
    CHECK(count(outs, tx::output_kind::send, &*key) == 1);

    l.on_message(parse_wire(reply(invite, 180)), false, t0 + 100ms);
    l.on_message(parse_wire(reply(invite, 200)), false, t0 + 1s);
    outs = l.take_outputs();
    CHECK(count(outs, tx::output_kind::response, &*key) == 2);
    REQUIRE(l.client(*key) != nullptr);
    CHECK(l.client(*key)->current() == tx::state::accepted);

    l.on_time(t0 + 40s);  // timer M
    outs = l.take_outputs();
    CHECK(count(outs, tx::output_kind::terminated, &*key) == 1);
    CHECK(l.size() == 0);
    // RFC 6026: a 2xx retransmission with no transaction left still reaches the TU (it must re-ACK).
    l.on_message(parse_wire(reply(invite, 200)), false, t0 + 41s);
    outs = l.take_outputs();
    REQUIRE(outs.size() == 1);
    CHECK(outs[0].key.empty());
    CHECK(outs[0].out.kind == tx::output_kind::response);
    // A stray non-2xx is dropped (RFC 3261 §18.1.2).
    l.on_message(parse_wire(reply(invite, 486)), false, t0 + 42s);
    CHECK(l.take_outputs().empty());
}

TEST_CASE("layer: a new request makes a server transaction; retransmissions are absorbed or answered", "[transaction][layer]") {
    const tx::time_point t0{};
    tx::layer l;
    const sip::message options = request("OPTIONS", "z9hG4bK-L2");
    l.on_message(options, false, t0);
    auto outs = l.take_outputs();
    REQUIRE(outs.size() == 1);
    CHECK(outs[0].out.kind == tx::output_kind::request);
    const std::string key = outs[0].key;
    REQUIRE(l.server(key) != nullptr);
    l.on_message(options, false, t0 + 100ms);  // retransmission while Trying: absorbed
    CHECK(l.take_outputs().empty());
    CHECK(l.respond(key, reply(options, 200), 200, t0 + 200ms));
    CHECK_FALSE(l.respond("no such key", reply(options, 200), 200, t0));
    l.on_message(options, false, t0 + 300ms);  // retransmission once Completed: the 200 again
    outs = l.take_outputs();
    CHECK(count(outs, tx::output_kind::send, &key) == 2);
    CHECK(count(outs, tx::output_kind::request) == 0);
    REQUIRE(l.next_deadline().has_value());
    CHECK(*l.next_deadline() == t0 + 200ms + 32s);  // timer J
    l.on_time(t0 + 33s);
    CHECK(count(l.take_outputs(), tx::output_kind::terminated, &key) == 1);
    CHECK(l.size() == 0);
}

TEST_CASE("layer: ACKs go to the INVITE transaction for a non-2xx, to the TU for a 2xx", "[transaction][layer]") {
    const tx::time_point t0{};
    tx::layer l;
    const sip::message busy = request("INVITE", "z9hG4bK-L3");
    l.on_message(busy, false, t0);
    const std::string busy_key = l.take_outputs().front().key;
    l.respond(busy_key, reply(busy, 486), 486, t0 + 1s);
    l.on_message(request("ACK", "z9hG4bK-L3"), false, t0 + 1100ms);  // same branch: the transaction's
    auto outs = l.take_outputs();
    CHECK(count(outs, tx::output_kind::request) == 0);
    CHECK(l.server(busy_key)->current() == tx::state::confirmed);

    const sip::message ok = request("INVITE", "z9hG4bK-L4", 2);
    l.on_message(ok, false, t0);
    const std::string ok_key = l.take_outputs().front().key;
    l.respond(ok_key, reply(ok, 200), 200, t0 + 1s);
    l.take_outputs();
    l.on_message(request("ACK", "z9hG4bK-L5", 2), false, t0 + 1100ms);  // a 2xx's ACK has its own branch
    outs = l.take_outputs();
    REQUIRE(outs.size() == 1);
    CHECK(outs[0].key.empty());
    CHECK(outs[0].out.kind == tx::output_kind::request);
    CHECK(outs[0].out.message.method() == sip::method::ack);
}

TEST_CASE("layer: messages without Via or CSeq are not matched or answered", "[transaction][layer]") {
    tx::layer l;
    l.on_message(parse_wire("OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n"), false, tx::time_point{});
    CHECK(l.take_outputs().empty());
    CHECK(l.size() == 0);
    CHECK_FALSE(l.send_request(parse_wire("OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n"), false,
                               tx::time_point{})
                    .has_value());
}
