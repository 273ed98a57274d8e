#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "sipvoice/rtp/telephone_event.hpp"

namespace rtp = sipvoice::rtp;
using namespace std::chrono_literals;
using sipvoice::time_point;

namespace {

const time_point t0 = time_point{} + 50s;

// A telephone-event packet as it arrives: RTP header fields, the payload and the arrival time.
struct event_in {
    std::uint16_t seq;
    std::uint32_t ts;
    bool marker;
    rtp::telephone_event ev;
    time_point at;
};

// The packets a sender emits for one digit (RFC 4733 §2.5.1), in order, with 50 ms updates.
std::vector<event_in> press(std::uint8_t event, std::uint16_t first_seq, std::uint32_t ts, time_point start,
                            std::chrono::milliseconds length = 100ms) {
    std::vector<event_in> v;
    std::uint16_t seq = first_seq;
    for (const rtp::event_packet& p : rtp::telephone_event_packets(event, length))
        v.push_back({seq++, ts + p.timestamp_offset, p.marker, p.event, start + p.offset});
    return v;
}

std::vector<rtp::dtmf_digit> receive(rtp::telephone_event_receiver& rx, const std::vector<event_in>& in,
                                     time_point until) {
    std::vector<rtp::dtmf_digit> out;
    for (const event_in& e : in) {
        if (auto d = rx.next_deadline(); d && *d <= e.at) rx.on_time(*d);
        const auto payload = rtp::write_telephone_event(e.ev);
        rtp::packet p;
        p.sequence = e.seq;
        p.timestamp = e.ts;
        p.marker = e.marker;
        p.payload_type = 101;
        p.ssrc = 0xd7f;
        p.payload = payload;
        rx.on_packet(p, e.at);
        for (const auto& d : rx.take_digits()) out.push_back(d);
    }
    if (auto d = rx.next_deadline(); d && *d <= until) rx.on_time(*d);
    for (const auto& d : rx.take_digits()) out.push_back(d);
    return out;
}

std::string digits_of(const std::vector<rtp::dtmf_digit>& v) {
    std::string s;
    for (const auto& d : v) s += d.digit;
    return s;
}

}  // namespace

TEST_CASE("telephone-event: the 4-octet payload of RFC 4733 §2.3", "[rtp][telephone_event]") {
    const rtp::telephone_event e{11, true, 10, 1600};  // '#', end, -10 dBm0, 200 ms at 8 kHz
    const auto b = rtp::write_telephone_event(e);
    CHECK(b == std::array<std::uint8_t, 4>{11, 0x80 | 10, 0x06, 0x40});
    auto back = rtp::parse_telephone_event(b);
    REQUIRE(back.has_value());
    CHECK(*back == e);

    const std::vector<std::uint8_t> reserved_bit{5, 0x40 | 7, 0, 160};  // R bit set: ignored
    auto r = rtp::parse_telephone_event(reserved_bit);
    REQUIRE(r.has_value());
    CHECK(r->event == 5);
    CHECK_FALSE(r->end);
    CHECK(r->volume == 7);
    CHECK(r->duration == 160);

    const std::vector<std::uint8_t> short_payload{1, 2, 3};
    CHECK(rtp::parse_telephone_event(short_payload).error().code == rtp::errc::bad_event);
}

TEST_CASE("telephone-event: digits and event codes (RFC 4733 §3.2)", "[rtp][telephone_event]") {
    const std::string all = "0123456789*#ABCD";
    for (std::size_t i = 0; i < all.size(); ++i) {
        CHECK(rtp::event_digit(static_cast<std::uint8_t>(i)) == all[i]);
        CHECK(rtp::digit_event(all[i]) == static_cast<std::uint8_t>(i));
    }
    CHECK(rtp::digit_event('d') == 15);
    CHECK_FALSE(rtp::digit_event('E'));
    CHECK_FALSE(rtp::digit_event(' '));
    CHECK(rtp::event_digit(16) == '\0');
}

TEST_CASE("telephone-event: the packets a sender emits for one digit", "[rtp][telephone_event]") {
    // 100 ms at 8 kHz = 800 units, updates every 50 ms = 400 units.
    const auto v = rtp::telephone_event_packets(5, 100ms);
    REQUIRE(v.size() == 4);
    CHECK(v[0].marker);
    CHECK(v[0].offset == 0ms);
    CHECK(v[0].event == rtp::telephone_event{5, false, 10, 400});
    CHECK(v[1].offset == 50ms);
    CHECK(v[1].event == rtp::telephone_event{5, true, 10, 800});
    // The final packet three times in all, an interval apart (§2.5.1.4).
    CHECK(v[2].offset == 100ms);
    CHECK(v[3].offset == 150ms);
    CHECK(v[2].event == v[1].event);
    CHECK(v[3].event == v[1].event);
    for (std::size_t i = 1; i < v.size(); ++i) CHECK_FALSE(v[i].marker);
    for (const auto& p : v) CHECK(p.timestamp_offset == 0);  // one timestamp for the whole event

    // A 230 ms digit: durations 400, 800, 1200, 1600, 1840 (final, three times).
    const auto w = rtp::telephone_event_packets(1, 230ms);
    REQUIRE(w.size() == 7);
    CHECK(w[3].event.duration == 1600);
    CHECK_FALSE(w[3].event.end);
    CHECK(w[4].event.duration == 1840);
    CHECK(w[4].event.end);
    CHECK(w[6].event == w[4].event);

    // Updates per 20 ms packetization, 3 end packets; a digit shorter than one interval still works.
    const auto x = rtp::telephone_event_packets(1, 10ms, {.interval = 20ms});
    REQUIRE(x.size() == 3);
    CHECK(x[0].marker);
    CHECK(x[0].event.end);
    CHECK(x[0].event.duration == 80);
}

TEST_CASE("telephone-event: one digit per key press, with its duration", "[rtp][telephone_event]") {
    rtp::telephone_event_receiver rx;
    const auto digits = receive(rx, press(7, 100, 8000, t0), t0 + 1s);
    REQUIRE(digits.size() == 1);
    CHECK(digits[0].digit == '7');
    CHECK(digits[0].duration == 800);
    CHECK(digits[0].length == 100ms);
    CHECK(digits[0].timestamp == 8000);
    CHECK(digits[0].volume == 10);
    CHECK(digits[0].end_received);
    CHECK_FALSE(rx.key_down());
}

TEST_CASE("telephone-event: the retransmitted end packets do not repeat the digit", "[rtp][telephone_event]") {
    rtp::telephone_event_receiver rx;
    auto in = press(1, 100, 8000, t0);
    // Some ends repeated again, late, after the next digit began.
    auto next = press(2, 104, 8000 + 2400, t0 + 300ms);
    in.insert(in.end(), next.begin(), next.end());
    in.push_back({103, 8000, false, {1, true, 10, 800}, t0 + 320ms});
    in.push_back({103, 8000, false, {1, true, 10, 800}, t0 + 330ms});
    const auto digits = receive(rx, in, t0 + 2s);
    CHECK(digits_of(digits) == "12");
}

TEST_CASE("telephone-event: a lost start packet still gives the digit", "[rtp][telephone_event]") {
    rtp::telephone_event_receiver rx;
    auto in = press(9, 100, 8000, t0, 200ms);
    in.erase(in.begin());  // the marked first packet is lost
    const auto digits = receive(rx, in, t0 + 1s);
    REQUIRE(digits.size() == 1);
    CHECK(digits[0].digit == '9');
    CHECK(digits[0].duration == 1600);
    CHECK(digits[0].end_received);
}

TEST_CASE("telephone-event: all end packets lost: the digit ends by timeout or by the next event", "[rtp][telephone_event]") {
    SECTION("timeout") {
        rtp::telephone_event_receiver rx;
        auto in = press(4, 100, 8000, t0, 200ms);
        std::erase_if(in, [](const event_in& e) { return e.ev.end; });
        std::vector<rtp::dtmf_digit> digits;
        for (const auto& d : receive(rx, in, t0 + 100ms)) digits.push_back(d);
        CHECK(digits.empty());  // still down as far as we know
        CHECK(rx.key_down());
        REQUIRE(rx.next_deadline());
        // Updates at 0, 50, 100 ms (400, 800, 1200 units); the ends at 150, 200, 250 ms are lost.
        CHECK(*rx.next_deadline() == t0 + 100ms + 300ms);  // last update + end_timeout
        rx.on_time(*rx.next_deadline() - 1ms);
        CHECK(rx.take_digits().empty());
        rx.on_time(*rx.next_deadline());
        digits = rx.take_digits();
        REQUIRE(digits.size() == 1);
        CHECK(digits[0].digit == '4');
        CHECK(digits[0].duration == 1200);  // as far as the updates told
        CHECK_FALSE(digits[0].end_received);
        CHECK_FALSE(rx.key_down());
    }
    SECTION("the next event") {
        rtp::telephone_event_receiver rx;
        auto in = press(4, 100, 8000, t0, 200ms);
        std::erase_if(in, [](const event_in& e) { return e.ev.end; });
        const auto next = press(5, 110, 8000 + 2000, t0 + 250ms);
        in.insert(in.end(), next.begin(), next.end());
        const auto digits = receive(rx, in, t0 + 250ms + 200ms);
        REQUIRE(digits.size() == 2);
        CHECK(digits_of(digits) == "45");
        CHECK_FALSE(digits[0].end_received);
        CHECK(digits[1].end_received);
    }
}

TEST_CASE("telephone-event: two identical digits in a row are two key presses", "[rtp][telephone_event]") {
    rtp::telephone_event_receiver rx;
    auto in = press(3, 100, 8000, t0);
    const auto again = press(3, 104, 8000 + 1600, t0 + 200ms);
    in.insert(in.end(), again.begin(), again.end());
    const auto digits = receive(rx, in, t0 + 1s);
    CHECK(digits_of(digits) == "33");
    CHECK(digits[0].timestamp == 8000);
    CHECK(digits[1].timestamp == 9600);

    // ...even with the first one's end packets all lost and the second one's start lost.
    rtp::telephone_event_receiver rx2;
    auto lossy = press(3, 100, 8000, t0);
    std::erase_if(lossy, [](const event_in& e) { return e.ev.end; });
    auto second = press(3, 104, 8000 + 1600, t0 + 200ms);
    second.erase(second.begin());
    lossy.insert(lossy.end(), second.begin(), second.end());
    CHECK(digits_of(receive(rx2, lossy, t0 + 1s)) == "33");
}

TEST_CASE("telephone-event: reordered updates keep the longest duration", "[rtp][telephone_event]") {
    rtp::telephone_event_receiver rx;
    auto in = press(8, 100, 8000, t0, 300ms);
    std::swap(in[1], in[2]);
    std::swap(in[3], in[5]);  // the first end before an update
    const auto digits = receive(rx, in, t0 + 1s);
    REQUIRE(digits.size() == 1);
    CHECK(digits[0].digit == '8');
    CHECK(digits[0].duration <= 2400);
    CHECK(digits[0].duration >= 1600);
}

TEST_CASE("telephone-event: a 10 s press goes in segments and still reads as one digit (§2.5.1.3)", "[rtp][telephone_event]") {
    const auto v = rtp::telephone_event_packets(0, 10s);
    // 80000 units: a first segment of 0xFFFF, then 14465 more under the next timestamp.
    std::size_t first_segment_ends = 0;
    for (const auto& p : v) {
        if (p.timestamp_offset == 0 && p.event.duration == 0xffff) {
            ++first_segment_ends;
            CHECK_FALSE(p.event.end);
        }
        if (p.timestamp_offset == 0xffff && p.event.end) CHECK(p.event.duration == 80000 - 0xffff);
    }
    CHECK(first_segment_ends == 3);

    rtp::telephone_event_receiver rx;
    const auto digits = receive(rx, press(0, 1, 1000, t0, 10s), t0 + 11s);
    REQUIRE(digits.size() == 1);
    CHECK(digits[0].digit == '0');
    CHECK(digits[0].duration == 80000);
    CHECK(digits[0].length == 10s);
}

TEST_CASE("telephone-event: sender and receiver end to end, digits queued as a string", "[rtp][telephone_event]") {
    rtp::telephone_event_sender tx;
    REQUIRE(tx.queue("1#1"));
    CHECK_FALSE(tx.queue("12x"));  // refused as a whole
    rtp::telephone_event_receiver rx;
    std::uint16_t seq = 500;
    std::uint32_t media_ts = 4000;
    std::string got;
    time_point now = t0;
    for (int i = 0; i < 100; ++i, now += 20ms, media_ts += 160) {  // the audio clock runs on
        for (const auto& e : tx.poll(now, media_ts)) {
            rtp::packet p;
            p.sequence = seq++;
            p.timestamp = e.timestamp;
            p.marker = e.marker;
            p.ssrc = 1;
            p.payload = e.payload;
            rx.on_packet(p, now);
        }
        rx.on_time(now);
        for (const auto& d : rx.take_digits()) {
            got += d.digit;
            CHECK(d.length == 100ms);
            CHECK(d.end_received);
        }
    }
    CHECK(got == "1#1");
    CHECK_FALSE(tx.busy());
    CHECK_FALSE(tx.next_deadline());
    CHECK(seq == 500 + 3 * 4);  // four packets per 100 ms digit
}

TEST_CASE("telephone-event: a media clock that jumps back with the sequence going on starts a new event",
          "[rtp][telephone_event]") {
    // As SIPp's dtmf_2833_*.pcap files played one after another do: the next capture's sequence
    // numbers go on (+3637) while its timestamps are older. The key press must not be taken for late
    // packets of the previous event.
    rtp::telephone_event_receiver rx;
    auto in = press(11, 1000, 92640, t0);                    // '#'
    const auto zero = press(0, 4637, 17632, t0 + 400ms);     // '0', from another capture
    in.insert(in.end(), zero.begin(), zero.end());
    CHECK(digits_of(receive(rx, in, t0 + 2s)) == "#0");

    // A truly late packet of the earlier event (older sequence and older timestamp) is still ignored.
    rtp::telephone_event_receiver rx2;
    auto a = press(1, 200, 8000, t0);
    auto b = press(2, 210, 9600, t0 + 200ms);
    std::vector<event_in> mixed = a;
    mixed.insert(mixed.end(), b.begin(), b.begin() + 2);
    mixed.push_back(a[1]);  // an update of '1' arriving after '2' began
    mixed.insert(mixed.end(), b.begin() + 2, b.end());
    CHECK(digits_of(receive(rx2, mixed, t0 + 2s)) == "12");
}
