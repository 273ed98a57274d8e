#include <catch2/catch.hpp>

#include <cctype>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sipvoice/sip/headers.hpp"
#include "sipvoice/sip/message.hpp"
#include "sipvoice/sip/params.hpp"

namespace sip = sipvoice::sip;

namespace {

template <class T>
T must_parse(std::string_view text) {
    INFO("value: " << text);
    T out{};
    const sip::error e = sip::parse_value(text, out);
    INFO("error " << sip::describe(e.code) << " at " << e.offset);
    REQUIRE_FALSE(e.failed());
    return out;
}

template <class T>
sip::error must_fail(std::string_view text) {
    INFO("value: " << text);
    T out{};
    const sip::error e = sip::parse_value(text, out);
    REQUIRE(e.failed());
    return e;
}

struct bad_row {
    std::string_view text;
    sip::errc code;
    std::uint32_t offset;
};

template <class T>
void check_bad(std::initializer_list<bad_row> rows) {
    for (const bad_row& r : rows) {
        INFO(r.text);
        const sip::error e = must_fail<T>(r.text);
        CHECK(e.code == r.code);
        CHECK(e.offset == r.offset);
    }
}

std::vector<std::string> split_all(std::string_view value) {
    std::vector<std::string> out;
    std::string_view rest = value;
    std::string_view element;
    bool more = true;
    while (more) {
        more = sip::next_list_element(rest, element);
        out.emplace_back(element);
    }
    return out;
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}
std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

// ---- names ------------------------------------------------------------------------------------------

TEST_CASE("lookup_header: every compact form, both cases", "[sip][headers][names]") {
    const std::pair<char, sip::header_id> compact[] = {
        {'i', sip::header_id::call_id},          {'m', sip::header_id::contact},
        {'f', sip::header_id::from},             {'t', sip::header_id::to},
        {'v', sip::header_id::via},              {'l', sip::header_id::content_length},
        {'c', sip::header_id::content_type},     {'k', sip::header_id::supported},
        {'s', sip::header_id::subject},          {'e', sip::header_id::content_encoding},
        {'o', sip::header_id::event},            {'r', sip::header_id::refer_to},
        {'b', sip::header_id::referred_by},      {'u', sip::header_id::allow_events},
        {'x', sip::header_id::session_expires},  {'y', sip::header_id::identity},
    };
    for (const auto& [c, id] : compact) {
        INFO(c);
        CHECK(sip::lookup_header(std::string(1, c)) == id);
        CHECK(sip::lookup_header(std::string(1, static_cast<char>(std::toupper(c)))) == id);
    }
    // Letters without a compact form, and non-letters.
    for (std::string_view other : {"a", "d", "g", "h", "j", "n", "p", "q", "w", "z", "A", "Z", "1", "-", "@", "\x81"}) {
        INFO(other);
        CHECK(sip::lookup_header(other) == sip::header_id::other);
    }
}

TEST_CASE("lookup_header: full names in any case, canonical_name round trip", "[sip][headers][names]") {
    for (std::size_t i = 1; i < sip::header_id_count; ++i) {
        const auto id = static_cast<sip::header_id>(i);
        const std::string_view name = sip::canonical_name(id);
        INFO(i << " " << name);
        REQUIRE_FALSE(name.empty());
        CHECK(sip::lookup_header(name) == id);
        CHECK(sip::lookup_header(upper(name)) == id);
        CHECK(sip::lookup_header(lower(name)) == id);
    }
    CHECK(sip::canonical_name(sip::header_id::other).empty());
    CHECK(sip::canonical_name(sip::header_id::call_id) == "Call-ID");
    CHECK(sip::canonical_name(sip::header_id::cseq) == "CSeq");
    CHECK(sip::canonical_name(sip::header_id::www_authenticate) == "WWW-Authenticate");
    CHECK(sip::canonical_name(sip::header_id::rack) == "RAck");
    CHECK(sip::canonical_name(sip::header_id::mime_version) == "MIME-Version");
    CHECK(sip::canonical_name(sip::header_id::p_asserted_identity) == "P-Asserted-Identity");
    CHECK(sip::lookup_header("cALL-iD") == sip::header_id::call_id);
    CHECK(sip::lookup_header("vIa") == sip::header_id::via);
    CHECK(sip::lookup_header("cSEQ") == sip::header_id::cseq);
    CHECK(sip::lookup_header("Www-Authenticate") == sip::header_id::www_authenticate);
    CHECK(sip::lookup_header("content-LENGTH") == sip::header_id::content_length);
    CHECK(sip::lookup_header("max-forwards") == sip::header_id::max_forwards);
    CHECK(sip::lookup_header("SESSION-expires") == sip::header_id::session_expires);
}

TEST_CASE("lookup_header: near misses are unknown", "[sip][headers][names]") {
    for (std::string_view name : {"", "Vias", "Vi", "Call_ID", "Call ID", "CallID", "Call-IDs", "Content-Lengt",
                                  "X-Call-ID", "Contact:", " Via", "Via ", "Cont\rct", "Call\r-ID", "From-",
                                  "P-Asserted-Identity-X", "An-Extraordinarily-Long-Header-Name"}) {
        INFO(name);
        CHECK(sip::lookup_header(name) == sip::header_id::other);
    }
    CHECK(sip::lookup_header(std::string_view{}) == sip::header_id::other);
}

TEST_CASE("header classes: list, single, may be empty", "[sip][headers][names]") {
    using id = sip::header_id;
    for (id h : {id::via, id::contact, id::route, id::record_route, id::allow, id::supported, id::require,
                 id::proxy_require, id::unsupported, id::accept, id::reason, id::path}) {
        INFO(sip::canonical_name(h));
        CHECK(sip::is_list_header(h));
        CHECK_FALSE(sip::is_single_header(h));
    }
    for (id h : {id::call_id, id::cseq, id::from, id::to, id::max_forwards, id::content_length, id::content_type,
                 id::expires, id::event, id::session_expires, id::date, id::refer_to}) {
        INFO(sip::canonical_name(h));
        CHECK(sip::is_single_header(h));
        CHECK_FALSE(sip::is_list_header(h));
    }
    for (id h : {id::www_authenticate, id::authorization, id::proxy_authenticate, id::proxy_authorization, id::other}) {
        INFO(sip::canonical_name(h));
        CHECK_FALSE(sip::is_list_header(h));  // commas belong to the credentials
        CHECK_FALSE(sip::is_single_header(h));
    }
    for (id h : {id::supported, id::allow, id::accept, id::accept_encoding, id::accept_language, id::subject,
                 id::organization}) {
        INFO(sip::canonical_name(h));
        CHECK(sip::may_be_empty(h));
    }
    for (id h : {id::via, id::require, id::call_id, id::cseq, id::contact, id::to}) {
        INFO(sip::canonical_name(h));
        CHECK_FALSE(sip::may_be_empty(h));
    }
}

TEST_CASE("next_list_element honours quotes and angle brackets", "[sip][headers][list]") {
    using v = std::vector<std::string>;
    CHECK(split_all("a, b ,c") == v{"a", "b", "c"});
    CHECK(split_all("single") == v{"single"});
    CHECK(split_all("") == v{""});
    CHECK(split_all("a,,b") == v{"a", "", "b"});
    CHECK(split_all("a,") == v{"a", ""});
    CHECK(split_all(" , ") == v{"", ""});
    CHECK(split_all(R"("Doe, John" <sip:j@d>;x="1,2", <sip:a@b?h=1,2>, c)") ==
          v{R"("Doe, John" <sip:j@d>;x="1,2")", "<sip:a@b?h=1,2>", "c"});
    CHECK(split_all(R"("a\",b" <sip:x>, y)") == v{R"("a\",b" <sip:x>)", "y"});
    // An unterminated quote swallows the rest: the element then fails its own parse.
    CHECK(split_all(R"("abc, def)") == v{R"("abc, def)"});

    // Return value, views and advance.
    const std::string value = "SIP/2.0/UDP a ,SIP/2.0/TCP b";
    std::string_view rest = value;
    std::string_view element;
    CHECK(sip::next_list_element(rest, element));
    CHECK(element == "SIP/2.0/UDP a");
    CHECK(element.data() == value.data());
    CHECK(rest == "SIP/2.0/TCP b");
    CHECK_FALSE(sip::next_list_element(rest, element));
    CHECK(element == "SIP/2.0/TCP b");
    CHECK(element.data() == value.data() + 15);
    CHECK(rest.empty());
}

// ---- parameters ---------------------------------------------------------------------------------------

TEST_CASE("validate_params and param_list (header and URI grammars)", "[sip][headers][params]") {
    CHECK_FALSE(sip::validate_params("", sip::param_syntax::header).failed());
    CHECK_FALSE(sip::validate_params(R"(;a=1 ; b = "x y" ;c;d=[2001:db8::1];e=host.example:5060)",
                                     sip::param_syntax::header)
                    .failed());
    CHECK_FALSE(sip::validate_params(";lr;transport=tcp;x=%41", sip::param_syntax::uri).failed());

    struct row {
        std::string_view raw;
        sip::param_syntax syntax;
        sip::errc code;
        std::uint32_t offset;
    };
    const row rows[] = {
        {"a=1", sip::param_syntax::header, sip::errc::bad_param, 0},
        {";a=", sip::param_syntax::header, sip::errc::bad_param, 3},
        {";a=1 b", sip::param_syntax::header, sip::errc::bad_param, 5},
        {";a=1;;b", sip::param_syntax::header, sip::errc::bad_param, 5},
        {R"(;a="x)", sip::param_syntax::header, sip::errc::unterminated_quote, 3},
        {";a=x,y", sip::param_syntax::header, sip::errc::bad_param, 4},
        {"; a=1", sip::param_syntax::uri, sip::errc::bad_param, 1},
        {";a =1", sip::param_syntax::uri, sip::errc::bad_param, 2},
        {";a=%zz", sip::param_syntax::uri, sip::errc::bad_escape, 3},
        {";a=\"x\"", sip::param_syntax::uri, sip::errc::bad_param, 3},
    };
    for (const row& r : rows) {
        INFO(r.raw);
        const sip::error e = sip::validate_params(r.raw, r.syntax);
        CHECK(e.code == r.code);
        CHECK(e.offset == r.offset);
    }

    const std::string raw = R"( ; tag = 1928 ;lr; Q=0.7 ;text="a;b")";
    const sip::param_list params(raw, sip::param_syntax::header);
    CHECK(params.size() == 4);
    CHECK(params.get("TAG") == "1928");
    CHECK(params.get("q") == "0.7");
    CHECK(params.get("text") == R"("a;b")");
    CHECK(params.contains("lr"));
    CHECK(params.get("lr", "none") == "none");
    std::vector<std::string> names;
    for (const sip::param& p : params) names.emplace_back(p.name);
    CHECK(names == std::vector<std::string>{"tag", "lr", "Q", "text"});
    auto it = params.begin();
    CHECK(it->name == "tag");
    CHECK(it->value.data() == raw.data() + 9);
    ++it;
    ++it;
    ++it;
    CHECK(it != params.end());
    ++it;
    CHECK(it == params.end());
    CHECK(sip::param_list{}.size() == 0);
    CHECK(sip::param_list{}.begin() == sip::param_list{}.end());
}

// ---- Via ----------------------------------------------------------------------------------------------

TEST_CASE("Via: RFC 3261 example", "[sip][headers][via]") {
    const std::string text = "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds";
    const auto v = must_parse<sip::via>(text);
    CHECK(v.protocol_name == "SIP");
    CHECK(v.protocol_version == "2.0");
    CHECK(v.transport == "UDP");
    CHECK(v.host == "pc33.atlanta.com");
    CHECK(v.host_kind == sip::host_type::name);
    CHECK_FALSE(v.has_port);
    CHECK(v.port == 0);
    CHECK(v.branch == "z9hG4bK776asdhds");
    CHECK(v.branch.data() == text.data() + 36);
    CHECK(v.rfc3261_branch());
    CHECK(v.received.empty());
    CHECK(v.maddr.empty());
    CHECK_FALSE(v.has_rport);
    CHECK(v.rport == 0);
    CHECK(v.ttl == -1);
    CHECK(v.params.size() == 1);
}

TEST_CASE("Via: IPv4 sent-by with port and every parameter", "[sip][headers][via]") {
    const auto v = must_parse<sip::via>(
        "SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKnashds8;received=192.0.2.2;rport=5061;maddr=239.1.1.1;ttl=16;x-ext=1");
    CHECK(v.transport == "TCP");
    CHECK(v.host == "192.0.2.1");
    CHECK(v.host_kind == sip::host_type::ipv4);
    CHECK(v.has_port);
    CHECK(v.port == 5060);
    CHECK(v.branch == "z9hG4bKnashds8");
    CHECK(v.received == "192.0.2.2");
    CHECK(v.has_rport);
    CHECK(v.rport == 5061);
    CHECK(v.maddr == "239.1.1.1");
    CHECK(v.ttl == 16);
    CHECK(v.params.get("x-ext") == "1");
    CHECK(v.params.size() == 6);
}

TEST_CASE("Via: LWS around '/', ':', ';' and '=', valueless rport, IPv6 sent-by", "[sip][headers][via]") {
    const auto v = must_parse<sip::via>("  SIP / 2.0 / TLS   [2001:db8::9] : 5061 ; branch = z9hG4bK1 ; rport  ");
    CHECK(v.protocol_name == "SIP");
    CHECK(v.protocol_version == "2.0");
    CHECK(v.transport == "TLS");
    CHECK(v.host == "[2001:db8::9]");
    CHECK(v.host_kind == sip::host_type::ipv6);
    CHECK(v.port == 5061);
    CHECK(v.branch == "z9hG4bK1");
    CHECK(v.has_rport);
    CHECK(v.rport == 0);
}

TEST_CASE("Via: received with and without IPv6 brackets (RFC 5118 §4.5)", "[sip][headers][via]") {
    const auto plain = must_parse<sip::via>("SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111;received=2001:db8::9:255");
    CHECK(plain.host == "[2001:db8::9:1]");
    CHECK(plain.received == "2001:db8::9:255");
    const auto bracketed =
        must_parse<sip::via>("SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3");
    CHECK(bracketed.received == "[2001:db8::9:255]");
    CHECK(bracketed.branch == "z9hG4bKas3");
    const auto mapped = must_parse<sip::via>("SIP/2.0/UDP [::ffff:192.0.2.1];received=::ffff:192.0.2.2");
    CHECK(mapped.host_kind == sip::host_type::ipv6);
    CHECK(mapped.received == "::ffff:192.0.2.2");
}

TEST_CASE("Via: ttl limits, transports, branch cookie", "[sip][headers][via]") {
    CHECK(must_parse<sip::via>("SIP/2.0/UDP h;ttl=0").ttl == 0);
    CHECK(must_parse<sip::via>("SIP/2.0/UDP h;ttl=255").ttl == 255);
    CHECK(must_parse<sip::via>("SIP/2.0/UDP h;rport=65535").rport == 65535);
    for (std::string_view t : {"UDP", "TCP", "TLS", "SCTP", "TLS-SCTP", "WS", "WSS", "NEWTRANSPORT"}) {
        const std::string text = "SIP/2.0/" + std::string(t) + " h";
        CHECK(must_parse<sip::via>(text).transport == t);
    }
    CHECK_FALSE(must_parse<sip::via>("SIP/2.0/UDP h;branch=1234").rfc3261_branch());
    CHECK_FALSE(must_parse<sip::via>("SIP/2.0/UDP h;branch=Z9HG4BK1234").rfc3261_branch());
    CHECK_FALSE(must_parse<sip::via>("SIP/2.0/UDP h").rfc3261_branch());
    CHECK(must_parse<sip::via>("SIP/2.0/UDP h;branch=z9hG4bK-x").rfc3261_branch());
}

TEST_CASE("Via: errors", "[sip][headers][via]") {
    check_bad<sip::via>({
        {"", sip::errc::bad_header_value, 0},
        {"SIP/2.0 host", sip::errc::bad_header_value, 8},
        {"SIP/2.0/UDP", sip::errc::bad_header_value, 11},
        {"SIP/2.0/UDPhost", sip::errc::bad_header_value, 15},
        {"SIP/2.0/UDP host junk", sip::errc::bad_header_value, 17},
        {"SIP/2.0/UDP host:", sip::errc::bad_port, 17},
        {"SIP/2.0/UDP host:65536", sip::errc::bad_port, 17},
        {"SIP/2.0/UDP 256.1.1.1", sip::errc::bad_host, 12},
        {"SIP/2.0/UDP [2001:db8::1", sip::errc::bad_host, 12},
        {"SIP/2.0/UDP [2001:db8:::1]", sip::errc::bad_host, 12},
        {"SIP/2.0/UDP host;branch", sip::errc::bad_param, 17},
        {"SIP/2.0/UDP host;branch=", sip::errc::bad_param, 24},
        {"SIP/2.0/UDP host;ttl=256", sip::errc::bad_param, 17},
        {"SIP/2.0/UDP host;ttl", sip::errc::bad_param, 17},
        {"SIP/2.0/UDP host;ttl=-1", sip::errc::bad_param, 17},
        {"SIP/2.0/UDP host;received=host.example", sip::errc::bad_param, 17},
        {"SIP/2.0/UDP host;received=256.0.0.1", sip::errc::bad_param, 17},
        {"SIP/2.0/UDP host;rport=65536", sip::errc::bad_param, 17},
        {"SIP/2.0/UDP host;maddr=a..b", sip::errc::bad_param, 17},
        {"SIP/2.0/UDP host;maddr", sip::errc::bad_param, 17},
    });
}

// ---- CSeq ---------------------------------------------------------------------------------------------

TEST_CASE("CSeq", "[sip][headers][cseq]") {
    auto c = must_parse<sip::cseq>("4711 INVITE");
    CHECK(c.number == 4711);
    CHECK(c.method == "INVITE");
    c = must_parse<sip::cseq>("  2147483647   REGISTER  ");
    CHECK(c.number == 2147483647U);
    CHECK(c.number == sip::max_cseq);
    CHECK(c.method == "REGISTER");
    c = must_parse<sip::cseq>("0 ACK");
    CHECK(c.number == 0);
    c = must_parse<sip::cseq>("00001 NEWMETHOD");
    CHECK(c.number == 1);
    CHECK(c.method == "NEWMETHOD");
    check_bad<sip::cseq>({
        {"2147483648 INVITE", sip::errc::number_too_large, 0},
        {"99999999999999999999 INVITE", sip::errc::number_too_large, 0},
        {"1", sip::errc::bad_header_value, 1},
        {"1 ", sip::errc::bad_method, 2},
        {"1INVITE", sip::errc::bad_header_value, 1},
        {"INVITE", sip::errc::bad_number, 0},
        {"-1 INVITE", sip::errc::bad_number, 0},
        {"", sip::errc::bad_number, 0},
        {"1 INV@ITE", sip::errc::bad_method, 2},
        {"1 INVITE BYE", sip::errc::bad_method, 2},
    });
}

// ---- Contact --------------------------------------------------------------------------------------------

TEST_CASE("Contact: star, name-addr, expires and q", "[sip][headers][contact]") {
    auto star = must_parse<sip::contact>("*");
    CHECK(star.star);
    CHECK(must_parse<sip::contact>("  *  ").star);

    auto c = must_parse<sip::contact>(R"("Mr. Watson" <sip:watson@worcester.bell-telephone.com>;q=0.7; expires=3600)");
    CHECK_FALSE(c.star);
    CHECK(c.address.display() == "Mr. Watson");
    CHECK(c.address.address.user == "watson");
    CHECK(c.address.address.host == "worcester.bell-telephone.com");
    CHECK(c.q == 700);
    CHECK(c.has_expires());
    CHECK(c.expires == 3600);

    auto plain = must_parse<sip::contact>("<sip:alice@192.0.2.4>");
    CHECK(plain.q == -1);
    CHECK_FALSE(plain.has_expires());
    CHECK(plain.expires == 0);
    CHECK(plain.address.address.host_kind == sip::host_type::ipv4);

    auto spec = must_parse<sip::contact>("sip:alice@192.0.2.4;expires=0");
    CHECK(spec.has_expires());
    CHECK(spec.expires == 0);
    CHECK(spec.address.address.params.empty());

    CHECK(must_parse<sip::contact>("<sip:a@b>;expires=4294967295").expires == 4294967295U);
    CHECK(must_parse<sip::contact>("<sip:a@b>;expires=007").expires == 7);
}

TEST_CASE("Contact q-values (RFC 3261 §20.10 qvalue)", "[sip][headers][contact]") {
    const std::pair<std::string_view, int> good[] = {
        {"0", 0},     {"0.0", 0},     {"0.5", 500},  {"0.05", 50},     {"0.001", 1},
        {"0.999", 999}, {"1", 1000},  {"1.0", 1000}, {"1.000", 1000},  {"0.123", 123},
    };
    for (const auto& [q, expected] : good) {
        const std::string text = "<sip:a@b>;q=" + std::string(q);
        INFO(text);
        CHECK(must_parse<sip::contact>(text).q == expected);
    }
    for (std::string_view q : {"1.5", "1.001", "2", "0.1234", ".5", "1.0000", "01", "-0.5", "a"}) {
        const std::string text = "<sip:a@b>;q=" + std::string(q);
        INFO(text);
        const sip::error e = must_fail<sip::contact>(text);
        CHECK(e.code == sip::errc::bad_param);
        CHECK(e.offset == 10);
    }
    const sip::error valueless = must_fail<sip::contact>("<sip:a@b>;q");
    CHECK(valueless.code == sip::errc::bad_param);
    CHECK(valueless.offset == 10);
}

TEST_CASE("Contact q-value with a bare trailing dot is valid (RFC 3261 §25.1 qvalue)", "[sip][headers][contact]") {
    // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ): "0." and "1." are well formed.
    CHECK(must_parse<sip::contact>("<sip:a@b>;q=0.").q == 0);
    CHECK(must_parse<sip::contact>("<sip:a@b>;q=1.").q == 1000);
}

TEST_CASE("Contact errors", "[sip][headers][contact]") {
    check_bad<sip::contact>({
        {"<sip:a@b>;expires=4294967296", sip::errc::number_too_large, 10},
        {"<sip:a@b>;expires=abc", sip::errc::bad_param, 10},
        {"<sip:a@b>;expires", sip::errc::bad_param, 10},
        {"<sip:a@b>;expires=-1", sip::errc::bad_param, 10},
        {"**", sip::errc::bad_uri, 0},
        {"", sip::errc::bad_header_value, 0},
        {"sip:a@b?x=y", sip::errc::bad_uri, 7},
    });
}

TEST_CASE("parse_value(name_addr) matches parse_name_addr", "[sip][headers][name_addr]") {
    const auto na = must_parse<sip::name_addr>("Alice <sip:alice@atlanta.com>;tag=1928301774");
    CHECK(na.display() == "Alice");
    CHECK(na.tag() == "1928301774");
    CHECK(na.address.host == "atlanta.com");
    const sip::error e = must_fail<sip::name_addr>("<sip:a@b");
    CHECK(e.code == sip::errc::bad_header_value);
    CHECK(e.offset == 0);
}

// ---- media types -----------------------------------------------------------------------------------------

TEST_CASE("media_type: Content-Type with parameters", "[sip][headers][media]") {
    auto m = must_parse<sip::media_type>("application/sdp");
    CHECK(m.type == "application");
    CHECK(m.subtype == "sdp");
    CHECK(m.params.empty());
    CHECK(m.matches("application", "sdp"));
    CHECK(m.matches("APPLICATION", "SDP"));
    CHECK_FALSE(m.matches("application", "pidf+xml"));
    CHECK_FALSE(m.matches("text", "sdp"));

    m = must_parse<sip::media_type>(R"(multipart/mixed; boundary="unique-boundary-1" ;charset=utf-8)");
    CHECK(m.type == "multipart");
    CHECK(m.subtype == "mixed");
    CHECK(m.params.get("boundary") == R"("unique-boundary-1")");
    CHECK(m.params.get("CHARSET") == "utf-8");
    CHECK(m.params.size() == 2);

    m = must_parse<sip::media_type>(" Application / SDP ");
    CHECK(m.type == "Application");
    CHECK(m.subtype == "SDP");
    CHECK(m.matches("application", "sdp"));

    m = must_parse<sip::media_type>("application/pidf+xml");
    CHECK(m.subtype == "pidf+xml");
}

TEST_CASE("media_type: Accept ranges", "[sip][headers][media]") {
    auto all = must_parse<sip::media_type>("*/*");
    CHECK(all.type == "*");
    CHECK(all.subtype == "*");
    CHECK(all.matches("application", "sdp"));
    CHECK(all.matches("text", "html"));
    auto app = must_parse<sip::media_type>("application/*;q=0.5");
    CHECK(app.matches("application", "sdp"));
    CHECK(app.matches("Application", "pidf+xml"));
    CHECK_FALSE(app.matches("text", "plain"));
    CHECK(app.params.get("q") == "0.5");
    check_bad<sip::media_type>({
        {"application", sip::errc::bad_header_value, 11},
        {"application/", sip::errc::bad_header_value, 12},
        {"/sdp", sip::errc::bad_header_value, 0},
        {"", sip::errc::bad_header_value, 0},
        {"application/sdp junk", sip::errc::bad_header_value, 16},
        {"application/sdp;", sip::errc::bad_param, 16},
        {"application/sdp/x", sip::errc::bad_header_value, 15},
    });
}

// ---- authentication --------------------------------------------------------------------------------------

TEST_CASE("auth_value: Digest challenge", "[sip][headers][auth]") {
    const std::string text = R"(Digest realm="atlanta.com", domain="sip:ss1.carrier.com", qop="auth,auth-int",)"
                             R"( nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5)";
    const auto a = must_parse<sip::auth_value>(text);
    CHECK(a.scheme == "Digest");
    CHECK(a.token68.empty());
    CHECK(a.params.get("realm") == "atlanta.com");
    CHECK(a.params.get("domain") == "sip:ss1.carrier.com");
    CHECK(a.params.get("qop") == "auth,auth-int");  // quoted comma stays inside the value
    CHECK(a.params.get("nonce") == "f84f1cec41e6cbe5aea9c8e88d359");
    CHECK(a.params.get("opaque").empty());
    CHECK(a.params.find("opaque").has_value());
    CHECK(a.params.get("stale") == "FALSE");
    CHECK(a.params.get("ALGORITHM") == "MD5");
    CHECK(a.params.get("missing", "fallback") == "fallback");
    CHECK_FALSE(a.params.find("missing").has_value());
    auto realm = a.params.find("realm");
    REQUIRE(realm.has_value());
    CHECK(realm->value == R"("atlanta.com")");  // find() keeps the quotes
    CHECK(realm->has_value);

    std::vector<std::string> names;
    a.params.for_each([&](const sip::param& p) { names.emplace_back(p.name); });
    CHECK(names == std::vector<std::string>{"realm", "domain", "qop", "nonce", "opaque", "stale", "algorithm"});
}

TEST_CASE("auth_value: Digest credentials", "[sip][headers][auth]") {
    const auto a = must_parse<sip::auth_value>(
        R"(Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",)"
        R"( uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b",)"
        R"( response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41")");
    CHECK(a.scheme == "Digest");
    CHECK(a.params.get("username") == "bob");
    CHECK(a.params.get("uri") == "sip:bob@biloxi.com");
    CHECK(a.params.get("response") == "6629fae49393a05397450978507c4ef1");
    CHECK(a.params.get("cnonce") == "0a4f113b");
    CHECK(a.params.get("nc") == "00000001");
    CHECK(a.params.get("qop") == "auth");
    CHECK(a.params.get("opaque") == "5ccc069c403ebaf9f0171e9517f40e41");
}

TEST_CASE("auth_value: the parameter index agrees with a scan of the text", "[sip][headers][auth]") {
    // parse_value() indexes up to index_capacity parameters; find() and get() must answer the same
    // with the index, without it (too many parameters) and for an auth_params made by hand.
    auto check_same = [](const sip::auth_params& parsed) {
        const sip::auth_params scanned{parsed.raw};
        CHECK_FALSE(scanned.indexed());
        parsed.for_each([&](const sip::param& p) {
            const auto a = parsed.find(p.name);
            const auto b = scanned.find(p.name);
            REQUIRE(a.has_value());
            REQUIRE(b.has_value());
            CHECK(a->name.data() == b->name.data());
            CHECK(a->value.data() == b->value.data());
            CHECK(a->value.size() == b->value.size());
            CHECK(parsed.get(p.name).data() == scanned.get(p.name).data());
        });
        for (std::string_view name : {"REALM", "Nonce", "realm-", "reaLm", "x", "", "nonce\x20"}) {
            CHECK(parsed.find(name).has_value() == scanned.find(name).has_value());
            CHECK(parsed.get(name, "-") == scanned.get(name, "-"));
        }
    };
    SECTION("indexed; the first of a repeated name counts") {
        const auto a = must_parse<sip::auth_value>(R"(Digest realm="one", NONCE=n, realm="two", Realm-x=3)");
        CHECK(a.params.indexed());
        CHECK(a.params.get("realm") == "one");
        CHECK(a.params.get("Nonce") == "n");
        CHECK(a.params.get("realm-X") == "3");
        check_same(a.params);
    }
    SECTION("more parameters than the index holds") {
        std::string text = "Digest";
        for (std::size_t i = 0; i <= sip::auth_params::index_capacity; ++i)
            text += (i == 0 ? " p" : ", p") + std::to_string(i) + "=v" + std::to_string(i);
        const auto a = must_parse<sip::auth_value>(text);
        CHECK_FALSE(a.params.indexed());
        CHECK(a.params.get("p0") == "v0");
        CHECK(a.params.get("p16") == "v16");
        check_same(a.params);
    }
    SECTION("another text in raw is read, not looked up in the index made for the old one") {
        auto a = must_parse<sip::auth_value>(R"(Digest realm="a-rather-long-realm", nonce="n", opaque="o")");
        REQUIRE(a.params.indexed());
        const std::string other = R"(realm="r")";
        a.params.raw = other;
        CHECK_FALSE(a.params.indexed());
        CHECK(a.params.get("realm") == "r");
        CHECK_FALSE(a.params.find("opaque"));
        a.params.raw = std::string_view(other).substr(0, 5);  // the same start, shorter
        CHECK_FALSE(a.params.indexed());
        CHECK(a.params.get("nonce", "-") == "-");
    }
    SECTION("copies keep the index valid") {
        const std::string text = R"(Digest realm="r", nonce="n")";
        sip::auth_value copy;
        {
            const auto a = must_parse<sip::auth_value>(text);
            copy = a;
        }
        CHECK(copy.params.get("nonce") == "n");
        check_same(copy.params);
    }
}

TEST_CASE("auth_value: quoting, LWS, token68, unknown schemes", "[sip][headers][auth]") {
    SECTION("quoted commas and quoted-pairs") {
        const auto a = must_parse<sip::auth_value>(R"(Digest realm="a,b", nonce="x\"y", uri="sip:a@b;x=1,2")");
        CHECK(a.params.get("realm") == "a,b");
        CHECK(a.params.get("nonce") == R"(x\"y)");  // quoted-pairs are not decoded by get()
        CHECK(a.params.get("uri") == "sip:a@b;x=1,2");
    }
    SECTION("LWS around '=' and ','; empty list elements") {
        const auto a = must_parse<sip::auth_value>("Digest  realm = \"r\" ,, nonce= n1 ,");
        CHECK(a.params.get("realm") == "r");
        CHECK(a.params.get("nonce") == "n1");
    }
    SECTION("token68") {
        const auto basic = must_parse<sip::auth_value>("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        CHECK(basic.scheme == "Basic");
        CHECK(basic.token68 == "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        CHECK(basic.params.raw.empty());
        const auto bearer = must_parse<sip::auth_value>("Bearer mF_9.B5f-4.1JqM");
        CHECK(bearer.token68 == "mF_9.B5f-4.1JqM");
    }
    SECTION("scheme alone") {
        const auto a = must_parse<sip::auth_value>("Negotiate");
        CHECK(a.scheme == "Negotiate");
        CHECK(a.token68.empty());
        CHECK(a.params.raw.empty());
    }
    SECTION("unknown scheme with auth-params (RFC 4475 regaut01)") {
        const auto a = must_parse<sip::auth_value>(R"(NoOneKnowsThisScheme opaque-data=here, title="Login to \"apps\"")");
        CHECK(a.scheme == "NoOneKnowsThisScheme");
        CHECK(a.params.get("opaque-data") == "here");
        CHECK(a.params.get("title") == R"(Login to \"apps\")");
    }
    SECTION("errors") {
        check_bad<sip::auth_value>({
            {"", sip::errc::bad_header_value, 0},
            {R"(Digest realm="x)", sip::errc::unterminated_quote, 13},
            {R"(Digest realm="x" nonce="y")", sip::errc::bad_param, 17},
            {"Digest =x", sip::errc::bad_param, 7},
            {R"(Digest, realm="x")", sip::errc::bad_header_value, 6},
            {R"(Digest realm="x", nonce)", sip::errc::bad_param, 23},
        });
    }
}

// ---- Reason, Session-Expires, Event, tokens ------------------------------------------------------------

TEST_CASE("Reason (RFC 3326)", "[sip][headers][reason]") {
    auto r = must_parse<sip::reason>(R"(SIP;cause=200;text="Call completed elsewhere")");
    CHECK(r.protocol == "SIP");
    CHECK(r.cause == 200);
    CHECK(r.text == R"("Call completed elsewhere")");
    r = must_parse<sip::reason>(R"(Q.850 ; cause = 16 ; text = "Terminated")");
    CHECK(r.protocol == "Q.850");
    CHECK(r.cause == 16);
    CHECK(r.text == R"("Terminated")");
    r = must_parse<sip::reason>("SIP");
    CHECK(r.cause == -1);
    CHECK(r.text.empty());
    r = must_parse<sip::reason>("preemption;cause=1;text=UA-preemption;x=y");
    CHECK(r.protocol == "preemption");
    CHECK(r.text == "UA-preemption");
    CHECK(r.params.get("x") == "y");
    check_bad<sip::reason>({
        {"SIP;cause=abc", sip::errc::bad_param, 4},
        {"SIP;cause", sip::errc::bad_param, 4},
        {"SIP;cause=65536", sip::errc::bad_param, 4},
        {";cause=1", sip::errc::bad_header_value, 0},
        {"SIP cause=1", sip::errc::bad_header_value, 4},
        {R"(SIP;text="open)", sip::errc::unterminated_quote, 9},
    });
}

TEST_CASE("Session-Expires (RFC 4028)", "[sip][headers][session_expires]") {
    auto s = must_parse<sip::session_expires>("1800;refresher=uac");
    CHECK(s.delta == 1800);
    CHECK(s.refresher == "uac");
    s = must_parse<sip::session_expires>(" 90 ; refresher = UAS ; x=1");
    CHECK(s.delta == 90);
    CHECK(s.refresher == "UAS");
    CHECK(s.params.get("x") == "1");
    s = must_parse<sip::session_expires>("4294967295");
    CHECK(s.delta == 4294967295U);
    CHECK(s.refresher.empty());
    check_bad<sip::session_expires>({
        {"1800;refresher=foo", sip::errc::bad_param, 5},
        {"1800;refresher", sip::errc::bad_param, 5},
        {"abc", sip::errc::bad_number, 0},
        {"-1", sip::errc::bad_number, 0},
        {"4294967296", sip::errc::number_too_large, 0},
        {"", sip::errc::bad_header_value, 0},
        {"1800 x", sip::errc::bad_header_value, 5},
    });
}

TEST_CASE("Event (RFC 6665)", "[sip][headers][event]") {
    auto e = must_parse<sip::event>("refer;id=93809824");
    CHECK(e.package == "refer");
    CHECK(e.id == "93809824");
    e = must_parse<sip::event>("presence");
    CHECK(e.package == "presence");
    CHECK(e.id.empty());
    CHECK(must_parse<sip::event>("message-summary").package == "message-summary");
    CHECK(must_parse<sip::event>("presence.winfo ; id = 7").id == "7");
    check_bad<sip::event>({
        {"", sip::errc::bad_header_value, 0},
        {"a b", sip::errc::bad_header_value, 2},
        {"refer;id=", sip::errc::bad_param, 9},
    });
}

TEST_CASE("Subscription-State (RFC 6665)", "[sip][headers][subscription_state]") {
    auto st = must_parse<sip::subscription_state>("active;expires=60");
    CHECK(st.state == "active");
    CHECK_FALSE(st.terminated());
    CHECK(st.has_expires());
    CHECK(st.expires == 60);
    st = must_parse<sip::subscription_state>("Terminated ; reason=noresource;retry-after=30");
    CHECK(st.terminated());
    CHECK(st.reason == "noresource");
    CHECK_FALSE(st.has_expires());
    CHECK(st.params.get("retry-after") == "30");
    st = must_parse<sip::subscription_state>("pending;EXPIRES=4294967295");
    CHECK(st.state == "pending");
    CHECK(st.expires == 4294967295U);
    CHECK(must_parse<sip::subscription_state>("active;expires=1;expires=2").expires == 1);  // the first counts
    check_bad<sip::subscription_state>({
        {"", sip::errc::bad_header_value, 0},
        {"active;expires=abc", sip::errc::bad_number, 7},
        {"active;expires", sip::errc::bad_number, 7},
        {"active;expires=4294967296", sip::errc::number_too_large, 7},
        {"active;expires=", sip::errc::bad_param, 15},
        {"a b", sip::errc::bad_header_value, 2},
    });
}

TEST_CASE("token elements", "[sip][headers][token]") {
    CHECK(must_parse<sip::token>("timer").text == "timer");
    CHECK(must_parse<sip::token>("  100rel  ").text == "100rel");
    CHECK(must_parse<sip::token>("INVITE").text == "INVITE");
    check_bad<sip::token>({
        {"", sip::errc::bad_header_value, 0},
        {"   ", sip::errc::bad_header_value, 3},
        {"a b", sip::errc::bad_header_value, 0},
        {"a,b", sip::errc::bad_header_value, 0},
        {" a;b", sip::errc::bad_header_value, 1},
    });
}

// ---- scalars -------------------------------------------------------------------------------------------

TEST_CASE("parse_number: limits, leading zeros, signs", "[sip][headers][number]") {
    auto number = [](std::string_view text, std::uint32_t max) {
        std::uint32_t v = 12345;
        const sip::error e = sip::parse_number(text, max, v);
        INFO(text << " max " << max << ": " << sip::describe(e.code));
        REQUIRE_FALSE(e.failed());
        return v;
    };
    auto fails = [](std::string_view text, std::uint32_t max) {
        std::uint32_t v = 0;
        return sip::parse_number(text, max, v);
    };
    CHECK(number("0", sip::max_max_forwards) == 0);
    CHECK(number("70", sip::max_max_forwards) == 70);
    CHECK(number("255", sip::max_max_forwards) == 255);
    CHECK(number("000070", sip::max_max_forwards) == 70);
    CHECK(number(" 42 ", sip::max_delta_seconds) == 42);
    CHECK(number("4294967295", sip::max_delta_seconds) == 4294967295U);
    CHECK(number("0004294967295", sip::max_delta_seconds) == 4294967295U);
    CHECK(number("2147483647", sip::max_cseq) == 2147483647U);

    const sip::error over = fails("256", sip::max_max_forwards);
    CHECK(over.code == sip::errc::number_too_large);
    CHECK(over.offset == 0);
    CHECK(fails("4294967296", sip::max_delta_seconds).code == sip::errc::number_too_large);
    CHECK(fails("99999999999999999999999999", sip::max_delta_seconds).code == sip::errc::number_too_large);
    CHECK(fails("2147483648", sip::max_cseq).code == sip::errc::number_too_large);
    const sip::error negative = fails(" -1", sip::max_delta_seconds);
    CHECK(negative.code == sip::errc::bad_number);
    CHECK(negative.offset == 1);
    CHECK(fails("+1", sip::max_delta_seconds).code == sip::errc::bad_number);
    CHECK(fails("", sip::max_delta_seconds).code == sip::errc::bad_number);
    CHECK(fails("4 2", sip::max_delta_seconds).code == sip::errc::bad_number);
    CHECK(fails("0x10", sip::max_delta_seconds).code == sip::errc::bad_number);
    CHECK(fails("1.5", sip::max_delta_seconds).code == sip::errc::bad_number);
}

TEST_CASE("parse_date: RFC 1123 dates in GMT", "[sip][headers][date]") {
    auto date = [](std::string_view text) {
        std::int64_t t = -12345;
        const sip::error e = sip::parse_date(text, t);
        INFO(text << ": " << sip::describe(e.code));
        REQUIRE_FALSE(e.failed());
        return t;
    };
    CHECK(date("Sat, 13 Nov 2010 23:29:00 GMT") == 1289690940);
    CHECK(date("Thu, 21 Feb 2002 13:02:03 GMT") == 1014296523);  // RFC 3261 §20.17
    CHECK(date("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
    CHECK(date("Wed, 31 Dec 1969 23:59:59 GMT") == -1);
    CHECK(date("Sat, 29 Feb 2020 12:00:00 GMT") == 1582977600);
    CHECK(date("Wed, 01 Mar 2000 00:00:00 GMT") == 951868800);
    CHECK(date("Tue, 19 Jan 2038 03:14:08 GMT") == 2147483648LL);
    CHECK(date("Mon, 01 Mar 2100 00:00:00 GMT") == 4107542400LL);
    CHECK(date("  Sat, 13 Nov 2010 23:29:00 GMT  ") == 1289690940);

    for (std::string_view bad : {
             "Sat, 13 Nov 2010 23:29:00 PST",
             "Fri, 01 Jan 2010 16:00:00 EST",  // RFC 4475 baddate
             "Sat, 13 Nov 2010 23:29:00 +0000",
             "Sat, 13 Nov 2010 23:29:00 gmt",
             "13 Nov 2010 23:29:00 GMT",
             "Sat 13 Nov 2010 23:29:00 GMT",
             "Sat, 13 Nov 10 23:29:00 GMT",
             "Sat, 3 Nov 2010 23:29:00 GMT",
             "Sat, 13 Foo 2010 23:29:00 GMT",
             "Sat, 13 nov 2010 23:29:00 GMT",
             "Xyz, 13 Nov 2010 23:29:00 GMT",
             "Sat, 32 Nov 2010 23:29:00 GMT",
             "Sat, 00 Nov 2010 23:29:00 GMT",
             "Sat, 13 Nov 2010 24:00:00 GMT",
             "Sat, 13 Nov 2010 23:60:00 GMT",
             "Sat, 13 Nov 2010 23:29:61 GMT",
             "Sat, 13 Nov 2010 23-29-00 GMT",
             "Sat, 1x Nov 2010 23:29:00 GMT",
             "",
         }) {
        INFO(bad);
        std::int64_t t = 0;
        const sip::error e = sip::parse_date(bad, t);
        CHECK(e.code == sip::errc::bad_date);
    }
    std::int64_t t = 0;
    CHECK(sip::parse_date("  Sat, 13 Nov 2010 23:29:00 EST", t).offset == 2);
}

TEST_CASE("parse_call_id", "[sip][headers][call_id]") {
    for (std::string_view good : {"f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com", "a84b4c76e66710",
                                  "a84b4c76e66710@pc33.atlanta.com", " abc@def ", "()<>:\\\"/[]?{}@x",
                                  "-.!%*_+`'~@[2001:db8::1]"}) {
        INFO(good);
        CHECK_FALSE(sip::parse_call_id(good).failed());
    }
    struct row {
        std::string_view text;
        std::uint32_t offset;
    };
    for (const row& r : {row{"", 0}, row{"   ", 3}, row{"a@", 2}, row{"@b", 0}, row{"a b", 0}, row{"a@b@c", 2},
                         row{" a@b c", 3}, row{"a;b", 0}, row{"a,b", 0}}) {
        INFO(r.text);
        const sip::error e = sip::parse_call_id(r.text);
        CHECK(e.code == sip::errc::bad_header_value);
        CHECK(e.offset == r.offset);
    }
}

// result<T> default-initializes the view types that declare initialized_by_default (result.hpp): in
// memory full of garbage, a fresh result must still hold exactly the type's defaults, as the
// accessors' in-place parses expect.
namespace {
template <class T>
struct dirty_result {
    alignas(sip::result<T>) unsigned char raw[sizeof(sip::result<T>)];
    sip::result<T>* r;
    dirty_result() {
        std::memset(raw, 0xA5, sizeof raw);
        // The garbage must reach memory: without this barrier a compiler may drop the memset as a
        // store to an object whose lifetime has not begun (gcc's lifetime DSE).
        asm volatile("" : : "r"(raw) : "memory");
        r = new (raw) sip::result<T>;  // default-initialized, as message::single() and the iterators do
    }
    ~dirty_result() { r->~result(); }
    dirty_result(const dirty_result&) = delete;
    dirty_result& operator=(const dirty_result&) = delete;
    const T& operator*() const { return **r; }
};

bool fresh(std::string_view v) { return v.data() == nullptr && v.empty(); }
bool fresh(const sip::param_list& p, sip::param_syntax syntax) { return fresh(p.raw()) && p.syntax() == syntax; }
bool fresh(const sip::uri& u) {
    return u.scheme == sip::uri_scheme::other && fresh(u.scheme_name) && fresh(u.user) && fresh(u.password) &&
           !u.has_user && !u.has_password && fresh(u.host) && u.host_kind == sip::host_type::none && u.port == 0 &&
           !u.has_port && fresh(u.params, sip::param_syntax::uri) && fresh(u.headers) && fresh(u.opaque) && fresh(u.text);
}
bool fresh(const sip::name_addr& a) {
    return fresh(a.display_name) && !a.quoted_display_name && !a.angle_brackets && fresh(a.address) &&
           fresh(a.params, sip::param_syntax::header) && fresh(a.text) && fresh(a.tag_value);
}
}  // namespace

TEST_CASE("a fresh result of a view type holds the type's defaults whatever the memory held") {
    STATIC_REQUIRE(sipvoice::initialized_by_default<sip::uri>);
    STATIC_REQUIRE(sipvoice::initialized_by_default<sip::name_addr>);
    STATIC_REQUIRE(sipvoice::initialized_by_default<sip::via>);
    STATIC_REQUIRE(sipvoice::initialized_by_default<sip::contact>);
    STATIC_REQUIRE(sipvoice::initialized_by_default<sip::auth_value>);
    STATIC_REQUIRE(sipvoice::initialized_by_default<sip::media_type>);
    STATIC_REQUIRE(sipvoice::initialized_by_default<sip::message>);
    {
        const dirty_result<sip::uri> r;
        CHECK(r.r->has_value());
        CHECK(fresh(*r));
    }
    {
        const dirty_result<sip::name_addr> r;
        CHECK(r.r->has_value());
        CHECK(fresh(*r));
    }
    {
        const dirty_result<sip::contact> r;
        CHECK(r.r->has_value());
        CHECK((!(*r).star && fresh((*r).address) && (*r).expires == 0 && !(*r).has_expires() && (*r).q == -1));
    }
    {
        const dirty_result<sip::via> r;
        const sip::via& v = *r;
        CHECK(r.r->has_value());
        CHECK((fresh(v.protocol_name) && fresh(v.protocol_version) && fresh(v.transport) && fresh(v.host) &&
               v.host_kind == sip::host_type::none && v.port == 0 && !v.has_port && fresh(v.branch) &&
               fresh(v.received) && fresh(v.maddr) && !v.has_rport && v.rport == 0 && v.ttl == -1 &&
               fresh(v.params, sip::param_syntax::header)));
    }
    {
        const dirty_result<sip::auth_value> r;
        const sip::auth_value& a = *r;
        CHECK(r.r->has_value());
        CHECK((fresh(a.scheme) && fresh(a.params.raw) && a.params.index_size == 0 && a.params.indexed_text == nullptr &&
               a.params.indexed_length == 0 && !a.params.indexed() && fresh(a.token68)));
        for (const auto& e : a.params.index) CHECK((e.name_at == 0 && e.name_length == 0 && e.value_at == 0 && e.value_length == 0));
    }
    {
        const dirty_result<sip::media_type> r;
        CHECK(r.r->has_value());
        CHECK((fresh((*r).type) && fresh((*r).subtype) && fresh((*r).params, sip::param_syntax::header)));
    }
    {
        const dirty_result<sip::message> r;
        const sip::message& m = *r;
        CHECK(r.r->has_value());
        CHECK((m.bytes().empty() && m.fields().empty() && m.status() == 0 && m.is_request() &&
               m.method() == sip::method::other && m.method_name().empty() && fresh(m.request_uri()) &&
               m.body().empty() && m.trailing_bytes() == 0 && m.version().empty() && m.reason_phrase().empty()));
        for (std::size_t id = 0; id < sip::header_id_count; ++id) CHECK_FALSE(m.has(static_cast<sip::header_id>(id)));
    }
}
