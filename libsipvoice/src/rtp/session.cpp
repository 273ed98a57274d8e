// An RTP session's RTCP side: RFC 3550 §6.1-§6.6, the interval of A.7, round-trip time from §6.4.1.
#include "sipvoice/rtp/session.hpp"

#include <algorithm>

namespace sipvoice::rtp {
namespace {

constexpr double udp_ip_overhead = 28;  // IPv4 + UDP headers, counted in the average RTCP size (§6.2)
constexpr int timeout_intervals = 5;    // "M" of §6.3.5

}  // namespace

std::chrono::microseconds rtcp_interval(const interval_inputs& in) noexcept {
    double minimum = std::chrono::duration<double>(in.min_interval).count();
    if (in.initial) minimum /= 2;  // A.7: a new participant reports sooner, after 2.5 s
    double bandwidth = in.rtcp_bandwidth;
    double n = static_cast<double>(in.members);
    // §6.2: while senders are at most a quarter of the members, they share 25% of the RTCP bandwidth
    // and the receivers the rest, so that a sender's reports stay frequent in a large audience.
    if (static_cast<double>(in.senders) <= static_cast<double>(in.members) * 0.25) {
        if (in.we_sent) {
            bandwidth *= 0.25;
            n = static_cast<double>(in.senders);
        } else {
            bandwidth *= 0.75;
            n -= static_cast<double>(in.senders);
        }
    }
    double t = bandwidth > 0 ? in.avg_rtcp_size * n / bandwidth : minimum;
    if (t < minimum) t = minimum;
    return std::chrono::microseconds{static_cast<std::int64_t>(t * 1e6)};
}

session::session(session_config config, time_point now)
    : config_(std::move(config)), sender_(config_.sender), random_state_(config_.random_seed ? config_.random_seed : 1) {
    if (config_.cname.size() > 255) config_.cname.resize(255);
    // The first report: an RR (or SR) with one block and a CNAME chunk, as a starting average (A.7
    // starts from "the probable size of the first RTCP packet").
    avg_rtcp_size_ = udp_ip_overhead + 8 + report_block_size + 8 + static_cast<double>(config_.cname.size());
    next_report_ = now + randomized(rtcp_interval(inputs()));
}

duration session::randomized(std::chrono::microseconds td) noexcept {
    // §6.3.1: a uniform factor in [0.5, 1.5] keeps participants from reporting in lockstep. A.7 also
    // divides by e - 3/2 to offset timer reconsideration; without reconsideration that would only
    // shorten the interval below the minimum, so it is left out.
    random_state_ ^= random_state_ << 13;
    random_state_ ^= random_state_ >> 17;
    random_state_ ^= random_state_ << 5;
    const double u = static_cast<double>(random_state_ >> 8) / static_cast<double>(1u << 24);
    const double us = static_cast<double>(td.count()) * (0.5 + u);
    return std::chrono::duration_cast<duration>(std::chrono::microseconds{static_cast<std::int64_t>(us)});
}

interval_inputs session::inputs() const noexcept {
    interval_inputs in;
    in.members = 1 + remotes_.size();
    // §6.3.8: a participant is a sender if it sent RTP since the report before the last one.
    auto recent = [&](std::optional<time_point> t) { return t && (!previous_report_ || *t >= *previous_report_); };
    in.we_sent = recent(sender_.last_sent());
    in.senders = in.we_sent ? 1 : 0;
    for (const remote& r : remotes_)
        if (recent(r.source.last_arrival())) ++in.senders;
    in.rtcp_bandwidth = static_cast<double>(config_.session_bandwidth) / 8 * 0.05;
    in.avg_rtcp_size = avg_rtcp_size_;
    in.initial = initial_;
    in.min_interval = config_.min_interval;
    return in;
}

session::remote* session::find(std::uint32_t ssrc) noexcept {
    for (remote& r : remotes_)
        if (r.source.ssrc() == ssrc) return &r;
    return nullptr;
}

session::remote* session::find_or_add(std::uint32_t ssrc, time_point now) {
    if (ssrc == sender_.ssrc()) return nullptr;  // our own packets looped back, or a collision (§8.2)
    if (remote* r = find(ssrc)) return r;
    if (remotes_.size() >= config_.max_sources) return nullptr;
    remotes_.push_back({receive_source(ssrc, {sender_.clock_rate(), config_.limits}), {}, now});
    return &remotes_.back();
}

void session::forget(std::uint32_t ssrc) noexcept {
    std::erase_if(remotes_, [&](const remote& r) { return r.source.ssrc() == ssrc; });
}

const receive_source* session::source(std::uint32_t ssrc) const noexcept {
    for (const remote& r : remotes_)
        if (r.source.ssrc() == ssrc) return &r.source;
    return nullptr;
}

std::string_view session::cname(std::uint32_t ssrc) const noexcept {
    for (const remote& r : remotes_)
        if (r.source.ssrc() == ssrc) return r.cname;
    return {};
}

sequence_verdict session::on_rtp(const packet& p, time_point now) {
    remote* r = find_or_add(p.ssrc, now);
    if (!r) return sequence_verdict::rejected;
    r->last_heard = now;
    const bool media_clock = !(config_.event_payload_type && p.payload_type == *config_.event_payload_type);
    return r->source.on_packet(p, now, media_clock);
}

rtcp_events session::on_rtcp(std::span<const rtcp_packet> packets, time_point now, std::size_t size) {
    rtcp_events events;
    auto blocks = [&](const std::vector<report_block>& reports) {
        for (const report_block& b : reports) {
            if (b.ssrc != sender_.ssrc() || b.last_sr == 0) continue;
            // §6.4.1: RTT = A - LSR - DLSR. A and LSR are both our clock, so instead of reading the
            // wallclock at arrival, find the SR whose compact time is LSR and take the steady time since.
            for (const sent_report& s : sent_reports_) {
                if (s.compact != b.last_sr || s.at == time_point{}) continue;
                const auto rtt = std::chrono::duration_cast<std::chrono::microseconds>(now - s.at) -
                                 compact_to_duration(b.delay_since_last_sr);
                if (rtt.count() >= 0) {
                    rtt_ = rtt;
                    events.round_trip = rtt;
                }
                break;
            }
        }
    };
    for (const rtcp_packet& p : packets) {
        if (const auto* sr = std::get_if<sender_report>(&p)) {
            if (remote* r = find_or_add(sr->ssrc, now)) {
                r->last_heard = now;
                r->source.on_sender_report(sr->info, now);
            }
            blocks(sr->reports);
        } else if (const auto* rr = std::get_if<receiver_report>(&p)) {
            if (remote* r = find_or_add(rr->ssrc, now)) r->last_heard = now;
            blocks(rr->reports);
        } else if (const auto* sd = std::get_if<source_description>(&p)) {
            for (const sdes_chunk& c : sd->chunks)
                if (remote* r = find_or_add(c.ssrc, now)) {
                    r->last_heard = now;
                    if (const std::string_view cn = c.cname(); !cn.empty()) r->cname.assign(cn);
                }
        }
    }
    // BYEs last (§6.1 puts them at the end of a compound anyway), so that the other packets of the
    // compound do not bring back a source that just left.
    for (const rtcp_packet& p : packets) {
        const auto* bye = std::get_if<goodbye>(&p);
        if (!bye) continue;
        for (std::uint32_t s : bye->sources) {
            if (s == sender_.ssrc() || !find(s)) continue;
            forget(s);
            events.byes.push_back(s);
        }
    }
    if (size > 0) avg_rtcp_size_ = (static_cast<double>(size) + udp_ip_overhead) / 16 + avg_rtcp_size_ * 15 / 16;
    return events;
}

std::vector<rtcp_packet> session::report_packets(time_point now, ntp_timestamp ntp) {
    std::vector<report_block> reports;
    for (remote& r : remotes_)
        if (r.source.confirmed() && r.source.heard_since_report()) reports.push_back(r.source.make_report_block(now));

    std::vector<rtcp_packet> packets;
    const bool we_sent = inputs().we_sent;
    const std::size_t first = std::min(reports.size(), max_report_blocks);
    std::vector<report_block> head(reports.begin(), reports.begin() + static_cast<std::ptrdiff_t>(first));
    if (we_sent) {
        sender_report sr;
        sr.ssrc = sender_.ssrc();
        sr.info = sender_.report(now, ntp);
        sr.reports = std::move(head);
        packets.emplace_back(std::move(sr));
        sent_reports_[sent_report_next_] = {ntp_compact(ntp), now};
        sent_report_next_ = (sent_report_next_ + 1) % sent_reports_.size();
    } else {
        packets.emplace_back(receiver_report{sender_.ssrc(), std::move(head), {}});
    }
    // §6.4.2: more than 31 sources go into further RR packets after the first report.
    for (std::size_t at = first; at < reports.size(); at += max_report_blocks) {
        const std::size_t n = std::min(max_report_blocks, reports.size() - at);
        packets.emplace_back(receiver_report{
            sender_.ssrc(),
            std::vector<report_block>(reports.begin() + static_cast<std::ptrdiff_t>(at),
                                      reports.begin() + static_cast<std::ptrdiff_t>(at + n)),
            {}});
    }
    // §6.1: every compound packet carries our CNAME.
    source_description sd;
    sd.chunks.push_back({sender_.ssrc(), {{sdes_cname, config_.cname}}});
    packets.emplace_back(std::move(sd));
    return packets;
}

std::vector<std::uint8_t> session::finish(std::vector<rtcp_packet>& packets, time_point now) {
    auto bytes = build_rtcp(packets);
    avg_rtcp_size_ = (static_cast<double>(bytes->size()) + udp_ip_overhead) / 16 + avg_rtcp_size_ * 15 / 16;
    previous_report_ = last_report_;
    last_report_ = now;
    initial_ = false;
    next_report_ = now + randomized(rtcp_interval(inputs()));
    // What we build is valid by construction (at most 31 blocks per packet, a CNAME of at most 255).
    return bytes ? std::move(*bytes) : std::vector<std::uint8_t>{};
}

std::vector<std::uint8_t> session::make_report(time_point now, ntp_timestamp ntp) {
    on_time(now);
    auto packets = report_packets(now, ntp);
    return finish(packets, now);
}

std::vector<std::uint8_t> session::make_bye(time_point now, ntp_timestamp ntp, std::string_view reason) {
    auto packets = report_packets(now, ntp);
    if (reason.size() > 255) reason = reason.substr(0, 255);
    packets.emplace_back(goodbye{{sender_.ssrc()}, reason});
    return finish(packets, now);
}

void session::on_time(time_point now) {
    const auto td = rtcp_interval(inputs());
    std::erase_if(remotes_, [&](const remote& r) { return now - r.last_heard > timeout_intervals * td; });
}

}  // namespace sipvoice::rtp
