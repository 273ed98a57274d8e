// media_bench: CPU per RTP packet through the media path of a call, PCMU and Opus, with peers and
// floors side by side in one run.
//
// The paths are what media::audio_stream does per 20 ms tick (libsipvoice/src/media/audio_stream.cpp;
// its state is private, so `stream` below repeats its setup(), on_packet(), receive_frame(),
// send_frame() and the rest of tick() (RTP session statistics, RFC 4733, RTCP reports) line for line with the library's own components, and must follow it when it changes):
//   receive   parse the datagram, route by payload type, jitter_buffer push, then at the tick
//             jitter_buffer pop, decode (G.711 + PLC history, or libopus), pad to one frame,
//             resample to the application's rate when it differs, hand the frame to the application;
//   send      the application writes one frame (the echo's frame handler), the tick takes it from the
//             queue, resamples to the codec's rate, encodes, stamps the RTP header and writes the packet;
//   send+udp  the same, and the datagram goes out through media::rtp_socket on 127.0.0.1 (the kernel's
//             loopback delivery into the receiving socket is charged to the sender: that is where
//             Linux does it);
//   echo      receive + send in one tick: the CPU of one echo call per 20 ms, without the socket
//             receive and the timer (tools/bench/media_echo_load measures those with real sockets);
//   echo_x2000  the same tick over 2,000 calls in turn, so that each call's state comes from memory
//             as it does on a loaded server, not from a warm L1.
// Time runs on a virtual clock, 20 ms per packet, so the jitter buffer sees a steady stream.
//
// Configurations: PCMU with the application at 8 kHz (no resampling; `sipvoice answer --echo`), PCMU at
// 16 kHz (what the agent uses: a resampler each way), Opus at 16 kHz and at 48 kHz (the CLI's Opus rate).
//
// Peers and floors, each on the same input:
//   G.711       our block encode/decode against a naive per-sample one (segment search, level computed)
//   RTP in      parse + jitter buffer: ours against libre's rtp_hdr_decode + jbuf (baresip's receive
//               path), and a minimal 12-octet header read as the floor of parsing
//   RTP out     sender + write_packet against libre's rtp_hdr_encode into an mbuf
//   resampler   codec::resampler against raw libsamplerate src_process (same converter, SINC_FASTEST)
//   Opus        codec::audio_codec against raw libopus opus_encode/opus_decode, same settings: the floor
//
// Output: Google Benchmark's table (time per iteration = per packet), then a summary: ns per packet for
// each path and codec, the calls one core could carry on that work alone, and every ratio.
//
//   media_bench [google benchmark flags, e.g. --benchmark_min_time=0.5 --benchmark_filter=pcmu]
#include <benchmark/benchmark.h>

#include <opus.h>
#include <samplerate.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include "media_loopback_udp.hpp"
#include "media_re_peer.hpp"
#include "sipvoice/codec/codec.hpp"
#include "sipvoice/codec/g711.hpp"
#include "sipvoice/codec/resampler.hpp"
#include "sipvoice/media/audio_stream.hpp"
#include "sipvoice/media/rtp_socket.hpp"
#include "sipvoice/rtp/jitter_buffer.hpp"
#include "sipvoice/rtp/packet.hpp"
#include "sipvoice/rtp/rtcp.hpp"
#include "sipvoice/rtp/sender.hpp"
#include "sipvoice/rtp/session.hpp"
#include "sipvoice/rtp/telephone_event.hpp"

namespace codec = sipvoice::codec;
namespace media = sipvoice::media;
namespace rtp = sipvoice::rtp;
using sipvoice::duration;
using sipvoice::time_point;

namespace {

constexpr duration ptime{20};
// The virtual clock's start.
const time_point origin = time_point{} + std::chrono::hours(1);

// ---- input: something like speech (a 140 Hz voice with harmonics, a syllable envelope, some noise)

std::vector<std::int16_t> speech(std::uint32_t rate, std::size_t samples) {
    std::vector<std::int16_t> out(samples);
    std::uint32_t noise = 12345;
    constexpr double pi = 3.14159265358979323846;
    for (std::size_t i = 0; i < samples; ++i) {
        const double t = static_cast<double>(i) / rate;
        const double f0 = 140 + 20 * std::sin(2 * pi * 3 * t);
        double v = 0;
        for (int h = 1; h <= 12 && h * f0 < rate / 2.0; ++h) v += std::sin(2 * pi * h * f0 * t) / h;
        const double envelope = 0.55 + 0.45 * std::sin(2 * pi * 4 * t);
        noise = noise * 1664525u + 1013904223u;
        const double n = (static_cast<double>(noise >> 8) / (1u << 24) - 0.5) * 0.05;
        out[i] = static_cast<std::int16_t>(std::lround(std::clamp((v * 0.35 * envelope + n) * 32767, -32767.0, 32767.0)));
    }
    return out;
}

struct path_config {
    const char* name;        // for benchmark names and the summary
    const char* codec;       // rtpmap name
    std::uint32_t clock_rate;
    std::uint8_t channels;
    std::uint8_t payload_type;
    std::uint32_t app_rate;
};

const path_config paths[] = {
    {"pcmu@8k", "PCMU", 8000, 1, 0, 8000},
    {"pcmu@16k", "PCMU", 8000, 1, 0, 16000},
    {"opus@16k", "opus", 48000, 2, 111, 16000},
    {"opus@48k", "opus", 48000, 2, 111, 48000},
};

// ---- audio_stream's per-call work, repeated from audio_stream.cpp (see the top of the file)

// The buffers that hold a frame only while it is decoded or encoded: one set for every stream, as
// audio_stream has one per thread.
struct work_buffers {
    std::vector<std::int16_t> codec_pcm;
    std::vector<std::int16_t> app_pcm;
    std::vector<std::int16_t> frame;
    std::vector<std::int16_t> converted;
    std::vector<std::uint8_t> payload;
    std::array<std::uint8_t, 1500> wire;
};
work_buffers work;

template <typename T>
std::span<T> first(std::vector<T>& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
    return std::span<T>(v.data(), n);
}

struct stream {
    media::audio_stream_config cfg;
    std::unique_ptr<codec::audio_codec> audio;
    codec::resampler to_codec;
    codec::resampler to_app;
    rtp::jitter_buffer jitter;
    std::optional<rtp::session> session;  // our sender, the peer's source, RTCP
    rtp::telephone_event_receiver events_in;
    std::size_t codec_frame = 160;
    std::size_t app_frame = 320;
    std::vector<std::int16_t> queue;
    std::size_t queue_head = 0;
    bool talkspurt = true;
    media::rtp_socket* socket = nullptr;
    std::function<void(std::span<const std::int16_t>)> frame_cb;
    std::uint64_t frames_delivered = 0;
    std::uint64_t frames_sent = 0;
    std::uint64_t packets_received = 0;
    std::optional<time_point> last_received;
    std::int64_t packets_lost = 0;
    std::chrono::microseconds interarrival_jitter{0};
    std::uint64_t sink = 0;

    explicit stream(const path_config& p) {
        cfg.app_rate = p.app_rate;
        cfg.codec = p.codec;
        cfg.clock_rate = p.clock_rate;
        cfg.channels = p.channels;
        cfg.payload_type = p.payload_type;
        cfg.telephone_event_payload_type = 101;
        cfg.seed = 42;
        codec::codec_options opts;
        opts.ptime_ms = static_cast<std::uint32_t>(cfg.ptime.count());
        const codec::codec_info* info = codec::find_codec(cfg.codec, cfg.clock_rate, cfg.channels);
        if (info == nullptr) throw std::runtime_error("unknown codec");
        if (info->id == codec::codec_id::opus) opts.sample_rate = cfg.app_rate;
        auto made = codec::make_codec(*info, opts);
        if (!made) throw std::runtime_error(std::string(made.error().what()));
        audio = std::move(*made);
        const std::uint32_t codec_rate = audio->sample_rate();
        codec_frame = audio->frame_samples();
        app_frame = static_cast<std::size_t>(cfg.app_rate) * static_cast<std::size_t>(cfg.ptime.count()) / 1000;
        if (codec_rate != cfg.app_rate) {
            to_codec = std::move(*codec::resampler::create(cfg.app_rate, codec_rate));
            to_app = std::move(*codec::resampler::create(codec_rate, cfg.app_rate));
        }
        rtp::jitter_buffer_config jc = cfg.jitter;
        jc.clock_rate = cfg.clock_rate;
        jc.frame = cfg.ptime;
        jitter = rtp::jitter_buffer(jc);
        std::mt19937_64 rng(cfg.seed);
        rtp::session_config rtcp;
        rtcp.sender = {static_cast<std::uint32_t>(rng()), static_cast<std::uint16_t>(rng()),
                       static_cast<std::uint32_t>(rng()), cfg.clock_rate};
        rtcp.cname = "0123456789abcdef@sipvoice";
        rtcp.min_interval = cfg.rtcp_interval;
        rtcp.random_seed = static_cast<std::uint32_t>(rng()) | 1U;
        rtcp.event_payload_type = static_cast<std::uint8_t>(cfg.telephone_event_payload_type);
        session.emplace(std::move(rtcp), origin);
    }

    void on_packet(std::span<const std::uint8_t> bytes, time_point arrival) {
        auto p = rtp::parse_packet(bytes);
        if (!p) return;
        ++packets_received;
        last_received = arrival;
        if (session->on_rtp(*p, arrival) != rtp::sequence_verdict::rejected) {
            if (const rtp::receive_source* src = session->source(p->ssrc)) {
                packets_lost = src->cumulative_lost();
                interarrival_jitter = src->jitter_time();
            }
        }
        const int events_pt = cfg.receive_telephone_event_payload_type >= 0 ? cfg.receive_telephone_event_payload_type
                                                                             : cfg.telephone_event_payload_type;
        if (events_pt >= 0 && p->payload_type == events_pt) {
            events_in.on_packet(*p, arrival);
            return;
        }
        const int audio_pt = cfg.receive_payload_type >= 0 ? cfg.receive_payload_type : cfg.payload_type;
        if (p->payload_type != audio_pt) return;
        jitter.push(*p, arrival);
    }

    void receive_frame(time_point now) {
        const rtp::playout f = jitter.pop(now);
        const std::span<std::int16_t> decoded = first(work.codec_pcm, std::max<std::size_t>(codec_frame, 1) * 4);
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
        std::fill(pcm.begin() + static_cast<std::ptrdiff_t>(std::min(got, codec_frame)), pcm.end(), std::int16_t{0});
        std::span<const std::int16_t> out = pcm;
        if (to_app.valid()) {
            const std::span<std::int16_t> app = first(work.app_pcm, std::max(app_frame, to_app.output_samples(codec_frame)));
            auto n = to_app.process(out, app);
            out = app.first(n ? *n : 0);
        }
        ++frames_delivered;
        if (frame_cb) frame_cb(out);
    }

    void write(std::span<const std::int16_t> pcm) { queue.insert(queue.end(), pcm.begin(), pcm.end()); }

    void send_packet(std::uint8_t payload_type, bool marker, std::span<const std::uint8_t> body, time_point now) {
        rtp::packet p = session->sender().next(payload_type, marker, body.size(), now);
        p.payload = body;
        auto n = rtp::write_packet(p, work.wire);
        if (!n) return;
        if (socket != nullptr) socket->send_rtp(std::span<const std::uint8_t>(work.wire.data(), *n));
        else sink += work.wire[*n - 1];
    }

    void send_frame(time_point now) {
        const std::size_t take = std::min(app_frame, queue.size() - queue_head);
        std::span<const std::int16_t> pcm(queue.data() + queue_head, take);
        if (take < app_frame) {
            const std::span<std::int16_t> frame = first(work.frame, app_frame);
            std::copy(pcm.begin(), pcm.end(), frame.begin());
            std::fill(frame.begin() + static_cast<std::ptrdiff_t>(take), frame.end(), std::int16_t{0});
            pcm = frame;
        }
        if (to_codec.valid()) {
            const std::span<std::int16_t> converted = first(work.converted, to_codec.output_samples(pcm.size()));
            auto n = to_codec.process(pcm, converted);
            pcm = converted.first(n ? *n : 0);
        }
        const std::span<std::uint8_t> payload = first(work.payload, audio->max_payload_size());
        auto size = audio->encode(pcm, payload);
        const std::size_t samples = pcm.size();
        queue_head += take;  // after encoding: pcm may have been the queue itself
        if (queue_head == queue.size()) {
            queue.clear();
            queue_head = 0;
        } else if (queue_head >= queue.size() / 2) {
            queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(queue_head));
            queue_head = 0;
        }
        if (!size) return;
        send_packet(cfg.payload_type, talkspurt, payload.first(*size), now);
        talkspurt = false;
        session->sender().advance(audio->rtp_samples(samples));
        ++frames_sent;
    }

    // The rest of audio_stream's tick: RFC 4733 digits, and an RTCP report when one is due.
    void events(time_point now) {
        events_in.on_time(now);
        for (const rtp::dtmf_digit& d : events_in.take_digits()) sink += static_cast<std::uint64_t>(d.digit);
        if (now >= session->next_report()) {
            const rtp::ntp_timestamp ntp = rtp::to_ntp(std::chrono::system_clock::now());
            const std::vector<std::uint8_t> bytes = session->make_report(now, ntp);
            if (socket != nullptr) socket->send_rtcp(bytes);
            else sink += bytes.size();
        }
    }
};

// One second of what the peer sends: 50 datagrams (payload type, payload from the peer's encoder),
// whose sequence number and timestamp the benchmarks patch in place.
struct incoming {
    std::vector<std::vector<std::uint8_t>> datagrams;
    std::uint32_t step = 160;  // RTP timestamp units per packet

    explicit incoming(const path_config& p) {
        const std::uint32_t rate = p.clock_rate == 8000 ? 8000 : p.app_rate;
        const std::size_t frame = rate / 50;
        const auto pcm = speech(rate, frame * 50);
        codec::codec_options opts;
        if (p.clock_rate != 8000) opts.sample_rate = rate;
        auto enc = codec::make_codec(p.codec, p.clock_rate, p.channels, opts);
        if (!enc) throw std::runtime_error("peer encoder");
        step = (*enc)->rtp_samples(frame);
        std::vector<std::uint8_t> body((*enc)->max_payload_size());
        for (int i = 0; i < 50; ++i) {
            auto n = (*enc)->encode(std::span<const std::int16_t>(pcm.data() + i * frame, frame), body);
            rtp::packet pk;
            pk.payload_type = p.payload_type;
            pk.ssrc = 0x5eed;
            pk.payload = std::span<const std::uint8_t>(body.data(), n ? *n : 0);
            datagrams.push_back(*rtp::build_packet(pk));
        }
    }
    std::span<const std::uint8_t> at(std::uint64_t i) {
        auto& d = datagrams[i % datagrams.size()];
        const auto seq = static_cast<std::uint16_t>(i);
        const auto ts = static_cast<std::uint32_t>(i * step);
        d[2] = static_cast<std::uint8_t>(seq >> 8);
        d[3] = static_cast<std::uint8_t>(seq);
        d[4] = static_cast<std::uint8_t>(ts >> 24);
        d[5] = static_cast<std::uint8_t>(ts >> 16);
        d[6] = static_cast<std::uint8_t>(ts >> 8);
        d[7] = static_cast<std::uint8_t>(ts);
        return d;
    }
};

time_point tick_time(std::uint64_t i) { return origin + ptime * static_cast<std::int64_t>(i); }
// The tick comes some time after the packet: its own phase.
constexpr auto tick_phase = std::chrono::milliseconds(7);

// A UDP socket on 127.0.0.1 that takes what the send+udp benchmarks send and is emptied between runs.
struct udp_sink {
    int fd = -1;
    std::uint16_t port = 0;
    udp_sink() { fd = sipvoice::bench::open_loopback_udp(port, false); }
    ~udp_sink() { ::close(fd); }
    std::uint64_t drain() {
        std::array<std::uint8_t, 2048> b{};
        std::uint64_t n = 0;
        while (::recv(fd, b.data(), b.size(), MSG_DONTWAIT) > 0) ++n;
        return n;
    }
};
constexpr std::uint64_t drain_every = 256;

// ---- the paths

void bm_receive(benchmark::State& state, const path_config* p) {
    stream s(*p);
    incoming in(*p);
    s.frame_cb = [&s](std::span<const std::int16_t> pcm) { s.sink += static_cast<std::uint64_t>(pcm.back()); };
    std::uint64_t i = 0;
    for (; i < 200; ++i) {  // past the initial buffering, into the steady state
        s.on_packet(in.at(i), tick_time(i));
        s.receive_frame(tick_time(i) + tick_phase);
    }
    const auto played = s.jitter.stats().played;
    for (auto _ : state) {
        s.on_packet(in.at(i), tick_time(i));
        s.receive_frame(tick_time(i) + tick_phase);
        s.events(tick_time(i) + tick_phase);
        ++i;
    }
    benchmark::DoNotOptimize(s.sink);
    state.counters["played"] = benchmark::Counter(
        static_cast<double>(s.jitter.stats().played - played) / static_cast<double>(std::max<std::int64_t>(state.iterations(), 1)));
    state.SetItemsProcessed(state.iterations());
}

void bm_send(benchmark::State& state, const path_config* p, bool udp) {
    asio::io_context io;
    media::rtp_socket sock(io, {.bind_address = "127.0.0.1", .port_min = 40000, .port_max = 60000});
    udp_sink sink;
    stream s(*p);
    if (udp) {
        if (sock.open()) {
            state.SkipWithError("no RTP port");
            return;
        }
        const auto lo = asio::ip::make_address("127.0.0.1");
        sock.set_remote({lo, sink.port}, {lo, static_cast<std::uint16_t>(sink.port + 1)});
        s.socket = &sock;
    }
    const auto pcm = speech(p->app_rate, s.app_frame * 50);
    std::uint64_t i = 0;
    for (auto _ : state) {
        s.write(std::span<const std::int16_t>(pcm.data() + (i % 50) * s.app_frame, s.app_frame));
        s.send_frame(tick_time(i));
        if (udp && ++i % drain_every == 0) {
            state.PauseTiming();
            sink.drain();
            state.ResumeTiming();
        }
        if (!udp) ++i;
    }
    if (udp && sock.packets_sent() < s.frames_sent) state.SkipWithError("datagrams not sent");
    benchmark::DoNotOptimize(s.sink);
    state.SetItemsProcessed(state.iterations());
}

// One echo call's tick: a packet in, its frame echoed back out (the CLI's `answer --echo` handler).
void bm_echo(benchmark::State& state, const path_config* p, bool udp) {
    asio::io_context io;
    media::rtp_socket sock(io, {.bind_address = "127.0.0.1", .port_min = 40000, .port_max = 60000});
    udp_sink sink;
    stream s(*p);
    if (udp) {
        if (sock.open()) {
            state.SkipWithError("no RTP port");
            return;
        }
        const auto lo = asio::ip::make_address("127.0.0.1");
        sock.set_remote({lo, sink.port}, {lo, static_cast<std::uint16_t>(sink.port + 1)});
        s.socket = &sock;
    }
    s.frame_cb = [&s](std::span<const std::int16_t> pcm) { s.write(pcm); };
    incoming in(*p);
    std::uint64_t i = 0;
    for (; i < 200; ++i) {
        s.on_packet(in.at(i), tick_time(i));
        s.receive_frame(tick_time(i) + tick_phase);
        s.send_frame(tick_time(i) + tick_phase);
    }
    sink.drain();
    for (auto _ : state) {
        const time_point now = tick_time(i) + tick_phase;
        s.on_packet(in.at(i), tick_time(i));
        s.receive_frame(now);
        s.send_frame(now);
        s.events(now);
        if (udp && ++i % drain_every == 0) {
            state.PauseTiming();
            sink.drain();
            state.ResumeTiming();
        }
        if (!udp) ++i;
    }
    benchmark::DoNotOptimize(s.sink);
    state.SetItemsProcessed(state.iterations());
}

// The same echo tick over `calls` streams in turn, as one event loop serves them: the state of 2,000
// calls (jitter buffers, PLC history, codec and RTP session) does not stay in the caches between two
// ticks of the same call, so this is the per-packet CPU of a loaded echo server's media code.
void bm_echo_many(benchmark::State& state, const path_config* p, int calls) {
    std::vector<std::unique_ptr<stream>> streams;
    for (int k = 0; k < calls; ++k) {
        auto s = std::make_unique<stream>(*p);
        stream* raw = s.get();
        s->frame_cb = [raw](std::span<const std::int16_t> pcm) { raw->write(pcm); };
        streams.push_back(std::move(s));
    }
    incoming in(*p);
    std::uint64_t round = 0;
    std::size_t k = 0;
    std::span<const std::uint8_t> packet = in.at(0);
    auto one = [&] {
        stream& s = *streams[k];
        const time_point now = tick_time(round) + tick_phase;
        s.on_packet(packet, tick_time(round));
        s.receive_frame(now);
        s.send_frame(now);
        s.events(now);
        if (++k == streams.size()) {
            k = 0;
            packet = in.at(++round);
        }
    };
    while (round < 100) one();  // past the initial buffering of every stream
    for (auto _ : state) one();
    std::uint64_t sink = 0;
    for (const auto& s : streams) sink += s->sink;
    benchmark::DoNotOptimize(sink);
    state.SetItemsProcessed(state.iterations());
}

// ---- components and their peers (one 20 ms packet per iteration)

// RTP parse
void bm_parse_sipvoice(benchmark::State& state) {
    incoming in(paths[0]);
    std::uint64_t i = 0, sink = 0;
    for (auto _ : state) {
        auto p = rtp::parse_packet(in.at(i++));
        sink += p ? p->sequence + p->payload.size() : 0;
    }
    benchmark::DoNotOptimize(sink);
}

void bm_parse_libre(benchmark::State& state) {
    incoming in(paths[0]);
    std::uint64_t i = 0, sink = 0;
    for (auto _ : state) {
        auto d = in.at(i++);
        std::uint16_t seq = 0;
        const long off = sipvoice::bench::re_media::parse_header(d.data(), d.size(), &seq);
        sink += seq + static_cast<std::uint64_t>(d.size() - static_cast<std::size_t>(off));
    }
    benchmark::DoNotOptimize(sink);
}

// The least a parser can do: version, CSRC count, extension and padding checked, fields read.
struct minimal_header {
    std::uint16_t sequence;
    std::uint32_t timestamp;
    std::uint32_t ssrc;
    std::uint8_t payload_type;
    std::size_t offset;
    std::size_t size;
};
[[gnu::noinline]] bool minimal_parse(std::span<const std::uint8_t> d, minimal_header& h) {
    if (d.size() < 12 || (d[0] >> 6) != 2) return false;
    std::size_t off = 12 + 4u * (d[0] & 0x0fu);
    if (d[0] & 0x10u) {
        if (d.size() < off + 4) return false;
        off += 4 + 4u * ((std::size_t{d[off + 2]} << 8) | d[off + 3]);
    }
    std::size_t end = d.size();
    if (d[0] & 0x20u) end -= d[end - 1];
    if (off > end) return false;
    h.payload_type = d[1] & 0x7fu;
    h.sequence = static_cast<std::uint16_t>((d[2] << 8) | d[3]);
    h.timestamp = (std::uint32_t{d[4]} << 24) | (std::uint32_t{d[5]} << 16) | (std::uint32_t{d[6]} << 8) | d[7];
    h.ssrc = (std::uint32_t{d[8]} << 24) | (std::uint32_t{d[9]} << 16) | (std::uint32_t{d[10]} << 8) | d[11];
    h.offset = off;
    h.size = end - off;
    return true;
}

void bm_parse_minimal(benchmark::State& state) {
    incoming in(paths[0]);
    std::uint64_t i = 0, sink = 0;
    for (auto _ : state) {
        minimal_header h{};
        if (minimal_parse(in.at(i++), h)) sink += h.sequence + h.size;
    }
    benchmark::DoNotOptimize(sink);
}

// RTP in: parse + jitter buffer push + pop (the payload handed out, not decoded)
void bm_rtp_in_sipvoice(benchmark::State& state) {
    incoming in(paths[0]);
    rtp::jitter_buffer jb({.clock_rate = 8000, .frame = ptime});
    std::uint64_t i = 0, sink = 0;
    auto one = [&] {
        auto p = rtp::parse_packet(in.at(i));
        if (p) jb.push(*p, tick_time(i));
        const auto f = jb.pop(tick_time(i) + tick_phase);
        sink += f.payload.empty() ? 0 : f.payload[0];
        ++i;
    };
    for (int k = 0; k < 200; ++k) one();
    for (auto _ : state) one();
    benchmark::DoNotOptimize(sink);
}

void bm_rtp_in_libre(benchmark::State& state) {
    incoming in(paths[0]);
    auto* r = sipvoice::bench::re_media::receiver_create();
    std::array<std::uint8_t, 1500> out{};
    std::uint64_t i = 0, sink = 0;
    for (int k = 0; k < 200; ++k, ++i) {
        auto d = in.at(i);
        sipvoice::bench::re_media::receiver_packet(r, d.data(), d.size(), out.data(), out.size());
    }
    for (auto _ : state) {
        auto d = in.at(i++);
        const long n = sipvoice::bench::re_media::receiver_packet(r, d.data(), d.size(), out.data(), out.size());
        sink += n > 0 ? out[0] : 0;
    }
    sipvoice::bench::re_media::receiver_destroy(r);
    benchmark::DoNotOptimize(sink);
}

// RTP out: header from the sender, packet written
void bm_rtp_out_sipvoice(benchmark::State& state) {
    rtp::sender snd({.ssrc = 1, .first_sequence = 2, .first_timestamp = 3, .clock_rate = 8000});
    std::array<std::uint8_t, 160> body{};
    std::array<std::uint8_t, 1500> wire{};
    std::uint64_t sink = 0;
    const time_point now = origin;
    for (auto _ : state) {
        rtp::packet p = snd.next(0, false, body.size(), now);
        p.payload = body;
        auto n = rtp::write_packet(p, wire);
        snd.advance(160);
        sink += n ? wire[*n - 1] + *n : 0;
    }
    benchmark::DoNotOptimize(sink);
}

void bm_rtp_out_libre(benchmark::State& state) {
    auto* s = sipvoice::bench::re_media::sender_create();
    std::array<std::uint8_t, 160> body{};
    std::uint16_t seq = 2;
    std::uint32_t ts = 3;
    std::uint64_t sink = 0;
    for (auto _ : state) {
        const std::uint8_t* out = nullptr;
        const long n = sipvoice::bench::re_media::sender_packet(s, 0, false, seq++, ts, 1, body.data(), body.size(), &out);
        ts += 160;
        sink += n > 0 ? out[n - 1] + static_cast<std::uint64_t>(n) : 0;
    }
    sipvoice::bench::re_media::sender_destroy(s);
    benchmark::DoNotOptimize(sink);
}

// G.711: ours against a naive per-sample coder (segment found by a loop, level computed, no table)
[[gnu::noinline]] std::uint8_t naive_ulaw(std::int16_t sample) {
    constexpr int bias = 0x84, clip = 32635;
    int x = sample;
    const int sign = x < 0 ? 0x00 : 0x80;
    if (x < 0) x = -x;
    if (x > clip) x = clip;
    x += bias;
    int segment = 0;
    for (int v = x >> 8; v > 1 && segment < 7; v >>= 1) ++segment;
    const int step = (x >> (segment + 3)) & 0x0f;
    return static_cast<std::uint8_t>(~(0x7f & ((segment << 4) | step)) & 0x7f) | static_cast<std::uint8_t>(sign);
}

[[gnu::noinline]] std::int16_t naive_ulaw_decode(std::uint8_t code) {
    const int c = ~code & 0xff;
    int t = ((c & 0x0f) << 3) + 0x84;
    t <<= (c & 0x70) >> 4;
    return static_cast<std::int16_t>((c & 0x80) != 0 ? 0x84 - t : t - 0x84);
}

void bm_g711_encode(benchmark::State& state, bool naive) {
    const auto pcm = speech(8000, 160 * 50);
    std::array<std::uint8_t, 160> out{};
    std::uint64_t i = 0, sink = 0;
    for (auto _ : state) {
        std::span<const std::int16_t> in(pcm.data() + (i++ % 50) * 160, 160);
        if (naive) {
            for (std::size_t k = 0; k < 160; ++k) out[k] = naive_ulaw(in[k]);
        } else {
            codec::g711::encode_ulaw(in, out);
        }
        benchmark::ClobberMemory();
        sink += out[0];
    }
    benchmark::DoNotOptimize(sink);
    state.SetItemsProcessed(state.iterations() * 160);
}

void bm_g711_decode(benchmark::State& state, bool naive) {
    const auto pcm = speech(8000, 160 * 50);
    std::vector<std::uint8_t> codes(pcm.size());
    codec::g711::encode_ulaw(pcm, codes);
    std::array<std::int16_t, 160> out{};
    std::uint64_t i = 0, sink = 0;
    for (auto _ : state) {
        std::span<const std::uint8_t> in(codes.data() + (i++ % 50) * 160, 160);
        if (naive) {
            for (std::size_t k = 0; k < 160; ++k) out[k] = naive_ulaw_decode(in[k]);
        } else {
            codec::g711::decode_ulaw(in, out);
        }
        benchmark::ClobberMemory();
        sink += static_cast<std::uint64_t>(out[0]);
    }
    benchmark::DoNotOptimize(sink);
    state.SetItemsProcessed(state.iterations() * 160);
}

// Resampling one 20 ms frame: codec::resampler against libsamplerate called directly
void bm_resample_sipvoice(benchmark::State& state, std::uint32_t from, std::uint32_t to) {
    auto r = codec::resampler::create(from, to);
    const std::size_t frame = from / 50;
    const auto pcm = speech(from, frame * 50);
    std::vector<std::int16_t> out(to / 50 + 8);
    std::uint64_t i = 0, sink = 0;
    for (auto _ : state) {
        auto n = r->process(std::span<const std::int16_t>(pcm.data() + (i++ % 50) * frame, frame), out);
        sink += n ? static_cast<std::uint64_t>(out[*n - 1]) : 0;
    }
    benchmark::DoNotOptimize(sink);
}

void bm_resample_libsamplerate(benchmark::State& state, std::uint32_t from, std::uint32_t to) {
    int err = 0;
    SRC_STATE* src = src_new(SRC_SINC_FASTEST, 1, &err);
    const std::size_t frame = from / 50;
    const auto pcm = speech(from, frame * 50);
    std::vector<float> fin(frame), fout(to / 50 + 64);
    std::vector<std::int16_t> out(fout.size());
    const double ratio = static_cast<double>(to) / from;
    std::uint64_t i = 0, sink = 0;
    for (auto _ : state) {
        src_short_to_float_array(pcm.data() + (i++ % 50) * frame, fin.data(), static_cast<int>(frame));
        SRC_DATA d{};
        d.data_in = fin.data();
        d.input_frames = static_cast<long>(frame);
        d.data_out = fout.data();
        d.output_frames = static_cast<long>(fout.size());
        d.src_ratio = ratio;
        src_process(src, &d);
        src_float_to_short_array(fout.data(), out.data(), static_cast<int>(d.output_frames_gen));
        sink += static_cast<std::uint64_t>(out[0]);
    }
    src_delete(src);
    benchmark::DoNotOptimize(sink);
}

// Opus: codec::audio_codec against libopus with the same settings (codec::opus_config's defaults)
void bm_opus_encode(benchmark::State& state, std::uint32_t rate, bool raw) {
    const std::size_t frame = rate / 50;
    const auto pcm = speech(rate, frame * 50);
    std::array<std::uint8_t, 1500> out{};
    std::uint64_t i = 0, sink = 0;
    if (raw) {
        const codec::opus_config c;
        int err = 0;
        OpusEncoder* enc = opus_encoder_create(static_cast<opus_int32>(rate), 1, OPUS_APPLICATION_VOIP, &err);
        opus_encoder_ctl(enc, OPUS_SET_BITRATE(c.bitrate));
        opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(c.complexity));
        opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(c.inband_fec ? 1 : 0));
        opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(c.packet_loss_percent));
        opus_encoder_ctl(enc, OPUS_SET_VBR(c.vbr ? 1 : 0));
        opus_encoder_ctl(enc, OPUS_SET_DTX(c.dtx ? 1 : 0));
        opus_encoder_ctl(enc, OPUS_SET_SIGNAL(OPUS_AUTO));
        for (auto _ : state) {
            const opus_int32 n = opus_encode(enc, pcm.data() + (i++ % 50) * frame, static_cast<int>(frame), out.data(),
                                             static_cast<opus_int32>(out.size()));
            sink += static_cast<std::uint64_t>(n);
        }
        opus_encoder_destroy(enc);
    } else {
        codec::codec_options o;
        o.sample_rate = rate;
        auto c = codec::make_codec("opus", 48000, 2, o);
        for (auto _ : state) {
            auto n = (*c)->encode(std::span<const std::int16_t>(pcm.data() + (i++ % 50) * frame, frame), out);
            sink += n ? *n : 0;
        }
    }
    benchmark::DoNotOptimize(sink);
}

void bm_opus_decode(benchmark::State& state, std::uint32_t rate, bool raw) {
    const path_config p{"opus", "opus", 48000, 2, 111, rate};
    incoming in(p);
    const std::size_t frame = rate / 50;
    std::vector<std::int16_t> out(frame * 6);
    std::uint64_t i = 0, sink = 0;
    if (raw) {
        int err = 0;
        OpusDecoder* dec = opus_decoder_create(static_cast<opus_int32>(rate), 1, &err);
        for (auto _ : state) {
            const auto& d = in.datagrams[i++ % 50];
            const int n = opus_decode(dec, d.data() + rtp::header_size, static_cast<opus_int32>(d.size() - rtp::header_size),
                                      out.data(), static_cast<int>(out.size()), 0);
            sink += static_cast<std::uint64_t>(n);
        }
        opus_decoder_destroy(dec);
    } else {
        codec::codec_options o;
        o.sample_rate = rate;
        auto c = codec::make_codec("opus", 48000, 2, o);
        for (auto _ : state) {
            const auto& d = in.datagrams[i++ % 50];
            auto n = (*c)->decode(std::span<const std::uint8_t>(d).subspan(rtp::header_size), out);
            sink += n ? *n : 0;
        }
    }
    benchmark::DoNotOptimize(sink);
}

// ---- summary

class summary_reporter : public benchmark::ConsoleReporter {
public:
    std::map<std::string, double> ns;  // benchmark name -> CPU ns per iteration
    std::set<std::string> medians;     // names whose figure is a median of repetitions

    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& r : runs) {
            if (r.error_occurred) continue;
            // Per iteration, in the run's unit: every benchmark here is registered in nanoseconds. With
            // --benchmark_repetitions the median stands for the benchmark.
            if (r.run_type == Run::RT_Iteration) {
                if (!medians.count(r.run_name.function_name)) ns[r.run_name.function_name] = r.GetAdjustedCPUTime();
            } else if (r.aggregate_name == "median") {
                ns[r.run_name.function_name] = r.GetAdjustedCPUTime();
                medians.insert(r.run_name.function_name);
            }
        }
        ConsoleReporter::ReportRuns(runs);
    }
    [[nodiscard]] double get(const std::string& name) const {
        auto it = ns.find(name);
        return it == ns.end() ? 0 : it->second;
    }
};

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
            std::printf(
                "usage: media_bench [Google Benchmark flags]\n\n"
                "CPU per 20 ms RTP packet through the receive path (parse, jitter buffer, decode,\n"
                "resample) and the send path (resample, encode, RTP, optionally the UDP send) of\n"
                "PCMU and Opus, as media::audio_stream runs them, with libre, libsamplerate, libopus\n"
                "and a naive G.711 side by side; prints ns per packet, calls per core on that work\n"
                "alone, and the ratios. The echo load with real sockets is media_echo_load.\n");
            return 0;
        }
    }
    auto reg = [](const std::string& name, auto fn, auto... args) {
        benchmark::RegisterBenchmark(name.c_str(), fn, args...)->Unit(benchmark::kNanosecond);
    };
    for (const auto& p : paths) {
        const std::string n = p.name;
        reg("receive/" + n, bm_receive, &p);
        reg("send/" + n, bm_send, &p, false);
        reg("send+udp/" + n, bm_send, &p, true);
        reg("echo/" + n, bm_echo, &p, false);
        reg("echo+udp/" + n, bm_echo, &p, true);
    }
    reg("echo_x2000/pcmu@8k", bm_echo_many, &paths[0], 2000);
    reg("rtp_parse/sipvoice", bm_parse_sipvoice);
    reg("rtp_parse/libre", bm_parse_libre);
    reg("rtp_parse/minimal", bm_parse_minimal);
    reg("rtp_in/sipvoice", bm_rtp_in_sipvoice);
    reg("rtp_in/libre", bm_rtp_in_libre);
    reg("rtp_out/sipvoice", bm_rtp_out_sipvoice);
    reg("rtp_out/libre", bm_rtp_out_libre);
    reg("g711_encode/sipvoice", bm_g711_encode, false);
    reg("g711_encode/naive", bm_g711_encode, true);
    reg("g711_decode/sipvoice", bm_g711_decode, false);
    reg("g711_decode/naive", bm_g711_decode, true);
    reg("resample_8k_16k/sipvoice", bm_resample_sipvoice, 8000u, 16000u);
    reg("resample_8k_16k/libsamplerate", bm_resample_libsamplerate, 8000u, 16000u);
    reg("resample_16k_8k/sipvoice", bm_resample_sipvoice, 16000u, 8000u);
    reg("resample_16k_8k/libsamplerate", bm_resample_libsamplerate, 16000u, 8000u);
    for (std::uint32_t rate : {16000u, 48000u}) {
        const std::string r = std::to_string(rate / 1000) + "k";
        reg("opus_encode@" + r + "/sipvoice", bm_opus_encode, rate, false);
        reg("opus_encode@" + r + "/libopus", bm_opus_encode, rate, true);
        reg("opus_decode@" + r + "/sipvoice", bm_opus_decode, rate, false);
        reg("opus_decode@" + r + "/libopus", bm_opus_decode, rate, true);
    }

    benchmark::Initialize(&argc, argv);
    summary_reporter rep;
    benchmark::RunSpecifiedBenchmarks(&rep);
    std::cout.flush();
    if (rep.ns.empty()) return 0;

    std::printf("\nSummary: media path, CPU ns per 20 ms RTP packet, one core\n");
    std::printf("%-34s", "path");
    for (const auto& p : paths) std::printf(" %10s", p.name);
    std::printf("\n");
    const std::pair<const char*, const char*> rows[] = {
        {"receive", "receive (parse, jitter, decode)"},
        {"send", "send (write, encode, RTP)"},
        {"send+udp", "send + UDP sendto on 127.0.0.1"},
        {"echo", "echo call tick (receive + send)"},
        {"echo+udp", "echo call tick + UDP sendto"},
    };
    for (const auto& [key, label] : rows) {
        std::printf("%-34s", label);
        for (const auto& p : paths) {
            const double v = rep.get(std::string(key) + "/" + p.name);
            if (v > 0) std::printf(" %10.0f", v);
            else std::printf(" %10s", "-");
        }
        std::printf("\n");
    }
    // An echo call moves 50 packets a second each way; its tick does both.
    std::printf("%-34s", "echo calls/core on this work alone");
    for (const auto& p : paths) {
        const double v = rep.get(std::string("echo+udp/") + p.name);
        if (v > 0) std::printf(" %10.0f", 1e9 / (50 * v));
        else std::printf(" %10s", "-");
    }
    std::printf("\n(a floor: without the socket receive, the timer and the event loop, and with one call's state hot\n"
                "in the caches; media_echo_load measures the whole)\n");
    if (const double many = rep.get("echo_x2000/pcmu@8k"); many > 0) {
        const double one = rep.get("echo/pcmu@8k");
        std::printf("echo tick over 2000 calls in turn (state out of the caches), pcmu@8k: %.0f ns per packet, %.1fx the\n"
                    "single call's %.0f ns\n",
                    many, one > 0 ? many / one : 0.0, one);
    }

    std::printf("\nComponents: CPU ns per 20 ms packet, sipvoice and its peer, ratio = peer time / sipvoice time\n");
    std::printf("(>1: sipvoice is faster; against a floor, 1/ratio - 1 is the stack's overhead)\n");
    std::printf("%-22s %12s %12s  %-22s %8s\n", "component", "sipvoice", "peer", "peer", "ratio");
    const std::pair<const char*, const char*> pairs[] = {
        {"rtp_parse", "libre"},         {"rtp_parse", "minimal"},
        {"rtp_in", "libre"},            {"rtp_out", "libre"},
        {"g711_encode", "naive"},       {"g711_decode", "naive"},
        {"resample_8k_16k", "libsamplerate"}, {"resample_16k_8k", "libsamplerate"},
        {"opus_encode@16k", "libopus"}, {"opus_decode@16k", "libopus"},
        {"opus_encode@48k", "libopus"}, {"opus_decode@48k", "libopus"},
    };
    for (const auto& [what, peer] : pairs) {
        const double ours = rep.get(std::string(what) + "/sipvoice");
        const double theirs = rep.get(std::string(what) + "/" + peer);
        if (ours <= 0 || theirs <= 0) continue;
        std::printf("%-22s %12.1f %12.1f  %-22s %7.2fx\n", what, ours, theirs, peer, theirs / ours);
    }
    // Where a packet's time goes: the parts of the receive and send paths, as shares of them.
    const double rx = rep.get("receive/pcmu@8k"), tx = rep.get("send/pcmu@8k");
    const double in = rep.get("rtp_in/sipvoice"), dec = rep.get("g711_decode/sipvoice");
    const double out = rep.get("rtp_out/sipvoice"), enc = rep.get("g711_encode/sipvoice");
    if (rx > 0 && tx > 0 && in > 0 && out > 0) {
        std::printf("\nPCMU@8k receive %.0f ns: RTP parse + jitter buffer %.0f ns (%.0f%%), G.711 decode %.0f ns, the rest\n"
                    "(PLC history, frame handler, events) %.0f ns\n",
                    rx, in, 100 * in / rx, dec, std::max(0.0, rx - in - dec));
        std::printf("PCMU@8k send %.0f ns: G.711 encode %.0f ns, RTP header + write %.0f ns, the rest (queue, frame vector,\n"
                    "1500-octet wire buffer zeroed) %.0f ns\n",
                    tx, enc, out, std::max(0.0, tx - enc - out));
    }
    return 0;
}
