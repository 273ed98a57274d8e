// transport/stun: Binding requests built and responses read (RFC 5389), for UDP keep-alives.
#include <catch2/catch.hpp>

#include <string>

#include "sipvoice/transport/stun.hpp"

using namespace sipvoice::transport;

namespace {
const stun::transaction_id id{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

std::string bytes(std::initializer_list<int> b) {
    std::string s;
    for (int v : b) s.push_back(static_cast<char>(v));
    return s;
}
}  // namespace

TEST_CASE("stun: a Binding request is a 20-byte header with the cookie and the transaction id", "[stun]") {
    const std::string r = stun::binding_request(id);
    REQUIRE(r.size() == 20);
    CHECK(r.substr(0, 8) == bytes({0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42}));
    CHECK(r.substr(8) == bytes({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
    CHECK(stun::is_stun(r));
    CHECK_FALSE(stun::read_response(r));  // a request, not a response
    CHECK_FALSE(stun::is_stun("OPTIONS sip:a@b SIP/2.0\r\n\r\n"));
    CHECK_FALSE(stun::is_stun(r.substr(0, 19)));
}

TEST_CASE("stun: success responses give the mapped address, IPv4 and IPv6, XORed as RFC 5389 says", "[stun]") {
    const endpoint v4{asio::ip::make_address("192.0.2.1"), 32853};
    const std::string s = stun::binding_success(id, v4);
    // RFC 5389 §15.2: port 32853 ^ 0x2112 = 0xa147; 192.0.2.1 ^ 0x2112a442 = 0xe112a643.
    CHECK(s.substr(20) == bytes({0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43}));
    auto r = stun::read_response(s);
    REQUIRE(r);
    CHECK(r->success);
    CHECK(r->id == id);
    REQUIRE(r->mapped);
    CHECK(*r->mapped == v4);

    const endpoint v6{asio::ip::make_address("2001:db8:1234:5678:11:2233:4455:6677"), 5060};
    r = stun::read_response(stun::binding_success(id, v6));
    REQUIRE(r);
    REQUIRE(r->mapped);
    CHECK(*r->mapped == v6);
}

TEST_CASE("stun: MAPPED-ADDRESS when there is no XOR-MAPPED-ADDRESS, error codes, unknown attributes skipped", "[stun]") {
    // A success with an unknown attribute (3 bytes, padded) and then a plain MAPPED-ADDRESS.
    std::string s = bytes({0x01, 0x01, 0x00, 0x14, 0x21, 0x12, 0xa4, 0x42}) + stun::binding_request(id).substr(8);
    s += bytes({0x80, 0x22, 0x00, 0x03, 'a', 'b', 'c', 0});
    s += bytes({0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x13, 0xc4, 203, 0, 113, 5});
    auto r = stun::read_response(s);
    REQUIRE(r);
    REQUIRE(r->mapped);
    CHECK(*r->mapped == endpoint{asio::ip::make_address("203.0.113.5"), 5060});

    // An error response: 420 Unknown Attribute.
    std::string e = bytes({0x01, 0x11, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42}) + stun::binding_request(id).substr(8);
    e += bytes({0x00, 0x09, 0x00, 0x04, 0x00, 0x00, 0x04, 20});
    r = stun::read_response(e);
    REQUIRE(r);
    CHECK_FALSE(r->success);
    CHECK(r->error_code == 420);
    CHECK_FALSE(r->mapped);
}

TEST_CASE("stun: malformed responses are refused", "[stun]") {
    const std::string good = stun::binding_success(id, {asio::ip::make_address("192.0.2.1"), 1});
    // A length that disagrees with the datagram.
    CHECK_FALSE(stun::read_response(good.substr(0, good.size() - 4)));
    // An attribute whose length runs past the end.
    std::string past = good;
    past[23] = 0x40;
    CHECK_FALSE(stun::read_response(past));
    // A bad address family.
    std::string family = good;
    family[25] = 0x03;
    CHECK_FALSE(stun::read_response(family));
    // No magic cookie (an RFC 3489 server): not taken for this protocol.
    std::string old = good;
    old[4] = 0;
    CHECK_FALSE(stun::is_stun(old));
    CHECK_FALSE(stun::read_response(old));
}

TEST_CASE("stun: the RFC 5769 §2.3 IPv6 response's XOR-MAPPED-ADDRESS (the transaction id in the XOR)", "[stun]") {
    const stun::transaction_id tid{0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
    std::string s = bytes({0x01, 0x01, 0x00, 0x18, 0x21, 0x12, 0xa4, 0x42});
    s.append(reinterpret_cast<const char*>(tid.data()), tid.size());
    s += bytes({0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79,
                0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9});
    auto r = stun::read_response(s);
    REQUIRE(r);
    REQUIRE(r->mapped);
    CHECK(*r->mapped == endpoint{asio::ip::make_address("2001:db8:1234:5678:11:2233:4455:6677"), 32853});
    CHECK(stun::binding_success(tid, *r->mapped) == s);
}
