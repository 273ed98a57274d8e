// RFC 3550 A.1: sequence number validation and wrap counting for one source.
#include "sipvoice/rtp/sequence.hpp"

namespace sipvoice::rtp {

namespace {
constexpr std::uint32_t seq_mod = 1u << 16;
}

void sequence_validator::restart(std::uint16_t seq) noexcept {
    base_seq_ = seq;
    max_seq_ = seq;
    bad_seq_ = seq_mod + 1;
    cycles_ = 0;
    received_ = 0;
}

sequence_verdict sequence_validator::update(std::uint16_t seq) noexcept {
    if (!started_) {
        // A new source: pretend the previous packet was seq - 1 so that seq starts the probation run.
        started_ = true;
        restart(seq);
        max_seq_ = static_cast<std::uint16_t>(seq - 1);
        probation_ = limits_.min_sequential;
    }
    if (probation_ > 0) {
        if (seq == static_cast<std::uint16_t>(max_seq_ + 1)) {
            --probation_;
            max_seq_ = seq;
            if (probation_ == 0) {
                restart(seq);
                ++received_;
                return sequence_verdict::valid;
            }
        } else {
            // Out of sequence while on probation: this packet starts a new run.
            probation_ = static_cast<std::uint8_t>(limits_.min_sequential - 1);
            max_seq_ = seq;
            if (probation_ == 0) {
                restart(seq);
                ++received_;
                return sequence_verdict::valid;
            }
        }
        return sequence_verdict::probation;
    }

    const std::uint16_t ahead = static_cast<std::uint16_t>(seq - max_seq_);
    if (ahead == 0) {
        ++received_;  // a duplicate of the newest
        return sequence_verdict::out_of_order;
    }
    if (ahead < limits_.max_dropout) {
        if (seq < max_seq_) cycles_ += seq_mod;  // wrapped
        max_seq_ = seq;
        ++received_;
        return sequence_verdict::valid;
    }
    if (ahead <= seq_mod - limits_.max_misorder) {
        // A big jump: believe it only if the next packet follows it (the sender restarted, A.1).
        if (seq == bad_seq_) {
            restart(seq);
            ++received_;
            return sequence_verdict::restarted;
        }
        bad_seq_ = (seq + 1u) & (seq_mod - 1);
        return sequence_verdict::rejected;
    }
    ++received_;  // within max_misorder behind: reordered or duplicated
    return sequence_verdict::out_of_order;
}

}  // namespace sipvoice::rtp
