// sipvoice/rtp/source.hpp: what a receiver keeps about one remote source (SSRC) to write the report
// block of its RTCP SR/RR (RFC 3550 §6.4.1, A.1, A.3, A.8).
//
// Feed every RTP packet from that SSRC with its arrival time; feed the sender reports it sends. The
// source validates sequence numbers (A.1), counts packets and wraps, estimates the interarrival jitter
// (A.8) and the loss (A.3), and remembers the last SR for LSR/DLSR. make_report_block() writes the
// block and starts a new reporting interval (the fraction lost is per interval).
//
//   rtp::receive_source src(p.ssrc, {.clock_rate = 8000});
//   if (src.on_packet(p, now) == rtp::sequence_verdict::rejected) return;  // not this stream's packet
//   ... every RTCP interval: rr.reports.push_back(src.make_report_block(now));
//
// Times are the caller's steady clock (sipvoice/clock.hpp); the layer has none of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "sipvoice/clock.hpp"
#include "sipvoice/rtp/packet.hpp"
#include "sipvoice/rtp/rtcp.hpp"
#include "sipvoice/rtp/sequence.hpp"

namespace sipvoice::rtp {

struct source_config {
    std::uint32_t clock_rate = 8000;  // the media clock of the payload format (RFC 3551 §4.5)
    sequence_limits limits{};
};

class receive_source {
public:
    explicit receive_source(std::uint32_t ssrc, source_config config = {}) noexcept;

    // One RTP packet of this source (the caller demultiplexes by SSRC). `media_clock` false for
    // packets whose timestamp does not advance with their sending time (RFC 4733 events repeat the
    // start timestamp for the whole event): they are counted but left out of the jitter.
    sequence_verdict on_packet(const packet& p, time_point arrival, bool media_clock = true) noexcept;

    // An SR from this source: its NTP time becomes the LSR of our next report block (RFC 3550 §6.4.1).
    void on_sender_report(const sender_info& info, time_point arrival) noexcept;

    // The report block for our next SR/RR (RFC 3550 §6.4.1, A.3); starts a new reporting interval.
    report_block make_report_block(time_point now) noexcept;

    [[nodiscard]] std::uint32_t ssrc() const noexcept { return ssrc_; }
    // Out of probation (RFC 3550 A.1): only such sources are reported on and played.
    [[nodiscard]] bool confirmed() const noexcept { return seq_.confirmed(); }
    [[nodiscard]] const sequence_validator& sequence() const noexcept { return seq_; }
    // Interarrival jitter (RFC 3550 A.8), in timestamp units and as time.
    [[nodiscard]] std::uint32_t jitter() const noexcept;
    [[nodiscard]] std::chrono::microseconds jitter_time() const noexcept;
    // Packets expected minus received since the start (negative with duplicates), RFC 3550 A.3.
    [[nodiscard]] std::int64_t cumulative_lost() const noexcept;
    [[nodiscard]] std::uint64_t packets() const noexcept { return packets_; }  // accepted packets
    [[nodiscard]] std::uint64_t octets() const noexcept { return octets_; }    // their payload octets
    [[nodiscard]] std::optional<time_point> last_arrival() const noexcept { return last_arrival_; }
    // RTP packets arrived since the previous make_report_block() (RFC 3550 §6.4: report only those).
    [[nodiscard]] bool heard_since_report() const noexcept { return heard_since_report_; }
    [[nodiscard]] std::optional<sender_info> last_sender_report() const noexcept { return last_sr_; }

private:
    std::uint32_t arrival_units(time_point arrival) const noexcept;

    std::uint32_t ssrc_;
    source_config config_;
    sequence_validator seq_;
    std::uint64_t packets_ = 0;
    std::uint64_t octets_ = 0;
    // A.8 in the RFC's fixed point: 16 times the jitter, so the 1/16 gain needs no division.
    std::uint64_t jitter_q4_ = 0;
    std::uint32_t last_transit_ = 0;
    bool have_transit_ = false;
    time_point epoch_{};  // arrival of the first packet: arrival times are measured from it
    bool have_epoch_ = false;
    std::optional<time_point> last_arrival_;
    bool heard_since_report_ = false;
    // A.3: the counts at the previous report, for the fraction lost in this interval.
    std::int64_t expected_prior_ = 0;
    std::uint32_t received_prior_ = 0;
    std::optional<sender_info> last_sr_;
    time_point last_sr_arrival_{};
};

}  // namespace sipvoice::rtp
