// sdp/session_description.hpp: parsing, the canonical serializer, leniency and errors with lines.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "sipvoice/sdp/session_description.hpp"

namespace sdp = sipvoice::sdp;

namespace {

// CRLF line ends from a readable LF-only literal.
std::string crlf(std::string_view lf) {
    std::string out;
    for (char c : lf) {
        if (c == '\n') out += '\r';
        out += c;
    }
    return out;
}

sdp::session_description must_parse(std::string_view text) {
    INFO(text);
    auto r = sdp::parse(text);
    if (!r) INFO("error " << r.error().what() << " at line " << r.error().line);
    REQUIRE(r.has_value());
    return *r;
}

// parse(serialize(d)) == d, and serializing again gives the same bytes.
void check_round_trip(const sdp::session_description& d) {
    const std::string text = sdp::serialize(d);
    INFO(text);
    auto again = sdp::parse(text);
    REQUIRE(again.has_value());
    CHECK(*again == d);
    CHECK(sdp::serialize(*again) == text);
}

const std::string asterisk_offer = crlf(R"(v=0
o=- 1718290551 1718290551 IN IP4 192.168.1.10
s=Asterisk
c=IN IP4 192.168.1.10
t=0 0
m=audio 14582 RTP/AVP 107 0 8 3 101
a=rtpmap:107 opus/48000/2
a=fmtp:107 useinbandfec=1
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:3 GSM/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=maxptime:150
a=sendrecv
)");

}  // namespace

TEST_CASE("sdp: an Asterisk offer parses into its parts", "[sdp][parse]") {
    const auto d = must_parse(asterisk_offer);
    CHECK(d.origin.username == "-");
    CHECK(d.origin.session_id == "1718290551");
    CHECK(d.origin.session_version == 1718290551U);
    CHECK(d.origin.address_type == "IP4");
    CHECK(d.origin.address == "192.168.1.10");
    CHECK(d.name == "Asterisk");
    REQUIRE(d.connection);
    CHECK(d.connection->type == sdp::address_type::ip4);
    CHECK(d.connection->address == "192.168.1.10");
    REQUIRE(d.timings.size() == 1);
    CHECK(d.timings[0].start == 0);
    CHECK(d.timings[0].stop == 0);
    REQUIRE(d.media.size() == 1);
    const sdp::media& m = d.media[0];
    CHECK(m.type == "audio");
    CHECK(m.port == 14582);
    CHECK(m.proto == "RTP/AVP");
    CHECK(m.is_rtp());
    REQUIRE(m.formats.size() == 5);
    CHECK(m.formats[0].payload_type == 107);
    CHECK(m.formats[0].encoding == "opus");
    CHECK(m.formats[0].clock_rate == 48000);
    CHECK(m.formats[0].channels == 2);
    CHECK(m.formats[0].fmtp == "useinbandfec=1");
    CHECK(m.formats[1].encoding == "PCMU");
    CHECK(m.formats[3].encoding == "GSM");
    CHECK(m.formats[4].encoding == "telephone-event");
    CHECK(m.formats[4].fmtp == "0-16");
    CHECK(m.ptime == 20);
    CHECK(m.maxptime == 150);
    REQUIRE(m.direction);
    CHECK(*m.direction == sdp::direction::sendrecv);
    CHECK(m.attributes.empty());
    CHECK(d.direction_of(m) == sdp::direction::sendrecv);
    CHECK(d.connection_of(m) == &*d.connection);
    check_round_trip(d);
}

TEST_CASE("sdp: serialize writes the canonical RFC 8866 order with CRLF", "[sdp][serialize]") {
    // Lines of the session section in a sloppy order, attributes mixed: the output is canonical.
    const auto d = must_parse(crlf(R"(v=0
o=alice 2890844526 2890844527 IN IP4 198.51.100.1
a=tool:baresip 1.1.0
t=0 0
c=IN IP4 198.51.100.1
s=Call
i=A talk
b=AS:128
m=audio 49170 RTP/AVP 0 101
a=label:1
a=rtcp-mux
a=fmtp:101 0-15
a=rtpmap:101 telephone-event/8000
a=sendonly
i=voice
a=ssrc:12345 cname:x
)"));
    CHECK(sdp::serialize(d) == crlf(R"(v=0
o=alice 2890844526 2890844527 IN IP4 198.51.100.1
s=Call
i=A talk
c=IN IP4 198.51.100.1
b=AS:128
t=0 0
a=tool:baresip 1.1.0
m=audio 49170 RTP/AVP 0 101
i=voice
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendonly
a=rtcp-mux
a=label:1
a=ssrc:12345 cname:x
)"));
    check_round_trip(d);
}

TEST_CASE("sdp: unknown attributes are kept verbatim and in order", "[sdp][parse]") {
    const auto d = must_parse(crlf(R"(v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
a=group:BUNDLE 0
a=msid-semantic: WMS
m=audio 9 UDP/TLS/RTP/SAVPF 111
a=mid:0
a=ice-ufrag:abcd
a=fingerprint:sha-256 AB:CD
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=x-empty:
)"));
    REQUIRE(d.attributes.size() == 2);
    CHECK(d.attributes[0].name == "group");
    CHECK(d.attributes[0].value == "BUNDLE 0");
    CHECK(d.attributes[1].value == " WMS");
    const auto& attrs = d.media[0].attributes;
    REQUIRE(attrs.size() == 6);
    CHECK(attrs[0].name == "mid");
    CHECK(attrs[2].name == "fingerprint");
    CHECK(attrs[3].value == "1 urn:ietf:params:rtp-hdrext:ssrc-audio-level");
    CHECK(attrs[4].name == "rtcp-fb");
    CHECK(attrs[5].name == "x-empty");
    CHECK(attrs[5].has_value);
    CHECK(attrs[5].value.empty());
    CHECK(d.media[0].find_attribute("ice-ufrag")->value == "abcd");
    CHECK(d.media[0].find_attribute("nope") == nullptr);
    CHECK(d.media[0].is_rtp());
    check_round_trip(d);
}

TEST_CASE("sdp: lenient where PBXs and phones are sloppy", "[sdp][parse]") {
    SECTION("LF-only line ends, trailing spaces, blank lines, no s= and no t=") {
        const auto d = must_parse(
            "v=0  \n"
            "o=user1 53655765 2353687637 IN IP4 127.0.0.1 \n"
            "\n"
            "c=IN IP4 127.0.0.1\t\n"
            "m=audio 6000 RTP/AVP 0 \n"
            "a=rtpmap:0 PCMU/8000   \n"
            "\n");
        CHECK(d.name.empty());
        REQUIRE(d.timings.size() == 1);  // t=0 0 assumed
        CHECK(d.media[0].formats[0].encoding == "PCMU");
        CHECK(d.media[0].port == 6000);
        CHECK(sdp::serialize(d).find("s= \r\nc=") != std::string::npos);
        check_round_trip(d);
    }
    SECTION("NUL bytes after the last line are ignored; inside a line they are not") {
        const std::string body = "v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\nc=IN IP4 10.0.0.2\r\nm=audio 4000 RTP/AVP 0\r\n";
        CHECK(must_parse(body + std::string(2, '\0')) == must_parse(body));
        CHECK(sdp::parse(body + "a=x" + std::string(1, '\0') + "\r\n").error().code == sdp::errc::bad_line);
    }
    SECTION("static payload types without rtpmap come from RFC 3551") {
        const auto d = must_parse("v=0\no=- 1 1 IN IP4 10.0.0.2\ns=-\nc=IN IP4 10.0.0.2\nt=0 0\nm=audio 4000 RTP/AVP 0 8 9 18\n");
        const auto& f = d.media[0].formats;
        REQUIRE(f.size() == 4);
        CHECK(f[0].encoding == "PCMU");
        CHECK(f[1].encoding == "PCMA");
        CHECK(f[2].encoding == "G722");
        CHECK(f[2].clock_rate == 8000);
        CHECK(f[3].encoding == "G729");
        CHECK_FALSE(f[0].has_rtpmap);
        // Nothing invented on output: no rtpmap lines the peer did not write.
        CHECK(sdp::serialize(d).find("rtpmap") == std::string::npos);
        check_round_trip(d);
    }
    SECTION("ptime with a fraction, fmtp and rtpmap for formats not on the m= line") {
        const auto d = must_parse(crlf(R"(v=0
o=- 1 1 IN IP4 10.0.0.2
s=-
c=IN IP4 10.0.0.2
t=0 0
m=audio 4000 RTP/AVP 0
a=ptime:20.0
a=rtpmap:96 opus/48000/2
a=fmtp:101 0-15
a=fmtp:0
)"));
        const auto& m = d.media[0];
        CHECK(m.ptime == 20);
        REQUIRE(m.attributes.size() == 2);
        CHECK(m.attributes[0].name == "rtpmap");
        CHECK(m.attributes[1].name == "fmtp");
        CHECK(m.formats[0].fmtp.empty());
        check_round_trip(d);
    }
    SECTION("a second ptime or direction is kept verbatim; the first one counts") {
        const auto d = must_parse(crlf(R"(v=0
o=- 1 1 IN IP4 10.0.0.2
s=-
c=IN IP4 10.0.0.2
t=0 0
m=audio 4000 RTP/AVP 0
a=ptime:30
a=ptime:20
a=sendonly
a=inactive
a=RTCP-MUX
)"));
        const auto& m = d.media[0];
        CHECK(m.ptime == 30);
        CHECK(*m.direction == sdp::direction::sendonly);
        CHECK(m.rtcp_mux);
        REQUIRE(m.attributes.size() == 2);
        CHECK(m.attributes[0].value == "20");
        CHECK(m.attributes[1].name == "inactive");
        check_round_trip(d);
    }
}

TEST_CASE("sdp: connection addresses: IPv6, names, multicast, the RFC 2543 hold address", "[sdp][parse]") {
    const auto d = must_parse(crlf(R"(v=0
o=- 7 7 IN IP6 2001:db8::10
s=-
c=IN IP6 2001:db8::10
t=0 0
m=audio 5004 RTP/AVP 0
m=audio 5006 RTP/AVP 0
c=IN IP4 media.example.com
m=audio 5008 RTP/AVP 0
c=IN IP4 224.2.1.1/127/3
m=audio 5010 RTP/AVP 0
c=IN IP4 0.0.0.0
)"));
    CHECK(d.origin.address_type == "IP6");
    REQUIRE(d.connection);
    CHECK(d.connection->type == sdp::address_type::ip6);
    CHECK(d.connection->address == "2001:db8::10");
    CHECK(d.connection_of(d.media[0])->address == "2001:db8::10");
    CHECK(d.connection_of(d.media[1])->address == "media.example.com");
    CHECK(d.media[2].connection->address == "224.2.1.1");
    CHECK(d.media[2].connection->multicast == "/127/3");
    CHECK(d.media[3].connection->is_null());
    CHECK_FALSE(d.media[1].connection->is_null());
    check_round_trip(d);
}

TEST_CASE("sdp: rtcp (RFC 3605), rtcp-mux, bandwidth, directions at both levels", "[sdp][parse]") {
    const auto d = must_parse(crlf(R"(v=0
o=- 1 2 IN IP4 192.0.2.5
s=-
c=IN IP4 192.0.2.5
b=CT:256
t=0 0
a=recvonly
m=audio 49170 RTP/AVP 0
b=AS:64
b=TIAS:64000
a=rtcp:53020 IN IP4 192.0.2.6
m=audio 49180 RTP/AVP 8
a=rtcp:49181
a=inactive
)"));
    REQUIRE(d.direction);
    CHECK(*d.direction == sdp::direction::recvonly);
    CHECK(d.bandwidths.size() == 1);
    REQUIRE(d.media[0].bandwidths.size() == 2);
    CHECK(d.media[0].bandwidths[1].type == "TIAS");
    CHECK(d.media[0].bandwidths[1].value == 64000);
    REQUIRE(d.media[0].rtcp);
    CHECK(d.media[0].rtcp->port == 53020);
    REQUIRE(d.media[0].rtcp->connection);
    CHECK(d.media[0].rtcp->connection->address == "192.0.2.6");
    CHECK(d.direction_of(d.media[0]) == sdp::direction::recvonly);  // inherited from the session
    CHECK(d.media[1].rtcp->port == 49181);
    CHECK_FALSE(d.media[1].rtcp->connection);
    CHECK(d.direction_of(d.media[1]) == sdp::direction::inactive);
    check_round_trip(d);
}

TEST_CASE("sdp: non-RTP media keep their formats as tokens", "[sdp][parse]") {
    const auto d = must_parse(crlf(R"(v=0
o=- 1 1 IN IP4 192.0.2.5
s=-
c=IN IP4 192.0.2.5
t=0 0
m=image 40000 udptl t38
a=T38FaxVersion:0
a=T38FaxRateManagement:transferredTCF
m=application 0 TCP/MSRP *
m=audio 49170/2 RTP/AVP 0
)"));
    CHECK_FALSE(d.media[0].is_rtp());
    CHECK(d.media[0].formats.empty());
    REQUIRE(d.media[0].other_formats.size() == 1);
    CHECK(d.media[0].other_formats[0] == "t38");
    CHECK(d.media[0].attributes.size() == 2);
    CHECK(d.media[1].other_formats[0] == "*");
    CHECK(d.media[2].port_count == 2);
    check_round_trip(d);
}

TEST_CASE("sdp: verbatim lines (i u e p z k r) keep their place", "[sdp][parse]") {
    const auto d = must_parse(crlf(R"(v=0
o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1
s=Seminar
k=prompt
i=Information
u=http://www.example.com/seminars/sdp.pdf
e=j.doe@example.com (Jane Doe)
p=+1 617 555-6011
c=IN IP4 198.51.100.1
t=3724394400 3724398000
r=604800 3600 0 90000
z=3730928400 -1h 3749680800 0
m=audio 49170 RTP/AVP 0
k=clear:x
i=the audio
)"));
    REQUIRE(d.fields.size() == 6);
    CHECK(d.fields[0].type == 'i');
    CHECK(d.fields[1].type == 'u');
    CHECK(d.fields[4].type == 'z');
    CHECK(d.fields[5].type == 'k');
    CHECK(d.timings[0].start == 3724394400U);
    REQUIRE(d.timings[0].repeats.size() == 1);
    CHECK(d.media[0].fields[0].type == 'i');
    CHECK(d.media[0].fields[1].type == 'k');
    check_round_trip(d);
}

TEST_CASE("sdp: malformed descriptions fail with the line of the problem", "[sdp][parse][errors]") {
    const std::string head = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n";
    const std::vector<std::pair<std::string, std::pair<sdp::errc, std::uint32_t>>> cases = {
        {"", {sdp::errc::empty, 1}},
        {"\r\n\r\n", {sdp::errc::empty, 1}},
        {"o=- 1 1 IN IP4 192.0.2.1\nv=0\n", {sdp::errc::bad_order, 1}},
        {"v=1\n", {sdp::errc::bad_version, 1}},
        {"v=0\nv=0\n", {sdp::errc::duplicate_line, 2}},
        {"v=0\ns=-\nc=IN IP4 192.0.2.1\nm=audio 1 RTP/AVP 0\n", {sdp::errc::missing_origin, 4}},
        {"v=0\ns=-\n", {sdp::errc::missing_origin, 3}},
        {"v=0\no=- 1 IN IP4 192.0.2.1\n", {sdp::errc::bad_origin, 2}},
        {"v=0\no=- 1 x IN IP4 192.0.2.1\n", {sdp::errc::bad_origin, 2}},
        {head + "x=unknown\n", {sdp::errc::bad_line, 6}},
        {head + "a line without equals\n", {sdp::errc::bad_line, 6}},
        {head + "A=upper\n", {sdp::errc::bad_line, 6}},
        {head + "a=x\ry\n", {sdp::errc::bad_line, 6}},
        {head + std::string("a=x\0y\n", 6), {sdp::errc::bad_line, 6}},
        {head + "c=IN IP4 192.0.2.2\n", {sdp::errc::duplicate_line, 6}},
        {"v=0\no=- 1 1 IN IP4 192.0.2.1\nc=IN IP4 ::1\n", {sdp::errc::bad_connection, 3}},
        {"v=0\no=- 1 1 IN IP4 192.0.2.1\nc=IN IP6 192.0.2.1.\n", {sdp::errc::bad_connection, 3}},
        {"v=0\no=- 1 1 IN IP4 192.0.2.1\nc=ATM NSAP 47.0091\n", {sdp::errc::bad_connection, 3}},
        {"v=0\no=- 1 1 IN IP4 192.0.2.1\nc=IN IP4 256.1.1.1\n", {sdp::errc::bad_connection, 3}},
        {"v=0\no=- 1 1 IN IP4 192.0.2.1\nc=IN IP4 224.2.1.1/127/3/4\n", {sdp::errc::bad_connection, 3}},
        {"v=0\no=- 1 1 IN IP4 192.0.2.1\nc=IN IP4\n", {sdp::errc::bad_connection, 3}},
        {head + "b=AS\n", {sdp::errc::bad_bandwidth, 6}},
        {head + "b=AS:x\n", {sdp::errc::bad_bandwidth, 6}},
        {"v=0\no=- 1 1 IN IP4 192.0.2.1\nt=0\n", {sdp::errc::bad_timing, 3}},
        {"v=0\no=- 1 1 IN IP4 192.0.2.1\nr=7d 1h 0\n", {sdp::errc::bad_timing, 3}},
        {head + "m=audio\n", {sdp::errc::bad_media, 6}},
        {head + "m=audio 70000 RTP/AVP 0\n", {sdp::errc::bad_media, 6}},
        {head + "m=audio 7000/0 RTP/AVP 0\n", {sdp::errc::bad_media, 6}},
        {head + "m=audio 7000 RTP/AVP 128\n", {sdp::errc::bad_media, 6}},
        {head + "m=audio 7000 RTP/AVP PCMU\n", {sdp::errc::bad_media, 6}},
        {head + "m=audio 7000 RTP/AVP 0\nt=0 0\n", {sdp::errc::bad_order, 7}},
        {head + "m=audio 7000 RTP/AVP 0\no=- 1 1 IN IP4 192.0.2.1\n", {sdp::errc::bad_order, 7}},
        {head + "m=audio 7000 RTP/AVP 0\na=rtpmap:0 PCMU\n", {sdp::errc::bad_attribute, 7}},
        {head + "m=audio 7000 RTP/AVP 0\na=rtpmap:0 PCMU/0\n", {sdp::errc::bad_attribute, 7}},
        {head + "m=audio 7000 RTP/AVP 0\na=rtpmap:200 PCMU/8000\n", {sdp::errc::bad_attribute, 7}},
        {head + "m=audio 7000 RTP/AVP 0\na=ptime:0\n", {sdp::errc::bad_attribute, 7}},
        {head + "m=audio 7000 RTP/AVP 0\na=ptime:abc\n", {sdp::errc::bad_attribute, 7}},
        {head + "m=audio 7000 RTP/AVP 0\na=rtcp:x\n", {sdp::errc::bad_attribute, 7}},
        {head + "m=audio 7000 RTP/AVP 0\na=rtcp:7001 IN IP4\n", {sdp::errc::bad_attribute, 7}},
        {head + "m=audio 7000 RTP/AVP 0\na=fmtp:\n", {sdp::errc::bad_attribute, 7}},
        {head + "a=:value\n", {sdp::errc::bad_attribute, 6}},
        {"v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\nm=audio 7000 RTP/AVP 0\n", {sdp::errc::missing_connection, 5}},
    };
    for (const auto& [text, expected] : cases) {
        INFO(text);
        auto r = sdp::parse(text);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == expected.first);
        CHECK(r.error().line == expected.second);
        CHECK_FALSE(r.error().what().empty());
        CHECK(sdp::sip_status(r.error().code) == 400);
    }
}

TEST_CASE("sdp: a declined stream needs no connection address", "[sdp][parse]") {
    const auto d = must_parse("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\nm=video 0 RTP/AVP 96\n");
    CHECK(d.media[0].port == 0);
    CHECK(d.connection_of(d.media[0]) == nullptr);
    check_round_trip(d);
}

TEST_CASE("sdp: limits on media and formats", "[sdp][parse][errors]") {
    std::string text = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n";
    for (std::size_t i = 0; i < sdp::max_media; ++i) text += "m=audio 0 RTP/AVP 0\n";
    CHECK(sdp::parse(text).has_value());
    text += "m=audio 0 RTP/AVP 0\n";
    auto r = sdp::parse(text);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == sdp::errc::too_large);
    CHECK(r.error().line == 6 + sdp::max_media);

    std::string many = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=audio 1 RTP/AVP";
    for (std::size_t i = 0; i <= sdp::max_formats; ++i) many += " 0";
    CHECK(sdp::parse(many).error().code == sdp::errc::too_large);
}

TEST_CASE("sdp: fmtp parameters and the static payload table", "[sdp]") {
    const std::string_view fmtp = "useinbandfec=1; maxplaybackrate=16000;stereo=0;flag; Sprop-Stereo = 1";
    CHECK(sdp::fmtp_parameter(fmtp, "useinbandfec") == std::optional<std::string_view>("1"));
    CHECK(sdp::fmtp_parameter(fmtp, "maxplaybackrate") == std::optional<std::string_view>("16000"));
    CHECK(sdp::fmtp_parameter(fmtp, "STEREO") == std::optional<std::string_view>("0"));
    CHECK(sdp::fmtp_parameter(fmtp, "sprop-stereo") == std::optional<std::string_view>("1"));
    CHECK(sdp::fmtp_parameter(fmtp, "flag") == std::optional<std::string_view>(""));
    CHECK_FALSE(sdp::fmtp_parameter(fmtp, "cbr").has_value());
    CHECK_FALSE(sdp::fmtp_parameter("", "x").has_value());

    std::string_view name;
    std::uint32_t rate = 0;
    std::uint8_t channels = 0;
    REQUIRE(sdp::static_payload_type(8, name, rate, channels));
    CHECK(name == "PCMA");
    CHECK(rate == 8000);
    CHECK(channels == 1);
    REQUIRE(sdp::static_payload_type(10, name, rate, channels));
    CHECK(channels == 2);
    CHECK_FALSE(sdp::static_payload_type(96, name, rate, channels));
    CHECK_FALSE(sdp::static_payload_type(2, name, rate, channels));  // unassigned since RFC 3551
}

TEST_CASE("sdp: direction helpers follow RFC 3264 §6.1", "[sdp]") {
    using sdp::direction;
    CHECK(sdp::reverse(direction::sendonly) == direction::recvonly);
    CHECK(sdp::reverse(direction::recvonly) == direction::sendonly);
    CHECK(sdp::reverse(direction::sendrecv) == direction::sendrecv);
    CHECK(sdp::reverse(direction::inactive) == direction::inactive);
    CHECK(sdp::to_string(direction::inactive) == "inactive");
    CHECK(sdp::parse_direction("SendOnly") == direction::sendonly);
    CHECK_FALSE(sdp::parse_direction("sendonlyx").has_value());
    CHECK(sdp::make_direction(true, false) == direction::sendonly);
}
