// Two transaction layers joined by an in-memory datagram loop that can lose packets: a UAC and a UAS
// run whole exchanges on a virtual clock, the way they will over UDP.
#include <catch2/catch.hpp>

#include <deque>
#include <functional>
#include <string>

#include "sipvoice/sip/builder.hpp"
#include "sipvoice/transaction/layer.hpp"

namespace sip = sipvoice::sip;
namespace tx = sipvoice::transaction;
using namespace std::chrono_literals;

namespace {

// Datagrams in flight between two layers, delivered after `latency`; `lose` decides which are dropped.
struct loop {
    struct packet {
        tx::time_point at;
        bool to_uas;
        std::string bytes;
    };
    tx::layer uac;
    tx::layer uas;
    std::deque<packet> in_flight;
    tx::duration latency{20};
    std::function<bool(bool to_uas, const std::string& bytes)> lose = [](bool, const std::string&) { return false; };
    std::function<void(const tx::keyed_output&, tx::time_point)> on_uas_tu = [](const tx::keyed_output&, tx::time_point) {};
    std::vector<tx::keyed_output> uac_tu;  // what reached the UAC's TU
    int sent_to_uas = 0;
    int lost = 0;

    void pump(tx::layer& from, bool to_uas, tx::time_point now) {
        for (auto& o : from.take_outputs()) {
            if (o.out.kind == tx::output_kind::send) {
                if (to_uas) ++sent_to_uas;
                if (lose(to_uas, o.out.bytes)) ++lost;
                else in_flight.push_back({now + latency, to_uas, o.out.bytes});
            } else if (to_uas) {
                uac_tu.push_back(std::move(o));
            } else {
                on_uas_tu(o, now);
            }
        }
    }
    // Runs the virtual clock until `until`: deliveries and timers in time order.
    void run(tx::time_point now, tx::time_point until) {
        for (;;) {
            pump(uac, true, now);
            pump(uas, false, now);
            std::optional<tx::time_point> next;
            for (const auto& p : in_flight)
                if (!next || p.at < *next) next = p.at;
            for (auto d : {uac.next_deadline(), uas.next_deadline()})
                if (d && (!next || *d < *next)) next = d;
            if (!next || *next > until) return;
            now = *next;
            for (auto it = in_flight.begin(); it != in_flight.end();) {
                if (it->at > now) {
                    ++it;
                    continue;
                }
                auto m = sip::message::parse(it->bytes);
                REQUIRE(m.has_value());
                (it->to_uas ? uas : uac).on_message(std::move(*m), false, now);
                it = in_flight.erase(it);
            }
            uac.on_time(now);
            uas.on_time(now);
        }
    }
};

sip::message request(const std::string& method) {
    auto m = sip::message::parse(sip::message_builder::request(method, "sip:bob@192.0.2.2")
                                     .add(sip::header_id::via, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-loop")
                                     .add(sip::header_id::from, "<sip:alice@example.com>;tag=a1")
                                     .add(sip::header_id::to, "<sip:bob@example.com>")
                                     .add(sip::header_id::call_id, "loop-1")
                                     .add(sip::header_id::cseq, "1 " + method)
                                     .str());
    REQUIRE(m.has_value());
    return std::move(*m);
}

}  // namespace

TEST_CASE("loop: a non-INVITE survives lost requests and a lost response", "[transaction][loop]") {
    loop net;
    int dropped_requests = 0;
    bool dropped_response = false;
    net.lose = [&](bool to_uas, const std::string&) {
        if (to_uas && dropped_requests < 2) return ++dropped_requests, true;  // the first two REGISTERs
        if (!to_uas && !dropped_response) return dropped_response = true;    // the first 200
        return false;
    };
    net.on_uas_tu = [&](const tx::keyed_output& o, tx::time_point now) {
        if (o.out.kind == tx::output_kind::request)
            net.uas.respond(o.key, sip::message_builder::response_to(o.out.message, 200, {}, "b2").str(), 200, now);
    };
    const tx::time_point t0{};
    REQUIRE(net.uac.send_request(request("REGISTER"), false, t0).has_value());
    net.run(t0, t0 + 60s);
    int responses = 0;
    for (const auto& o : net.uac_tu) responses += o.out.kind == tx::output_kind::response ? 1 : 0;
    CHECK(responses == 1);                 // the TU sees one 200, whatever the network did
    CHECK(net.lost == 3);
    CHECK(net.sent_to_uas == 4);           // sent at 0, 0.5 s (lost), then 1.5 s and 3.5 s (its 200 arrives)
    CHECK(net.uac.size() == 0);            // both sides ended (timers K and J)
    CHECK(net.uas.size() == 0);
}

TEST_CASE("loop: an INVITE answered 486 is ACKed once per final the UAS sends", "[transaction][loop]") {
    loop net;
    bool dropped_ack = false;
    net.lose = [&](bool to_uas, const std::string& bytes) {
        if (to_uas && !dropped_ack && bytes.rfind("ACK ", 0) == 0) return dropped_ack = true;
        return false;
    };
    net.on_uas_tu = [&](const tx::keyed_output& o, tx::time_point now) {
        if (o.out.kind == tx::output_kind::request && o.out.message.method() == sip::method::invite)
            net.uas.respond(o.key, sip::message_builder::response_to(o.out.message, 486, {}, "b2").str(), 486, now);
    };
    const tx::time_point t0{};
    REQUIRE(net.uac.send_request(request("INVITE"), false, t0).has_value());
    net.run(t0, t0 + 60s);
    int finals = 0;
    int provisionals = 0;
    for (const auto& o : net.uac_tu) {
        if (o.out.kind != tx::output_kind::response) continue;
        (o.out.message.status() >= 200 ? finals : provisionals) += 1;
    }
    CHECK(provisionals == 1);  // the UAS's 100 Trying
    CHECK(finals == 1);        // the retransmitted 486 is absorbed by the client transaction
    CHECK(dropped_ack);        // the first ACK was lost, timer G resent the 486, the ACK was resent
    CHECK(net.uac.size() == 0);
    CHECK(net.uas.size() == 0);
}
