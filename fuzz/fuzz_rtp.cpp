// fuzz_rtp: RTP packets (parse_packet, write_packet) and what consumes them (jitter_buffer,
// arrival_buffer, telephone_event_receiver, receive_source, session).
//
// The whole input is first read as one datagram. Properties:
//  - a parsed packet's payload and extension are views inside the input, and size() is the input's;
//  - written back, it gives the input's bytes again, except the padding octets before the count
//    (written as zeros); parse(write(p)) == p;
//  - a telephone-event payload, when there is one, writes back to its first four octets.
// Then the input is read as a list of 6-octet records, each a packet relative to the previous one
// (sequence step, timestamp step, arrival step, flags, event code, duration), fed with its arrival
// time to a jitter buffer pulled every 20 ms, a telephone-event receiver, a receive_source and a
// session. Properties:
//  - the jitter buffer's counters agree with its outputs; it never holds more than its capacity;
//    frames and lost markers come out in increasing sequence order between restarts;
//  - the same for the arrival buffer fed the same packets and polled on the same ticks; it never
//    holds more than its reorder window, and every payload it hands out is readable;
//  - every digit the receiver reports is one key press: never more digits than event timestamps
//    seen, counted afresh for each run of packets from one SSRC (a new source starts afresh);
//    a digit's character is set exactly for events 0..15;
//  - the session's RTCP report parses back as a valid compound packet.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "sipvoice/rtp/arrival_buffer.hpp"
#include "sipvoice/rtp/jitter_buffer.hpp"
#include "sipvoice/rtp/packet.hpp"
#include "sipvoice/rtp/rtcp.hpp"
#include "sipvoice/rtp/session.hpp"
#include "sipvoice/rtp/source.hpp"
#include "sipvoice/rtp/telephone_event.hpp"

namespace {
using namespace sipvoice::rtp;
using sipvoice::fuzz::use;
using sipvoice::fuzz::within;
using sipvoice::time_point;
using namespace std::chrono_literals;

void check_datagram(bytes_view input) {
    use(looks_like_rtcp(input));
    for (bool allow : {false, true}) {
        auto r = parse_packet(input, {.allow_rtcp_payload_types = allow});
        if (!r) {
            FUZZ_CHECK(r.error().failed());
            FUZZ_CHECK(r.error().offset <= input.size());
            continue;
        }
        const packet& p = *r;
        FUZZ_CHECK(p.size() == input.size());
        FUZZ_CHECK(within(p.payload, input));
        FUZZ_CHECK(within(p.extension.data, input));
        FUZZ_CHECK(p.csrc_count <= max_csrcs);
        FUZZ_CHECK(p.payload_type <= max_payload_type);
        if (!allow) FUZZ_CHECK(!looks_like_rtcp(input) || input[1] > 204 || input[1] < 200);

        std::vector<std::uint8_t> out(p.size());
        auto n = write_packet(p, out);
        FUZZ_CHECK(n.has_value());
        FUZZ_CHECK(*n == input.size());
        // Identical except the padding octets before the count, which the writer zeroes.
        const std::size_t pad_from = input.size() - p.padding;
        for (std::size_t i = 0; i < input.size(); ++i) {
            if (i >= pad_from && i + 1 < input.size()) FUZZ_CHECK(out[i] == 0);
            else FUZZ_CHECK(out[i] == input[i]);
        }
        auto again = parse_packet(out, {.allow_rtcp_payload_types = allow});
        FUZZ_CHECK(again.has_value());
        FUZZ_CHECK(*again == p);

        if (auto ev = parse_telephone_event(p.payload)) {
            const auto w = write_telephone_event(*ev);
            FUZZ_CHECK(w[0] == p.payload[0] && (w[1] & 0xbf) == (p.payload[1] & 0xbf) && w[2] == p.payload[2] &&
                       w[3] == p.payload[3]);
        } else {
            FUZZ_CHECK(p.payload.size() < telephone_event_size);
        }
    }
}

// Counts what a buffer hands out and checks that frames and lost markers come in increasing
// sequence order between its restarts; touches every payload byte (a dangling view shows under ASan).
struct output_check {
    std::uint64_t frames = 0, conceals = 0, markers = 0, resyncs = 0;
    bool have_last = false;
    std::uint16_t last = 0;

    void restarts(std::uint64_t count) {
        if (count == resyncs) return;
        resyncs = count;
        have_last = false;
    }
    void take(const playout& f) {
        switch (f.kind) {
            case playout_kind::frame: ++frames; break;
            case playout_kind::conceal: ++conceals; break;
            case playout_kind::lost: ++markers; break;
            case playout_kind::nothing: break;
        }
        if (f.kind == playout_kind::frame || f.kind == playout_kind::lost) {
            if (have_last) FUZZ_CHECK(seq_newer(f.sequence, last));
            last = f.sequence;
            have_last = true;
        }
        std::size_t sum = 0;
        for (const std::uint8_t b : f.payload) sum += b;
        for (const std::uint8_t b : f.next_payload) sum += b;
        use(sum);
    }
};

void check_stream(bytes_view input) {
    if (input.empty()) return;
    const std::uint8_t mode = input[0];
    jitter_buffer_config cfg;
    cfg.capacity = (mode & 1) ? 16 : 128;
    cfg.window = (mode & 2) ? 8 : 250;
    cfg.reference_window = (mode & 2) ? 3 : 50;
    cfg.min_delay = std::chrono::milliseconds{(mode >> 2) & 3 ? 0 : 20};
    cfg.max_delay = (mode & 16) ? 60ms : 400ms;
    cfg.resync_threshold = (mode & 32) ? 100ms : 2000ms;
    jitter_buffer jb(cfg);
    arrival_buffer ab({.frame = 20ms, .reorder = (mode & 128) ? 1U : 4U, .jump = 64});
    output_check jb_out, ab_out;
    auto take_arrivals = [&](std::span<const playout> out) {
        FUZZ_CHECK(out.size() <= 8);
        ab_out.restarts(ab.stats().resyncs);
        for (const playout& f : out) ab_out.take(f);
        FUZZ_CHECK(ab.held() <= 4);
    };
    telephone_event_receiver rx({.clock_rate = 8000, .end_timeout = (mode & 64) ? 30ms : 300ms});
    receive_source src(0x5eed);
    session sess({.sender = {.ssrc = 1}, .cname = "fuzz", .max_sources = 4, .event_payload_type = 101},
                 time_point{} + 1s);

    time_point now = time_point{} + 10s;
    time_point next_pop = now;
    std::uint16_t seq = 1000;
    std::uint32_t ts = 160000;
    std::set<std::uint32_t> event_timestamps;  // in the current run of one SSRC: one key press at most each
    std::uint64_t digits = 0;
    std::uint64_t earlier_runs = 0;  // distinct event timestamps of the earlier runs of one SSRC
    // Marked event packets not newer than the newest event timestamp of the run: the receiver may
    // take such a packet as a sender whose media clock jumped back, and start a new key press.
    std::uint64_t restarts = 0;
    std::uint64_t event_packets = 0;
    std::uint32_t newest_event_ts = 0;
    bool have_newest = false;
    std::uint32_t event_ssrc = 0;
    bool have_event_ssrc = false;

    auto pop_until = [&](time_point t) {
        for (int guard = 0; next_pop <= t && guard < 2000; ++guard, next_pop += 20ms) {
            const playout f = jb.pop(next_pop);
            jb_out.restarts(jb.stats().resyncs);
            jb_out.take(f);
            FUZZ_CHECK(jb.buffered() <= 16384);
            take_arrivals(ab.poll(next_pop));
            rx.on_time(next_pop);
        }
        if (next_pop <= t) next_pop = t;  // a very long gap: skip ahead
    };

    std::vector<std::uint8_t> payload(4);
    for (std::size_t at = 1; at + 6 <= input.size(); at += 6) {
        const auto* r = input.data() + at;
        seq = static_cast<std::uint16_t>(seq + static_cast<std::int8_t>(r[0]));
        ts += static_cast<std::uint32_t>(static_cast<std::int8_t>(r[1]) * 40);
        now += std::chrono::milliseconds{r[2]};
        pop_until(now);  // the pulls due before this arrival
        const std::uint8_t flags = r[3];
        packet p;
        p.sequence = seq;
        p.timestamp = ts;
        p.ssrc = (flags & 1) ? 0xbeef : 0x5eed;
        p.marker = (flags & 2) != 0;
        p.payload_type = (flags & 4) ? 101 : 0;
        payload = {r[4], static_cast<std::uint8_t>((flags & 8 ? 0x80 : 0) | (flags >> 4)), r[5], static_cast<std::uint8_t>(flags)};
        p.payload = payload;
        if (flags & 0x80) {
            // A datagram as it would come off the socket.
            auto wire = build_packet(p);
            FUZZ_CHECK(wire.has_value());
            jb.push(*wire, now);
        } else {
            jb.push(p, now);
        }
        if (p.payload_type == 0) take_arrivals(ab.push(p, now));
        use(src.on_packet(p, now, p.payload_type != 101));
        use(sess.on_rtp(p, now));
        if (p.payload_type == 101) {
            if (have_event_ssrc && p.ssrc != event_ssrc) {  // a new source starts afresh
                earlier_runs += event_timestamps.size();
                event_timestamps.clear();
                have_newest = false;
            }
            ++event_packets;
            if (have_newest && ts_diff(p.timestamp, newest_event_ts) <= 0) {
                if (p.marker) ++restarts;
            } else {
                newest_event_ts = p.timestamp;
                have_newest = true;
            }
            event_timestamps.insert(p.timestamp);
            event_ssrc = p.ssrc;
            have_event_ssrc = true;
            rx.on_packet(p, now);
        }
        for (const dtmf_digit& d : rx.take_digits()) {
            ++digits;
            FUZZ_CHECK((d.digit != '\0') == (d.event <= 15));
        }
        if (now >= sess.next_report()) {
            const auto report = sess.make_report(now, 0x1234567800000000ULL);
            auto c = parse_rtcp(report);
            FUZZ_CHECK(c.has_value());
        }
    }
    pop_until(now + 2s);
    rx.on_time(now + 10s);
    digits += rx.take_digits().size();

    const jitter_stats& s = jb.stats();
    FUZZ_CHECK(s.played == jb_out.frames);
    FUZZ_CHECK(s.concealed == jb_out.conceals);
    FUZZ_CHECK(s.lost >= jb_out.markers);
    FUZZ_CHECK(s.stretched <= s.concealed);
    FUZZ_CHECK(ab.stats().played == ab_out.frames);
    FUZZ_CHECK(ab.stats().concealed == ab_out.conceals);
    FUZZ_CHECK(ab.stats().lost >= ab_out.markers);
    // Without a jump back, one key press per distinct timestamp at most; with one, at most one per
    // packet (a press needs a packet to begin).
    if (restarts == 0) FUZZ_CHECK(digits <= earlier_runs + event_timestamps.size());
    FUZZ_CHECK(digits <= event_packets);
    use(src.make_report_block(now));
    use(jb.target_delay());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const bytes_view input(data, size);
    check_datagram(input);
    check_stream(input);
    return 0;
}
