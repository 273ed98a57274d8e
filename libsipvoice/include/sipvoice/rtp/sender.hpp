// sipvoice/rtp/sender.hpp: the send side of one RTP stream: SSRC, sequence numbers, the media clock,
// and the counts an SR reports (RFC 3550 §5.1, §6.4.1).
//
// The sender stamps headers; the caller adds the payload and writes the packet. The media clock moves
// with advance() (one frame's samples after each frame, and on through silences in which nothing is
// sent, so the timestamp keeps real time, RFC 3550 §5.1). The SSRC and the first sequence number and
// timestamp must be random (RFC 3550 §5.1, §8.1); this layer has no random source, so the caller
// picks them.
//
//   rtp::sender snd({.ssrc = rnd(), .first_sequence = rnd16(), .first_timestamp = rnd(), .clock_rate = 8000});
//   every 20 ms:  rtp::packet p = snd.next(0, first_of_talkspurt, frame.size(), now);
//                 p.payload = frame;  rtp::write_packet(p, buf);  snd.advance(160);
//   a DTMF event: rtp::packet p = snd.next_at(event_start_ts, 101, marker, 4, now);   (RFC 4733 §2.3.1)
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "sipvoice/clock.hpp"
#include "sipvoice/rtp/packet.hpp"
#include "sipvoice/rtp/rtcp.hpp"

namespace sipvoice::rtp {

struct sender_config {
    std::uint32_t ssrc = 0;
    std::uint16_t first_sequence = 0;
    std::uint32_t first_timestamp = 0;
    std::uint32_t clock_rate = 8000;
};

class sender {
public:
    explicit sender(sender_config config) noexcept;

    // The header of the next packet, at the media clock's current timestamp. Takes one sequence
    // number and counts the packet and its payload octets for the SR.
    packet next(std::uint8_t payload_type, bool marker, std::size_t payload_size, time_point now) noexcept;
    // The same with a timestamp of the caller's choosing (an RFC 4733 event repeats its start
    // timestamp in every packet); the media clock is not moved.
    packet next_at(std::uint32_t timestamp, std::uint8_t payload_type, bool marker, std::size_t payload_size,
                   time_point now) noexcept;

    // The media clock moved on by `samples` (a frame was sent, or a frame's time passed in silence).
    void advance(std::uint32_t samples) noexcept { timestamp_ += samples; }

    // RFC 3550 §6.4.1 sender info for an SR sent at `now` with wallclock `ntp`: the RTP timestamp is
    // the media clock extrapolated from the last packet sent to `now`.
    [[nodiscard]] sender_info report(time_point now, ntp_timestamp ntp) const noexcept;

    // A new SSRC after a collision (RFC 3550 §8.2): the counts start again.
    void change_ssrc(std::uint32_t ssrc) noexcept;

    [[nodiscard]] std::uint32_t ssrc() const noexcept { return config_.ssrc; }
    [[nodiscard]] std::uint16_t sequence() const noexcept { return sequence_; }    // of the next packet
    [[nodiscard]] std::uint32_t timestamp() const noexcept { return timestamp_; }  // the media clock now
    [[nodiscard]] std::uint32_t clock_rate() const noexcept { return config_.clock_rate; }
    [[nodiscard]] std::uint32_t packet_count() const noexcept { return packets_; }
    [[nodiscard]] std::uint32_t octet_count() const noexcept { return octets_; }
    [[nodiscard]] std::optional<time_point> last_sent() const noexcept { return last_sent_; }

private:
    sender_config config_;
    std::uint16_t sequence_;
    std::uint32_t timestamp_;
    std::uint32_t packets_ = 0;  // wrap modulo 2^32 like the SR fields (RFC 3550 §6.4.1)
    std::uint32_t octets_ = 0;
    std::optional<time_point> last_sent_;
    // The media clock's reading at a known instant, for the SR's RTP timestamp.
    time_point clock_ref_time_{};
    std::uint32_t clock_ref_ts_ = 0;
    bool have_clock_ref_ = false;
};

}  // namespace sipvoice::rtp
