// media/audio_stream over 127.0.0.1: a tone sent by one stream arrives at the other as that tone,
// for G.711 and Opus, and RFC 4733 digits arrive as digits.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <stdexcept>
#include <vector>

#include "../unit/loopback.hpp"
#include "sipvoice/codec/g711.hpp"
#include "sipvoice/media/audio_stream.hpp"
#include "sipvoice/rtp/packet.hpp"

using namespace sipvoice;
using test::run_until;

namespace {

// Energy of the `freq` component relative to the whole signal (Goertzel), in [0, 1].
double tone_share(const std::vector<std::int16_t>& x, double freq, double rate) {
    double s1 = 0, s2 = 0, total = 0;
    const double k = 2 * std::cos(2 * std::numbers::pi * freq / rate);
    for (std::int16_t v : x) {
        const double s0 = v + k * s1 - s2;
        s2 = s1;
        s1 = s0;
        total += static_cast<double>(v) * v;
    }
    const double power = s1 * s1 + s2 * s2 - k * s1 * s2;
    return total > 0 ? 2 * power / (static_cast<double>(x.size()) * total) : 0;
}

struct pair_of_streams {
    explicit pair_of_streams(media::audio_stream_config cfg) {
        media::rtp_socket_config sc;
        sc.bind_address = "127.0.0.1";
        a = std::make_unique<media::rtp_socket>(io, sc);
        b = std::make_unique<media::rtp_socket>(io, sc);
        REQUIRE_FALSE(a->open());
        REQUIRE_FALSE(b->open());
        const auto lo = asio::ip::make_address("127.0.0.1");
        a->set_remote({lo, b->rtp_port()}, {lo, b->rtcp_port()});
        b->set_remote({lo, a->rtp_port()}, {lo, a->rtcp_port()});
        std::string error;
        sa = media::audio_stream::create(io, *a, cfg, &error);
        REQUIRE(sa);
        sb = media::audio_stream::create(io, *b, cfg, &error);
        REQUIRE(sb);
    }
    asio::io_context io;
    std::unique_ptr<media::rtp_socket> a, b;
    std::unique_ptr<media::audio_stream> sa, sb;
};

// n streams with default settings, each on its own RTP socket on 127.0.0.1.
void open_streams(asio::io_context& io, int n, std::vector<std::unique_ptr<media::rtp_socket>>& sockets,
                  std::vector<std::unique_ptr<media::audio_stream>>& streams) {
    for (int i = 0; i < n; ++i) {
        sockets.push_back(std::make_unique<media::rtp_socket>(io, media::rtp_socket_config{.bind_address = "127.0.0.1"}));
        REQUIRE_FALSE(sockets.back()->open());
        std::string error;
        streams.push_back(media::audio_stream::create(io, *sockets.back(), {}, &error));
        REQUIRE(streams.back());
    }
}

void tone_test(media::audio_stream_config cfg) {
    pair_of_streams p(cfg);
    const double rate = cfg.app_rate;
    std::vector<std::int16_t> tone(static_cast<std::size_t>(rate));  // one second of 440 Hz
    for (std::size_t i = 0; i < tone.size(); ++i)
        tone[i] = static_cast<std::int16_t>(8000 * std::sin(2 * std::numbers::pi * 440 * static_cast<double>(i) / rate));
    std::vector<std::int16_t> heard;
    bool drained = false;
    p.sb->on_frame([&](std::span<const std::int16_t> pcm) {
        CHECK(pcm.size() == p.sb->frame_samples());
        heard.insert(heard.end(), pcm.begin(), pcm.end());
    });
    p.sa->on_drained([&] { drained = true; });
    p.sa->write(tone);
    p.sa->start();
    p.sb->start();
    REQUIRE(run_until(p.io, [&] { return drained; }, std::chrono::seconds(5)));
    run_until(p.io, [] { return false; }, std::chrono::milliseconds(300));  // the jitter buffer's delay
    const auto stats = p.sb->stats();
    CHECK(stats.packets_received >= 50);
    // Somewhere in what b heard is the tone: a 200 ms window where 440 Hz carries most of the energy.
    double best = 0;
    const std::size_t window = static_cast<std::size_t>(rate / 5);
    for (std::size_t at = 0; at + window <= heard.size(); at += window / 2)
        best = std::max(best, tone_share(std::vector<std::int16_t>(heard.begin() + static_cast<std::ptrdiff_t>(at),
                                                                   heard.begin() + static_cast<std::ptrdiff_t>(at + window)),
                                         440, rate));
    INFO("share of 440 Hz in the best window: " << best);
    CHECK(best > 0.8);
}

}  // namespace

TEST_CASE("audio_stream: a 440 Hz tone crosses PCMU at 16 kHz application rate", "[media][loopback]") {
    media::audio_stream_config cfg;
    cfg.app_rate = 16000;
    tone_test(cfg);
}

TEST_CASE("audio_stream: a 440 Hz tone crosses Opus at 48 kHz", "[media][loopback]") {
    media::audio_stream_config cfg;
    cfg.app_rate = 48000;
    cfg.codec = "opus";
    cfg.clock_rate = 48000;
    cfg.channels = 2;
    cfg.payload_type = 111;
    tone_test(cfg);
}

TEST_CASE("audio_stream: RFC 4733 digits arrive once each, and flush drops queued audio", "[media][loopback]") {
    media::audio_stream_config cfg;
    cfg.telephone_event_payload_type = 101;
    pair_of_streams p(cfg);
    std::string digits;
    p.sb->on_dtmf([&](char d, std::chrono::milliseconds) { digits.push_back(d); });
    REQUIRE(p.sa->send_dtmf("12#"));
    CHECK_FALSE(p.sa->send_dtmf("x"));
    p.sa->start();
    p.sb->start();
    REQUIRE(run_until(p.io, [&] { return digits.size() >= 3; }, std::chrono::seconds(5)));
    run_until(p.io, [] { return false; }, std::chrono::milliseconds(300));
    CHECK(digits == "12#");

    std::vector<std::int16_t> speech(16000 * 2, 1000);
    p.sa->write(speech);
    CHECK(p.sa->queued_samples() == speech.size());
    p.sa->flush();
    CHECK(p.sa->queued_samples() == 0);
}

TEST_CASE("audio_stream: low latency, a tone crosses PCMU at 16 kHz and Opus at 48 kHz", "[media][loopback]") {
    media::audio_stream_config cfg;
    cfg.deliver_on_arrival = true;
    cfg.send_on_write = true;
    cfg.seed = 7;
    SECTION("PCMU") { tone_test(cfg); }
    SECTION("Opus") {
        cfg.codec = "opus";
        cfg.clock_rate = 48000;
        cfg.channels = 2;
        cfg.payload_type = 111;
        cfg.app_rate = 48000;
        tone_test(cfg);
    }
}

TEST_CASE("audio_stream: deliver_on_arrival hands a frame over in the handler that received its packet",
          "[media][loopback]") {
    const bool on_arrival = GENERATE(true, false);
    media::audio_stream_config cfg;
    cfg.deliver_on_arrival = on_arrival;
    pair_of_streams p(cfg);
    std::uint64_t frames = 0;
    p.sb->on_frame([&](std::span<const std::int16_t>) { ++frames; });
    p.sa->start();
    p.sb->start();
    // Every handler that brings b a packet: did b's application get a frame in the same handler?
    int packets = 0;
    int at_once = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(400);
    while (std::chrono::steady_clock::now() < until) {
        const auto received = p.sb->stats().packets_received;
        const auto before = frames;
        p.io.run_one_for(std::chrono::milliseconds(50));
        if (p.sb->stats().packets_received == received + 1) {
            ++packets;
            at_once += frames > before ? 1 : 0;
        }
    }
    INFO("on arrival: " << on_arrival << ", packets " << packets << ", frames at once " << at_once);
    CHECK(packets >= 10);
    if (on_arrival) CHECK(at_once == packets);
    else CHECK(at_once == 0);  // the jitter buffer holds it for a later tick
}

TEST_CASE("audio_stream: send_on_write sends the first frame after silence at once, and tells on_playing",
          "[media][loopback]") {
    const bool on_write = GENERATE(true, false);
    media::audio_stream_config cfg;
    cfg.send_on_write = on_write;
    pair_of_streams p(cfg);
    std::vector<sipvoice::time_point> playing;
    bool drained = false;
    p.sa->on_playing([&](sipvoice::time_point t) { playing.push_back(t); });
    p.sa->on_drained([&] { drained = true; });
    p.sa->start();
    p.sb->start();
    run_until(p.io, [] { return false; }, std::chrono::milliseconds(100));  // silence flows
    const std::vector<std::int16_t> reply(p.sa->frame_samples() * 3, 1000);
    auto sent = p.a->packets_sent();
    p.sa->write(reply);
    INFO("send_on_write: " << on_write);
    CHECK(p.a->packets_sent() == sent + (on_write ? 1 : 0));
    CHECK(playing.size() == (on_write ? 1U : 0U));
    // More audio while the reply plays goes out on the ticks.
    sent = p.a->packets_sent();
    p.sa->write(reply);
    CHECK(p.a->packets_sent() == sent);
    REQUIRE(run_until(p.io, [&] { return drained; }, std::chrono::seconds(2)));
    CHECK(playing.size() == 1);
    // After the queue ran empty (a silence frame went out), the next reply starts at once again.
    drained = false;
    sent = p.a->packets_sent();
    p.sa->write(reply);
    CHECK(p.a->packets_sent() == sent + (on_write ? 1 : 0));
    REQUIRE(run_until(p.io, [&] { return drained; }, std::chrono::seconds(2)));
    CHECK(playing.size() == 2);
    // Written on hold: nothing goes out.
    p.sa->set_sending(false);
    sent = p.a->packets_sent();
    p.sa->write(reply);
    CHECK(p.a->packets_sent() == sent);
}

TEST_CASE("audio_stream: send_on_write does not send from inside the stream's own tick", "[media][loopback]") {
    // Audio written by a handler that the tick calls (here on_drained) waits for a tick: sending at
    // once would restart the ticks that this one is about to schedule.
    media::audio_stream_config cfg;
    cfg.send_on_write = true;
    pair_of_streams p(cfg);
    const std::vector<std::int16_t> reply(p.sa->frame_samples() * 2, 1000);
    int drained = 0;
    std::uint64_t sent_in_handler = 0;
    p.sa->on_drained([&] {
        if (++drained > 1) return;
        const auto before = p.a->packets_sent();
        p.sa->write(reply);
        sent_in_handler = p.a->packets_sent() - before;
    });
    p.sa->start();
    p.sb->start();
    p.sa->write(reply);
    REQUIRE(run_until(p.io, [&] { return drained >= 2; }, std::chrono::seconds(2)));
    CHECK(sent_in_handler == 0);
}

TEST_CASE("audio_stream: the streams of one io_context tick on their own phases; stop and destruction end it",
          "[media][loopback]") {
    asio::io_context io;
    constexpr int streams = 4;
    std::vector<std::unique_ptr<media::rtp_socket>> sockets;
    std::vector<std::unique_ptr<media::audio_stream>> s;
    open_streams(io, streams, sockets, s);
    std::vector<int> frames(streams, 0);
    for (int i = 0; i < streams; ++i)
        s[static_cast<std::size_t>(i)]->on_frame([&frames, i](std::span<const std::int16_t>) { ++frames[static_cast<std::size_t>(i)]; });
    // Started 7 ms apart: each on its own phase. Every tick hands the application a frame (silence here).
    for (auto& stream : s) {
        stream->start();
        run_until(io, [] { return false; }, std::chrono::milliseconds(7));
    }
    run_until(io, [] { return false; }, std::chrono::milliseconds(500));
    for (int n : frames) {
        CHECK(n >= 15);  // 25 due; the bound leaves room for a slow machine, not for a stopped clock
        CHECK(n <= 30);
    }
    s[1]->stop();
    s[2].reset();  // destroyed while its next tick is scheduled
    const std::vector<int> at_stop = frames;
    run_until(io, [] { return false; }, std::chrono::milliseconds(300));
    CHECK(frames[1] == at_stop[1]);
    CHECK(frames[2] == at_stop[2]);
    CHECK(frames[0] > at_stop[0] + 5);
    CHECK(frames[3] > at_stop[3] + 5);
    s[1]->start();  // and again
    run_until(io, [] { return false; }, std::chrono::milliseconds(200));
    CHECK(frames[1] > at_stop[1] + 3);
}

TEST_CASE("audio_stream: what the frame handler writes goes out whole and in order", "[media][loopback]") {
    // The frame handler writes a frame and a half per tick for 20 ticks: the first frame of each
    // write goes out in the same tick (from the thread's stage while nothing is queued), the rest
    // waits in the stream's queue, and the queue drains after the writes stop. Every sample is a
    // G.711 level (exact through PCMU) naming its half frame, and the peer is a bare socket that
    // decodes what arrives, so no jitter buffer or concealment stands between.
    media::audio_stream_config cfg;
    cfg.app_rate = 8000;  // no resampling: the samples go out as written
    pair_of_streams p(cfg);
    p.sb.reset();  // b is only a socket here
    std::map<std::uint16_t, std::vector<std::int16_t>> arrived;  // by sequence number
    p.b->on_rtp([&](std::span<const std::uint8_t> datagram, time_point) {
        auto pkt = rtp::parse_packet(datagram);
        REQUIRE(pkt);
        std::vector<std::int16_t> pcm(pkt->payload.size());
        codec::g711::decode_ulaw(pkt->payload, pcm);
        arrived[pkt->sequence] = pcm;
    });
    auto label = [](std::size_t sample) {  // codes 0xFE down to 0xB3: positive levels, none of them 0
        return codec::g711::ulaw_to_linear(static_cast<std::uint8_t>(0xFE - sample / 80));
    };
    constexpr std::size_t chunk = 240;
    constexpr int writes = 20;
    std::size_t written = 0;
    int ticks = 0;
    bool counted = true;
    p.sa->on_frame([&](std::span<const std::int16_t>) {
        if (ticks++ >= writes) return;
        const std::size_t before = p.sa->queued_samples();
        std::vector<std::int16_t> pcm(chunk);
        for (std::size_t i = 0; i < chunk; ++i) pcm[i] = label(written + i);
        p.sa->write(pcm);
        written += chunk;
        counted = counted && p.sa->queued_samples() == before + chunk;
    });
    p.sa->start();
    REQUIRE(run_until(p.io, [&] { return ticks > writes + writes / 2 + 5; }, std::chrono::seconds(5)));
    CHECK(counted);  // queued_samples() counts what waits on the stage
    CHECK(p.sa->queued_samples() == 0);
    std::vector<std::int16_t> heard;
    for (const auto& [seq, pcm] : arrived)
        for (std::int16_t v : pcm)
            if (v != 0) heard.push_back(v);  // silence before and after
    INFO("packets " << arrived.size() << ", frames sent " << p.sa->stats().frames_sent << ", ticks " << ticks);
    REQUIRE(heard.size() == written);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < heard.size(); ++i) wrong += heard[i] != label(i) ? 1 : 0;
    CHECK(wrong == 0);
    CHECK(p.sa->stats().frames_sent >= written / 160);
}

TEST_CASE("audio_stream: a flush from the frame handler drops what it wrote in that tick", "[media][loopback]") {
    media::audio_stream_config cfg;
    cfg.send_silence = false;  // so that frames_sent counts audio only
    pair_of_streams p(cfg);
    int ticks = 0;
    std::size_t after_flush = 1;
    p.sa->on_frame([&](std::span<const std::int16_t>) {
        if (++ticks != 3) return;
        p.sa->write(std::vector<std::int16_t>(400, 1000));
        p.sa->flush();
        after_flush = p.sa->queued_samples();
    });
    p.sa->start();
    p.sb->start();
    REQUIRE(run_until(p.io, [&] { return ticks > 8; }, std::chrono::seconds(5)));
    CHECK(after_flush == 0);
    CHECK(p.sa->stats().frames_sent == 0);
    CHECK(p.sa->queued_samples() == 0);
}

// Starts the streams within one millisecond of the clock, so that their ticks fall due in the same
// slot of the tick clock and run as one batch (started again when a millisecond ended meanwhile).
void start_together(std::vector<std::unique_ptr<media::audio_stream>>& s) {
    const auto ms = [] { return std::chrono::floor<std::chrono::milliseconds>(std::chrono::steady_clock::now()); };
    for (int attempt = 0; attempt < 20; ++attempt) {
        const auto before = ms();
        while (ms() == before) {
        }
        const auto at = ms();
        for (auto& stream : s) stream->start();
        if (ms() == at) return;
        for (auto& stream : s) stream->stop();
    }
    FAIL("could not start the streams within one millisecond");
}

TEST_CASE("audio_stream: a frame handler that throws out of run() leaves every stream ticking", "[media][loopback]") {
    asio::io_context io;
    constexpr int streams = 12;  // more than the tick clock fetches ahead, all due in the same millisecond
    std::vector<std::unique_ptr<media::rtp_socket>> sockets;
    std::vector<std::unique_ptr<media::audio_stream>> s;
    open_streams(io, streams, sockets, s);
    std::vector<int> frames(streams, 0);
    for (int i = 0; i < streams; ++i) {
        s[static_cast<std::size_t>(i)]->on_frame([&frames, i](std::span<const std::int16_t>) {
            // The first stream throws at its 5th frame, before the other streams of that tick ran.
            if (++frames[static_cast<std::size_t>(i)] == 5 && i == 0) throw std::runtime_error("handler");
        });
    }
    start_together(s);
    int thrown = 0;
    const auto run_catching = [&](auto done) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!done() && std::chrono::steady_clock::now() < end) {
            try {
                io.run_for(std::chrono::milliseconds(5));
            } catch (const std::runtime_error&) {
                ++thrown;
            }
            if (io.stopped()) io.restart();
        }
        return done();
    };
    REQUIRE(run_catching([&] { return thrown == 1; }));
    const std::vector<int> after_throw = frames;
    const bool all_on = run_catching([&] {
        for (int i = 0; i < streams; ++i)
            if (frames[static_cast<std::size_t>(i)] < after_throw[static_cast<std::size_t>(i)] + 8) return false;
        return true;
    });
    for (int i = 0; i < streams; ++i) {
        INFO("stream " << i);
        CHECK(frames[static_cast<std::size_t>(i)] >= after_throw[static_cast<std::size_t>(i)] + 8);
    }
    CHECK(all_on);
    CHECK(thrown == 1);
}

TEST_CASE("audio_stream: a frame handler may stop or destroy streams due in the same tick", "[media][loopback]") {
    asio::io_context io;
    constexpr int streams = 12;  // all due in the same millisecond: the next three already locked ahead
    std::vector<std::unique_ptr<media::rtp_socket>> sockets;
    std::vector<std::unique_ptr<media::audio_stream>> s;
    open_streams(io, streams, sockets, s);
    std::vector<int> frames(streams, 0);
    bool done = false;
    for (int i = 0; i < streams; ++i) {
        s[static_cast<std::size_t>(i)]->on_frame([&, i](std::span<const std::int16_t>) {
            if (++frames[static_cast<std::size_t>(i)] != 5 || i != 0) return;
            s[1]->stop();
            s[2].reset();  // the stream, then its socket
            sockets[2].reset();
            s[3].reset();
            // Beyond the streams locked ahead: stopped, its socket gone. The tick clock must not ask
            // it to prefetch (through its socket) once it is stopped; ASan sees that.
            s[7]->stop();
            sockets[7].reset();
            done = true;
        });
    }
    start_together(s);
    REQUIRE(run_until(io, [&] { return done; }, std::chrono::seconds(5)));
    const std::vector<int> at_stop = frames;
    const auto running = [](int i) { return i != 1 && i != 2 && i != 3 && i != 7; };
    const bool all_on = run_until(io, [&] {
        for (int i = 0; i < streams; ++i)
            if (running(i) && frames[static_cast<std::size_t>(i)] < at_stop[static_cast<std::size_t>(i)] + 8) return false;
        return true;
    }, std::chrono::seconds(5));
    CHECK(all_on);
    for (int i = 0; i < streams; ++i) {
        INFO("stream " << i);
        if (!running(i)) CHECK(frames[static_cast<std::size_t>(i)] == at_stop[static_cast<std::size_t>(i)]);
    }
}
