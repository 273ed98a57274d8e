// ua/call_media over 127.0.0.1: two calls' media negotiate with each other and exchange RTP and RTCP
// on real sockets: reports with round-trip time and loss, the BYE at the end, the RTP timeout, hold
// and unhold in both directions (RFC 3264 §8.4), a refused re-offer.
#include <catch2/catch.hpp>
#include <chrono>
#include <utility>

#include "media_helpers.hpp"

using namespace sipvoice;
using namespace std::chrono_literals;
using test::run_for;
using test::run_until;

namespace {

std::unique_ptr<ua::call_media> make_media(asio::io_context& io, const ua::media_config& cfg) {
    std::string error;
    auto m = ua::call_media::create(io, cfg, &error);
    INFO(error);
    REQUIRE(m);
    return m;
}

bool has_line(const std::string& sdp, const std::string& line) { return sdp.find(line + "\r\n") != std::string::npos; }

// RTP packets each side received during `window`, after `settle` for what was under way to arrive.
std::pair<std::uint64_t, std::uint64_t> flow(asio::io_context& io, ua::call_media& a, ua::call_media& b,
                                             std::chrono::milliseconds window = 1000ms) {
    run_for(io, 200ms);
    const auto a0 = a.stats().packets_received, b0 = b.stats().packets_received;
    run_for(io, window);
    return {a.stats().packets_received - a0, b.stats().packets_received - b0};
}

}  // namespace

TEST_CASE("call_media: RTCP reports both ways give round-trip time and no loss, and stop() sends a BYE", "[media][loopback]") {
    const bool mux = GENERATE(false, true);
    INFO("rtcp-mux " << mux);
    asio::io_context io;
    auto a = make_media(io, test::loopback_media(500ms, 0ms, mux));
    auto b = make_media(io, test::loopback_media(500ms, 0ms, mux));
    REQUIRE_FALSE(test::negotiate(*a, *b).empty());
    CHECK(a->negotiated()->rtcp_mux == mux);
    // Both send (silence, with nothing written) and report; 3 s is about five report intervals.
    run_for(io, 3000ms);
    REQUIRE(run_until(io, [&] { return a->stats().rtt_ms && b->stats().rtt_ms; }, 10s));
    for (ua::call_media* m : {a.get(), b.get()}) {
        const ua::media_stats s = m->stats();
        INFO("sent " << s.packets_sent << " received " << s.packets_received << " lost " << s.packets_lost << " jitter "
                     << s.jitter_ms << " ms rtt " << s.rtt_ms.value_or(-1) << " ms rtcp " << s.rtcp_sent << "/"
                     << s.rtcp_received);
        CHECK(s.packets_sent >= 100);
        CHECK(s.packets_received >= 100);
        CHECK(s.packets_lost == 0);
        CHECK(s.jitter_ms < 100);
        // A.7 with a 500 ms minimum: the first after about 250 ms, then every 0.25-0.9 s (randomized);
        // a report per 20 ms tick would be 150.
        CHECK(s.rtcp_sent >= 3);
        CHECK(s.rtcp_sent <= 16);
        CHECK(s.rtcp_received >= 3);
        REQUIRE(s.rtt_ms);
        CHECK(*s.rtt_ms >= 0);
        CHECK(*s.rtt_ms < 250);  // loopback: well under a millisecond unloaded
        REQUIRE(s.remote_fraction_lost);
        CHECK(*s.remote_fraction_lost == 0);
        CHECK(s.remote_packets_lost == 0);
        CHECK_FALSE(s.remote_bye);
    }
    a->stop();
    REQUIRE(run_until(io, [&] { return b->stats().remote_bye; }, 5s));
    const auto rtcp_after_bye = a->stats().rtcp_sent;
    run_for(io, 1000ms);
    CHECK(a->stats().rtcp_sent == rtcp_after_bye);  // nothing after the BYE
    CHECK_FALSE(a->stats().remote_bye);
}

TEST_CASE("call_media: rtcp_interval 0 sends no RTCP, and no BYE", "[media][loopback]") {
    asio::io_context io;
    auto a = make_media(io, test::loopback_media(0ms, 0ms));
    auto b = make_media(io, test::loopback_media(500ms, 0ms));
    REQUIRE_FALSE(test::negotiate(*a, *b).empty());
    run_for(io, 1500ms);
    CHECK(a->stats().rtcp_sent == 0);
    CHECK(b->stats().rtcp_received == 0);
    CHECK(a->stats().rtcp_received >= 1);  // b's reports are still read
    CHECK(b->stats().packets_received >= 50);
    a->stop();
    run_for(io, 300ms);
    CHECK_FALSE(b->stats().remote_bye);
}

TEST_CASE("call_media: the RTP timeout fires once when the peer's RTP stops, never while the call is held", "[media][loopback]") {
    asio::io_context io;
    const auto timeout = 300ms;
    auto a = make_media(io, test::loopback_media(1000ms, timeout));
    auto b = make_media(io, test::loopback_media(1000ms, timeout));
    int fired_a = 0, fired_b = 0;
    a->on_rtp_timeout([&] { ++fired_a; });
    b->on_rtp_timeout([&] { ++fired_b; });
    REQUIRE_FALSE(test::negotiate(*a, *b).empty());
    run_for(io, 1000ms);
    CHECK(fired_a == 0);
    CHECK(fired_b == 0);

    SECTION("inactive: nobody sends, nobody waits for RTP") {
        a->set_direction(sdp::direction::inactive);
        CHECK(has_line(test::negotiate(*a, *b), "a=inactive"));
        const auto [to_a, to_b] = flow(io, *a, *b, 1500ms);  // five timeouts
        CHECK(to_a == 0);
        CHECK(to_b == 0);
        CHECK(fired_a == 0);
        CHECK(fired_b == 0);
    }
    SECTION("held with sendonly by a holder that sends no music: the held side does not time out") {
        a->set_direction(sdp::direction::sendonly);
        CHECK(has_line(test::negotiate(*a, *b), "a=recvonly"));
        a->audio()->set_sending(false);  // RFC 3264 §8.4 allows a sendonly holder to send nothing
        const auto [to_a, to_b] = flow(io, *a, *b, 1500ms);
        CHECK(to_a == 0);
        CHECK(to_b == 0);
        CHECK(fired_a == 0);
        CHECK(fired_b == 0);
    }
    SECTION("we asked for recvonly (not a hold): the peer's sendonly answer means it must send") {
        a->set_direction(sdp::direction::recvonly);
        CHECK(has_line(test::negotiate(*a, *b), "a=sendonly"));
        CHECK(a->negotiated()->remote_hold);  // which alone would look like a hold
        const auto [to_a, to_b] = flow(io, *a, *b, 600ms);
        CHECK(to_a >= 20);
        CHECK(to_b == 0);
        const auto stopped_at = clock::now();
        b->stop();
        REQUIRE(run_until(io, [&] { return fired_a == 1; }, 5s));
        CHECK(clock::now() - stopped_at >= timeout / 2);
        CHECK(fired_b == 0);
    }
    SECTION("after an unhold the wait starts again; the peer's RTP stopping fires it once") {
        a->set_direction(sdp::direction::inactive);
        REQUIRE_FALSE(test::negotiate(*a, *b).empty());
        run_for(io, 1000ms);
        a->set_direction(sdp::direction::sendrecv);
        CHECK(has_line(test::negotiate(*a, *b), "a=sendrecv"));
        const auto [to_a, to_b] = flow(io, *a, *b, 600ms);
        CHECK(to_a >= 20);
        CHECK(to_b >= 20);
        CHECK(fired_a == 0);
        const auto stopped_at = clock::now();
        b->stop();
        REQUIRE(run_until(io, [&] { return fired_a == 1; }, 5s));
        const auto waited = clock::now() - stopped_at;
        INFO("fired after " << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms");
        // Not before the timeout since the last packet, which came shortly before stop().
        CHECK(waited >= timeout / 2);
        run_for(io, 1500ms);
        CHECK(fired_a == 1);  // once
        CHECK(fired_b == 0);  // b stopped: no timer of its own runs
    }
}

TEST_CASE("call_media: hold and unhold, ours and the peer's: RTP each way as the directions say", "[media][loopback]") {
    asio::io_context io;
    auto a = make_media(io, test::loopback_media(500ms, 0ms));
    auto b = make_media(io, test::loopback_media(500ms, 0ms));
    REQUIRE_FALSE(test::negotiate(*a, *b).empty());
    {
        const auto [to_a, to_b] = flow(io, *a, *b);
        CHECK(to_a >= 30);
        CHECK(to_b >= 30);
    }
    // We hold with sendonly: the answer says recvonly; we may go on sending (music on hold), the
    // peer sends nothing (RFC 3264 §6.1).
    a->set_direction(sdp::direction::sendonly);
    {
        const std::string answer = test::negotiate(*a, *b);
        CHECK(has_line(answer, "a=recvonly"));
        CHECK(a->negotiated()->direction == sdp::direction::sendonly);
        CHECK(b->negotiated()->direction == sdp::direction::recvonly);
        CHECK(b->negotiated()->remote_hold);
        const auto [to_a, to_b] = flow(io, *a, *b);
        CHECK(to_a == 0);
        CHECK(to_b >= 30);
    }
    // Inactive: nothing either way, but RTCP goes on (RFC 3264 §5.1).
    a->set_direction(sdp::direction::inactive);
    {
        CHECK(has_line(test::negotiate(*a, *b), "a=inactive"));
        const auto rtcp_a = a->stats().rtcp_received, rtcp_b = b->stats().rtcp_received;
        const auto [to_a, to_b] = flow(io, *a, *b, 1500ms);
        CHECK(to_a == 0);
        CHECK(to_b == 0);
        CHECK(a->stats().rtcp_received > rtcp_a);
        CHECK(b->stats().rtcp_received > rtcp_b);
    }
    // Unhold: two-way audio again.
    a->set_direction(sdp::direction::sendrecv);
    {
        CHECK(has_line(test::negotiate(*a, *b), "a=sendrecv"));
        const auto [to_a, to_b] = flow(io, *a, *b);
        CHECK(to_a >= 30);
        CHECK(to_b >= 30);
    }
    // The peer holds us with sendonly: we answer recvonly and stop sending.
    b->set_direction(sdp::direction::sendonly);
    {
        CHECK(has_line(test::negotiate(*b, *a), "a=recvonly"));
        CHECK(a->negotiated()->direction == sdp::direction::recvonly);
        CHECK_FALSE(a->audio()->sending());
        const auto [to_a, to_b] = flow(io, *a, *b);
        CHECK(to_a >= 30);
        CHECK(to_b == 0);
        CHECK_FALSE(a->audio()->send_dtmf("1"));  // no events on hold either
    }
    b->set_direction(sdp::direction::sendrecv);
    {
        CHECK(has_line(test::negotiate(*b, *a), "a=sendrecv"));
        const auto [to_a, to_b] = flow(io, *a, *b);
        CHECK(to_a >= 30);
        CHECK(to_b >= 30);
    }
    // A refused re-offer (488 to a hold): the previous negotiation stays, and the offer is no longer
    // outstanding, so the peer's next offer is answered (not 491).
    a->set_direction(sdp::direction::sendonly);
    (void)a->offer();
    a->on_offer_rejected();
    a->set_direction(sdp::direction::sendrecv);
    CHECK(a->negotiated()->direction == sdp::direction::sendrecv);
    CHECK(has_line(test::negotiate(*b, *a), "a=sendrecv"));
    {
        const auto [to_a, to_b] = flow(io, *a, *b);
        CHECK(to_a >= 30);
        CHECK(to_b >= 30);
    }
    // An RFC 2543 hold from the peer (c=0.0.0.0): not a packet goes toward 0.0.0.0, RTCP included
    // (the kernel would deliver it to this host).
    {
        std::string offer = b->offer();
        const auto at = offer.find("c=IN IP4 127.0.0.1");
        REQUIRE(at != std::string::npos);
        offer.replace(at, 18, "c=IN IP4 0.0.0.0");
        const auto answer = a->answer(offer);
        REQUIRE(answer);
        CHECK(has_line(*answer, "a=recvonly"));
        run_for(io, 100ms);
        const auto rtp_sent = a->socket().packets_sent(), rtcp_sent = a->socket().rtcp_packets_sent();
        const auto reports = a->stats().rtcp_sent;
        run_for(io, 1500ms);
        CHECK(a->socket().packets_sent() == rtp_sent);
        CHECK(a->socket().rtcp_packets_sent() == rtcp_sent);
        CHECK(a->stats().rtcp_sent == reports);
    }
}
