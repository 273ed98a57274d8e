// sipvoice/rtp/sequence.hpp: arithmetic on 16-bit sequence numbers and 32-bit timestamps that wrap
// around, and the per-source sequence validation of RFC 3550 A.1.
//
// Sequence numbers and timestamps are compared modulo 2^16 / 2^32 ("serial number arithmetic"): a is
// newer than b when a - b, taken as a signed number of that width, is positive. An unwrapper turns
// them into 64-bit counters that keep increasing across the wrap, for buffers indexed by them.
//
// sequence_validator follows RFC 3550 A.1: a new source is on probation until `min_sequential`
// packets arrive in sequence; then gaps up to `max_dropout` are losses, packets up to `max_misorder`
// behind are reordered or duplicated, and a bigger jump is dropped unless the very next packet follows
// it, which means the sender restarted its sequence.
//
//   rtp::sequence_validator v;
//   switch (v.update(p.sequence)) { case rtp::sequence_verdict::rejected: return; default: ... }
//   report.highest_sequence = v.extended_max();
#pragma once

#include <cstdint>

namespace sipvoice::rtp {

// a - b as a signed distance: positive when a is newer (RFC 1982 style, for RTP's 16 and 32 bits).
constexpr std::int32_t seq_diff(std::uint16_t a, std::uint16_t b) noexcept {
    return static_cast<std::int16_t>(static_cast<std::uint16_t>(a - b));
}
constexpr bool seq_newer(std::uint16_t a, std::uint16_t b) noexcept { return seq_diff(a, b) > 0; }
constexpr std::int64_t ts_diff(std::uint32_t a, std::uint32_t b) noexcept {
    return static_cast<std::int32_t>(a - b);
}
constexpr bool ts_newer(std::uint32_t a, std::uint32_t b) noexcept { return ts_diff(a, b) > 0; }

// Extends wrapping values to 64 bits relative to the newest value seen: the first value is kept as
// is, later ones land within half the range of the newest (so a reordered packet from before a wrap
// gets a smaller number, not one 2^16 ahead).
template <class T>
class unwrapper {
public:
    std::int64_t unwrap(T value) noexcept {
        if (!started_) {
            started_ = true;
            newest_ = value;
            return newest_;
        }
        const std::int64_t ext = newest_ + distance(value, static_cast<T>(newest_));
        if (ext > newest_) newest_ = ext;
        return ext;
    }
    [[nodiscard]] bool started() const noexcept { return started_; }
    [[nodiscard]] std::int64_t newest() const noexcept { return newest_; }
    void reset() noexcept { started_ = false; newest_ = 0; }

private:
    static std::int64_t distance(T a, T b) noexcept {
        if constexpr (sizeof(T) == 2) return seq_diff(a, b);
        else return ts_diff(a, b);
    }
    bool started_ = false;
    std::int64_t newest_ = 0;
};
using sequence_unwrapper = unwrapper<std::uint16_t>;
using timestamp_unwrapper = unwrapper<std::uint32_t>;

// RFC 3550 A.1 constants; the RFC's values are the defaults.
struct sequence_limits {
    std::uint16_t max_dropout = 3000;  // a forward gap above this is a jump, not a loss
    std::uint16_t max_misorder = 100;  // a packet up to this far behind is reordered, not a restart
    std::uint8_t min_sequential = 2;   // packets in sequence before a new source is believed
};

enum class sequence_verdict : std::uint8_t {
    valid,         // in sequence, or ahead within max_dropout (the gap is loss); counts as received
    out_of_order,  // behind the highest (reordered or duplicate); counts as received, as A.1 says
    probation,     // a new source not yet confirmed; not counted
    rejected,      // a jump beyond the limits; not counted. If the next packet follows it: restarted
    restarted,     // the sender restarted its sequence; statistics start again from this packet
};

class sequence_validator {
public:
    explicit sequence_validator(sequence_limits limits = {}) noexcept : limits_(limits) {
        if (limits_.min_sequential == 0) limits_.min_sequential = 1;
    }

    sequence_verdict update(std::uint16_t seq) noexcept;

    [[nodiscard]] bool started() const noexcept { return started_; }
    [[nodiscard]] bool confirmed() const noexcept { return started_ && probation_ == 0; }
    // The extended highest sequence number received: cycles in the high 16 bits (RFC 3550 §6.4.1).
    [[nodiscard]] std::uint32_t extended_max() const noexcept { return cycles_ + max_seq_; }
    [[nodiscard]] std::uint32_t base() const noexcept { return base_seq_; }
    [[nodiscard]] std::uint32_t cycles() const noexcept { return cycles_; }
    // Packets counted since the base (duplicates included, RFC 3550 A.3).
    [[nodiscard]] std::uint32_t received() const noexcept { return received_; }
    // Packets expected since the base: extended_max - base + 1 (RFC 3550 A.3).
    [[nodiscard]] std::int64_t expected() const noexcept {
        return confirmed() ? std::int64_t{extended_max()} - base_seq_ + 1 : 0;
    }

private:
    void restart(std::uint16_t seq) noexcept;

    sequence_limits limits_;
    bool started_ = false;
    std::uint16_t max_seq_ = 0;
    std::uint32_t cycles_ = 0;     // count of wraps, shifted left 16
    std::uint32_t base_seq_ = 0;
    std::uint32_t bad_seq_ = 0x10001;  // the sequence number that would confirm a jump; none at first
    std::uint32_t received_ = 0;
    std::uint8_t probation_ = 0;
};

}  // namespace sipvoice::rtp
