// sipvoice/rtp/jitter_buffer.hpp: an adaptive playout buffer for one audio stream, pulled at a
// steady cadence (one pop() per packet duration, typically every 20 ms).
//
// push() stores each arriving packet by sequence number (reordering, dropping duplicates and packets
// that come after their turn to play); pop(now) says what to play for the next frame:
//
//   frame     the next packet's payload: decode it;
//   lost      that packet is missing and a later one is here: conceal (PLC), or decode `next_payload`
//             with in-band FEC (Opus); the sequence number is consumed;
//   conceal   no packet is known missing but none is due: the buffer is stretching (a sender slower
//             than us, rising jitter, nothing here at all) or a timestamp gap (silence suppression)
//             is playing out: play concealment or comfort noise; nothing is consumed. If the packet
//             waited for turns out lost, it is skipped later without a `lost`: its time was filled;
//   nothing   not playing (before the first packet, while buffering, after the stream stopped:
//             max_delay of waiting with nothing here): play silence.
//
// The buffer holds the audio it releases at `target_delay()` behind the fastest transit it has seen
// lately. The target follows the spread of packet transit times (a high quantile over a window of
// packets, plus half a frame for the phase of the pulls), within [min_delay, max_delay]. Away from it
// by more than a frame, the buffer drops a frame (too deep: a faster sender clock, jitter that went
// down; silence gaps are shortened first, for free) or inserts a `conceal` (too shallow), at most once
// per adapt_interval, so clock drift costs an occasional frame instead of a growing delay or
// underruns. Far beyond max_delay (after a stall) it drops until back at the target at once.
//
// Each packet's delay is its transit time minus the fastest transit among the last packets
// (reference_window); the target is a high quantile (delay_quantile) of the delays of the last
// `window` packets, late ones included (they are what says the delay is too short).
//
// A new SSRC, a sequence number jump the buffer cannot hold, or a timestamp discontinuity restarts it
// (flush, buffer again): not on one stray packet, only when the next packet follows the first one.
// Telephone events, comfort noise and other payload types are the caller's to route elsewhere.
//
//   rtp::jitter_buffer jb({.clock_rate = 8000, .frame = 20ms});
//   on RTP:        jb.push(*parsed, now);
//   every 20 ms:   auto f = jb.pop(now);
//                  switch (f.kind) { case frame: decode(f.payload); case lost: plc(); ... }
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sipvoice/clock.hpp"
#include "sipvoice/rtp/packet.hpp"
#include "sipvoice/rtp/sequence.hpp"

namespace sipvoice::rtp {

struct jitter_buffer_config {
    std::uint32_t clock_rate = 8000;  // media clock of the payload format
    duration frame{20};               // packet duration = pull cadence, until measured from timestamps
    duration min_delay{20};           // bounds of the target delay, beyond the fastest transit
    duration max_delay{400};
    duration initial_delay{60};       // the target until enough packets were measured
    duration adapt_interval{250};     // at most one drop or stretch per this period
    std::size_t capacity = 128;       // packets held at most (rounded up to a power of two)
    std::size_t window = 250;         // packets whose delays give the target (5 s at 20 ms; at most 65535)
    // Packets over which the fastest transit is taken, the reference for each packet's delay: short,
    // so that a drifting sender clock is followed, not mistaken for jitter.
    std::size_t reference_window = 50;  // (at most 65535)
    double delay_quantile = 0.97;     // the share of packets the target delay should catch in time
    duration resync_threshold{2000};  // a timestamp discontinuity beyond this restarts the buffer
};

enum class playout_kind : std::uint8_t { nothing, frame, lost, conceal };

struct playout {
    playout_kind kind = playout_kind::nothing;
    std::uint16_t sequence = 0;    // frame: the packet's; lost: the missing packet's
    std::uint32_t timestamp = 0;   // frame: the packet's; lost, conceal: where this frame's audio belongs
    std::uint32_t samples = 0;     // media-clock samples this output stands for (one packet's worth)
    std::uint8_t payload_type = 0; // frame
    bool marker = false;           // frame: first packet of a talkspurt
    bytes_view payload;            // frame: the packet's payload, valid until the next push() or pop()
    bytes_view next_payload;       // lost: the following packet's payload if it is here (for FEC), else empty
};

enum class push_result : std::uint8_t {
    accepted,   // stored for playout
    duplicate,  // already stored or already played: dropped
    late,       // its turn to play is over (it was concealed as lost): dropped
    held,       // a new SSRC or a jump: held until the next packet confirms it (then `resynced`)
    resynced,   // the buffer restarted on this stream (new SSRC, jump, timestamp discontinuity)
    invalid,    // not an RTP packet (push of a datagram that does not parse): dropped
};

struct jitter_stats {
    std::uint64_t received = 0;    // packets pushed
    std::uint64_t played = 0;      // `frame` outputs
    std::uint64_t lost = 0;        // sequence numbers never played: `lost` outputs and gaps skipped
                                   // after an underrun or a restart of playout
    std::uint64_t concealed = 0;   // `conceal` outputs, all causes
    std::uint64_t stretched = 0;   // of those, inserted to raise the delay toward the target
    std::uint64_t late = 0;        // packets that came after their turn
    std::uint64_t duplicates = 0;
    std::uint64_t dropped = 0;     // frames dropped to bring the delay down (drift, after a stall)
    std::uint64_t overflow = 0;    // packets dropped because the buffer was full (nobody pulling)
    std::uint64_t held = 0;        // packets held as a possible new stream and not confirmed
    std::uint64_t resyncs = 0;
};

class jitter_buffer {
public:
    explicit jitter_buffer(jitter_buffer_config config = {});

    push_result push(const packet& p, time_point arrival);
    // Parses and pushes a datagram; a packet that does not parse is counted as received and dropped.
    push_result push(bytes_view datagram, time_point arrival);

    playout pop(time_point now);
    // Asks the CPU to fetch what the next pop() reads first (the hot members, the next slot) while
    // other work runs: at thousands of streams each of those lines comes from memory.
    void prefetch() const noexcept;
    // The same for what the next push() reads and writes (the statistics, the next slot, the transit
    // windows).
    void prefetch_push() const noexcept;

    // Drops everything; the next packet starts a new stream.
    void reset();

    [[nodiscard]] const jitter_stats& stats() const noexcept { return stats_; }
    [[nodiscard]] duration target_delay() const noexcept;
    // How far behind the fastest transit the next frame would play if popped at `now`.
    [[nodiscard]] duration current_delay(time_point now) const noexcept;
    [[nodiscard]] std::size_t buffered() const noexcept { return count_; }
    [[nodiscard]] bool playing() const noexcept { return state_ == state::playing; }
    // Media-clock samples of one packet, as measured from consecutive timestamps.
    [[nodiscard]] std::uint32_t frame_samples() const noexcept { return frame_samples_; }

private:
    enum class state : std::uint8_t { empty, buffering, playing, stopped };
    // A slot is small and its payload lives in a pool of buffers reused last-freed-first: the ring
    // of `capacity` slots is walked once per 128 packets, and with the bytes inline every packet
    // would touch memory not seen for seconds (at 2,000 calls, megabytes that no cache holds).
    struct slot {
        std::int64_t seq = 0;
        std::int64_t ts = 0;
        std::uint16_t buffer = 0;  // index into buffers_
        std::uint8_t payload_type = 0;
        bool marker = false;
        bool used = false;
    };
    struct held_packet {  // a packet of a possible new stream (held_active_)
        std::uint32_t ssrc = 0;
        std::uint16_t sequence = 0;
        std::uint32_t timestamp = 0;
        std::uint8_t payload_type = 0;
        bool marker = false;
        std::vector<std::uint8_t> payload;
        time_point arrival{};
    };

    slot& at(std::int64_t seq) noexcept { return slots_[static_cast<std::uint64_t>(seq) & mask_]; }
    slot* find(std::int64_t seq) noexcept;
    push_result push_known(const packet& p, time_point arrival);
    push_result hold(const packet& p, time_point arrival);
    void start(const packet& p, time_point arrival);
    void store(std::int64_t seq, std::int64_t ts, const packet& p);
    void record_transit(std::int64_t ts, time_point arrival);
    void clear_transits() noexcept;
    void push_min_transit(std::int64_t transit) noexcept;
    void push_delay(std::int64_t delay_us) noexcept;
    std::int64_t transit_us(std::int64_t ts, time_point arrival) const noexcept;
    std::int64_t delay_us(time_point now) const noexcept;
    void free_slot(slot& s) noexcept;
    void free_all() noexcept;
    void mark_played(std::int64_t seq, bool played) noexcept;
    bool was_played(std::int64_t seq) const noexcept;
    bool drop_one() noexcept;
    bool adapt(time_point now, playout& out);
    playout emit_frame(slot& s);
    playout emit_conceal();
    std::int64_t samples_of(duration d) const noexcept;

    // The members every push() and pop() touches come first, narrow where they can be: at 2,000
    // streams each cache line of a stream's state that a packet reads is a miss (616 bytes over ten
    // lines before; the held packet and the stats no packet updates now come after).
    std::vector<slot> slots_;
    std::vector<std::vector<std::uint8_t>> buffers_;  // payloads of the used slots, and spares
    std::vector<std::uint16_t> free_buffers_;         // spares, the last freed at the back
    std::vector<std::uint8_t> out_;                   // the payload handed out by pop()
    std::int64_t next_seq_ = 0;   // the next sequence number to play
    std::int64_t high_seq_ = 0;   // the highest stored or played
    std::int64_t high_ts_ = 0;    // the extended timestamp of high_seq_
    std::int64_t play_ts_ = 0;    // media time of the next frame to play
    // Transit statistics: transit (arrival minus media time, microseconds, from a common origin) of
    // the last reference_window packets, and the delays (transit minus the fastest of those) of the
    // last `window` packets.
    time_point base_time_{};
    std::int64_t base_ts_ = 0;
    std::int64_t transit_min_ = 0;
    std::int64_t target_us_ = 0;
    std::uint32_t mask_ = 0;
    std::uint32_t count_ = 0;         // stored packets (all at or after next_seq_)
    std::uint32_t ssrc_ = 0;
    std::uint32_t frame_samples_ = 160;
    std::uint32_t underrun_debt_ = 0;  // `conceal` frames played while waiting for a packet
    state state_ = state::empty;
    bool played_any_ = false;     // playout of this stream began (earlier packets are late from then on)
    bool held_active_ = false;    // held_ holds a packet
    time_point start_at_{};       // buffering ends
    time_point last_adapt_{};
    std::array<std::uint64_t, 4> played_bits_{};  // for the 256 sequence numbers before next_seq_
    struct transit_entry {
        std::uint64_t index = 0;  // the packet's position in the order of record_transit() calls
        std::int64_t transit = 0;
    };
    // The fastest transit of the last reference_window packets, kept as a monotonic queue (a ring of
    // reference_window entries): ascending transits, each one younger than those before it, so the
    // front is the minimum and a packet leaves it when it falls out of the window or a faster one comes.
    std::vector<transit_entry> min_queue_;
    std::uint64_t transit_index_ = 0;
    std::uint32_t min_front_ = 0;
    std::uint32_t min_size_ = 0;
    // The delays of the last `window` packets as a histogram of delay_width_us_ buckets (the last one
    // takes everything from max_delay on, where the target stops anyway) and a ring of the buckets in
    // arrival order, to know which one a packet leaving the window empties. The quantile is a bucket
    // and the count of delays below it, moved a bucket at a time: a packet touches three or four
    // cache lines where a sorted window moved a few hundred bytes.
    std::vector<std::uint16_t> delays_;      // ring: each packet's bucket
    std::vector<std::uint16_t> histogram_;   // delays per bucket
    std::uint32_t delay_next_ = 0;
    std::uint32_t delay_count_ = 0;
    std::uint32_t quantile_bucket_ = 0;      // the bucket holding the delay_quantile of the window
    std::uint32_t below_quantile_ = 0;       // delays in the buckets before it
    std::int32_t delay_width_us_ = 1000;
    jitter_buffer_config config_;
    jitter_stats stats_;
    held_packet held_;
};

}  // namespace sipvoice::rtp
