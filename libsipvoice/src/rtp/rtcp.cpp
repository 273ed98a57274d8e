// RTCP packet formats (RFC 3550 §6.4-§6.7) and the compound validity checks of RFC 3550 A.2.
#include "sipvoice/rtp/rtcp.hpp"

#include "bytes.hpp"

namespace sipvoice::rtp {
namespace {
using namespace detail;

constexpr error fail(errc code, std::size_t offset) noexcept { return {code, static_cast<std::uint32_t>(offset)}; }

// The 24-bit two's complement cumulative loss (RFC 3550 §6.4.1), clamped the way A.3 asks.
constexpr std::int32_t cumulative_min = -0x800000;
constexpr std::int32_t cumulative_max = 0x7fffff;
std::int32_t from24(std::uint32_t v) noexcept {
    return (v & 0x800000) ? static_cast<std::int32_t>(v) - 0x1000000 : static_cast<std::int32_t>(v);
}
std::uint32_t to24(std::int32_t v) noexcept {
    if (v < cumulative_min) v = cumulative_min;
    if (v > cumulative_max) v = cumulative_max;
    return static_cast<std::uint32_t>(v) & 0xffffff;
}

report_block read_block(bytes_view b, std::size_t at) noexcept {
    report_block r;
    r.ssrc = get32(b, at);
    r.fraction_lost = b[at + 4];
    r.cumulative_lost = from24(get24(b, at + 5));
    r.highest_sequence = get32(b, at + 8);
    r.jitter = get32(b, at + 12);
    r.last_sr = get32(b, at + 16);
    r.delay_since_last_sr = get32(b, at + 20);
    return r;
}

void write_block(std::span<std::uint8_t> b, std::size_t at, const report_block& r) noexcept {
    put32(b, at, r.ssrc);
    b[at + 4] = r.fraction_lost;
    put24(b, at + 5, to24(r.cumulative_lost));
    put32(b, at + 8, r.highest_sequence);
    put32(b, at + 12, r.jitter);
    put32(b, at + 16, r.last_sr);
    put32(b, at + 20, r.delay_since_last_sr);
}

// One packet of a compound: the count field and the body after the common header (padding removed);
// `base` is the body's offset in the datagram, for error offsets.
struct raw_packet {
    std::uint8_t type = 0;
    std::uint8_t count = 0;
    bytes_view body;
    std::size_t base = 0;
};

error parse_reports(const raw_packet& p, std::size_t at, std::vector<report_block>& reports, bytes_view& extension) {
    if (p.body.size() - at < std::size_t{p.count} * report_block_size) return fail(errc::bad_length, p.base);
    reports.reserve(p.count);
    for (std::size_t i = 0; i < p.count; ++i, at += report_block_size) reports.push_back(read_block(p.body, at));
    extension = p.body.subspan(at);
    return {};
}

error parse_one(const raw_packet& p, rtcp_packet& out) {
    switch (p.type) {
        case static_cast<std::uint8_t>(rtcp_type::sr): {
            if (p.body.size() < 24) return fail(errc::bad_length, p.base);
            sender_report sr;
            sr.ssrc = get32(p.body, 0);
            sr.info.ntp_timestamp = get64(p.body, 4);
            sr.info.rtp_timestamp = get32(p.body, 12);
            sr.info.packet_count = get32(p.body, 16);
            sr.info.octet_count = get32(p.body, 20);
            if (error e = parse_reports(p, 24, sr.reports, sr.extension); e.failed()) return e;
            out = std::move(sr);
            return {};
        }
        case static_cast<std::uint8_t>(rtcp_type::rr): {
            if (p.body.size() < 4) return fail(errc::bad_length, p.base);
            receiver_report rr;
            rr.ssrc = get32(p.body, 0);
            if (error e = parse_reports(p, 4, rr.reports, rr.extension); e.failed()) return e;
            out = std::move(rr);
            return {};
        }
        case static_cast<std::uint8_t>(rtcp_type::sdes): {
            // RFC 3550 §6.5: each chunk is an SSRC/CSRC and a list of items ended by a null octet, then
            // null octets up to the next 32-bit boundary. Chunks start on 32-bit boundaries of the body.
            source_description sd;
            sd.chunks.reserve(p.count);
            std::size_t at = 0;
            for (std::size_t c = 0; c < p.count; ++c) {
                if (p.body.size() - at < 4) return fail(errc::bad_sdes, p.base + at);
                sdes_chunk chunk;
                chunk.ssrc = get32(p.body, at);
                at += 4;
                for (;;) {
                    if (at >= p.body.size()) return fail(errc::bad_sdes, p.base + at);
                    const std::uint8_t type = p.body[at];
                    if (type == sdes_end) break;
                    if (p.body.size() - at < 2) return fail(errc::bad_sdes, p.base + at);
                    const std::size_t len = p.body[at + 1];
                    if (p.body.size() - at - 2 < len) return fail(errc::bad_sdes, p.base + at + 1);
                    const auto* text = reinterpret_cast<const char*>(p.body.data() + at + 2);
                    chunk.items.push_back({type, std::string_view(text, len)});
                    at += 2 + len;
                }
                at = (at + 4) & ~std::size_t{3};  // past the null octet, to the boundary
                if (at > p.body.size()) return fail(errc::bad_sdes, p.base + p.body.size());
                sd.chunks.push_back(std::move(chunk));
            }
            if (at != p.body.size()) return fail(errc::bad_sdes, p.base + at);
            out = std::move(sd);
            return {};
        }
        case static_cast<std::uint8_t>(rtcp_type::bye): {
            goodbye bye;
            if (p.body.size() < std::size_t{p.count} * 4) return fail(errc::bad_length, p.base);
            bye.sources.reserve(p.count);
            std::size_t at = 0;
            for (std::size_t i = 0; i < p.count; ++i, at += 4) bye.sources.push_back(get32(p.body, at));
            if (at < p.body.size()) {
                // RFC 3550 §6.6: an optional length octet and text, then padding to 32 bits.
                const std::size_t len = p.body[at];
                if (p.body.size() - at - 1 < len) return fail(errc::bad_bye, p.base + at);
                bye.reason = std::string_view(reinterpret_cast<const char*>(p.body.data() + at + 1), len);
            }
            out = std::move(bye);
            return {};
        }
        case static_cast<std::uint8_t>(rtcp_type::app): {
            if (p.body.size() < 8) return fail(errc::bad_length, p.base);
            app_packet app;
            app.subtype = p.count;
            app.ssrc = get32(p.body, 0);
            for (std::size_t i = 0; i < 4; ++i) app.name[i] = static_cast<char>(p.body[4 + i]);
            app.data = p.body.subspan(8);
            out = app;
            return {};
        }
        default:
            out = other_packet{p.type, p.count, p.body};
            return {};
    }
}

// Body octets of one packet (after the common header), or 0 with `e` set when it cannot be written.
std::size_t body_size(const rtcp_packet& packet, error& e) noexcept {
    auto reports = [&](const std::vector<report_block>& r, bytes_view ext, std::size_t fixed) -> std::size_t {
        if (r.size() > max_report_blocks) e = fail(errc::too_many, 0);
        if (ext.size() % 4 != 0) e = fail(errc::bad_alignment, 0);
        return fixed + r.size() * report_block_size + ext.size();
    };
    if (const auto* sr = std::get_if<sender_report>(&packet)) return reports(sr->reports, sr->extension, 24);
    if (const auto* rr = std::get_if<receiver_report>(&packet)) return reports(rr->reports, rr->extension, 4);
    if (const auto* sd = std::get_if<source_description>(&packet)) {
        if (sd->chunks.size() > max_rtcp_count) e = fail(errc::too_many, 0);
        std::size_t n = 0;
        for (const sdes_chunk& c : sd->chunks) {
            std::size_t items = 0;
            for (const sdes_item& i : c.items) {
                if (i.type == sdes_end) e = fail(errc::bad_sdes, 0);
                if (i.text.size() > 255) e = fail(errc::too_long, 0);
                items += 2 + i.text.size();
            }
            n += 4 + ((items + 4) & ~std::size_t{3});  // at least one null octet, then to the boundary
        }
        return n;
    }
    if (const auto* bye = std::get_if<goodbye>(&packet)) {
        if (bye->sources.size() > max_rtcp_count) e = fail(errc::too_many, 0);
        if (bye->reason.size() > 255) e = fail(errc::too_long, 0);
        const std::size_t reason = bye->reason.empty() ? 0 : ((1 + bye->reason.size() + 3) & ~std::size_t{3});
        return bye->sources.size() * 4 + reason;
    }
    if (const auto* app = std::get_if<app_packet>(&packet)) {
        if (app->subtype > 31) e = fail(errc::too_many, 0);
        if (app->data.size() % 4 != 0) e = fail(errc::bad_alignment, 0);
        return 8 + app->data.size();
    }
    const auto& other = *std::get_if<other_packet>(&packet);
    if (other.count > 31) e = fail(errc::too_many, 0);
    if (other.body.size() % 4 != 0) e = fail(errc::bad_alignment, 0);
    return other.body.size();
}

std::uint8_t type_of(const rtcp_packet& packet) noexcept {
    switch (packet.index()) {
        case 0: return static_cast<std::uint8_t>(rtcp_type::sr);
        case 1: return static_cast<std::uint8_t>(rtcp_type::rr);
        case 2: return static_cast<std::uint8_t>(rtcp_type::sdes);
        case 3: return static_cast<std::uint8_t>(rtcp_type::bye);
        case 4: return static_cast<std::uint8_t>(rtcp_type::app);
        default: return std::get_if<other_packet>(&packet)->type;
    }
}

std::uint8_t count_of(const rtcp_packet& packet) noexcept {
    if (const auto* sr = std::get_if<sender_report>(&packet)) return static_cast<std::uint8_t>(sr->reports.size());
    if (const auto* rr = std::get_if<receiver_report>(&packet)) return static_cast<std::uint8_t>(rr->reports.size());
    if (const auto* sd = std::get_if<source_description>(&packet)) return static_cast<std::uint8_t>(sd->chunks.size());
    if (const auto* bye = std::get_if<goodbye>(&packet)) return static_cast<std::uint8_t>(bye->sources.size());
    if (const auto* app = std::get_if<app_packet>(&packet)) return app->subtype;
    return std::get_if<other_packet>(&packet)->count;
}

void write_body(const rtcp_packet& packet, std::span<std::uint8_t> b) noexcept {
    std::size_t at = 0;
    auto put_bytes = [&](bytes_view v) {
        for (std::uint8_t x : v) b[at++] = x;
    };
    auto put_reports = [&](const std::vector<report_block>& reports, bytes_view ext) {
        for (const report_block& r : reports) {
            write_block(b, at, r);
            at += report_block_size;
        }
        put_bytes(ext);
    };
    if (const auto* sr = std::get_if<sender_report>(&packet)) {
        put32(b, 0, sr->ssrc);
        put64(b, 4, sr->info.ntp_timestamp);
        put32(b, 12, sr->info.rtp_timestamp);
        put32(b, 16, sr->info.packet_count);
        put32(b, 20, sr->info.octet_count);
        at = 24;
        put_reports(sr->reports, sr->extension);
    } else if (const auto* rr = std::get_if<receiver_report>(&packet)) {
        put32(b, 0, rr->ssrc);
        at = 4;
        put_reports(rr->reports, rr->extension);
    } else if (const auto* sd = std::get_if<source_description>(&packet)) {
        for (const sdes_chunk& c : sd->chunks) {
            put32(b, at, c.ssrc);
            at += 4;
            for (const sdes_item& i : c.items) {
                b[at++] = i.type;
                b[at++] = static_cast<std::uint8_t>(i.text.size());
                for (char ch : i.text) b[at++] = static_cast<std::uint8_t>(ch);
            }
            do b[at++] = 0;
            while (at % 4 != 0);
        }
    } else if (const auto* bye = std::get_if<goodbye>(&packet)) {
        for (std::uint32_t s : bye->sources) {
            put32(b, at, s);
            at += 4;
        }
        if (!bye->reason.empty()) {
            b[at++] = static_cast<std::uint8_t>(bye->reason.size());
            for (char ch : bye->reason) b[at++] = static_cast<std::uint8_t>(ch);
            while (at % 4 != 0) b[at++] = 0;
        }
    } else if (const auto* app = std::get_if<app_packet>(&packet)) {
        put32(b, 0, app->ssrc);
        for (std::size_t i = 0; i < 4; ++i) b[4 + i] = static_cast<std::uint8_t>(app->name[i]);
        at = 8;
        put_bytes(app->data);
    } else {
        put_bytes(std::get_if<other_packet>(&packet)->body);
    }
}

}  // namespace

bool operator==(const sender_report& a, const sender_report& b) noexcept {
    return a.ssrc == b.ssrc && a.info == b.info && a.reports == b.reports && same_bytes(a.extension, b.extension);
}
bool operator==(const receiver_report& a, const receiver_report& b) noexcept {
    return a.ssrc == b.ssrc && a.reports == b.reports && same_bytes(a.extension, b.extension);
}
bool operator==(const app_packet& a, const app_packet& b) noexcept {
    return a.subtype == b.subtype && a.ssrc == b.ssrc && a.name == b.name && same_bytes(a.data, b.data);
}
bool operator==(const other_packet& a, const other_packet& b) noexcept {
    return a.type == b.type && a.count == b.count && same_bytes(a.body, b.body);
}

std::string_view sdes_chunk::cname() const noexcept {
    for (const sdes_item& i : items)
        if (i.type == sdes_cname) return i.text;
    return {};
}

result<std::vector<rtcp_packet>> parse_rtcp(bytes_view bytes, rtcp_parse_options options) {
    result<std::vector<rtcp_packet>> r;
    std::vector<rtcp_packet>& packets = *r;
    std::size_t at = 0;
    if (bytes.size() < rtcp_header_size) {
        r.set_error(fail(errc::truncated, bytes.size()));
        return r;
    }
    while (at < bytes.size()) {
        if (bytes.size() - at < rtcp_header_size) {
            r.set_error(fail(errc::truncated, at));
            return r;
        }
        const std::uint8_t b0 = bytes[at];
        if ((b0 >> 6) != version) {
            r.set_error(fail(errc::bad_version, at));
            return r;
        }
        raw_packet p;
        p.count = b0 & 0x1f;
        p.type = bytes[at + 1];
        const std::size_t length = (std::size_t{get16(bytes, at + 2)} + 1) * 4;
        if (length > bytes.size() - at) {
            r.set_error(fail(errc::bad_length, at + 2));
            return r;
        }
        const bool last = at + length == bytes.size();
        // RFC 3550 A.2: the first packet is an SR or RR (RFC 5506 lifts that for reduced-size RTCP).
        if (at == 0 && !options.allow_reduced_size && p.type != static_cast<std::uint8_t>(rtcp_type::sr) &&
            p.type != static_cast<std::uint8_t>(rtcp_type::rr)) {
            r.set_error(fail(errc::bad_first_packet, 1));
            return r;
        }
        std::size_t body_end = length;
        if (b0 & 0x20) {
            // RFC 3550 §6.4.1: only the last packet of a compound may be padded (A.2); its last octet
            // counts the padding, itself included.
            if (!last) {
                r.set_error(fail(errc::misplaced_padding, at));
                return r;
            }
            const std::size_t count = bytes[at + length - 1];
            if (count == 0 || count > length - rtcp_header_size) {
                r.set_error(fail(errc::bad_padding, at + length - 1));
                return r;
            }
            body_end -= count;
        }
        p.body = bytes.subspan(at + rtcp_header_size, body_end - rtcp_header_size);
        p.base = at + rtcp_header_size;
        rtcp_packet parsed;
        if (error e = parse_one(p, parsed); e.failed()) {
            r.set_error(e);
            return r;
        }
        packets.push_back(std::move(parsed));
        at += length;
    }
    return r;
}

std::size_t rtcp_size(std::span<const rtcp_packet> packets) noexcept {
    std::size_t n = 0;
    error ignored;
    for (const rtcp_packet& p : packets) n += rtcp_header_size + body_size(p, ignored);
    return n;
}

result<std::size_t> write_rtcp(std::span<const rtcp_packet> packets, std::span<std::uint8_t> out) noexcept {
    std::size_t at = 0;
    for (const rtcp_packet& p : packets) {
        error e;
        const std::size_t body = body_size(p, e);
        if (e.failed()) return e;
        const std::size_t words = (rtcp_header_size + body) / 4 - 1;
        if (words > 0xffff) return fail(errc::too_long, 0);
        if (out.size() - at < rtcp_header_size + body) return fail(errc::buffer_too_small, at);
        out[at] = static_cast<std::uint8_t>((version << 6) | count_of(p));
        out[at + 1] = type_of(p);
        put16(out, at + 2, static_cast<std::uint16_t>(words));
        write_body(p, out.subspan(at + rtcp_header_size, body));
        at += rtcp_header_size + body;
    }
    return at;
}

result<std::vector<std::uint8_t>> build_rtcp(std::span<const rtcp_packet> packets) {
    result<std::vector<std::uint8_t>> r;
    r->resize(rtcp_size(packets));
    auto n = write_rtcp(packets, *r);
    if (!n) r.set_error(n.error());
    return r;
}

ntp_timestamp to_ntp(std::chrono::system_clock::time_point t) noexcept {
    // RFC 3550 §4: seconds since 1900; the Unix epoch is 2208988800 s later. The 32-bit seconds wrap
    // in 2036 (era 1), which the fixed-point format simply continues.
    constexpr std::uint64_t unix_to_ntp = 2'208'988'800ULL;
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
    const std::uint64_t u = us < 0 ? 0 : static_cast<std::uint64_t>(us);
    const std::uint64_t seconds = u / 1'000'000 + unix_to_ntp;
    const std::uint64_t fraction = ((u % 1'000'000) << 32) / 1'000'000;
    return (seconds << 32) | fraction;
}

std::optional<std::chrono::microseconds> round_trip_time(std::uint32_t arrival_compact, const report_block& block) noexcept {
    if (block.last_sr == 0) return std::nullopt;
    // Modulo 2^32 (the compact clock wraps every 18 hours); a "negative" result reads as huge.
    const std::uint32_t rtt = arrival_compact - block.last_sr - block.delay_since_last_sr;
    if (rtt > 0x80000000u) return std::nullopt;
    return compact_to_duration(rtt);
}

}  // namespace sipvoice::rtp
