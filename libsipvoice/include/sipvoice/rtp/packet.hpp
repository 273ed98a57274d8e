// sipvoice/rtp/packet.hpp: RTP data packets (RFC 3550 §5.1, §5.3.1), parsed and written.
//
// parse_packet() checks a received datagram the way RFC 3550 A.1 asks (version 2, a payload type that
// cannot be mistaken for RTCP, a CSRC list, header extension and padding that fit the length) and
// returns a `packet` whose payload and extension are views into the caller's buffer: nothing is
// copied, the views live as long as that buffer. write_packet() does the reverse into a caller's
// buffer (or build_packet() into a new vector), so parse_packet(build_packet(p)) == p.
//
//   auto p = rtp::parse_packet(datagram);              // std::span<const std::uint8_t>
//   if (!p) { log(rtp::describe(p.error().code)); return; }
//   decode(p->payload_type, p->payload);
//
//   rtp::packet out = snd.next(0, false, frame.size(), now);   // header from rtp::sender
//   out.payload = frame;
//   auto n = rtp::write_packet(out, buffer);           // bytes to put into the UDP datagram
//
// With RTP and RTCP on one port (rtcp-mux, RFC 5761) a receiver first asks looks_like_rtcp().
// The header extension is kept as one opaque view (profile + data); RFC 8285 elements inside it are
// the business of whoever negotiated them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "sipvoice/rtp/error.hpp"

namespace sipvoice::rtp {

using bytes_view = std::span<const std::uint8_t>;

inline constexpr std::uint8_t version = 2;       // RFC 3550 §5.1
inline constexpr std::size_t header_size = 12;   // fixed header, without CSRCs and extension
inline constexpr std::size_t max_csrcs = 15;     // the CC field has 4 bits
inline constexpr std::uint8_t max_payload_type = 127;

// RFC 3550 §5.3.1: 16 bits "defined by profile" (RFC 8285: 0xBEDE one-byte, 0x100x two-byte
// elements), a 16-bit length in 32-bit words, then that many words of data.
struct header_extension {
    std::uint16_t profile = 0;
    bytes_view data;  // length * 4 octets, not counting the 4-octet extension header
};

struct packet {
    bool marker = false;
    std::uint8_t payload_type = 0;
    std::uint16_t sequence = 0;
    std::uint32_t timestamp = 0;
    std::uint32_t ssrc = 0;
    std::uint8_t csrc_count = 0;
    std::array<std::uint32_t, max_csrcs> csrcs{};  // the first csrc_count are meaningful
    bool has_extension = false;
    header_extension extension;
    bytes_view payload;
    // Padding octets at the end, the count octet included (RFC 3550 §5.1); 0 means no padding and a
    // clear P bit. The writer fills them with zeros and the count; the parser does not read them.
    std::uint8_t padding = 0;

    [[nodiscard]] std::span<const std::uint32_t> csrc() const noexcept { return {csrcs.data(), csrc_count}; }
    // Octets this packet takes on the wire.
    [[nodiscard]] std::size_t size() const noexcept {
        return header_size + 4u * csrc_count + (has_extension ? 4u + extension.data.size() : 0u) + payload.size() +
               padding;
    }

    // Same header fields, CSRCs, extension bytes, payload bytes and padding length (views compared by
    // content, unused CSRC slots ignored).
    friend bool operator==(const packet& a, const packet& b) noexcept;
};

struct parse_options {
    // RFC 3550 A.1 rejects payload types that read as SR or RR; with rtcp-mux the whole 200..204 range
    // is RTCP (RFC 5761 §4). Set to accept them anyway (a port that carries RTP only).
    bool allow_rtcp_payload_types = false;
};

result<packet> parse_packet(bytes_view bytes, parse_options options = {}) noexcept;

// Writes p into out; returns the number of octets written (p.size()). Fails with bad_payload_type,
// too_many (csrc_count > 15), bad_alignment / too_long (extension data not a multiple of 4 octets or
// above 65535 words) or buffer_too_small; nothing is promised about out's content after a failure.
result<std::size_t> write_packet(const packet& p, std::span<std::uint8_t> out) noexcept;
result<std::vector<std::uint8_t>> build_packet(const packet& p);

// RFC 5761 §4 demultiplexing: version 2 and a second octet in 192..223 (RTCP packet types 200..204
// and the range kept free for them) means RTCP; RTP payload types 64..95 are avoided for that reason.
bool looks_like_rtcp(bytes_view bytes) noexcept;

}  // namespace sipvoice::rtp
