// ua/call_media through an impaired network: a UDP relay inside the test sits between two calls'
// media (their SDP rewritten to point at it) and drops 5% of one direction's RTP at random (fixed
// seed) and holds back some packets by one to three packet times, so they arrive out of order. A
// 440 Hz tone crosses it for 3 s, with PCMU and with Opus: the receiver hears the tone, its jitter
// buffer conceals about one frame per dropped packet and no more, and the sender's RTCP shows what
// the receiver reported losing.
#include <catch2/catch.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <algorithm>
#include <memory>
#include <optional>
#include <random>

#include "media_helpers.hpp"

using namespace sipvoice;
using namespace std::chrono_literals;
using asio::ip::udp;
using test::run_for;
using test::run_until;

namespace {

// Two sockets: `to_a` is where A's packets arrive (and what B's packets leave A's way from), `to_b`
// the same for B. Only RTP from A toward B is impaired; RTCP (rtcp-mux: types 192-223) and B's RTP
// pass untouched, so the reports that measure the loss are not themselves lost.
class lossy_relay {
public:
    lossy_relay(asio::io_context& io, double loss, double delay_share, std::uint32_t seed)
        : io_(io), to_a_(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
          to_b_(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), loss_(loss), delay_share_(delay_share),
          rng_(seed) {}

    void start(std::uint16_t a_port, std::uint16_t b_port) {
        const auto lo = asio::ip::make_address("127.0.0.1");
        a_ = udp::endpoint(lo, a_port);
        b_ = udp::endpoint(lo, b_port);
        receive(to_a_, rx_a_, true);
        receive(to_b_, rx_b_, false);
    }
    // What A must be told B's port is, and B A's.
    [[nodiscard]] std::uint16_t port_for_a() const { return to_a_.local_endpoint().port(); }
    [[nodiscard]] std::uint16_t port_for_b() const { return to_b_.local_endpoint().port(); }
    void impair(bool on) { impair_ = on; }

    std::uint64_t forwarded = 0;  // RTP from A that went on (at once or later)
    std::uint64_t dropped = 0;
    std::uint64_t delayed = 0;

private:
    struct rx {
        std::array<std::uint8_t, 2048> buffer{};
        udp::endpoint from;
    };

    void receive(udp::socket& s, rx& r, bool from_a) {
        s.async_receive_from(asio::buffer(r.buffer), r.from, [this, &s, &r, from_a](std::error_code ec, std::size_t n) {
            if (ec) return;
            std::vector<std::uint8_t> packet(r.buffer.begin(), r.buffer.begin() + static_cast<std::ptrdiff_t>(n));
            const bool rtcp = n >= 2 && packet[1] >= 192 && packet[1] <= 223;
            if (from_a && !rtcp && impair_) {
                const double u = uniform_(rng_);
                if (u < loss_) {
                    ++dropped;
                } else if (u < loss_ + delay_share_) {
                    ++delayed;
                    ++forwarded;
                    // Behind its next one to three successors: 20-60 ms plus a little.
                    const auto hold = std::chrono::milliseconds(20 * std::uniform_int_distribution<int>(1, 3)(rng_) + 5);
                    auto timer = std::make_shared<asio::steady_timer>(io_, hold);
                    timer->async_wait([this, timer, p = std::move(packet)](std::error_code e) {
                        if (!e) send(to_b_, b_, p);
                    });
                } else {
                    ++forwarded;
                    send(to_b_, b_, packet);
                }
            } else {
                send(from_a ? to_b_ : to_a_, from_a ? b_ : a_, packet);
            }
            receive(s, r, from_a);
        });
    }

    static void send(udp::socket& s, const udp::endpoint& to, const std::vector<std::uint8_t>& p) {
        std::error_code ignored;
        s.send_to(asio::buffer(p), to, 0, ignored);
    }

    asio::io_context& io_;
    udp::socket to_a_, to_b_;
    rx rx_a_, rx_b_;
    udp::endpoint a_, b_;
    double loss_, delay_share_;
    std::mt19937 rng_;
    std::uniform_real_distribution<double> uniform_{0.0, 1.0};
    bool impair_ = true;
};

std::string with_port(std::string sdp, std::uint16_t port) {
    const auto at = sdp.find("m=audio ");
    REQUIRE(at != std::string::npos);
    const auto end = sdp.find(' ', at + 8);
    sdp.replace(at + 8, end - (at + 8), std::to_string(port));
    return sdp;
}

void tone_through_loss(const sdp::codec& codec, std::uint32_t app_rate, std::uint32_t seed) {
    asio::io_context io;
    ua::media_config cfg = test::loopback_media(500ms, 0ms, true);
    cfg.codecs = {codec};
    cfg.app_rate = app_rate;
    std::string error;
    auto a = ua::call_media::create(io, cfg, &error);
    auto b = ua::call_media::create(io, cfg, &error);
    REQUIRE(a);
    REQUIRE(b);
    lossy_relay relay(io, 0.05, 0.05, seed);
    relay.start(a->socket().rtp_port(), b->socket().rtp_port());

    // A offers (B is told to send to the relay), B answers (A is told the same).
    const auto answer = b->answer(with_port(a->offer(), relay.port_for_b()));
    REQUIRE(answer);
    REQUIRE(a->on_answer(with_port(*answer, relay.port_for_a())));
    INFO("codec " << a->codec_name());

    std::vector<std::int16_t> heard;
    b->audio()->on_frame([&](std::span<const std::int16_t> pcm) { heard.insert(heard.end(), pcm.begin(), pcm.end()); });
    // The fraction lost of each report A receives (RFC 3550 §6.4.1), while the tone is under way.
    std::vector<double> fractions;
    std::uint64_t reports_seen = 0;
    bool drained = false;
    a->audio()->on_drained([&] { drained = true; });
    a->audio()->write(test::make_tone(440, app_rate, 3.0));
    REQUIRE(run_until(io, [&] {
        const ua::media_stats s = a->stats();
        if (s.rtcp_received > reports_seen && s.remote_fraction_lost) fractions.push_back(*s.remote_fraction_lost);
        reports_seen = s.rtcp_received;
        return drained;
    }, 10s));
    // The network heals; the stream goes on (silence), so every drop is followed by packets that
    // reveal it, everything held back arrives and plays, and B reports on all of it.
    relay.impair(false);
    run_for(io, 600ms);
    const std::uint64_t rtcp_before = a->stats().rtcp_received;
    REQUIRE(run_until(io, [&] { return a->stats().rtcp_received >= rtcp_before + 1; }, 5s));

    const ua::media_stats sa = a->stats();
    const ua::media_stats sb = b->stats();
    const rtp::jitter_stats jb = b->audio()->stats().jitter;
    double mean_fraction = 0;
    for (double f : fractions) mean_fraction += f / static_cast<double>(fractions.size());
    INFO("relay: forwarded " << relay.forwarded << ", dropped " << relay.dropped << ", delayed " << relay.delayed);
    INFO("B's jitter buffer: played " << jb.played << " lost " << jb.lost << " late " << jb.late << " concealed "
                                      << jb.concealed << " (stretched " << jb.stretched << ") dropped " << jb.dropped
                                      << " duplicates " << jb.duplicates << " resyncs " << jb.resyncs);
    INFO("A's RTCP: " << fractions.size() << " reports, mean fraction lost " << mean_fraction << ", cumulative "
                      << sa.remote_packets_lost << ", rtt " << sa.rtt_ms.value_or(-1) << " ms; B: lost " << sb.packets_lost
                      << " jitter " << sb.jitter_ms << " ms");

    // The impairment happened as configured (the seed fixes which packets; about 5% each).
    const double sent = static_cast<double>(relay.forwarded + relay.dropped);
    REQUIRE(sent >= 150);
    CHECK(static_cast<double>(relay.dropped) / sent > 0.02);
    CHECK(static_cast<double>(relay.dropped) / sent < 0.09);
    CHECK(relay.delayed >= 3);

    // B's jitter buffer: every lost frame is a dropped packet or one held back longer than the
    // buffer's delay (counted late); nothing else goes missing.
    CHECK(jb.lost == relay.dropped + jb.late);
    CHECK(jb.late <= relay.delayed + 2);  // + a stalled pull on a loaded machine
    CHECK(jb.resyncs == 0);
    CHECK(jb.duplicates == 0);
    // Underruns beyond the losses: `conceal` frames not asked for by the adaptation (a `conceal`
    // may also stand in for a lost packet whose successor is not here yet).
    CHECK(jb.concealed <= jb.stretched + jb.lost + 2);
    CHECK(jb.stretched <= 8);

    // B's RTP statistics (RFC 3550 A.3): expected minus received is exactly the drops (late packets
    // did arrive), and A reads the same number in B's last report.
    CHECK(sb.packets_lost == static_cast<std::int64_t>(relay.dropped));
    CHECK(sa.remote_packets_lost == static_cast<std::int64_t>(relay.dropped));
    // The fraction per report is about 5% on average (each report covers only ~25 packets, so one
    // alone varies).
    REQUIRE(fractions.size() >= 3);
    CHECK(mean_fraction > 0.015);
    CHECK(mean_fraction < 0.12);
    REQUIRE(sa.rtt_ms);
    CHECK(*sa.rtt_ms < 250);

    // The tone is what B heard, frame by frame (a concealed frame may be out of phase with the
    // tone, so longer windows would measure the phase, not the sound): every frame with sound in it
    // is mostly 440 Hz, but for about one per lost packet, and there are about 3 s of them.
    const std::size_t frame = app_rate / 50;
    std::optional<std::size_t> first, last;
    std::vector<bool> tonal_frame;
    for (std::size_t at = 0; at + frame <= heard.size(); at += frame) {
        const bool loud = test::rms(heard.data() + at, frame) >= 1000;
        if (loud && !first) first = tonal_frame.size();
        if (loud) last = tonal_frame.size();
        tonal_frame.push_back(test::tone_share(heard.data() + at, frame, 440, app_rate) > 0.7);
    }
    REQUIRE(first);
    const std::size_t span = *last - *first + 1;  // concealment may fade a frame, so not "loud" alone
    const auto tonal = static_cast<std::size_t>(std::count(tonal_frame.begin() + static_cast<std::ptrdiff_t>(*first),
                                                           tonal_frame.begin() + static_cast<std::ptrdiff_t>(*last + 1), true));
    INFO("tone heard over " << span << " frames, " << tonal << " of them mostly 440 Hz");
    CHECK(span >= 145);
    CHECK(span <= 155);
    CHECK(span - tonal <= jb.lost + 2);
}

}  // namespace

TEST_CASE("call_media: a tone through 5% loss and reordering, PCMU", "[media][loopback]") {
    tone_through_loss(sdp::pcmu(), 8000, 6);
}

TEST_CASE("call_media: a tone through 5% loss and reordering, Opus", "[media][loopback]") {
    tone_through_loss(sdp::opus(), 48000, 11);
}
