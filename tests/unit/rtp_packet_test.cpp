#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "sipvoice/rtp/packet.hpp"

namespace rtp = sipvoice::rtp;

namespace {

using bytes = std::vector<std::uint8_t>;

bytes build(const rtp::packet& p) {
    auto b = rtp::build_packet(p);
    REQUIRE(b.has_value());
    return *b;
}

rtp::errc parse_error(const bytes& b, rtp::parse_options o = {}) {
    auto p = rtp::parse_packet(b, o);
    REQUIRE_FALSE(p.has_value());
    return p.error().code;
}

}  // namespace

TEST_CASE("rtp packet: minimal header, written and read field by field", "[rtp][packet]") {
    const bytes payload{0xde, 0xad, 0xbe, 0xef};
    rtp::packet p;
    p.marker = true;
    p.payload_type = 0;
    p.sequence = 0x1234;
    p.timestamp = 0x89abcdef;
    p.ssrc = 0x01020304;
    p.payload = payload;
    const bytes wire = build(p);
    // RFC 3550 §5.1: V=2 P=0 X=0 CC=0 | M=1 PT=0 | seq | timestamp | SSRC | payload
    const bytes expected{0x80, 0x80, 0x12, 0x34, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x02, 0x03, 0x04, 0xde, 0xad, 0xbe, 0xef};
    CHECK(wire == expected);
    CHECK(p.size() == wire.size());

    auto back = rtp::parse_packet(wire);
    REQUIRE(back.has_value());
    CHECK(*back == p);
    CHECK(back->marker);
    CHECK(back->sequence == 0x1234);
    CHECK(back->timestamp == 0x89abcdef);
    CHECK(back->ssrc == 0x01020304);
    CHECK(back->csrc().empty());
    CHECK_FALSE(back->has_extension);
    CHECK(back->padding == 0);
    // Zero-copy: the payload is a view into the parsed bytes.
    CHECK(back->payload.data() == wire.data() + 12);
    CHECK(back->payload.size() == 4);
}

TEST_CASE("rtp packet: CSRC list, header extension and padding round trip", "[rtp][packet]") {
    const bytes payload{1, 2, 3, 4, 5};
    const bytes ext{0x10, 0xaa, 0x00, 0x00, 0x21, 0xbb, 0xcc, 0x00};  // two RFC 8285 one-byte elements
    rtp::packet p;
    p.payload_type = 111;
    p.sequence = 65535;
    p.timestamp = 0xffffffff;
    p.ssrc = 0xcafebabe;
    p.csrc_count = 3;
    p.csrcs[0] = 0x11111111;
    p.csrcs[1] = 0x22222222;
    p.csrcs[2] = 0x33333333;
    p.has_extension = true;
    p.extension.profile = 0xbede;
    p.extension.data = ext;
    p.payload = payload;
    p.padding = 3;
    const bytes wire = build(p);
    REQUIRE(wire.size() == 12 + 12 + 4 + 8 + 5 + 3);
    CHECK(wire[0] == (0x80 | 0x20 | 0x10 | 3));  // V=2, P, X, CC=3
    CHECK(wire[1] == 111);
    CHECK(wire[24] == 0xbe);
    CHECK(wire[25] == 0xde);
    CHECK(wire[26] == 0x00);
    CHECK(wire[27] == 0x02);  // extension length in 32-bit words
    CHECK(wire[wire.size() - 1] == 3);
    CHECK(wire[wire.size() - 2] == 0);

    auto back = rtp::parse_packet(wire);
    REQUIRE(back.has_value());
    CHECK(*back == p);
    REQUIRE(back->csrc().size() == 3);
    CHECK(back->csrc()[2] == 0x33333333);
    CHECK(back->extension.profile == 0xbede);
    CHECK(bytes(back->extension.data.begin(), back->extension.data.end()) == ext);
    CHECK(bytes(back->payload.begin(), back->payload.end()) == payload);
    CHECK(back->padding == 3);

    // Written again, the same bytes.
    CHECK(build(*back) == wire);
}

TEST_CASE("rtp packet: empty payload, empty extension and padding-only packets", "[rtp][packet]") {
    rtp::packet p;
    p.payload_type = 13;
    p.ssrc = 7;
    p.has_extension = true;  // an extension header with no data words
    p.padding = 4;           // a packet that is only padding after the header (RFC 3550 §5.1 allows it)
    const bytes wire = build(p);
    CHECK(wire.size() == 12 + 4 + 4);
    auto back = rtp::parse_packet(wire);
    REQUIRE(back.has_value());
    CHECK(*back == p);
    CHECK(back->payload.empty());
    CHECK(back->extension.data.empty());
}

TEST_CASE("rtp packet: malformed packets are rejected (RFC 3550 A.1)", "[rtp][packet]") {
    const bytes good{0x80, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9, 0xff};
    REQUIRE(rtp::parse_packet(good).has_value());

    SECTION("shorter than the fixed header") {
        for (std::size_t n = 0; n < 12; ++n) CHECK(parse_error(bytes(good.begin(), good.begin() + n)) == rtp::errc::truncated);
    }
    SECTION("version other than 2") {
        for (std::uint8_t v : {0x00, 0x40, 0xc0}) {
            bytes b = good;
            b[0] = v;
            CHECK(parse_error(b) == rtp::errc::bad_version);
        }
    }
    SECTION("CSRC count beyond the packet") {
        bytes b = good;
        b[0] = 0x82;  // two CSRCs: 8 octets, only 1 left
        CHECK(parse_error(b) == rtp::errc::truncated);
    }
    SECTION("extension header or data beyond the packet") {
        bytes b{0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde};
        CHECK(parse_error(b) == rtp::errc::truncated);
        b = {0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0x00, 0x02, 1, 2, 3, 4};
        CHECK(parse_error(b) == rtp::errc::truncated);  // says 2 words, has 1
    }
    SECTION("padding count of zero or beyond the payload") {
        bytes b = good;
        b[0] = 0xa0;
        b.back() = 0;
        CHECK(parse_error(b) == rtp::errc::bad_padding);
        b.back() = 2;  // only one octet follows the header
        CHECK(parse_error(b) == rtp::errc::bad_padding);
        b.back() = 1;  // the count octet alone: fine
        CHECK(rtp::parse_packet(b).has_value());
    }
    SECTION("marker and payload type that read as RTCP SR/RR (RFC 5761 §4)") {
        for (std::uint8_t second : {200, 201, 202, 203, 204}) {
            bytes b = good;
            b[1] = second;
            CHECK(parse_error(b) == rtp::errc::rtcp_payload_type);
            CHECK(rtp::parse_packet(b, {.allow_rtcp_payload_types = true}).has_value());
        }
        bytes b = good;
        b[1] = 0xc8 - 1;  // M=1 PT=71: fine
        CHECK(rtp::parse_packet(b).has_value());
    }
}

TEST_CASE("rtp packet: every truncation of a valid packet fails cleanly or parses inside it", "[rtp][packet]") {
    const bytes ext{9, 9, 9, 9};
    const bytes payload{1, 2, 3, 4, 5, 6, 7};
    rtp::packet p;
    p.csrc_count = 2;
    p.has_extension = true;
    p.extension.data = ext;
    p.payload = payload;
    p.padding = 2;
    const bytes wire = build(p);
    for (std::size_t n = 0; n < wire.size(); ++n) {
        const bytes cut(wire.begin(), wire.begin() + n);
        auto r = rtp::parse_packet(cut);
        if (r) CHECK(r->size() == n);
    }
}

TEST_CASE("rtp packet: the writer refuses what the header cannot carry", "[rtp][packet]") {
    const bytes odd{1, 2, 3};
    rtp::packet p;
    std::vector<std::uint8_t> out(64);
    p.payload_type = 128;
    CHECK(rtp::write_packet(p, out).error().code == rtp::errc::bad_payload_type);
    p.payload_type = 0;
    p.csrc_count = 16;
    CHECK(rtp::write_packet(p, out).error().code == rtp::errc::too_many);
    p.csrc_count = 0;
    p.has_extension = true;
    p.extension.data = odd;
    CHECK(rtp::write_packet(p, out).error().code == rtp::errc::bad_alignment);
    p.has_extension = false;
    std::vector<std::uint8_t> tiny(11);
    CHECK(rtp::write_packet(p, tiny).error().code == rtp::errc::buffer_too_small);
    auto n = rtp::write_packet(p, out);
    REQUIRE(n.has_value());
    CHECK(*n == 12);
}

TEST_CASE("rtp packet: RTP/RTCP demultiplexing on one port (RFC 5761 §4)", "[rtp][packet]") {
    CHECK(rtp::looks_like_rtcp(bytes{0x80, 200, 0, 6}));      // SR
    CHECK(rtp::looks_like_rtcp(bytes{0x81, 201, 0, 7}));      // RR
    CHECK(rtp::looks_like_rtcp(bytes{0x80, 223}));            // the reserved end of the range
    CHECK_FALSE(rtp::looks_like_rtcp(bytes{0x80, 0, 0, 1}));  // PCMU
    CHECK_FALSE(rtp::looks_like_rtcp(bytes{0x80, 0x80 | 111}));  // Opus with marker
    CHECK_FALSE(rtp::looks_like_rtcp(bytes{0x00, 200}));      // not version 2 (STUN, DTLS...)
    CHECK_FALSE(rtp::looks_like_rtcp(bytes{0x80}));
}
