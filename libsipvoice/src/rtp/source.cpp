// Receive statistics for one source: RFC 3550 A.1 (sequence), A.3 (loss), A.8 (jitter), §6.4.1.
#include "sipvoice/rtp/source.hpp"

#include <algorithm>

namespace sipvoice::rtp {

receive_source::receive_source(std::uint32_t ssrc, source_config config) noexcept
    : ssrc_(ssrc), config_(config), seq_(config.limits) {
    if (config_.clock_rate == 0) config_.clock_rate = 8000;
}

std::uint32_t receive_source::arrival_units(time_point arrival) const noexcept {
    // Arrival time on the media clock, modulo 2^32 like the RTP timestamp it is compared with. Split
    // into seconds and the rest so that a long call cannot overflow the multiplication.
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(arrival - epoch_).count();
    const std::uint64_t u = ns < 0 ? 0 : static_cast<std::uint64_t>(ns);
    const std::uint64_t units =
        (u / 1'000'000'000) * config_.clock_rate + (u % 1'000'000'000) * config_.clock_rate / 1'000'000'000;
    return static_cast<std::uint32_t>(units);
}

sequence_verdict receive_source::on_packet(const packet& p, time_point arrival, bool media_clock) noexcept {
    const sequence_verdict v = seq_.update(p.sequence);
    if (v == sequence_verdict::probation || v == sequence_verdict::rejected) return v;
    if (v == sequence_verdict::restarted) {
        // A.1: the sender restarted; the statistics begin again, and so does the jitter's reference.
        expected_prior_ = 0;
        received_prior_ = 0;
        have_transit_ = false;
    }
    if (!have_epoch_) {
        epoch_ = arrival;
        have_epoch_ = true;
    }
    ++packets_;
    octets_ += p.payload.size();
    last_arrival_ = arrival;
    heard_since_report_ = true;

    if (media_clock) {
        // RFC 3550 A.8: D = (Rj - Ri) - (Sj - Si) as the change in relative transit time, and
        // J += (|D| - J) / 16; all modulo 2^32 on the media clock.
        const std::uint32_t transit = arrival_units(arrival) - p.timestamp;
        if (have_transit_) {
            const std::int64_t d = static_cast<std::int32_t>(transit - last_transit_);
            const std::uint64_t magnitude = static_cast<std::uint64_t>(d < 0 ? -d : d);
            jitter_q4_ = jitter_q4_ + magnitude - ((jitter_q4_ + 8) >> 4);
        }
        last_transit_ = transit;
        have_transit_ = true;
    }
    return v;
}

void receive_source::on_sender_report(const sender_info& info, time_point arrival) noexcept {
    last_sr_ = info;
    last_sr_arrival_ = arrival;
}

std::uint32_t receive_source::jitter() const noexcept {
    const std::uint64_t j = jitter_q4_ >> 4;
    return j > 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(j);
}

std::chrono::microseconds receive_source::jitter_time() const noexcept {
    return std::chrono::microseconds{static_cast<std::int64_t>(std::uint64_t{jitter()} * 1'000'000 / config_.clock_rate)};
}

std::int64_t receive_source::cumulative_lost() const noexcept {
    return seq_.confirmed() ? seq_.expected() - seq_.received() : 0;
}

report_block receive_source::make_report_block(time_point now) noexcept {
    report_block b;
    b.ssrc = ssrc_;
    if (seq_.confirmed()) {
        // RFC 3550 A.3: cumulative loss clamped to 24 bits signed; the fraction over this interval only,
        // 0 when duplicates made it negative.
        const std::int64_t expected = seq_.expected();
        const std::int64_t lost = expected - seq_.received();
        b.cumulative_lost = static_cast<std::int32_t>(lost > 0x7fffff ? 0x7fffff : (lost < -0x800000 ? -0x800000 : lost));
        const std::int64_t expected_interval = expected - expected_prior_;
        const std::int64_t received_interval = std::int64_t{seq_.received()} - received_prior_;
        const std::int64_t lost_interval = expected_interval - received_interval;
        b.fraction_lost = (expected_interval <= 0 || lost_interval <= 0)
                              ? 0
                              : static_cast<std::uint8_t>(std::min<std::int64_t>(255, (lost_interval << 8) / expected_interval));
        expected_prior_ = expected;
        received_prior_ = seq_.received();
        b.highest_sequence = seq_.extended_max();
    }
    b.jitter = jitter();
    if (last_sr_) {
        b.last_sr = ntp_compact(last_sr_->ntp_timestamp);
        b.delay_since_last_sr =
            duration_to_compact(std::chrono::duration_cast<std::chrono::microseconds>(now - last_sr_arrival_));
    }
    heard_since_report_ = false;
    return b;
}

}  // namespace sipvoice::rtp
