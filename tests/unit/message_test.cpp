#include <catch2/catch.hpp>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sipvoice/sip/message.hpp"

namespace sip = sipvoice::sip;

namespace {

// Joins header lines with CRLF, adds the empty line, then the body.
std::string wire(std::initializer_list<std::string_view> lines, std::string_view body = {}) {
    std::string out;
    for (std::string_view l : lines) out.append(l).append("\r\n");
    out.append("\r\n").append(body);
    return out;
}

sip::message must_parse(std::string bytes, const sip::parse_options& options = {}) {
    INFO(bytes);
    auto r = sip::message::parse(std::move(bytes), options);
    if (!r) INFO("error " << r.error().what() << " at " << r.error().line << ":" << r.error().column);
    REQUIRE(r.has_value());
    return std::move(*r);
}

sip::parse_error must_fail(std::string bytes, const sip::parse_options& options = {}) {
    INFO(bytes);
    auto r = sip::message::parse(std::move(bytes), options);
    REQUIRE_FALSE(r.has_value());
    return r.error();
}

bool within(std::string_view inner, std::string_view outer) {
    return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

template <class T, class F>
std::vector<std::string> collect(sip::header_values<T> values, F&& f) {
    std::vector<std::string> out;
    for (auto v : values) {
        REQUIRE(v.has_value());
        out.emplace_back(f(*v));
    }
    return out;
}

const std::string sdp =
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.com\r\n"
    "s=-\r\n"
    "c=IN IP4 pc33.atlanta.com\r\n"
    "t=0 0\r\n"
    "m=audio 49172 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n";

std::string realistic_invite() {
    return wire({"INVITE sip:bob@biloxi.com SIP/2.0",
                 "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds;rport",
                 "Via: SIP/2.0/TCP proxy.example.com:5061;branch=z9hG4bK-1;received=192.0.2.7",
                 "Max-Forwards: 70",
                 "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
                 "Record-Route: <sip:rr.example.com;lr>",
                 "To: Bob <sip:bob@biloxi.com>",
                 "From: \"Alice A.\" <sip:alice@atlanta.com>;tag=1928301774",
                 "Call-ID: a84b4c76e66710@pc33.atlanta.com",
                 "CSeq: 314159 INVITE",
                 "Contact: <sip:alice@pc33.atlanta.com;transport=tcp>;expires=300",
                 "Allow: INVITE, ACK, CANCEL, BYE",
                 "Allow: OPTIONS",
                 "Supported: timer, replaces",
                 "Require: 100rel",
                 "Proxy-Require: sec-agree",
                 "Session-Expires: 1800;refresher=uac",
                 "Min-SE: 90",
                 "Expires: 120",
                 "Accept: application/sdp, multipart/mixed",
                 "Authorization: Digest username=\"alice\", realm=\"atlanta.com\", nonce=\"abc\", "
                 "uri=\"sip:bob@biloxi.com\", response=\"0123456789abcdef0123456789abcdef\"",
                 "Proxy-Authorization: Digest username=\"alice\", realm=\"proxy\", nonce=\"n\", response=\"fe\"",
                 "User-Agent: sipvoice-test/1.0",
                 "Reason: SIP;cause=200;text=\"Call completed elsewhere\", Q.850;cause=16",
                 "Content-Type: application/sdp",
                 "Content-Length: 146"},
                sdp);
}

std::string realistic_401() {
    return wire({"SIP/2.0 401 Unauthorized",
                 "Via: SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bKnashds7;received=192.0.2.4",
                 "From: Bob <sip:bob@biloxi.com>;tag=a73kszlfl",
                 "To: Bob <sip:bob@biloxi.com>;tag=1410948204",
                 "Call-ID: 1j9FpLxk3uxtm8tn@biloxi.com",
                 "CSeq: 1 REGISTER",
                 "WWW-Authenticate: Digest realm=\"atlanta.example.com\", qop=\"auth\", "
                 "nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", opaque=\"\", stale=FALSE, algorithm=MD5",
                 "Proxy-Authenticate: Digest realm=\"proxy.example.com\", nonce=\"x\", algorithm=MD5",
                 "Server: sipvoice-registrar/0.1",
                 "Min-Expires: 60",
                 "Unsupported: foo, bar",
                 "Content-Length: 0"});
}

}  // namespace

TEST_CASE("method names", "[sip][message]") {
    CHECK(sip::lookup_method("INVITE") == sip::method::invite);
    CHECK(sip::lookup_method("REGISTER") == sip::method::register_);
    CHECK(sip::lookup_method("PUBLISH") == sip::method::publish);
    CHECK(sip::lookup_method("invite") == sip::method::other);  // case-sensitive (RFC 3261 §7.1)
    CHECK(sip::lookup_method("FOO") == sip::method::other);
    CHECK(sip::lookup_method("") == sip::method::other);
    CHECK(sip::method_name(sip::method::register_) == "REGISTER");
    CHECK(sip::method_name(sip::method::message) == "MESSAGE");
    CHECK(sip::method_name(sip::method::other).empty());
    for (int i = 1; i <= static_cast<int>(sip::method::publish); ++i) {
        const auto m = static_cast<sip::method>(i);
        CHECK(sip::lookup_method(sip::method_name(m)) == m);
    }
}

TEST_CASE("realistic INVITE: start line and every typed accessor", "[sip][message]") {
    const sip::message m = must_parse(realistic_invite());
    CHECK(m.is_request());
    CHECK_FALSE(m.is_response());
    CHECK(m.method() == sip::method::invite);
    CHECK(m.method_name() == "INVITE");
    CHECK(m.request_uri().text == "sip:bob@biloxi.com");
    CHECK(m.request_uri().user == "bob");
    CHECK(m.request_uri().host == "biloxi.com");
    CHECK(m.version() == "SIP/2.0");
    CHECK(m.status() == 0);
    CHECK(m.reason_phrase().empty());
    CHECK(m.start_line() == "INVITE sip:bob@biloxi.com SIP/2.0");
    CHECK(m.fields().size() == 25);
    CHECK(m.body() == sdp);
    CHECK(m.body().size() == 146);
    CHECK(m.trailing_bytes() == 0);

    // Via
    CHECK(m.vias().size() == 2);
    auto top = m.top_via();
    REQUIRE(top.has_value());
    CHECK(top->host == "pc33.atlanta.com");
    CHECK(top->branch == "z9hG4bK776asdhds");
    CHECK(top->has_rport);
    CHECK(collect(m.vias(), [](const sip::via& v) { return std::string(v.host) + ":" + std::to_string(v.port); }) ==
          std::vector<std::string>{"pc33.atlanta.com:0", "proxy.example.com:5061"});

    auto from = m.from();
    REQUIRE(from.has_value());
    CHECK(from->display() == "Alice A.");
    CHECK(from->tag() == "1928301774");
    CHECK(from->address.user == "alice");
    auto to = m.to();
    REQUIRE(to.has_value());
    CHECK(to->display() == "Bob");
    CHECK(to->tag().empty());
    auto call_id = m.call_id();
    REQUIRE(call_id.has_value());
    CHECK(*call_id == "a84b4c76e66710@pc33.atlanta.com");
    auto cseq = m.cseq();
    REQUIRE(cseq.has_value());
    CHECK(cseq->number == 314159);
    CHECK(cseq->method == "INVITE");

    auto contact = m.contacts().front();
    REQUIRE(contact.has_value());
    CHECK(contact->address.address.transport() == "tcp");
    CHECK(contact->has_expires());
    CHECK(contact->expires == 300);
    CHECK(m.contacts().size() == 1);

    CHECK(m.max_forwards().value() == 70);
    CHECK(m.content_length().value() == 146);
    auto ct = m.content_type();
    REQUIRE(ct.has_value());
    CHECK(ct->matches("application", "sdp"));

    CHECK(collect(m.routes(), [](const sip::name_addr& r) { return std::string(r.address.host); }) ==
          std::vector<std::string>{"p1.example.com", "p2.example.com"});
    CHECK(collect(m.record_routes(), [](const sip::name_addr& r) { return std::string(r.address.host); }) ==
          std::vector<std::string>{"rr.example.com"});
    CHECK(m.paths().empty());
    CHECK(m.service_routes().empty());

    CHECK(m.expires().value() == 120);
    CHECK(m.min_expires().error().code == sip::errc::missing_header);
    auto tok = [](const sip::token& t) { return std::string(t.text); };
    CHECK(collect(m.allow(), tok) == std::vector<std::string>{"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"});
    CHECK(collect(m.supported(), tok) == std::vector<std::string>{"timer", "replaces"});
    CHECK(collect(m.require(), tok) == std::vector<std::string>{"100rel"});
    CHECK(collect(m.proxy_require(), tok) == std::vector<std::string>{"sec-agree"});
    CHECK(m.unsupported().empty());

    CHECK(m.www_authenticate().empty());
    CHECK(m.proxy_authenticate().empty());
    auto auth = m.authorization().front();
    REQUIRE(auth.has_value());
    CHECK(auth->scheme == "Digest");
    CHECK(auth->params.get("username") == "alice");
    CHECK(auth->params.get("uri") == "sip:bob@biloxi.com");
    CHECK(auth->params.get("response") == "0123456789abcdef0123456789abcdef");
    CHECK(m.authorization().size() == 1);  // commas in credentials do not split them
    auto pauth = m.proxy_authorization().front();
    REQUIRE(pauth.has_value());
    CHECK(pauth->params.get("realm") == "proxy");

    CHECK(m.user_agent() == "sipvoice-test/1.0");
    CHECK(m.server().empty());
    CHECK(collect(m.reasons(), [](const sip::reason& r) { return std::string(r.protocol) + "/" + std::to_string(r.cause); }) ==
          std::vector<std::string>{"SIP/200", "Q.850/16"});
    auto se = m.session_expires();
    REQUIRE(se.has_value());
    CHECK(se->delta == 1800);
    CHECK(se->refresher == "uac");
    CHECK(m.min_se().value() == 90);
    CHECK(collect(m.accept(), [](const sip::media_type& t) { return std::string(t.type) + "/" + std::string(t.subtype); }) ==
          std::vector<std::string>{"application/sdp", "multipart/mixed"});
    CHECK(m.event().error().code == sip::errc::missing_header);
    CHECK(m.refer_to().error().code == sip::errc::missing_header);
}

TEST_CASE("realistic 401 response: start line and every typed accessor", "[sip][message]") {
    const sip::message m = must_parse(realistic_401());
    CHECK(m.is_response());
    CHECK_FALSE(m.is_request());
    CHECK(m.status() == 401);
    CHECK(m.reason_phrase() == "Unauthorized");
    CHECK(m.version() == "SIP/2.0");
    CHECK(m.method() == sip::method::other);
    CHECK(m.method_name().empty());
    CHECK(m.start_line() == "SIP/2.0 401 Unauthorized");
    CHECK(m.body().empty());

    auto top = m.top_via();
    REQUIRE(top.has_value());
    CHECK(top->port == 5060);
    CHECK(top->received == "192.0.2.4");
    CHECK(m.from()->tag() == "a73kszlfl");
    CHECK(m.to()->tag() == "1410948204");
    CHECK(m.call_id().value() == "1j9FpLxk3uxtm8tn@biloxi.com");
    CHECK(m.cseq()->method == "REGISTER");
    CHECK(m.cseq()->number == 1);
    CHECK(m.contacts().empty());
    CHECK(m.contacts().front().error().code == sip::errc::missing_header);
    CHECK(m.max_forwards().error().code == sip::errc::missing_header);
    CHECK(m.content_length().value() == 0);
    CHECK(m.content_type().error().code == sip::errc::missing_header);
    CHECK(m.routes().empty());
    CHECK(m.record_routes().empty());
    CHECK(m.expires().error().code == sip::errc::missing_header);
    CHECK(m.min_expires().value() == 60);
    CHECK(m.allow().empty());
    CHECK(m.supported().empty());
    CHECK(collect(m.unsupported(), [](const sip::token& t) { return std::string(t.text); }) ==
          std::vector<std::string>{"foo", "bar"});

    auto challenge = m.www_authenticate().front();
    REQUIRE(challenge.has_value());
    CHECK(challenge->scheme == "Digest");
    CHECK(challenge->params.get("realm") == "atlanta.example.com");
    CHECK(challenge->params.get("qop") == "auth");
    CHECK(challenge->params.get("nonce") == "ea9c8e88df84f1cec4341ae6cbe5a359");
    CHECK(challenge->params.get("stale") == "FALSE");
    CHECK(challenge->params.get("algorithm") == "MD5");
    auto proxy_challenge = m.proxy_authenticate().front();
    REQUIRE(proxy_challenge.has_value());
    CHECK(proxy_challenge->params.get("realm") == "proxy.example.com");
    CHECK(m.authorization().empty());
    CHECK(m.proxy_authorization().empty());
    CHECK(m.server() == "sipvoice-registrar/0.1");
    CHECK(m.user_agent().empty());
    CHECK(m.reasons().empty());
    CHECK(m.session_expires().error().code == sip::errc::missing_header);
    CHECK(m.min_se().error().code == sip::errc::missing_header);
    CHECK(m.accept().empty());
    CHECK(m.paths().empty());
    CHECK(m.service_routes().empty());
    CHECK(m.require().empty());
    CHECK(m.proxy_require().empty());
    CHECK(m.event().error().code == sip::errc::missing_header);
    CHECK(m.refer_to().error().code == sip::errc::missing_header);
    CHECK(m.vias().size() == 1);
}

TEST_CASE("REGISTER, 200 OK and REFER: Path, Service-Route, Event, Refer-To", "[sip][message]") {
    const sip::message reg = must_parse(wire({"REGISTER sip:registrar.example.com SIP/2.0",
                                               "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr",
                                               "Path: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>",
                                               "Path: <sip:p3.example.com;lr>",
                                               "Contact: <sip:a@192.0.2.1>;expires=3600, <sip:a@198.51.100.1>;q=0.5",
                                               "Expires: 7200", "Content-Length: 0"}));
    CHECK(reg.method() == sip::method::register_);
    CHECK(collect(reg.paths(), [](const sip::name_addr& p) { return std::string(p.address.host); }) ==
          std::vector<std::string>{"p1.example.com", "p2.example.com", "p3.example.com"});
    CHECK(collect(reg.contacts(), [](const sip::contact& c) { return std::to_string(c.expires) + "/" + std::to_string(c.q); }) ==
          std::vector<std::string>{"3600/-1", "0/500"});
    CHECK(reg.expires().value() == 7200);

    const sip::message ok = must_parse(wire({"SIP/2.0 200 OK", "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr",
                                              "Service-Route: <sip:orig@scscf.example.com;lr>", "Contact: *",
                                              "Content-Length: 0"}));
    CHECK(collect(ok.service_routes(), [](const sip::name_addr& p) { return std::string(p.address.user); }) ==
          std::vector<std::string>{"orig"});
    auto star = ok.contacts().front();
    REQUIRE(star.has_value());
    CHECK(star->star);

    const sip::message refer = must_parse(wire({"REFER sip:b@example.com SIP/2.0", "Via: SIP/2.0/TCP h;branch=z9hG4bKf",
                                                 "r: <sip:c@example.com?Replaces=abc%40x>",
                                                 "o: refer;id=93809824", "l: 0"}));
    CHECK(refer.method() == sip::method::refer);
    auto refer_to = refer.refer_to();
    REQUIRE(refer_to.has_value());
    CHECK(refer_to->address.user == "c");
    CHECK(refer_to->address.headers == "Replaces=abc%40x");
    auto event = refer.event();
    REQUIRE(event.has_value());
    CHECK(event->package == "refer");
    CHECK(event->id == "93809824");
}

TEST_CASE("typed accessors report malformed values with message offsets", "[sip][message]") {
    const std::string bytes = wire({"OPTIONS sip:a@b SIP/2.0", "CSeq: 99999999999 OPTIONS", "Max-Forwards: 256",
                                    "Call-ID: a b", "Via: SIP/2.0/UDP ok;branch=z9hG4bK1, SIP/2.0/UDP 256.0.0.1"});
    const sip::message m = must_parse(bytes);
    auto cseq = m.cseq();
    REQUIRE_FALSE(cseq.has_value());
    CHECK(cseq.error().code == sip::errc::number_too_large);
    CHECK(cseq.error().offset == bytes.find("99999999999"));
    auto mf = m.max_forwards();
    CHECK(mf.error().code == sip::errc::number_too_large);
    CHECK(mf.error().offset == bytes.find("256"));
    auto cid = m.call_id();
    CHECK(cid.error().code == sip::errc::bad_header_value);
    CHECK(cid.error().offset == bytes.find("a b"));
    auto it = m.vias().begin();
    CHECK((*it).has_value());
    ++it;
    auto second = *it;
    REQUIRE_FALSE(second.has_value());
    CHECK(second.error().code == sip::errc::bad_host);
    CHECK(second.error().offset == bytes.find("256.0.0.1"));
    const sip::parse_error where = m.locate(second.error());
    CHECK(where.line == 5);
    CHECK(where.column == bytes.find("256.0.0.1") - bytes.find("Via:") + 1);
}

TEST_CASE("compact header forms", "[sip][message]") {
    const sip::message m = must_parse(wire({"INVITE sip:b@example.com SIP/2.0", "v: SIP/2.0/UDP h;branch=z9hG4bK1",
                                             "f: <sip:a@example.com>;tag=1", "t: <sip:b@example.com>",
                                             "i: abc@h", "m: <sip:a@h>", "k: timer", "s: hello",
                                             "e: identity", "u: refer", "x: 90", "c: application/sdp", "l: 4"},
                                            "v=0\n"));
    const sip::header_id expected[] = {
        sip::header_id::via,       sip::header_id::from,          sip::header_id::to,
        sip::header_id::call_id,   sip::header_id::contact,       sip::header_id::supported,
        sip::header_id::subject,   sip::header_id::content_encoding, sip::header_id::allow_events,
        sip::header_id::session_expires, sip::header_id::content_type, sip::header_id::content_length};
    REQUIRE(m.fields().size() == std::size(expected));
    for (std::size_t i = 0; i < std::size(expected); ++i) CHECK(m.fields()[i].id == expected[i]);
    CHECK(m.top_via()->branch == "z9hG4bK1");
    CHECK(m.from()->tag() == "1");
    CHECK(m.call_id().value() == "abc@h");
    CHECK(m.header("Subject") == "hello");
    CHECK(m.header("s") == "hello");
    CHECK(m.session_expires()->delta == 90);
    CHECK(m.body() == "v=0\n");
    CHECK(m.name(m.fields()[0]) == "v");
}

TEST_CASE("header(name) is case-insensitive; unknown headers kept verbatim and in order", "[sip][message]") {
    const sip::message m = must_parse(wire({"OPTIONS sip:a@b SIP/2.0", "X-First: 1", "Call-ID: id@host",
                                             "x-FIRST: 2", "P-Weird:a,b;c  ", "Via  :  SIP/2.0/UDP h",
                                             "Subject\t:\tTab"}));
    REQUIRE(m.fields().size() == 6);
    CHECK(m.name(m.fields()[0]) == "X-First");
    CHECK(m.value(m.fields()[0]) == "1");
    CHECK(m.fields()[0].id == sip::header_id::other);
    CHECK(m.name(m.fields()[2]) == "x-FIRST");
    CHECK(m.value(m.fields()[2]) == "2");
    CHECK(m.name(m.fields()[3]) == "P-Weird");
    CHECK(m.value(m.fields()[3]) == "a,b;c");
    CHECK(m.name(m.fields()[4]) == "Via");
    CHECK(m.value(m.fields()[4]) == "SIP/2.0/UDP h");
    CHECK(m.name(m.fields()[5]) == "Subject");
    CHECK(m.value(m.fields()[5]) == "Tab");
    CHECK(m.header("x-first") == "1");
    CHECK(m.header("X-FIRST") == "1");
    CHECK(m.header("p-weird") == "a,b;c");
    CHECK(m.header("call-id") == "id@host");
    CHECK(m.header("CALL-ID") == "id@host");
    CHECK(m.header("i") == "id@host");
    CHECK(m.header("I") == "id@host");
    CHECK(m.header(sip::header_id::call_id) == "id@host");
    CHECK(m.header("X-Absent").empty());
    CHECK(m.header(sip::header_id::from).empty());
    CHECK(m.find(sip::header_id::from) == nullptr);
    CHECK(m.find(sip::header_id::other) == nullptr);
    REQUIRE(m.find(sip::header_id::via) != nullptr);
    CHECK(m.find(sip::header_id::via) == &m.fields()[4]);
    CHECK(m.count(sip::header_id::other) == 3);
    CHECK(m.count(sip::header_id::via) == 1);
    CHECK(m.has(sip::header_id::call_id));
    CHECK_FALSE(m.has(sip::header_id::cseq));
    // Line numbers of the fields.
    for (std::size_t i = 0; i < m.fields().size(); ++i) CHECK(m.fields()[i].line == i + 2);
}

TEST_CASE("repeated headers and comma lists keep element order across lines", "[sip][message]") {
    const std::string bytes = wire({"INVITE sip:b@example.com SIP/2.0",
                                    "Via: SIP/2.0/UDP a;branch=z9hG4bK1 , SIP/2.0/UDP b;branch=z9hG4bK2",
                                    "Supported:",
                                    "Contact: <sip:1@x>;q=0.1, \"Doe, J\" <sip:2@x>",
                                    "Allow: INVITE,ACK",
                                    "v: SIP/2.0/UDP c;branch=z9hG4bK3",
                                    "m: <sip:3@x;a=1>",
                                    "Allow: BYE",
                                    "k: timer, 100rel",
                                    "Via: SIP/2.0/UDP d"});
    const sip::message m = must_parse(bytes);
    CHECK(collect(m.vias(), [](const sip::via& v) { return std::string(v.host); }) ==
          std::vector<std::string>{"a", "b", "c", "d"});
    CHECK(m.vias().size() == 4);
    CHECK(m.count(sip::header_id::via) == 3);
    CHECK(collect(m.contacts(), [](const sip::contact& c) { return std::string(c.address.address.user); }) ==
          std::vector<std::string>{"1", "2", "3"});
    auto tok = [](const sip::token& t) { return std::string(t.text); };
    CHECK(collect(m.allow(), tok) == std::vector<std::string>{"INVITE", "ACK", "BYE"});
    CHECK(collect(m.supported(), tok) == std::vector<std::string>{"timer", "100rel"});

    // Iterator offsets point at each element in bytes().
    std::vector<std::size_t> offsets;
    for (auto it = m.vias().begin(); it != m.vias().end(); ++it) offsets.push_back(it.offset());
    REQUIRE(offsets.size() == 4);
    CHECK(offsets[0] == bytes.find("SIP/2.0/UDP a"));
    CHECK(offsets[1] == bytes.find("SIP/2.0/UDP b"));
    CHECK(offsets[2] == bytes.find("SIP/2.0/UDP c"));
    CHECK(offsets[3] == bytes.find("SIP/2.0/UDP d"));
    CHECK(m.bytes().substr(offsets[1], 13) == "SIP/2.0/UDP b");
    auto c = m.contacts().begin();
    ++c;
    CHECK(c.offset() == bytes.find("\"Doe, J\""));
    // Post-increment and end.
    auto v = m.vias().begin();
    auto before = v++;
    CHECK(before.offset() == offsets[0]);
    CHECK(v.offset() == offsets[1]);
    CHECK(m.vias().end().offset() == 0);
    CHECK_FALSE(m.vias().empty());
}

TEST_CASE("an empty element in a list is reported at its position", "[sip][message]") {
    const std::string bytes = wire({"OPTIONS sip:a@b SIP/2.0", "Allow: INVITE,,BYE"});
    const sip::message m = must_parse(bytes);
    std::vector<bool> ok;
    for (auto t : m.allow()) ok.push_back(t.has_value());
    CHECK(ok == std::vector<bool>{true, false, true});
}

TEST_CASE("line folding: one contiguous value, correct line numbers", "[sip][message]") {
    const std::string bytes =
        "INVITE sip:a@b SIP/2.0\r\n"                 // line 1
        "Subject: I know you're there,\r\n"          // line 2
        "         pick up the phone\r\n"              // line 3
        "\t and talk to me!\r\n"                      // line 4
        "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"      // line 5
        "To:\r\n"                                     // line 6
        " <sip:a@b>\r\n"                              // line 7
        "Call-ID: x@y\r\n"                            // line 8
        "\r\n";
    const sip::message m = must_parse(bytes);
    const std::string subject =
        std::string("I know you're there,") + std::string(11, ' ') + "pick up the phone" + std::string(2, ' ') + "\t and talk to me!";
    CHECK(m.header(sip::header_id::subject) == subject);
    CHECK(m.header(sip::header_id::subject).find('\r') == std::string_view::npos);
    CHECK(m.header(sip::header_id::subject).find('\n') == std::string_view::npos);
    CHECK(m.to()->address.user == "a");
    REQUIRE(m.fields().size() == 4);
    CHECK(m.fields()[0].line == 2);
    CHECK(m.fields()[1].line == 5);
    CHECK(m.fields()[2].line == 6);
    CHECK(m.fields()[3].line == 8);
    // locate() inside a continuation line.
    const auto talk = static_cast<std::uint32_t>(bytes.find("and talk"));
    const sip::parse_error at_talk = m.locate({sip::errc::bad_header_value, talk});
    CHECK(at_talk.line == 4);
    CHECK(at_talk.column == 3);
    const auto pick = static_cast<std::uint32_t>(bytes.find("pick"));
    CHECK(m.locate({sip::errc::bad_header_value, pick}).line == 3);
    CHECK(m.locate({sip::errc::bad_header_value, pick}).column == 10);
    const auto call = static_cast<std::uint32_t>(bytes.find("x@y"));
    CHECK(m.locate({sip::errc::bad_header_value, call}).line == 8);
    CHECK(m.locate({sip::errc::bad_header_value, call}).column == 10);
}

TEST_CASE("a parse error after a fold is located on its real line", "[sip][message]") {
    const sip::parse_error e = must_fail(
        "INVITE sip:a@b SIP/2.0\r\n"
        "Subject: a\r\n"
        " b\r\n"
        "Bad Header: x\r\n"
        "\r\n");
    CHECK(e.code == sip::errc::bad_header_name);
    CHECK(e.line == 4);
    CHECK(e.column == 4);  // the space inside the name
}

TEST_CASE("leading CRLFs before the start line are skipped", "[sip][message]") {
    const sip::message m = must_parse("\r\n\r\n\nOPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n");
    CHECK(m.method() == sip::method::options);
    CHECK(m.start_line() == "OPTIONS sip:a@b SIP/2.0");
    REQUIRE(m.fields().size() == 1);
    CHECK(m.fields()[0].line == 5);
    CHECK(must_fail("\r\n\r\n").code == sip::errc::empty_message);
    CHECK(must_fail("").code == sip::errc::empty_message);
}

TEST_CASE("response start lines", "[sip][message]") {
    const sip::message empty_reason = must_parse("SIP/2.0 200 \r\nCall-ID: x\r\n\r\n");
    CHECK(empty_reason.status() == 200);
    CHECK(empty_reason.reason_phrase().empty());
    const sip::message utf8 = must_parse("SIP/2.0 486 Occup\xc3\xa9 ici\r\n\r\n");
    CHECK(utf8.status() == 486);
    CHECK(utf8.reason_phrase() == "Occup\xc3\xa9 ici");
    const sip::message spaces = must_parse("SIP/2.0 183 Session  Progress \r\n\r\n");
    CHECK(spaces.reason_phrase() == "Session  Progress ");
    const sip::message lower = must_parse("sip/2.0 100 Trying\r\n\r\n");
    CHECK(lower.is_response());
    CHECK(lower.version() == "sip/2.0");
    CHECK(must_parse("SIP/2.0 699 X\r\n\r\n").status() == 699);
    CHECK(must_parse("SIP/2.0 100 X\r\n\r\n").status() == 100);
    CHECK(must_parse("SIP/7.0 200 OK\r\n\r\n").version() == "SIP/7.0");
}

TEST_CASE("Content-Length on datagrams", "[sip][message]") {
    SECTION("absent: the body is the rest of the datagram") {
        const sip::message m = must_parse(wire({"MESSAGE sip:a@b SIP/2.0", "Call-ID: x"}, "hello\r\nworld"));
        CHECK(m.body() == "hello\r\nworld");
        CHECK(m.trailing_bytes() == 0);
        CHECK(m.content_length().error().code == sip::errc::missing_header);
    }
    SECTION("shorter than the datagram: the extra bytes are trailing") {
        const sip::message m = must_parse(wire({"MESSAGE sip:a@b SIP/2.0", "Content-Length: 5"}, "12345678"));
        CHECK(m.body() == "12345");
        CHECK(m.trailing_bytes() == 3);
    }
    SECTION("longer than the datagram: content_length_mismatch at the value") {
        const std::string bytes = wire({"MESSAGE sip:a@b SIP/2.0", "Via: SIP/2.0/UDP h", "Content-Length: 50"}, "short");
        const sip::parse_error e = must_fail(bytes);
        CHECK(e.code == sip::errc::content_length_mismatch);
        CHECK(e.line == 3);
        CHECK(e.column == 17);
        CHECK(e.offset == bytes.find("50"));
    }
    SECTION("zero with bytes after it") {
        const sip::message m = must_parse(wire({"OPTIONS sip:a@b SIP/2.0", "l: 0"}, "garbage"));
        CHECK(m.body().empty());
        CHECK(m.trailing_bytes() == 7);
    }
    SECTION("repeated equal values are fine, different ones are not") {
        CHECK(must_parse(wire({"MESSAGE sip:a@b SIP/2.0", "Content-Length: 2", "l: 2"}, "ab")).body() == "ab");
        const sip::parse_error e = must_fail(wire({"MESSAGE sip:a@b SIP/2.0", "Content-Length: 2", "l: 3"}, "abc"));
        CHECK(e.code == sip::errc::bad_content_length);
        CHECK(e.line == 3);
        CHECK(e.column == 4);
    }
    SECTION("negative or non-numeric") {
        const sip::parse_error neg = must_fail(wire({"MESSAGE sip:a@b SIP/2.0", "Content-Length: -1"}, "x"));
        CHECK(neg.code == sip::errc::bad_content_length);
        CHECK(neg.line == 2);
        CHECK(neg.column == 17);
        CHECK(must_fail(wire({"MESSAGE sip:a@b SIP/2.0", "Content-Length: abc"})).code == sip::errc::bad_content_length);
        CHECK(must_fail(wire({"MESSAGE sip:a@b SIP/2.0", "Content-Length: 99999999999"})).code ==
              sip::errc::bad_content_length);
    }
    SECTION("a datagram ending after a header line has an empty body") {
        const sip::message m = must_parse("OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n");
        CHECK(m.body().empty());
        CHECK(m.header(sip::header_id::call_id) == "x");
    }
}

TEST_CASE("Content-Length on streams", "[sip][message]") {
    sip::parse_options stream;
    stream.transport = sip::transport_kind::stream;
    SECTION("absent: empty body") {
        const sip::message m = must_parse(wire({"MESSAGE sip:a@b SIP/2.0", "Call-ID: x"}, "leftover"), stream);
        CHECK(m.body().empty());
        CHECK(m.trailing_bytes() == 8);
    }
    SECTION("present") {
        const sip::message m = must_parse(wire({"MESSAGE sip:a@b SIP/2.0", "Content-Length: 4"}, "body"), stream);
        CHECK(m.body() == "body");
        CHECK(m.trailing_bytes() == 0);
    }
    SECTION("too long") {
        CHECK(must_fail(wire({"MESSAGE sip:a@b SIP/2.0", "Content-Length: 5"}, "body"), stream).code ==
              sip::errc::content_length_mismatch);
    }
    SECTION("no end of the header section") {
        const std::string bytes = "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n";
        const sip::parse_error e = must_fail(bytes, stream);
        CHECK(e.code == sip::errc::no_end_of_headers);
        CHECK(e.offset == bytes.size());
        CHECK(e.line == 3);
        CHECK(e.column == 1);
    }
}

TEST_CASE("malformed messages: error code and line:column", "[sip][message]") {
    struct row {
        std::string bytes;
        sip::errc code;
        std::uint32_t line;
        std::uint32_t column;
    };
    const std::string tail = "Call-ID: x\r\n\r\n";
    const row rows[] = {
        {"INV@ITE sip:a@b SIP/2.0\r\n" + tail, sip::errc::bad_method, 1, 1},
        {"INVITE  sip:a@b SIP/2.0\r\n" + tail, sip::errc::bad_request_uri, 1, 8},
        {"INVITE sip:a@b  SIP/2.0\r\n" + tail, sip::errc::bad_version, 1, 16},
        {"INVITE sip:a@b SIP/20\r\n" + tail, sip::errc::bad_version, 1, 16},
        {"INVITE sip:a@b SIP/2.0a\r\n" + tail, sip::errc::bad_version, 1, 16},
        {"INVITE sip:a@b HTTP/1.1\r\n" + tail, sip::errc::bad_version, 1, 16},
        {"INVITE sip:a@b\r\n" + tail, sip::errc::bad_request_uri, 1, 8},
        {"INVITE sip:a@b:99999 SIP/2.0\r\n" + tail, sip::errc::bad_request_uri, 1, 16},
        {"INVITE <sip:a@b> SIP/2.0\r\n" + tail, sip::errc::bad_request_uri, 1, 8},
        {"INVITE\r\n" + tail, sip::errc::bad_start_line, 1, 7},
        {"SIP/2 200 OK\r\n" + tail, sip::errc::bad_version, 1, 1},
        {"SIP/2.0 1000 OK\r\n" + tail, sip::errc::bad_status_code, 1, 9},
        {"SIP/2.0 099 Low\r\n" + tail, sip::errc::bad_status_code, 1, 9},
        {"SIP/2.0 700 High\r\n" + tail, sip::errc::bad_status_code, 1, 9},
        {"SIP/2.0 20x OK\r\n" + tail, sip::errc::bad_status_code, 1, 9},
        {"SIP/2.0 200OK\r\n" + tail, sip::errc::bad_status_code, 1, 9},
        {"SIP/2.0 200 O\x01K\r\n" + tail, sip::errc::bad_reason_phrase, 1, 14},
        {"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\nBad Header: y\r\n\r\n", sip::errc::bad_header_name, 3, 4},
        {"OPTIONS sip:a@b SIP/2.0\r\n: y\r\n\r\n", sip::errc::bad_header_name, 2, 1},
        {"OPTIONS sip:a@b SIP/2.0\r\n Via: x\r\n\r\n", sip::errc::bad_header_name, 2, 1},
        {"OPTIONS sip:a@b SIP/2.0\r\nX(y): z\r\n\r\n", sip::errc::bad_header_name, 2, 2},
        {"OPTIONS sip:a@b SIP/2.0", sip::errc::no_end_of_headers, 1, 24},
        {"OPTIONS sip:a@b SIP/2.0\r\nVia: x", sip::errc::no_end_of_headers, 2, 7},
    };
    for (const row& r : rows) {
        INFO(r.bytes);
        const sip::parse_error e = must_fail(r.bytes);
        CHECK(e.code == r.code);
        CHECK(e.line == r.line);
        CHECK(e.column == r.column);
        CHECK(e.what() == sip::describe(r.code));
        CHECK(e.failed());
    }
}

TEST_CASE("a header line without a colon", "[sip][message]") {
    for (const char* eol : {"\r\n", "\n"}) {
        const std::string bytes = std::string("OPTIONS sip:a@b SIP/2.0") + eol + "Via: x" + eol + "NoColon" + eol + eol;
        const sip::parse_error e = must_fail(bytes);
        CHECK(e.code == sip::errc::missing_colon);
        CHECK(e.line == 3);
    }
}

TEST_CASE("a missing colon is located at the end of the line's text, before CRLF", "[sip][message]") {
    // The column is that of the end of the line's text (8) with CRLF and with LF line ends alike
    // (regression test: a faster colon search once reported the LF, column 9).
    for (const char* eol : {"\r\n", "\n"}) {
        const std::string bytes = std::string("OPTIONS sip:a@b SIP/2.0") + eol + "Via: x" + eol + "NoColon" + eol + eol;
        const sip::parse_error e = must_fail(bytes);
        CHECK(e.code == sip::errc::missing_colon);
        CHECK(e.line == 3);
        CHECK(e.column == 8);
    }
}

TEST_CASE("size limits: max_message_size and max_headers", "[sip][message]") {
    const std::string bytes = wire({"OPTIONS sip:a@b SIP/2.0", "Via: SIP/2.0/UDP h", "Call-ID: x", "CSeq: 1 OPTIONS"});
    sip::parse_options small;
    small.max_message_size = bytes.size() - 1;
    const sip::parse_error big = must_fail(bytes, small);
    CHECK(big.code == sip::errc::message_too_large);
    CHECK(big.line == 1);
    CHECK(big.column == 1);
    small.max_message_size = bytes.size();
    CHECK(must_parse(bytes, small).fields().size() == 3);

    sip::parse_options few;
    few.max_headers = 2;
    const sip::parse_error many = must_fail(bytes, few);
    CHECK(many.code == sip::errc::header_too_large);
    CHECK(many.line == 4);
    CHECK(many.column == 1);
    few.max_headers = 3;
    CHECK(must_parse(bytes, few).fields().size() == 3);
}

TEST_CASE("message equality", "[sip][message]") {
    const std::string a = wire({"OPTIONS sip:a@b SIP/2.0", "X-Custom: 1", "Via: SIP/2.0/UDP h", "Content-Length: 0"});
    const std::string b = wire({"OPTIONS sip:a@b SIP/2.0", "x-custom: 1", "v: SIP/2.0/UDP h"});
    const std::string c = wire({"OPTIONS sip:a@b SIP/2.0", "X-Custom: 2", "Via: SIP/2.0/UDP h"});
    const std::string d = wire({"OPTIONS sip:a@c SIP/2.0", "X-Custom: 1", "Via: SIP/2.0/UDP h"});
    const std::string e = wire({"OPTIONS sip:a@b SIP/2.0", "Via: SIP/2.0/UDP h", "X-Custom: 1"});
    const sip::message ma = must_parse(a);
    CHECK(ma == must_parse(a));
    CHECK(ma == must_parse(b));  // names by id / case-insensitively, Content-Length ignored
    CHECK_FALSE(ma == must_parse(c));
    CHECK_FALSE(ma == must_parse(d));
    CHECK_FALSE(ma == must_parse(e));  // order matters
    CHECK_FALSE(must_parse(wire({"SIP/2.0 200 OK"})) == must_parse(wire({"SIP/2.0 200 Ok"})));
    CHECK_FALSE(must_parse(wire({"SIP/2.0 200 OK"})) == must_parse(wire({"SIP/2.0 202 OK"})));
    CHECK_FALSE(must_parse(wire({"MESSAGE sip:a@b SIP/2.0"}, "x")) == must_parse(wire({"MESSAGE sip:a@b SIP/2.0"}, "y")));
}

TEST_CASE("moving a message keeps its views valid", "[sip][message]") {
    auto original = std::make_unique<sip::message>(must_parse(realistic_invite()));
    sip::message moved = std::move(*original);
    original.reset();
    CHECK(within(moved.request_uri().text, moved.bytes()));
    CHECK(within(moved.method_name(), moved.bytes()));
    CHECK(within(moved.body(), moved.bytes()));
    CHECK(moved.request_uri().host == "biloxi.com");
    CHECK(moved.top_via()->branch == "z9hG4bK776asdhds");
    CHECK(moved.from()->tag() == "1928301774");
    CHECK(moved.body() == sdp);
    CHECK(moved == must_parse(realistic_invite()));
}

TEST_CASE("copying a message keeps its views valid after the original is gone", "[sip][message]") {
    // The parsed Request-URI must point into the copy's own buffer, not the original's (regression test
    // for an implicit copy constructor).
    auto original = std::make_unique<sip::message>(must_parse(realistic_invite()));
    const sip::message copy = *original;
    sip::message assigned;
    assigned = *original;
    original.reset();
    for (const sip::message* m : {&copy, static_cast<const sip::message*>(&assigned)}) {
        CHECK(within(m->request_uri().text, m->bytes()));
        CHECK(within(m->request_uri().host, m->bytes()));
        CHECK(within(m->method_name(), m->bytes()));
        CHECK(m->top_via()->branch == "z9hG4bK776asdhds");
        CHECK(m->body() == sdp);
    }
}

TEST_CASE("a message shorter than the small-string buffer keeps a valid Request-URI", "[sip][message]") {
    // std::string keeps short strings inline, so moving the buffer moves the bytes: the Request-URI's
    // views must follow them (regression test).
    auto r = sip::message::parse(std::string("A s:x SIP/2.0\n"));
    REQUIRE(r.has_value());
    const sip::message m = std::move(*r);
    CHECK(m.method_name() == "A");
    CHECK(within(m.request_uri().text, m.bytes()));
    CHECK(m.request_uri().scheme == sip::uri_scheme::other);
}

TEST_CASE("a CR inside a header value is refused, not carried to the next hop", "[sip][message][fuzz-regression]") {
    // Found by fuzz_message: "Call-ID: x\r\vCSeq: ..." kept the bare CR in the value; a serializer
    // that neutralises it could not round-trip, and a proxy copying it would start a new line.
    const sip::parse_error e = must_fail(
        "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x@y\r\x0b" "CSeq: 1 OPTIONS\r\nVia: SIP/2.0/UDP h\r\n\r\n");
    CHECK(e.code == sip::errc::bad_header_value);
    CHECK(e.line == 2);
    CHECK(e.column == 13);
}
