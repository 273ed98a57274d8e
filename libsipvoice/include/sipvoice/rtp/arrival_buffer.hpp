// sipvoice/rtp/arrival_buffer.hpp: an audio stream's packets in sequence order as soon as they
// arrive, for a consumer that wants the audio at once rather than smoothly: speech recognition and
// voice-activity detection, where every millisecond of playout delay is a millisecond of reply
// latency and nobody listens to the timing. (For an ear, use jitter_buffer.)
//
// push() hands out a packet the moment it is the next one in sequence, followed by those held after
// it; a packet that overtook a missing one is held (up to `reorder` packets). poll(now), called on a
// steady tick (every 20 ms or more often), keeps the consumer's clock going when nothing comes:
// once no frame was handed out for 1.5 frames it gives out one frame for the frame that is due,
//
//   lost      when packets after a missing one are held: the missing one is given up (conceal it, or
//             decode `next_payload` with Opus FEC) and what is held follows in order;
//   conceal   when the stream is just quiet (silence suppression, a late packet, hold, a stall):
//             fill the time; no sequence number is consumed, so a late packet still plays after it;
//   nothing   before the first packet: silence;
//
// so over time the consumer gets about one frame per frame duration, and a late packet at worst one
// extra frame. Duplicates and packets whose number was already given up are dropped. A new SSRC or
// a sequence jump beyond `jump` packets is taken only when the next packet follows it (a stray
// packet does not restart the stream).
//
//   rtp::arrival_buffer ab({.frame = 20ms});
//   on RTP:      for (const rtp::playout& f : ab.push(*parsed, now)) decode(f);
//   every 20 ms: for (const rtp::playout& f : ab.poll(now)) decode_or_conceal(f);
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "sipvoice/clock.hpp"
#include "sipvoice/rtp/jitter_buffer.hpp"
#include "sipvoice/rtp/packet.hpp"

namespace sipvoice::rtp {

struct arrival_buffer_config {
    duration frame{20};         // one packet's audio: the cadence poll() keeps up when nothing comes
    std::size_t reorder = 4;    // packets held behind a missing one at most
    std::uint16_t jump = 64;    // a sequence step beyond this (either way) needs a second packet to follow
};

class arrival_buffer {
public:
    explicit arrival_buffer(arrival_buffer_config config = {});

    // The outputs stay valid (payloads included) until the next push() or poll(); a frame's payload
    // may point into `p`.
    std::span<const playout> push(const packet& p, time_point arrival);
    std::span<const playout> poll(time_point now);

    // Forget the stream: the next packet starts a new one.
    void reset();

    // received, played (frames), lost, concealed, late, duplicates, held (stray packets not
    // confirmed), resyncs; `stretched`, `dropped` and `overflow` stay 0.
    [[nodiscard]] const jitter_stats& stats() const noexcept { return stats_; }
    [[nodiscard]] std::size_t held() const noexcept { return held_count_; }

private:
    struct slot {
        bool used = false;
        std::uint16_t sequence = 0;
        std::uint32_t timestamp = 0;
        std::uint8_t payload_type = 0;
        bool marker = false;
        std::vector<std::uint8_t> payload;
        void take(const packet& p);  // its fields and a copy of its payload
    };

    void start(std::uint32_t ssrc, std::uint16_t sequence);
    void emit(std::uint16_t sequence, std::uint32_t timestamp, std::uint8_t payload_type, bool marker,
              bytes_view payload, time_point arrival);
    void emit_packet(const packet& p, time_point arrival);
    void emit_slot(const slot& s, time_point arrival);
    bool emit_held(time_point arrival);
    void drain(time_point arrival);
    void skip() noexcept;
    void consider_restart(const packet& p, time_point arrival);
    slot* find(std::uint16_t sequence) noexcept;
    void clear_held() noexcept;

    arrival_buffer_config config_;
    bool started_ = false;
    std::uint32_t ssrc_ = 0;
    std::uint16_t next_ = 0;            // the sequence number handed out next
    std::uint32_t next_timestamp_ = 0;  // where its audio belongs (for `lost` and `conceal`)
    std::uint32_t last_timestamp_ = 0;  // of the last frame handed out
    std::uint32_t frame_samples_ = 0;   // media-clock samples per packet, from two in a row; 0: not known yet
    // Bit i: sequence number next_ - 1 - i was played (1) or given up (0): duplicates from late packets.
    std::uint64_t played_mask_ = 0;
    time_point last_out_{};             // when the consumer's clock last got a frame
    bool clock_started_ = false;
    std::vector<slot> slots_;           // held packets (`reorder` of them), slot = sequence % reorder
    std::size_t held_count_ = 0;
    // A packet that would restart the stream (new SSRC or a jump), until the next one confirms it.
    bool candidate_active_ = false;
    std::uint32_t candidate_ssrc_ = 0;
    slot candidate_;
    std::vector<playout> out_;
    jitter_stats stats_;
};

}  // namespace sipvoice::rtp
