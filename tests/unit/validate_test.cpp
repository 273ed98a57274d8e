#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "sipvoice/sip/builder.hpp"
#include "sipvoice/sip/message.hpp"
#include "sipvoice/sip/validate.hpp"

namespace sip = sipvoice::sip;

namespace {

// A message as lines, easy to vary; str() writes the CRLFs and a correct Content-Length.
struct text_message {
    std::string start;
    std::vector<std::string> headers;
    std::string body;

    static text_message request(std::string_view method = "OPTIONS", std::string_view ruri = "sip:bob@example.com") {
        text_message t;
        t.start = std::string(method) + " " + std::string(ruri) + " SIP/2.0";
        t.headers = {"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9",
                     "Max-Forwards: 70",
                     "From: Alice <sip:alice@example.com>;tag=9fxced76sl",
                     "To: Bob <sip:bob@example.com>",
                     "Call-ID: 3848276298220188511@192.0.2.1",
                     "CSeq: 1 " + std::string(method)};
        return t;
    }
    static text_message response(int status = 200) {
        text_message t;
        t.start = "SIP/2.0 " + std::to_string(status) + " " + std::string(sip::reason_phrase(status));
        t.headers = {"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9;received=192.0.2.1",
                     "From: Alice <sip:alice@example.com>;tag=9fxced76sl",
                     "To: Bob <sip:bob@example.com>;tag=8321234356",
                     "Call-ID: 3848276298220188511@192.0.2.1",
                     "CSeq: 1 INVITE"};
        return t;
    }
    text_message& add(std::string line) {
        headers.push_back(std::move(line));
        return *this;
    }
    // Removes every header line starting with `prefix` (case-sensitive).
    text_message& drop(std::string_view prefix) {
        std::erase_if(headers, [&](const std::string& h) { return h.rfind(prefix, 0) == 0; });
        return *this;
    }
    text_message& replace(std::string_view prefix, std::string line) {
        for (auto& h : headers)
            if (h.rfind(prefix, 0) == 0) h = line;
        return *this;
    }
    text_message& with_body(std::string_view content_type, std::string_view bytes) {
        if (!content_type.empty()) add("Content-Type: " + std::string(content_type));
        body = bytes;
        return *this;
    }
    [[nodiscard]] std::string str() const {
        std::string out = start + "\r\n";
        for (const auto& h : headers) out += h + "\r\n";
        out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        return out;
    }
    // 1-based line of the first header starting with prefix.
    [[nodiscard]] std::uint32_t line_of(std::string_view prefix, std::size_t nth = 0) const {
        for (std::size_t i = 0; i < headers.size(); ++i)
            if (headers[i].rfind(prefix, 0) == 0 && nth-- == 0) return static_cast<std::uint32_t>(i + 2);
        return 0;
    }
};

sip::message parsed(const text_message& t) {
    const std::string bytes = t.str();
    INFO(bytes);
    auto m = sip::message::parse(bytes);
    if (!m) INFO("error " << m.error().what() << " at " << m.error().line << ":" << m.error().column);
    REQUIRE(m.has_value());
    return std::move(*m);
}

sip::verdict check(const text_message& t, const sip::validation_policy& policy = {}) {
    const sip::message m = parsed(t);
    return sip::validate(m, policy);
}

sip::validation_policy proxy_policy() {
    sip::validation_policy p;
    p.role = sip::role::proxy;
    return p;
}

const std::string sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

}  // namespace

TEST_CASE("validate: well-formed requests are accepted by a UA and a proxy", "[sip][validate]") {
    for (std::string_view method : {"OPTIONS", "INVITE", "BYE", "REGISTER", "MESSAGE", "SUBSCRIBE", "NOTIFY", "REFER"}) {
        INFO(method);
        text_message t = text_message::request(method);
        if (method == "INVITE") t.with_body("application/sdp", sdp);
        const sip::verdict ua = check(t);
        CHECK(ua.accepted());
        CHECK(ua.action == sip::action::accept);
        CHECK(ua.status == 0);
        CHECK_FALSE(ua.malformed);
        CHECK(ua.unsupported.empty());
        CHECK(check(t, proxy_policy()).accepted());
    }
    CHECK(check(text_message::request("INVITE", "tel:+1-201-555-0123")).accepted());
    CHECK(check(text_message::request("INVITE", "sips:bob@example.com")).accepted());
}

TEST_CASE("validate: each required header missing -> 400", "[sip][validate][400]") {
    for (std::string_view name : {"Via", "From", "To", "Call-ID", "CSeq"}) {
        for (const sip::validation_policy& policy : {sip::validation_policy{}, proxy_policy()}) {
            INFO(name << " role " << static_cast<int>(policy.role));
            const sip::verdict v = check(text_message::request("INVITE").drop(std::string(name) + ":"), policy);
            CHECK(v.action == sip::action::respond);
            CHECK(v.status == 400);
            CHECK(v.reason == "Bad Request");
            CHECK(v.malformed);
            CHECK(v.where.code == sip::errc::missing_header);
            CHECK(v.detail == name);
        }
    }
    // Compact forms count as present.
    text_message compact = text_message::request();
    compact.replace("Via:", "v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1").replace("From:", "f: <sip:a@b>;tag=1");
    compact.replace("To:", "t: <sip:b@b>").replace("Call-ID:", "i: x@y");
    CHECK(check(compact).accepted());
}

TEST_CASE("validate: a single-valued header twice -> 400 at the second one", "[sip][validate][400]") {
    struct row {
        std::string line;
        std::string name;
    };
    const row rows[] = {
        {"Call-ID: other@192.0.2.1", "Call-ID"},
        {"i: other@192.0.2.1", "Call-ID"},
        {"CSeq: 1 INVITE", "CSeq"},
        {"From: <sip:eve@example.com>;tag=2", "From"},
        {"t: <sip:eve@example.com>", "To"},
        {"Max-Forwards: 69", "Max-Forwards"},
        {"Expires: 10\r\nExpires: 20", "Expires"},
        {"Content-Type: text/plain\r\nc: text/plain", "Content-Type"},
    };
    for (const row& r : rows) {
        INFO(r.line);
        text_message t = text_message::request("INVITE");
        t.add(r.line);
        for (const sip::validation_policy& policy : {sip::validation_policy{}, proxy_policy()}) {
            const sip::verdict v = check(t, policy);
            CHECK(v.status == 400);
            CHECK(v.malformed);
            CHECK(v.where.code == sip::errc::duplicate_header);
            CHECK(v.detail == r.name);
            CHECK(v.where.column == 1);
        }
    }
    text_message cid = text_message::request("INVITE").add("Call-ID: again@h");
    const sip::verdict v = check(cid);
    CHECK(v.where.line == cid.line_of("Call-ID:", 1));
}

TEST_CASE("validate: malformed typed values -> 400 with line and column", "[sip][validate][400]") {
    struct row {
        std::string prefix;  // header replaced or added
        std::string line;
        std::string detail;
        sip::errc code;
        std::uint32_t column;
    };
    const row rows[] = {
        {"Max-Forwards:", "Max-Forwards: abc", "Max-Forwards", sip::errc::bad_number, 15},
        {"Max-Forwards:", "Max-Forwards: 256", "Max-Forwards", sip::errc::number_too_large, 15},
        {"Max-Forwards:", "Max-Forwards: -1", "Max-Forwards", sip::errc::bad_number, 15},
        {"CSeq:", "CSeq: 2147483648 INVITE", "CSeq", sip::errc::number_too_large, 7},
        {"CSeq:", "CSeq: 1", "CSeq", sip::errc::bad_header_value, 8},
        {"Via:", "Via: SIP/2.0/UDP 192.0.2.1;ttl=256", "Via", sip::errc::bad_param, 28},
        {"Via:", "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1,", "Via", sip::errc::bad_list, 44},
        {"Call-ID:", "Call-ID: a b", "Call-ID", sip::errc::bad_header_value, 10},
        {"To:", "To: <sip:bob@example.com", "To", sip::errc::bad_header_value, 5},
        {"From:", "From: sip:a@b?x=y;tag=1", "From", sip::errc::bad_uri, 14},
        {"X-Date", "Date: Fri, 01 Jan 2010 16:00:00 EST", "Date", sip::errc::bad_date, 7},
        {"X-Contact", "Contact: <sip:a@b>;q=2", "Contact", sip::errc::bad_param, 20},
        {"X-Expires", "Expires: soon", "Expires", sip::errc::bad_number, 10},
        {"X-SE", "Session-Expires: 90;refresher=me", "Session-Expires", sip::errc::bad_param, 21},
        {"X-Require", "Require:", "Require", sip::errc::bad_list, 9},
        {"X-Event", "Event: ;id=1", "Event", sip::errc::bad_header_value, 8},
        {"X-Accept", "Accept: application", "Accept", sip::errc::bad_header_value, 20},
        {"X-Auth", "Authorization: Digest realm=\"x", "Authorization", sip::errc::unterminated_quote, 29},
    };
    for (const row& r : rows) {
        INFO(r.line);
        text_message t = text_message::request("INVITE");
        if (r.prefix.rfind("X-", 0) == 0) t.add(r.line);
        else t.replace(r.prefix, r.line);
        const std::string name = r.line.substr(0, r.line.find(':'));
        const sip::verdict v = check(t);
        CHECK(v.action == sip::action::respond);
        CHECK(v.status == 400);
        CHECK(v.malformed);
        CHECK(v.detail == r.detail);
        CHECK(v.where.code == r.code);
        CHECK(v.where.line == t.line_of(name + ":"));
        CHECK(v.where.column == r.column);
    }
}

TEST_CASE("validate: CSeq method must match the request method", "[sip][validate][400]") {
    text_message t = text_message::request("OPTIONS");
    t.replace("CSeq:", "CSeq: 1 INVITE");
    const sip::verdict v = check(t);
    CHECK(v.status == 400);
    CHECK(v.malformed);
    CHECK(v.where.code == sip::errc::cseq_method_mismatch);
    CHECK(v.where.line == t.line_of("CSeq:"));
    CHECK(v.where.column == 7);
    CHECK(v.detail.find("INVITE") != std::string::npos);
    CHECK(v.detail.find("OPTIONS") != std::string::npos);
    // Methods are case-sensitive (RFC 3261 §7.1).
    t.replace("CSeq:", "CSeq: 1 options");
    CHECK(check(t).where.code == sip::errc::cseq_method_mismatch);
    // Responses are not checked against a method.
    CHECK(check(text_message::response()).accepted());
}

TEST_CASE("validate: headers in the Request-URI -> 400", "[sip][validate][400]") {
    const text_message t = text_message::request("INVITE", "sip:bob@example.com?Subject=hi");
    const sip::verdict v = check(t);
    CHECK(v.status == 400);
    CHECK(v.malformed);
    CHECK(v.where.code == sip::errc::bad_request_uri);
    CHECK(v.where.line == 1);
    CHECK(v.where.column == 28);
    CHECK(check(t, proxy_policy()).status == 400);
}

TEST_CASE("validate: SIP version other than 2.0 -> 505", "[sip][validate]") {
    text_message t = text_message::request();
    t.start = "OPTIONS sip:bob@example.com SIP/3.0";
    sip::verdict v = check(t);
    CHECK(v.status == 505);
    CHECK(v.reason == "Version Not Supported");
    CHECK_FALSE(v.malformed);
    CHECK(check(t, proxy_policy()).status == 505);
    t.start = "OPTIONS sip:bob@example.com SIP/2.00";
    CHECK(check(t).status == 505);
    t.start = "OPTIONS sip:bob@example.com sip/2.0";  // "SIP" is case-insensitive
    CHECK(check(t).accepted());
    // Syntax comes first: a malformed request with a bad version still gets 400.
    t.start = "OPTIONS sip:bob@example.com SIP/3.0";
    t.drop("Call-ID:");
    CHECK(check(t).status == 400);
}

TEST_CASE("validate: unknown method -> 501, known but not allowed -> 405", "[sip][validate]") {
    sip::verdict v = check(text_message::request("NEWMETHOD"));
    CHECK(v.status == 501);
    CHECK(v.reason == "Not Implemented");
    CHECK(v.detail.find("NEWMETHOD") != std::string::npos);
    v = check(text_message::request("PUBLISH"));  // known, not in the default list
    CHECK(v.status == 405);
    CHECK(v.reason == "Method Not Allowed");

    const std::string_view allowed[] = {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"};
    sip::validation_policy policy;
    policy.allowed_methods = allowed;
    CHECK(check(text_message::request("REGISTER"), policy).status == 405);
    CHECK(check(text_message::request("MESSAGE"), policy).status == 405);
    CHECK(check(text_message::request("FOO"), policy).status == 501);
    CHECK(check(text_message::request("BYE"), policy).accepted());
    CHECK(check(text_message::request("PUBLISH"), policy).status == 405);

    const std::string_view with_publish[] = {"PUBLISH", "FOO"};
    policy.allowed_methods = with_publish;
    CHECK(check(text_message::request("PUBLISH"), policy).accepted());
    CHECK(check(text_message::request("FOO"), policy).accepted());
    CHECK(check(text_message::request("OPTIONS"), policy).status == 405);
}

TEST_CASE("validate: method names are case-sensitive (RFC 3261 §7.1)", "[sip][validate]") {
    // "invite" is not INVITE: it is an extension method nobody implements.
    const sip::verdict v = check(text_message::request("invite"));
    CHECK(v.status == 501);
}

TEST_CASE("validate: Request-URI scheme not understood -> 416", "[sip][validate]") {
    for (std::string_view ruri : {"mailto:bob@example.com", "http://example.com/bob", "urn:service:sos", "im:bob@example.com"}) {
        INFO(ruri);
        const sip::verdict v = check(text_message::request("INVITE", ruri));
        CHECK(v.status == 416);
        CHECK(v.reason == "Unsupported URI Scheme");
        CHECK(v.detail.find(ruri.substr(0, ruri.find(':'))) != std::string::npos);
        CHECK(check(text_message::request("INVITE", ruri), proxy_policy()).status == 416);
    }
    CHECK(check(text_message::request("INVITE", "tel:+1-201-555-0123")).accepted());
    CHECK(check(text_message::request("INVITE", "tel:7042;phone-context=example.com")).accepted());
}

TEST_CASE("validate: unsupported Require at a UA -> 420 listing exactly those tags", "[sip][validate][420]") {
    text_message t = text_message::request("INVITE");
    t.add("Require: 100rel, foo, timer, gruu").add("Require: TIMER, bar").add("Proxy-Require: baz");
    sip::verdict v = check(t);
    CHECK(v.status == 420);
    CHECK(v.reason == "Bad Extension");
    CHECK(v.unsupported == "foo, gruu, bar");
    CHECK_FALSE(v.malformed);
    // Supported tags only: accepted; Proxy-Require is not the UA's business.
    text_message ok = text_message::request("INVITE");
    ok.add("Require: timer, replaces, 100rel").add("Proxy-Require: baz");
    CHECK(check(ok).accepted());
    // ACK and CANCEL are never answered with 420 (RFC 3261 §8.2.2.3).
    for (std::string_view method : {"ACK", "CANCEL"}) {
        text_message m = text_message::request(method);
        m.add("Require: foo");
        CHECK(check(m).accepted());
    }
}

TEST_CASE("validate: unsupported Proxy-Require at a proxy -> 420", "[sip][validate][420]") {
    text_message t = text_message::request("INVITE");
    t.add("Proxy-Require: foo, path").add("Require: bar");
    const sip::verdict v = check(t, proxy_policy());
    CHECK(v.status == 420);
    CHECK(v.unsupported == "foo");
    // Require is for the UAS, not the proxy.
    text_message req_only = text_message::request("INVITE");
    req_only.add("Require: bar");
    CHECK(check(req_only, proxy_policy()).accepted());
    text_message cancel = text_message::request("CANCEL");
    cancel.add("Proxy-Require: foo");
    CHECK(check(cancel, proxy_policy()).accepted());
}

TEST_CASE("validate: custom supported extensions", "[sip][validate][420]") {
    const std::string_view ext[] = {"100rel", "gruu"};
    sip::validation_policy policy;
    policy.supported_extensions = ext;
    text_message t = text_message::request("INVITE");
    t.add("Require: 100rel, GRUU");
    CHECK(check(t, policy).accepted());
    t.add("Require: timer");
    const sip::verdict v = check(t, policy);
    CHECK(v.status == 420);
    CHECK(v.unsupported == "timer");
}

TEST_CASE("validate: Max-Forwards 0 -> 483 at a proxy only", "[sip][validate][483]") {
    text_message t = text_message::request("INVITE");
    t.replace("Max-Forwards:", "Max-Forwards: 0");
    const sip::verdict v = check(t, proxy_policy());
    CHECK(v.status == 483);
    CHECK(v.reason == "Too Many Hops");
    CHECK(check(t).accepted());  // a UA is the destination
    text_message one = text_message::request("INVITE");
    one.replace("Max-Forwards:", "Max-Forwards: 1");
    CHECK(check(one, proxy_policy()).accepted());
    text_message none = text_message::request("INVITE");
    none.drop("Max-Forwards:");
    CHECK(check(none, proxy_policy()).accepted());
    // OPTIONS with Max-Forwards 0: the proxy may answer it itself (RFC 3261 §16.3 step 3).
    text_message options = text_message::request("OPTIONS");
    options.replace("Max-Forwards:", "Max-Forwards: 0");
    CHECK(check(options, proxy_policy()).accepted());
}

TEST_CASE("validate: credentials in an unknown scheme -> 401 / 407", "[sip][validate][auth]") {
    text_message t = text_message::request("INVITE");
    t.add("Authorization: NoOneKnowsThisScheme opaque-data=here");
    sip::verdict v = check(t);
    CHECK(v.status == 401);
    CHECK(v.reason == "Unauthorized");
    t = text_message::request("INVITE");
    t.add("Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    CHECK(check(t).status == 401);

    text_message digest = text_message::request("INVITE");
    digest.add("Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"n\", uri=\"sip:bob@example.com\", response=\"r\"");
    CHECK(check(digest).accepted());
    text_message lower = text_message::request("INVITE");
    lower.add("Authorization: digest username=\"alice\", realm=\"example.com\"");
    CHECK(check(lower).accepted());

    text_message proxy = text_message::request("INVITE");
    proxy.add("Proxy-Authorization: NewScheme x=y");
    v = check(proxy, proxy_policy());
    CHECK(v.status == 407);
    CHECK(v.reason == "Proxy Authentication Required");
    CHECK(check(proxy).accepted());  // Proxy-Authorization is not the UA's
    text_message ua_auth_at_proxy = text_message::request("INVITE");
    ua_auth_at_proxy.add("Authorization: NewScheme x=y");
    CHECK(check(ua_auth_at_proxy, proxy_policy()).accepted());

    sip::validation_policy open;
    open.authenticates = false;
    CHECK(check(t, open).accepted());

    text_message ack = text_message::request("ACK");
    ack.add("Authorization: NewScheme x=y");
    CHECK(check(ack).accepted());
}

TEST_CASE("validate: body type or encoding not understood -> 415", "[sip][validate][415]") {
    sip::verdict v = check(text_message::request("INVITE").with_body("application/foo", "x"));
    CHECK(v.status == 415);
    CHECK(v.reason == "Unsupported Media Type");
    CHECK(v.detail.find("application/foo") != std::string::npos);
    CHECK(check(text_message::request("INVITE").with_body("", "v=0\r\n")).status == 415);  // no Content-Type
    CHECK(check(text_message::request("INVITE").with_body("APPLICATION/SDP", sdp)).accepted());
    CHECK(check(text_message::request("MESSAGE").with_body("text/plain;charset=utf-8", "hi")).accepted());
    CHECK(check(text_message::request("INFO").with_body("application/dtmf-relay", "Signal=5\r\n")).accepted());
    // A type without a body is not looked at.
    CHECK(check(text_message::request("INVITE").add("Content-Type: application/foo")).accepted());

    text_message gz = text_message::request("INVITE").with_body("application/sdp", sdp);
    gz.add("Content-Encoding: gzip");
    v = check(gz);
    CHECK(v.status == 415);
    CHECK(v.detail.find("gzip") != std::string::npos);
    text_message identity = text_message::request("INVITE").with_body("application/sdp", sdp);
    identity.add("e: identity");
    CHECK(check(identity).accepted());

    // A proxy does not inspect bodies.
    CHECK(check(text_message::request("INVITE").with_body("application/foo", "x"), proxy_policy()).accepted());

    const std::string_view types[] = {"application/foo"};
    const std::string_view encodings[] = {"identity", "gzip"};
    sip::validation_policy policy;
    policy.accepted_content_types = types;
    policy.accepted_encodings = encodings;
    CHECK(check(text_message::request("INVITE").with_body("application/foo", "x"), policy).accepted());
    CHECK(check(text_message::request("INVITE").with_body("application/sdp", sdp), policy).status == 415);
    text_message gz_foo = text_message::request("INVITE").with_body("application/foo", "x");
    gz_foo.add("Content-Encoding: gzip");
    CHECK(check(gz_foo, policy).accepted());
}

TEST_CASE("validate: INVITE whose Accept excludes SDP -> 406", "[sip][validate][406]") {
    text_message t = text_message::request("INVITE").with_body("application/sdp", sdp);
    t.add("Accept: text/nobodyKnowsThis");
    const sip::verdict v = check(t);
    CHECK(v.status == 406);
    CHECK(v.reason == "Not Acceptable");
    for (std::string_view accept : {"Accept: application/sdp", "Accept: text/plain, application/sdp;level=1",
                                    "Accept: application/*", "Accept: */*", "Accept: APPLICATION/SDP"}) {
        INFO(accept);
        text_message ok = text_message::request("INVITE").with_body("application/sdp", sdp);
        ok.add(std::string(accept));
        CHECK(check(ok).accepted());
    }
    // No Accept at all: SDP is assumed.
    CHECK(check(text_message::request("INVITE").with_body("application/sdp", sdp)).accepted());
    // Only INVITE is concerned, and only at a UA.
    text_message options = text_message::request("OPTIONS");
    options.add("Accept: text/plain");
    CHECK(check(options).accepted());
    CHECK(check(t, proxy_policy()).accepted());
}

TEST_CASE("validate: responses", "[sip][validate][response]") {
    SECTION("one Via: accepted by a UA and a proxy") {
        CHECK(check(text_message::response(200)).accepted());
        CHECK(check(text_message::response(180), proxy_policy()).accepted());
    }
    SECTION("more than one Via at a UA: dropped (RFC 3261 §8.1.3.3)") {
        text_message two_lines = text_message::response(200);
        two_lines.add("Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bK2");
        sip::verdict v = check(two_lines);
        CHECK(v.action == sip::action::drop);
        CHECK(v.status == 0);
        CHECK_FALSE(v.malformed);
        CHECK(v.where.line == two_lines.line_of("Via:", 1));
        CHECK(v.where.column == 6);

        text_message one_line = text_message::response(200);
        one_line.replace("Via:", "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1, SIP/2.0/UDP 198.51.100.1;branch=z9hG4bK2");
        v = check(one_line);
        CHECK(v.action == sip::action::drop);
        CHECK(v.where.line == 2);
        CHECK(v.where.column == 45);
        // A proxy forwards it to the second Via.
        CHECK(check(one_line, proxy_policy()).accepted());
    }
    SECTION("next hop is a broadcast or multicast address: dropped at a proxy (RFC 4475 §3.3.10)") {
        for (std::string_view host : {"255.255.255.255", "224.0.0.1", "239.255.255.250", "230.1.2.3"}) {
            INFO(host);
            text_message t = text_message::response(200);
            t.add("Via: SIP/2.0/UDP " + std::string(host) + ";branch=z9hG4bK2");
            const sip::verdict v = check(t, proxy_policy());
            CHECK(v.action == sip::action::drop);
            CHECK(v.where.line == t.line_of("Via:", 1));
        }
        for (std::string_view host : {"192.0.2.255", "240.0.0.1", "223.255.255.255", "proxy.example.com"}) {
            INFO(host);
            text_message t = text_message::response(200);
            t.add("Via: SIP/2.0/UDP " + std::string(host) + ";branch=z9hG4bK2");
            CHECK(check(t, proxy_policy()).accepted());
        }
    }
    SECTION("a malformed response is dropped, never answered (RFC 3261 §18.1.2)") {
        for (const sip::validation_policy& policy : {sip::validation_policy{}, proxy_policy()}) {
            sip::verdict v = check(text_message::response(200).drop("Call-ID:"), policy);
            CHECK(v.action == sip::action::drop);
            CHECK(v.malformed);
            CHECK(v.status == 0);
            CHECK(v.detail == "Call-ID");
            text_message bad = text_message::response(200);
            bad.replace("CSeq:", "CSeq: x INVITE");
            v = check(bad, policy);
            CHECK(v.action == sip::action::drop);
            CHECK(v.malformed);
            CHECK(v.where.code == sip::errc::bad_number);
        }
    }
}

TEST_CASE("validate: checks run in RFC order", "[sip][validate]") {
    // 505 before 405/501.
    text_message t = text_message::request("NEWMETHOD");
    t.start = "NEWMETHOD sip:bob@example.com SIP/3.0";
    CHECK(check(t).status == 505);
    // 405 before 416.
    CHECK(check(text_message::request("PUBLISH", "mailto:bob@example.com")).status == 405);
    // 416 before 420.
    text_message scheme = text_message::request("INVITE", "mailto:bob@example.com");
    scheme.add("Require: foo");
    CHECK(check(scheme).status == 416);
    // 420 before 401 before 415.
    text_message all = text_message::request("INVITE").with_body("application/foo", "x");
    all.add("Require: foo").add("Authorization: Foo x=y");
    CHECK(check(all).status == 420);
    all.drop("Require:");
    CHECK(check(all).status == 401);
    all.drop("Authorization:");
    CHECK(check(all).status == 415);
}

TEST_CASE("validate: a message built by message_builder passes", "[sip][validate][builder]") {
    const std::string wire = sip::message_builder::request("INVITE", "sip:bob@example.com")
                                 .add("Via", "SIP/2.0/TCP 192.0.2.1;branch=z9hG4bKx")
                                 .add("Max-Forwards", "70")
                                 .add("From", "<sip:alice@example.com>;tag=1")
                                 .add("To", "<sip:bob@example.com>")
                                 .add("Call-ID", "abc")
                                 .add("CSeq", "1 INVITE")
                                 .body("application/sdp", sdp)
                                 .str();
    auto m = sip::message::parse(wire);
    REQUIRE(m.has_value());
    CHECK(sip::validate(*m).accepted());
    const std::string ringing = sip::message_builder::response_to(*m, 180, {}, "tt").str();
    auto r = sip::message::parse(ringing);
    REQUIRE(r.has_value());
    CHECK(sip::validate(*r).accepted());
}
