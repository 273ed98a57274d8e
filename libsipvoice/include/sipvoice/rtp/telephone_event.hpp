// sipvoice/rtp/telephone_event.hpp: RFC 4733 telephone events (DTMF over RTP): the 4-octet payload,
// a receiver that turns a stream of event packets into one digit per key press, and a sender that
// produces the packets for a digit.
//
// On the wire (RFC 4733 §2.3) an event is: event code (0-9, 10 '*', 11 '#', 12-15 A-D), the end bit,
// a volume in -dBm0, and the duration so far in timestamp units. All packets of one event carry the
// timestamp of its start (§2.3.1); the first has the marker bit (§2.5.1.1); updates follow every
// 50 ms or so (§2.5.1.2); the last has the end bit and is sent three times (§2.5.1.4). An event
// longer than 0xFFFF units goes on in segments with new timestamps (§2.5.1.3).
//
// Receiving: give every packet of the telephone-event payload type to on_packet() and call on_time()
// at next_deadline(); take_digits() yields each key press once, with its duration, whether its start
// or its end packets were lost, and however often the end was repeated.
//
//   rtp::telephone_event_receiver dtmf;
//   if (p.payload_type == 101) dtmf.on_packet(p, now);
//   for (const auto& d : dtmf.take_digits()) on_dtmf(d.digit, d.length);
//
// Sending: queue digits, and at next_deadline() ask poll() for the packets due, with the audio
// stream's current timestamp (a new event starts there); each goes out through the stream's sender
// with its own timestamp (sender::next_at).
//
//   rtp::telephone_event_sender tx;  tx.queue("123#");
//   for (auto& e : tx.poll(now, snd.timestamp())) {
//       rtp::packet h = snd.next_at(e.timestamp, 101, e.marker, 4, now);  h.payload = e.payload;  send(h);
//   }
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "sipvoice/clock.hpp"
#include "sipvoice/rtp/error.hpp"
#include "sipvoice/rtp/packet.hpp"

namespace sipvoice::rtp {

// RFC 4733 §2.3.
struct telephone_event {
    std::uint8_t event = 0;
    bool end = false;
    std::uint8_t volume = 0;     // 0..63: -dBm0 (§2.3.3); larger values are cut to 6 bits when written
    std::uint16_t duration = 0;  // timestamp units since the event (segment) started
    friend bool operator==(const telephone_event&, const telephone_event&) = default;
};

inline constexpr std::size_t telephone_event_size = 4;

// Reads the first event of a payload (further 4-octet blocks, if a sender packs several, are not
// read). The reserved bit is ignored (§2.3.4).
result<telephone_event> parse_telephone_event(bytes_view payload) noexcept;
std::array<std::uint8_t, telephone_event_size> write_telephone_event(const telephone_event& e) noexcept;

// DTMF digits and their event codes (RFC 4733 §3.2): '0'-'9', '*', '#', 'A'-'D' (a-d accepted).
// event_digit() gives '\0' for codes above 15.
char event_digit(std::uint8_t event) noexcept;
std::optional<std::uint8_t> digit_event(char digit) noexcept;

// One key press, as received.
struct dtmf_digit {
    std::uint8_t event = 0;
    char digit = '\0';             // '\0' for a non-DTMF event code
    std::uint32_t timestamp = 0;   // RTP timestamp of its start
    std::uint32_t duration = 0;    // timestamp units, all segments together
    std::chrono::milliseconds length{0};
    std::uint8_t volume = 0;
    bool end_received = false;     // false: its end packets were lost; it ended by timeout or by the next event
};

struct telephone_event_receiver_config {
    std::uint32_t clock_rate = 8000;  // of the telephone-event payload format (the rtpmap rate)
    // An event whose end packets were all lost ends this long after its last packet. Updates come
    // every 50 ms or so: this survives several lost updates of a long press.
    duration end_timeout{300};
};

class telephone_event_receiver {
public:
    explicit telephone_event_receiver(telephone_event_receiver_config config = {}) noexcept;

    // One RTP packet of the telephone-event payload type.
    void on_packet(const packet& p, time_point now);
    // Ends an event whose end never came (or a long event waiting for its next segment).
    void on_time(time_point now);
    [[nodiscard]] std::optional<time_point> next_deadline() const noexcept;

    // The digits completed since the last call, in order.
    std::vector<dtmf_digit> take_digits();

    // A key is down now (for example, to mute the audio that carries the tone too).
    [[nodiscard]] bool key_down() const noexcept { return active_ && !end_pending_; }
    [[nodiscard]] std::optional<std::uint8_t> current_event() const noexcept {
        return key_down() ? std::optional<std::uint8_t>(event_) : std::nullopt;
    }

private:
    void begin(const packet& p, const telephone_event& e, time_point now);
    void update(const telephone_event& e, time_point now);
    void finish(bool end_received);

    telephone_event_receiver_config config_;
    std::vector<dtmf_digit> digits_;
    // The newest event seen from `ssrc_`: packets for older timestamps are stale (late updates,
    // repeated ends), the same timestamp belongs to it, a newer one starts the next event.
    bool have_latest_ = false;
    std::uint32_t ssrc_ = 0;
    std::uint32_t latest_ts_ = 0;
    std::uint16_t latest_seq_ = 0;  // newest sequence number seen from ssrc_
    // The event in progress.
    bool active_ = false;
    bool end_pending_ = false;  // ended with a full 0xFFFF segment: a next segment may still follow
    bool end_seen_ = false;
    std::uint8_t event_ = 0;
    std::uint8_t volume_ = 0;
    std::uint32_t start_ts_ = 0;       // of the first segment
    std::uint64_t earlier_segments_ = 0;
    std::uint16_t segment_duration_ = 0;
    time_point last_packet_{};
};

// ---- sending

struct telephone_event_sender_config {
    std::uint32_t clock_rate = 8000;
    duration interval{50};         // between updates (§2.5.1.2: 50 ms, or the audio packetization)
    std::uint8_t volume = 10;      // -dBm0
    std::uint8_t end_packets = 3;  // copies of the final packet (§2.5.1.4)
    duration pause{100};           // between the end of one queued digit and the start of the next
};

// One packet of an event, relative to the event's start.
struct event_packet {
    duration offset{0};                // when to send it, after the first packet
    std::uint32_t timestamp_offset = 0;  // added to the start timestamp (non-zero in later segments)
    bool marker = false;
    telephone_event event;
};

// Every packet of one event of `length` (at least one packet): the marked start, updates each
// interval with the duration so far, the final duration with the end bit `end_packets` times, and
// for events beyond 0xFFFF units the segments of §2.5.1.3.
std::vector<event_packet> telephone_event_packets(std::uint8_t event, duration length,
                                                  const telephone_event_sender_config& config = {});

// A packet due now, with its absolute timestamp and payload.
struct outgoing_event {
    std::uint32_t timestamp = 0;
    bool marker = false;
    telephone_event event;
    std::array<std::uint8_t, telephone_event_size> payload{};
};

class telephone_event_sender {
public:
    explicit telephone_event_sender(telephone_event_sender_config config = {}) noexcept : config_(config) {}

    // Queues DTMF digits; nothing is queued (false) if one of them is not a digit.
    bool queue(std::string_view digits, duration length = duration{100});
    void queue_event(std::uint8_t event, duration length);

    [[nodiscard]] std::optional<time_point> next_deadline() const noexcept;
    // The packets due at `now`. `media_timestamp` is the audio stream's RTP timestamp now: an event
    // starting in this call takes it as its timestamp (RFC 4733 §2.3.1).
    std::vector<outgoing_event> poll(time_point now, std::uint32_t media_timestamp);

    // An event is being sent or queued.
    [[nodiscard]] bool busy() const noexcept { return active_ || next_ < queue_.size(); }

private:
    struct queued {
        std::uint8_t event = 0;
        duration length{0};
    };
    telephone_event_sender_config config_;
    std::vector<queued> queue_;
    std::size_t next_ = 0;
    bool active_ = false;
    std::vector<event_packet> plan_;
    std::size_t sent_ = 0;
    time_point started_{};
    std::uint32_t start_ts_ = 0;
    std::optional<time_point> ready_at_;  // earliest start of the next queued event
};

}  // namespace sipvoice::rtp
