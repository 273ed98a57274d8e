#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "sipvoice/sip/uri.hpp"

namespace sip = sipvoice::sip;
using namespace std::string_view_literals;

namespace {

sip::uri must_parse(std::string_view text) {
    INFO("URI: " << text);
    auto r = sip::parse_uri(text);
    if (!r) INFO("error " << sip::describe(r.error().code) << " at " << r.error().offset);
    REQUIRE(r.has_value());
    return *r;
}

sip::error must_fail(std::string_view text) {
    INFO("URI: " << text);
    auto r = sip::parse_uri(text);
    REQUIRE_FALSE(r.has_value());
    return r.error();
}

bool equivalent(std::string_view a, std::string_view b) {
    const sip::uri ua = must_parse(a);
    const sip::uri ub = must_parse(b);
    const bool ab = sip::uri_equivalent(ua, ub);
    const bool ba = sip::uri_equivalent(ub, ua);
    INFO(a << " vs " << b);
    CHECK(ab == ba);  // the relation is symmetric
    return ab;
}

std::vector<std::pair<std::string, std::string>> params_of(const sip::uri& u) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const sip::param& p : u.params) out.emplace_back(std::string(p.name), std::string(p.value));
    return out;
}

}  // namespace

// ---- sip / sips -----------------------------------------------------------------------------------

TEST_CASE("sip URI with every component", "[sip][uri]") {
    const std::string text = "sip:alice:secret@atlanta.example.com:5070;transport=tcp;lr?subject=project%20x&priority=urgent";
    const sip::uri u = must_parse(text);
    CHECK(u.scheme == sip::uri_scheme::sip);
    CHECK(u.is_sip());
    CHECK(u.scheme_name == "sip");
    CHECK(u.has_user);
    CHECK(u.user == "alice");
    CHECK(u.has_password);
    CHECK(u.password == "secret");
    CHECK(u.host == "atlanta.example.com");
    CHECK(u.host_address() == "atlanta.example.com");
    CHECK(u.host_kind == sip::host_type::name);
    CHECK(u.has_port);
    CHECK(u.port == 5070);
    CHECK(u.params.raw() == ";transport=tcp;lr");
    CHECK(u.params.size() == 2);
    CHECK(u.transport() == "tcp");
    CHECK(u.lr());
    CHECK(u.headers == "subject=project%20x&priority=urgent");
    CHECK(u.opaque.empty());
    CHECK(u.text == text);
    // Views point into the parsed text.
    CHECK(u.user.data() == text.data() + 4);
    CHECK(u.host.data() == text.data() + 17);
}

TEST_CASE("sip URI minimal forms", "[sip][uri]") {
    SECTION("host only") {
        const sip::uri u = must_parse("sip:example.com");
        CHECK_FALSE(u.has_user);
        CHECK(u.user.empty());
        CHECK_FALSE(u.has_password);
        CHECK(u.host == "example.com");
        CHECK_FALSE(u.has_port);
        CHECK(u.port == 0);
        CHECK(u.params.empty());
        CHECK(u.params.size() == 0);
        CHECK(u.headers.empty());
        CHECK_FALSE(u.lr());
        CHECK(u.transport().empty());
    }
    SECTION("user and host") {
        const sip::uri u = must_parse("sip:bob@biloxi.com");
        CHECK(u.user == "bob");
        CHECK(u.host == "biloxi.com");
        CHECK_FALSE(u.has_password);
    }
    SECTION("empty password is still a password") {
        const sip::uri u = must_parse("sip:bob:@biloxi.com");
        CHECK(u.user == "bob");
        CHECK(u.has_password);
        CHECK(u.password.empty());
    }
    SECTION("sips and scheme case") {
        const sip::uri u = must_parse("SIPS:bob@biloxi.com");
        CHECK(u.scheme == sip::uri_scheme::sips);
        CHECK(u.scheme_name == "SIPS");
        CHECK(u.is_sip());
        const sip::uri v = must_parse("Sip:bob@biloxi.com");
        CHECK(v.scheme == sip::uri_scheme::sip);
        CHECK(v.scheme_name == "Sip");
    }
    SECTION("user part with user-unreserved characters (RFC 4475 semiuri)") {
        const sip::uri u = must_parse("sip:user;par=u%40example.net@example.com");
        CHECK(u.user == "user;par=u%40example.net");
        CHECK(u.host == "example.com");
        CHECK(u.params.empty());
        CHECK(sip::unescape(u.user) == "user;par=u@example.net");
    }
    SECTION("telephone-subscriber user with user=phone") {
        const sip::uri u = must_parse("sip:+1-212-555-1212:1234@gateway.com;user=phone");
        CHECK(u.user == "+1-212-555-1212");
        CHECK(u.password == "1234");
        CHECK(u.param("user") == "phone");
        CHECK(u.host == "gateway.com");
    }
}

TEST_CASE("sip URI hosts: names, IPv4, IPv6 references", "[sip][uri]") {
    struct row {
        std::string_view text;
        std::string_view host;
        std::string_view address;
        sip::host_type kind;
        bool has_port;
        std::uint16_t port;
    };
    const row rows[] = {
        {"sip:alice@192.0.2.4", "192.0.2.4", "192.0.2.4", sip::host_type::ipv4, false, 0},
        {"sip:alice@192.0.2.4:5060", "192.0.2.4", "192.0.2.4", sip::host_type::ipv4, true, 5060},
        {"sip:alice@[2001:db8::10]", "[2001:db8::10]", "2001:db8::10", sip::host_type::ipv6, false, 0},
        {"sip:alice@[2001:db8::10]:5070", "[2001:db8::10]", "2001:db8::10", sip::host_type::ipv6, true, 5070},
        {"sip:[2001:db8::10:5070]", "[2001:db8::10:5070]", "2001:db8::10:5070", sip::host_type::ipv6, false, 0},
        {"sip:[::ffff:192.0.2.10]", "[::ffff:192.0.2.10]", "::ffff:192.0.2.10", sip::host_type::ipv6, false, 0},
        {"sip:[::]:5060", "[::]", "::", sip::host_type::ipv6, true, 5060},
        {"sip:[::1]", "[::1]", "::1", sip::host_type::ipv6, false, 0},
        {"sip:[1:2:3:4:5:6:192.0.2.1]", "[1:2:3:4:5:6:192.0.2.1]", "1:2:3:4:5:6:192.0.2.1", sip::host_type::ipv6, false, 0},
        {"sip:EXAMPLE.com.", "EXAMPLE.com.", "EXAMPLE.com.", sip::host_type::name, false, 0},
        {"sip:a-b_c.example", "a-b_c.example", "a-b_c.example", sip::host_type::name, false, 0},
        {"sip:1.2.3.example.com:0", "1.2.3.example.com", "1.2.3.example.com", sip::host_type::name, true, 0},
        {"sip:host:65535", "host", "host", sip::host_type::name, true, 65535},
        {"sip:host:05060", "host", "host", sip::host_type::name, true, 5060},
    };
    for (const row& r : rows) {
        INFO(r.text);
        const sip::uri u = must_parse(r.text);
        CHECK(u.host == r.host);
        CHECK(u.host_address() == r.address);
        CHECK(u.host_kind == r.kind);
        CHECK(u.has_port == r.has_port);
        CHECK(u.port == r.port);
    }
}

TEST_CASE("sip URI errors and their offsets", "[sip][uri]") {
    struct row {
        std::string_view text;
        sip::errc code;
        std::uint32_t offset;
    };
    const row rows[] = {
        {"sip:host:65536", sip::errc::bad_port, 9},
        {"sip:host:", sip::errc::bad_port, 9},
        {"sip:host:99999999999999999999", sip::errc::bad_port, 9},
        {"sip:alice@[2001:db8::1", sip::errc::bad_host, 10},
        {"sip:alice@[2001:db8:::1]", sip::errc::bad_host, 10},
        {"sip:alice@256.1.1.1", sip::errc::bad_host, 10},
        {"sip:alice@1.2.3", sip::errc::bad_host, 10},
        {"sip:alice@", sip::errc::bad_host, 10},
        {"sip:@host", sip::errc::bad_uri, 4},
        {"sip:al ice@host", sip::errc::bad_uri, 6},
        {"sip:%Z1@host", sip::errc::bad_uri, 4},
        {"sip:alice%@host", sip::errc::bad_uri, 9},
        {"sip:a:p@ss@host", sip::errc::bad_uri, 10},
        {"sip:host;lr=", sip::errc::bad_param, 12},
        {"sip:host;;lr", sip::errc::bad_param, 9},
        {"sip:host;x=%4", sip::errc::bad_escape, 11},
        {"sip:host;x=%Z1", sip::errc::bad_escape, 11},
        {"sip:host?", sip::errc::bad_uri, 9},
        {"sip:host?a", sip::errc::bad_uri, 9},
        {"sip:host?=b", sip::errc::bad_uri, 9},
        {"sip:host?a=b&", sip::errc::bad_uri, 13},
        {"sip:host?a=%G0", sip::errc::bad_uri, 11},
        {"sip:host x", sip::errc::bad_uri, 8},
        {"sip:host:5060x", sip::errc::bad_uri, 13},
        {"sip:", sip::errc::bad_host, 4},
        {"sip", sip::errc::bad_uri, 0},
        {":foo", sip::errc::bad_uri, 0},
        {"1sip:host", sip::errc::bad_uri, 0},
        {"s_p:host", sip::errc::bad_uri, 1},
        {"http:", sip::errc::bad_uri, 5},
        {"http://a b", sip::errc::bad_uri, 8},
        {"urn:<x>", sip::errc::bad_uri, 4},
    };
    for (const row& r : rows) {
        INFO(r.text);
        const sip::error e = must_fail(r.text);
        CHECK(e.code == r.code);
        CHECK(e.offset == r.offset);
    }
}

TEST_CASE("URI parameters: lr, transport, maddr, user, ttl, valueless, escaped", "[sip][uri]") {
    const sip::uri u = must_parse("sip:alice@atlanta.com;maddr=239.255.255.1;ttl=15;Transport=UDP;lr;user=ip;x%41=%62c;method=INVITE");
    CHECK(u.maddr() == "239.255.255.1");
    CHECK(u.param("ttl") == "15");
    CHECK(u.transport() == "UDP");  // names case-insensitive, values as written
    CHECK(u.param("TRANSPORT") == "UDP");
    CHECK(u.lr());
    CHECK(u.has_param("lr"));
    CHECK(u.param("lr").empty());
    CHECK(u.params.get("lr", "dflt") == "dflt");  // valueless: fallback
    CHECK(u.params.get("nope", "dflt") == "dflt");
    CHECK(u.param("user") == "ip");
    CHECK(u.param("x%41") == "%62c");             // escapes are kept
    CHECK(sip::unescape(u.param("x%41")) == "bc");
    CHECK(u.param("method") == "INVITE");
    CHECK_FALSE(u.has_param("branch"));
    auto lr = u.params.find("LR");
    REQUIRE(lr.has_value());
    CHECK_FALSE(lr->has_value);
    CHECK(lr->name == "lr");
    using kv = std::pair<std::string, std::string>;
    const std::vector<kv> expected{{"maddr", "239.255.255.1"}, {"ttl", "15"}, {"Transport", "UDP"}, {"lr", ""},
                                   {"user", "ip"},             {"x%41", "%62c"}, {"method", "INVITE"}};
    CHECK(params_of(u) == expected);
    CHECK(u.params.size() == 7);
    CHECK(u.params.syntax() == sip::param_syntax::uri);
}

TEST_CASE("URI parameter values may hold IPv6 references and paramchars", "[sip][uri]") {
    const sip::uri u = must_parse("sip:host;maddr=[2001:db8::1];x=a/b:c&d+e$f");
    CHECK(u.maddr() == "[2001:db8::1]");
    CHECK(u.param("x") == "a/b:c&d+e$f");
}

TEST_CASE("URI headers", "[sip][uri]") {
    const sip::uri u = must_parse("sip:alice@atlanta.com?a=b&c=d");
    CHECK(u.headers == "a=b&c=d");
    CHECK(u.host == "atlanta.com");
    CHECK(u.params.empty());
    const sip::uri v = must_parse("sip:biloxi.com;method=REGISTER?to=sip:bob%40biloxi.com&empty=");
    CHECK(v.headers == "to=sip:bob%40biloxi.com&empty=");
    CHECK(v.param("method") == "REGISTER");
    CHECK_FALSE(v.has_user);
    CHECK(v.host == "biloxi.com");
}

// ---- tel (RFC 3966) -----------------------------------------------------------------------------------

TEST_CASE("tel URIs: global numbers with visual separators, local numbers with phone-context", "[sip][uri]") {
    SECTION("global") {
        const sip::uri u = must_parse("tel:+1-201-555-0123");
        CHECK(u.scheme == sip::uri_scheme::tel);
        CHECK_FALSE(u.is_sip());
        CHECK(u.has_user);
        CHECK(u.user == "+1-201-555-0123");
        CHECK(u.host.empty());
        CHECK(u.host_kind == sip::host_type::none);
        CHECK(u.params.empty());
    }
    SECTION("global with parentheses and dots") {
        const sip::uri u = must_parse("tel:+1(201)555.0123;ext=42");
        CHECK(u.user == "+1(201)555.0123");
        CHECK(u.param("ext") == "42");
    }
    SECTION("local with phone-context domain") {
        const sip::uri u = must_parse("tel:7042;phone-context=example.com");
        CHECK(u.user == "7042");
        CHECK(u.param("phone-context") == "example.com");
    }
    SECTION("local with phone-context global digits") {
        const sip::uri u = must_parse("tel:863-1234;phone-context=+1-914-555");
        CHECK(u.user == "863-1234");
        CHECK(u.param("phone-context") == "+1-914-555");
    }
    SECTION("local with * and #") {
        const sip::uri u = must_parse("tel:*67#;phone-context=example.com");
        CHECK(u.user == "*67#");
    }
    SECTION("bad") {
        CHECK(must_fail("tel:").offset == 4);
        CHECK(must_fail("tel:;phone-context=x").offset == 4);
        const sip::error plus = must_fail("tel:12+3");
        CHECK(plus.code == sip::errc::bad_uri);
        CHECK(plus.offset == 6);
        CHECK(must_fail("tel:+1 201").offset == 6);
        CHECK(must_fail("tel:+1;x=%zz").code == sip::errc::bad_escape);
    }
    SECTION("a number needs at least one digit (RFC 3966 §3)") {
        CHECK(must_fail("tel:+").code == sip::errc::bad_uri);
        CHECK(must_fail("tel:-").code == sip::errc::bad_uri);
        CHECK(must_fail("tel:+-.()").code == sip::errc::bad_uri);
    }
}

// ---- other schemes ----------------------------------------------------------------------------------

TEST_CASE("URIs of unknown schemes are kept opaque", "[sip][uri]") {
    struct row {
        std::string_view text;
        std::string_view scheme;
        std::string_view opaque;
    };
    const row rows[] = {
        {"http://www.example.com/a/b?c=d#frag", "http", "//www.example.com/a/b?c=d#frag"},
        {"isbn:0-395-36341-1", "isbn", "0-395-36341-1"},
        {"urn:ietf:rfc:3261", "urn", "ietf:rfc:3261"},
        {"soap.beep://192.0.2.1:5060/x", "soap.beep", "//192.0.2.1:5060/x"},
        {"mailto:alice@example.com", "mailto", "alice@example.com"},
        {"im:alice%20smith@example.com", "im", "alice%20smith@example.com"},
    };
    for (const row& r : rows) {
        INFO(r.text);
        const sip::uri u = must_parse(r.text);
        CHECK(u.scheme == sip::uri_scheme::other);
        CHECK_FALSE(u.is_sip());
        CHECK(u.scheme_name == r.scheme);
        CHECK(u.opaque == r.opaque);
        CHECK(u.text == r.text);
        CHECK(u.host.empty());
        CHECK_FALSE(u.has_user);
        CHECK(u.params.empty());
    }
}

// ---- host classification ------------------------------------------------------------------------------

TEST_CASE("is_ipv4_address", "[sip][uri][host]") {
    const std::string_view good[] = {"0.0.0.0", "192.0.2.1", "255.255.255.255", "01.02.03.004", "1.2.3.4"};
    const std::string_view bad[] = {"",        "256.1.1.1", "1.2.3",       "1.2.3.4.", "1.2.3.4.5", "1..2.3",
                                    ".1.2.3",  "1.2.3.-4",  "0001.2.3.4",  "a.b.c.d",  "1.2.3.4 ",  "1.2.3.256",
                                    "1.2.3.4:5", "999.1.1.1"};
    for (auto s : good) {
        INFO(s);
        CHECK(sip::is_ipv4_address(s));
    }
    for (auto s : bad) {
        INFO(s);
        CHECK_FALSE(sip::is_ipv4_address(s));
    }
}

TEST_CASE("is_ipv6_address", "[sip][uri][host]") {
    const std::string_view good[] = {
        "::",
        "::1",
        "1::",
        "2001:db8::10",
        "2001:DB8:0:0:8:800:200C:417A",
        "2001:db8:0:0:0:0:0:1",
        "fe80::",
        "::ffff:192.0.2.10",
        "::192.0.2.10",
        "1:2:3:4:5:6:192.0.2.1",
        "1:2:3:4:5::192.0.2.1",
        "1:2:3:4:5:6:7::",
        "::2:3:4:5:6:7:8",
        "2001:db8::10:5070",
    };
    const std::string_view bad[] = {
        "",
        ":",
        ":::",
        "2001:db8:::1",
        "1::2::3",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:8::",
        "1:2:3:4:5:6::7:8",
        ":1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:",
        "12345::1",
        "g::1",
        "::ffff:1.2.3",
        "::ffff:256.0.0.1",
        "1:2:3:4:5:6:7:1.2.3.4",
        "1.2.3.4",
        "[::1]",
        "::1%eth0",
        "2001:db8::1 ",
    };
    for (auto s : good) {
        INFO(s);
        CHECK(sip::is_ipv6_address(s));
    }
    for (auto s : bad) {
        INFO(s);
        CHECK_FALSE(sip::is_ipv6_address(s));
    }
}

TEST_CASE("classify_host", "[sip][uri][host]") {
    struct row {
        std::string_view host;
        sip::host_type kind;
    };
    const row rows[] = {
        {"example.com", sip::host_type::name},
        {"EXAMPLE.COM.", sip::host_type::name},
        {"localhost", sip::host_type::name},
        {"a1.b-2.c_3", sip::host_type::name},
        {"1.2.3.example", sip::host_type::name},
        {"192.0.2.1", sip::host_type::ipv4},
        {"[2001:db8::1]", sip::host_type::ipv6},
        {"[::ffff:192.0.2.1]", sip::host_type::ipv6},
        {"[::]", sip::host_type::ipv6},
        {"", sip::host_type::none},
        {"256.1.1.1", sip::host_type::none},
        {"1.2.3", sip::host_type::none},
        {"123", sip::host_type::none},
        {"example.123", sip::host_type::none},
        {"a..b", sip::host_type::none},
        {".", sip::host_type::none},
        {"exa mple.com", sip::host_type::none},
        {"example.com:5060", sip::host_type::none},
        {"2001:db8::1", sip::host_type::none},  // an IPv6 host needs its brackets
        {"[2001:db8::1", sip::host_type::none},
        {"[]", sip::host_type::none},
        {"[2001:db8:::1]", sip::host_type::none},
        {"[1::2::3]", sip::host_type::none},
        {"[192.0.2.1]", sip::host_type::none},
    };
    for (const row& r : rows) {
        INFO(r.host);
        CHECK(sip::classify_host(r.host) == r.kind);
    }
}

// ---- %-escaping ---------------------------------------------------------------------------------------

TEST_CASE("escape and unescape", "[sip][uri][escape]") {
    CHECK(sip::unescape("%61lice") == "alice");
    CHECK(sip::unescape("a%2Bb%2bc") == "a+b+c");
    CHECK(sip::unescape("%00") == std::string(1, '\0'));
    CHECK(sip::unescape("x%00y").size() == 3);
    CHECK(sip::unescape("%ff") == "\xff");
    CHECK(sip::unescape("no escapes") == "no escapes");
    // Invalid escapes are left as written.
    CHECK(sip::unescape("%Z1") == "%Z1");
    CHECK(sip::unescape("50%") == "50%");
    CHECK(sip::unescape("%4") == "%4");

    CHECK(sip::escape("alice", sip::uri_component::user) == "alice");
    CHECK(sip::escape("a b", sip::uri_component::user) == "a%20b");
    CHECK(sip::escape("a@b", sip::uri_component::user) == "a%40b");
    CHECK(sip::escape("100%", sip::uri_component::user) == "100%25");
    CHECK(sip::escape(std::string(1, '\0'), sip::uri_component::user) == "%00");
    CHECK(sip::escape("+1;x=y?z/", sip::uri_component::user) == "+1;x=y?z/");  // user-unreserved
    CHECK(sip::escape("p:w;d", sip::uri_component::password) == "p%3Aw%3Bd");
    CHECK(sip::escape("a&=+$,b", sip::uri_component::password) == "a&=+$,b");
    CHECK(sip::escape("a;b=c", sip::uri_component::param) == "a%3Bb%3Dc");
    CHECK(sip::escape("[::1]:5/x", sip::uri_component::param) == "[::1]:5/x");
    CHECK(sip::escape("a&b=c", sip::uri_component::header) == "a%26b%3Dc");
    CHECK(sip::escape("sip:bob@b?x", sip::uri_component::header) == "sip:bob%40b?x");
    CHECK(sip::escape("\xc3\xa9", sip::uri_component::user) == "%C3%A9");
}

TEST_CASE("escape/unescape round trips for every byte and component", "[sip][uri][escape]") {
    std::string all;
    for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
    for (auto component : {sip::uri_component::user, sip::uri_component::password, sip::uri_component::param,
                           sip::uri_component::header}) {
        const std::string escaped = sip::escape(all, component);
        CHECK(sip::valid_escapes(escaped));
        CHECK(sip::unescape(escaped) == all);
        // The escaped form is accepted in its place in a URI.
        std::string uri;
        switch (component) {
            case sip::uri_component::user: uri = "sip:" + escaped + "@host"; break;
            case sip::uri_component::password: uri = "sip:u:" + escaped + "@host"; break;
            case sip::uri_component::param: uri = "sip:host;p=" + escaped; break;
            case sip::uri_component::header: uri = "sip:host?h=" + escaped; break;
        }
        INFO(uri);
        auto parsed = sip::parse_uri(uri);
        REQUIRE(parsed.has_value());
        switch (component) {
            case sip::uri_component::user: CHECK(sip::unescape(parsed->user) == all); break;
            case sip::uri_component::password: CHECK(sip::unescape(parsed->password) == all); break;
            case sip::uri_component::param: CHECK(sip::unescape(parsed->param("p")) == all); break;
            case sip::uri_component::header: CHECK(sip::unescape(parsed->headers.substr(2)) == all); break;
        }
    }
}

TEST_CASE("valid_escapes", "[sip][uri][escape]") {
    CHECK(sip::valid_escapes(""));
    CHECK(sip::valid_escapes("abc"));
    CHECK(sip::valid_escapes("%00"));
    CHECK(sip::valid_escapes("%aF%Fa"));
    CHECK(sip::valid_escapes("a%20b"));
    CHECK_FALSE(sip::valid_escapes("%"));
    CHECK_FALSE(sip::valid_escapes("a%"));
    CHECK_FALSE(sip::valid_escapes("a%2"));
    CHECK_FALSE(sip::valid_escapes("%Z1"));
    CHECK_FALSE(sip::valid_escapes("%1Z"));
    CHECK_FALSE(sip::valid_escapes("%20%"));
    CHECK_FALSE(sip::valid_escapes("%%20"));
}

TEST_CASE("escaped NUL in a URI user part (RFC 4475 escnull)", "[sip][uri][escape]") {
    const sip::uri u = must_parse("sip:null-%00-null@example.com");
    CHECK(u.user == "null-%00-null");
    const std::string user = sip::unescape(u.user);
    REQUIRE(user.size() == 11);
    CHECK(user[5] == '\0');
}

// ---- comparison (RFC 3261 §19.1.4) ---------------------------------------------------------------------

TEST_CASE("uri_equivalent: the RFC 3261 §19.1.4 equivalent examples", "[sip][uri][compare]") {
    CHECK(equivalent("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"));
    CHECK(equivalent("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"));
    CHECK(equivalent("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"));
    CHECK(equivalent("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"));
    CHECK(equivalent("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                     "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"));
    CHECK(equivalent("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                     "sip:alice@atlanta.com?priority=urgent&subject=project%20x"));
}

TEST_CASE("uri_equivalent: the RFC 3261 §19.1.4 non-equivalent examples", "[sip][uri][compare]") {
    CHECK_FALSE(equivalent("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"));
    CHECK_FALSE(equivalent("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
    CHECK_FALSE(equivalent("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"));
    CHECK_FALSE(equivalent("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"));
    CHECK_FALSE(equivalent("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"));
    CHECK_FALSE(equivalent("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
}

TEST_CASE("uri_equivalent: further rules", "[sip][uri][compare]") {
    // Reflexive, scheme-sensitive, password compared, escaped password equal.
    CHECK(equivalent("sip:a@b", "sip:a@b"));
    CHECK_FALSE(equivalent("sip:a@b", "sips:a@b"));
    CHECK_FALSE(equivalent("sip:a:x@b", "sip:a@b"));
    CHECK_FALSE(equivalent("sip:a:x@b", "sip:a:X@b"));
    CHECK(equivalent("sip:a:%78@b", "sip:a:x@b"));
    CHECK_FALSE(equivalent("sip:a@b", "sip:b"));
    CHECK_FALSE(equivalent("sip:a@b", "sip:A@b"));
    // Explicit default port differs from no port; same explicit ports match.
    CHECK_FALSE(equivalent("sips:a@b:5061", "sips:a@b"));
    CHECK(equivalent("sip:a@b:5060", "sip:a@b:05060"));
    // user, ttl, method, maddr present in one only: never equal.
    CHECK_FALSE(equivalent("sip:a@b;user=phone", "sip:a@b"));
    CHECK_FALSE(equivalent("sip:a@b;ttl=1", "sip:a@b"));
    CHECK_FALSE(equivalent("sip:a@b;method=INVITE", "sip:a@b"));
    CHECK_FALSE(equivalent("sip:a@b;maddr=239.1.1.1", "sip:a@b"));
    CHECK_FALSE(equivalent("sip:a@b;maddr=239.1.1.1", "sip:a@b;maddr=239.1.1.2"));
    // Other parameters: compared when in both, ignored otherwise; lr ignored when in one.
    CHECK_FALSE(equivalent("sip:a@b;x=1", "sip:a@b;x=2"));
    CHECK(equivalent("sip:a@b;x=%41", "sip:a@b;X=a"));
    CHECK(equivalent("sip:a@b;lr", "sip:a@b"));
    // Headers are a set; present in both; values compared after unescaping.
    CHECK(equivalent("sip:a@b?x=1&y=2", "sip:a@b?y=2&x=1"));
    CHECK(equivalent("sip:a@b?x=%31", "sip:a@b?x=1"));
    CHECK_FALSE(equivalent("sip:a@b?x=1&y=2", "sip:a@b?x=1"));
    CHECK_FALSE(equivalent("sip:a@b?x=1", "sip:a@b?x=2"));
    // IPv6 hosts compare case-insensitively.
    CHECK(equivalent("sip:[2001:DB8::1]", "sip:[2001:db8::1]"));
    // Opaque URIs: scheme case-insensitive, rest exact.
    CHECK(equivalent("http://x/y", "HTTP://x/y"));
    CHECK_FALSE(equivalent("http://x/y", "http://x/Y"));
    CHECK_FALSE(equivalent("http://x", "sip:x"));
}

TEST_CASE("uri_equivalent for tel URIs (RFC 3966 §4)", "[sip][uri][compare]") {
    CHECK(equivalent("tel:+1-201-555-0123", "tel:+1(201)5550123"));
    CHECK(equivalent("tel:+1-201-555-0123", "tel:+1.201.555.0123"));
    CHECK_FALSE(equivalent("tel:+1-201-555-0123", "tel:1-201-555-0123;phone-context=+1"));
    CHECK_FALSE(equivalent("tel:+12015550123", "tel:+12015550124"));
    CHECK(equivalent("tel:7042;phone-context=example.com", "tel:7042;PHONE-CONTEXT=Example.COM"));
    CHECK_FALSE(equivalent("tel:7042;phone-context=example.com", "tel:7042;phone-context=example.net"));
    CHECK(equivalent("tel:863-1234;phone-context=+1-914-555", "tel:8631234;phone-context=+1914555"));
    CHECK_FALSE(equivalent("tel:+12015550123;ext=1", "tel:+12015550123"));
    CHECK(equivalent("tel:+12015550123;ext=1;isub=2", "tel:+12015550123;isub=2;ext=1"));
    CHECK_FALSE(equivalent("tel:+1", "sip:+1@host"));
}

TEST_CASE("uri_equivalent is reflexive with repeated parameters", "[sip][uri][compare][fuzz-regression]") {
    // Found by fuzz_uri: a repeated parameter was compared with the first occurrence on one side only.
    for (const char* text : {"sip:h;par=a;par=b", "tel:+1-201-555-0123;phone-context=a;phone-context=b"}) {
        auto u = sip::parse_uri(text);
        REQUIRE(u.has_value());
        CHECK(sip::uri_equivalent(*u, *u));
    }
    auto a = sip::parse_uri("sip:h;par=a;par=b");
    auto b = sip::parse_uri("sip:h;par=a");
    auto c = sip::parse_uri("sip:h;par=b");
    CHECK(sip::uri_equivalent(*a, *b));
    CHECK_FALSE(sip::uri_equivalent(*a, *c));
}

TEST_CASE("hosts classify the same inside a URI and alone", "[sip][uri][host]") {
    // The URI and Via parsers classify a host while scanning it; classify_host() checks it alone.
    for (const char* host : {"example.com", "example.com.", "a", "a.b.c", "1.2.3.4", "255.255.255.255", "256.1.1.1",
                             "1.2.3", "1.2.3.4.5", "123", "a.123", "a.123.", "123.a", "a..b", ".a", "a-b_c.d",
                             "[::1]", "[2001:db8::1]", "[2001:db8:::1]", "[]", "1.2.3.4."}) {
        INFO(host);
        const sip::host_type alone = sip::classify_host(host);
        const std::string text = std::string("sip:") + host;  // the URI's views point into it
        auto u = sip::parse_uri(text);
        if (alone == sip::host_type::none) {
            CHECK_FALSE(u.has_value());
        } else {
            REQUIRE(u.has_value());
            CHECK(u->host_kind == alone);
            CHECK(u->host == host);
        }
    }
}

TEST_CASE("sip URI without its headers, as a Request-URI carries it", "[sip][uri]") {
    for (const auto& [in, out] : std::vector<std::pair<std::string, std::string>>{
             {"sip:alice@example.com;transport=tcp?Replaces=a%40b&Subject=hi", "sip:alice@example.com;transport=tcp"},
             {"sip:alice@example.com", "sip:alice@example.com"},
             {"sips:[2001:db8::1]:5061?x=y", "sips:[2001:db8::1]:5061"},
             {"tel:+15551234", "tel:+15551234"}}) {
        INFO(in);
        auto u = sipvoice::sip::parse_uri(in);
        REQUIRE(u);
        CHECK(sipvoice::sip::without_headers(*u) == out);
    }
}
