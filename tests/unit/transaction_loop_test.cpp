// Transaction layers and a registration on transport::loop_network, the in-memory lossy datagram
// network on a virtual clock: a UAC and a UAS run whole exchanges the way they will over UDP, and a
// registration runs against a registrar the test plays, timers and retransmissions included.
#include <catch2/catch.hpp>

#include "parse_helper.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sipvoice/auth/digest.hpp"
#include "sipvoice/sip/builder.hpp"
#include "sipvoice/transaction/layer.hpp"
#include "sipvoice/transport/loop.hpp"
#include "sipvoice/ua/registration.hpp"

namespace sip = sipvoice::sip;
namespace tx = sipvoice::transaction;
namespace ua = sipvoice::ua;
namespace auth = sipvoice::auth;
using sipvoice::transport::loop_network;
using namespace std::chrono_literals;

namespace {

// Parses what arrived; a datagram that is not SIP is dropped, as a UDP transport drops it.
std::optional<sip::message> parse_datagram(const loop_network::datagram& d, int& garbled) {
    auto m = sip::message::parse(d.bytes);
    if (!m) {
        ++garbled;
        return std::nullopt;
    }
    return std::move(*m);
}

// A transaction layer at `address` that sends everything to `peer`; what it passes up goes to `tu`.
struct layer_party {
    std::string address;
    std::string peer;
    tx::layer layer;
    std::function<void(const tx::keyed_output&, tx::time_point)> tu = [](const tx::keyed_output&, tx::time_point) {};
    int sent = 0;     // datagrams it sent
    int garbled = 0;  // datagrams it received that did not parse

    layer_party(std::string self, std::string other) : address(std::move(self)), peer(std::move(other)) {}

    void attach(loop_network& net) {
        net.attach(address, {
            .on_datagram = [this](const loop_network::datagram& d, tx::time_point now) {
                if (auto m = parse_datagram(d, garbled)) layer.on_message(std::move(*m), false, now);
            },
            .on_time = [this, &net](tx::time_point now) {
                layer.on_time(now);
                // The TU may answer from its handler: drain until the layer has nothing more.
                for (auto outs = layer.take_outputs(); !outs.empty(); outs = layer.take_outputs()) {
                    for (auto& o : outs) {
                        if (o.out.kind == tx::output_kind::send) {
                            ++sent;
                            net.send(address, peer, std::move(o.out.bytes));
                        } else {
                            tu(o, now);
                        }
                    }
                }
            },
            .next_deadline = [this] { return layer.next_deadline(); },
        });
    }
};

sip::message request(const std::string& method) {
    return parse_wire(sip::message_builder::request(method, "sip:bob@192.0.2.2")
                          .add(sip::header_id::via, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-loop")
                          .add(sip::header_id::from, "<sip:alice@example.com>;tag=a1")
                          .add(sip::header_id::to, "<sip:bob@example.com>")
                          .add(sip::header_id::call_id, "loop-1")
                          .add(sip::header_id::cseq, "1 " + method)
                          .str());
}

const std::string uac_address = "192.0.2.1:5060";
const std::string uas_address = "192.0.2.2:5060";

// A UAS whose TU answers every request of `method` with `status`.
void answer_with(layer_party& uas, sip::method method, int status) {
    uas.tu = [&uas, method, status](const tx::keyed_output& o, tx::time_point now) {
        if (o.out.kind == tx::output_kind::request && o.out.message.method() == method)
            uas.layer.respond(o.key, sip::message_builder::response_to(o.out.message, status, {}, "b2").str(), status, now);
    };
}

void collect(layer_party& p, std::vector<tx::keyed_output>& into) {
    p.tu = [&into](const tx::keyed_output& o, tx::time_point) { into.push_back(o); };
}

}  // namespace

TEST_CASE("loop: a non-INVITE survives lost requests and a lost response", "[transaction][loop]") {
    loop_network net;  // 20 ms each way
    layer_party uac(uac_address, uas_address);
    layer_party uas(uas_address, uac_address);
    uac.attach(net);
    uas.attach(net);
    std::vector<tx::keyed_output> uac_tu;
    collect(uac, uac_tu);
    answer_with(uas, sip::method::register_, 200);
    int dropped_requests = 0;
    bool dropped_response = false;
    net.set_impairment([&](loop_network::datagram& d) {
        const bool to_uas = d.to == uas_address;
        if (to_uas && dropped_requests < 2) return ++dropped_requests, false;  // the first two REGISTERs
        if (!to_uas && !dropped_response) return dropped_response = true, false;  // the first 200
        return true;
    });
    const tx::time_point t0 = net.now();
    REQUIRE(uac.layer.send_request(request("REGISTER"), false, t0).has_value());
    net.run_until(t0 + 60s);
    int responses = 0;
    for (const auto& o : uac_tu) responses += o.out.kind == tx::output_kind::response ? 1 : 0;
    CHECK(responses == 1);                 // the TU sees one 200, whatever the network did
    CHECK(net.stats().lost == 3);
    CHECK(uac.sent == 4);                  // sent at 0, 0.5 s (lost), then 1.5 s and 3.5 s (its 200 arrives)
    CHECK(uac.layer.size() == 0);          // both sides ended (timers K and J)
    CHECK(uas.layer.size() == 0);
    CHECK(uac.garbled + uas.garbled == 0);
    CHECK(net.now() == t0 + 60s);
}

TEST_CASE("loop: an INVITE answered 486 is ACKed once per final the UAS sends", "[transaction][loop]") {
    loop_network net;
    layer_party uac(uac_address, uas_address);
    layer_party uas(uas_address, uac_address);
    uac.attach(net);
    uas.attach(net);
    std::vector<tx::keyed_output> uac_tu;
    collect(uac, uac_tu);
    answer_with(uas, sip::method::invite, 486);
    bool dropped_ack = false;
    net.set_impairment([&](loop_network::datagram& d) {
        if (d.to == uas_address && !dropped_ack && d.bytes.rfind("ACK ", 0) == 0) return dropped_ack = true, false;
        return true;
    });
    const tx::time_point t0 = net.now();
    REQUIRE(uac.layer.send_request(request("INVITE"), false, t0).has_value());
    net.run_until(t0 + 60s);
    int finals = 0;
    int provisionals = 0;
    for (const auto& o : uac_tu) {
        if (o.out.kind != tx::output_kind::response) continue;
        (o.out.message.status() >= 200 ? finals : provisionals) += 1;
    }
    CHECK(provisionals == 1);  // the UAS's 100 Trying
    CHECK(finals == 1);        // the retransmitted 486 is absorbed by the client transaction
    CHECK(dropped_ack);        // the first ACK was lost, timer G resent the 486, the ACK was resent
    CHECK(uac.layer.size() == 0);
    CHECK(uas.layer.size() == 0);
    CHECK(uac.garbled + uas.garbled == 0);
}

TEST_CASE("loop: a mangled request is dropped by the UAS and the retransmission answered", "[transaction][loop]") {
    loop_network net;
    layer_party uac(uac_address, uas_address);
    layer_party uas(uas_address, uac_address);
    uac.attach(net);
    uas.attach(net);
    std::vector<tx::keyed_output> uac_tu;
    collect(uac, uac_tu);
    answer_with(uas, sip::method::options, 200);
    bool mangled = false;
    net.set_impairment([&](loop_network::datagram& d) {
        if (d.to == uas_address && !mangled) {
            d.bytes.replace(0, 7, "OPT\x01ONS");  // a corrupted request line
            mangled = true;
        }
        return true;
    });
    const tx::time_point t0 = net.now();
    REQUIRE(uac.layer.send_request(request("OPTIONS"), false, t0).has_value());
    net.run_until(t0 + 1s);
    CHECK(uas.garbled == 1);
    REQUIRE(uac_tu.size() == 1);  // the 200 to the retransmission sent at 500 ms
    CHECK(uac_tu[0].out.message.status() == 200);
    CHECK(uac.sent == 2);
    CHECK(net.stats().lost == 0);
}

namespace {

// What a phone does: a registration whose REGISTERs each run in a client transaction of the layer,
// at `address`, toward the registrar at `registrar`.
struct registering_party {
    std::string address;
    std::string registrar;
    tx::layer layer;
    ua::registration reg;
    std::vector<ua::registration_state> events;
    int sent = 0;
    int garbled = 0;

    registering_party(std::string self, std::string to, ua::registration_config cfg, std::uint64_t seed)
        : address(std::move(self)), registrar(std::move(to)), reg(std::move(cfg), seed) {}

    void attach(loop_network& net) {
        net.attach(address, {
            .on_datagram = [this](const loop_network::datagram& d, tx::time_point now) {
                if (auto m = parse_datagram(d, garbled)) layer.on_message(std::move(*m), false, now);
            },
            .on_time = [this, &net](tx::time_point now) {
                layer.on_time(now);
                reg.on_time(now);
                flush(net, now);
            },
            .next_deadline = [this]() -> std::optional<tx::time_point> {
                auto a = layer.next_deadline();
                auto b = reg.next_deadline();
                if (!a) return b;
                if (!b) return a;
                return std::min(*a, *b);
            },
        });
    }

    // Until the layer and the registration are quiet: new REGISTERs into client transactions, their
    // outcomes back into the registration, datagrams onto the network.
    void flush(loop_network& net, tx::time_point now) {
        for (bool busy = true; busy;) {
            busy = false;
            for (const std::string& r : reg.take_requests()) {
                REQUIRE(layer.send_request(parse_wire(r), false, now).has_value());
                busy = true;
            }
            for (auto& o : layer.take_outputs()) {
                busy = true;
                switch (o.out.kind) {
                case tx::output_kind::send:
                    ++sent;
                    net.send(address, registrar, std::move(o.out.bytes));
                    break;
                case tx::output_kind::response:
                    reg.on_response(o.out.message, now);  // provisional ones are ignored
                    break;
                case tx::output_kind::timeout:
                    reg.on_timeout(now);
                    break;
                case tx::output_kind::transport_error:
                    reg.on_transport_error("send failed", now);
                    break;
                default:
                    break;
                }
            }
            for (auto& e : reg.take_events()) events.push_back(std::move(e));
        }
    }
};

const std::string phone_address = "192.0.2.10:5060";
const std::string registrar_address = "198.51.100.1:5060";
const std::string challenge = R"(Digest realm="pbx.example.com", nonce="n-loop", qop="auth", algorithm=MD5)";

ua::registration_config phone_config(std::uint32_t expires) {
    ua::registration_config c;
    c.registrar = "sip:pbx.example.com";
    c.aor = "sip:1001@pbx.example.com";
    c.contact_user = "1001";
    c.contact_host = "192.0.2.10";
    c.contact_port = 5060;
    c.credentials = {"auth-1001", "s3cret"};
    c.expires = expires;
    return c;
}

// The registrar's answer to a REGISTER that arrived on the loop.
std::string answer(const sip::message& req, int status, const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    sip::message_builder b = sip::message_builder::response_to(req, status, {}, "reg-tag");
    for (const auto& [name, value] : headers) b.add(name, value);
    return b.str();
}

// The registrar's check of the credentials in a REGISTER: right for the password and the challenge.
bool credentials_valid(const sip::message& req) {
    if (req.authorization().empty()) return false;
    auto credentials = req.authorization().front();
    if (!credentials) return false;
    sip::auth_value offered;
    if (sip::parse_value(challenge, offered).failed()) return false;
    auto ch = auth::parse_challenge(offered, false);
    if (!ch) return false;
    const std::string nc(credentials->params.get("nc"));
    return credentials->params.get("username") == "auth-1001" &&
           credentials->params.get("response") ==
               auth::response(*ch, {"auth-1001", "s3cret"}, "REGISTER", "sip:pbx.example.com", "auth",
                              credentials->params.get("cnonce"), static_cast<std::uint32_t>(std::stoul(nc, nullptr, 16)));
}

}  // namespace

TEST_CASE("loop: registration through 401 and lost packets, then a refresh before expiry", "[transaction][loop][registration]") {
    loop_network net;  // 20 ms each way, T1 = 500 ms
    registering_party phone(phone_address, registrar_address, phone_config(120), 11);
    phone.attach(net);  // the registrar is the test: its address has no node, what arrives waits in its inbox
    bool lost_register = false;
    bool lost_200 = false;
    net.set_impairment([&](loop_network::datagram& d) {
        if (d.to == registrar_address && !lost_register) return lost_register = true, false;  // the first REGISTER
        if (d.to == phone_address && !lost_200 && d.bytes.rfind("SIP/2.0 200", 0) == 0)
            return lost_200 = true, false;  // the first 200
        return true;
    });
    const tx::time_point t0 = net.now();
    phone.reg.start();

    // Timer E resends the lost REGISTER after T1; the registrar challenges it.
    auto d1 = net.receive(registrar_address, t0 + 5s);
    REQUIRE(d1.has_value());
    CHECK(d1->arrives == t0 + 520ms);
    CHECK(d1->from == phone_address);
    const sip::message r1 = parse_wire(d1->bytes);
    CHECK(r1.method() == sip::method::register_);
    CHECK_FALSE(r1.has(sip::header_id::authorization));
    net.send(registrar_address, d1->from, answer(r1, 401, {{"WWW-Authenticate", challenge}}));

    // The answer to the challenge, in a new transaction, as soon as the 401 arrived.
    auto d2 = net.receive(registrar_address, t0 + 5s);
    REQUIRE(d2.has_value());
    CHECK(d2->arrives == t0 + 560ms);
    const sip::message r2 = parse_wire(d2->bytes);
    CHECK(*r2.call_id() == *r1.call_id());
    CHECK(r2.cseq()->number == r1.cseq()->number + 1);
    CHECK(r2.top_via()->branch != r1.top_via()->branch);
    CHECK(credentials_valid(r2));
    CHECK(r2.bytes().find("s3cret") == std::string_view::npos);
    const std::string granted = "<sip:1001@192.0.2.10:5060>;expires=120";
    net.send(registrar_address, d2->from, answer(r2, 200, {{"Contact", granted}}));  // lost

    // No 200 came back: timer E resends the same REGISTER (same branch), and its 200 gets through.
    auto d3 = net.receive(registrar_address, t0 + 5s);
    REQUIRE(d3.has_value());
    CHECK(d3->arrives == t0 + 1060ms);  // sent at 540 ms + T1
    CHECK(d3->bytes == d2->bytes);
    net.send(registrar_address, d3->from, answer(parse_wire(d3->bytes), 200, {{"Contact", granted}}));
    net.run_until(t0 + 2s);
    REQUIRE(phone.events.size() == 2);
    CHECK(phone.events[0].status == ua::registration_status::registering);
    CHECK(phone.events[1].status == ua::registration_status::registered);
    CHECK(phone.events[1].expires == 120U);
    const tx::time_point registered_at = t0 + 1080ms;
    CHECK(lost_register);
    CHECK(lost_200);
    CHECK(net.stats().lost == 2);
    CHECK(net.take(registrar_address).empty());  // no retransmission after the 200

    // The refresh comes before the binding lapses: halfway through a 120 s binding, on the virtual clock.
    auto d4 = net.receive(registrar_address, t0 + 10min);
    REQUIRE(d4.has_value());
    CHECK(d4->arrives == registered_at + 60s + 20ms);
    CHECK(d4->arrives < registered_at + 120s);
    const sip::message r4 = parse_wire(d4->bytes);
    CHECK(*r4.call_id() == *r1.call_id());
    CHECK(r4.cseq()->number == r2.cseq()->number + 1);
    CHECK(credentials_valid(r4));  // the nonce reused with the next nonce count
    CHECK(r4.authorization().front()->params.get("nc") == "00000002");
    net.send(registrar_address, d4->from, answer(r4, 200, {{"Contact", granted}}));
    net.run_until(t0 + 70s);

    CHECK(phone.reg.state().status == ua::registration_status::registered);
    CHECK(phone.events.size() == 2);  // still registered: no state change to report
    CHECK(phone.sent == 5);           // REGISTER 1 twice, REGISTER 2 twice, the refresh once
    CHECK(phone.garbled == 0);
    CHECK(phone.layer.size() == 0);   // timer K ended the refresh's transaction
    REQUIRE(phone.reg.next_deadline().has_value());
    CHECK(*phone.reg.next_deadline() == d4->arrives + 20ms + 60s);  // the next refresh
    CHECK(net.in_flight() == 0);
}

TEST_CASE("loop: an unreachable registrar times out (timer F), then the retry registers", "[transaction][loop][registration]") {
    loop_network net;
    registering_party phone(phone_address, registrar_address, phone_config(3600), 12);
    phone.attach(net);
    bool down = true;
    net.set_impairment([&](loop_network::datagram& d) { return !(down && d.to == registrar_address); });
    const tx::time_point t0 = net.now();
    phone.reg.start();

    net.run_until(t0 + 32s);  // timer F: 64 * T1 after the first send
    CHECK(phone.sent == 11);  // at 0, 0.5, 1.5, 3.5, 7.5, then every T2 (4 s) until 31.5 s
    CHECK(net.stats().lost == 11);
    REQUIRE(phone.events.size() == 2);
    CHECK(phone.events[1].status == ua::registration_status::failed);
    CHECK(phone.events[1].reason == "no answer from the registrar");
    const ua::duration retry_in = phone.events[1].retry_in;
    CHECK(retry_in >= 1600ms);  // base 2 s with jitter
    CHECK(retry_in <= 2400ms);
    CHECK(phone.layer.size() == 0);

    down = false;  // the registrar is back before the retry
    auto d = net.receive(registrar_address, t0 + 40s);
    REQUIRE(d.has_value());
    CHECK(d->arrives == t0 + 32s + retry_in + 20ms);
    const sip::message r = parse_wire(d->bytes);
    CHECK(r.expires().value_or(0U) == 3600U);
    net.send(registrar_address, d->from, answer(r, 200, {{"Contact", "<sip:1001@192.0.2.10:5060>;expires=3600"}}));
    net.run_for(1s);
    REQUIRE(phone.events.size() == 4);
    CHECK(phone.events[2].status == ua::registration_status::registering);
    CHECK(phone.events[3].status == ua::registration_status::registered);
    CHECK(phone.events[3].expires == 3600U);

    // A long binding is refreshed a minute before it lapses.
    const tx::time_point registered_at = d->arrives + 20ms;
    auto refresh = net.receive(registrar_address, t0 + 2h);
    REQUIRE(refresh.has_value());
    CHECK(refresh->arrives == registered_at + 3540s + 20ms);
}
