// Packets in sequence order at once, the consumer's clock kept by poll() (rtp/arrival_buffer.hpp).
#include "sipvoice/rtp/arrival_buffer.hpp"

#include <algorithm>

namespace sipvoice::rtp {

arrival_buffer::arrival_buffer(arrival_buffer_config config) : config_(config) {
    config_.reorder = std::clamp<std::size_t>(config_.reorder, 1, 64);
    config_.jump = std::max<std::uint16_t>(config_.jump, static_cast<std::uint16_t>(config_.reorder + 1));
    if (config_.frame <= duration::zero()) config_.frame = duration(20);
    slots_.resize(config_.reorder);
    out_.reserve(config_.reorder + 2);
}

void arrival_buffer::reset() {
    started_ = false;
    candidate_active_ = false;
    clear_held();
}

void arrival_buffer::clear_held() noexcept {
    for (slot& s : slots_) s.used = false;
    held_count_ = 0;
}

arrival_buffer::slot* arrival_buffer::find(std::uint16_t sequence) noexcept {
    slot& s = slots_[sequence % slots_.size()];
    return s.used && s.sequence == sequence ? &s : nullptr;
}

// A new stream whose first packet is `sequence` (the caller hands it out next).
void arrival_buffer::start(std::uint32_t ssrc, std::uint16_t sequence) {
    if (started_) ++stats_.resyncs;
    started_ = true;
    ssrc_ = ssrc;
    next_ = sequence;
    frame_samples_ = 0;
    played_mask_ = 0;
    clear_held();
}

void arrival_buffer::slot::take(const packet& p) {
    sequence = p.sequence;
    timestamp = p.timestamp;
    payload_type = p.payload_type;
    marker = p.marker;
    payload.assign(p.payload.begin(), p.payload.end());
}

// Hands out packet `sequence`, which is always next_.
void arrival_buffer::emit(std::uint16_t sequence, std::uint32_t timestamp, std::uint8_t payload_type, bool marker,
                          bytes_view payload, time_point arrival) {
    // The packet duration, from two packets in a row (what `lost` and `conceal` stand for).
    if (played_mask_ & 1U) {
        const std::uint32_t step = timestamp - last_timestamp_;
        if (step > 0 && step <= 48000) frame_samples_ = step;
    }
    playout f;
    f.kind = playout_kind::frame;
    f.sequence = sequence;
    f.timestamp = timestamp;
    f.samples = frame_samples_;
    f.payload_type = payload_type;
    f.marker = marker;
    f.payload = payload;
    out_.push_back(f);
    ++stats_.played;
    last_timestamp_ = timestamp;
    next_ = static_cast<std::uint16_t>(sequence + 1);
    next_timestamp_ = timestamp + frame_samples_;
    played_mask_ = (played_mask_ << 1U) | 1U;
    last_out_ = arrival;
    clock_started_ = true;
}

void arrival_buffer::emit_packet(const packet& p, time_point arrival) {
    emit(p.sequence, p.timestamp, p.payload_type, p.marker, p.payload, arrival);
}

void arrival_buffer::emit_slot(const slot& s, time_point arrival) {
    emit(s.sequence, s.timestamp, s.payload_type, s.marker, s.payload, arrival);
}

// The held packet whose turn it is, if it is here.
bool arrival_buffer::emit_held(time_point arrival) {
    slot* s = find(next_);
    if (s == nullptr) return false;
    s->used = false;  // its payload stays where it is until the next call
    --held_count_;
    emit_slot(*s, arrival);
    return true;
}

// What is held and now in turn follows.
void arrival_buffer::drain(time_point arrival) {
    while (held_count_ > 0 && emit_held(arrival)) {
    }
}

// Gives up the packet whose turn it is.
void arrival_buffer::skip() noexcept {
    ++stats_.lost;
    played_mask_ <<= 1U;
    next_ = static_cast<std::uint16_t>(next_ + 1);
    next_timestamp_ += frame_samples_;
}

// A step beyond `jump` or another SSRC: taken only when the next packet follows it.
void arrival_buffer::consider_restart(const packet& p, time_point arrival) {
    if (candidate_active_ && p.ssrc == candidate_ssrc_ && p.sequence == static_cast<std::uint16_t>(candidate_.sequence + 1)) {
        --stats_.held;
        candidate_active_ = false;
        stats_.lost += held_count_;  // what waited for a gap of the old stream is given up
        start(p.ssrc, candidate_.sequence);
        emit_slot(candidate_, arrival);
        emit_packet(p, arrival);
        return;
    }
    ++stats_.held;
    candidate_active_ = true;
    candidate_ssrc_ = p.ssrc;
    candidate_.take(p);
}

std::span<const playout> arrival_buffer::push(const packet& p, time_point arrival) {
    out_.clear();
    ++stats_.received;
    if (!started_) {
        start(p.ssrc, p.sequence);
        emit_packet(p, arrival);
        return out_;
    }
    if (p.ssrc != ssrc_) {
        consider_restart(p, arrival);
        return out_;
    }
    const auto d = static_cast<std::int16_t>(static_cast<std::uint16_t>(p.sequence - next_));
    if (d < 0) {
        if (d < -static_cast<int>(config_.jump)) {
            consider_restart(p, arrival);
        } else if (d >= -64 && (played_mask_ >> static_cast<unsigned>(-d - 1)) & 1U) {
            ++stats_.duplicates;
        } else {
            ++stats_.late;  // its number was given up (or is too old to tell: late either way)
        }
        return out_;
    }
    if (d > static_cast<int>(config_.jump)) {
        consider_restart(p, arrival);
        return out_;
    }
    candidate_active_ = false;  // the stream went on: a stray packet was just that
    if (d == 0) {
        emit_packet(p, arrival);
        drain(arrival);
        return out_;
    }
    if (static_cast<std::size_t>(d) <= slots_.size()) {
        slot& s = slots_[p.sequence % slots_.size()];
        if (s.used && s.sequence == p.sequence) {
            ++stats_.duplicates;
            return out_;
        }
        s.used = true;
        s.take(p);
        ++held_count_;
        return out_;
    }
    // Further ahead than can be held: the gap is lost. Its time was filled by poll() while it lasted,
    // so nothing stands in for it now; what was held plays in order, then this packet.
    while (next_ != p.sequence)
        if (!emit_held(arrival)) skip();
    emit_packet(p, arrival);
    drain(arrival);
    return out_;
}

std::span<const playout> arrival_buffer::poll(time_point now) {
    out_.clear();
    if (!clock_started_) {
        clock_started_ = true;
        last_out_ = now;
        return out_;
    }
    if (now - last_out_ < config_.frame + config_.frame / 2) return out_;
    // One frame is due and nothing came for it.
    last_out_ = std::max(last_out_ + config_.frame, now - config_.frame);
    playout f;
    f.samples = frame_samples_;
    f.timestamp = next_timestamp_;
    if (!started_) {
        out_.push_back(f);  // nothing: before the first packet
        return out_;
    }
    if (held_count_ == 0) {
        // Quiet (silence suppression, a late packet, hold): fill the time, consume no number.
        f.kind = playout_kind::conceal;
        ++stats_.concealed;
        out_.push_back(f);
        return out_;
    }
    // Later packets are here and the next one is not: it is lost.
    f.kind = playout_kind::lost;
    f.sequence = next_;
    if (const slot* after = find(static_cast<std::uint16_t>(next_ + 1))) f.next_payload = after->payload;
    out_.push_back(f);
    skip();
    drain(now);
    return out_;
}

}  // namespace sipvoice::rtp
