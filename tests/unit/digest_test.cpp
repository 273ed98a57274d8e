#include <catch2/catch.hpp>

#include <string>

#include "sipvoice/auth/digest.hpp"
#include "sipvoice/sip/message.hpp"

namespace auth = sipvoice::auth;
namespace sip = sipvoice::sip;

namespace {

auth::challenge must_parse(const std::string& header_value, bool proxy = false) {
    sip::auth_value v;
    REQUIRE_FALSE(sip::parse_value(header_value, v).failed());
    auto ch = auth::parse_challenge(v, proxy);
    REQUIRE(ch.has_value());
    return *ch;
}

}  // namespace

TEST_CASE("digest: RFC 2617 §3.5 example (MD5, qop=auth)", "[auth][digest]") {
    const auto ch = must_parse(
        R"(Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41")");
    CHECK(ch.realm == "testrealm@host.com");
    CHECK(ch.qop_auth);
    CHECK(ch.qop_auth_int);
    CHECK(ch.algorithm == auth::algorithm::md5);
    const auth::credentials who{"Mufasa", "Circle Of Life"};
    CHECK(auth::response(ch, who, "GET", "/dir/index.html", "auth", "0a4f113b", 1) ==
          "6629fae49393a05397450978507c4ef1");
}

TEST_CASE("digest: RFC 7616 §3.9.1 examples (MD5 and SHA-256)", "[auth][digest]") {
    const std::string params =
        R"(realm="http-auth@example.org", qop="auth, auth-int", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")";
    const auth::credentials who{"Mufasa", "Circle of Life"};
    const std::string cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    const auto sha = must_parse("Digest " + params + ", algorithm=SHA-256");
    CHECK(sha.algorithm == auth::algorithm::sha256);
    CHECK(auth::response(sha, who, "GET", "/dir/index.html", "auth", cnonce, 1) ==
          "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
    const auto md5 = must_parse("Digest " + params + ", algorithm=MD5");
    CHECK(auth::response(md5, who, "GET", "/dir/index.html", "auth", cnonce, 1) ==
          "8ca523f5e9506fed4657c9700eebdbec");
}

TEST_CASE("digest: hashes of the supported algorithms", "[auth][digest]") {
    CHECK(auth::hash_hex(auth::algorithm::md5, "") == "d41d8cd98f00b204e9800998ecf8427e");
    CHECK(auth::hash_hex(auth::algorithm::sha256, "abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // FIPS 180-4 SHA-512/256 of "abc".
    CHECK(auth::hash_hex(auth::algorithm::sha512_256, "abc") ==
          "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23");
}

TEST_CASE("digest: -sess, auth-int and no-qop responses follow RFC 7616 §3.4", "[auth][digest]") {
    const auth::credentials who{"alice", "secret"};
    auto ch = must_parse(R"(Digest realm="r", nonce="n", algorithm=MD5-sess, qop="auth")");
    CHECK(ch.algorithm == auth::algorithm::md5_sess);
    const std::string ha1 = auth::hash_hex(auth::algorithm::md5, auth::hash_hex(auth::algorithm::md5, "alice:r:secret") + ":n:c");
    const std::string ha2 = auth::hash_hex(auth::algorithm::md5, "REGISTER:sip:example.com");
    CHECK(auth::response(ch, who, "REGISTER", "sip:example.com", "auth", "c", 2) ==
          auth::hash_hex(auth::algorithm::md5, ha1 + ":n:00000002:c:auth:" + ha2));

    auto integrity = must_parse(R"(Digest realm="r", nonce="n", qop="auth-int")");
    const std::string body = "v=0\r\n";
    const std::string ha1i = auth::hash_hex(auth::algorithm::md5, "alice:r:secret");
    const std::string ha2i =
        auth::hash_hex(auth::algorithm::md5, "INVITE:sip:bob@example.com:" + auth::hash_hex(auth::algorithm::md5, body));
    CHECK(auth::response(integrity, who, "INVITE", "sip:bob@example.com", "auth-int", "c", 1, body) ==
          auth::hash_hex(auth::algorithm::md5, ha1i + ":n:00000001:c:auth-int:" + ha2i));

    auto old = must_parse(R"(Digest realm="r", nonce="n")");
    CHECK(auth::response(old, who, "BYE", "sip:b@c", "", "", 0) ==
          auth::hash_hex(auth::algorithm::md5, ha1i + ":n:" + auth::hash_hex(auth::algorithm::md5, "BYE:sip:b@c")));
}

TEST_CASE("digest: the Authorization value carries what the server needs", "[auth][digest]") {
    const auto ch = must_parse(
        R"(Digest realm="asterisk", nonce="1a2b", opaque="o\"q", algorithm=SHA-256, qop="auth")", true);
    CHECK(ch.proxy);
    CHECK(ch.opaque == "o\"q");
    const auth::credentials who{"3cx-auth-id", "pa\"ss"};
    const std::string value = auth::authorization(ch, who, "INVITE", "sip:200@pbx.example.com", "abc", 1);
    CHECK(value.rfind("Digest username=\"3cx-auth-id\", realm=\"asterisk\", nonce=\"1a2b\", "
                      "uri=\"sip:200@pbx.example.com\", response=\"", 0) == 0);
    CHECK(value.find(", algorithm=SHA-256") != std::string::npos);
    CHECK(value.find(", opaque=\"o\\\"q\"") != std::string::npos);
    CHECK(value.find(", cnonce=\"abc\", qop=auth, nc=00000001") != std::string::npos);
    CHECK(value.find("pa\"ss") == std::string::npos);  // the password never leaves
    // The value parses back as credentials with the computed response.
    sip::auth_value parsed;
    REQUIRE_FALSE(sip::parse_value(value, parsed).failed());
    CHECK(parsed.params.get("response") ==
          auth::response(ch, who, "INVITE", "sip:200@pbx.example.com", "auth", "abc", 1));
    CHECK(parsed.params.get("username") == "3cx-auth-id");
}

TEST_CASE("digest: challenges that cannot be answered", "[auth][digest]") {
    auto parse = [](const std::string& text) {
        sip::auth_value v;
        REQUIRE_FALSE(sip::parse_value(text, v).failed());
        return auth::parse_challenge(v, false);
    };
    CHECK(parse(R"(Basic realm="x")").error().code == auth::errc::not_digest);
    CHECK(parse(R"(Digest nonce="n")").error().code == auth::errc::missing_parameter);
    CHECK(parse(R"(Digest realm="r")").error().code == auth::errc::missing_parameter);
    CHECK(parse(R"(Digest realm="r", nonce="n", algorithm=SHA-1)").error().code == auth::errc::unsupported_algorithm);
    CHECK(parse(R"(Digest realm="r", nonce="n", qop="auth-conf")").error().code == auth::errc::unsupported_qop);
    auto stale = parse(R"(Digest realm="r", nonce="n2", stale=TRUE)");
    REQUIRE(stale.has_value());
    CHECK(stale->stale);
}

TEST_CASE("digest: first_supported picks the first challenge it can answer", "[auth][digest]") {
    const std::string wire =
        "SIP/2.0 407 Proxy Authentication Required\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n"
        "Call-ID: x\r\nCSeq: 1 INVITE\r\n"
        "Proxy-Authenticate: Digest realm=\"r\", nonce=\"n1\", algorithm=SHA-1\r\n"
        "Proxy-Authenticate: Digest realm=\"r\", nonce=\"n2\", algorithm=SHA-256, qop=\"auth\"\r\n"
        "Proxy-Authenticate: Digest realm=\"r\", nonce=\"n3\", algorithm=MD5, qop=\"auth\"\r\n"
        "Content-Length: 0\r\n\r\n";
    auto m = sip::message::parse(wire);
    REQUIRE(m.has_value());
    auto ch = auth::first_supported(*m);
    REQUIRE(ch.has_value());
    CHECK(ch->nonce == "n2");
    CHECK(ch->algorithm == auth::algorithm::sha256);
    CHECK(ch->proxy);

    auto none = sip::message::parse(std::string(
        "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
        "To: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\nWWW-Authenticate: Basic realm=\"r\"\r\n"
        "Content-Length: 0\r\n\r\n"));
    REQUIRE(none.has_value());
    CHECK(auth::first_supported(*none).error().code == auth::errc::no_challenge);
}
