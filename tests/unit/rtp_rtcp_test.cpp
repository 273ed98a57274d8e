#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "sipvoice/rtp/rtcp.hpp"

namespace rtp = sipvoice::rtp;

namespace {

using bytes = std::vector<std::uint8_t>;

bytes build(const std::vector<rtp::rtcp_packet>& c) {
    auto b = rtp::build_rtcp(c);
    REQUIRE(b.has_value());
    return *b;
}

std::vector<rtp::rtcp_packet> parse(const bytes& b, rtp::rtcp_parse_options o = {}) {
    auto c = rtp::parse_rtcp(b, o);
    INFO("error " << (c ? "none" : std::string(rtp::describe(c.error().code))) << " at " << c.error().offset);
    REQUIRE(c.has_value());
    return *c;
}

rtp::errc parse_error(const bytes& b, rtp::rtcp_parse_options o = {}) {
    auto c = rtp::parse_rtcp(b, o);
    REQUIRE_FALSE(c.has_value());
    return c.error().code;
}

rtp::report_block block(std::uint32_t ssrc, std::int32_t lost) {
    return {ssrc, 25, lost, 0x0001fff0, 37, 0xb7052000, 0x00054000};
}

}  // namespace

TEST_CASE("rtcp: SR with report blocks and SDES CNAME round trip", "[rtp][rtcp]") {
    const std::string cname = "alice@192.0.2.1";
    rtp::sender_report sr;
    sr.ssrc = 0x11223344;
    sr.info = {0xe1b2c3d4'80000000ULL, 123456, 250, 40000};
    sr.reports = {block(0xaaaa0001, 12), block(0xaaaa0002, -3)};
    rtp::source_description sd;
    sd.chunks.push_back({0x11223344, {{rtp::sdes_cname, cname}, {rtp::sdes_tool, "sipvoice"}}});
    const std::vector<rtp::rtcp_packet> in{sr, sd};

    const bytes wire = build(in);
    REQUIRE(wire.size() == rtp::rtcp_size(in));
    // SR: V=2 RC=2, PT=200, length = (4 + 24 + 48) / 4 - 1 = 18 words.
    CHECK(wire[0] == 0x82);
    CHECK(wire[1] == 200);
    CHECK(wire[2] == 0);
    CHECK(wire[3] == 18);
    // SDES follows at octet 76: V=2 SC=1, PT=202.
    CHECK(wire[76] == 0x81);
    CHECK(wire[77] == 202);
    CHECK(wire.size() % 4 == 0);

    const auto out = parse(wire);
    REQUIRE(out.size() == 2);
    CHECK(out == in);
    const auto* back = std::get_if<rtp::sender_report>(&out[0]);
    REQUIRE(back);
    CHECK(back->info.ntp_timestamp == 0xe1b2c3d4'80000000ULL);
    CHECK(back->reports[1].cumulative_lost == -3);
    const auto* desc = std::get_if<rtp::source_description>(&out[1]);
    REQUIRE(desc);
    CHECK(desc->chunks[0].cname() == cname);
    CHECK(build(out) == wire);
}

TEST_CASE("rtcp: RR, SDES with several chunks, BYE with reason, APP and unknown types round trip", "[rtp][rtcp]") {
    const bytes app_data{1, 2, 3, 4, 5, 6, 7, 8};
    const bytes fb_body{0, 0, 0, 1, 0, 0, 0, 2};
    std::vector<rtp::rtcp_packet> in;
    in.emplace_back(rtp::receiver_report{0x01010101, {block(0x02020202, 0)}, {}});
    rtp::source_description sd;
    sd.chunks.push_back({0x01010101, {{rtp::sdes_cname, "abcd"}}});  // 4+2+4 = 10, padded with 2 nulls
    sd.chunks.push_back({0x03030303, {{rtp::sdes_cname, "xy"}, {rtp::sdes_name, "Bob"}}});  // 4+4+5 = 13, 3 nulls
    sd.chunks.push_back({0x04040404, {}});  // no items: four null octets
    sd.chunks.push_back({0x05050505, {{rtp::sdes_note, "ab"}}});  // 4+4 = 8: aligned, needs 4 nulls
    in.emplace_back(sd);
    in.emplace_back(rtp::goodbye{{0x01010101, 0x03030303}, "call ended"});
    in.emplace_back(rtp::app_packet{5, 0x01010101, {'S', 'V', 'O', 'X'}, app_data});
    in.emplace_back(rtp::other_packet{205, 1, fb_body});  // RTPFB generic NACK (RFC 4585), kept raw
    in.emplace_back(rtp::goodbye{{0x09}, {}});

    const bytes wire = build(in);
    CHECK(wire.size() == rtp::rtcp_size(in));
    const auto out = parse(wire);
    CHECK(out == in);
    CHECK(build(out) == wire);
    const auto* bye = std::get_if<rtp::goodbye>(&out[2]);
    REQUIRE(bye);
    CHECK(bye->reason == "call ended");
    // The reason is a view into the datagram.
    CHECK(reinterpret_cast<const std::uint8_t*>(bye->reason.data()) > wire.data());
}

TEST_CASE("rtcp: a hand-written receiver report reads as RFC 3550 §6.4.2 lays it out", "[rtp][rtcp]") {
    const bytes wire{
        0x81, 201, 0x00, 0x07,   // V=2 RC=1 RR, length 7 words
        0xde, 0xad, 0xbe, 0xef,  // reporter SSRC
        0x12, 0x34, 0x56, 0x78,  // reportee SSRC
        0x40,                    // fraction lost 64/256
        0xff, 0xff, 0xfe,        // cumulative lost -2 (duplicates)
        0x00, 0x03, 0x00, 0x10,  // extended highest sequence: 3 cycles, seq 16
        0x00, 0x00, 0x01, 0x00,  // jitter 256
        0xb7, 0x05, 0x20, 0x00,  // LSR
        0x00, 0x05, 0x40, 0x00,  // DLSR 5.25 s
    };
    const auto c = parse(wire);
    REQUIRE(c.size() == 1);
    const auto* rr = std::get_if<rtp::receiver_report>(&c[0]);
    REQUIRE(rr);
    CHECK(rr->ssrc == 0xdeadbeef);
    REQUIRE(rr->reports.size() == 1);
    const rtp::report_block& b = rr->reports[0];
    CHECK(b.ssrc == 0x12345678);
    CHECK(b.fraction_lost == 64);
    CHECK(b.cumulative_lost == -2);
    CHECK(b.highest_sequence == 0x00030010);
    CHECK(b.jitter == 256);
    CHECK(b.last_sr == 0xb7052000);
    CHECK(b.delay_since_last_sr == 0x00054000);
    CHECK(rr->extension.empty());
    CHECK(build(c) == wire);
}

TEST_CASE("rtcp: cumulative loss is clamped to 24 signed bits when written", "[rtp][rtcp]") {
    std::vector<rtp::rtcp_packet> in{rtp::receiver_report{1, {block(2, 0x7fffff + 10), block(3, -0x800000 - 10)}, {}}};
    const auto wire = build(in);
    const auto out = parse(wire);
    const auto& rr = std::get<rtp::receiver_report>(out[0]);
    CHECK(rr.reports[0].cumulative_lost == 0x7fffff);
    CHECK(rr.reports[1].cumulative_lost == -0x800000);
}

TEST_CASE("rtcp: compound validity checks of RFC 3550 A.2", "[rtp][rtcp]") {
    const std::vector<rtp::rtcp_packet> good{rtp::receiver_report{1, {}, {}},
                                             rtp::source_description{{{1, {{rtp::sdes_cname, "a"}}}}}};
    const bytes wire = build(good);
    REQUIRE(parse(wire).size() == 2);

    SECTION("too short for a header") { CHECK(parse_error(bytes{0x80, 201}) == rtp::errc::truncated); }
    SECTION("the first packet must be SR or RR, unless reduced-size RTCP is allowed (RFC 5506)") {
        const bytes sdes_only(wire.begin() + 8, wire.end());
        CHECK(parse_error(sdes_only) == rtp::errc::bad_first_packet);
        CHECK(parse(sdes_only, {.allow_reduced_size = true}).size() == 1);
    }
    SECTION("every packet is version 2") {
        bytes b = wire;
        b[8] = 0x41;
        CHECK(parse_error(b) == rtp::errc::bad_version);
    }
    SECTION("lengths add up to the datagram") {
        bytes b = wire;
        b.push_back(0);  // a stray octet after the last packet
        CHECK(parse_error(b) == rtp::errc::truncated);
        b = wire;
        b[3] = 2;  // the RR claims 12 octets: the SDES header lands mid-packet
        CHECK_FALSE(rtp::parse_rtcp(b).has_value());
        b = wire;
        b[11] = 9;  // the SDES claims more than there is
        CHECK(parse_error(b) == rtp::errc::bad_length);
    }
    SECTION("padding only on the last packet, with a sane count") {
        bytes b = wire;
        b[0] |= 0x20;
        CHECK(parse_error(b) == rtp::errc::misplaced_padding);
        // Pad the last packet by 4 octets: the SDES length grows by one word.
        b = wire;
        b[8] |= 0x20;
        b[11] += 1;
        b.insert(b.end(), {0, 0, 0, 4});
        const auto c = parse(b);
        CHECK(c == good);
        b.back() = 0;
        CHECK(parse_error(b) == rtp::errc::bad_padding);
        b.back() = 200;
        CHECK(parse_error(b) == rtp::errc::bad_padding);
    }
    SECTION("report count beyond the length") {
        bytes b = wire;
        b[0] = 0x81;  // RC=1 but the RR has no block
        CHECK(parse_error(b) == rtp::errc::bad_length);
    }
    SECTION("SDES item running past its packet, or without its null terminator") {
        bytes b = wire;
        b[17] = 20;  // the CNAME's length
        CHECK(parse_error(b) == rtp::errc::bad_sdes);
        b = wire;
        b[19] = 5;  // the null that ends the item list replaced by an item type
        CHECK(parse_error(b) == rtp::errc::bad_sdes);
    }
    SECTION("BYE reason running past its packet") {
        const bytes bye_wire = build({rtp::receiver_report{1, {}, {}}, rtp::goodbye{{1}, "bye"}});
        bytes b = bye_wire;
        b[16] = 7;
        CHECK(parse_error(b) == rtp::errc::bad_bye);
    }
}

TEST_CASE("rtcp: the writer refuses what the count and length fields cannot carry", "[rtp][rtcp]") {
    std::vector<std::uint8_t> out(4096);
    rtp::receiver_report rr{1, std::vector<rtp::report_block>(32), {}};
    CHECK(rtp::write_rtcp(std::vector<rtp::rtcp_packet>{rr}, out).error().code == rtp::errc::too_many);
    const std::string long_text(256, 'x');
    rtp::source_description sd{{{1, {{rtp::sdes_cname, long_text}}}}};
    CHECK(rtp::write_rtcp(std::vector<rtp::rtcp_packet>{sd}, out).error().code == rtp::errc::too_long);
    rtp::source_description end_item{{{1, {{rtp::sdes_end, "x"}}}}};
    CHECK(rtp::write_rtcp(std::vector<rtp::rtcp_packet>{end_item}, out).error().code == rtp::errc::bad_sdes);
    const bytes three{1, 2, 3};
    rtp::receiver_report odd{1, {}, three};
    CHECK(rtp::write_rtcp(std::vector<rtp::rtcp_packet>{odd}, out).error().code == rtp::errc::bad_alignment);
    std::vector<std::uint8_t> small(7);
    CHECK(rtp::write_rtcp(std::vector<rtp::rtcp_packet>{rtp::receiver_report{1, {}, {}}}, small).error().code ==
          rtp::errc::buffer_too_small);
}

TEST_CASE("rtcp: NTP time and the round-trip example of RFC 3550 §6.4.1", "[rtp][rtcp]") {
    using namespace std::chrono;
    // The Unix epoch is 2208988800 s after the NTP epoch.
    CHECK(rtp::to_ntp(system_clock::time_point{}) == (2208988800ULL << 32));
    CHECK(rtp::to_ntp(system_clock::time_point{milliseconds{1500}}) == ((2208988801ULL << 32) | 0x80000000ULL));
    CHECK(rtp::ntp_compact(0x0000b710'80000000ULL) == 0xb7108000u);
    CHECK(rtp::compact_to_duration(0x00054000) == microseconds{5'250'000});
    CHECK(rtp::duration_to_compact(microseconds{5'250'000}) == 0x00054000u);

    // Figure 2 of RFC 3550: A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000 (46853.125 s),
    // DLSR = 0x0005:4000 (5.250 s): RTT = 0x0006:2000 = 6.125 s.
    rtp::report_block b;
    b.last_sr = 0xb7052000;
    b.delay_since_last_sr = 0x00054000;
    const auto rtt = rtp::round_trip_time(0xb7108000, b);
    REQUIRE(rtt);
    CHECK(*rtt == microseconds{6'125'000});
    b.last_sr = 0;  // no SR received yet: no RTT
    CHECK_FALSE(rtp::round_trip_time(0xb7108000, b));
    b.last_sr = 0xb7100000;  // would be negative
    CHECK_FALSE(rtp::round_trip_time(0xb7108000, b));
}
