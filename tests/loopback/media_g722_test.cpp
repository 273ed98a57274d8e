// G.722 through ua/call_media over 127.0.0.1: two calls' media negotiate G722/8000 and a tone crosses
// each way at 16 kHz; and against a peer played by the test on a plain UDP socket, what goes on the
// wire is what RFC 3551 §4.5.2 asks: payload type 9, 160 octets per 20 ms and the RTP timestamp
// advancing by 160 (an 8 kHz clock for 16 kHz audio), and the same from the peer plays without loss
// or concealment (a jitter buffer on a 16 kHz clock would see 10 ms packets 20 ms apart).
#include <catch2/catch.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "media_helpers.hpp"
#include "sipvoice/codec/g722.hpp"
#include "sipvoice/rtp/packet.hpp"

using namespace sipvoice;
using namespace std::chrono_literals;
using asio::ip::udp;
using test::run_for;
using test::run_until;

namespace {

constexpr std::uint32_t rate = 16000;
constexpr std::size_t frame = rate / 50;  // 20 ms

ua::media_config g722_media() {
    ua::media_config c = test::loopback_media(500ms, 0ms);
    c.codecs = {sdp::g722(), sdp::pcmu()};
    c.app_rate = rate;
    return c;
}

// Of the 20 ms frames from the first loud one to the last, how many are mostly `hz`, and how many
// frames that span is.
struct heard_tone {
    std::size_t span = 0;
    std::size_t tonal = 0;
};

heard_tone measure(const std::vector<std::int16_t>& heard, double hz) {
    std::optional<std::size_t> first, last;
    std::vector<bool> tonal_frame;
    for (std::size_t at = 0; at + frame <= heard.size(); at += frame) {
        const bool loud = test::rms(heard.data() + at, frame) >= 1000;
        if (loud && !first) first = tonal_frame.size();
        if (loud) last = tonal_frame.size();
        tonal_frame.push_back(test::tone_share(heard.data() + at, frame, hz, rate) > 0.8);
    }
    if (!first) return {};
    return {*last - *first + 1,
            static_cast<std::size_t>(std::count(tonal_frame.begin() + static_cast<std::ptrdiff_t>(*first),
                                                tonal_frame.begin() + static_cast<std::ptrdiff_t>(*last + 1), true))};
}

}  // namespace

TEST_CASE("call_media: G.722 negotiated, a 1 kHz tone crosses one way and 600 Hz the other", "[media][loopback][g722]") {
    if (!codec::g722_available) return;  // built without spandsp
    asio::io_context io;
    std::string error;
    auto a = ua::call_media::create(io, g722_media(), &error);
    auto b = ua::call_media::create(io, g722_media(), &error);
    INFO(error);
    REQUIRE(a);
    REQUIRE(b);
    const std::string answer = test::negotiate(*a, *b);
    REQUIRE_FALSE(answer.empty());
    CHECK(answer.find("a=rtpmap:9 G722/8000\r\n") != std::string::npos);
    CHECK(a->codec_name() == "G722/8000");
    CHECK(b->codec_name() == "G722/8000");

    std::vector<std::int16_t> heard_by_a, heard_by_b;
    a->audio()->on_frame([&](std::span<const std::int16_t> pcm) { heard_by_a.insert(heard_by_a.end(), pcm.begin(), pcm.end()); });
    b->audio()->on_frame([&](std::span<const std::int16_t> pcm) { heard_by_b.insert(heard_by_b.end(), pcm.begin(), pcm.end()); });
    bool a_done = false, b_done = false;
    a->audio()->on_drained([&] { a_done = true; });
    b->audio()->on_drained([&] { b_done = true; });
    // Half a second of silence first: the jitter buffers settle their delay (dropping a frame or two
    // as they do) before the tones start.
    run_for(io, 500ms);
    a->audio()->write(test::make_tone(1000, rate, 2.0));
    b->audio()->write(test::make_tone(600, rate, 2.0));
    REQUIRE(run_until(io, [&] { return a_done && b_done; }, 10s));
    run_for(io, 300ms);  // what is in flight and in the jitter buffers plays out

    const heard_tone at_b = measure(heard_by_b, 1000);
    const heard_tone at_a = measure(heard_by_a, 600);
    const rtp::jitter_stats jb = b->audio()->stats().jitter;
    INFO("B heard 1 kHz over " << at_b.span << " frames, " << at_b.tonal << " of them mostly 1 kHz; A heard 600 Hz over "
                               << at_a.span << " frames, " << at_a.tonal << " tonal");
    INFO("B's jitter buffer: played " << jb.played << " lost " << jb.lost << " concealed " << jb.concealed
                                      << " (stretched " << jb.stretched << ") late " << jb.late << " dropped " << jb.dropped
                                      << " resyncs " << jb.resyncs);
    // 2 s is 100 frames; one more or less at either end as the tone starts and stops mid-frame, and
    // the jitter buffer may drop one to follow the delay down.
    CHECK(at_b.span >= 98);
    CHECK(at_b.span <= 102);
    CHECK(at_b.tonal + 2 >= at_b.span);
    CHECK(at_a.span >= 98);
    CHECK(at_a.span <= 102);
    CHECK(at_a.tonal + 2 >= at_a.span);
    CHECK(b->stats().packets_lost == 0);
    CHECK(jb.lost == 0);
    CHECK(jb.resyncs == 0);
}

TEST_CASE("call_media: G.722 on the wire is PT 9, 160 octets and +160 timestamps per 20 ms, both ways",
          "[media][loopback][g722]") {
    if (!codec::g722_available) return;  // built without spandsp
    asio::io_context io;
    std::string error;
    ua::media_config cfg = g722_media();
    cfg.codecs = {sdp::g722()};
    auto a = ua::call_media::create(io, cfg, &error);
    INFO(error);
    REQUIRE(a);

    // The peer: a UDP socket, an offer of G.722 alone written by hand.
    udp::socket peer(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const std::uint16_t port = peer.local_endpoint().port();
    const std::string offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio " +
                              std::to_string(port) + " RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\na=ptime:20\r\na=sendrecv\r\n";
    const auto answer = a->answer(offer);
    INFO(a->last_error());
    REQUIRE(answer);
    CHECK(a->codec_name() == "G722/8000");
    const udp::endpoint a_rtp(asio::ip::make_address("127.0.0.1"), a->socket().rtp_port());

    // What A sends: every RTP packet's payload type, size and timestamp.
    struct seen {
        std::uint8_t pt;
        std::size_t size;
        std::uint32_t timestamp;
        std::uint16_t sequence;
    };
    std::vector<seen> received;
    std::array<std::uint8_t, 2048> in{};
    udp::endpoint from;
    std::function<void()> receive = [&] {
        peer.async_receive_from(asio::buffer(in), from, [&](std::error_code ec, std::size_t n) {
            if (ec) return;
            if (auto p = rtp::parse_packet(std::span<const std::uint8_t>(in.data(), n)); p && p->payload_type == 9)
                received.push_back({p->payload_type, p->payload.size(), p->timestamp, p->sequence});
            receive();
        });
    };
    receive();

    // What the peer sends: 300 ms of silence, 2 s of a 1 kHz tone and 300 ms of silence in G.722, 20 ms
    // per packet, timestamps +160 (RFC 3551 §4.5.2). The silence around the tone gives A's jitter
    // buffer time to settle before it and keeps it fed (no underrun at the end) after it.
    auto enc = codec::g722_encoder::create();
    REQUIRE(enc.has_value());
    std::vector<std::int16_t> tone(rate * 3 / 10, 0);
    const auto sine = test::make_tone(1000, rate, 2.0);
    tone.insert(tone.end(), sine.begin(), sine.end());
    tone.insert(tone.end(), rate * 3 / 10, 0);
    std::vector<std::int16_t> heard;
    a->audio()->on_frame([&](std::span<const std::int16_t> pcm) { heard.insert(heard.end(), pcm.begin(), pcm.end()); });
    a->audio()->write(test::make_tone(1000, rate, 1.0));
    asio::steady_timer pace(io);
    std::size_t sent = 0;
    std::array<std::uint8_t, frame / 2> payload{};
    std::array<std::uint8_t, 12 + frame / 2> wire{};
    auto next = std::chrono::steady_clock::now();
    std::function<void()> send = [&] {
        if (sent * frame >= tone.size()) return;
        REQUIRE(enc->encode(std::span<const std::int16_t>(tone).subspan(sent * frame, frame), payload).value() == 160);
        rtp::packet p;
        p.marker = sent == 0;
        p.payload_type = 9;
        p.sequence = static_cast<std::uint16_t>(1000 + sent);
        p.timestamp = static_cast<std::uint32_t>(50000 + 160 * sent);
        p.ssrc = 0x6722;
        p.payload = payload;
        const auto n = rtp::write_packet(p, wire);
        REQUIRE(n.has_value());
        peer.send_to(asio::buffer(wire.data(), *n), a_rtp);
        ++sent;
        next += 20ms;
        pace.expires_at(next);
        pace.async_wait([&](std::error_code ec) {
            if (!ec) send();
        });
    };
    send();
    REQUIRE(run_until(io, [&] { return sent * frame >= tone.size(); }, 10s));
    // A's jitter buffer while the peer's stream was under way (after it ends, the buffer conceals
    // until it gives up: that is the end of the stream, not a fault).
    const rtp::jitter_stats jb = a->audio()->stats().jitter;
    run_for(io, 300ms);

    // A's packets: all PT 9 and 160 octets; consecutive ones 160 timestamp units apart.
    REQUIRE(received.size() >= 100);  // 2.6 s of 20 ms packets, A sends silence after its tone
    std::size_t wrong_step = 0;
    for (std::size_t i = 0; i < received.size(); ++i) {
        CHECK(received[i].size == 160);
        if (i > 0 && received[i].sequence == static_cast<std::uint16_t>(received[i - 1].sequence + 1) &&
            received[i].timestamp - received[i - 1].timestamp != 160)
            ++wrong_step;
    }
    INFO(received.size() << " packets from A; first timestamp " << received.front().timestamp << ", last "
                         << received.back().timestamp);
    CHECK(wrong_step == 0);
    CHECK(received.back().timestamp - received.front().timestamp == 160 * (received.size() - 1));

    // The peer's packets played one frame each: no loss, no concealment, the tone heard.
    const heard_tone h = measure(heard, 1000);
    INFO("A's jitter buffer: received " << jb.received << " played " << jb.played << " lost " << jb.lost << " concealed "
                                        << jb.concealed << " (stretched " << jb.stretched << ") late " << jb.late << " dropped "
                                        << jb.dropped << " resyncs " << jb.resyncs);
    INFO("A heard 1 kHz over " << h.span << " frames, " << h.tonal << " of them mostly 1 kHz");
    CHECK(jb.received + 1 >= sent);  // the last may be on its way
    CHECK(jb.played + jb.dropped + 5 >= sent);  // the last few wait out the buffer's delay
    CHECK(jb.lost == 0);
    CHECK(jb.concealed <= jb.stretched + 1);
    CHECK(jb.resyncs == 0);
    CHECK(h.span >= 98);
    CHECK(h.span <= 102);
    CHECK(h.tonal + 2 >= h.span);
    peer.close();
}
