// A call's audio as PCM frames: RTP in through the jitter buffer and the decoder, PCM out through the
// encoder, paced on absolute deadlines; RTCP reports on the same ticks (RFC 3550 §6).
#include "sipvoice/media/audio_stream.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <mutex>
#include <random>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "sipvoice/codec/codec.hpp"
#include "sipvoice/codec/resampler.hpp"
#include "sipvoice/rtp/arrival_buffer.hpp"
#include "sipvoice/rtp/packet.hpp"
#include "sipvoice/rtp/rtcp.hpp"
#include "sipvoice/rtp/session.hpp"
#include "sipvoice/rtp/telephone_event.hpp"

namespace sipvoice::media {
namespace {

// Buffers that hold a frame only while it is decoded or encoded: one set per thread, shared by every
// stream the thread serves. With a set per stream, 2,000 streams would touch 2,000 cold sets every
// 20 ms; one set stays in the cache. The decoded frame is in use while the application's frame
// handler reads it, so a delivery nested in that handler (one that ran the io_context) gets a set of
// its own. The encoding side never holds its buffers across a callback.
struct decode_buffers {
    std::vector<std::int16_t> codec;  // at the codec's rate
    std::vector<std::int16_t> app;    // resampled to the application's
    bool busy = false;
};

struct encode_buffers {
    std::vector<std::int16_t> frame;      // a partial frame, padded with silence
    std::vector<std::int16_t> converted;  // resampled to the codec's rate
    std::vector<std::uint8_t> payload;
    std::array<std::uint8_t, 1500> wire;  // not zeroed: write_packet writes every byte that goes out
};

thread_local encode_buffers encoding;

// What the application writes from its frame handler, while its stream's queue is empty, waits here
// for the same tick's send instead of in the stream's queue: an echo or a speech pipeline that answers
// each frame with a frame then writes to memory of the thread's that is in the cache, not to the
// stream's queue, which at 2,000 streams was not. One stream owns it at a time (a tick nested in a
// frame handler queues as before); what the send does not take moves to the stream's queue.
struct frame_stage {
    std::vector<std::int16_t> pcm;
    const void* owner = nullptr;
    // Empties the stage if `stream` owns it.
    void drop(const void* stream) noexcept {
        if (owner != stream) return;
        pcm.clear();
        owner = nullptr;
    }
};

thread_local frame_stage staged;

// Asks the CPU to fetch the line at `address + offset`. The address is kept as a number: it may
// name an object already gone, and a prefetch never reads or faults.
inline void prefetch_at(std::uintptr_t address, std::ptrdiff_t offset = 0) {
    __builtin_prefetch(reinterpret_cast<const void*>(address + static_cast<std::uintptr_t>(offset)));
}

// The first n elements of v, grown (never shrunk) to hold them.
template <typename T>
std::span<T> first(std::vector<T>& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
    return std::span<T>(v.data(), n);
}

// What the tick clock calls. An entry made for an older generation is a cancelled one.
struct tick_target {
    virtual ~tick_target() = default;
    virtual void on_tick() = 0;
    // Fetches what on_tick() reads first, a few ticks ahead of it.
    virtual void prefetch() const noexcept {}
    std::uint64_t tick_generation = 0;
};

// The streams of one io_context share one timer. Each wake-up is its stream's deadline rounded up to
// the millisecond (the deadlines themselves stay exact, so that adds under 1 ms of jitter and no
// drift); the streams due at one millisecond sit in one slot of a wheel of 256 of them (further ones
// wait in a map), and the timer waits for the earliest slot that holds any. A tick then costs an
// entry in a vector instead of asio's timer heap and a completion handler per stream: at 2,000 calls
// those were about 8% of the media thread.
class tick_clock final : public asio::io_context::service {
public:
    static inline asio::io_context::id id;

    explicit tick_clock(asio::io_context& io) : asio::io_context::service(io), timer_(io) {}

    // `target` ticks at `deadline`, unless its tick_generation has changed by then.
    void schedule(std::weak_ptr<tick_target> target, std::uintptr_t hint, std::uint64_t generation, time_point deadline) {
        const std::int64_t ms = std::chrono::ceil<std::chrono::milliseconds>(deadline.time_since_epoch()).count();
        const std::lock_guard lock(mutex_);
        // Not armed and not firing: nothing is waiting, so the wheel can start from now.
        if (!armed_ && !firing_) cursor_ = std::max(cursor_, now_ms());
        const std::int64_t due = std::max(ms, cursor_);  // a deadline already passed is due at once
        place(entry{std::move(target), hint, generation, due});
        if (!firing_ && (!armed_ || due < armed_ms_)) arm(due);
    }

private:
    static constexpr std::int64_t wheel = 256;
    struct entry {
        std::weak_ptr<tick_target> target;
        std::uintptr_t hint = 0;  // the target, after make_shared's control block: only ever prefetched
        std::uint64_t generation = 0;
        std::int64_t ms = 0;  // when it is due, in milliseconds of the steady clock
    };

    static std::int64_t now_ms() {
        return std::chrono::floor<std::chrono::milliseconds>(sipvoice::clock::now().time_since_epoch()).count();
    }

    void shutdown() override {
        const std::lock_guard lock(mutex_);
        for (auto& slot : slots_) slot.clear();
        far_.clear();
    }

    // An entry due at or after cursor_ into its slot, or the map when that is a wheel or more away.
    void place(entry e) {
        if (e.ms - cursor_ < wheel) slots_[static_cast<std::size_t>(e.ms % wheel)].push_back(std::move(e));
        else far_.emplace(e.ms, std::move(e));
    }

    void take_slot(std::int64_t ms, std::vector<entry>& due) {
        auto& slot = slots_[static_cast<std::size_t>(ms % wheel)];
        std::move(slot.begin(), slot.end(), std::back_inserter(due));
        slot.clear();
    }

    void arm(std::int64_t ms) {
        armed_ = true;
        armed_ms_ = ms;
        timer_.expires_at(time_point(std::chrono::milliseconds(ms)));  // cancels a wait under way
        timer_.async_wait([this](std::error_code ec) {
            if (!ec) fire();
        });
    }

    void fire() {
        std::unique_lock lock(mutex_);
        armed_ = false;
        firing_ = true;
        const std::int64_t now = now_ms();
        // Everything due up to now, in the order of the deadlines. After a wheel or more of waiting
        // every slot is due.
        std::vector<entry> due;
        due.swap(spare_);
        const std::int64_t last = std::min(now, cursor_ + wheel - 1);
        for (std::int64_t ms = cursor_; ms <= last; ++ms) take_slot(ms, due);
        cursor_ = std::max(cursor_, now + 1);
        while (!far_.empty() && far_.begin()->first - cursor_ < wheel) {
            entry e = std::move(far_.begin()->second);
            far_.erase(far_.begin());
            if (e.ms < cursor_) due.push_back(std::move(e));
            else place(std::move(e));
        }
        // The ticks run unlocked: they schedule their next ones, into later slots since cursor_ has
        // moved past now.
        lock.unlock();
        std::size_t at = 0;
        try {
            run(due, at);
        } catch (...) {
            // A tick threw (an application's handler, out of io_context::run): the ticks after it
            // are due at once, and the clock goes on for them when run() is called again.
            lock.lock();
            firing_ = false;
            try {
                for (std::size_t i = at + 1; i < due.size(); ++i) {
                    due[i].ms = cursor_;
                    place(std::move(due[i]));
                }
                rearm();
            } catch (...) {  // no memory: the ticks not requeued are lost, the first exception goes on
            }
            throw;
        }
        due.clear();
        lock.lock();
        if (spare_.capacity() < due.capacity()) spare_.swap(due);  // the buffer is kept for the next time
        firing_ = false;
        rearm();
    }

    // The timer for the earliest slot that holds anything.
    void rearm() {
        for (std::int64_t i = 0; i < wheel; ++i)
            if (!slots_[static_cast<std::size_t>((cursor_ + i) % wheel)].empty()) return arm(cursor_ + i);
        if (!far_.empty()) arm(far_.begin()->first);
    }

    // Runs the due ticks in order; `at` is the one running. At thousands of streams each stream's
    // state comes from memory, one cache miss after another. So the first lines of a stream (the
    // object, and the control block make_shared put before it) are fetched `far` entries ahead, and
    // once those are in, the lines its tick reads through them `near` entries ahead: the misses of
    // several streams overlap instead of adding up.
    static void run(std::vector<entry>& due, std::size_t& at) {
        constexpr std::size_t far = 6;
        constexpr std::size_t near = 3;
        const std::size_t n = due.size();
        const auto fetch = [&](std::size_t i) {
            if (i >= n) return;
            prefetch_at(due[i].hint);  // only ever prefetched: the target may be gone
            prefetch_at(due[i].hint, -16);
        };
        // Locked ahead, in order. A stream stopped or destroyed meanwhile (by an earlier tick's
        // handler) lives on here until its turn, and is skipped then: its generation has moved on.
        std::array<std::shared_ptr<tick_target>, near + 1> ring;
        const auto lock = [&](std::size_t i) {
            if (i >= n) return;
            auto& t = ring[i % ring.size()];
            t = due[i].target.lock();
            if (t && t->tick_generation == due[i].generation) t->prefetch();  // a running stream's socket is alive
        };
        for (std::size_t i = 0; i < far; ++i) fetch(i);
        for (std::size_t i = 0; i < near; ++i) lock(i);
        for (at = 0; at < n; ++at) {
            fetch(at + far);
            lock(at + near);
            const std::shared_ptr<tick_target> t = std::move(ring[at % ring.size()]);
            if (t && t->tick_generation == due[at].generation) t->on_tick();
        }
    }

    std::mutex mutex_;
    asio::steady_timer timer_;
    std::array<std::vector<entry>, wheel> slots_;
    std::multimap<std::int64_t, entry> far_;
    std::vector<entry> spare_;  // the due list's buffer between wake-ups
    std::int64_t cursor_ = 0;   // the first millisecond not yet handled
    std::int64_t armed_ms_ = 0;
    bool armed_ = false;
    bool firing_ = false;
};

}  // namespace

struct audio_stream::impl : tick_target, std::enable_shared_from_this<impl> {
    impl(asio::io_context& context, rtp_socket& s, audio_stream_config c)
        : io(context), socket(s), cfg(std::move(c)), ticks(asio::use_service<tick_clock>(context)) {}
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;
    ~impl() override { staged.drop(this); }  // left by a frame handler that threw: no stream may inherit it

    bool setup(std::string& error) {
        codec::codec_options opts;
        opts.ptime_ms = static_cast<std::uint32_t>(cfg.ptime.count());
        const codec::codec_info* info = codec::find_codec(cfg.codec, cfg.clock_rate, cfg.channels);
        if (info == nullptr) {
            error = "unknown codec " + cfg.codec + "/" + std::to_string(cfg.clock_rate);
            return false;
        }
        // Opus encodes at the application's rate itself; G.711 (8 kHz) and G.722 (16 kHz) get a
        // resampler when the application runs at another rate. Timestamps advance by rtp_samples():
        // for G.722 half the samples, its RTP clock being 8000 (RFC 3551 §4.5.2).
        if (info->id == codec::codec_id::opus) opts.sample_rate = cfg.app_rate;
        auto made = codec::make_codec(*info, opts);
        if (!made) {
            error = "codec " + cfg.codec + ": " + std::string(made.error().what());
            return false;
        }
        audio = std::move(*made);
        codec_rate = audio->sample_rate();
        codec_frame = audio->frame_samples();
        app_frame = static_cast<std::size_t>(cfg.app_rate) * static_cast<std::size_t>(cfg.ptime.count()) / 1000;
        if (codec_rate != cfg.app_rate) {
            auto down = codec::resampler::create(cfg.app_rate, codec_rate);
            auto up = codec::resampler::create(codec_rate, cfg.app_rate);
            if (!down || !up) {
                error = "resampler " + std::to_string(cfg.app_rate) + " <-> " + std::to_string(codec_rate) + " Hz: " +
                        std::string((!down ? down.error() : up.error()).what());
                return false;
            }
            to_codec = std::move(*down);
            to_app = std::move(*up);
        }
        rtp::jitter_buffer_config jc = cfg.jitter;
        jc.clock_rate = cfg.clock_rate;
        jc.frame = cfg.ptime;
        jitter = rtp::jitter_buffer(jc);
        arrivals = rtp::arrival_buffer({.frame = cfg.ptime, .reorder = 4, .jump = 64});
        std::mt19937_64 rng(cfg.seed != 0 ? cfg.seed : std::random_device{}());
        rtp::session_config rtcp;
        rtcp.sender = {static_cast<std::uint32_t>(rng()), static_cast<std::uint16_t>(rng()),
                       static_cast<std::uint32_t>(rng()), cfg.clock_rate};
        rtcp.cname = cfg.cname.empty() ? random_cname(rng) : cfg.cname;
        if (cfg.rtcp_interval.count() > 0) rtcp.min_interval = cfg.rtcp_interval;
        rtcp.random_seed = static_cast<std::uint32_t>(rng()) | 1U;
        const int events_pt = receive_events_pt();
        if (events_pt >= 0) rtcp.event_payload_type = static_cast<std::uint8_t>(events_pt);
        session.emplace(std::move(rtcp), sipvoice::clock::now());
        sending = cfg.send;
        ptime_ms = static_cast<std::int32_t>(cfg.ptime.count());
        audio_pt_in = static_cast<std::int16_t>(cfg.receive_payload_type >= 0 ? cfg.receive_payload_type : cfg.payload_type);
        events_pt_in = static_cast<std::int16_t>(events_pt);
        events_pt_out = static_cast<std::int16_t>(cfg.telephone_event_payload_type);
        audio_pt_out = cfg.payload_type;
        send_silence = cfg.send_silence;
        deliver_on_arrival = cfg.deliver_on_arrival;
        send_on_write = cfg.send_on_write;
        rtcp_reports = cfg.rtcp_interval.count() > 0;
        rtp::telephone_event_receiver_config rc;
        rc.clock_rate = cfg.telephone_event_rate;
        events_in = rtp::telephone_event_receiver(rc);
        rtp::telephone_event_sender_config sc;
        sc.clock_rate = cfg.telephone_event_rate;
        sc.interval = cfg.ptime;
        events_out = rtp::telephone_event_sender(sc);
        return true;
    }

    // RFC 7022: a CNAME that identifies nobody, random per stream.
    static std::string random_cname(std::mt19937_64& rng) {
        char text[17];
        std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(rng()));
        return std::string(text) + "@sipvoice";
    }

    int receive_events_pt() const noexcept {
        return cfg.receive_telephone_event_payload_type >= 0 ? cfg.receive_telephone_event_payload_type
                                                             : cfg.telephone_event_payload_type;
    }

    void on_packet(std::span<const std::uint8_t> bytes, time_point arrival) {
        if (!deliver_on_arrival) jitter.prefetch_push();
        auto p = rtp::parse_packet(bytes);
        if (!p) return;
        ++stats.packets_received;
        stats.last_received = arrival;
        // Loss, jitter and the report block about this source; the jitter buffer judges for itself.
        if (session->on_rtp(*p, arrival) != rtp::sequence_verdict::rejected) {
            // Kept here, not read from the session later: a BYE or a silence makes it forget the source.
            if (const rtp::receive_source* src = session->source(p->ssrc)) {
                stats.packets_lost = src->cumulative_lost();
                stats.interarrival_jitter = src->jitter_time();
            }
        }
        if (events_pt_in >= 0 && p->payload_type == events_pt_in) {
            events_in.on_packet(*p, arrival);
            return;
        }
        if (p->payload_type != audio_pt_in) return;  // comfort noise, a codec we did not pick
        if (!deliver_on_arrival) {
            jitter.push(*p, arrival);
            return;
        }
        const std::span<const rtp::playout> frames = arrivals.push(*p, arrival);
        if (running)
            for (const rtp::playout& f : frames) deliver(f);
    }

    void on_rtcp(std::span<const std::uint8_t> bytes, time_point arrival) {
        // RFC 5506 reduced-size packets are read too: reading costs nothing and some peers send them.
        auto c = rtp::parse_rtcp(bytes, {.allow_reduced_size = true});
        if (!c) return;
        ++stats.rtcp_received;
        const rtp::rtcp_events events = session->on_rtcp(*c, arrival, bytes.size());
        stats.byes_received += events.byes.size();
        // The peer's report block about our stream: how much of what we send is lost on the way.
        const std::uint32_t ours = session->ssrc();
        auto take = [&](const std::vector<rtp::report_block>& blocks) {
            for (const rtp::report_block& b : blocks)
                if (b.ssrc == ours) stats.remote_report = b;
        };
        for (const rtp::rtcp_packet& p : *c) {
            if (const auto* sr = std::get_if<rtp::sender_report>(&p)) take(sr->reports);
            if (const auto* rr = std::get_if<rtp::receiver_report>(&p)) take(rr->reports);
        }
    }

    void send_rtcp(time_point now, bool bye, std::string_view reason = {}) {
        const rtp::ntp_timestamp ntp = rtp::to_ntp(std::chrono::system_clock::now());
        const std::vector<std::uint8_t> bytes = bye ? session->make_bye(now, ntp, reason) : session->make_report(now, ntp);
        if (!bytes.empty() && socket.send_rtcp(bytes)) ++stats.rtcp_sent;
    }

    // The tick's receive side: one frame from whatever the jitter buffer has, or (frames delivered on
    // arrival) what stands in for packets that did not come.
    void receive_frame(time_point now) {
        if (!deliver_on_arrival) return deliver(jitter.pop(now));
        for (const rtp::playout& f : arrivals.poll(now)) deliver(f);
    }

    // One frame for the application.
    void deliver(const rtp::playout& f) {
        thread_local decode_buffers shared;
        decode_buffers nested;  // empty: allocates only if used
        decode_buffers& b = shared.busy ? nested : shared;
        struct lease {
            bool& busy;
            explicit lease(bool& b) : busy(b) { busy = true; }
            ~lease() { busy = false; }
        } const held(b.busy);
        // Room for what one packet may decode to (Opus packets can be longer than our frame).
        const std::span<std::int16_t> decoded = first(b.codec, std::max<std::size_t>(codec_frame, 1) * 4);
        const std::span<std::int16_t> pcm = decoded.first(codec_frame);
        std::size_t got = 0;
        switch (f.kind) {
            case rtp::playout_kind::frame: {
                auto r = audio->decode(f.payload, decoded);
                got = r ? *r : 0;
                break;
            }
            case rtp::playout_kind::lost: {
                auto r = f.next_payload.empty() ? audio->conceal(pcm) : audio->recover(f.next_payload, pcm);
                got = r ? *r : 0;
                break;
            }
            case rtp::playout_kind::conceal: {
                auto r = audio->conceal(pcm);
                got = r ? *r : 0;
                break;
            }
            case rtp::playout_kind::nothing: break;
        }
        // Exactly one frame's worth at the codec rate: pad short ones with silence, cut long ones.
        std::fill(pcm.begin() + static_cast<std::ptrdiff_t>(std::min(got, codec_frame)), pcm.end(), std::int16_t{0});
        std::span<const std::int16_t> out = pcm;
        if (to_app.valid()) {
            const std::span<std::int16_t> app = first(b.app, std::max(app_frame, to_app.output_samples(codec_frame)));
            auto n = to_app.process(out, app);
            out = app.first(n ? *n : 0);
        }
        ++stats.frames_delivered;
        if (frame_cb) frame_cb(out);
    }

    void send_packet(std::uint8_t payload_type, bool marker, std::span<const std::uint8_t> body, std::uint32_t timestamp,
                     bool at_timestamp, time_point now) {
        rtp::sender& sender = session->sender();
        rtp::packet p = at_timestamp ? sender.next_at(timestamp, payload_type, marker, body.size(), now)
                                     : sender.next(payload_type, marker, body.size(), now);
        p.payload = body;
        auto n = rtp::write_packet(p, encoding.wire);
        if (n) socket.send_rtp(std::span<const std::uint8_t>(encoding.wire.data(), *n));
    }

    void send_frame(time_point now) {
        rtp::sender& sender = session->sender();
        // On hold: nothing goes out, an event under way is cut short, what the application wrote waits
        // for the resume; the media clock runs on so that the timestamps keep real time (RFC 3550 §5.1).
        if (!sending) {
            if (events_out.busy()) (void)events_out.poll(now, sender.timestamp());
            sender.advance(audio->rtp_samples(codec_frame));
            talkspurt = true;
            return;
        }
        // RFC 4733: while an event is being sent the audio stays quiet; its clock still runs.
        if (events_pt_out >= 0 && events_out.busy()) {
            for (const rtp::outgoing_event& e : events_out.poll(now, sender.timestamp()))
                send_packet(static_cast<std::uint8_t>(events_pt_out), e.marker, e.payload, e.timestamp,
                            true, now);
            sender.advance(audio->rtp_samples(codec_frame));
            return;
        }
        const std::size_t take = std::min(app_frame, queued());
        const bool from_stage = staged.owner == this;  // then the queue is empty: the stage is what waits
        if (take == 0) {
            if (draining) {
                draining = false;
                if (drained_cb) drained_cb();
            }
            if (!send_silence) {
                sender.advance(audio->rtp_samples(codec_frame));
                talkspurt = true;
                return;
            }
        }
        const bool starting = take > 0 && !draining;
        if (take > 0) draining = true;
        // From here until the packet is out no callback runs: the thread's encoding buffers are ours.
        // A whole frame is encoded where it waits in the queue; a partial one is padded with silence.
        std::span<const std::int16_t> pcm(from_stage ? staged.pcm.data() : queue.data() + queue_head, take);
        if (take < app_frame) {
            const std::span<std::int16_t> frame = first(encoding.frame, app_frame);
            std::copy(pcm.begin(), pcm.end(), frame.begin());
            std::fill(frame.begin() + static_cast<std::ptrdiff_t>(take), frame.end(), std::int16_t{0});
            pcm = frame;
        }
        if (to_codec.valid()) {
            const std::span<std::int16_t> converted = first(encoding.converted, to_codec.output_samples(pcm.size()));
            auto n = to_codec.process(pcm, converted);
            pcm = converted.first(n ? *n : 0);
        }
        const std::span<std::uint8_t> payload = first(encoding.payload, audio->max_payload_size());
        auto size = audio->encode(pcm, payload);
        const std::size_t samples = pcm.size();
        consume(take);  // after encoding: pcm may have been the queue itself
        if (!size) return;
        send_packet(audio_pt_out, talkspurt, payload.first(*size), 0, false, now);
        talkspurt = false;
        sender.advance(audio->rtp_samples(samples));
        ++stats.frames_sent;
        if (starting && playing_cb) playing_cb(now);
    }

    // send_on_write: the first frame of audio written after silence goes out now, not at the next
    // tick, and the ticks start over from now (the receiver's jitter buffer takes the one shorter gap).
    void send_now() {
        const time_point now = sipvoice::clock::now();
        send_frame(now);
        next_tick = now + duration{ptime_ms};
        arm();
    }

    // The application's PCM waiting to be sent: queue[queue_head..]. Consumed from the front by moving
    // the head; the storage is compacted only when the consumed part is at least half of it, so each
    // sample is moved at most once on average and the vector's capacity is reused.
    std::size_t queued() const noexcept {
        return queue.size() - queue_head + (staged.owner == this ? staged.pcm.size() : 0);
    }
    void consume(std::size_t n) {
        if (staged.owner == this) {
            unstage(n);
            return;
        }
        queue_head += n;
        if (queue_head == queue.size()) {
            queue.clear();
            queue_head = 0;
        } else if (queue_head >= queue.size() / 2) {
            queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(queue_head));
            queue_head = 0;
        }
    }
    void clear_queue() noexcept {
        queue.clear();
        queue_head = 0;
        staged.drop(this);
    }
    // Appends to the stage when it may: inside this stream's tick, before its send, with nothing
    // queued and the stage not another stream's.
    bool stage(std::span<const std::int16_t> pcm) {
        if (!staging || queue_head != queue.size() || (staged.owner != nullptr && staged.owner != this)) return false;
        staged.owner = this;
        staged.pcm.insert(staged.pcm.end(), pcm.begin(), pcm.end());
        return true;
    }
    // Gives the stage back after `sent` of its samples went out; the rest joins the (empty) queue.
    void unstage(std::size_t sent = 0) {
        if (staged.owner != this) return;
        const auto rest = staged.pcm.begin() + static_cast<std::ptrdiff_t>(std::min(sent, staged.pcm.size()));
        queue.insert(queue.end(), rest, staged.pcm.end());
        staged.drop(this);
    }

    void tick() {
        if (!running) return;
        const time_point now = sipvoice::clock::now();
        // A handler that throws out of the tick (and of io_context::run) leaves the stream ticking:
        // what it staged is dropped and the next tick is scheduled as usual.
        struct on_throw {
            impl& m;
            const std::uint32_t clock_at_start = m.session->sender().timestamp();
            const int depth = std::uncaught_exceptions();
            ~on_throw() {
                if (std::uncaught_exceptions() <= depth) return;
                m.staging = false;
                m.in_tick = false;
                staged.drop(&m);
                // The frame this tick did not send still takes its place in the media clock.
                if (m.session->sender().timestamp() == clock_at_start)
                    m.session->sender().advance(m.audio->rtp_samples(m.codec_frame));
                if (!m.running) return;
                try {
                    m.schedule_next(sipvoice::clock::now());
                } catch (...) {  // no memory for the entry: the stream stops ticking, the first exception goes on
                }
            }
        } const guard{*this};
        // What the handlers called from here write waits for a tick (send_on_write or not): what
        // on_frame() writes goes out in this tick's send, and a send now would restart the ticks that
        // this one is about to schedule.
        in_tick = true;
        staging = true;
        receive_frame(now);
        staging = false;
        send_frame(now);
        unstage();  // what the send did not take (on hold, during an event): into the queue
        events_in.on_time(now);
        for (const rtp::dtmf_digit& d : events_in.take_digits()) {
            ++stats.digits_received;
            if (dtmf_cb && d.digit != '\0') dtmf_cb(d.digit, d.length);
        }
        if (rtcp_reports && !bye_sent && now >= session->next_report()) send_rtcp(now, false);
        in_tick = false;
        schedule_next(now);
    }

    void schedule_next(time_point now) {
        // Absolute deadlines: a late tick does not push every later one back.
        next_tick += duration{ptime_ms};
        if (next_tick < now - 5 * duration{ptime_ms}) next_tick = now;  // after a stall, do not race to catch up
        arm();
    }

    void on_tick() override { tick(); }

    // The next tick at next_tick; one scheduled before is cancelled.
    void arm() { ticks.schedule(weak_from_this(), reinterpret_cast<std::uintptr_t>(this), ++tick_generation, next_tick); }

    void prefetch() const noexcept override {
        const char* base = reinterpret_cast<const char*>(this);
        for (std::size_t off = 64; off < 192; off += 64) __builtin_prefetch(base + off);
        __builtin_prefetch(&stats);
        __builtin_prefetch(&queue);
        __builtin_prefetch(&frame_cb);
        __builtin_prefetch(&events_in);
        __builtin_prefetch(&next_tick);
        if (session) __builtin_prefetch(&session->sender());
        __builtin_prefetch(audio.get());
        jitter.prefetch();
        socket.prefetch();
    }
    void disarm() noexcept { ++tick_generation; }

    asio::io_context& io;
    rtp_socket& socket;
    // What every packet or tick reads of cfg, copied by setup() next to the members a tick reads
    // first: cfg spans four cache lines, and at 2,000 streams each one read per packet is a miss.
    std::int32_t ptime_ms = 20;
    std::int16_t audio_pt_in = 0;     // the payload type the peer's audio comes with
    std::int16_t events_pt_in = -1;   // its telephone-events; -1: none negotiated
    std::int16_t events_pt_out = -1;  // ours
    std::uint8_t audio_pt_out = 0;
    bool send_silence = true;
    bool deliver_on_arrival = false;
    bool send_on_write = false;
    bool rtcp_reports = true;
    audio_stream_config cfg;
    tick_clock& ticks;
    std::unique_ptr<codec::audio_codec> audio;
    codec::resampler to_codec;
    codec::resampler to_app;
    rtp::jitter_buffer jitter;
    rtp::arrival_buffer arrivals;  // instead of the jitter buffer with deliver_on_arrival
    std::optional<rtp::session> session;  // our sender, the peer's source, RTCP
    rtp::telephone_event_receiver events_in;
    rtp::telephone_event_sender events_out;
    std::uint32_t codec_rate = 8000;
    std::size_t codec_frame = 160;
    std::size_t app_frame = 320;
    std::vector<std::int16_t> queue;
    std::size_t queue_head = 0;
    bool draining = false;
    bool talkspurt = true;
    bool running = false;
    bool sending = true;
    bool bye_sent = false;
    bool in_tick = false;
    bool staging = false;  // the tick's receive side runs: writes may go to the thread's stage
    time_point next_tick{};
    frame_handler frame_cb;
    dtmf_handler dtmf_cb;
    std::function<void()> drained_cb;
    std::function<void(time_point)> playing_cb;
    audio_stream_stats stats;
};

std::unique_ptr<audio_stream> audio_stream::create(asio::io_context& io, rtp_socket& socket, audio_stream_config config,
                                                   std::string* error) {
    auto m = std::make_shared<impl>(io, socket, std::move(config));
    std::string why;
    if (!m->setup(why)) {
        if (error) *error = why;
        return nullptr;
    }
    std::weak_ptr<impl> weak = m;
    // Where the stream's first lines and its jitter buffer are: prefetched while the weak pointer is
    // locked (only ever prefetched, so harmless once the stream is gone).
    const std::array<std::uintptr_t, 3> lines{reinterpret_cast<std::uintptr_t>(m.get()) + 64,
                                              reinterpret_cast<std::uintptr_t>(&m->jitter),
                                              reinterpret_cast<std::uintptr_t>(&m->stats)};
    socket.on_rtp([weak, lines](std::span<const std::uint8_t> p, time_point at) {
        for (std::uintptr_t l : lines) prefetch_at(l);
        if (auto self = weak.lock()) self->on_packet(p, at);
    });
    socket.on_rtcp([weak](std::span<const std::uint8_t> p, time_point at) {
        if (auto self = weak.lock()) self->on_rtcp(p, at);
    });
    return std::unique_ptr<audio_stream>(new audio_stream(std::move(m)));
}

audio_stream::~audio_stream() { stop(); }

void audio_stream::start() {
    if (impl_->running) return;
    impl_->running = true;
    impl_->next_tick = sipvoice::clock::now();
    impl_->tick();
}

void audio_stream::stop() {
    impl_->running = false;
    impl_->disarm();
}

void audio_stream::on_frame(frame_handler handler) { impl_->frame_cb = std::move(handler); }
void audio_stream::on_dtmf(dtmf_handler handler) { impl_->dtmf_cb = std::move(handler); }
void audio_stream::on_drained(std::function<void()> handler) { impl_->drained_cb = std::move(handler); }

void audio_stream::on_playing(std::function<void(time_point)> handler) { impl_->playing_cb = std::move(handler); }

void audio_stream::write(std::span<const std::int16_t> pcm) {
    impl& m = *impl_;
    if (!m.stage(pcm)) m.queue.insert(m.queue.end(), pcm.begin(), pcm.end());
    // A whole frame after silence: out now (send_on_write). Not while the tick runs (its send comes
    // next), not on hold, not during a telephone event, not in the middle of playing.
    if (m.send_on_write && m.running && !m.in_tick && !m.draining && m.sending && !m.events_out.busy() &&
        m.queued() >= m.app_frame)
        m.send_now();
}

void audio_stream::flush() {
    impl_->clear_queue();
    impl_->draining = false;
}

std::size_t audio_stream::queued_samples() const noexcept { return impl_->queued(); }

bool audio_stream::send_dtmf(std::string_view digits, duration length) {
    if (impl_->cfg.telephone_event_payload_type < 0 || !impl_->sending) return false;
    return impl_->events_out.queue(digits, length);
}

void audio_stream::set_sending(bool on) { impl_->sending = on; }
bool audio_stream::sending() const noexcept { return impl_->sending; }

void audio_stream::send_bye(std::string_view reason) {
    impl& m = *impl_;
    if (m.cfg.rtcp_interval.count() <= 0 || m.bye_sent) return;
    m.bye_sent = true;
    m.send_rtcp(sipvoice::clock::now(), true, reason);
}

audio_stream_stats audio_stream::stats() const {
    const impl& m = *impl_;
    audio_stream_stats s = m.stats;
    s.jitter = m.cfg.deliver_on_arrival ? m.arrivals.stats() : m.jitter.stats();
    s.packets_sent = m.session->sender().packet_count();
    s.round_trip = m.session->round_trip_time();
    return s;
}

std::size_t audio_stream::frame_samples() const noexcept { return impl_->app_frame; }

}  // namespace sipvoice::media
