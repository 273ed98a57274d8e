// Packet loss concealment by pitch period repetition (see plc.hpp; G.711 Appendix I in spirit).
#include "sipvoice/codec/plc.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace sipvoice::codec {
namespace {

std::int16_t to_sample(float v, float peak) noexcept {
    v = std::clamp(v, -peak, peak);
    return static_cast<std::int16_t>(std::lround(v));
}

}  // namespace

plc::plc(std::uint32_t sample_rate) : rate_(std::clamp<std::uint32_t>(sample_rate, 8000, 48000)) {
    min_pitch_ = rate_ / 200;      // 200 Hz
    max_pitch_ = rate_ * 3 / 200;  // 66.7 Hz
    hold_ = rate_ / 100;           // 10 ms at full level
    fade_ = rate_ / 20;            // then 50 ms down to silence
    step_ = rate_ / 100;           // the loop widens every 10 ms
    history_.assign(history_samples(rate_), 0);
    loop_.assign(3 * max_pitch_, 0.0f);
    old_loop_.assign(3 * max_pitch_, 0.0f);
}

void plc::reset() noexcept {
    std::fill(history_.begin(), history_.end(), std::int16_t{0});
    history_head_ = 0;
    concealing_ = false;
    erased_ = 0;
    crossfade_ = 0;
}

void plc::push_history(std::span<const std::int16_t> samples) noexcept {
    // Overwrites the oldest samples in place; nothing else moves.
    const std::size_t size = history_.size();
    if (samples.empty()) return;
    if (samples.size() >= size) {
        std::memcpy(history_.data(), samples.data() + samples.size() - size, size * sizeof(std::int16_t));
        history_head_ = 0;
        return;
    }
    const std::size_t first = std::min(samples.size(), size - history_head_);
    std::memcpy(history_.data() + history_head_, samples.data(), first * sizeof(std::int16_t));
    std::memcpy(history_.data(), samples.data() + first, (samples.size() - first) * sizeof(std::int16_t));
    history_head_ = (history_head_ + samples.size()) % size;
}

std::uint32_t plc::find_pitch() const noexcept {
    // The last max_pitch_ samples against the same length P samples earlier; the best P maximizes
    // the normalized cross-correlation dot(a, b) / |b| (|a| is the same for every P). Above 8 kHz a
    // coarse search on every d-th sample comes first, then a fine one around its winner.
    const std::size_t h = history_.size();
    const std::size_t window = max_pitch_;
    const std::int16_t* a = history_.data() + h - window;
    auto score = [&](std::uint32_t lag, std::size_t stride) {
        const std::int16_t* b = a - lag;
        double dot = 0, energy = 0;
        for (std::size_t i = 0; i < window; i += stride) {
            dot += static_cast<double>(a[i]) * b[i];
            energy += static_cast<double>(b[i]) * b[i];
        }
        return energy > 0 ? dot / std::sqrt(energy) : -1e300;
    };
    const std::uint32_t d = std::max<std::uint32_t>(1, rate_ / 8000);
    std::uint32_t best = min_pitch_;
    double best_score = -1e301;
    for (std::uint32_t lag = min_pitch_; lag <= max_pitch_; lag += d) {
        const double s = score(lag, d);
        if (s > best_score) {
            best_score = s;
            best = lag;
        }
    }
    if (d > 1) {
        const std::uint32_t lo = std::max(min_pitch_, best - std::min(best, d - 1));
        const std::uint32_t hi = std::min(max_pitch_, best + d - 1);
        best_score = -1e301;
        for (std::uint32_t lag = lo; lag <= hi; ++lag) {
            const double s = score(lag, 1);
            if (s > best_score) {
                best_score = s;
                best = lag;
            }
        }
    }
    return best;
}

void plc::build_loop(std::uint32_t periods) noexcept {
    // The last `periods` pitch periods of the history. Its last overlap_ samples fade into the
    // samples that precede its first one in the history, so the wrap from its end to its start
    // continues the waveform as the history did.
    periods_ = periods;
    loop_len_ = periods * pitch_;
    const std::size_t h = history_.size();
    const std::size_t start = h - loop_len_;
    const std::uint32_t body = loop_len_ - overlap_;
    for (std::uint32_t i = 0; i < body; ++i) loop_[i] = history_[start + i];
    for (std::uint32_t j = 0; j < overlap_; ++j) {
        const float w = static_cast<float>(j + 1) / static_cast<float>(overlap_ + 1);
        const float tail = history_[h - overlap_ + j];
        const float before_start = history_[start - overlap_ + j];
        loop_[body + j] = (1.0f - w) * tail + w * before_start;
    }
}

void plc::start_concealment() noexcept {
    // Oldest first from here on: the pitch search and the loops read the history as one run, and
    // nothing is pushed until the concealment ends.
    std::rotate(history_.begin(), history_.begin() + static_cast<std::ptrdiff_t>(history_head_), history_.end());
    history_head_ = 0;
    concealing_ = true;
    erased_ = 0;
    crossfade_ = 0;
    pitch_ = find_pitch();
    overlap_ = std::max<std::uint32_t>(1, pitch_ / 4);
    peak_ = 0;
    for (std::int16_t s : history_) peak_ = std::max(peak_, std::abs(static_cast<float>(s)));
    build_loop(1);
    loop_pos_ = 0;
    // The loop starts at history[h - P], which in the history followed history[h - P - 1]; here it
    // follows history[h - 1]. The difference is the step a plain repetition would put into the
    // waveform: it is added back and faded out over the first overlap_ samples.
    const std::size_t h = history_.size();
    offset_ = static_cast<float>(history_[h - 1]) - static_cast<float>(history_[h - pitch_ - 1]);
}

std::int16_t plc::next_synthetic() noexcept {
    if (erased_ >= hold_ + fade_) {
        ++erased_;
        return 0;
    }
    if (periods_ < 3 && erased_ == step_ * periods_) {
        // Widen the loop by one period, entering the new loop at the same phase and crossfading
        // from the old one.
        std::copy(loop_.begin(), loop_.begin() + loop_len_, old_loop_.begin());
        old_len_ = loop_len_;
        old_pos_ = loop_pos_;
        build_loop(periods_ + 1);
        loop_pos_ = old_pos_ % pitch_;
        crossfade_ = overlap_;
    }
    float v = loop_[loop_pos_];
    loop_pos_ = loop_pos_ + 1 == loop_len_ ? 0 : loop_pos_ + 1;
    if (crossfade_ > 0) {
        const float old = old_loop_[old_pos_];
        old_pos_ = old_pos_ + 1 == old_len_ ? 0 : old_pos_ + 1;
        const float w = static_cast<float>(overlap_ - crossfade_ + 1) / static_cast<float>(overlap_ + 1);
        v = (1.0f - w) * old + w * v;
        --crossfade_;
    }
    if (erased_ < overlap_) {
        v += offset_ * (1.0f - static_cast<float>(erased_ + 1) / static_cast<float>(overlap_ + 1));
    }
    if (erased_ >= hold_) v *= 1.0f - static_cast<float>(erased_ - hold_) / static_cast<float>(fade_);
    ++erased_;
    return to_sample(v, peak_);
}

void plc::conceal(std::span<std::int16_t> out) noexcept {
    if (!concealing_) start_concealment();
    for (auto& s : out) s = next_synthetic();
}

void plc::frame(std::span<std::int16_t> samples) noexcept {
    if (concealing_) {
        // 4 ms plus 1 ms per 10 ms lost, at most 10 ms, from the concealment into the real audio.
        std::size_t n = rate_ / 250 + (erased_ / step_) * (rate_ / 1000);
        n = std::min<std::size_t>({n, rate_ / 100, samples.size()});
        const std::uint32_t lost = erased_;  // the crossfade is not concealment
        for (std::size_t i = 0; i < n; ++i) {
            const float synthetic = next_synthetic();
            const float w = static_cast<float>(i + 1) / static_cast<float>(n + 1);
            const float v = w * static_cast<float>(samples[i]) + (1.0f - w) * synthetic;
            samples[i] = static_cast<std::int16_t>(std::lround(std::clamp(v, -32768.0f, 32767.0f)));
        }
        erased_ = lost;
        concealing_ = false;
    }
    push_history(samples);
}

}  // namespace sipvoice::codec
