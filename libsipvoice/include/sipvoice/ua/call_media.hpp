// sipvoice/ua/call_media.hpp: the media side of one call: RTP sockets, SDP offer/answer and the audio
// stream, joined so that the call layer only passes SDP text in and out.
//
//   auto m = ua::call_media::create(io, cfg, &error);        // opens the RTP/RTCP sockets
//   UAC:  invite with m->offer();  on_answer(sdp): m->on_answer(sdp)  -> audio starts
//   UAS:  auto a = m->answer(offer_sdp);  a ? accept(*a) : reject(m->last_status())
//         re-INVITE: m->answer(new_offer) again (hold, unhold, new address, codec change)
//   m->audio()->on_frame(...); m->audio()->write(pcm);
//   hold:  m->set_direction(sdp::direction::sendonly); call.reoffer(m->offer());  unhold: sendrecv
//   m->on_rtp_timeout([&] { call.hangup(); });  m->stats() at the end of the call
//
// Direction (RFC 3264 §6.1, §8.4): RTP goes out only while the negotiated direction lets us send (not
// when we hold with inactive, nor when the peer holds us with sendonly, inactive or c=0.0.0.0); RTCP
// goes on in every direction (RFC 3264 §5.1) except toward c=0.0.0.0.
//
// RTP timeout: no RTP for media_config::rtp_timeout while the peer should be sending fires
// on_rtp_timeout() once. "Should be sending" means the negotiated direction lets us receive and the
// peer is not holding the call: a peer that holds with sendonly may send music or nothing at all
// (RFC 3264 §8.4 obliges it to nothing), so a held call is never timed out, in either direction. The
// wait starts when an offer/answer exchange completes and restarts with every RTP packet.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "sipvoice/clock.hpp"
#include "sipvoice/media/audio_stream.hpp"
#include "sipvoice/media/rtp_socket.hpp"
#include "sipvoice/sdp/offer_answer.hpp"

namespace sipvoice::ua {

struct media_config {
    std::string address;  // our RTP address for SDP (the advertised one behind NAT); must be set
    media::rtp_socket_config sockets;
    std::vector<sdp::codec> codecs = {sdp::pcmu(), sdp::pcma(), sdp::opus()};  // preference order
    bool telephone_event = true;
    std::uint32_t app_rate = 16000;  // PCM rate of the audio stream
    std::uint64_t seed = 0;
    // No RTP from the peer for this long while it should be sending (not on hold, not inactive):
    // on_rtp_timeout() fires once. 0 switches the check off.
    duration rtp_timeout{30000};
    // RTCP (RFC 3550 §6): SR/RR with loss, jitter and round-trip time at this mean interval
    // (randomized per A.7), a BYE when the media stops. 0 sends no RTCP (incoming RTCP still read).
    duration rtcp_interval{5000};
    // For a speech pipeline rather than an ear: received frames are handed over as their packets
    // arrive (no jitter buffer delay) and a reply's first frame goes out when it is written, not at
    // the next 20 ms tick (audio_stream_config::deliver_on_arrival and send_on_write).
    bool low_latency = false;
};

// What the RTP session has seen, for logs and the end-of-call line.
struct media_stats {
    std::uint64_t packets_sent = 0;
    std::uint64_t packets_received = 0;
    std::int64_t packets_lost = 0;       // expected minus received (RFC 3550 A.3), may be negative on duplicates
    double jitter_ms = 0;                // interarrival jitter of what we receive (RFC 3550 A.8)
    std::optional<double> rtt_ms;        // from the peer's last report block on our SR (LSR/DLSR)
    std::optional<double> remote_fraction_lost;  // what the peer reports losing of ours, 0..1
    std::int64_t remote_packets_lost = 0;        // the same, cumulative (its last report block)
    std::uint64_t rtcp_sent = 0;
    std::uint64_t rtcp_received = 0;
    bool remote_bye = false;             // the peer sent an RTCP BYE (RFC 3550 §6.6): it left the session
};

class call_media {
public:
    static std::unique_ptr<call_media> create(asio::io_context& io, media_config config, std::string* error = nullptr);
    ~call_media();
    call_media(const call_media&) = delete;
    call_media& operator=(const call_media&) = delete;

    // Our offer (initial or re-offer).
    std::string offer();
    // Hold and unhold: the direction our next offer (or answer) asks for: sendonly or inactive holds
    // the call (RFC 3264 §8.4), sendrecv resumes it. Then offer() and call::reoffer().
    void set_direction(sdp::direction d);
    // Our re-offer was refused (call_handler::on_offer_rejected): the previous negotiation stays.
    void on_offer_rejected();
    // The peer's answer to our offer: starts (or updates) the audio. False when unusable.
    bool on_answer(const std::string& sdp);
    // Our answer to the peer's offer, which starts (or updates) the audio; nothing when no common
    // codec or malformed (answer last_status(): 488 or 400).
    std::optional<std::string> answer(const std::string& offer_sdp);
    [[nodiscard]] int last_status() const noexcept { return last_status_; }
    [[nodiscard]] const std::string& last_error() const noexcept { return last_error_; }

    // The audio once negotiated, else nullptr.
    [[nodiscard]] media::audio_stream* audio() noexcept { return audio_.get(); }
    [[nodiscard]] const sdp::negotiated* negotiated() const noexcept { return oa_.current(); }
    [[nodiscard]] media::rtp_socket& socket() noexcept { return *socket_; }
    // "PCMU/8000", for logs.
    [[nodiscard]] std::string codec_name() const;
    // The end of the media: an RTCP BYE (RFC 3550 §6.6, when RTCP is on), then the sockets close.
    // The destructor does the same; stats() still answers afterwards.
    void stop();

    // Set before the audio starts (the handlers carry over when a re-INVITE changes the codec).
    void on_frame(media::audio_stream::frame_handler handler);
    void on_dtmf(media::audio_stream::dtmf_handler handler);
    void on_playing(std::function<void(time_point)> handler);  // audio_stream::on_playing
    // The peer's RTP stopped (media_config::rtp_timeout); the application usually hangs up.
    void on_rtp_timeout(std::function<void()> handler);
    [[nodiscard]] media_stats stats() const;

private:
    call_media(asio::io_context& io, media_config config, std::unique_ptr<media::rtp_socket> socket);
    bool apply(const sdp::negotiated& n);
    void watch_rtp();                // (re)starts the RTP timeout for the negotiation in force
    void arm_rtp_timer(time_point at);
    void check_rtp();

    asio::io_context& io_;
    media_config cfg_;
    std::unique_ptr<media::rtp_socket> socket_;
    sdp::offer_answer oa_;
    std::unique_ptr<media::audio_stream> audio_;
    std::optional<sdp::negotiated> running_;  // what audio_ was built for
    sdp::direction running_local_ = sdp::direction::sendrecv;  // our own direction in that exchange
    std::string cname_;                       // RFC 3550 §6.5.1: one per call, kept across codec changes
    media_stats before_;                      // what streams replaced by a codec change counted
    media::audio_stream::frame_handler frame_cb_;
    media::audio_stream::dtmf_handler dtmf_cb_;
    std::function<void(time_point)> playing_cb_;
    std::function<void()> timeout_cb_;
    asio::steady_timer rtp_timer_;
    time_point watch_from_{};                 // the exchange that started the wait
    bool watching_ = false;
    bool stopped_ = false;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // timer handlers check it: no use after free
    int last_status_ = 0;
    std::string last_error_;
};

}  // namespace sipvoice::ua
