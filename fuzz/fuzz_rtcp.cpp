// fuzz_rtcp: compound RTCP packets (parse_rtcp, write_rtcp) and the session that reads them.
//
// Properties:
//  - parse_rtcp either fails with an offset inside the input or returns packets whose texts and
//    opaque parts are views inside the input; a compound accepted by the strict A.2 rules is also
//    accepted as reduced-size RTCP, with the same packets;
//  - written back, the packets take at most the input's size (padding and slack dropped), and the
//    writer fails only on opaque parts that padding left unaligned;
//  - parse(write(c)) == c, and write(parse(write(c))) == write(c);
//  - a session fed the packets (and then asked for its own report) stays consistent: its report
//    parses as a valid compound packet.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>
#include <vector>

#include "fuzz_common.hpp"
#include "sipvoice/rtp/rtcp.hpp"
#include "sipvoice/rtp/session.hpp"

namespace {
using namespace sipvoice::rtp;
using sipvoice::fuzz::use;
using sipvoice::fuzz::within;
using sipvoice::time_point;
using namespace std::chrono_literals;

void check_views(const std::vector<rtcp_packet>& c, bytes_view input) {
    for (const rtcp_packet& p : c) {
        if (const auto* sr = std::get_if<sender_report>(&p)) {
            FUZZ_CHECK(sr->reports.size() <= max_report_blocks);
            FUZZ_CHECK(within(sr->extension, input));
        } else if (const auto* rr = std::get_if<receiver_report>(&p)) {
            FUZZ_CHECK(rr->reports.size() <= max_report_blocks);
            FUZZ_CHECK(within(rr->extension, input));
            for (const report_block& b : rr->reports) {
                FUZZ_CHECK(b.cumulative_lost >= -0x800000 && b.cumulative_lost <= 0x7fffff);
                use(round_trip_time(0x12345678, b));
            }
        } else if (const auto* sd = std::get_if<source_description>(&p)) {
            FUZZ_CHECK(sd->chunks.size() <= max_rtcp_count);
            for (const sdes_chunk& ch : sd->chunks) {
                for (const sdes_item& i : ch.items) {
                    FUZZ_CHECK(i.type != sdes_end);
                    FUZZ_CHECK(i.text.size() <= 255);
                    FUZZ_CHECK(within(i.text, input));
                }
                FUZZ_CHECK(within(ch.cname(), input));
            }
        } else if (const auto* bye = std::get_if<goodbye>(&p)) {
            FUZZ_CHECK(bye->sources.size() <= max_rtcp_count);
            FUZZ_CHECK(within(bye->reason, input));
        } else if (const auto* app = std::get_if<app_packet>(&p)) {
            FUZZ_CHECK(app->subtype <= 31);
            FUZZ_CHECK(within(app->data, input));
        } else if (const auto* other = std::get_if<other_packet>(&p)) {
            FUZZ_CHECK(other->count <= 31);
            FUZZ_CHECK(within(other->body, input));
            FUZZ_CHECK(other->type < 200 || other->type > 204);
        }
    }
}

void check_round_trip(const std::vector<rtcp_packet>& c, bytes_view input) {
    const std::size_t n = rtcp_size(c);
    FUZZ_CHECK(n <= input.size());
    auto wire = build_rtcp(c);
    if (!wire) {
        // Padding can leave an extension, APP data or unknown body that is not whole words.
        FUZZ_CHECK(wire.error().code == errc::bad_alignment);
        return;
    }
    FUZZ_CHECK(wire->size() == n);
    FUZZ_CHECK(n % 4 == 0);
    auto again = parse_rtcp(*wire, {.allow_reduced_size = true});
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(*again == c);
    auto wire2 = build_rtcp(*again);
    FUZZ_CHECK(wire2.has_value());
    FUZZ_CHECK(*wire2 == *wire);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const bytes_view input(data, size);
    auto strict = parse_rtcp(input);
    auto lenient = parse_rtcp(input, {.allow_reduced_size = true});
    if (strict) {
        FUZZ_CHECK(lenient.has_value());
        FUZZ_CHECK(*lenient == *strict);
        FUZZ_CHECK(!strict->empty());
        FUZZ_CHECK(std::holds_alternative<sender_report>(strict->front()) ||
                   std::holds_alternative<receiver_report>(strict->front()));
    } else {
        FUZZ_CHECK(strict.error().failed());
        FUZZ_CHECK(strict.error().offset <= size);
    }
    if (!lenient) {
        FUZZ_CHECK(lenient.error().offset <= size);
        return 0;
    }
    check_views(*lenient, input);
    check_round_trip(*lenient, input);

    // A session reading it: RTT, LSR/DLSR, BYE, CNAME; then its own report.
    session s({.sender = {.ssrc = 0x5eed}, .cname = "fuzz", .max_sources = 8}, time_point{} + 1s);
    s.sender().next(0, false, 160, time_point{} + 1s);
    const auto first = s.make_report(time_point{} + 2s, 0x0000b705'20000000ULL);
    FUZZ_CHECK(parse_rtcp(first).has_value());
    const rtcp_events ev = s.on_rtcp(*lenient, time_point{} + 3s, size);
    if (ev.round_trip) FUZZ_CHECK(ev.round_trip->count() >= 0);
    FUZZ_CHECK(s.source_count() <= 8);
    for (std::uint32_t bye : ev.byes) FUZZ_CHECK(s.source(bye) == nullptr);
    const auto report = s.make_report(time_point{} + 9s, 0x0000b70b'20000000ULL);
    auto parsed = parse_rtcp(report);
    FUZZ_CHECK(parsed.has_value());
    return 0;
}
