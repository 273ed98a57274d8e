// sipvoice/codec/resampler.hpp: sample rate conversion of a mono PCM16 stream, through libsamplerate.
//
// The media layer runs the codec at its rate (8 kHz for G.711, 8/16/48 kHz for Opus) and the
// application at its own (8, 16, 24 or 48 kHz). A resampler converts one stream in one direction,
// chunk after chunk, keeping the filter state between chunks.
//
// Frame bookkeeping is exact: after N input samples in total, exactly floor(N * out / in) output
// samples have come out, whatever the chunking. A 20 ms frame of 160 samples at 8 kHz always gives
// 960 at 48 kHz, and 441 samples at 44.1 kHz give exactly 80 at 8 kHz. output_samples() says how
// many the next process() call writes, so a caller can size its buffer.
//
// That needs a fixed delay. libsamplerate's sinc filters hold back input until they have seen the
// filter's look-ahead, so their output trails floor(N * ratio) by a few dozen samples. The
// resampler measures that shortfall once when it is created (it feeds silence through the filter and
// counts), and starts its output with that many zeros (plus two for rounding, and up to a whole
// number of input samples where the rates allow): delay() output samples, after which the output is
// the converted input, time-aligned (the tests find a tone exactly there). With SRC_SINC_FASTEST
// that is 126 samples (2.6 ms) from 8 to 48 kHz and 21 (2.6 ms) from 48 to 8 kHz; with
// SRC_SINC_MEDIUM_QUALITY 288 (6 ms) and 47 (5.9 ms). Measured with libsamplerate 0.2.2.
//
//   auto up = codec::resampler::create(8000, 48000);
//   if (!up) log(up.error().what());
//   std::array<std::int16_t, 960> wide;
//   auto n = up->process(narrow_160, wide);                  // *n == 960, every time
//
// Equal rates copy (no delay, no libsamplerate). Other rates need libsamplerate
// (SIPVOICE_WITH_SAMPLERATE, sipvoice/config.hpp: SIPVOICE_HAVE_SAMPLERATE); without it create()
// returns errc::not_available. Rates: 8000 to 192000 Hz, any pair.
//
// Owns the libsamplerate state (RAII): move-only; default-constructed or moved-from objects answer
// errc::not_initialized. Not thread-safe: one object per stream direction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "sipvoice/codec/error.hpp"
#include "sipvoice/config.hpp"

// libsamplerate's opaque state (samplerate.h: typedef struct SRC_STATE_tag SRC_STATE).
struct SRC_STATE_tag;

namespace sipvoice::codec {

inline constexpr bool resampler_available = SIPVOICE_HAVE_SAMPLERATE != 0;

enum class resampler_quality : std::uint8_t {
    // libsamplerate's band-limited sinc converters; they differ in how much of the band below the
    // lower Nyquist frequency they keep, and in cost.
    fastest,  // SRC_SINC_FASTEST: 80% of the band (3.2 kHz of 4 kHz at 8 kHz): enough for telephony
    medium,   // SRC_SINC_MEDIUM_QUALITY: 90%, about 2.5 times the work
    best,     // SRC_SINC_BEST_QUALITY: 97%, for offline work
};

class resampler {
public:
    resampler() noexcept = default;
    static result<resampler> create(std::uint32_t input_rate, std::uint32_t output_rate,
                                    resampler_quality quality = resampler_quality::fastest) noexcept;

    resampler(resampler&&) noexcept = default;
    resampler& operator=(resampler&&) noexcept = default;
    resampler(const resampler&) = delete;
    resampler& operator=(const resampler&) = delete;
    ~resampler() = default;

    // How many samples process() writes for `input_samples` more input (exact, see above).
    [[nodiscard]] std::size_t output_samples(std::size_t input_samples) const noexcept;
    // Converts `in` (all of it) and writes exactly output_samples(in.size()) samples to `out`;
    // returns that count. errc::buffer_too_small (and nothing consumed) when `out` is shorter.
    result<std::size_t> process(std::span<const std::int16_t> in, std::span<std::int16_t> out) noexcept;
    // Back to the state right after create(): history, counters and the delay's zeros.
    error reset() noexcept;

    // Output samples between an input sample and its converted counterpart.
    [[nodiscard]] std::uint32_t delay() const noexcept { return delay_; }
    [[nodiscard]] std::uint32_t input_rate() const noexcept { return in_rate_; }
    [[nodiscard]] std::uint32_t output_rate() const noexcept { return out_rate_; }
    [[nodiscard]] std::uint64_t total_input() const noexcept { return total_in_; }
    [[nodiscard]] std::uint64_t total_output() const noexcept { return total_out_; }
    // Output samples that had to be made up (as zeros) because the filter delivered less than the
    // measured delay allowed for; as many filter samples are dropped later to stay aligned. Always
    // 0 unless libsamplerate changes behaviour; the tests check it.
    [[nodiscard]] std::uint64_t underruns() const noexcept { return underruns_; }
    [[nodiscard]] bool valid() const noexcept { return in_rate_ != 0; }

private:
    struct deleter {
        void operator()(SRC_STATE_tag* s) const noexcept;
    };
    error convert(std::span<const std::int16_t> in) noexcept;  // runs the filter, output to fifo_

    std::unique_ptr<SRC_STATE_tag, deleter> state_;  // null for equal rates
    std::uint32_t in_rate_ = 0;
    std::uint32_t out_rate_ = 0;
    std::uint32_t delay_ = 0;
    std::uint64_t total_in_ = 0;
    std::uint64_t total_out_ = 0;
    std::uint64_t underruns_ = 0;
    std::uint64_t owed_ = 0;  // made-up samples not yet balanced by dropping filter output
    std::vector<float> float_in_;
    std::vector<float> float_out_;
    std::vector<std::int16_t> fifo_;  // converted samples not handed out yet, from fifo_head_ on
    std::size_t fifo_head_ = 0;
};

}  // namespace sipvoice::codec
