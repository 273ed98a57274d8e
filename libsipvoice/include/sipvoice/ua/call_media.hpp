// sipvoice/ua/call_media.hpp: the media side of one call: RTP sockets, SDP offer/answer and the audio
// stream, joined so that the call layer only passes SDP text in and out.
//
//   auto m = ua::call_media::create(io, cfg, &error);        // opens the RTP/RTCP sockets
//   UAC:  invite with m->offer();  on_answer(sdp): m->on_answer(sdp)  -> audio starts
//   UAS:  auto a = m->answer(offer_sdp);  a ? accept(*a) : reject(m->last_status())
//         re-INVITE: m->answer(new_offer) again (hold, unhold, new address, codec change)
//   m->audio()->on_frame(...); m->audio()->write(pcm);
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

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
};

class call_media {
public:
    static std::unique_ptr<call_media> create(asio::io_context& io, media_config config, std::string* error = nullptr);
    ~call_media();
    call_media(const call_media&) = delete;
    call_media& operator=(const call_media&) = delete;

    // Our offer (initial or re-offer).
    std::string offer();
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
    void stop();

    // Set before the audio starts (the handlers carry over when a re-INVITE changes the codec).
    void on_frame(media::audio_stream::frame_handler handler);
    void on_dtmf(media::audio_stream::dtmf_handler handler);

private:
    call_media(asio::io_context& io, media_config config, std::unique_ptr<media::rtp_socket> socket);
    bool apply(const sdp::negotiated& n);

    asio::io_context& io_;
    media_config cfg_;
    std::unique_ptr<media::rtp_socket> socket_;
    sdp::offer_answer oa_;
    std::unique_ptr<media::audio_stream> audio_;
    std::optional<sdp::negotiated> running_;  // what audio_ was built for
    media::audio_stream::frame_handler frame_cb_;
    media::audio_stream::dtmf_handler dtmf_cb_;
    int last_status_ = 0;
    std::string last_error_;
};

}  // namespace sipvoice::ua
