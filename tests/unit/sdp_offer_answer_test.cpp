// sdp/offer_answer.hpp: offers, answers, negotiation results and re-offers (RFC 3264).
//
// The offers below are written after what these peers send (line order, payload numbers, attribute
// habits): Asterisk chan_pjsip, FreePBX (Asterisk with its default codec list), 3CX, baresip, SIPp's
// built-in uac and uac_pcap scenarios, Linphone with video; plus hold styles and error cases.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "sipvoice/sdp/offer_answer.hpp"

namespace sdp = sipvoice::sdp;

namespace {

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

// ---- offers from real peers

const std::string asterisk = crlf(R"(v=0
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

const std::string freepbx = crlf(R"(v=0
o=root 1993475305 1993475305 IN IP4 10.10.1.20
s=Asterisk PBX 16.30.0
c=IN IP4 10.10.1.20
t=0 0
m=audio 17452 RTP/AVP 9 0 8 3 101
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:3 GSM/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=sendrecv
)");

const std::string threecx = crlf(R"(v=0
o=3cxPS 300401459576832 121509683527681 IN IP4 172.16.0.5
s=3cxPS Audio call
c=IN IP4 172.16.0.5
t=0 0
m=audio 7078 RTP/AVP 8 0 9 18 101
c=IN IP4 172.16.0.5
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:9 G722/8000
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
)");

const std::string baresip = crlf(R"(v=0
o=- 2109396557 3541573046 IN IP4 192.168.1.20
s=-
c=IN IP4 192.168.1.20
t=0 0
a=tool:baresip 3.10.1
m=audio 10018 RTP/AVP 96 9 0 8 101
b=AS:96
a=rtpmap:96 opus/48000/2
a=fmtp:96 stereo=1;sprop-stereo=1
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
a=label:1
a=ssrc:1404524183 cname:7f3a1c2e-2d4b-4e0a-9d7c-1f2e3d4c5b6a
a=rtcp-mux
a=rtcp-rsize
a=ptime:20
)");

// SIPp's built-in uac scenario (LF-only, as its scenario text is written).
const std::string sipp_uac =
    "v=0\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.1\n"
    "s=-\n"
    "c=IN IP4 127.0.0.1\n"
    "t=0 0\n"
    "m=audio 6000 RTP/AVP 0\n"
    "a=rtpmap:0 PCMU/8000\n";

// SIPp's uac_pcap scenario: A-law plus RFC 2833/4733 events.
const std::string sipp_pcap = crlf(R"(v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6002 RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-11,16
)");

const std::string linphone_video = crlf(R"(v=0
o=alice 1234 5678 IN IP4 192.168.1.30
s=Talk
c=IN IP4 192.168.1.30
t=0 0
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
m=audio 7078 RTP/AVP 96 0 8 101 97
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:101 telephone-event/48000
a=rtpmap:97 telephone-event/8000
a=rtcp-fb:* trr-int 1000
m=video 9078 RTP/AVP 96 97
a=rtpmap:96 VP8/90000
a=rtpmap:97 H264/90000
a=fmtp:97 profile-level-id=42801F
)");

const std::string ipv6 = crlf(R"(v=0
o=- 1 1 IN IP6 2001:db8::20
s=-
c=IN IP6 2001:db8::20
t=0 0
m=audio 30000 RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
)");

// Hold styles (RFC 3264 §8.4, RFC 6337 §5.3) as a PBX sends them in a re-INVITE.
std::string with(std::string_view direction_line, std::string_view connection = "192.168.1.10") {
    return "v=0\r\no=- 1718290551 1718290552 IN IP4 192.168.1.10\r\ns=Asterisk\r\nc=IN IP4 " + std::string(connection) +
           "\r\nt=0 0\r\nm=audio 14582 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
           "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n" +
           std::string(direction_line);
}
const std::string hold_sendonly = with("a=sendonly\r\n");
const std::string hold_inactive = with("a=inactive\r\n");
const std::string offer_recvonly = with("a=recvonly\r\n");
const std::string hold_rfc2543 = with("a=sendrecv\r\n", "0.0.0.0");
const std::string hold_session_level = crlf(R"(v=0
o=- 5 6 IN IP4 10.0.0.9
s=-
c=IN IP4 10.0.0.9
t=0 0
a=sendonly
m=audio 8000 RTP/AVP 0
)");

const std::string g729_only = crlf(R"(v=0
o=- 1 1 IN IP4 10.0.0.7
s=-
c=IN IP4 10.0.0.7
t=0 0
m=audio 9000 RTP/AVP 18 101
a=rtpmap:18 G729/8000
a=rtpmap:101 telephone-event/8000
)");

const std::string srtp_only = crlf(R"(v=0
o=- 1 1 IN IP4 10.0.0.7
s=-
c=IN IP4 10.0.0.7
t=0 0
m=audio 9000 RTP/SAVP 0
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz
)");

const std::string video_only = crlf(R"(v=0
o=- 1 1 IN IP4 10.0.0.7
s=-
c=IN IP4 10.0.0.7
t=0 0
m=video 9000 RTP/AVP 96
a=rtpmap:96 H264/90000
)");

const std::string second_audio_active = crlf(R"(v=0
o=- 1 1 IN IP4 10.0.0.7
s=-
c=IN IP4 10.0.0.7
t=0 0
m=audio 0 RTP/AVP 0
m=audio 9002 RTP/AVP 8 0
)");

const std::string two_audio = crlf(R"(v=0
o=- 1 1 IN IP4 10.0.0.7
s=-
c=IN IP4 10.0.0.7
t=0 0
m=audio 9000 RTP/AVP 0
m=audio 9002 RTP/AVP 8
)");

const std::string first_audio_g729 = crlf(R"(v=0
o=- 1 1 IN IP4 10.0.0.7
s=-
c=IN IP4 10.0.0.7
t=0 0
m=audio 9000 RTP/AVP 18
m=audio 9002 RTP/AVP 0
)");

const std::string t38_and_audio = crlf(R"(v=0
o=- 1 1 IN IP4 10.0.0.7
s=-
c=IN IP4 10.0.0.7
t=0 0
m=image 9004 udptl t38
a=T38FaxVersion:0
m=audio 9000 RTP/AVP 0
)");

const std::string ptime30_rtcp = crlf(R"(v=0
o=- 1 1 IN IP4 10.0.0.7
s=-
c=IN IP4 10.0.0.7
t=0 0
m=audio 9000 RTP/AVPF 0
a=ptime:30
a=rtcp:9100 IN IP4 10.0.0.8
)");

const std::string sloppy_names = crlf(R"(v=0
o=- 1 1 IN IP4 10.0.0.7
s=-
c=IN IP4 10.0.0.7
t=0 0
m=audio 9000 RTP/AVP 120 98
a=rtpmap:120 OPUS/48000
a=rtpmap:98 pcmu/8000
)");

// ---- our preferences

enum class prefs { g711, opus_first, alaw_first, wideband, no_events, mux, holding };

sdp::local_media local(prefs p) {
    sdp::local_media l;
    l.address = "203.0.113.5";
    l.port = 40000;
    l.session_id = 42;
    switch (p) {
        case prefs::g711: break;
        case prefs::opus_first: l.codecs = {sdp::opus(16000), sdp::pcmu(), sdp::pcma(), sdp::g722()}; break;
        case prefs::alaw_first: l.codecs = {sdp::pcma(), sdp::pcmu()}; break;
        case prefs::wideband: l.codecs = {sdp::g722(), sdp::opus(), sdp::pcmu()}; break;
        case prefs::no_events: l.telephone_event = false; break;
        case prefs::mux: l.rtcp_mux = true; break;
        case prefs::holding: l.direction = sdp::direction::sendonly; break;
    }
    return l;
}

struct expected {
    sdp::errc error = sdp::errc::ok;
    std::string codec{};
    int payload_type = -1;
    int events = -1;  // telephone-event payload type, -1: none
    std::uint32_t events_rate = 0;
    sdp::direction direction = sdp::direction::sendrecv;
    std::vector<std::uint16_t> ports{};  // of the answer's m-lines
    std::string remote{};
    std::uint16_t remote_port = 0;
    std::uint16_t rtcp_port = 0;
    bool rtcp_mux = false;
    std::uint32_t ptime = 20;
    bool remote_hold = false;
};

struct negotiation_case {
    std::string_view name;
    const std::string* offer;
    prefs preferences;
    expected want;
};

using sdp::direction;
using sdp::errc;

const std::vector<negotiation_case> negotiation_table = {
    {"Asterisk, G.711 preferred", &asterisk, prefs::g711,
     {errc::ok, "PCMU", 0, 101, 8000, direction::sendrecv, {40000}, "192.168.1.10", 14582, 14583}},
    {"Asterisk, Opus preferred: their number 107 kept, events at 8000 as offered", &asterisk, prefs::opus_first,
     {errc::ok, "opus", 107, 101, 8000, direction::sendrecv, {40000}, "192.168.1.10", 14582, 14583}},
    {"Asterisk, A-law preferred", &asterisk, prefs::alaw_first,
     {errc::ok, "PCMA", 8, 101, 8000, direction::sendrecv, {40000}, "192.168.1.10", 14582, 14583}},
    {"Asterisk, no telephone-event of ours", &asterisk, prefs::no_events,
     {errc::ok, "PCMU", 0, -1, 0, direction::sendrecv, {40000}, "192.168.1.10", 14582, 14583}},
    {"FreePBX offers G.722 first, we prefer PCMU", &freepbx, prefs::g711,
     {errc::ok, "PCMU", 0, 101, 8000, direction::sendrecv, {40000}, "10.10.1.20", 17452, 17453}},
    {"FreePBX, wideband preferred: G.722", &freepbx, prefs::wideband,
     {errc::ok, "G722", 9, 101, 8000, direction::sendrecv, {40000}, "10.10.1.20", 17452, 17453}},
    {"3CX offers A-law first, our order wins", &threecx, prefs::g711,
     {errc::ok, "PCMU", 0, 101, 8000, direction::sendrecv, {40000}, "172.16.0.5", 7078, 7079}},
    {"3CX, wideband preferred", &threecx, prefs::wideband,
     {errc::ok, "G722", 9, 101, 8000, direction::sendrecv, {40000}, "172.16.0.5", 7078, 7079}},
    {"baresip, Opus preferred: 96 kept", &baresip, prefs::opus_first,
     {errc::ok, "opus", 96, 101, 8000, direction::sendrecv, {40000}, "192.168.1.20", 10018, 10019}},
    {"baresip offers rtcp-mux, we do not accept it", &baresip, prefs::g711,
     {errc::ok, "PCMU", 0, 101, 8000, direction::sendrecv, {40000}, "192.168.1.20", 10018, 10019}},
    {"baresip offers rtcp-mux, we accept it", &baresip, prefs::mux,
     {errc::ok, "PCMU", 0, 101, 8000, direction::sendrecv, {40000}, "192.168.1.20", 10018, 10018, true}},
    {"SIPp uac: PCMU only", &sipp_uac, prefs::g711,
     {errc::ok, "PCMU", 0, -1, 0, direction::sendrecv, {40000}, "127.0.0.1", 6000, 6001}},
    {"SIPp uac: PCMU only, although we prefer Opus", &sipp_uac, prefs::opus_first,
     {errc::ok, "PCMU", 0, -1, 0, direction::sendrecv, {40000}, "127.0.0.1", 6000, 6001}},
    {"SIPp uac_pcap: A-law with events", &sipp_pcap, prefs::g711,
     {errc::ok, "PCMA", 8, 101, 8000, direction::sendrecv, {40000}, "127.0.0.1", 6002, 6003}},
    {"Linphone audio+video, Opus: events at 48000, video declined", &linphone_video, prefs::opus_first,
     {errc::ok, "opus", 96, 101, 48000, direction::sendrecv, {40000, 0}, "192.168.1.30", 7078, 7079}},
    {"Linphone audio+video, G.711: events at 8000, video declined", &linphone_video, prefs::g711,
     {errc::ok, "PCMU", 0, 97, 8000, direction::sendrecv, {40000, 0}, "192.168.1.30", 7078, 7079}},
    {"IPv6 offer", &ipv6, prefs::g711,
     {errc::ok, "PCMA", 8, 101, 8000, direction::sendrecv, {40000}, "2001:db8::20", 30000, 30001}},
    {"hold with sendonly: answered recvonly", &hold_sendonly, prefs::g711,
     {errc::ok, "PCMU", 0, 101, 8000, direction::recvonly, {40000}, "192.168.1.10", 14582, 14583, false, 20, true}},
    {"hold with inactive: answered inactive", &hold_inactive, prefs::g711,
     {errc::ok, "PCMU", 0, 101, 8000, direction::inactive, {40000}, "192.168.1.10", 14582, 14583, false, 20, true}},
    {"recvonly offer: answered sendonly", &offer_recvonly, prefs::g711,
     {errc::ok, "PCMU", 0, 101, 8000, direction::sendonly, {40000}, "192.168.1.10", 14582, 14583}},
    {"RFC 2543 hold (c=0.0.0.0): we send nothing", &hold_rfc2543, prefs::g711,
     {errc::ok, "PCMU", 0, 101, 8000, direction::recvonly, {40000}, "0.0.0.0", 14582, 14583, false, 20, true}},
    {"session-level sendonly", &hold_session_level, prefs::g711,
     {errc::ok, "PCMU", 0, -1, 0, direction::recvonly, {40000}, "10.0.0.9", 8000, 8001, false, 20, true}},
    {"we hold, they offer sendrecv: sendonly", &asterisk, prefs::holding,
     {errc::ok, "PCMU", 0, 101, 8000, direction::sendonly, {40000}, "192.168.1.10", 14582, 14583}},
    {"we hold, they hold: inactive", &hold_sendonly, prefs::holding,
     {errc::ok, "PCMU", 0, 101, 8000, direction::inactive, {40000}, "192.168.1.10", 14582, 14583, false, 20, true}},
    {"no common codec: 488", &g729_only, prefs::g711, {errc::no_common_codec}},
    {"SRTP only: 488", &srtp_only, prefs::g711, {errc::no_usable_media}},
    {"video only: 488", &video_only, prefs::g711, {errc::no_usable_media}},
    {"first audio declined by the offerer, second taken", &second_audio_active, prefs::g711,
     {errc::ok, "PCMU", 0, -1, 0, direction::sendrecv, {0, 40000}, "10.0.0.7", 9002, 9003}},
    {"two active audio streams: the second declined", &two_audio, prefs::g711,
     {errc::ok, "PCMU", 0, -1, 0, direction::sendrecv, {40000, 0}, "10.0.0.7", 9000, 9001}},
    {"first audio without a common codec: the second taken", &first_audio_g729, prefs::g711,
     {errc::ok, "PCMU", 0, -1, 0, direction::sendrecv, {0, 40000}, "10.0.0.7", 9002, 9003}},
    {"T.38 image stream declined", &t38_and_audio, prefs::g711,
     {errc::ok, "PCMU", 0, -1, 0, direction::sendrecv, {0, 40000}, "10.0.0.7", 9000, 9001}},
    {"RTP/AVPF, ptime 30, RTCP elsewhere (RFC 3605)", &ptime30_rtcp, prefs::g711,
     {errc::ok, "PCMU", 0, -1, 0, direction::sendrecv, {40000}, "10.0.0.7", 9000, 9100, false, 30}},
    {"sloppy names: OPUS/48000 without /2, lowercase pcmu", &sloppy_names, prefs::opus_first,
     {errc::ok, "opus", 120, -1, 0, direction::sendrecv, {40000}, "10.0.0.7", 9000, 9001}},
    {"sloppy names with G.711 preferred", &sloppy_names, prefs::g711,
     {errc::ok, "PCMU", 98, -1, 0, direction::sendrecv, {40000}, "10.0.0.7", 9000, 9001}},
};

}  // namespace

TEST_CASE("sdp offer/answer: answers to real-world offers (table)", "[sdp][offer_answer]") {
    for (const negotiation_case& c : negotiation_table) {
        SECTION(std::string(c.name)) {
            const auto offer = must_parse(*c.offer);
            const sdp::local_media me = local(c.preferences);
            auto r = sdp::build_answer(offer, me);
            const expected& want = c.want;
            if (want.error != errc::ok) {
                REQUIRE_FALSE(r.has_value());
                CHECK(r.error().code == want.error);
                CHECK(sdp::sip_status(r.error().code) == 488);
                continue;
            }
            if (!r) INFO("error: " << r.error().what());
            REQUIRE(r.has_value());
            const sdp::negotiated& n = r->result;
            const sdp::session_description& answer = r->answer;

            CHECK(n.codec.name == want.codec);
            CHECK(int{n.codec.payload_type} == want.payload_type);
            CHECK(int{n.receive_payload_type} == want.payload_type);
            CHECK(n.telephone_event.has_value() == (want.events >= 0));
            if (want.events >= 0) {
                CHECK(int{*n.telephone_event} == want.events);
                CHECK(n.receive_telephone_event == n.telephone_event);
                CHECK(n.telephone_event_rate == want.events_rate);
            }
            CHECK(n.direction == want.direction);
            CHECK(n.remote_address == want.remote);
            CHECK(n.remote_port == want.remote_port);
            CHECK(n.remote_rtcp_port == want.rtcp_port);
            CHECK(n.rtcp_mux == want.rtcp_mux);
            CHECK(n.ptime == want.ptime);
            CHECK(n.remote_hold == want.remote_hold);
            CHECK(n.local_port == 40000);

            // The answer: one m-line per offered m-line (RFC 3264 §6), ours at our port, the rest 0.
            REQUIRE(answer.media.size() == want.ports.size());
            for (std::size_t i = 0; i < answer.media.size(); ++i) {
                CHECK(answer.media[i].port == want.ports[i]);
                CHECK(answer.media[i].type == offer.media[i].type);
                CHECK(answer.media[i].proto == offer.media[i].proto);
            }
            const sdp::media& a = answer.media[n.media_index];
            CHECK(answer.direction_of(a) == want.direction);
            REQUIRE_FALSE(a.formats.empty());
            CHECK(int{a.formats[0].payload_type} == want.payload_type);
            CHECK(a.formats[0].has_rtpmap);
            CHECK(a.formats.size() == (want.events >= 0 ? 2U : 1U));  // one codec, plus events
            CHECK(a.rtcp_mux == want.rtcp_mux);
            CHECK(answer.connection->address == "203.0.113.5");
            CHECK(answer.origin.session_id == "42");

            // The answer is valid SDP, and the offerer reading it agrees on codec and direction.
            const std::string text = sdp::serialize(answer);
            INFO(text);
            const auto reparsed = must_parse(text);
            CHECK(reparsed == answer);
            bool first_active_audio = true;
            for (std::size_t i = 0; i < n.media_index; ++i)
                if (offer.media[i].type == "audio" && offer.media[i].port != 0) first_active_audio = false;
            if (first_active_audio) {
                auto seen = sdp::process_answer(offer, reparsed);
                REQUIRE(seen.has_value());
                CHECK(seen->codec.payload_type == n.codec.payload_type);
                CHECK(seen->direction == sdp::reverse(n.direction));
                CHECK(seen->remote_address == "203.0.113.5");
                CHECK(seen->remote_port == 40000);
                CHECK(seen->telephone_event == n.telephone_event);
            }
        }
    }
}

TEST_CASE("sdp offer/answer: answering with every common codec", "[sdp][offer_answer]") {
    sdp::local_media me = local(prefs::opus_first);
    me.answer_all_common_codecs = true;
    auto r = sdp::build_answer(must_parse(baresip), me);
    REQUIRE(r.has_value());
    const auto& f = r->answer.media[0].formats;
    REQUIRE(f.size() == 5);  // opus, PCMU, PCMA, G722 in our order, then events
    CHECK(f[0].encoding == "opus");
    CHECK(f[0].fmtp == "useinbandfec=1;maxplaybackrate=16000;stereo=0");  // ours: what we want to receive
    CHECK(f[1].payload_type == 0);
    CHECK(f[2].payload_type == 8);
    CHECK(f[3].payload_type == 9);
    CHECK(f[4].encoding == "telephone-event");
    CHECK(r->result.codec.fmtp == "stereo=1;sprop-stereo=1");  // theirs: how we must send
    CHECK(r->result.local_fmtp == f[0].fmtp);
}

TEST_CASE("sdp offer/answer: the offer built from our preferences", "[sdp][offer_answer]") {
    sdp::local_media me = local(prefs::g711);
    me.codecs = {sdp::pcmu(), sdp::pcma(), sdp::opus(24000), sdp::g722()};
    me.maxptime = 60;
    me.rtcp_mux = true;
    me.username = "sipvoice";
    const auto offer = sdp::build_offer(me, 7);
    CHECK(offer.origin.username == "sipvoice");
    CHECK(offer.origin.session_id == "42");
    CHECK(offer.origin.session_version == 7);
    CHECK(offer.origin.address == "203.0.113.5");
    CHECK(offer.name == "sipvoice");
    REQUIRE(offer.media.size() == 1);
    const sdp::media& m = offer.media[0];
    CHECK(m.port == 40000);
    CHECK(m.proto == "RTP/AVP");
    REQUIRE(m.formats.size() == 6);
    CHECK(m.formats[0].payload_type == 0);
    CHECK(m.formats[1].payload_type == 8);
    CHECK(m.formats[2].payload_type == 111);
    CHECK(m.formats[2].encoding == "opus");
    CHECK(m.formats[2].clock_rate == 48000);
    CHECK(m.formats[2].channels == 2);
    CHECK(sdp::fmtp_parameter(m.formats[2].fmtp, "useinbandfec") == std::optional<std::string_view>("1"));
    CHECK(sdp::fmtp_parameter(m.formats[2].fmtp, "maxplaybackrate") == std::optional<std::string_view>("24000"));
    CHECK(sdp::fmtp_parameter(m.formats[2].fmtp, "stereo") == std::optional<std::string_view>("0"));
    CHECK(m.formats[3].payload_type == 9);
    CHECK(m.formats[4].encoding == "telephone-event");
    CHECK(m.formats[4].payload_type == 101);
    CHECK(m.formats[4].clock_rate == 8000);
    CHECK(m.formats[4].fmtp == "0-16");
    CHECK(m.formats[5].payload_type == 110);
    CHECK(m.formats[5].clock_rate == 48000);
    for (const auto& f : m.formats) CHECK(f.has_rtpmap);
    CHECK(m.ptime == 20);
    CHECK(m.maxptime == 60);
    CHECK(*m.direction == sdp::direction::sendrecv);
    CHECK(m.rtcp_mux);
    CHECK(sdp::serialize(offer) == crlf(R"(v=0
o=sipvoice 42 7 IN IP4 203.0.113.5
s=sipvoice
c=IN IP4 203.0.113.5
t=0 0
m=audio 40000 RTP/AVP 0 8 111 9 101 110
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:111 opus/48000/2
a=fmtp:111 useinbandfec=1;maxplaybackrate=24000;stereo=0
a=rtpmap:9 G722/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=rtpmap:110 telephone-event/48000
a=fmtp:110 0-16
a=ptime:20
a=maxptime:60
a=sendrecv
a=rtcp-mux
)"));
    CHECK(must_parse(sdp::serialize(offer)) == offer);

    SECTION("IPv6, no events, duplicate codecs and a payload type clash resolved") {
        me.address = "[2001:db8::5]";
        me.telephone_event = false;
        sdp::codec clash = sdp::opus();
        clash.payload_type = 8;  // not opus's static number: a dynamic one is taken instead
        me.codecs = {sdp::pcma(), sdp::pcma(), clash, sdp::telephone_event()};
        const auto v6 = sdp::build_offer(me);
        CHECK(v6.origin.address_type == "IP6");
        CHECK(v6.origin.address == "2001:db8::5");
        CHECK(v6.connection->type == sdp::address_type::ip6);
        REQUIRE(v6.media[0].formats.size() == 2);
        CHECK(v6.media[0].formats[0].payload_type == 8);
        CHECK(v6.media[0].formats[1].payload_type == 96);
    }
}

TEST_CASE("sdp offer/answer: reading answers to our offer", "[sdp][offer_answer]") {
    sdp::local_media me = local(prefs::opus_first);
    me.rtcp_mux = true;
    const auto offer = sdp::build_offer(me);  // 111 opus, 0, 8, 9, 101 te/8000, 110 te/48000

    SECTION("Asterisk answers PCMU with events") {
        auto r = sdp::process_answer(offer, must_parse(crlf(R"(v=0
o=- 99 100 IN IP4 192.168.1.10
s=Asterisk
c=IN IP4 192.168.1.10
t=0 0
m=audio 14600 RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=maxptime:150
a=sendrecv
)")));
        REQUIRE(r.has_value());
        CHECK(r->codec.name == "PCMU");
        CHECK(r->codec.payload_type == 0);
        CHECK(*r->telephone_event == 101);
        CHECK(r->telephone_event_rate == 8000);
        CHECK(r->maxptime == 150);
        CHECK(r->remote_port == 14600);
        CHECK(r->remote_rtcp_port == 14601);
        CHECK_FALSE(r->rtcp_mux);  // offered, not answered
        CHECK(r->direction == sdp::direction::sendrecv);
        CHECK(r->local_port == 40000);
    }
    SECTION("an answerer that renumbers: we send with its numbers and receive with ours") {
        auto r = sdp::process_answer(offer, must_parse(crlf(R"(v=0
o=- 1 1 IN IP4 192.0.2.9
s=-
c=IN IP4 192.0.2.9
t=0 0
m=audio 5000 RTP/AVP 98 100
a=rtpmap:98 opus/48000/2
a=fmtp:98 maxplaybackrate=8000
a=rtpmap:100 telephone-event/48000
a=rtcp-mux
)")));
        REQUIRE(r.has_value());
        CHECK(r->codec.name == "opus");
        CHECK(r->codec.payload_type == 98);
        CHECK(r->receive_payload_type == 111);
        CHECK(r->codec.fmtp == "maxplaybackrate=8000");
        CHECK(r->local_fmtp == "useinbandfec=1;maxplaybackrate=16000;stereo=0");
        CHECK(*r->telephone_event == 100);
        CHECK(*r->receive_telephone_event == 110);
        CHECK(r->telephone_event_rate == 48000);
        CHECK(r->rtcp_mux);
        CHECK(r->remote_rtcp_port == 5000);
    }
    SECTION("recvonly answer: we only send; sendonly answer: the peer holds") {
        const std::string base = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 5000 RTP/AVP 8\r\n";
        auto r = sdp::process_answer(offer, must_parse(base + "a=recvonly\r\n"));
        REQUIRE(r.has_value());
        CHECK(r->direction == sdp::direction::sendonly);
        CHECK_FALSE(r->remote_hold);
        CHECK_FALSE(r->telephone_event.has_value());
        r = sdp::process_answer(offer, must_parse(base + "a=sendonly\r\n"));
        CHECK(r->direction == sdp::direction::recvonly);
        CHECK(r->remote_hold);
    }
    SECTION("answers that do not fit") {
        const auto check = [&](std::string_view answer, sdp::errc code) {
            auto r = sdp::process_answer(offer, must_parse(answer));
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().code == code);
        };
        const std::string head = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n";
        check(head + "m=audio 0 RTP/AVP 0\r\n", errc::media_rejected);
        check(head + "m=audio 5000 RTP/AVP 0\r\nm=video 0 RTP/AVP 96\r\n", errc::answer_mismatch);
        check(head, errc::answer_mismatch);
        check(head + "m=video 5000 RTP/AVP 0\r\n", errc::answer_mismatch);
        check(head + "m=audio 5000 RTP/AVP 18\r\n", errc::no_common_codec);
        check(head + "m=audio 5000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n", errc::no_common_codec);
    }
}

TEST_CASE("sdp offer/answer: a call answered, held and resumed by the peer", "[sdp][offer_answer][reoffer]") {
    sdp::offer_answer oa(local(prefs::g711));
    CHECK(oa.current() == nullptr);
    auto a1 = oa.receive_offer(must_parse(asterisk));
    REQUIRE(a1.has_value());
    CHECK(a1->origin.session_version == 1);
    REQUIRE(oa.current());
    CHECK(oa.current()->codec.name == "PCMU");
    CHECK(oa.current()->direction == sdp::direction::sendrecv);
    CHECK(oa.remote_description()->origin.session_id == "1718290551");
    CHECK(oa.local_description() != nullptr);

    // Re-INVITE with sendonly: answered recvonly, so our description changed: version 2.
    auto a2 = oa.receive_offer(must_parse(hold_sendonly));
    REQUIRE(a2.has_value());
    CHECK(*a2->media[0].direction == sdp::direction::recvonly);
    CHECK(a2->origin.session_version == 2);
    CHECK(a2->origin.session_id == a1->origin.session_id);
    CHECK(oa.current()->remote_hold);
    CHECK(oa.current()->direction == sdp::direction::recvonly);

    // The same offer again (a session refresh): the same answer and the same version (RFC 3264 §8).
    auto a3 = oa.receive_offer(must_parse(hold_sendonly));
    REQUIRE(a3.has_value());
    CHECK(*a3 == *a2);

    // Unhold.
    auto a4 = oa.receive_offer(must_parse(with("a=sendrecv\r\n")));
    REQUIRE(a4.has_value());
    CHECK(*a4->media[0].direction == sdp::direction::sendrecv);
    CHECK(a4->origin.session_version == 3);
    CHECK_FALSE(oa.current()->remote_hold);

    // The old style hold: c=0.0.0.0; then back.
    auto a5 = oa.receive_offer(must_parse(hold_rfc2543));
    REQUIRE(a5.has_value());
    CHECK(*a5->media[0].direction == sdp::direction::recvonly);
    CHECK(oa.current()->remote_hold);
    CHECK(oa.current()->remote_address == "0.0.0.0");
    CHECK(a5->origin.session_version == 4);
}

TEST_CASE("sdp offer/answer: we hold and resume with re-offers", "[sdp][offer_answer][reoffer]") {
    sdp::offer_answer oa(local(prefs::g711));
    const auto o1 = oa.create_offer();
    CHECK(oa.offer_pending());
    CHECK(o1.origin.session_version == 1);
    const std::string answer = crlf(R"(v=0
o=- 500 500 IN IP4 192.168.1.10
s=Asterisk
c=IN IP4 192.168.1.10
t=0 0
m=audio 14600 RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
)");
    REQUIRE(oa.receive_answer(must_parse(answer)).has_value());
    CHECK_FALSE(oa.offer_pending());
    CHECK(oa.current()->direction == sdp::direction::sendrecv);

    oa.local().direction = sdp::direction::sendonly;
    const auto o2 = oa.create_offer();
    CHECK(o2.origin.session_version == 2);
    CHECK(*o2.media[0].direction == sdp::direction::sendonly);
    std::string held = answer;
    held.replace(held.find("a=sendrecv"), 10, "a=recvonly");
    auto r2 = oa.receive_answer(must_parse(held));
    REQUIRE(r2.has_value());
    CHECK(r2->direction == sdp::direction::sendonly);
    CHECK_FALSE(r2->remote_hold);

    // An offer identical to the last one keeps its version.
    const auto o3 = oa.create_offer();
    CHECK(o3.origin.session_version == 2);
    oa.cancel_offer();
    CHECK_FALSE(oa.offer_pending());
    CHECK(oa.current()->direction == sdp::direction::sendonly);  // a withdrawn offer changes nothing

    oa.local().direction = sdp::direction::inactive;
    CHECK(oa.create_offer().origin.session_version == 3);
    oa.cancel_offer();
    oa.local().direction = sdp::direction::sendrecv;
    const auto o4 = oa.create_offer();
    CHECK(o4.origin.session_version == 4);
    CHECK(*o4.media[0].direction == sdp::direction::sendrecv);
    REQUIRE(oa.receive_answer(must_parse(answer)).has_value());
    CHECK(oa.current()->direction == sdp::direction::sendrecv);
}

TEST_CASE("sdp offer/answer: re-offers keep m-lines, payload numbers and o=", "[sdp][offer_answer][reoffer]") {
    sdp::offer_answer oa(local(prefs::opus_first));
    auto a1 = oa.receive_offer(must_parse(linphone_video));
    REQUIRE(a1.has_value());
    CHECK(oa.current()->codec.payload_type == 96);
    CHECK(*oa.current()->telephone_event == 101);

    // Hold from our side, and a new address at the same time (RFC 3264 §8.3.1).
    oa.local().direction = sdp::direction::sendonly;
    oa.local().address = "198.51.100.77";
    oa.local().port = 41000;
    const auto o2 = oa.create_offer();
    CHECK(o2.origin.session_version == 2);
    CHECK(o2.origin.address == "203.0.113.5");  // o= is not where media goes; it stays (RFC 3264 §8)
    CHECK(o2.connection->address == "198.51.100.77");
    REQUIRE(o2.media.size() == 2);  // the declined video stays, declined
    CHECK(o2.media[1].type == "video");
    CHECK(o2.media[1].port == 0);
    const sdp::media& audio = o2.media[0];
    CHECK(audio.port == 41000);
    // Their numbers, once bound, stay bound (RFC 3264 §8.3.2): opus 96, events 101 (/48000), 97 (/8000).
    REQUIRE(audio.formats.size() == 6);
    CHECK(audio.formats[0].encoding == "opus");
    CHECK(audio.formats[0].payload_type == 96);
    CHECK(audio.formats[1].payload_type == 0);
    CHECK(audio.formats[2].payload_type == 8);
    CHECK(audio.formats[3].payload_type == 9);
    CHECK(audio.formats[4].clock_rate == 8000);
    CHECK(audio.formats[4].payload_type == 97);
    CHECK(audio.formats[5].clock_rate == 48000);
    CHECK(audio.formats[5].payload_type == 101);

    auto r = oa.receive_answer(must_parse(crlf(R"(v=0
o=alice 1234 5679 IN IP4 192.168.1.30
s=Talk
c=IN IP4 192.168.1.30
t=0 0
m=audio 7078 RTP/AVP 96 101
a=rtpmap:96 opus/48000/2
a=rtpmap:101 telephone-event/48000
a=recvonly
m=video 0 RTP/AVP 96
)")));
    REQUIRE(r.has_value());
    CHECK(r->direction == sdp::direction::sendonly);
    CHECK(r->local_port == 41000);
    CHECK(*r->telephone_event == 101);
}

TEST_CASE("sdp offer/answer: codec and address changes in the peer's re-offers", "[sdp][offer_answer][reoffer]") {
    const auto threecx_offer = [](std::string_view version, std::string_view address, std::string_view port,
                                  std::string_view formats) {
        std::string o = "v=0\r\no=3cxPS 300401459576832 " + std::string(version) +
                        " IN IP4 172.16.0.5\r\ns=3cxPS Audio call\r\nc=IN IP4 " + std::string(address) +
                        "\r\nt=0 0\r\nm=audio " + std::string(port) + " RTP/AVP " + std::string(formats) + " 101\r\n";
        for (std::string_view f : {"0 PCMU/8000", "8 PCMA/8000", "9 G722/8000"})
            if (std::string(" " + std::string(formats) + " ").find(" " + std::string(f.substr(0, 1)) + " ") != std::string::npos)
                o += "a=rtpmap:" + std::string(f) + "\r\n";
        return o + "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";
    };
    sdp::offer_answer oa(local(prefs::g711));  // we prefer PCMU, then PCMA
    REQUIRE(oa.receive_offer(must_parse(threecx_offer("1", "172.16.0.5", "7078", "8"))).has_value());
    CHECK(oa.current()->codec.name == "PCMA");

    // A refresh that now also lists PCMU keeps PCMA: no codec switch for nothing.
    auto same = oa.receive_offer(must_parse(threecx_offer("2", "172.16.0.5", "7078", "0 8")));
    REQUIRE(same.has_value());
    CHECK(oa.current()->codec.name == "PCMA");
    CHECK(same->origin.session_version == 1);  // our answer did not change

    // PCMA gone, and a new media address: PCMU, sent to the new place.
    auto a = oa.receive_offer(must_parse(threecx_offer("3", "172.16.0.99", "7090", "9 0")));
    REQUIRE(a.has_value());
    CHECK(oa.current()->codec.name == "PCMU");
    CHECK(oa.current()->codec.payload_type == 0);
    CHECK(oa.current()->remote_address == "172.16.0.99");
    CHECK(oa.current()->remote_port == 7090);
    CHECK(a->media[0].formats[0].payload_type == 0);
    CHECK(a->origin.session_version == 2);

    // A re-offer we cannot accept: 488, and the call goes on as it was (RFC 3261 §14.2).
    auto bad = oa.receive_offer(must_parse(g729_only));
    REQUIRE_FALSE(bad.has_value());
    CHECK(sdp::sip_status(bad.error().code) == 488);
    CHECK(oa.current()->codec.name == "PCMU");
    CHECK(oa.local_description()->origin.session_version == 2);
}

TEST_CASE("sdp offer/answer: glare, stray answers, bad local settings", "[sdp][offer_answer]") {
    sdp::offer_answer oa(local(prefs::g711));
    auto stray = oa.receive_answer(must_parse(asterisk));
    REQUIRE_FALSE(stray.has_value());
    CHECK(stray.error().code == errc::no_offer_pending);

    oa.create_offer();
    auto glare = oa.receive_offer(must_parse(asterisk));
    REQUIRE_FALSE(glare.has_value());
    CHECK(glare.error().code == errc::offer_pending);
    CHECK(sdp::sip_status(glare.error().code) == 491);

    // A failed answer ends the outstanding offer and leaves nothing negotiated.
    auto rejected = oa.receive_answer(must_parse("v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n"));
    REQUIRE_FALSE(rejected.has_value());
    CHECK(rejected.error().code == errc::media_rejected);
    CHECK_FALSE(oa.offer_pending());
    CHECK(oa.current() == nullptr);

    sdp::local_media none = local(prefs::g711);
    none.codecs = {sdp::telephone_event()};
    auto r = sdp::build_answer(must_parse(asterisk), none);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::bad_local_media);
    CHECK(sdp::sip_status(r.error().code) == 500);
    none = local(prefs::g711);
    none.port = 0;
    CHECK(sdp::build_answer(must_parse(asterisk), none).error().code == errc::bad_local_media);
}
