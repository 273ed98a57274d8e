// sipvoice/codec/plc.hpp: packet loss concealment for codecs without their own (G.711).
//
// In the spirit of ITU-T G.711 Appendix I: when a frame is lost, the last pitch period of the audio
// that played is repeated, so voiced speech goes on sounding like the same voice instead of
// clicking into silence; over consecutive lost frames the repetition widens and fades out.
//
//   codec::plc plc(8000);
//   good frame:  g711::decode_ulaw(payload, pcm);  plc.frame(pcm);   // may touch pcm, see below
//   lost frame:  plc.conceal(pcm);                                   // any length, e.g. 160
//
// How (all lengths scale with the sample rate; figures at 8 kHz):
// - History: the last 3.25 longest pitch periods of received audio (390 samples, 48.75 ms).
// - At the start of a loss the pitch period P is searched between 5 ms (200 Hz) and 15 ms (66.7 Hz):
//   the lag whose segment correlates best (normalized cross-correlation) with the last 15 ms.
// - Synthesis repeats the last P samples. The loop point is smoothed: the last P/4 samples of the
//   loop fade into the samples that preceded its start in the history, so the wrap is continuous.
//   The first output sample is made to continue the last played one: the step between what played
//   and the start of the loop is taken out and faded away over P/4 samples (no delay is added, so
//   good frames pass through untouched; G.711 Appendix I instead delays all audio by 3.75 ms).
// - After 10 ms of loss the loop widens to the last 2 periods, after 20 ms to 3 (a single period
//   repeated for long sounds buzzy), with a P/4 crossfade at each change.
// - Level: unchanged for the first 10 ms, then falling linearly to silence at 60 ms (20% per 10 ms).
//   Output never exceeds the largest magnitude in the history.
// - The first good frame after a loss starts with a crossfade from the (faded) synthetic signal to
//   the real one: 4 ms plus 1 ms per 10 ms of loss, at most 10 ms (a longer loss has drifted
//   further from the real signal). That is the only time frame() changes samples.
//
// Sans-I/O and allocation-free after construction. Not thread-safe: one object per stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace sipvoice::codec {

class plc {
public:
    // sample_rate: the PCM rate of the stream, 8000 to 48000 Hz (others are clamped to that range).
    explicit plc(std::uint32_t sample_rate = 8000);

    // A frame that was received and decoded, in play order. Right after a loss its first samples
    // are crossfaded with the concealment (in place); otherwise it is only copied into the history.
    void frame(std::span<std::int16_t> samples) noexcept;
    // Fills `out` with concealment for lost audio. Call it once per lost frame, or per any slice:
    // consecutive calls continue one another.
    void conceal(std::span<std::int16_t> out) noexcept;
    // Forgets the history (a new stream, a resynchronised jitter buffer).
    void reset() noexcept;

    [[nodiscard]] std::uint32_t sample_rate() const noexcept { return rate_; }
    // True between a conceal() and the next frame().
    [[nodiscard]] bool concealing() const noexcept { return concealing_; }
    // Samples concealed in the current (or last) loss.
    [[nodiscard]] std::uint32_t concealed_samples() const noexcept { return erased_; }
    // The pitch period found at the start of the current (or last) loss, in samples.
    [[nodiscard]] std::uint32_t pitch_period() const noexcept { return pitch_; }
    // Samples of history a concealment draws on at `sample_rate` (as clamped above): of what frame()
    // is given between two losses, only the last history_samples() matter. 3 pitch periods of the
    // lowest pitch (66.7 Hz) for the widest loop, plus a quarter period before it for the loop point.
    [[nodiscard]] static constexpr std::size_t history_samples(std::uint32_t sample_rate) noexcept {
        const std::uint32_t max_pitch = (sample_rate < 8000 ? 8000 : sample_rate > 48000 ? 48000 : sample_rate) * 3 / 200;
        return 3 * max_pitch + max_pitch / 4;
    }

private:
    void start_concealment() noexcept;
    void build_loop(std::uint32_t periods) noexcept;
    [[nodiscard]] std::uint32_t find_pitch() const noexcept;
    std::int16_t next_synthetic() noexcept;  // one sample of concealment; advances the state
    void push_history(std::span<const std::int16_t> samples) noexcept;

    std::uint32_t rate_;
    std::uint32_t min_pitch_;  // samples
    std::uint32_t max_pitch_;
    std::uint32_t hold_;       // samples at full level
    std::uint32_t fade_;       // samples from full level to silence
    std::uint32_t step_;       // 10 ms: when the loop widens
    // A ring whose oldest sample is at history_head_; history_.size() is fixed. Unrolled (oldest
    // first, head 0) when a loss starts, which is when it is read.
    std::vector<std::int16_t> history_;
    std::size_t history_head_ = 0;
    std::vector<float> loop_;            // the current synthesis loop
    std::vector<float> old_loop_;        // the previous one while crossfading into the current one
    std::uint32_t loop_len_ = 0;
    std::uint32_t loop_pos_ = 0;
    std::uint32_t old_len_ = 0;
    std::uint32_t old_pos_ = 0;
    std::uint32_t crossfade_ = 0;   // samples left of the loop change crossfade
    std::uint32_t overlap_ = 0;     // P/4
    std::uint32_t periods_ = 0;     // periods in the loop
    float offset_ = 0;              // step between the last played sample and the loop's start
    float peak_ = 0;                // output bound
    std::uint32_t pitch_ = 0;
    std::uint32_t erased_ = 0;
    bool concealing_ = false;
};

}  // namespace sipvoice::codec
