// sipvoice/media/audio_stream.hpp: the audio of one call as 20 ms PCM frames in and out, with no
// sound card: what a speech pipeline wants (STT in, TTS out).
//
// Each stream ticks every ptime on absolute deadlines (start + n * ptime, so a long call does not
// drift); the streams of one io_context share one timer. Each tick:
//   receive: the jitter buffer gives the next frame (or a loss, which the codec conceals or rebuilds
//            from Opus FEC), the codec decodes it, the resampler brings it to the application's rate,
//            and on_frame() gets exactly one frame (with deliver_on_arrival: frames go out as their
//            packets arrive, and the tick fills in only for what does not come);
//   send:    one frame of what the application wrote is resampled to the codec's rate, encoded and
//            sent; with nothing queued, silence keeps the RTP flowing (PBXs hang up on RTP timeouts,
//            NATs close idle bindings) and on_drained() is told once the queue ran empty.
// RFC 4733 telephone events go both ways: digits received call on_dtmf(), send_dtmf() queues digits
// (audio pauses while an event is sent).
//
// RTCP (RFC 3550 §6) rides on the same tick: the stream is one RTP session (rtp/session.hpp) whose
// compound SR/RR + SDES CNAME goes to the socket's RTCP address when due; incoming RTCP gives the
// round-trip time, the peer's view of our stream (fraction and packets lost) and its BYE. send_bye()
// says goodbye when the call ends. While sending is off (hold: set_sending(false)) no RTP goes out,
// the media clock runs on, what the application wrote waits, and RTCP continues (RFC 3264 §5.1).
//
//   media::audio_stream_config cfg;            // PCMU, 16 kHz for the application
//   auto s = media::audio_stream::create(io, rtp, cfg);
//   (*s)->on_frame([](std::span<const std::int16_t> pcm) { stt.feed(pcm); });
//   (*s)->write(tts_pcm);  (*s)->flush();       // barge-in
//   (*s)->start();
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <asio/io_context.hpp>

#include "sipvoice/clock.hpp"
#include "sipvoice/media/rtp_socket.hpp"
#include "sipvoice/rtp/jitter_buffer.hpp"
#include "sipvoice/rtp/rtcp.hpp"

namespace sipvoice::media {

struct audio_stream_config {
    std::uint32_t app_rate = 16000;  // PCM rate of on_frame() and write(): 8000, 16000, 24000 or 48000
    // The negotiated codec (sdp/): rtpmap name, clock rate, channels and payload type.
    std::string codec = "PCMU";
    std::uint32_t clock_rate = 8000;
    std::uint8_t channels = 1;
    std::uint8_t payload_type = 0;          // the number we send the codec with
    int receive_payload_type = -1;          // the number the peer sends it with; -1: payload_type
    int telephone_event_payload_type = -1;  // -1: no RFC 4733 events negotiated
    int receive_telephone_event_payload_type = -1;  // -1: telephone_event_payload_type
    std::uint32_t telephone_event_rate = 8000;
    duration ptime{20};
    bool send_silence = true;
    rtp::jitter_buffer_config jitter{};  // its clock_rate and frame are set from the codec and ptime
    std::uint64_t seed = 0;              // SSRC, first sequence and timestamp; 0 draws from the system
    // RTCP reports at this mean interval (randomized in [0.5, 1.5] of it, the first after half,
    // RFC 3550 §6.3.1 and A.7; never more often than 5% of 64 kbit/s allows). 0: none sent; what
    // arrives is still read.
    duration rtcp_interval{5000};
    std::string cname;                   // RFC 3550 §6.5.1; empty: a random one (RFC 7022)
    bool send = true;                    // RTP goes out from the start (false: on hold until set_sending)
    // Latency before smoothness, for a speech pipeline rather than an ear. deliver_on_arrival: frames
    // go to on_frame() as their packets arrive, in sequence order (rtp/arrival_buffer.hpp), instead
    // of through the jitter buffer on the tick; the tick only fills in for packets that do not come.
    // That saves the jitter buffer's delay and up to a frame of waiting for the tick. send_on_write:
    // audio written while the stream was sending silence or nothing goes out at once (its first
    // frame), and the frame clock starts over from it, instead of waiting up to a frame for the tick.
    bool deliver_on_arrival = false;
    bool send_on_write = false;
};

struct audio_stream_stats {
    std::uint64_t frames_delivered = 0;
    std::uint64_t frames_sent = 0;   // audio packets
    std::uint64_t packets_received = 0;
    std::uint64_t digits_received = 0;
    std::optional<time_point> last_received;  // for "no RTP for N seconds" hang-ups
    // The RTP session (RFC 3550 §6.4): what we sent, what the peer's stream lost on the way to us
    // (A.3, negative with duplicates) and its interarrival jitter (A.8), the round-trip time (§6.4.1),
    // and the peer's last report block about our stream (fraction_lost / 256, cumulative_lost).
    std::uint64_t packets_sent = 0;  // RTP, audio and events
    std::int64_t packets_lost = 0;
    std::chrono::microseconds interarrival_jitter{0};
    std::optional<std::chrono::microseconds> round_trip;
    std::optional<rtp::report_block> remote_report;
    std::uint64_t rtcp_sent = 0;      // that went out (none toward c=0.0.0.0)
    std::uint64_t rtcp_received = 0;
    std::uint64_t byes_received = 0;  // RTCP BYEs from sources we were receiving (RFC 3550 §6.6)
    // The jitter buffer's (or with deliver_on_arrival the arrival buffer's). Last: the counters
    // above that every packet updates then share a cache line or two.
    rtp::jitter_stats jitter;
};

class audio_stream {
public:
    using frame_handler = std::function<void(std::span<const std::int16_t> pcm)>;
    using dtmf_handler = std::function<void(char digit, std::chrono::milliseconds length)>;

    // The stream takes over the socket's packet handlers; the socket must outlive the stream, or at
    // least its running: from stop() on the stream no longer touches it. An error names what could
    // not be set up (unknown codec, a rate the resampler or codec does not take).
    static std::unique_ptr<audio_stream> create(asio::io_context& io, rtp_socket& socket, audio_stream_config config,
                                                std::string* error = nullptr);
    ~audio_stream();
    audio_stream(const audio_stream&) = delete;
    audio_stream& operator=(const audio_stream&) = delete;

    void start();
    void stop();

    void on_frame(frame_handler handler);
    void on_dtmf(dtmf_handler handler);
    void on_drained(std::function<void()> handler);
    // Written audio starts going out after the queue had run empty: the send time of its first packet.
    void on_playing(std::function<void(time_point sent)> handler);
    // Queues PCM at app_rate for sending; any length.
    void write(std::span<const std::int16_t> pcm);
    // Drops everything queued (barge-in).
    void flush();
    [[nodiscard]] std::size_t queued_samples() const noexcept;
    // RFC 4733 digits ("0"-"9", "*", "#", "A"-"D"); false when events were not negotiated, sending
    // is off, or a character is no digit.
    bool send_dtmf(std::string_view digits, duration length = duration(100));
    // Hold and resume our sending (the negotiated direction says whether we may send, RFC 3264
    // §6.1). Off: no RTP, the media clock runs on, written audio waits; on again: a new talkspurt.
    void set_sending(bool on);
    [[nodiscard]] bool sending() const noexcept;
    // An RTCP BYE for our source (RFC 3550 §6.6), once, after a last report; nothing if RTCP is off.
    void send_bye(std::string_view reason = {});

    [[nodiscard]] audio_stream_stats stats() const;
    [[nodiscard]] std::size_t frame_samples() const noexcept;  // at app_rate

    struct impl;

private:
    explicit audio_stream(std::shared_ptr<impl> m) : impl_(std::move(m)) {}
    std::shared_ptr<impl> impl_;
};

}  // namespace sipvoice::media
