#include "turn_detector.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace sipvoice::agent {
namespace {
constexpr double k_min_floor_db = -60;
constexpr double k_floor_rise_db_per_frame = 0.1;  // 1 dB per 200 ms at 20 ms frames
constexpr std::size_t k_max_candidate_gap = 3;     // 60 ms: a short dip inside a word

std::size_t frames_for(double seconds, const turn_detector_config& c) {
    const double frame_s = static_cast<double>(c.frame_samples) / c.rate;
    return static_cast<std::size_t>(std::max(1.0, std::ceil(seconds / frame_s - 1e-9)));
}
}  // namespace

turn_detector::turn_detector(turn_detector_config cfg) : cfg_(cfg) {
    pre_.assign(static_cast<std::size_t>(cfg_.pre_roll * cfg_.rate), 0);
}

double turn_detector::frame_seconds() const noexcept { return static_cast<double>(cfg_.frame_samples) / cfg_.rate; }

double turn_detector::level_dbfs(std::span<const std::int16_t> frame) noexcept {
    if (frame.empty()) return -90;
    double sum = 0;
    for (const std::int16_t s : frame) sum += static_cast<double>(s) * s;
    const double mean = sum / static_cast<double>(frame.size()) / (32768.0 * 32768.0);
    return mean <= 1e-9 ? -90 : 10 * std::log10(mean);
}

std::vector<std::int16_t> turn_detector::take_turn() { return std::exchange(turn_, {}); }

turn_detector::event turn_detector::feed(std::span<const std::int16_t> frame) {
    ++frames_;
    level_db_ = level_dbfs(frame);
    const bool loud = level_db_ > floor_db_ + cfg_.speech_threshold_db;
    // Quiet is judged on the frame's latter half: a resampler's or codec's delay carries the last
    // milliseconds of a word into the next frame, and the silence after it should count from that
    // frame, not one frame (20 ms of reply latency) later.
    const double tail_db = level_dbfs(frame.subspan(frame.size() / 2));
    const bool quiet = tail_db < floor_db_ + cfg_.silence_threshold_db;

    if (speaking_) {
        turn_.insert(turn_.end(), frame.begin(), frame.end());
        ++turn_frames_;
        if (!quiet) {
            silent_frames_ = 0;
            if (loud) last_voiced_ = frames_;
            if (paused_) {
                paused_ = false;
                return event::resumed;
            }
        } else {
            ++silent_frames_;
        }
        if (silent_frames_ >= frames_for(cfg_.end_of_turn_silence, cfg_) ||
            turn_frames_ >= frames_for(cfg_.max_turn, cfg_)) {
            speaking_ = false;
            paused_ = false;
            candidate_frames_ = candidate_gap_ = silent_frames_ = turn_frames_ = 0;
            pre_fill_ = 0;
            return event::turn_ended;
        }
        if (!paused_ && cfg_.early_silence > 0 && cfg_.early_silence < cfg_.end_of_turn_silence &&
            silent_frames_ == frames_for(cfg_.early_silence, cfg_)) {
            paused_ = true;
            return event::pause;
        }
        return event::none;
    }

    // Not speaking: the floor follows the line, down at once, up slowly.
    if (level_db_ < floor_db_) floor_db_ = std::max(k_min_floor_db, level_db_);
    else if (!loud) floor_db_ = std::min(level_db_, floor_db_ + k_floor_rise_db_per_frame);

    // The pre-roll ring keeps the audio before the onset.
    for (const std::int16_t s : frame) {
        if (pre_.empty()) break;
        pre_[pre_head_] = s;
        pre_head_ = (pre_head_ + 1) % pre_.size();
        pre_fill_ = std::min(pre_fill_ + 1, pre_.size());
    }

    if (loud) {
        ++candidate_frames_;
        candidate_gap_ = 0;
        last_voiced_ = frames_;
    } else if (candidate_frames_ > 0 && ++candidate_gap_ > k_max_candidate_gap) {
        candidate_frames_ = candidate_gap_ = 0;
    }
    if (candidate_frames_ >= frames_for(cfg_.min_speech, cfg_)) {
        speaking_ = true;
        silent_frames_ = 0;
        turn_frames_ = 0;
        turn_.clear();
        // Oldest first: pre_fill_ samples ending at pre_head_ (the current frame is the last of them).
        const std::size_t start = (pre_head_ + pre_.size() - pre_fill_) % std::max<std::size_t>(1, pre_.size());
        for (std::size_t i = 0; i < pre_fill_; ++i) turn_.push_back(pre_[(start + i) % pre_.size()]);
        return event::speech_started;
    }
    return event::none;
}

}  // namespace sipvoice::agent
