// RFC 4733 telephone events: payload format (§2.3), receiver rules (§2.5.2), sender rules (§2.5.1).
#include "sipvoice/rtp/telephone_event.hpp"

#include <algorithm>

#include "bytes.hpp"
#include "sipvoice/rtp/sequence.hpp"

namespace sipvoice::rtp {
namespace {

constexpr std::uint32_t max_segment = 0xffff;  // the 16-bit duration field (§2.5.1.3)

std::int64_t samples_of(duration d, std::uint32_t rate) noexcept {
    return static_cast<std::int64_t>(d.count()) * rate / 1000;
}

}  // namespace

result<telephone_event> parse_telephone_event(bytes_view payload) noexcept {
    if (payload.size() < telephone_event_size) return error{errc::bad_event, static_cast<std::uint32_t>(payload.size())};
    telephone_event e;
    e.event = payload[0];
    e.end = (payload[1] & 0x80) != 0;
    e.volume = payload[1] & 0x3f;
    e.duration = detail::get16(payload, 2);
    return e;
}

std::array<std::uint8_t, telephone_event_size> write_telephone_event(const telephone_event& e) noexcept {
    std::array<std::uint8_t, telephone_event_size> b{};
    b[0] = e.event;
    b[1] = static_cast<std::uint8_t>((e.end ? 0x80 : 0) | (e.volume & 0x3f));
    detail::put16(b, 2, e.duration);
    return b;
}

char event_digit(std::uint8_t event) noexcept {
    constexpr std::string_view digits = "0123456789*#ABCD";
    return event < digits.size() ? digits[event] : '\0';
}

std::optional<std::uint8_t> digit_event(char digit) noexcept {
    if (digit >= '0' && digit <= '9') return static_cast<std::uint8_t>(digit - '0');
    if (digit == '*') return 10;
    if (digit == '#') return 11;
    if (digit >= 'A' && digit <= 'D') return static_cast<std::uint8_t>(12 + digit - 'A');
    if (digit >= 'a' && digit <= 'd') return static_cast<std::uint8_t>(12 + digit - 'a');
    return std::nullopt;
}

// ---- receiver

telephone_event_receiver::telephone_event_receiver(telephone_event_receiver_config config) noexcept
    : config_(config) {
    if (config_.clock_rate == 0) config_.clock_rate = 8000;
}

void telephone_event_receiver::begin(const packet& p, const telephone_event& e, time_point now) {
    have_latest_ = true;
    ssrc_ = p.ssrc;
    latest_ts_ = p.timestamp;
    latest_seq_ = p.sequence;
    active_ = true;
    end_pending_ = false;
    end_seen_ = false;
    event_ = e.event;
    start_ts_ = p.timestamp;
    earlier_segments_ = 0;
    segment_duration_ = 0;
    update(e, now);
}

void telephone_event_receiver::update(const telephone_event& e, time_point now) {
    last_packet_ = now;
    volume_ = e.volume;
    // Updates can arrive reordered: the duration only grows (§2.5.2.1).
    segment_duration_ = std::max(segment_duration_, e.duration);
    if (!e.end) return;
    end_seen_ = true;
    // A segment that ran to the field's limit may be followed by the next segment (§2.5.2.3): wait
    // for it until the timeout instead of reporting the press twice.
    if (segment_duration_ == max_segment) end_pending_ = true;
    else finish(true);
}

void telephone_event_receiver::finish(bool end_received) {
    dtmf_digit d;
    d.event = event_;
    d.digit = event_digit(event_);
    d.timestamp = start_ts_;
    const std::uint64_t total = earlier_segments_ + segment_duration_;
    d.duration = total > 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(total);
    d.length = std::chrono::milliseconds{static_cast<std::int64_t>(total * 1000 / config_.clock_rate)};
    d.volume = volume_;
    d.end_received = end_received;
    digits_.push_back(d);
    active_ = false;
    end_pending_ = false;
}

void telephone_event_receiver::on_packet(const packet& p, time_point now) {
    auto e = parse_telephone_event(p.payload);
    if (!e) return;
    if (have_latest_ && p.ssrc != ssrc_) {
        // Another source (a transfer, a new call leg): whatever was in progress is over.
        if (active_) finish(end_seen_);
        have_latest_ = false;
    }
    if (!have_latest_) {
        begin(p, *e, now);
        return;
    }
    const bool sequence_ahead = seq_newer(p.sequence, latest_seq_);
    if (sequence_ahead) latest_seq_ = p.sequence;
    const std::int64_t d = ts_diff(p.timestamp, latest_ts_);
    if (d < 0) {
        // Normally a late packet of an older event, or a repeated end of the previous segment sent
        // after the next one began (new sequence number, old timestamp). But a marked start packet
        // with a newer sequence number is a new key press from a sender whose media clock jumped back
        // (another source spliced into the stream, a media server switching prompts): taking it as
        // late would drop every packet of that press.
        if (!sequence_ahead || !p.marker) return;
        if (active_) finish(end_seen_);
        begin(p, *e, now);
        return;
    }
    if (d == 0) {
        // The event in progress, or a repeated end / late update of one already reported (§2.5.2.2).
        if (active_ && !end_pending_) update(*e, now);
        return;
    }
    if (active_ && e->event == event_ && segment_duration_ == max_segment && d == max_segment) {
        // The next segment of a long event (§2.5.1.3): its timestamp is where the last one ran out.
        earlier_segments_ += max_segment;
        segment_duration_ = 0;
        latest_ts_ = p.timestamp;
        end_pending_ = false;
        end_seen_ = false;
        update(*e, now);
        return;
    }
    // A newer event. The one in progress lost its end packets (or was a full segment): it is over.
    if (active_) finish(end_seen_);
    begin(p, *e, now);
}

void telephone_event_receiver::on_time(time_point now) {
    if (active_ && now - last_packet_ >= config_.end_timeout) finish(end_seen_);
}

std::optional<time_point> telephone_event_receiver::next_deadline() const noexcept {
    if (!active_) return std::nullopt;
    return last_packet_ + config_.end_timeout;
}

std::vector<dtmf_digit> telephone_event_receiver::take_digits() {
    std::vector<dtmf_digit> out;
    out.swap(digits_);
    return out;
}

// ---- sender

std::vector<event_packet> telephone_event_packets(std::uint8_t event, duration length,
                                                  const telephone_event_sender_config& config) {
    const std::uint32_t rate = config.clock_rate ? config.clock_rate : 8000;
    const std::int64_t step = std::max<std::int64_t>(1, samples_of(config.interval, rate));
    const std::int64_t total = std::max<std::int64_t>(1, samples_of(length, rate));
    const int copies = std::max(1, int{config.end_packets});
    auto at = [&](std::int64_t samples) { return duration{samples * 1000 / rate}; };

    std::vector<event_packet> out;
    for (std::int64_t seg = 0; seg < total; seg += max_segment) {
        const std::int64_t len = std::min<std::int64_t>(max_segment, total - seg);
        const bool last_segment = seg + len >= total;
        for (std::int64_t k = 0;; ++k) {
            // §2.5.1.2: each update reports the duration so far; the first one already covers one
            // interval, as the packet stands for that much of the tone.
            const std::int64_t so_far = std::min((k + 1) * step, len);
            const bool final = so_far == len;
            event_packet p;
            p.offset = at(seg + k * step);
            p.timestamp_offset = static_cast<std::uint32_t>(seg);
            p.marker = seg == 0 && k == 0;  // §2.5.1.1: only the very first packet of the event
            p.event = {event, final && last_segment, static_cast<std::uint8_t>(config.volume & 0x3f),
                       static_cast<std::uint16_t>(so_far)};
            out.push_back(p);
            if (!final) continue;
            // §2.5.1.4: the final packet (of the event, and of each segment) goes out three times.
            for (int r = 1; r < copies; ++r) {
                event_packet again = p;
                again.marker = false;
                again.offset = at(seg + (k + r) * step);
                out.push_back(again);
            }
            break;
        }
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const event_packet& a, const event_packet& b) { return a.offset < b.offset; });
    return out;
}

bool telephone_event_sender::queue(std::string_view digits, duration length) {
    for (char c : digits)
        if (!digit_event(c)) return false;
    for (char c : digits) queue_event(*digit_event(c), length);
    return true;
}

void telephone_event_sender::queue_event(std::uint8_t event, duration length) {
    if (next_ > 0 && next_ == queue_.size()) {  // everything sent: start the list afresh
        queue_.clear();
        next_ = 0;
    }
    queue_.push_back({event, length});
}

std::optional<time_point> telephone_event_sender::next_deadline() const noexcept {
    if (active_) return started_ + plan_[sent_].offset;
    if (next_ < queue_.size()) return ready_at_ ? *ready_at_ : time_point{};
    return std::nullopt;
}

std::vector<outgoing_event> telephone_event_sender::poll(time_point now, std::uint32_t media_timestamp) {
    std::vector<outgoing_event> out;
    for (;;) {
        if (!active_) {
            if (next_ >= queue_.size() || (ready_at_ && now < *ready_at_)) break;
            const queued q = queue_[next_++];
            plan_ = telephone_event_packets(q.event, q.length, config_);
            sent_ = 0;
            active_ = true;
            started_ = now;
            start_ts_ = media_timestamp;
            // The next event starts after this one's tone and a pause, and after its last repeat.
            ready_at_ = std::max(started_ + q.length + config_.pause, started_ + plan_.back().offset + config_.interval);
        }
        while (sent_ < plan_.size() && started_ + plan_[sent_].offset <= now) {
            const event_packet& p = plan_[sent_++];
            outgoing_event e;
            e.timestamp = start_ts_ + p.timestamp_offset;
            e.marker = p.marker;
            e.event = p.event;
            e.payload = write_telephone_event(p.event);
            out.push_back(e);
        }
        if (sent_ < plan_.size()) break;
        active_ = false;
    }
    return out;
}

}  // namespace sipvoice::rtp
