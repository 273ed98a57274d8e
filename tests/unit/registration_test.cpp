// Registration driven by a virtual clock; the test plays the registrar (RFC 3261 §10).
#include <catch2/catch.hpp>

#include "parse_helper.hpp"

#include <regex>
#include <string>
#include <vector>

#include "sipvoice/auth/digest.hpp"
#include "sipvoice/sip/builder.hpp"
#include "sipvoice/ua/registration.hpp"
#include "sipvoice/ua/user_agent.hpp"

namespace sip = sipvoice::sip;
namespace ua = sipvoice::ua;
namespace auth = sipvoice::auth;
using namespace std::chrono_literals;

namespace {

ua::registration_config config() {
    ua::registration_config c;
    c.registrar = "sip:pbx.example.com";
    c.aor = "sip:1001@pbx.example.com";
    c.contact_user = "1001";
    c.contact_host = "192.0.2.10";
    c.contact_port = 5060;
    c.credentials = {"auth-1001", "s3cret"};
    c.expires = 3600;
    return c;
}

// The one request the registration produced since the last call.
sip::message next_request(ua::registration& r) {
    auto requests = r.take_requests();
    REQUIRE(requests.size() == 1);
    return parse_wire(requests[0]);
}

std::string answer(const sip::message& req, int status, const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    sip::message_builder b = sip::message_builder::response_to(req, status, {}, "reg-tag");
    for (const auto& [name, value] : headers) b.add(name, value);
    return b.str();
}

// A 200 from a registrar that saw the request come from 203.0.113.5:40000 (received/rport in its Via).
std::string answer_from_nat(const sip::message& req, const std::vector<std::pair<std::string, std::string>>& headers) {
    std::string reply = answer(req, 200, headers);
    const std::string via(req.header(sip::header_id::via));
    const std::size_t at = reply.find(via);
    REQUIRE(at != std::string::npos);
    reply.replace(at, via.size(), via.substr(0, via.size() - 5) + "rport=40000;received=203.0.113.5");
    return reply;
}

const std::string challenge = R"(Digest realm="pbx.example.com", nonce="n-1", qop="auth", algorithm=MD5)";

}  // namespace

TEST_CASE("registration: 401, digest answer, 200, refresh before expiry", "[ua][registration]") {
    const ua::time_point t0{};
    ua::registration r(config(), 1);
    r.start();
    const sip::message first = next_request(r);
    CHECK(first.method() == sip::method::register_);
    CHECK(first.request_uri().text == "sip:pbx.example.com");
    CHECK(first.expires().value_or(0U) == 3600U);
    CHECK(first.top_via()->has_rport);
    CHECK(first.top_via()->rfc3261_branch());
    CHECK(first.header(sip::header_id::contact) == "<sip:1001@192.0.2.10:5060>");
    CHECK_FALSE(first.has(sip::header_id::authorization));
    CHECK(r.state().status == ua::registration_status::registering);

    r.on_response(parse_wire(answer(first, 401, {{"WWW-Authenticate", challenge}})), t0 + 10ms);
    const sip::message second = next_request(r);
    CHECK(*second.call_id() == *first.call_id());
    CHECK(second.from()->tag() == first.from()->tag());
    CHECK(second.cseq()->number == first.cseq()->number + 1);
    CHECK(second.top_via()->branch != first.top_via()->branch);
    auto credentials = second.authorization().front();
    REQUIRE(credentials.has_value());
    CHECK(credentials->params.get("username") == "auth-1001");  // the auth user, not the extension
    CHECK(credentials->params.get("uri") == "sip:pbx.example.com");
    // The registrar's check: the response is right for the password.
    sip::auth_value offered;
    REQUIRE_FALSE(sip::parse_value(challenge, offered).failed());
    auto ch = auth::parse_challenge(offered, false);
    REQUIRE(ch.has_value());
    CHECK(credentials->params.get("response") ==
          auth::response(*ch, {"auth-1001", "s3cret"}, "REGISTER", "sip:pbx.example.com", "auth",
                         credentials->params.get("cnonce"), 1));
    CHECK(second.bytes().find("s3cret") == std::string_view::npos);

    r.on_response(parse_wire(answer(second, 200, {{"Contact", "<sip:1001@192.0.2.10:5060>;expires=120"},
                                             {"Service-Route", "<sip:orig@scscf.example.com;lr>"}})),
                  t0 + 20ms);
    CHECK(r.take_requests().empty());
    auto events = r.take_events();
    REQUIRE(events.size() == 2);
    CHECK(events[0].status == ua::registration_status::registering);
    CHECK(events[1].status == ua::registration_status::registered);
    CHECK(events[1].expires == 120U);
    REQUIRE(r.service_route().size() == 1);
    CHECK(r.service_route()[0] == "<sip:orig@scscf.example.com;lr>");
    REQUIRE(r.next_deadline().has_value());
    CHECK(*r.next_deadline() == t0 + 20ms + 60s);  // halfway through a short binding
    r.on_time(t0 + 20ms + 60s);
    const sip::message refresh = next_request(r);
    CHECK(refresh.cseq()->number == second.cseq()->number + 1);
    CHECK(refresh.has(sip::header_id::authorization));  // the nonce is reused, nc counts up
    CHECK(refresh.authorization().front()->params.get("nc") == "00000002");
}

TEST_CASE("registration: a wrong password fails clearly and backs off instead of looping", "[ua][registration]") {
    ua::time_point now{};
    ua::registration r(config(), 7);
    r.start();
    std::vector<ua::duration> retries;
    for (int attempt = 0; attempt < 7; ++attempt) {
        const sip::message req = next_request(r);
        r.on_response(parse_wire(answer(req, 401, {{"WWW-Authenticate", challenge}})), now);
        const sip::message with_credentials = next_request(r);
        // Kamailio answers a wrong password with a fresh nonce; without stale=true it is a failure.
        r.on_response(parse_wire(answer(with_credentials, 401,
                                   {{"WWW-Authenticate", R"(Digest realm="pbx.example.com", nonce="n-)" +
                                                             std::to_string(attempt + 2) + R"(", qop="auth")"}})),
                      now);
        CHECK(r.take_requests().empty());  // no immediate retry: no loop
        CHECK(r.state().status == ua::registration_status::failed);
        CHECK(r.state().reason == "authentication failed for realm pbx.example.com");
        retries.push_back(r.state().retry_in);
        REQUIRE(r.next_deadline().has_value());
        now = *r.next_deadline();
        r.on_time(now);
    }
    // Base 2 s doubling to 60 s, each with ±20% jitter.
    const double base[] = {2, 4, 8, 16, 32, 60, 60};
    for (std::size_t i = 0; i < retries.size(); ++i) {
        const double s = static_cast<double>(retries[i].count()) / 1000.0;
        CHECK(s >= base[i] * 0.8);
        CHECK(s <= base[i] * 1.2);
    }
}

TEST_CASE("registration: stale=true retries at once with the new nonce", "[ua][registration]") {
    const ua::time_point t0{};
    ua::registration r(config(), 3);
    r.start();
    auto req = next_request(r);
    r.on_response(parse_wire(answer(req, 401, {{"WWW-Authenticate", challenge}})), t0);
    req = next_request(r);
    r.on_response(parse_wire(answer(req, 401, {{"WWW-Authenticate",
                                           R"(Digest realm="pbx.example.com", nonce="n-2", qop="auth", stale=true)"}})),
                  t0);
    req = next_request(r);
    CHECK(req.authorization().front()->params.get("nonce") == "n-2");
    CHECK(req.authorization().front()->params.get("nc") == "00000001");
    CHECK(r.state().status == ua::registration_status::registering);
}

TEST_CASE("registration: 407 is answered with Proxy-Authorization", "[ua][registration]") {
    const ua::time_point t0{};
    ua::registration r(config(), 4);
    r.start();
    auto req = next_request(r);
    r.on_response(parse_wire(answer(req, 407, {{"Proxy-Authenticate", challenge}})), t0);
    req = next_request(r);
    CHECK(req.has(sip::header_id::proxy_authorization));
    CHECK_FALSE(req.has(sip::header_id::authorization));
}

TEST_CASE("registration: 423 Interval Too Brief is retried with Min-Expires", "[ua][registration]") {
    const ua::time_point t0{};
    auto cfg = config();
    cfg.expires = 60;
    ua::registration r(cfg, 5);
    r.start();
    auto req = next_request(r);
    r.on_response(parse_wire(answer(req, 423, {{"Min-Expires", "1800"}})), t0);
    req = next_request(r);
    CHECK(req.expires().value_or(0U) == 1800U);
    r.on_response(parse_wire(answer(req, 200, {{"Expires", "1800"}})), t0);
    CHECK(r.state().status == ua::registration_status::registered);
    CHECK(r.state().expires == 1800U);
    CHECK(*r.next_deadline() == t0 + 1740s);  // a minute before it lapses
}

TEST_CASE("registration: learns its public address from received/rport and registers it", "[ua][registration]") {
    const ua::time_point t0{};
    auto cfg = config();
    cfg.transport = "TCP";
    ua::registration r(cfg, 6);
    r.start();
    auto req = next_request(r);
    CHECK(req.header(sip::header_id::contact) == "<sip:1001@192.0.2.10:5060;transport=tcp>");
    // The registrar saw us behind a NAT.
    r.on_response(parse_wire(answer_from_nat(req, {{"Expires", "600"}})), t0);
    req = next_request(r);
    CHECK(req.header(sip::header_id::contact) == "<sip:1001@203.0.113.5:40000;transport=tcp>");
    CHECK(req.top_via()->host == "203.0.113.5");
    CHECK(r.state().status == ua::registration_status::registering);
    r.on_response(parse_wire(answer(req, 200, {{"Expires", "600"}})), t0);
    CHECK(r.state().status == ua::registration_status::registered);
}

TEST_CASE("registration: timeouts, reconnects, stale answers and un-REGISTER", "[ua][registration]") {
    const ua::time_point t0{};
    ua::registration r(config(), 8);
    r.start();
    auto req = next_request(r);
    r.on_timeout(t0 + 32s);
    CHECK(r.state().status == ua::registration_status::failed);
    CHECK(r.state().reason == "no answer from the registrar");
    r.on_time(*r.next_deadline());
    req = next_request(r);
    const sip::message older = req;
    r.on_transport_reconnected();  // TCP came back: register at once
    req = next_request(r);
    r.on_response(parse_wire(answer(older, 200, {{"Expires", "600"}})), t0 + 41s);  // answer to an older CSeq
    CHECK(r.state().status == ua::registration_status::registering);
    r.on_response(parse_wire(answer(req, 200, {{"Expires", "600"}})), t0 + 41s);
    CHECK(r.state().status == ua::registration_status::registered);

    r.stop();
    req = next_request(r);
    CHECK(req.expires().value_or(99U) == 0U);
    CHECK_FALSE(r.next_deadline().has_value());
    r.on_response(parse_wire(answer(req, 200)), t0 + 51s);
    CHECK(r.state().status == ua::registration_status::unregistered);
    r.on_transport_reconnected();  // stopped: nothing more is sent
    CHECK(r.take_requests().empty());
}

TEST_CASE("registration: other refusals fail with the registrar's words", "[ua][registration]") {
    const ua::time_point t0{};
    ua::registration r(config(), 9);
    r.start();
    auto req = next_request(r);
    r.on_response(parse_wire(answer(req, 403, {})), t0);
    CHECK(r.state().status == ua::registration_status::failed);
    CHECK(r.state().reason == "registrar answered 403 Forbidden");
    r.on_time(*r.next_deadline());
    req = next_request(r);
    r.on_response(parse_wire(answer(req, 401, {{"WWW-Authenticate", R"(Basic realm="x")"}})), t0);
    CHECK(r.state().reason.find("cannot answer") != std::string::npos);
}

TEST_CASE("registration: outbound (RFC 5626) asks with reg-id and +sip.instance and learns the Flow-Timer", "[ua][registration][outbound]") {
    const ua::time_point t0{};
    auto cfg = config();
    cfg.transport = "TCP";
    cfg.instance_id = "urn:uuid:00000000-0000-1000-8000-000a95a0e128";
    ua::registration r(cfg, 7);
    r.start();
    auto req = next_request(r);
    CHECK(req.header(sip::header_id::contact) ==
          "<sip:1001@192.0.2.10:5060;transport=tcp>;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\"");
    std::vector<std::string> supported;
    for (auto t : req.supported())
        if (t) supported.emplace_back(t->text);
    CHECK(supported == std::vector<std::string>{"outbound", "path"});
    auto contact = req.contacts().front();
    REQUIRE(contact);
    CHECK(contact->address.params.get("reg-id") == "1");
    CHECK(contact->address.params.get("+sip.instance") == "\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\"");

    SECTION("a registrar that requires outbound in its 2xx: the flow is an outbound one") {
        r.on_response(parse_wire(answer(req, 200, {{"Expires", "600"}, {"Require", "outbound"}, {"Flow-Timer", "25"}})), t0);
        CHECK(r.state().status == ua::registration_status::registered);
        CHECK(r.state().outbound);
        CHECK(r.state().flow_timer == 25);
        // The refresh keeps the same instance and reg-id, so it replaces the binding.
        r.on_time(t0 + 600s);
        req = next_request(r);
        CHECK(req.contacts().front()->address.params.get("reg-id") == "1");
        // An answer without Require: outbound turns it off again (and says so in an event).
        r.take_events();
        r.on_response(parse_wire(answer(req, 200, {{"Expires", "600"}})), t0 + 600s);
        CHECK_FALSE(r.state().outbound);
        CHECK(r.take_events().size() == 1);
    }
    SECTION("a registrar that ignores it: an ordinary binding") {
        r.on_response(parse_wire(answer(req, 200, {{"Expires", "600"}, {"Flow-Timer", "25"}})), t0);
        CHECK(r.state().status == ua::registration_status::registered);
        CHECK_FALSE(r.state().outbound);
        CHECK(r.state().flow_timer == 0);
    }
    SECTION("439 First Hop Lacks Outbound Support: registered again without outbound") {
        r.on_response(parse_wire(answer(req, 439)), t0);
        req = next_request(r);
        CHECK(req.header(sip::header_id::contact) == "<sip:1001@192.0.2.10:5060;transport=tcp>");
        CHECK(req.supported().empty());
        CHECK(r.state().status == ua::registration_status::registering);
        r.on_response(parse_wire(answer(req, 200, {{"Expires", "600"}})), t0);
        CHECK(r.state().status == ua::registration_status::registered);
        CHECK_FALSE(r.state().outbound);
    }
    SECTION("a new public address: the registrar replaces the binding by its instance, no expires=0 Contact") {
        r.on_response(parse_wire(answer_from_nat(req, {{"Expires", "600"}, {"Require", "outbound"}})), t0);
        req = next_request(r);
        CHECK(req.count(sip::header_id::contact) == 1);
        CHECK(req.header(sip::header_id::contact) ==
              "<sip:1001@203.0.113.5:40000;transport=tcp>;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\"");
    }
    SECTION("a new public address, and a registrar without outbound: the old Contact is removed as usual") {
        r.on_response(parse_wire(answer_from_nat(req, {{"Expires", "600"}})), t0);
        req = next_request(r);
        REQUIRE(req.count(sip::header_id::contact) == 2);
        auto contacts = req.contacts().begin();
        CHECK((*contacts)->address.address.host == "203.0.113.5");
        ++contacts;
        CHECK((*contacts)->address.address.host == "192.0.2.10");
        CHECK((*contacts)->expires == 0);
    }
    SECTION("the un-REGISTER names the same instance and reg-id") {
        r.on_response(parse_wire(answer(req, 200, {{"Expires", "600"}, {"Require", "outbound"}})), t0);
        r.stop();
        req = next_request(r);
        CHECK(req.header(sip::header_id::expires) == "0");
        CHECK(req.contacts().front()->address.params.get("reg-id") == "1");
    }
}

TEST_CASE("registration: no instance id, no outbound parameters", "[ua][registration][outbound]") {
    ua::registration r(config(), 8);
    r.start();
    auto req = next_request(r);
    CHECK(req.header(sip::header_id::contact) == "<sip:1001@192.0.2.10:5060>");
    CHECK_FALSE(req.has(sip::header_id::supported));
}

TEST_CASE("default_instance_id: one UUID URN per address of record, the same every time", "[ua][outbound]") {
    const std::string a = ua::default_instance_id("sip:1001@pbx.example.com");
    CHECK(a == ua::default_instance_id("sip:1001@pbx.example.com"));
    CHECK(a != ua::default_instance_id("sip:1002@pbx.example.com"));
    CHECK(std::regex_match(a, std::regex("urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
    CHECK(ua::valid_instance_id(a));
    CHECK(ua::valid_instance_id("URN:uuid:1"));  // RFC 8141: the scheme in any case
    CHECK_FALSE(ua::valid_instance_id("urn:"));
    CHECK_FALSE(ua::valid_instance_id("uuid:1"));
    CHECK_FALSE(ua::valid_instance_id("urn:x\"y"));
    CHECK_FALSE(ua::valid_instance_id("urn:x>;reg-id=2"));
}
