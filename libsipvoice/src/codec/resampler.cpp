// Streaming sample rate conversion over libsamplerate with exact frame bookkeeping (resampler.hpp).
#include "sipvoice/codec/resampler.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

#if SIPVOICE_HAVE_SAMPLERATE
#include <samplerate.h>
#endif

namespace sipvoice::codec {
namespace {

constexpr std::uint32_t min_rate = 8000;
constexpr std::uint32_t max_rate = 192000;
// Input is converted in slices of this many samples, so the float buffers stay small whatever the
// caller hands in at once.
constexpr std::size_t slice = 1024;

#if SIPVOICE_HAVE_SAMPLERATE
int converter(resampler_quality q) noexcept {
    switch (q) {
        case resampler_quality::fastest: return SRC_SINC_FASTEST;
        case resampler_quality::medium: return SRC_SINC_MEDIUM_QUALITY;
        case resampler_quality::best: return SRC_SINC_BEST_QUALITY;
    }
    return SRC_SINC_FASTEST;
}

error from_src(int code) noexcept { return {errc::library_error, library::samplerate, code}; }
#endif

}  // namespace

void resampler::deleter::operator()([[maybe_unused]] SRC_STATE_tag* s) const noexcept {
#if SIPVOICE_HAVE_SAMPLERATE
    src_delete(s);
#endif
}

result<resampler> resampler::create(std::uint32_t input_rate, std::uint32_t output_rate,
                                    [[maybe_unused]] resampler_quality quality) noexcept {
    if (input_rate < min_rate || input_rate > max_rate || output_rate < min_rate || output_rate > max_rate)
        return error{errc::bad_sample_rate};
    resampler r;
    r.in_rate_ = input_rate;
    r.out_rate_ = output_rate;
    if (input_rate == output_rate) return r;
#if SIPVOICE_HAVE_SAMPLERATE
    int code = 0;
    r.state_.reset(src_new(converter(quality), 1, &code));
    if (!r.state_) return from_src(code != 0 ? code : 1);
    r.float_in_.resize(slice);
    r.float_out_.resize(slice * (output_rate / input_rate + 1) + 64);
    // Measure how far the filter's output trails the ideal count: 100 ms of silence in, count out.
    // The trail settles once the look-ahead is filled, well within 100 ms for every converter.
    const std::size_t probe = input_rate / 10;
    const std::vector<std::int16_t> silence(probe, 0);
    if (auto e = r.convert(silence); e.failed()) return e;
    const std::uint64_t ideal = static_cast<std::uint64_t>(probe) * output_rate / input_rate;
    const std::uint64_t got = r.fifo_.size();
    // Two more for the rounding of the running count from chunk to chunk.
    r.delay_ = static_cast<std::uint32_t>(ideal > got ? ideal - got : 0) + 2;
    // Rounded up to a whole number of input samples when that costs under 1 ms (it does for any
    // two of 8, 16, 24, 48 kHz), so that delays add up exactly through a chain of resamplers.
    const std::uint32_t q = output_rate / std::gcd(input_rate, output_rate);
    if (q <= output_rate / 1000) r.delay_ = (r.delay_ + q - 1) / q * q;
    if (auto e = r.reset(); e.failed()) return e;
    return r;
#else
    return error{errc::not_available};
#endif
}

error resampler::reset() noexcept {
    if (!valid()) return {errc::not_initialized};
#if SIPVOICE_HAVE_SAMPLERATE
    if (state_) {
        if (int code = src_reset(state_.get()); code != 0) return from_src(code);
    }
#endif
    total_in_ = 0;
    total_out_ = 0;
    underruns_ = 0;
    owed_ = 0;
    fifo_.assign(delay_, 0);
    fifo_head_ = 0;
    return {};
}

std::size_t resampler::output_samples(std::size_t input_samples) const noexcept {
    if (!valid()) return 0;
    const std::uint64_t total = (total_in_ + input_samples) * out_rate_ / in_rate_;
    return static_cast<std::size_t>(total - total_out_);
}

error resampler::convert([[maybe_unused]] std::span<const std::int16_t> in) noexcept {
#if SIPVOICE_HAVE_SAMPLERATE
    const double ratio = static_cast<double>(out_rate_) / static_cast<double>(in_rate_);
    while (!in.empty()) {
        const std::size_t n = std::min(in.size(), slice);
        src_short_to_float_array(in.data(), float_in_.data(), static_cast<int>(n));
        std::size_t used = 0;
        while (used < n) {
            SRC_DATA d{};
            d.data_in = float_in_.data() + used;
            d.input_frames = static_cast<long>(n - used);
            d.data_out = float_out_.data();
            d.output_frames = static_cast<long>(float_out_.size());
            d.src_ratio = ratio;
            d.end_of_input = 0;
            if (int code = src_process(state_.get(), &d); code != 0) return from_src(code);
            used += static_cast<std::size_t>(d.input_frames_used);
            const auto produced = static_cast<std::size_t>(d.output_frames_gen);
            const std::size_t at = fifo_.size();
            fifo_.resize(at + produced);
            src_float_to_short_array(float_out_.data(), fifo_.data() + at, static_cast<int>(produced));
            if (d.input_frames_used == 0 && produced == 0) break;  // cannot happen; never spin
        }
        in = in.subspan(n);
    }
    return {};
#else
    return {errc::not_available};
#endif
}

result<std::size_t> resampler::process(std::span<const std::int16_t> in, std::span<std::int16_t> out) noexcept {
    if (!valid()) return error{errc::not_initialized};
    const std::size_t want = output_samples(in.size());
    if (out.size() < want) return error{errc::buffer_too_small};
    if (!state_) {  // equal rates
        std::copy(in.begin(), in.end(), out.begin());
    } else {
        if (auto e = convert(in); e.failed()) return e;
        // Samples made up earlier stood in for samples the filter delivers now: drop those, so the
        // output stays aligned with the input.
        const std::size_t late = std::min<std::size_t>(fifo_.size() - fifo_head_, owed_);
        fifo_head_ += late;
        owed_ -= late;
        const std::size_t have = fifo_.size() - fifo_head_;
        const std::size_t take = std::min(have, want);
        if (take > 0) std::memcpy(out.data(), fifo_.data() + fifo_head_, take * sizeof(std::int16_t));
        if (take < want) {
            std::fill(out.begin() + static_cast<std::ptrdiff_t>(take), out.begin() + static_cast<std::ptrdiff_t>(want),
                      std::int16_t{0});
            underruns_ += want - take;
            owed_ += want - take;
        }
        fifo_head_ += take;
        if (fifo_head_ == fifo_.size()) {
            fifo_.clear();
            fifo_head_ = 0;
        } else if (fifo_head_ > 4096) {
            fifo_.erase(fifo_.begin(), fifo_.begin() + static_cast<std::ptrdiff_t>(fifo_head_));
            fifo_head_ = 0;
        }
    }
    total_in_ += in.size();
    total_out_ += want;
    return want;
}

}  // namespace sipvoice::codec
