// sipvoice/rtp/rtcp.hpp: RTCP compound packets (RFC 3550 §6): sender and receiver reports with their
// report blocks, source descriptions (CNAME), BYE, APP; parsed and written.
//
// parse_rtcp() takes one UDP datagram, checks it as a compound packet (RFC 3550 A.2: every packet
// version 2, the first one an SR or RR, padding only on the last, lengths adding up to the datagram)
// and returns its packets in order. Texts (SDES items, the BYE reason) and opaque parts (profile
// extensions, APP data, packet types this layer does not read) are views into the caller's buffer.
// write_rtcp()/build_rtcp() do the reverse, so parse_rtcp(build_rtcp(c)) == c.
//
//   auto c = rtp::parse_rtcp(datagram);
//   if (!c) return;
//   for (const rtp::rtcp_packet& p : *c)
//       if (auto* sr = std::get_if<rtp::sender_report>(&p)) use(sr->ssrc, sr->info.ntp_timestamp);
//
//   std::vector<rtp::rtcp_packet> out{rtp::receiver_report{my_ssrc, {block}, {}},
//                                     rtp::source_description{{{my_ssrc, {{rtp::sdes_cname, cname}}}}}};
//   auto bytes = rtp::build_rtcp(out);
//
// The session (session.hpp) builds and reads these for a call; this file is only the wire format.
// Times: NTP timestamps are 32.32 fixed-point seconds since 1900 (RFC 3550 §4); LSR/DLSR use the
// middle 32 bits (16.16 seconds, "compact" here).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "sipvoice/rtp/error.hpp"
#include "sipvoice/rtp/packet.hpp"

namespace sipvoice::rtp {

// RTCP packet types (RFC 3550 §12.1).
enum class rtcp_type : std::uint8_t { sr = 200, rr = 201, sdes = 202, bye = 203, app = 204 };

inline constexpr std::size_t rtcp_header_size = 4;
inline constexpr std::size_t report_block_size = 24;
inline constexpr std::size_t max_report_blocks = 31;  // the 5-bit count field
inline constexpr std::size_t max_rtcp_count = 31;     // SDES chunks, BYE sources

// RFC 3550 §6.4.1: what a receiver tells a sender about one source.
struct report_block {
    std::uint32_t ssrc = 0;                 // the source reported on
    std::uint8_t fraction_lost = 0;         // lost / expected since the previous report, times 256
    std::int32_t cumulative_lost = 0;       // 24-bit signed on the wire: duplicates can make it negative
    std::uint32_t highest_sequence = 0;     // extended highest sequence number received (cycles << 16 | max)
    std::uint32_t jitter = 0;               // interarrival jitter, in timestamp units (RFC 3550 A.8)
    std::uint32_t last_sr = 0;              // LSR: compact NTP time of the last SR from ssrc, 0 if none
    std::uint32_t delay_since_last_sr = 0;  // DLSR: 1/65536 s between receiving that SR and this report

    friend bool operator==(const report_block&, const report_block&) = default;
};

// RFC 3550 §6.4.1: the sender information of an SR.
struct sender_info {
    std::uint64_t ntp_timestamp = 0;  // wallclock when the report was sent
    std::uint32_t rtp_timestamp = 0;  // the same instant on the RTP media clock
    std::uint32_t packet_count = 0;   // RTP packets sent since the start (or the last SSRC change)
    std::uint32_t octet_count = 0;    // payload octets sent (no header, no padding)

    friend bool operator==(const sender_info&, const sender_info&) = default;
};

struct sender_report {
    std::uint32_t ssrc = 0;
    sender_info info;
    std::vector<report_block> reports;  // at most 31 (more go into further RR packets, §6.4.2)
    bytes_view extension;               // profile-specific extension (§6.4.3), a multiple of 4 octets
    friend bool operator==(const sender_report& a, const sender_report& b) noexcept;
};

struct receiver_report {
    std::uint32_t ssrc = 0;
    std::vector<report_block> reports;
    bytes_view extension;
    friend bool operator==(const receiver_report& a, const receiver_report& b) noexcept;
};

// SDES item types (RFC 3550 §6.5).
inline constexpr std::uint8_t sdes_end = 0;
inline constexpr std::uint8_t sdes_cname = 1;
inline constexpr std::uint8_t sdes_name = 2;
inline constexpr std::uint8_t sdes_email = 3;
inline constexpr std::uint8_t sdes_phone = 4;
inline constexpr std::uint8_t sdes_loc = 5;
inline constexpr std::uint8_t sdes_tool = 6;
inline constexpr std::uint8_t sdes_note = 7;
inline constexpr std::uint8_t sdes_priv = 8;

struct sdes_item {
    std::uint8_t type = sdes_cname;  // never sdes_end: that octet ends the list
    std::string_view text;           // at most 255 octets, UTF-8 by the RFC, not checked
    friend bool operator==(const sdes_item&, const sdes_item&) = default;
};

struct sdes_chunk {
    std::uint32_t ssrc = 0;  // SSRC or CSRC
    std::vector<sdes_item> items;
    // The CNAME item's text, empty if there is none (RFC 3550 §6.5.1 makes it mandatory in every
    // compound packet; a receiver does not reject a packet for missing it).
    [[nodiscard]] std::string_view cname() const noexcept;
    friend bool operator==(const sdes_chunk&, const sdes_chunk&) = default;
};

struct source_description {
    std::vector<sdes_chunk> chunks;  // at most 31
    friend bool operator==(const source_description&, const source_description&) = default;
};

// RFC 3550 §6.6.
struct goodbye {
    std::vector<std::uint32_t> sources;  // at most 31
    std::string_view reason;             // optional; at most 255 octets
    friend bool operator==(const goodbye&, const goodbye&) = default;
};

// RFC 3550 §6.7.
struct app_packet {
    std::uint8_t subtype = 0;  // 5 bits
    std::uint32_t ssrc = 0;
    std::array<char, 4> name{};
    bytes_view data;  // a multiple of 4 octets
    friend bool operator==(const app_packet& a, const app_packet& b) noexcept;
};

// Any other packet type (RTPFB/PSFB feedback of RFC 4585, XR of RFC 3611...), kept as it came.
struct other_packet {
    std::uint8_t type = 0;
    std::uint8_t count = 0;  // the 5-bit field after the padding bit (FMT for feedback packets)
    bytes_view body;         // after the 4-octet common header, padding removed; a multiple of 4 to write
    friend bool operator==(const other_packet& a, const other_packet& b) noexcept;
};

using rtcp_packet =
    std::variant<sender_report, receiver_report, source_description, goodbye, app_packet, other_packet>;

struct rtcp_parse_options {
    // RFC 5506 reduced-size RTCP: a datagram may hold a single packet of any type. A.2's rule that
    // the first packet be an SR or RR is then not applied.
    bool allow_reduced_size = false;
};

result<std::vector<rtcp_packet>> parse_rtcp(bytes_view bytes, rtcp_parse_options options = {});

// Octets the packets take on the wire, and writing them (no padding is ever added). Fails with
// too_many (more than 31 blocks, chunks or sources), too_long (an SDES text or BYE reason above 255
// octets, a packet above 65536 words), bad_alignment (an extension, APP data or other body not a
// multiple of 4 octets), bad_sdes (an item of type 0) or buffer_too_small.
std::size_t rtcp_size(std::span<const rtcp_packet> packets) noexcept;
result<std::size_t> write_rtcp(std::span<const rtcp_packet> packets, std::span<std::uint8_t> out) noexcept;
result<std::vector<std::uint8_t>> build_rtcp(std::span<const rtcp_packet> packets);

// ---- NTP time (RFC 3550 §4)

using ntp_timestamp = std::uint64_t;  // seconds since 1900-01-01 in 32.32 fixed point

// Wallclock to NTP. The layer has no clock: the caller passes system_clock::now() where an SR needs it.
ntp_timestamp to_ntp(std::chrono::system_clock::time_point t) noexcept;
// The middle 32 bits: what LSR carries (RFC 3550 §6.4.1).
constexpr std::uint32_t ntp_compact(ntp_timestamp t) noexcept { return static_cast<std::uint32_t>(t >> 16); }
// 16.16 fixed-point seconds (DLSR, and differences of compact times) to and from microseconds.
constexpr std::chrono::microseconds compact_to_duration(std::uint32_t c) noexcept {
    return std::chrono::microseconds{(std::int64_t{c} * 1'000'000) >> 16};
}
constexpr std::uint32_t duration_to_compact(std::chrono::microseconds d) noexcept {
    return d.count() <= 0 ? 0u : static_cast<std::uint32_t>((static_cast<std::uint64_t>(d.count()) << 16) / 1'000'000);
}

// RFC 3550 §6.4.1: round-trip time = A - LSR - DLSR, where A is when the report block arrived (compact
// NTP of the same clock that stamped our SR). Empty if the block carries no LSR (no SR heard yet) or
// the result is negative (clocks or a bogus block).
std::optional<std::chrono::microseconds> round_trip_time(std::uint32_t arrival_compact, const report_block& block) noexcept;

}  // namespace sipvoice::rtp
