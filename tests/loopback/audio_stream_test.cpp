// media/audio_stream over 127.0.0.1: a tone sent by one stream arrives at the other as that tone,
// for G.711 and Opus, and RFC 4733 digits arrive as digits.
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>
#include <vector>

#include "../unit/loopback.hpp"
#include "sipvoice/media/audio_stream.hpp"

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
