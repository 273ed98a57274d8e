#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "sipvoice/sip/name_addr.hpp"

namespace sip = sipvoice::sip;

namespace {

sip::name_addr must_parse(std::string_view text) {
    INFO("name-addr: " << text);
    auto r = sip::parse_name_addr(text);
    if (!r) INFO("error " << sip::describe(r.error().code) << " at " << r.error().offset);
    REQUIRE(r.has_value());
    return *r;
}

sip::error must_fail(std::string_view text) {
    INFO("name-addr: " << text);
    auto r = sip::parse_name_addr(text);
    REQUIRE_FALSE(r.has_value());
    return r.error();
}

}  // namespace

TEST_CASE("name-addr with a quoted display name containing escaped quotes", "[sip][name_addr]") {
    const std::string text = R"("Bob \"the\" Builder" <sip:bob@biloxi.com;lr>;tag=a48s)";
    const sip::name_addr na = must_parse(text);
    CHECK(na.quoted_display_name);
    CHECK(na.display_name == R"("Bob \"the\" Builder")");
    CHECK(na.display() == R"(Bob "the" Builder)");
    CHECK(na.angle_brackets);
    CHECK(na.address.scheme == sip::uri_scheme::sip);
    CHECK(na.address.text == "sip:bob@biloxi.com;lr");
    CHECK(na.address.user == "bob");
    CHECK(na.address.host == "biloxi.com");
    CHECK(na.address.lr());
    CHECK(na.address.params.raw() == ";lr");
    CHECK(na.params.raw() == ";tag=a48s");
    CHECK(na.params.size() == 1);
    CHECK(na.tag() == "a48s");
    CHECK_FALSE(na.params.contains("lr"));
    CHECK(na.text == text);
    CHECK(na.display_name.data() == text.data());
}

TEST_CASE("name-addr with token display names", "[sip][name_addr]") {
    SECTION("two tokens") {
        const sip::name_addr na = must_parse("Bob Smith <sip:bob@biloxi.com>");
        CHECK_FALSE(na.quoted_display_name);
        CHECK(na.display_name == "Bob Smith");
        CHECK(na.display() == "Bob Smith");
        CHECK(na.address.host == "biloxi.com");
        CHECK(na.params.empty());
        CHECK(na.tag().empty());
    }
    SECTION("token characters") {
        const sip::name_addr na = must_parse("A.B-C!%*_+`'~ <sip:x@y>");
        CHECK(na.display_name == "A.B-C!%*_+`'~");
    }
    SECTION("no space before '<' (RFC 4475 lwsdisp)") {
        const sip::name_addr quoted = must_parse(R"("caller"<sip:caller@example.com>;tag=323)");
        CHECK(quoted.display() == "caller");
        CHECK(quoted.address.user == "caller");
        CHECK(quoted.tag() == "323");
        const sip::name_addr tok = must_parse("Bob<sip:bob@biloxi.com>");
        CHECK(tok.display_name == "Bob");
        CHECK(tok.address.user == "bob");
    }
    SECTION("no display name") {
        const sip::name_addr na = must_parse("<sip:bob@biloxi.com>");
        CHECK(na.display_name.empty());
        CHECK_FALSE(na.quoted_display_name);
        CHECK(na.display().empty());
        CHECK(na.angle_brackets);
    }
    SECTION("empty quoted display name") {
        const sip::name_addr na = must_parse(R"("" <sip:bob@biloxi.com>)");
        CHECK(na.quoted_display_name);
        CHECK(na.display_name == R"("")");
        CHECK(na.display().empty());
    }
    SECTION("UTF-8 and backslashes in a quoted display name") {
        const sip::name_addr na = must_parse("\"J\xc3\xbcrgen \\\\ Co\" <sip:j@example.com>");
        CHECK(na.display() == "J\xc3\xbcrgen \\ Co");
    }
    SECTION("leading and trailing whitespace") {
        const sip::name_addr na = must_parse("  Alice   <sip:alice@atlanta.com>  ;  tag = 1928301774 ");
        CHECK(na.display_name == "Alice");
        CHECK(na.tag() == "1928301774");
        CHECK(na.params.get("tag") == "1928301774");
    }
}

TEST_CASE("addr-spec: everything after the first ';' is a header parameter", "[sip][name_addr]") {
    const sip::name_addr na = must_parse("sip:a@b;tag=1");
    CHECK_FALSE(na.angle_brackets);
    CHECK(na.display_name.empty());
    CHECK(na.address.text == "sip:a@b");
    CHECK(na.address.host == "b");
    CHECK(na.address.params.empty());
    CHECK(na.params.raw() == ";tag=1");
    CHECK(na.tag() == "1");

    const sip::name_addr lr = must_parse("sip:proxy.example.com;lr;transport=tcp");
    CHECK(lr.address.params.empty());
    CHECK_FALSE(lr.address.lr());
    CHECK(lr.params.contains("lr"));
    CHECK(lr.params.get("transport") == "tcp");

    const sip::name_addr ws = must_parse("sip:a@b ;tag=2");
    CHECK(ws.address.text == "sip:a@b");
    CHECK(ws.tag() == "2");

    const sip::name_addr tel = must_parse("tel:+1-201-555-0123;tag=x");
    CHECK(tel.address.scheme == sip::uri_scheme::tel);
    CHECK(tel.address.user == "+1-201-555-0123");
    CHECK(tel.address.params.empty());
    CHECK(tel.tag() == "x");
}

TEST_CASE("name-addr: inside <> the parameters belong to the URI", "[sip][name_addr]") {
    const sip::name_addr na = must_parse("<sip:a@b;lr>;tag=1");
    CHECK(na.address.lr());
    CHECK(na.address.params.raw() == ";lr");
    CHECK_FALSE(na.address.has_param("tag"));
    CHECK(na.tag() == "1");
    CHECK_FALSE(na.params.contains("lr"));

    const sip::name_addr h = must_parse("<sip:a@b;transport=tcp?subject=x&to=y>;expires=60;q=0.5");
    CHECK(h.address.transport() == "tcp");
    CHECK(h.address.headers == "subject=x&to=y");
    CHECK(h.params.get("expires") == "60");
    CHECK(h.params.get("q") == "0.5");
    CHECK(h.params.size() == 2);

    const sip::name_addr v6 = must_parse("<sip:[2001:db8::1]:5060>;received=[2001:db8::9]");
    CHECK(v6.address.host == "[2001:db8::1]");
    CHECK(v6.address.port == 5060);
    CHECK(v6.params.get("received") == "[2001:db8::9]");

    const sip::name_addr quoted = must_parse(R"(<sip:a@b>;x="a;b,c";y)");
    CHECK(quoted.params.get("x") == R"("a;b,c")");
    CHECK(quoted.params.contains("y"));
    CHECK(quoted.tag().empty());

    const sip::name_addr opaque = must_parse("<http://www.example.com/a?b=c>;purpose=info");
    CHECK(opaque.address.scheme == sip::uri_scheme::other);
    CHECK(opaque.address.opaque == "//www.example.com/a?b=c");
    CHECK(opaque.params.get("purpose") == "info");
}

TEST_CASE("name-addr and addr-spec errors", "[sip][name_addr]") {
    struct row {
        std::string_view text;
        sip::errc code;
        std::uint32_t offset;
    };
    const row rows[] = {
        {"", sip::errc::bad_header_value, 0},
        {"   ", sip::errc::bad_header_value, 3},
        // addr-spec may hold no '?', ',' (RFC 3261 §20.10)
        {"sip:a@b?subject=x", sip::errc::bad_uri, 7},
        {"sip:a,b@c", sip::errc::bad_uri, 5},
        {"sip:a@b>", sip::errc::bad_uri, 7},
        // no whitespace inside <> (RFC 4475 §3.1.2.14)
        {"<sip:a@b >", sip::errc::bad_uri, 8},
        {"< sip:a@b>", sip::errc::bad_uri, 1},
        {"<sip:a @b>", sip::errc::bad_uri, 6},
        {R"("unterminated <sip:a@b>)", sip::errc::unterminated_quote, 0},
        {R"(x "unterminated <sip:a@b>)", sip::errc::bad_uri, 0},
        {R"("Bob" sip:a@b)", sip::errc::bad_display_name, 6},
        {"<sip:a@b", sip::errc::bad_header_value, 0},
        {"<sip:a@b> junk", sip::errc::bad_header_value, 10},
        {"<sip:a@b>;tag=", sip::errc::bad_param, 14},
        {"<sip:a@b>;", sip::errc::bad_param, 10},
        {"<sip:a@b>;x=\"open", sip::errc::unterminated_quote, 12},
        {"<sip:a@256.0.0.1>", sip::errc::bad_host, 7},
        {"<sip:a@b:99999>", sip::errc::bad_port, 9},
        {"<>", sip::errc::bad_uri, 1},
    };
    for (const row& r : rows) {
        INFO(r.text);
        const sip::error e = must_fail(r.text);
        CHECK(e.code == r.code);
        CHECK(e.offset == r.offset);
    }
}

TEST_CASE("unquote and quote", "[sip][name_addr]") {
    CHECK(sip::unquote(R"("abc")") == "abc");
    CHECK(sip::unquote(R"("a\"b")") == R"(a"b)");
    CHECK(sip::unquote(R"("a\\b")") == R"(a\b)");
    CHECK(sip::unquote(R"("a\\")") == R"(a\)");
    CHECK(sip::unquote(R"("\x")") == "x");
    CHECK(sip::unquote(R"("")") == "");
    CHECK(sip::unquote("plain") == "plain");
    CHECK(sip::unquote(R"(")") == R"(")");
    CHECK(sip::unquote(R"("open)") == R"("open)");

    CHECK(sip::quote("abc") == R"("abc")");
    CHECK(sip::quote(R"(a"b\c)") == R"("a\"b\\c")");
    CHECK(sip::quote("") == R"("")");

    const std::string samples[] = {"", "plain", R"(a"b)", R"(\)", R"(\\")", R"(""")", "tab\there", "J\xc3\xbcrgen",
                                   R"(end with backslash\)"};
    for (const std::string& s : samples) {
        INFO(s);
        const std::string q = sip::quote(s);
        CHECK(sip::unquote(q) == s);
        // The quoted form is a valid display name.
        const std::string header = q + " <sip:a@b>";
        auto na = sip::parse_name_addr(header);
        REQUIRE(na.has_value());
        CHECK(na->display() == s);
        CHECK(na->display_name == q);
    }
}

TEST_CASE("the first tag parameter is the tag", "[sip][name_addr][fuzz-regression]") {
    // Found by fuzz_name_addr: tag() returned the last tag while params.get("tag") returns the first.
    auto a = sip::parse_name_addr("sip:a@b;tag=1;tag=2");
    REQUIRE(a.has_value());
    CHECK(a->tag() == "1");
    CHECK(a->tag() == a->params.get("tag"));
    auto b = sip::parse_name_addr("<sip:a@b>;tag;tag=2");
    REQUIRE(b.has_value());
    CHECK(b->tag().empty());
    CHECK(b->tag() == b->params.get("tag"));
}
