// Voice activity and end of turn for one caller, over 20 ms PCM frames. Sans-I/O: no clock of its
// own (time is the count of frames fed), so tests drive it sample-exactly.
//
// Level: each frame's energy in dBFS. Noise floor: follows the level down at once and up slowly
// (about 1 dB per 200 ms) while the caller is not speaking, never below -60 dBFS, so that the line's
// own hiss, comfort noise or a quiet room sets the bar and digital silence does not make every click
// "speech".
//
// Speech starts when frames stay above floor + speech_threshold_db for min_speech (short gaps of up
// to 60 ms inside that are allowed; a longer gap starts the count again): a cough or a click is
// shorter and starts nothing. A turn ends after end_of_turn_silence of frames below floor +
// silence_threshold_db (frames between the two thresholds are neither: they keep the turn open).
// The audio of a turn starts 300 ms before the first loud frame (the onset of a word is quiet) and
// ends with the trailing silence.
//
// Speculation: after early_silence of quiet (less than end_of_turn_silence) a `pause` event lets the
// agent start transcribing and thinking before the turn is certain; `resumed` says the caller went
// on talking (that work is void), `turn_ended` that the pause was the end of the turn.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace sipvoice::agent {

struct turn_detector_config {
    double speech_threshold_db = 12;
    double silence_threshold_db = 6;
    double end_of_turn_silence = 0.5;  // seconds
    double min_speech = 0.2;           // seconds
    std::uint32_t rate = 16000;
    std::size_t frame_samples = 320;   // 20 ms at 16 kHz
    double early_silence = 0.12;       // seconds: the pause event (0 or >= end_of_turn_silence: none)
    double pre_roll = 0.3;             // seconds of audio kept before the onset
    double max_turn = 30;              // seconds: a turn this long ends (a caller who never pauses)
};

class turn_detector {
public:
    enum class event { none, speech_started, pause, resumed, turn_ended };

    explicit turn_detector(turn_detector_config cfg = {});
    // One frame (frame_samples long; other lengths are taken as they are).
    event feed(std::span<const std::int16_t> frame);
    // The audio of the turn that just ended (after turn_ended), moved out.
    std::vector<std::int16_t> take_turn();
    // The audio of the turn so far (at a pause).
    [[nodiscard]] const std::vector<std::int16_t>& turn_so_far() const noexcept { return turn_; }

    [[nodiscard]] bool in_speech() const noexcept { return speaking_; }
    // Loud frames counted toward the start of speech (0 while speaking or after a gap): lets the
    // agent react to a caller talking over it before min_speech has passed.
    [[nodiscard]] std::size_t onset_frames() const noexcept { return candidate_frames_; }
    [[nodiscard]] double noise_floor_db() const noexcept { return floor_db_; }
    [[nodiscard]] double level_db() const noexcept { return level_db_; }
    // Frames fed so far, and the frame index of the last loud frame of the turn (end of speech).
    [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }
    [[nodiscard]] std::uint64_t last_voiced_frame() const noexcept { return last_voiced_; }
    [[nodiscard]] double frame_seconds() const noexcept;

    static double level_dbfs(std::span<const std::int16_t> frame) noexcept;

private:
    turn_detector_config cfg_;
    double floor_db_ = -60;
    double level_db_ = -90;
    bool speaking_ = false;
    std::uint64_t frames_ = 0;
    std::uint64_t last_voiced_ = 0;
    std::size_t candidate_frames_ = 0;  // loud frames counted toward min_speech
    std::size_t candidate_gap_ = 0;     // quiet frames since the last loud one, before speech started
    std::size_t silent_frames_ = 0;     // quiet frames in a row during speech
    bool paused_ = false;               // the pause event was given for this silence
    std::size_t turn_frames_ = 0;
    std::vector<std::int16_t> pre_;     // ring of the last pre_roll seconds while not speaking
    std::size_t pre_head_ = 0;
    std::size_t pre_fill_ = 0;
    std::vector<std::int16_t> turn_;
};

}  // namespace sipvoice::agent
