// RTP fixed header, CSRC list, header extension and padding (RFC 3550 §5.1, §5.3.1), checked as
// RFC 3550 A.1 describes.
#include "sipvoice/rtp/packet.hpp"

#include "bytes.hpp"

namespace sipvoice::rtp {
namespace {
using namespace detail;

constexpr error fail(errc code, std::size_t offset) noexcept { return {code, static_cast<std::uint32_t>(offset)}; }

}  // namespace

bool operator==(const packet& a, const packet& b) noexcept {
    if (a.marker != b.marker || a.payload_type != b.payload_type || a.sequence != b.sequence ||
        a.timestamp != b.timestamp || a.ssrc != b.ssrc || a.csrc_count != b.csrc_count ||
        a.has_extension != b.has_extension || a.padding != b.padding)
        return false;
    for (std::size_t i = 0; i < a.csrc_count && i < max_csrcs; ++i)
        if (a.csrcs[i] != b.csrcs[i]) return false;
    if (a.has_extension &&
        (a.extension.profile != b.extension.profile || !same_bytes(a.extension.data, b.extension.data)))
        return false;
    return same_bytes(a.payload, b.payload);
}

result<packet> parse_packet(bytes_view bytes, parse_options options) noexcept {
    result<packet> r;
    packet& p = *r;
    if (bytes.size() < header_size) {
        r.set_error(fail(errc::truncated, bytes.size()));
        return r;
    }
    const std::uint8_t b0 = bytes[0];
    if ((b0 >> 6) != version) {
        r.set_error(fail(errc::bad_version, 0));
        return r;
    }
    // RFC 3550 A.1: a packet whose marker and payload type read as an RTCP SR or RR is misdirected
    // RTCP; RFC 5761 §4 widens that to every RTCP type a muxed port can carry.
    if (!options.allow_rtcp_payload_types && bytes[1] >= 200 && bytes[1] <= 204) {
        r.set_error(fail(errc::rtcp_payload_type, 1));
        return r;
    }
    const bool has_padding = (b0 & 0x20) != 0;
    p.has_extension = (b0 & 0x10) != 0;
    p.csrc_count = b0 & 0x0f;
    p.marker = (bytes[1] & 0x80) != 0;
    p.payload_type = bytes[1] & 0x7f;
    p.sequence = get16(bytes, 2);
    p.timestamp = get32(bytes, 4);
    p.ssrc = get32(bytes, 8);

    std::size_t at = header_size;
    if (bytes.size() < at + 4u * p.csrc_count) {
        r.set_error(fail(errc::truncated, bytes.size()));
        return r;
    }
    for (std::size_t i = 0; i < p.csrc_count; ++i, at += 4) p.csrcs[i] = get32(bytes, at);

    if (p.has_extension) {
        if (bytes.size() < at + 4) {
            r.set_error(fail(errc::truncated, bytes.size()));
            return r;
        }
        p.extension.profile = get16(bytes, at);
        const std::size_t words = get16(bytes, at + 2);
        if (bytes.size() - (at + 4) < words * 4) {
            r.set_error(fail(errc::truncated, at + 2));
            return r;
        }
        p.extension.data = bytes.subspan(at + 4, words * 4);
        at += 4 + words * 4;
    }

    std::size_t end = bytes.size();
    if (has_padding) {
        // RFC 3550 §5.1: the last octet counts the padding, itself included; A.1: it must be at least
        // one and fit in what follows the header.
        const std::size_t count = bytes[end - 1];
        if (count == 0 || count > end - at) {
            r.set_error(fail(errc::bad_padding, end - 1));
            return r;
        }
        p.padding = static_cast<std::uint8_t>(count);
        end -= count;
    }
    p.payload = bytes.subspan(at, end - at);
    return r;
}

result<std::size_t> write_packet(const packet& p, std::span<std::uint8_t> out) noexcept {
    if (p.payload_type > max_payload_type) return error{errc::bad_payload_type, 0};
    if (p.csrc_count > max_csrcs) return error{errc::too_many, 0};
    if (p.has_extension) {
        if (p.extension.data.size() % 4 != 0) return error{errc::bad_alignment, 0};
        if (p.extension.data.size() / 4 > 0xffff) return error{errc::too_long, 0};
    }
    const std::size_t n = p.size();
    if (out.size() < n) return error{errc::buffer_too_small, 0};

    out[0] = static_cast<std::uint8_t>((version << 6) | (p.padding ? 0x20 : 0) | (p.has_extension ? 0x10 : 0) |
                                       p.csrc_count);
    out[1] = static_cast<std::uint8_t>((p.marker ? 0x80 : 0) | p.payload_type);
    put16(out, 2, p.sequence);
    put32(out, 4, p.timestamp);
    put32(out, 8, p.ssrc);
    std::size_t at = header_size;
    for (std::size_t i = 0; i < p.csrc_count; ++i, at += 4) put32(out, at, p.csrcs[i]);
    if (p.has_extension) {
        put16(out, at, p.extension.profile);
        put16(out, at + 2, static_cast<std::uint16_t>(p.extension.data.size() / 4));
        at += 4;
        for (std::uint8_t b : p.extension.data) out[at++] = b;
    }
    for (std::uint8_t b : p.payload) out[at++] = b;
    if (p.padding) {
        for (std::size_t i = 1; i < p.padding; ++i) out[at++] = 0;
        out[at++] = p.padding;
    }
    return at;
}

result<std::vector<std::uint8_t>> build_packet(const packet& p) {
    result<std::vector<std::uint8_t>> r;
    r->resize(p.size());
    auto n = write_packet(p, *r);
    if (!n) r.set_error(n.error());
    return r;
}

bool looks_like_rtcp(bytes_view bytes) noexcept {
    return bytes.size() >= 2 && (bytes[0] >> 6) == version && bytes[1] >= 192 && bytes[1] <= 223;
}

}  // namespace sipvoice::rtp
