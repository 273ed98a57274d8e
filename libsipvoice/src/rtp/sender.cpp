// The send side of one RTP stream (RFC 3550 §5.1, §6.4.1).
#include "sipvoice/rtp/sender.hpp"

namespace sipvoice::rtp {

sender::sender(sender_config config) noexcept
    : config_(config), sequence_(config.first_sequence), timestamp_(config.first_timestamp) {
    if (config_.clock_rate == 0) config_.clock_rate = 8000;
}

packet sender::next_at(std::uint32_t timestamp, std::uint8_t payload_type, bool marker, std::size_t payload_size,
                       time_point now) noexcept {
    packet p;
    p.marker = marker;
    p.payload_type = payload_type & 0x7f;
    p.sequence = sequence_++;
    p.timestamp = timestamp;
    p.ssrc = config_.ssrc;
    ++packets_;
    octets_ += static_cast<std::uint32_t>(payload_size);
    last_sent_ = now;
    return p;
}

packet sender::next(std::uint8_t payload_type, bool marker, std::size_t payload_size, time_point now) noexcept {
    clock_ref_time_ = now;
    clock_ref_ts_ = timestamp_;
    have_clock_ref_ = true;
    return next_at(timestamp_, payload_type, marker, payload_size, now);
}

sender_info sender::report(time_point now, ntp_timestamp ntp) const noexcept {
    sender_info info;
    info.ntp_timestamp = ntp;
    info.packet_count = packets_;
    info.octet_count = octets_;
    if (!have_clock_ref_) {
        info.rtp_timestamp = timestamp_;
        return info;
    }
    // RFC 3550 §6.4.1: the same instant as the NTP timestamp, on the media clock; it need not match
    // any packet's timestamp.
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - clock_ref_time_).count();
    const std::int64_t units = us * static_cast<std::int64_t>(config_.clock_rate) / 1'000'000;
    info.rtp_timestamp = clock_ref_ts_ + static_cast<std::uint32_t>(units);
    return info;
}

void sender::change_ssrc(std::uint32_t ssrc) noexcept {
    config_.ssrc = ssrc;
    packets_ = 0;
    octets_ = 0;
}

}  // namespace sipvoice::rtp
