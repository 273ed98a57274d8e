// Adaptive playout buffer: reorder by sequence number, play on a timeline of media timestamps,
// adapt the delay to the measured spread of transit times (RFC 3550 §6.4.1 explains why transit
// differences, not absolute delays, are what a receiver can measure).
#include "sipvoice/rtp/jitter_buffer.hpp"

#include <algorithm>

namespace sipvoice::rtp {
namespace {

constexpr std::int64_t history = 256;      // sequence numbers remembered as played, for duplicates
constexpr std::int64_t max_misorder = 100;  // RFC 3550 A.1's MAX_MISORDER: further behind is a restart
constexpr std::size_t min_measured = 10;    // packets before the measured target replaces initial_delay
constexpr std::int64_t max_frame_ms = 120;  // a larger timestamp step between neighbours is a gap

std::int64_t us(duration d) noexcept { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); }

std::size_t round_up_pow2(std::size_t n) noexcept {
    std::size_t p = 16;
    while (p < n && p < (std::size_t{1} << 14)) p <<= 1;
    return p;
}

}  // namespace

jitter_buffer::jitter_buffer(jitter_buffer_config config) : config_(config) {
    if (config_.clock_rate == 0) config_.clock_rate = 8000;
    if (config_.frame <= duration::zero()) config_.frame = duration{20};
    if (config_.min_delay < duration::zero()) config_.min_delay = duration::zero();
    if (config_.max_delay < config_.min_delay) config_.max_delay = config_.min_delay;
    config_.window = std::clamp<std::size_t>(config_.window, 1, UINT16_MAX);
    config_.reference_window = std::clamp<std::size_t>(config_.reference_window, 1, UINT16_MAX);
    if (!(config_.delay_quantile >= 0 && config_.delay_quantile <= 1)) config_.delay_quantile = 0.97;
    slots_.resize(round_up_pow2(config_.capacity));
    mask_ = slots_.size() - 1;
    free_buffers_.reserve(slots_.size());  // never more spares than slots: freeing does not allocate
    min_queue_.resize(config_.reference_window);
    delays_.resize(config_.window);
    // Buckets of 1 ms, or wider for a max_delay beyond half a second (at most ~513 of them).
    delay_width_us_ = std::max<std::int64_t>(1000, (us(config_.max_delay) + 511) / 512);
    histogram_.resize(static_cast<std::size_t>(us(config_.max_delay) / delay_width_us_) + 1);
    reset();
}

void jitter_buffer::reset() {
    free_all();
    state_ = state::empty;
    played_any_ = false;
    held_active_ = false;
    played_bits_ = {};
    underrun_debt_ = 0;
    clear_transits();
    transit_min_ = 0;
    frame_samples_ = static_cast<std::uint32_t>(samples_of(config_.frame));
    target_us_ = std::clamp(us(config_.initial_delay), us(config_.min_delay), us(config_.max_delay));
}

std::int64_t jitter_buffer::samples_of(duration d) const noexcept {
    return static_cast<std::int64_t>(d.count()) * config_.clock_rate / 1000;
}

duration jitter_buffer::target_delay() const noexcept {
    return std::chrono::duration_cast<duration>(std::chrono::microseconds{target_us_});
}

duration jitter_buffer::current_delay(time_point now) const noexcept {
    if (state_ != state::playing) return duration::zero();
    return std::chrono::duration_cast<duration>(std::chrono::microseconds{delay_us(now)});
}

jitter_buffer::slot* jitter_buffer::find(std::int64_t seq) noexcept {
    slot& s = at(seq);
    return s.used && s.seq == seq ? &s : nullptr;
}

void jitter_buffer::free_slot(slot& s) noexcept {
    if (!s.used) return;
    s.used = false;
    free_buffers_.push_back(s.buffer);
    --count_;
}

void jitter_buffer::free_all() noexcept {
    for (slot& s : slots_) s.used = false;
    count_ = 0;
    free_buffers_.clear();
    for (std::size_t i = buffers_.size(); i-- > 0;) free_buffers_.push_back(static_cast<std::uint16_t>(i));
}

void jitter_buffer::mark_played(std::int64_t seq, bool played) noexcept {
    const auto i = static_cast<std::uint64_t>(seq) & (history - 1);
    const std::uint64_t bit = std::uint64_t{1} << (i & 63);
    if (played) played_bits_[i >> 6] |= bit;
    else played_bits_[i >> 6] &= ~bit;
}

bool jitter_buffer::was_played(std::int64_t seq) const noexcept {
    const auto i = static_cast<std::uint64_t>(seq) & (history - 1);
    return (played_bits_[i >> 6] >> (i & 63)) & 1;
}

std::int64_t jitter_buffer::transit_us(std::int64_t ts, time_point arrival) const noexcept {
    const auto since = std::chrono::duration_cast<std::chrono::microseconds>(arrival - base_time_).count();
    return since - (ts - base_ts_) * 1'000'000 / config_.clock_rate;
}

std::int64_t jitter_buffer::delay_us(time_point now) const noexcept {
    // When the next frame's audio would have arrived with the fastest transit seen lately, and how
    // long ago that is.
    return transit_us(play_ts_, now) - transit_min_;
}

void jitter_buffer::clear_transits() noexcept {
    min_front_ = 0;
    min_size_ = 0;
    transit_index_ = 0;
    delay_next_ = 0;
    delay_count_ = 0;
    std::fill(histogram_.begin(), histogram_.end(), std::uint16_t{0});
    quantile_bucket_ = 0;
    below_quantile_ = 0;
}

void jitter_buffer::push_min_transit(std::int64_t transit) noexcept {
    // Every packet enters the queue once and leaves it once: O(1) amortized per packet instead of a
    // scan of the window.
    const std::size_t cap = min_queue_.size();
    const std::uint64_t index = transit_index_++;
    while (min_size_ > 0 && min_queue_[(min_front_ + min_size_ - 1) % cap].transit >= transit) --min_size_;
    if (min_size_ > 0 && index - min_queue_[min_front_].index >= cap) {
        min_front_ = (min_front_ + 1) % cap;
        --min_size_;
    }
    min_queue_[(min_front_ + min_size_) % cap] = {index, transit};
    ++min_size_;
    transit_min_ = min_queue_[min_front_].transit;
}

void jitter_buffer::push_delay(std::int64_t delay_us) noexcept {
    // The delay enters its bucket, the one leaving the window (once it is full) leaves its own, and
    // the quantile's bucket moves until the rank falls inside it again: usually not at all or by one.
    const std::size_t last = histogram_.size() - 1;
    const auto bucket = static_cast<std::uint16_t>(std::min<std::uint64_t>(
        static_cast<std::uint64_t>(std::max<std::int64_t>(delay_us, 0) / delay_width_us_), last));
    if (delay_count_ < delays_.size()) {
        ++delay_count_;
    } else {
        const std::uint16_t leaving = delays_[delay_next_];
        --histogram_[leaving];
        if (leaving < quantile_bucket_) --below_quantile_;
    }
    ++histogram_[bucket];
    if (bucket < quantile_bucket_) ++below_quantile_;
    delays_[delay_next_] = bucket;
    if (++delay_next_ == delays_.size()) delay_next_ = 0;
    const auto rank = static_cast<std::size_t>(config_.delay_quantile * static_cast<double>(delay_count_ - 1));
    while (rank < below_quantile_) below_quantile_ -= histogram_[--quantile_bucket_];
    while (rank >= below_quantile_ + histogram_[quantile_bucket_]) below_quantile_ += histogram_[quantile_bucket_++];
}

void jitter_buffer::record_transit(std::int64_t ts, time_point arrival) {
    const std::int64_t transit = transit_us(ts, arrival);
    push_min_transit(transit);
    push_delay(transit - transit_min_);
    // The quantile's bucket by its upper edge (the target errs late by less than a bucket, never
    // early), and half a frame on top: pulls come at their own phase, so the slack seen at a pull
    // varies by a frame.
    std::int64_t target = static_cast<std::int64_t>(quantile_bucket_ + 1) * delay_width_us_ + us(config_.frame) / 2;
    if (delay_count_ < min_measured) target = std::max(target, us(config_.initial_delay));
    target_us_ = std::clamp(target, us(config_.min_delay), us(config_.max_delay));
}

void jitter_buffer::store(std::int64_t seq, std::int64_t ts, const packet& p) {
    slot& s = at(seq);
    free_slot(s);
    if (free_buffers_.empty()) {
        s.buffer = static_cast<std::uint16_t>(buffers_.size());  // at most slots_.size() <= 2^14 of them
        buffers_.emplace_back();
    } else {
        s.buffer = free_buffers_.back();
        free_buffers_.pop_back();
    }
    s.used = true;
    s.seq = seq;
    s.ts = ts;
    s.payload_type = p.payload_type;
    s.marker = p.marker;
    buffers_[s.buffer].assign(p.payload.begin(), p.payload.end());
    ++count_;
    // The packet duration, from neighbours in sequence; a bigger step is a silence gap, not a frame.
    const std::int64_t max_step = samples_of(duration{max_frame_ms});
    if (const slot* prev = find(seq - 1); prev && ts - prev->ts > 0 && ts - prev->ts <= max_step)
        frame_samples_ = static_cast<std::uint32_t>(ts - prev->ts);
    else if (const slot* next = find(seq + 1); next && next->ts - ts > 0 && next->ts - ts <= max_step)
        frame_samples_ = static_cast<std::uint32_t>(next->ts - ts);
}

void jitter_buffer::start(const packet& p, time_point arrival) {
    free_all();
    played_bits_ = {};
    held_active_ = false;
    underrun_debt_ = 0;
    ssrc_ = p.ssrc;
    played_any_ = false;
    next_seq_ = high_seq_ = p.sequence;
    high_ts_ = play_ts_ = p.timestamp;
    base_time_ = arrival;
    base_ts_ = p.timestamp;
    clear_transits();
    frame_samples_ = static_cast<std::uint32_t>(samples_of(config_.frame));
    target_us_ = std::clamp(us(config_.initial_delay), us(config_.min_delay), us(config_.max_delay));
    record_transit(p.timestamp, arrival);
    store(next_seq_, p.timestamp, p);
    state_ = state::buffering;
    start_at_ = arrival + std::chrono::duration_cast<clock::duration>(std::chrono::microseconds{target_us_});
}

push_result jitter_buffer::push(bytes_view datagram, time_point arrival) {
    auto p = parse_packet(datagram);
    if (!p) {
        ++stats_.received;
        return push_result::invalid;
    }
    return push(*p, arrival);
}

push_result jitter_buffer::push(const packet& p, time_point arrival) {
    ++stats_.received;
    if (state_ == state::empty) {
        start(p, arrival);
        return push_result::accepted;
    }
    if (p.ssrc != ssrc_) return hold(p, arrival);
    return push_known(p, arrival);
}

push_result jitter_buffer::hold(const packet& p, time_point arrival) {
    // A new stream is believed when its next packet follows (RFC 3550 A.1 does the same for a jump),
    // so one stray or spoofed packet cannot flush the buffer.
    if (held_active_ && p.ssrc == held_.ssrc && p.sequence == static_cast<std::uint16_t>(held_.sequence + 1)) {
        packet first;
        first.ssrc = held_.ssrc;
        first.sequence = held_.sequence;
        first.timestamp = held_.timestamp;
        first.payload_type = held_.payload_type;
        first.marker = held_.marker;
        std::vector<std::uint8_t> payload = std::move(held_.payload);
        first.payload = payload;
        start(first, held_.arrival);
        ++stats_.resyncs;
        push_known(p, arrival);
        held_.payload = std::move(payload);  // keep the allocation for the next held packet
        return push_result::resynced;
    }
    if (held_active_) ++stats_.held;
    held_active_ = true;
    held_.ssrc = p.ssrc;
    held_.sequence = p.sequence;
    held_.timestamp = p.timestamp;
    held_.payload_type = p.payload_type;
    held_.marker = p.marker;
    held_.payload.assign(p.payload.begin(), p.payload.end());
    held_.arrival = arrival;
    return push_result::held;
}

push_result jitter_buffer::push_known(const packet& p, time_point arrival) {
    const auto cap = static_cast<std::int64_t>(slots_.size());
    const std::int64_t seq = high_seq_ + seq_diff(p.sequence, static_cast<std::uint16_t>(high_seq_));
    if (seq - high_seq_ >= cap) return hold(p, arrival);  // a jump the buffer cannot hold
    if (seq < next_seq_) {
        // Reordered before this stream's playout started: it still has its turn.
        const bool early_reorder =
            !played_any_ && next_seq_ - seq <= max_misorder && high_seq_ - seq < cap;
        if (!early_reorder) {
            if (next_seq_ - seq > history) return hold(p, arrival);  // far behind: maybe a restart
            if (was_played(seq)) {
                ++stats_.duplicates;
                return push_result::duplicate;
            }
            // Its transit still counts: late packets are exactly the evidence that the delay is too
            // short. Left out, the target would only ever see the packets it already catches and
            // never grow for the ones it misses. (Not one from beyond a resync: a stray, not jitter.)
            const std::int64_t ts = high_ts_ + ts_diff(p.timestamp, static_cast<std::uint32_t>(high_ts_));
            if (transit_us(ts, arrival) - transit_min_ <= us(config_.resync_threshold)) record_transit(ts, arrival);
            ++stats_.late;
            return push_result::late;
        }
    }
    if (find(seq)) {
        ++stats_.duplicates;
        return push_result::duplicate;
    }
    const std::int64_t ts = high_ts_ + ts_diff(p.timestamp, static_cast<std::uint32_t>(high_ts_));
    const std::int64_t transit = transit_us(ts, arrival);
    const std::int64_t threshold = us(config_.resync_threshold);
    if (transit - transit_min_ > threshold || transit_min_ - transit > threshold) {
        // The timestamps jumped against real time (a sender that restarted its media clock, or one
        // that stops it in silences): the old timeline says nothing about this packet.
        start(p, arrival);
        ++stats_.resyncs;
        return push_result::resynced;
    }
    if (held_active_) {
        ++stats_.held;  // the current stream goes on: the held packet was a stray
        held_active_ = false;
    }
    if (seq < next_seq_) {  // the early reorder above
        next_seq_ = seq;
        play_ts_ = ts;
    }
    // Nobody pulled for a while: make room by dropping the oldest.
    if (seq - next_seq_ >= cap) {
        while (seq - next_seq_ >= cap) {
            const bool had = find(next_seq_) != nullptr;
            if (had) {
                free_slot(*find(next_seq_));
                ++stats_.overflow;
            } else {
                ++stats_.lost;
            }
            mark_played(next_seq_, had);
            ++next_seq_;
            play_ts_ += frame_samples_;
        }
        if (const slot* s = find(next_seq_)) play_ts_ = s->ts;
    }
    record_transit(ts, arrival);
    store(seq, ts, p);
    if (seq > high_seq_) {
        high_seq_ = seq;
        high_ts_ = ts;
    }
    if (state_ == state::stopped) {
        // The stream resumes after it had stopped: buffer again before playing.
        state_ = state::buffering;
        start_at_ = arrival + std::chrono::duration_cast<clock::duration>(std::chrono::microseconds{target_us_});
    }
    return push_result::accepted;
}

playout jitter_buffer::emit_frame(slot& s) {
    playout out;
    out.kind = playout_kind::frame;
    out.sequence = static_cast<std::uint16_t>(s.seq);
    out.timestamp = static_cast<std::uint32_t>(s.ts);
    out.samples = frame_samples_;
    out.payload_type = s.payload_type;
    out.marker = s.marker;
    out_.swap(buffers_[s.buffer]);  // hand the bytes over without a copy; the pool keeps the old buffer
    out.payload = out_;
    play_ts_ = s.ts + frame_samples_;
    mark_played(s.seq, true);
    next_seq_ = s.seq + 1;
    free_slot(s);
    underrun_debt_ = 0;
    ++stats_.played;
    return out;
}

playout jitter_buffer::emit_conceal() {
    playout out;
    out.kind = playout_kind::conceal;
    out.timestamp = static_cast<std::uint32_t>(play_ts_);
    out.samples = frame_samples_;
    ++stats_.concealed;
    return out;
}

bool jitter_buffer::drop_one() noexcept {
    slot* s = find(next_seq_);
    if (!s || count_ < 2) return false;  // never the last packet: that would only make an underrun
    play_ts_ = s->ts + frame_samples_;
    mark_played(next_seq_, true);  // consumed: another copy of it is a duplicate, not a late packet
    ++next_seq_;
    free_slot(*s);
    ++stats_.dropped;
    return true;
}

bool jitter_buffer::adapt(time_point now, playout& out) {
    const std::int64_t frame_us = std::int64_t{frame_samples_} * 1'000'000 / config_.clock_rate;
    const std::int64_t excess = delay_us(now) - target_us_;
    if (excess > us(config_.max_delay)) {
        // After a stall the audio piled up: back to the target at once rather than a frame at a time.
        while (delay_us(now) - target_us_ > frame_us && drop_one()) {
        }
        last_adapt_ = now;
        return false;
    }
    if (excess > frame_us) {
        // In a silence gap, shortening the silence costs nothing audible: do it right away.
        if (const slot* s = find(next_seq_); s && s->ts - play_ts_ >= frame_samples_) {
            const std::int64_t excess_samples = excess * config_.clock_rate / 1'000'000;
            play_ts_ += std::min(s->ts - play_ts_, excess_samples);
            return false;
        }
        if (now - last_adapt_ >= config_.adapt_interval && drop_one()) last_adapt_ = now;
        return false;
    }
    if (excess < -frame_us / 2 && now - last_adapt_ >= config_.adapt_interval) {
        last_adapt_ = now;
        out = emit_conceal();
        ++stats_.stretched;
        return true;
    }
    return false;
}

void jitter_buffer::prefetch() const noexcept {
    __builtin_prefetch(this);
    __builtin_prefetch(reinterpret_cast<const char*>(this) + 64);
    if (slots_.empty()) return;
    const slot& s = slots_[static_cast<std::uint64_t>(next_seq_) & mask_];
    __builtin_prefetch(&s);
}

void jitter_buffer::prefetch_push() const noexcept {
    __builtin_prefetch(&stats_);
    __builtin_prefetch(&min_queue_);
    if (slots_.empty()) return;
    __builtin_prefetch(&slots_[static_cast<std::uint64_t>(high_seq_ + 1) & mask_], 1);
    if (!min_queue_.empty()) {
        __builtin_prefetch(&min_queue_[min_front_], 1);
        __builtin_prefetch(&min_queue_[(min_front_ + min_size_) % min_queue_.size()], 1);
    }
    if (!delays_.empty()) __builtin_prefetch(&delays_[delay_next_], 1);
    if (quantile_bucket_ < histogram_.size()) __builtin_prefetch(&histogram_[quantile_bucket_], 1);
    if (!free_buffers_.empty()) __builtin_prefetch(&free_buffers_.back());
}

playout jitter_buffer::pop(time_point now) {
    if (state_ == state::empty || state_ == state::stopped) return {};
    if (state_ == state::buffering) {
        if (count_ == 0 || now < start_at_) return {};
        // Start at the oldest packet here; sequence numbers skipped on the way were never played.
        while (!find(next_seq_)) {
            mark_played(next_seq_, false);
            ++next_seq_;
            ++stats_.lost;
        }
        play_ts_ = find(next_seq_)->ts;
        state_ = state::playing;
        played_any_ = true;
        last_adapt_ = now;
        underrun_debt_ = 0;
    }

    playout out;
    if (adapt(now, out)) return out;
    for (;;) {
        if (slot* s = find(next_seq_)) {
            if (s->ts - play_ts_ >= frame_samples_) {
                // Nothing missing but the timestamp moved on: silence suppression (RFC 3551 §4.1)
                // or a talkspurt boundary. Play the gap out.
                out = emit_conceal();
                play_ts_ += frame_samples_;
                return out;
            }
            return emit_frame(*s);
        }
        if (count_ == 0) {
            // Nothing here at all: a packet is late (a slower sender, a delay spike) or the stream
            // stopped. Stretch while that could still be jitter; then stop and buffer again.
            ++underrun_debt_;
            if (static_cast<std::int64_t>(underrun_debt_) * samples_of(config_.frame) > samples_of(config_.max_delay)) {
                state_ = state::stopped;
                underrun_debt_ = 0;
                return {};
            }
            return emit_conceal();
        }
        // Missing while a later packet is here: lost (or so late it no longer matters).
        const std::int64_t seq = next_seq_++;
        const std::int64_t ts = play_ts_;
        mark_played(seq, false);
        play_ts_ += frame_samples_;
        ++stats_.lost;
        if (underrun_debt_ > 0) {
            // Its time was already filled by a `conceal` while we waited for it.
            --underrun_debt_;
            continue;
        }
        out.kind = playout_kind::lost;
        out.sequence = static_cast<std::uint16_t>(seq);
        out.timestamp = static_cast<std::uint32_t>(ts);
        out.samples = frame_samples_;
        if (const slot* n = find(next_seq_)) out.next_payload = buffers_[n->buffer];
        return out;
    }
}

}  // namespace sipvoice::rtp
