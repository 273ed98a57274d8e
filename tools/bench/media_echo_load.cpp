// media_echo_load: how many concurrent echo calls one core carries.
//
// N echo calls live in this process on one asio::io_context thread pinned to core 0, each as a call
// does it: ua::call_media answers an SDP offer (RTP and RTCP sockets on 127.0.0.1, audio_stream with its
// 20 ms timer, jitter buffer, codec, resamplers when the application rate differs) and the frame
// handler writes every frame back, like `sipvoice answer --echo`. (--mode audio_stream builds the same
// thing from media::rtp_socket + media::audio_stream without call_media. --mode floor sends each RTP
// datagram straight back through media::rtp_socket, with no jitter buffer, codec, timer or stream: what
// the kernel, asio and the socket layer cost by themselves, to run beside the others on the same
// machine state.)
//
// A load generator thread pinned to core 1 plays the N remote phones: 50 packets a second per call of
// G.711 (or Opus) RTP, evenly phased over the 20 ms, from a few UDP sockets (sendmmsg/recvmmsg),
// and takes the echoed packets back. Per step of N, over a steady window after a warm-up, with every
// counter read at the same instant on the io thread:
//   - the echo thread's CPU (CLOCK_THREAD_CPUTIME_ID) as % of its core, per call, and per packet (one
//     in and its echo out);
//   - packets the generator sent, packets the echo sockets took in (the rest the kernel dropped: socket
//     buffers overflowed because the echo thread fell behind), packets too late for the jitter buffers,
//     frames they dropped to shorten their delay, frames they played from a real packet (= echoed
//     audio), and how many of the echo's packets came back to the generator;
// and passes when the echo thread stays under --max-cpu (85%) of its core and >= --min-echo (99.9%) of
// the packets are echoed and returned. Steps go up until one fails (or --keep-going).
//
// Loopback note: Linux delivers a loopback datagram into the receiving socket in the sender's context,
// so the generator pays the kernel's receive work for the echo's input (and for waking the echo thread),
// and the echo thread pays it for what it sends back: more than a NIC's transmit would cost it. The
// generator polls its sockets in turn, in no epoll set, rather than sleeping, so that this includes
// neither waking the generator across cores nor the epoll wake-up callback each delivery would run
// (--gen-sleep: it waits in epoll_wait, to see that cost; the polling generator without epoll took
// the floor at 2,000 calls about 3 points lower). Both threads run at nice -20, their session's autogroup too (see
// autogroup_nice), so that other work on the machine does not take their cores (--nice 0: not).
//
// Where the time goes is for perf: `nice -n -20 perf record -g -- media_echo_load --calls 2000 ...`.
//
//   media_echo_load [--calls 250,500,1000,1500,2000,2500,3000,4000] [--warmup 3] [--seconds 10] [--codec pcmu|opus]
//                   [--app-rate 8000] [--mode call_media|audio_stream|floor] [--max-cpu 85] [--min-echo 99.9]
//                   [--keep-going] [--beside-floor] [--low-latency] [--echo-core 0] [--gen-core 1] [--gen-sleep]
//                   [--nice -20]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include "media_loopback_udp.hpp"
#include "sipvoice/codec/codec.hpp"
#include "sipvoice/media/audio_stream.hpp"
#include "sipvoice/media/rtp_socket.hpp"
#include "sipvoice/rtp/packet.hpp"
#include "sipvoice/ua/call_media.hpp"

namespace codec = sipvoice::codec;
namespace media = sipvoice::media;
namespace rtp = sipvoice::rtp;
namespace ua = sipvoice::ua;
using steady = std::chrono::steady_clock;

namespace {

struct options {
    std::vector<int> calls{250, 500, 1000, 1500, 2000, 2500, 3000, 4000};
    double warmup = 3;
    double seconds = 10;
    std::string codec = "pcmu";
    std::uint32_t app_rate = 0;  // 0: the CLI's (8000 for PCMU, 48000 for Opus)
    std::string mode = "call_media";
    double max_cpu = 85;
    double min_echo = 99.9;
    bool keep_going = false;
    bool beside_floor = false;  // a floor run before each step, and the difference
    int echo_core = 0;
    int gen_core = 1;
    std::uint16_t port_min = 10000;
    std::uint16_t port_max = 60000;
    bool gen_sleep = false;  // the generator sleeps in epoll_wait between sends instead of polling
    bool low_latency = false;  // ua::media_config::low_latency (the agent's setting)
    int nice = -20;          // of the echo and generator threads (0: leave it)
};

constexpr std::chrono::milliseconds ptime{20};
constexpr int calls_per_generator_socket = 256;

double thread_cpu_seconds(pthread_t t) {
    clockid_t id{};
    if (pthread_getcpuclockid(t, &id) != 0) return 0;
    timespec ts{};
    clock_gettime(id, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Pins the calling thread to a core and raises its priority: on a machine where other work runs (a
// build), a nice-0 echo or generator thread shares its core with it, and the figures measure the
// scheduler instead. Nice -20 against nice 0 is CFS weight 88761 to 1024: the thread gets what it asks
// for, and what it leaves goes to the others.
bool pin(int core, int nice) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core, &set);
    const bool pinned = pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
    const bool niced = nice == 0 || setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice) == 0;
    return pinned && niced;
}

// Something like speech: a 140 Hz voice with harmonics and a syllable envelope.
std::vector<std::int16_t> speech(std::uint32_t rate, std::size_t samples) {
    std::vector<std::int16_t> out(samples);
    constexpr double pi = 3.14159265358979323846;
    for (std::size_t i = 0; i < samples; ++i) {
        const double t = static_cast<double>(i) / rate;
        double v = 0;
        for (int h = 1; h <= 12 && h * 140.0 < rate / 2.0; ++h) v += std::sin(2 * pi * h * 140.0 * t) / h;
        v *= 0.35 * (0.55 + 0.45 * std::sin(2 * pi * 4 * t));
        out[i] = static_cast<std::int16_t>(std::lround(std::clamp(v * 32767, -32767.0, 32767.0)));
    }
    return out;
}

// With autogroup scheduling (Linux's default for desktop and server kernels) nice only weighs threads
// against others of the same session: a build in another session still takes half of each core. The
// session's autogroup gets the same nice for the run, and its old one back at the end.
class autogroup_nice {
public:
    explicit autogroup_nice(int nice) {
        if (nice == 0) return;
        if (FILE* f = std::fopen("/proc/self/autogroup", "r")) {
            char text[128] = {};
            if (std::fgets(text, sizeof text, f) != nullptr) {
                if (const char* at = std::strstr(text, " nice ")) old_ = std::atoi(at + 6);
            }
            std::fclose(f);
        }
        if (!old_) return;
        if (FILE* f = std::fopen("/proc/self/autogroup", "w")) {
            set_ = std::fprintf(f, "%d", nice) > 0;
            set_ = (std::fclose(f) == 0) && set_;
        }
    }
    ~autogroup_nice() {
        if (!set_ || !old_) return;
        if (FILE* f = std::fopen("/proc/self/autogroup", "w")) {
            std::fprintf(f, "%d", *old_);
            std::fclose(f);
        }
    }
    autogroup_nice(const autogroup_nice&) = delete;
    autogroup_nice& operator=(const autogroup_nice&) = delete;
    [[nodiscard]] bool set() const { return set_; }

private:
    std::optional<int> old_;
    bool set_ = false;
};

// ---- the remote phones

class generator {
public:
    generator(int calls, const std::vector<std::vector<std::uint8_t>>& payloads, std::uint8_t payload_type,
              std::uint32_t ts_step, bool sleep)
        : n_(calls), payloads_(payloads), pt_(payload_type), ts_step_(ts_step), sleep_(sleep),
          dest_(static_cast<std::size_t>(calls)),
          received_per_call_(static_cast<std::size_t>(calls)), call_of_port_(65536, -1) {
        const int sockets = (calls + calls_per_generator_socket - 1) / calls_per_generator_socket;
        ep_ = epoll_create1(0);
        for (int s = 0; s < sockets; ++s) {
            std::uint16_t port = 0;
            const int fd = sipvoice::bench::open_loopback_udp(port, true);
            fds_.push_back(fd);
            ports_.push_back(port);
            if (!sleep) continue;
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u32 = static_cast<std::uint32_t>(s);
            epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
        }
    }
    ~generator() {
        for (int fd : fds_) ::close(fd);
        ::close(ep_);
    }
    generator(const generator&) = delete;
    generator& operator=(const generator&) = delete;

    // The generator socket (its port) that plays call i.
    [[nodiscard]] std::uint16_t port_for(int call) const { return ports_[static_cast<std::size_t>(socket_of(call))]; }
    [[nodiscard]] std::size_t sockets() const { return fds_.size(); }
    void set_echo_port(int call, std::uint16_t port) {
        sockaddr_in& a = dest_[static_cast<std::size_t>(call)];
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(port);
        call_of_port_[port] = call;
    }

    void run(steady::time_point t0) {
        std::uint64_t cycle = 0;
        int next = 0;
        auto deadline = [&](std::uint64_t k, int i) {
            return t0 + ptime * static_cast<std::int64_t>(k) +
                   std::chrono::duration_cast<steady::duration>(ptime) * i / n_;
        };
        std::vector<std::uint16_t> seq(static_cast<std::size_t>(n_));
        std::vector<std::uint32_t> ts(static_cast<std::size_t>(n_));
        for (int i = 0; i < n_; ++i) {
            seq[static_cast<std::size_t>(i)] = static_cast<std::uint16_t>(i * 7919);
            ts[static_cast<std::size_t>(i)] = static_cast<std::uint32_t>(i) * 104729u;
        }
        constexpr int batch = 64;
        std::array<std::array<std::uint8_t, 1500>, batch> out{};
        std::array<iovec, batch> out_iov{};
        std::array<mmsghdr, batch> out_msg{};
        int pending = 0;
        int pending_socket = -1;
        auto flush = [&] {
            int done = 0;
            while (done < pending) {
                const int r = sendmmsg(fds_[static_cast<std::size_t>(pending_socket)], out_msg.data() + done,
                                       static_cast<unsigned>(pending - done), 0);
                if (r <= 0) {
                    send_errors_ += static_cast<std::uint64_t>(pending - done);
                    break;
                }
                done += r;
                sent_.fetch_add(static_cast<std::uint64_t>(r), std::memory_order_relaxed);
            }
            pending = 0;
        };
        std::array<std::array<std::uint8_t, 2048>, batch> in{};
        std::array<iovec, batch> in_iov{};
        std::array<sockaddr_in, batch> from{};
        std::array<mmsghdr, batch> in_msg{};
        std::array<epoll_event, 64> events{};
        while (running_.load(std::memory_order_relaxed)) {
            const auto now = steady::now();
            if (sending_.load(std::memory_order_relaxed)) {
                while (deadline(cycle, next) <= now) {
                    const auto late = now - deadline(cycle, next);
                    if (late > std::chrono::milliseconds(2)) late_sends_.fetch_add(1, std::memory_order_relaxed);
                    const int i = next;
                    const int s = socket_of(i);
                    if (pending == batch || (pending > 0 && s != pending_socket)) flush();
                    pending_socket = s;
                    auto& buf = out[static_cast<std::size_t>(pending)];
                    const auto& body = payloads_[static_cast<std::size_t>(cycle % payloads_.size())];
                    const std::uint16_t q = seq[static_cast<std::size_t>(i)]++;
                    const std::uint32_t t = ts[static_cast<std::size_t>(i)];
                    ts[static_cast<std::size_t>(i)] += ts_step_;
                    const std::uint32_t ssrc = 0x10000u + static_cast<std::uint32_t>(i);
                    buf[0] = 0x80;
                    buf[1] = static_cast<std::uint8_t>(pt_ | (cycle == 0 ? 0x80 : 0));
                    buf[2] = static_cast<std::uint8_t>(q >> 8);
                    buf[3] = static_cast<std::uint8_t>(q);
                    for (int b = 0; b < 4; ++b) {
                        buf[static_cast<std::size_t>(4 + b)] = static_cast<std::uint8_t>(t >> (24 - 8 * b));
                        buf[static_cast<std::size_t>(8 + b)] = static_cast<std::uint8_t>(ssrc >> (24 - 8 * b));
                    }
                    std::memcpy(buf.data() + 12, body.data(), body.size());
                    out_iov[static_cast<std::size_t>(pending)] = {buf.data(), 12 + body.size()};
                    mmsghdr& m = out_msg[static_cast<std::size_t>(pending)];
                    m = {};
                    m.msg_hdr.msg_name = &dest_[static_cast<std::size_t>(i)];
                    m.msg_hdr.msg_namelen = sizeof(sockaddr_in);
                    m.msg_hdr.msg_iov = &out_iov[static_cast<std::size_t>(pending)];
                    m.msg_hdr.msg_iovlen = 1;
                    ++pending;
                    if (++next == n_) {
                        next = 0;
                        ++cycle;
                    }
                }
                if (pending > 0) flush();
            }
            // Polling by default: a generator asleep in epoll_wait makes every echoed datagram wake it
            // across cores, and the kernel charges that wake-up to the echo thread's sendto. Asleep, it
            // waits for echoes until the next packet is due (at most 1 ms).
            int timeout = 0;
            if (sleep_) {
                timeout = 1;
                if (sending_.load(std::memory_order_relaxed)) {
                    const auto left = deadline(cycle, next) - steady::now();
                    timeout = left <= steady::duration::zero() ? 0 : 1;
                }
            }
            // Polling, the sockets are read in turn and are in no epoll set: a socket in one makes
            // every echoed datagram's delivery run the epoll wake-up callback, on the echo thread's
            // core (Linux delivers loopback datagrams in the sender's context), which a packet to
            // another host would not cost it.
            int ready = static_cast<int>(fds_.size());
            if (sleep_) ready = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), timeout);
            for (int e = 0; e < ready; ++e) {
                const int fd = sleep_ ? fds_[events[static_cast<std::size_t>(e)].data.u32] : fds_[static_cast<std::size_t>(e)];
                for (;;) {
                    for (int k = 0; k < batch; ++k) {
                        const auto ku = static_cast<std::size_t>(k);
                        in_iov[ku] = {in[ku].data(), in[ku].size()};
                        in_msg[ku] = {};
                        in_msg[ku].msg_hdr.msg_name = &from[ku];
                        in_msg[ku].msg_hdr.msg_namelen = sizeof(sockaddr_in);
                        in_msg[ku].msg_hdr.msg_iov = &in_iov[ku];
                        in_msg[ku].msg_hdr.msg_iovlen = 1;
                    }
                    const int r = recvmmsg(fd, in_msg.data(), batch, MSG_DONTWAIT, nullptr);
                    if (r <= 0) break;
                    for (int k = 0; k < r; ++k) {
                        const auto ku = static_cast<std::size_t>(k);
                        if (in_msg[ku].msg_len < rtp::header_size) continue;
                        const int call = call_of_port_[ntohs(from[ku].sin_port)];
                        if (call < 0) continue;
                        ++received_per_call_[static_cast<std::size_t>(call)];
                    }
                    received_.fetch_add(static_cast<std::uint64_t>(r), std::memory_order_relaxed);
                    if (r < batch) break;
                }
            }
        }
    }

    void stop_sending() { sending_ = false; }
    void stop() { running_ = false; }
    [[nodiscard]] std::uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t received() const { return received_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t send_errors() const { return send_errors_; }
    // Packets sent more than 2 ms after their due time: the generator could not keep up.
    [[nodiscard]] std::uint64_t late_sends() const { return late_sends_.load(std::memory_order_relaxed); }
    [[nodiscard]] const std::vector<std::uint64_t>& received_per_call() const { return received_per_call_; }

private:
    [[nodiscard]] int socket_of(int call) const { return call / calls_per_generator_socket; }

    int n_;
    const std::vector<std::vector<std::uint8_t>>& payloads_;
    std::uint8_t pt_;
    std::uint32_t ts_step_;
    bool sleep_;
    int ep_ = -1;
    std::vector<int> fds_;
    std::vector<std::uint16_t> ports_;
    std::vector<sockaddr_in> dest_;
    std::vector<std::uint64_t> received_per_call_;
    std::vector<int> call_of_port_;
    std::atomic<bool> running_{true};
    std::atomic<bool> sending_{true};
    std::atomic<std::uint64_t> sent_{0};
    std::atomic<std::uint64_t> received_{0};
    std::atomic<std::uint64_t> late_sends_{0};
    std::uint64_t send_errors_ = 0;
};

// ---- the echo calls

struct echo_call {
    std::unique_ptr<ua::call_media> call;            // --mode call_media
    std::unique_ptr<media::rtp_socket> socket;       // --mode audio_stream, floor
    std::unique_ptr<media::audio_stream> stream;
    std::uint64_t echoed = 0;                         // --mode floor: datagrams sent back
    media::audio_stream* audio() { return call ? call->audio() : stream.get(); }
    media::rtp_socket& rtp() { return call ? call->socket() : *socket; }
};

// Counters of all calls at one instant, read on the io thread (with the generator's, which are atomic).
struct snapshot {
    double echo_cpu = 0;  // the echo thread's CPU seconds
    double echo_user = 0;  // of which in user space (the rest is the kernel's, on its behalf)
    std::uint64_t echo_sleeps = 0;  // its voluntary context switches: how often it waited for work
    steady::time_point at{};
    std::uint64_t gen_sent = 0;
    std::uint64_t gen_received = 0;
    std::uint64_t gen_late = 0;
    std::uint64_t socket_received = 0;  // RTP datagrams the echo sockets took in
    std::uint64_t frames_sent = 0;      // audio packets the echo streams sent
    std::uint64_t played = 0;           // jitter buffer frames from a real packet: echoed audio
    std::uint64_t lost = 0;
    std::uint64_t late = 0;
    std::uint64_t dropped = 0;
    std::uint64_t overflow = 0;
    std::uint64_t latch_dropped = 0;

    snapshot operator-(const snapshot& o) const {
        snapshot d;
        d.echo_cpu = echo_cpu - o.echo_cpu;
        d.echo_user = echo_user - o.echo_user;
        d.echo_sleeps = echo_sleeps - o.echo_sleeps;
        d.at = at;
        d.gen_sent = gen_sent - o.gen_sent;
        d.gen_received = gen_received - o.gen_received;
        d.gen_late = gen_late - o.gen_late;
        d.socket_received = socket_received - o.socket_received;
        d.frames_sent = frames_sent - o.frames_sent;
        d.played = played - o.played;
        d.lost = lost - o.lost;
        d.late = late - o.late;
        d.dropped = dropped - o.dropped;
        d.overflow = overflow - o.overflow;
        d.latch_dropped = latch_dropped - o.latch_dropped;
        return d;
    }
};

struct step_result {
    int calls = 0;
    bool ran = false;
    double window = 0;    // seconds
    double echo_cpu = 0;  // share of one core, 0..1
    double echo_user = 0;  // of which user space
    double gen_cpu = 0;
    snapshot d;           // what happened in the window
    double echoed_pct = 0;
    double returned_pct = 0;
    bool pass = false;
    std::string note;
};

std::string offer_sdp(const options& o, std::uint16_t port) {
    std::string s = "v=0\r\no=load 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n";
    if (o.codec == "opus") {
        s += "m=audio " + std::to_string(port) + " RTP/AVP 111 101\r\n"
             "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\n";
    } else {
        s += "m=audio " + std::to_string(port) + " RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n";
    }
    s += "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n";
    return s;
}

step_result run_step(const options& o, int n, const std::vector<std::vector<std::uint8_t>>& payloads, std::uint8_t pt,
                     std::uint32_t ts_step) {
    step_result res;
    res.calls = n;
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    const auto need = static_cast<rlim_t>(2 * n + n / calls_per_generator_socket + 64);
    if (lim.rlim_cur < need) {
        res.note = "needs " + std::to_string(need) + " file descriptors, the limit is " + std::to_string(lim.rlim_cur);
        return res;
    }
    generator gen(n, payloads, pt, ts_step, o.gen_sleep);
    asio::io_context io;
    auto guard = asio::make_work_guard(io);
    const auto setup_start = steady::now();
    std::vector<echo_call> calls(static_cast<std::size_t>(n));
    const auto lo = asio::ip::make_address("127.0.0.1");
    for (int i = 0; i < n; ++i) {
        echo_call& c = calls[static_cast<std::size_t>(i)];
        std::string error;
        if (o.mode == "call_media") {
            ua::media_config mc;
            mc.address = "127.0.0.1";
            mc.sockets.bind_address = "127.0.0.1";
            mc.sockets.port_min = o.port_min;
            mc.sockets.port_max = o.port_max;
            mc.codecs = {o.codec == "opus" ? sipvoice::sdp::opus() : sipvoice::sdp::pcmu()};
            mc.app_rate = o.app_rate;
            mc.seed = static_cast<std::uint64_t>(i) + 1;
            mc.low_latency = o.low_latency;
            c.call = ua::call_media::create(io, mc, &error);
            if (!c.call) {
                res.note = "call " + std::to_string(i) + ": " + error;
                return res;
            }
            ua::call_media* m = c.call.get();
            m->on_frame([m](std::span<const std::int16_t> pcm) {
                if (m->audio()) m->audio()->write(pcm);
            });
            if (!m->answer(offer_sdp(o, gen.port_for(i)))) {
                res.note = "call " + std::to_string(i) + ": " + m->last_error();
                return res;
            }
        } else {
            c.socket = std::make_unique<media::rtp_socket>(
                io, media::rtp_socket_config{.bind_address = "127.0.0.1", .port_min = o.port_min, .port_max = o.port_max});
            if (auto ec = c.socket->open()) {
                res.note = "call " + std::to_string(i) + ": no RTP port: " + ec.message();
                return res;
            }
            const std::uint16_t gp = gen.port_for(i);
            c.socket->set_remote({lo, gp}, {lo, static_cast<std::uint16_t>(gp + 1)});
            if (o.mode == "floor") {
                media::rtp_socket* sock = c.socket.get();
                std::uint64_t* echoed = &c.echoed;
                sock->on_rtp([sock, echoed](std::span<const std::uint8_t> datagram, sipvoice::time_point) {
                    if (sock->send_rtp(datagram)) ++*echoed;
                });
            } else {
                media::audio_stream_config ac;
                ac.app_rate = o.app_rate;
                if (o.codec == "opus") {
                    ac.codec = "opus";
                    ac.clock_rate = 48000;
                    ac.channels = 2;
                    ac.payload_type = 111;
                }
                ac.telephone_event_payload_type = 101;
                ac.seed = static_cast<std::uint64_t>(i) + 1;
                c.stream = media::audio_stream::create(io, *c.socket, ac, &error);
                if (!c.stream) {
                    res.note = "call " + std::to_string(i) + ": " + error;
                    return res;
                }
                media::audio_stream* a = c.stream.get();
                a->on_frame([a](std::span<const std::int16_t> pcm) { a->write(pcm); });
                a->start();
            }
        }
        gen.set_echo_port(i, c.rtp().rtp_port());
    }

    const double setup_seconds = std::chrono::duration<double>(steady::now() - setup_start).count();
    std::atomic<bool> echo_pinned{false}, gen_pinned{false};
    std::thread echo([&] {
        echo_pinned = pin(o.echo_core, o.nice);
        io.run();
    });
    const auto t0 = steady::now() + std::chrono::milliseconds(50);
    std::thread load([&] {
        gen_pinned = pin(o.gen_core, o.nice);
        gen.run(t0);
    });
    // All counters at one instant, on the io thread (the echo thread's own CPU clock included).
    auto take = [&](bool stop_streams) {
        std::promise<snapshot> done;
        asio::post(io, [&] {
            snapshot t;
            timespec ts{};
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
            t.echo_cpu = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
            rusage ru{};
            getrusage(RUSAGE_THREAD, &ru);
            t.echo_sleeps = static_cast<std::uint64_t>(ru.ru_nvcsw);
            t.echo_user = static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) * 1e-6;
            t.at = steady::now();
            t.gen_sent = gen.sent();
            t.gen_received = gen.received();
            t.gen_late = gen.late_sends();
            for (echo_call& c : calls) {
                media::audio_stream* a = c.audio();
                if (a == nullptr) {  // --mode floor: every datagram sent back counts as played and sent
                    t.played += c.echoed;
                    t.frames_sent += c.echoed;
                    t.socket_received += c.rtp().packets_received();
                    continue;
                }
                if (stop_streams) a->stop();
                const media::audio_stream_stats st = a->stats();
                t.played += st.jitter.played;
                t.lost += st.jitter.lost;
                t.late += st.jitter.late;
                t.dropped += st.jitter.dropped;
                t.overflow += st.jitter.overflow;
                t.frames_sent += st.frames_sent;
                t.socket_received += c.rtp().packets_received();
                t.latch_dropped += c.rtp().latch().dropped();
            }
            done.set_value(t);
        });
        return done.get_future().get();
    };
    const auto sleep = [](double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); };
    sleep(o.warmup + 0.05);
    const double g0 = thread_cpu_seconds(load.native_handle());
    const snapshot s0 = take(false);
    sleep(o.seconds);
    const double g1 = thread_cpu_seconds(load.native_handle());
    const snapshot s1 = take(false);
    gen.stop_sending();
    sleep(0.3);
    (void)take(true);
    sleep(0.1);
    gen.stop();
    load.join();
    io.stop();
    echo.join();

    res.ran = true;
    res.d = s1 - s0;
    res.window = std::chrono::duration<double>(s1.at - s0.at).count();
    res.echo_cpu = res.d.echo_cpu / res.window;
    res.echo_user = res.d.echo_user / res.window;
    res.gen_cpu = (g1 - g0) / res.window;
    res.echoed_pct = res.d.gen_sent > 0 ? 100.0 * static_cast<double>(res.d.played) / static_cast<double>(res.d.gen_sent) : 0;
    res.returned_pct = res.d.frames_sent > 0
                           ? 100.0 * static_cast<double>(res.d.gen_received) / static_cast<double>(res.d.frames_sent)
                           : 0;
    res.pass = res.echo_cpu * 100 < o.max_cpu && res.echoed_pct >= o.min_echo && res.returned_pct >= o.min_echo;
    auto note = [&](const std::string& what) { res.note += (res.note.empty() ? "" : "; ") + what; };
    if (!echo_pinned || !gen_pinned)
        note("could not pin the threads to cores " + std::to_string(o.echo_core) + " and " + std::to_string(o.gen_core) +
             " at nice " + std::to_string(o.nice));
    if (setup_seconds > 1) note("set up in " + std::to_string(static_cast<int>(setup_seconds)) + " s");
    if (res.d.gen_late > 0) note(std::to_string(res.d.gen_late) + " generator packets > 2 ms late");
    if (gen.send_errors() > 0) note(std::to_string(gen.send_errors()) + " generator send errors");
    calls.clear();  // before io: their sockets and timers belong to it
    return res;
}

bool parse_list(std::string_view v, std::vector<int>& out) {
    out.clear();
    while (!v.empty()) {
        const auto comma = v.find(',');
        const std::string_view item = v.substr(0, comma);
        int n = 0;
        auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), n);
        if (ec != std::errc() || end != item.data() + item.size() || n <= 0) return false;
        out.push_back(n);
        v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    }
    return !out.empty();
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto value = [&]() -> std::string_view { return i + 1 < argc ? std::string_view(argv[++i]) : std::string_view{}; };
        if (a == "--calls") {
            if (!parse_list(value(), o.calls)) {
                std::fprintf(stderr, "media_echo_load: --calls wants a list like 250,500,1000\n");
                return 2;
            }
        } else if (a == "--warmup") o.warmup = std::atof(std::string(value()).c_str());
        else if (a == "--seconds") o.seconds = std::atof(std::string(value()).c_str());
        else if (a == "--codec") o.codec = value();
        else if (a == "--app-rate") o.app_rate = static_cast<std::uint32_t>(std::atoi(std::string(value()).c_str()));
        else if (a == "--mode") o.mode = value();
        else if (a == "--max-cpu") o.max_cpu = std::atof(std::string(value()).c_str());
        else if (a == "--min-echo") o.min_echo = std::atof(std::string(value()).c_str());
        else if (a == "--keep-going") o.keep_going = true;
        else if (a == "--beside-floor") o.beside_floor = true;
        else if (a == "--gen-sleep") o.gen_sleep = true;
        else if (a == "--low-latency") o.low_latency = true;
        else if (a == "--nice") o.nice = std::atoi(std::string(value()).c_str());
        else if (a == "--echo-core") o.echo_core = std::atoi(std::string(value()).c_str());
        else if (a == "--gen-core") o.gen_core = std::atoi(std::string(value()).c_str());
        else if (a == "-h" || a == "--help") {
            std::printf(
                "usage: media_echo_load [--calls 250,500,...] [--warmup S] [--seconds S] [--codec pcmu|opus]\n"
                "                       [--app-rate HZ] [--mode call_media|audio_stream|floor] [--max-cpu PCT]\n"
                "                       [--min-echo PCT] [--keep-going] [--beside-floor] [--echo-core N] [--gen-core N]\n"
                "                       [--gen-sleep] [--nice N] [--low-latency]\n\n"
                "Runs N echo calls on one io_context thread (pinned to --echo-core) against a load generator\n"
                "(pinned to --gen-core) sending 50 RTP packets/s per call over 127.0.0.1, for each N of --calls,\n"
                "and prints the echo thread's CPU, the loss, and how many calls one core carries. --mode floor\n"
                "sends each datagram straight back through the socket (no media processing): the floor the\n"
                "other modes stand on, on the machine as it is at the time of the run. --beside-floor runs the\n"
                "floor before each step and prints how many points of the core the stack adds to it.\n"
                "--low-latency runs the calls as sipvoice-agent does (ua::media_config::low_latency: frames\n"
                "handed over as their packets arrive, replies sent when written). The generator polls its\n"
                "sockets, in no epoll set; --gen-sleep makes it wait in epoll_wait instead, and the echo\n"
                "thread's sends then also pay for the wake-ups that delivering to it takes on loopback.\n");
            return 0;
        } else {
            std::fprintf(stderr, "media_echo_load: unknown argument %s (--help)\n", argv[i]);
            return 2;
        }
    }
    if (o.codec != "pcmu" && o.codec != "opus") {
        std::fprintf(stderr, "media_echo_load: --codec pcmu or opus\n");
        return 2;
    }
    if (o.mode != "call_media" && o.mode != "audio_stream" && o.mode != "floor") {
        std::fprintf(stderr, "media_echo_load: --mode call_media, audio_stream or floor\n");
        return 2;
    }
    if (o.app_rate == 0) o.app_rate = o.codec == "opus" ? 48000 : 8000;

    // Each call takes two sockets (RTP, RTCP): raise the soft limit as far as the hard one allows.
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);

    const autogroup_nice group(o.nice);
    // What the phones send: one second of speech, encoded once.
    std::vector<std::vector<std::uint8_t>> payloads;
    std::uint8_t pt = 0;
    std::uint32_t ts_step = 160;
    {
        const std::uint32_t rate = o.codec == "opus" ? 48000 : 8000;
        codec::codec_options co;
        co.sample_rate = rate;
        auto enc = o.codec == "opus" ? codec::make_codec("opus", 48000, 2, co) : codec::make_codec("PCMU", 8000, 1, co);
        if (!enc) {
            std::fprintf(stderr, "media_echo_load: %s\n", std::string(enc.error().what()).c_str());
            return 1;
        }
        const std::size_t frame = rate / 50;
        const auto pcm = speech(rate, frame * 50);
        std::vector<std::uint8_t> body((*enc)->max_payload_size());
        for (int i = 0; i < 50; ++i) {
            auto n = (*enc)->encode(std::span<const std::int16_t>(pcm.data() + static_cast<std::size_t>(i) * frame, frame), body);
            payloads.emplace_back(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(n ? *n : 0));
        }
        pt = o.codec == "opus" ? 111 : 0;
        ts_step = (*enc)->rtp_samples(frame);
    }

    std::string load = "?";
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
        char text[64] = {};
        if (std::fgets(text, sizeof text, f) != nullptr) load = std::string(text, std::strcspn(text, " "));
        std::fclose(f);
    }
    std::printf("media_echo_load: %s, application at %u Hz, %s, echo thread on core %d, generator on core %d, "
                "nice %d%s, %u cores online, file descriptor limit %llu, load average %s\n",
                o.codec == "opus" ? "Opus" : "PCMU", o.app_rate, o.mode.c_str(), o.echo_core, o.gen_core, o.nice,
                o.nice == 0 ? "" : group.set() ? " (and its autogroup)" : " (not its autogroup)", std::thread::hardware_concurrency(), static_cast<unsigned long long>(lim.rlim_cur), load.c_str());
    std::printf("In a steady window of %.0f s after %.0f s of warm-up. echo%%: the echo thread's CPU in %% of its core;\n"
                "user%%: of that, in user space (the rest is kernel time: system calls, loopback delivery);\n"
                "us/call/s: its CPU per call per second; ns/packet: per packet in (and its echo out); sleeps/s: how\n"
                "often a second it waited for work (each wait is a context switch out and a wake-up); gen%%: the\n"
                "generator's thread (%s); sent: packets the generator sent; kdrop: not taken in by the echo sockets;\n"
                "jb_late: too late for (or overflowing) the jitter buffers; jb_drop: frames the jitter buffers dropped\n"
                "to shorten their delay; echoed%%: frames played from a real packet (= echoed) per packet sent;\n"
                "return%%: echo packets that reached the generator.\n",
                o.seconds, o.warmup, o.gen_sleep ? "sleeps between sends" : "polls, so always near 100%");
    std::printf("%7s %8s %8s %10s %10s %8s %8s %10s %8s %8s %8s %10s %9s %7s  %s\n", "calls", "echo%", "user%", "us/call/s",
                "ns/packet", "sleeps/s", "gen%", "sent", "kdrop", "jb_late", "jb_drop", "echoed%", "return%", "verdict", "note");
    std::fflush(stdout);
    std::vector<step_result> results;
    auto print_row = [&](int n, const step_result& r, const char* verdict) {
        if (!r.ran) {
            std::printf("%7d %8s  not run: %s\n", n, "-", r.note.c_str());
            std::fflush(stdout);
            return;
        }
        const double per_call_us = r.echo_cpu * 1e6 / n;  // CPU microseconds per second of one call
        const double per_packet_ns =
            r.d.gen_sent > 0 ? r.d.echo_cpu * 1e9 / static_cast<double>(r.d.gen_sent) : 0;
        const std::uint64_t kdrop = r.d.gen_sent > r.d.socket_received ? r.d.gen_sent - r.d.socket_received : 0;
        std::printf("%7d %7.1f%% %7.1f%% %10.1f %10.0f %8.0f %7.1f%% %10llu %8llu %8llu %8llu %9.3f%% %8.3f%% %7s  %s\n", n,
                    100 * r.echo_cpu, 100 * r.echo_user, per_call_us, per_packet_ns, static_cast<double>(r.d.echo_sleeps) / r.window,
                    100 * r.gen_cpu,
                    static_cast<unsigned long long>(r.d.gen_sent), static_cast<unsigned long long>(kdrop),
                    static_cast<unsigned long long>(r.d.late + r.d.overflow),
                    static_cast<unsigned long long>(r.d.dropped), r.echoed_pct, r.returned_pct, verdict, r.note.c_str());
        std::fflush(stdout);
    };
    for (int n : o.calls) {
        // --beside-floor: the floor first, at the same N on the machine as it is just then, so that the
        // difference is what the stack adds to the sockets (the floor itself moves from run to run).
        step_result floor_run;
        if (o.beside_floor) {
            options fo = o;
            fo.mode = "floor";
            floor_run = run_step(fo, n, payloads, pt, ts_step);
            print_row(n, floor_run, "floor");
        }
        step_result r = run_step(o, n, payloads, pt, ts_step);
        results.push_back(r);
        print_row(n, r, r.pass ? "pass" : "FAIL");
        if (!r.ran) {
            if (!o.keep_going) break;
            continue;
        }
        if (floor_run.ran)
            std::printf("%7d %+7.1f %+8.1f  points of the core above the floor (%s over sockets alone)\n", n,
                        100 * (r.echo_cpu - floor_run.echo_cpu), 100 * (r.echo_user - floor_run.echo_user), o.mode.c_str());
        if (!r.pass && !o.keep_going) break;
    }

    const step_result* best = nullptr;
    const step_result* echoing = nullptr;  // the largest step that echoed enough, whatever its CPU
    for (const auto& r : results) {
        if (r.ran && r.pass && (best == nullptr || r.calls > best->calls)) best = &r;
        if (r.ran && r.echoed_pct >= o.min_echo && r.returned_pct >= o.min_echo &&
            (echoing == nullptr || r.calls > echoing->calls))
            echoing = &r;
    }
    std::printf("\nSummary: echo calls on one core (%s, application %u Hz, %s; pass: echo thread < %.0f%% of its core, "
                ">= %.1f%% of packets echoed and returned)\n",
                o.codec == "opus" ? "Opus" : "PCMU", o.app_rate, o.mode.c_str(), o.max_cpu, o.min_echo);
    // The echo thread's CPU per call falls as calls are added: at low load every packet wakes the thread
    // (a context switch each), at high load one wake-up serves many. So CPU% is not linear in N, and the
    // step where the echoes start to go missing is the other measure of capacity.
    if (echoing != nullptr)
        std::printf("largest step echoing >= %.1f%% whatever the CPU: %d calls (echo thread %.1f%% of its core, %.0f ns "
                    "per packet)\n",
                    o.min_echo, echoing->calls, 100 * echoing->echo_cpu,
                    echoing->d.gen_sent > 0 ? echoing->d.echo_cpu * 1e9 / static_cast<double>(echoing->d.gen_sent) : 0);
    if (best == nullptr) {
        std::printf("no step passed\n");
        return 0;
    }
    const double per_call = best->echo_cpu / best->calls;  // share of a core per call
    std::printf("largest passing step: %d calls, echo thread %.1f%% of a core, %.2f us CPU per call per second "
                "(%.0f ns per packet in and out)\n",
                best->calls, 100 * best->echo_cpu, per_call * 1e6,
                best->d.gen_sent > 0 ? best->d.echo_cpu * 1e9 / static_cast<double>(best->d.gen_sent) : 0);
    std::printf("extrapolated from it: %.0f calls per core at %.0f%%, %.0f at 100%%\n", o.max_cpu / 100 / per_call,
                o.max_cpu, 1 / per_call);
    std::printf("goal 2000 G.711 echo calls per core: %s\n",
                o.codec != "pcmu" ? "(not a G.711 run)" : o.mode == "floor" ? "(a floor run: sockets only, not the stack)" : best->calls >= 2000 ? "met (measured)" :
                (echoing != nullptr && echoing->calls >= 2000) ? "echoed at 2000, but above the CPU limit" :
                (o.max_cpu / 100 / per_call >= 2000 ? "met by extrapolation only" : "not met"));
    return 0;
}
