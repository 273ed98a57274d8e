// sipvoice/rtp/session.hpp: one RTP session (RFC 3550 §3, §6): our sender, the remote sources we
// receive, and the RTCP that ties them together: when to report (A.7), what to report (SR or RR with
// report blocks, SDES CNAME, BYE), and what the peer's reports tell us (round-trip time, BYE).
//
// The session owns no socket and no clock. RTP and RTCP datagrams come in parsed, with the arrival
// time; make_report() returns the compound packet to send when next_report() has passed.
//
//   rtp::session s({.sender = {.ssrc = rnd(), .first_sequence = rnd16(), .first_timestamp = rnd()},
//                   .cname = "4f3a9c@sipvoice", .random_seed = rnd()}, now);
//   on RTP:   if (auto p = rtp::parse_packet(dgram)) s.on_rtp(*p, now);
//   on RTCP:  if (auto c = rtp::parse_rtcp(dgram)) for (auto ssrc : s.on_rtcp(*c, now, dgram.size()).byes) ...
//   sending:  rtp::packet h = s.sender().next(pt, marker, payload.size(), now); ...
//   timer:    if (now >= s.next_report()) send(s.make_report(now, rtp::to_ntp(std::chrono::system_clock::now())));
//   hang-up:  send(s.make_bye(now, ntp, "bye"));
//
// Simplifications, stated: the interval is RFC 3550 A.7's without timer reconsideration (§6.3.3) or
// reverse reconsideration (§6.3.4), which only matter for sessions whose membership changes fast; an
// SSRC collision (§8.2) is not resolved, packets carrying our own SSRC are only dropped.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sipvoice/clock.hpp"
#include "sipvoice/rtp/packet.hpp"
#include "sipvoice/rtp/rtcp.hpp"
#include "sipvoice/rtp/sender.hpp"
#include "sipvoice/rtp/sequence.hpp"
#include "sipvoice/rtp/source.hpp"

namespace sipvoice::rtp {

struct session_config {
    sender_config sender{};               // our SSRC, first sequence number and timestamp: random (§8.1)
    std::string cname{};                  // RFC 3550 §6.5.1; RFC 7022: a random per-call identifier will do
    std::uint32_t session_bandwidth = 64000;  // bits/s; RTCP takes 5% of it (RFC 3550 §6.2)
    duration min_interval{5000};          // the minimum report interval (RFC 3550 §6.2), halved for the first
    sequence_limits limits{};
    std::uint32_t random_seed = 1;        // randomizes each interval in [0.5, 1.5] (§6.3.1); no random source here
    std::size_t max_sources = 16;         // remote SSRCs tracked at once; more are ignored (a bound against floods)
    // RFC 4733 telephone-event payload type: its packets are counted but kept out of the jitter.
    std::optional<std::uint8_t> event_payload_type{};
};

// The inputs of the RFC 3550 A.7 interval.
struct interval_inputs {
    std::size_t members = 2;         // including us
    std::size_t senders = 1;         // including us if we_sent
    double rtcp_bandwidth = 400;     // octets/s for RTCP: 5% of the session bandwidth
    bool we_sent = false;            // we sent RTP since the report before the last
    double avg_rtcp_size = 100;      // octets per RTCP packet, UDP and IP headers included
    bool initial = false;            // no report sent yet: the minimum is halved
    duration min_interval{5000};
};

// RFC 3550 A.7 without the randomization: the deterministic interval Td. Senders share a quarter of
// the RTCP bandwidth when they are at most a quarter of the members (§6.2).
std::chrono::microseconds rtcp_interval(const interval_inputs& in) noexcept;

// What one incoming compound RTCP packet told the session.
struct rtcp_events {
    std::vector<std::uint32_t> byes;                     // sources that left (§6.6), already forgotten
    std::optional<std::chrono::microseconds> round_trip;  // a new RTT from a report block about us
};

class session {
public:
    session(session_config config, time_point now);

    [[nodiscard]] rtp::sender& sender() noexcept { return sender_; }
    [[nodiscard]] const rtp::sender& sender() const noexcept { return sender_; }

    // One incoming RTP packet. A new SSRC becomes a source (on probation, A.1) while fewer than
    // max_sources are tracked; packets beyond that, or with our own SSRC, are `rejected`.
    sequence_verdict on_rtp(const packet& p, time_point now);

    // One incoming compound RTCP packet (`size` its octets, for the average RTCP size of A.7).
    rtcp_events on_rtcp(std::span<const rtcp_packet> packets, time_point now, std::size_t size = 0);

    // When the next report is due.
    [[nodiscard]] time_point next_report() const noexcept { return next_report_; }

    // Our compound packet (RFC 3550 §6.1, §6.4): an SR if we sent RTP since the report before the
    // last, else an RR; report blocks for the sources heard since the last report (more than 31 spill
    // into further RRs, §6.4.2); SDES with our CNAME. Schedules the next report. `ntp` is the wallclock
    // now (to_ntp(system_clock::now())), used in the SR and to match the peer's LSR.
    std::vector<std::uint8_t> make_report(time_point now, ntp_timestamp ntp);
    // The same followed by a BYE for our SSRC (§6.6), for the end of the call.
    std::vector<std::uint8_t> make_bye(time_point now, ntp_timestamp ntp, std::string_view reason = {});

    // Forgets sources silent (no RTP, no RTCP) for five deterministic intervals (§6.3.5).
    void on_time(time_point now);

    // The latest round-trip time to the peer (§6.4.1), once a report block about our SR came back.
    [[nodiscard]] std::optional<std::chrono::microseconds> round_trip_time() const noexcept { return rtt_; }

    [[nodiscard]] std::size_t source_count() const noexcept { return remotes_.size(); }
    [[nodiscard]] const receive_source* source(std::uint32_t ssrc) const noexcept;
    [[nodiscard]] std::string_view cname(std::uint32_t ssrc) const noexcept;  // from its SDES, if any
    [[nodiscard]] std::uint32_t ssrc() const noexcept { return sender_.ssrc(); }
    [[nodiscard]] double average_rtcp_size() const noexcept { return avg_rtcp_size_; }

private:
    struct remote {
        receive_source source;
        std::string cname;
        time_point last_heard{};
    };
    remote* find(std::uint32_t ssrc) noexcept;
    remote* find_or_add(std::uint32_t ssrc, time_point now);
    std::vector<rtcp_packet> report_packets(time_point now, ntp_timestamp ntp);
    std::vector<std::uint8_t> finish(std::vector<rtcp_packet>& packets, time_point now);
    interval_inputs inputs() const noexcept;
    duration randomized(std::chrono::microseconds td) noexcept;
    void forget(std::uint32_t ssrc) noexcept;

    session_config config_;
    rtp::sender sender_;
    std::vector<remote> remotes_;
    time_point next_report_;
    std::optional<time_point> last_report_;
    std::optional<time_point> previous_report_;  // the one before last_report_ (we_sent, §6.3.8)
    bool initial_ = true;
    double avg_rtcp_size_ = 0;
    std::uint32_t random_state_;
    // Our last SRs, so a report block's LSR finds when we sent that SR (RTT without a wallclock read
    // at arrival): compact NTP time and steady time.
    struct sent_report {
        std::uint32_t compact = 0;
        time_point at{};
    };
    std::array<sent_report, 4> sent_reports_{};
    std::size_t sent_report_next_ = 0;
    std::optional<std::chrono::microseconds> rtt_;
};

}  // namespace sipvoice::rtp
