// agent_latency: how long a caller waits for sipvoice-agent's reply, packet-exact, with the backends'
// own delays fixed, so that what remains is the agent's.
//
// The OpenAI-compatible test server (tests/e2e/openai_test_server.cpp) stands in for the paid APIs,
// with the delays measured for Pipecat over Twilio by default: STT 195 ms, LLM first token 268 ms,
// TTS first byte 23 ms. The agent runs in this process, wired as main.cpp wires it (agent_app +
// conversation_env, the prompts synthesized at start-up, default VAD settings), as a SIP trunk on
// 127.0.0.1 with its own io_context thread. The caller is raw: a ua::user_agent on another io_context
// thread places the call with a hand-written SDP offer (PCMU only, ptime 20) whose RTP socket is ours,
// so that each packet is sent on an absolute 20 ms deadline and each of the agent's packets is
// timestamped on arrival, with no jitter buffer or audio stream of our own in the way.
//
// Per turn the caller waits until the agent has been quiet for 1 s (the greeting, then each reply,
// has played out), sends 1 s of "speech" (a 300 Hz tone, -12 dBFS peak), then silence. The latency
// is the send time of the last speech packet to the arrival of the first packet of the reply (the
// first one whose audio is not near silence). One warm-up turn is not counted (HTTP connections,
// caches).
//
// Phase: the caller's packets and the agent's frame ticks are both 20 ms clocks on absolute
// deadlines, so within one call their phase is fixed, and anything in the agent that waits for its
// tick waits the same part of a frame in every turn: 20 turns of one call would show one phase, not
// the spread of real calls. (The agent hands received frames over on arrival and sends a reply's
// first frame when it is written, ua::media_config::low_latency, so little should wait for a tick.) So the turns are spread over several calls (--calls, default 10), and call k shifts the
// caller's clock by k/calls of a frame against the moment the call is up: the phases are sampled
// evenly.
//
// What is subtracted to get the agent's own overhead: the backend delays, and the pause after which
// the conversation starts the turn's work speculatively (vad.early_silence, 0.12 s by default, in
// whole 20 ms frames: 120 ms). That is what "minus the end-of-turn silence" means for this
// pipeline: it does not wait for the whole vad.end_of_turn_silence (0.5 s) before it transcribes, only
// before it plays the reply (held until the turn is confirmed). The latency less the full 0.5 s is
// printed too. The turn log (one JSON line per turn from the conversation) splits the rest into the
// agent's inside (its first_rtp after its own end of speech) and the path around it (receiving,
// the 20 ms frame ticks if anything waits for them, loopback).
//
//   agent_latency [--turns 20] [--warmup 1] [--calls 10] [--server PATH] [--stt-ms 195] [--llm-ms 268] [--tts-ms 23]
//                 [--agent-log warn]
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <numbers>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "agent.hpp"
#include "backends.hpp"
#include "config.hpp"
#include "conversation.hpp"
#include "sipvoice/codec/g711.hpp"
#include "sipvoice/codec/resampler.hpp"
#include "sipvoice/sdp/session_description.hpp"
#include "sipvoice/ua/user_agent.hpp"
#include "tools.hpp"
#include "turn_detector.hpp"

// The test server built with this tree (CMake passes its path); empty: --server is needed.
#ifndef SIPVOICE_OPENAI_TEST_SERVER
#define SIPVOICE_OPENAI_TEST_SERVER ""
#endif

namespace {

namespace agent = sipvoice::agent;
namespace g711 = sipvoice::codec::g711;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* usage = R"(usage: agent_latency [--turns N] [--warmup N] [--calls N] [--server PATH] [--stt-ms MS]
                     [--llm-ms MS] [--tts-ms MS] [--agent-log LEVEL]

Measures sipvoice-agent's reply latency as a caller sees it: the agent runs in this process with
OpenAI-compatible backends served by sipvoice-openai-test-server (started here, delays fixed), and a
raw SIP/RTP caller on 127.0.0.1 speaks (a 300 Hz tone for 1 s) and times, per turn, its last speech
packet sent -> the first packet of the agent's reply received.

  --turns N         turns measured (default 20), after the warm-up ones
  --warmup N        turns first that are not counted (default 1)
  --calls N         calls the turns are spread over (default 10, at most --turns); the caller's
                    20 ms packet clock is shifted by k/N of a frame in call k (see below)
  --server PATH     sipvoice-openai-test-server (default: the one built with this tree@SERVER@)
  --stt-ms MS       the server's transcription delay (default 195)
  --llm-ms MS       the server's delay to the first chat token (default 268)
  --tts-ms MS       the server's delay to the first audio byte (default 23)
                    (the defaults are the figures measured for Pipecat over Twilio)
  --agent-log LEVEL the agent's log on standard error: error, warn (default), info, debug, trace
  -h, --help        this text

Per turn: the latency; "overhead" = latency - (stt + llm + tts delays) - the pause after which the
agent starts transcribing (vad.early_silence, 0.12 s by default, in whole 20 ms frames; the agent does
not wait for the whole 0.5 s end-of-turn silence before it works, only before it plays the reply);
"vs eot" = latency - delays - the full end-of-turn silence (may be negative); and from the agent's
turn log (ms after its own end of speech): stt_done, llm_first_token, tts_first_audio, first_rtp,
"inside" = first_rtp - delays - pause (the agent alone, without the network and receiving) and
"path" = latency - first_rtp (receiving, 20 ms frame ticks, loopback).
Within one call the phase between the caller's and the agent's 20 ms clocks is fixed, and it moves
"path" by up to 20 ms: hence several calls, each with its own phase, as random calls would have.
Then p50, p95, p99 (linear interpolation between ranks), min and max of each, whether the goals are
met (p50 latency <= 700 ms, overhead p99 <= 20 ms; reported, never asserted), and one line
"Summary: agent latency ..." to grep.

Exit status: 0 the run completed (whatever the figures); 1 it failed (the server did not start, the
call failed, no reply was heard); 2 usage error.
)";

struct options {
    int turns = 20;
    int warmup = 1;
    int calls = 10;
    std::string server = SIPVOICE_OPENAI_TEST_SERVER;
    int stt_ms = 195;
    int llm_ms = 268;
    int tts_ms = 23;
    std::string agent_log = "warn";
};

// The caller's timing.
constexpr auto frame_time = 20ms;                // ptime: one packet of 160 samples at 8 kHz
constexpr std::size_t frame_samples = 160;
constexpr std::size_t speech_packets = 50;       // 1 s of speech per turn
constexpr auto quiet_before_speaking = 1000ms;   // the agent's audio silent this long: its reply ended
constexpr auto reply_timeout = 10s;              // no reply this long after the speech: the turn failed
constexpr int loud_peak = 500;                   // a decoded sample beyond this: the packet is not silence

std::optional<int> parse_int(std::string_view s) {
    int v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc{} || r.ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

double ms(clock_type::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// ---- the test server, as a child process

class test_server {
public:
    test_server() = default;
    test_server(const test_server&) = delete;
    test_server& operator=(const test_server&) = delete;
    ~test_server() { stop(); }

    // Starts it and waits (at most 10 s) for its "listening port=N" line. "" or what went wrong.
    std::string start(const options& o) {
        if (o.server.empty()) return "no test server: pass --server PATH (sipvoice-openai-test-server)";
        if (access(o.server.c_str(), X_OK) != 0)
            return "test server '" + o.server + "' not found or not executable (build the openai_test_server target)";
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
        std::vector<std::string> args = {o.server,
                                         "--listen",
                                         "127.0.0.1:0",
                                         "--stt-delay-ms",
                                         std::to_string(o.stt_ms),
                                         "--llm-first-token-ms",
                                         std::to_string(o.llm_ms),
                                         "--tts-first-byte-ms",
                                         std::to_string(o.tts_ms)};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        // fork rather than posix_spawn: the child asks to be stopped when we die (a crash, a ctest
        // timeout), so that no server outlives the run. No thread runs yet, so fork is safe.
        const pid_t parent = getpid();
        pid_ = fork();
        if (pid_ == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent) _exit(127);
            dup2(fds[1], STDOUT_FILENO);  // the copy has no O_CLOEXEC
            execv(argv[0], argv.data());
            _exit(127);
        }
        const int spawn_errno = errno;
        close(fds[1]);
        out_ = fds[0];
        if (pid_ < 0) return std::string("fork: ") + std::strerror(spawn_errno);
        // Its standard output stays open (and unread) until it stops: it writes nothing more.
        std::string text;
        const auto deadline = clock_type::now() + 10s;
        while (clock_type::now() < deadline) {
            pollfd p{out_, POLLIN, 0};
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            if (poll(&p, 1, static_cast<int>(std::max<long long>(1, left.count()))) <= 0) continue;
            char buf[256];
            const auto n = read(out_, buf, sizeof buf);
            if (n <= 0) break;  // it exited
            text.append(buf, static_cast<std::size_t>(n));
            const auto line_end = text.find('\n');
            if (line_end == std::string::npos) continue;
            const std::string_view line(text.data(), line_end);
            constexpr std::string_view prefix = "listening port=";
            if (line.starts_with(prefix))
                if (auto port = parse_int(line.substr(prefix.size())); port && *port > 0 && *port < 65536) {
                    port_ = static_cast<std::uint16_t>(*port);
                    return "";
                }
            return "the test server said '" + std::string(line) + "' instead of 'listening port=N'";
        }
        return "the test server did not start (no 'listening port=N' within 10 s; its errors are above)";
    }

    // SIGTERM, and its exit awaited (at most 3 s, then SIGKILL).
    void stop() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            const auto deadline = clock_type::now() + 3s;
            int status = 0;
            while (waitpid(pid_, &status, WNOHANG) == 0) {
                if (clock_type::now() >= deadline) {
                    kill(pid_, SIGKILL);
                    waitpid(pid_, &status, 0);
                    break;
                }
                std::this_thread::sleep_for(10ms);
            }
            pid_ = -1;
        }
        if (out_ >= 0) close(out_);
        out_ = -1;
    }

    [[nodiscard]] std::uint16_t port() const { return port_; }

private:
    pid_t pid_ = -1;
    int out_ = -1;
    std::uint16_t port_ = 0;
};

// ---- the agent (as main.cpp wires it)

std::mutex stderr_mutex;

// The agent's configuration, through load_config as the binary's environment would give it: the
// defaults everywhere but the backends, the listening address, and the idle timers and maximum
// duration (off: a turn that gets no reply must not make the agent prompt or hang up mid-run).
std::optional<agent::config> agent_config(std::uint16_t server_port, const std::string& level, std::string* error) {
    agent::config_sources sources;
    sources.env = {
        {"STT_BACKEND", "openai"},
        {"LLM_BACKEND", "openai"},
        {"TTS_BACKEND", "openai"},
        {"OPENAI_BASE_URL", "http://127.0.0.1:" + std::to_string(server_port)},
        {"OPENAI_API_KEY", "sk-agent-latency"},
        {"SIP_LISTEN_ADDRESS", "127.0.0.1"},
        {"SIP_LISTEN_PORT", "0"},
        {"CALLS_MAX_DURATION", "0"},
        {"CALLS_IDLE_PROMPT_AFTER", "3600"},
        {"CALLS_IDLE_HANGUP_AFTER", "3600"},
        {"AGENT_LOG_LEVEL", level},
    };
    auto r = agent::load_config(sources);
    if (!r.ok()) {
        *error = r.errors.front();
        return std::nullopt;
    }
    return r.cfg;
}

// ---- the caller

struct turn_record {
    std::size_t call = 0;          // which call (0-based)
    std::uint64_t turn_in_call = 0;  // 1-based, as the conversation numbers its turns
    bool warmup = false;
    clock_type::time_point last_speech_sent{};
    std::optional<clock_type::time_point> reply_at;  // arrival of the reply's first packet
    int overlapping = 0;  // loud packets of the agent while the caller was speaking
};

// One call of the run: how many turns, and how far the caller's packet clock is shifted against the
// moment the call is up (see the top of the file: the phase between the two 20 ms clocks).
struct call_plan {
    std::size_t turns = 0;
    std::chrono::microseconds phase{0};
};

class caller;

// The SIP events of one call, handed to the caller (the user agent holds this; the caller outlives it).
struct caller_events : sipvoice::ua::call_handler {
    caller* owner = nullptr;
    std::size_t index = 0;  // events of a call that is over are ignored
    void on_answer(const std::string& sdp) override;
    void on_connected() override;
    void on_terminated(int status, const std::string& reason) override;
};

// The caller's calls, media and turn-taking, on the caller's io_context thread only.
class caller {
public:
    caller(asio::io_context& io, sipvoice::ua::user_agent& ua, std::string uri, std::vector<call_plan> plan, std::size_t warmup)
        : ua_(ua), uri_(std::move(uri)), plan_(std::move(plan)), warmup_(warmup), rtp_(io), rtcp_(io), timer_(io) {
        // 1 s of a 300 Hz tone at -12 dBFS peak, with 5 ms ramps so that its ends do not click
        // (a click would smear over the agent's resampler into the frame after the speech).
        const double peak = 32767.0 * std::pow(10.0, -12.0 / 20.0);
        const std::size_t total = speech_packets * frame_samples;
        const double ramp = g711::sample_rate / 200.0;
        speech_.resize(speech_packets);
        for (std::size_t p = 0; p < speech_packets; ++p) {
            std::array<std::int16_t, frame_samples> pcm{};
            for (std::size_t i = 0; i < frame_samples; ++i) {
                const std::size_t n = p * frame_samples + i;
                const double gain = std::min({1.0, static_cast<double>(n) / ramp, static_cast<double>(total - 1 - n) / ramp});
                pcm[i] = static_cast<std::int16_t>(
                    std::lround(peak * gain * std::sin(2 * std::numbers::pi * 300.0 * static_cast<double>(n) / g711::sample_rate)));
            }
            g711::encode_ulaw(pcm, speech_[p]);
        }
        silence_.fill(g711::ulaw_silence);
    }

    // Opens the RTP socket (and one for RTCP, named in the offer, so that the agent's reports land
    // somewhere). "" or the error.
    std::string open() {
        std::error_code ec;
        const asio::ip::udp::endpoint local(asio::ip::make_address_v4("127.0.0.1"), 0);
        for (auto* s : {&rtp_, &rtcp_}) {
            s->open(asio::ip::udp::v4(), ec);
            if (!ec) s->bind(local, ec);
            if (ec) return "cannot open the caller's RTP socket: " + ec.message();
        }
        return "";
    }

    // Places the first call.
    void begin() {
        receive();
        place(0);
    }

    // Stops everything (the run is over or timed out): hangs up a call still up, closes the sockets.
    void stop() {
        timer_.cancel();
        if (call_.valid()) call_.hangup();
        std::error_code ec;
        rtp_.close(ec);
        rtcp_.close(ec);
    }

    std::future<std::string> finished_future() { return done_.get_future(); }
    // Read after the caller's thread has stopped.
    [[nodiscard]] const std::vector<turn_record>& turns() const { return turns_; }
    [[nodiscard]] std::size_t calls_connected() const { return calls_connected_; }
    [[nodiscard]] std::uint64_t sent() const { return sent_; }
    [[nodiscard]] std::uint64_t received() const { return received_; }

    // ---- the call's SIP events (caller_events)

    void on_answer(std::size_t index, const std::string& sdp) {
        if (index != current_) return;
        auto d = sipvoice::sdp::parse(sdp);
        if (!d) return finish("the agent's SDP answer does not parse: line " + std::to_string(d.error().line) + ": " +
                              std::string(d.error().what()));
        for (const auto& m : d->media) {
            const auto* c = d->connection_of(m);
            if (m.type != "audio" || m.port == 0 || c == nullptr) continue;
            if (m.find_format(0) == nullptr) return finish("the agent's answer has no PCMU");
            std::error_code ec;
            const auto addr = asio::ip::make_address(c->address, ec);
            if (ec) return finish("the agent's answer has the address '" + c->address + "'");
            remote_ = asio::ip::udp::endpoint(addr, m.port);
            return start_media();
        }
        finish("the agent's answer has no audio stream");
    }

    void on_connected(std::size_t index) {
        if (index != current_) return;
        connected_ = true;
        start_media();
    }

    void on_terminated(std::size_t index, int status, const std::string& reason) {
        if (index != current_ || finished_) return;
        timer_.cancel();
        if (!hanging_up_) return finish("call " + std::to_string(index + 1) + " ended early: " + std::to_string(status) + " " + reason);
        if (index + 1 < plan_.size()) return place(index + 1);
        finish("");
    }

private:
    enum class phase { listening, speaking, awaiting };

    void place(std::size_t index) {
        current_ = index;
        remote_.reset();
        connected_ = media_started_ = hanging_up_ = false;
        phase_ = phase::listening;
        turns_in_call_ = 0;
        ssrc_ = 0x5ca11e00u + static_cast<std::uint32_t>(index);  // a new source per call
        auto events = std::make_shared<caller_events>();
        events->owner = this;
        events->index = index;
        call_ = ua_.place_call(uri_, offer(), events, "sip:caller@127.0.0.1");
    }

    // PCMU/8000 only, ptime 20, sendrecv: what a plain phone offers.
    [[nodiscard]] std::string offer() const {
        const auto port = std::to_string(rtp_.local_endpoint().port());
        return "v=0\r\n"
               "o=- 1 1 IN IP4 127.0.0.1\r\n"
               "s=agent_latency\r\n"
               "c=IN IP4 127.0.0.1\r\n"
               "t=0 0\r\n"
               "m=audio " + port + " RTP/AVP 0\r\n"
               "a=rtpmap:0 PCMU/8000\r\n"
               "a=ptime:20\r\n"
               "a=rtcp:" + std::to_string(rtcp_.local_endpoint().port()) + " IN IP4 127.0.0.1\r\n"
               "a=sendrecv\r\n";
    }

    // Once the call is up and the agent's RTP address known (the 200's answer, then the ACK).
    void start_media() {
        if (!remote_ || !connected_ || media_started_ || finished_) return;
        media_started_ = true;
        ++calls_connected_;
        const auto now = clock_type::now();
        last_heard_ = now;  // the greeting starts within a few packets
        next_send_ = now + plan_[current_].phase;
        schedule();
    }

    void finish(std::string error) {
        if (finished_) return;
        finished_ = true;
        timer_.cancel();
        done_.set_value(std::move(error));
    }

    void schedule() {
        timer_.expires_at(next_send_);
        timer_.async_wait([this](std::error_code e) {
            if (!e) tick();
        });
    }

    // One packet every 20 ms on absolute deadlines; what it carries follows the turn-taking.
    void tick() {
        if (finished_ || hanging_up_) return;
        const auto now = clock_type::now();
        if (phase_ == phase::listening && now - last_heard_ >= quiet_before_speaking) {
            if (turns_in_call_ == plan_[current_].turns) {
                // This call's turns are done (and the last reply, logged once played, is over).
                hanging_up_ = true;
                call_.hangup();
                return;
            }
            turn_record next;
            next.call = current_;
            next.turn_in_call = ++turns_in_call_;
            next.warmup = turns_.size() < warmup_;
            turns_.push_back(next);
            phase_ = phase::speaking;
            speech_index_ = 0;
        } else if (phase_ == phase::awaiting && now - turns_.back().last_speech_sent >= reply_timeout) {
            phase_ = phase::listening;  // no reply: the turn stays without one
            last_heard_ = now;
        }
        const bool speaking = phase_ == phase::speaking;
        std::array<std::uint8_t, 12 + frame_samples> packet{};
        packet[0] = 0x80;  // version 2, no padding, no extension, no CSRC
        packet[1] = 0;     // PT 0 (PCMU), no marker: the stream is continuous
        packet[2] = static_cast<std::uint8_t>(seq_ >> 8);
        packet[3] = static_cast<std::uint8_t>(seq_);
        for (int i = 0; i < 4; ++i) {
            packet[4 + i] = static_cast<std::uint8_t>(timestamp_ >> (24 - 8 * i));
            packet[8 + i] = static_cast<std::uint8_t>(ssrc_ >> (24 - 8 * i));
        }
        const auto& payload = speaking ? speech_[speech_index_] : silence_;
        std::copy(payload.begin(), payload.end(), packet.begin() + 12);
        std::error_code ec;
        rtp_.send_to(asio::buffer(packet), *remote_, 0, ec);
        const auto sent_at = clock_type::now();
        ++seq_;
        timestamp_ += frame_samples;
        ++sent_;
        if (speaking && ++speech_index_ == speech_packets) {
            turns_.back().last_speech_sent = sent_at;
            phase_ = phase::awaiting;
        }
        next_send_ += frame_time;
        schedule();
    }

    void receive() {
        rtp_.async_receive_from(asio::buffer(rx_), rx_from_, [this](std::error_code ec, std::size_t n) {
            const auto arrived = clock_type::now();  // first: the handler's own work is not the agent's
            if (ec == asio::error::operation_aborted || !rtp_.is_open()) return;
            if (!ec) on_packet(std::span<const std::uint8_t>(rx_.data(), n), arrived);
            receive();
        });
    }

    void on_packet(std::span<const std::uint8_t> p, clock_type::time_point arrived) {
        // Only the current call's agent (a previous call's last packets may still be on the way).
        if (!media_started_ || hanging_up_ || rx_from_ != *remote_) return;
        if (p.size() < 12 || (p[0] >> 6) != 2 || (p[1] & 0x7f) != 0) return;  // not PCMU RTP
        std::size_t header = 12 + 4 * static_cast<std::size_t>(p[0] & 0x0f);
        if ((p[0] & 0x10) != 0 && p.size() >= header + 4)
            header += 4 + 4 * (static_cast<std::size_t>(p[header + 2]) << 8 | p[header + 3]);
        if (p.size() <= header) return;
        ++received_;
        int peak = 0;
        for (const std::uint8_t code : p.subspan(header)) peak = std::max(peak, std::abs(static_cast<int>(g711::ulaw_to_linear(code))));
        if (peak <= loud_peak) return;
        last_heard_ = arrived;
        if (phase_ == phase::speaking) {
            ++turns_.back().overlapping;
        } else if (phase_ == phase::awaiting && arrived > turns_.back().last_speech_sent) {
            turns_.back().reply_at = arrived;
            phase_ = phase::listening;
        }
    }

    sipvoice::ua::user_agent& ua_;
    std::string uri_;
    std::vector<call_plan> plan_;
    std::size_t warmup_;
    asio::ip::udp::socket rtp_;
    asio::ip::udp::socket rtcp_;
    asio::steady_timer timer_;
    std::vector<std::array<std::uint8_t, frame_samples>> speech_;
    std::array<std::uint8_t, frame_samples> silence_{};
    std::array<std::uint8_t, 2048> rx_{};
    asio::ip::udp::endpoint rx_from_;
    // The current call.
    std::size_t current_ = 0;
    sipvoice::ua::call call_;
    std::optional<asio::ip::udp::endpoint> remote_;
    bool connected_ = false;
    bool media_started_ = false;
    bool hanging_up_ = false;
    std::uint64_t turns_in_call_ = 0;
    std::uint32_t ssrc_ = 0;
    // Turn-taking and the packet clock.
    phase phase_ = phase::listening;
    std::size_t speech_index_ = 0;
    clock_type::time_point next_send_{};
    clock_type::time_point last_heard_{};
    std::uint16_t seq_ = 1;
    std::uint32_t timestamp_ = 0;
    // What the run saw.
    std::vector<turn_record> turns_;
    std::size_t calls_connected_ = 0;
    std::uint64_t sent_ = 0;
    std::uint64_t received_ = 0;
    bool finished_ = false;
    std::promise<std::string> done_;
};

void caller_events::on_answer(const std::string& sdp) { owner->on_answer(index, sdp); }
void caller_events::on_connected() { owner->on_connected(index); }
void caller_events::on_terminated(int status, const std::string& reason) { owner->on_terminated(index, status, reason); }

// ---- figures

// Linear interpolation between closest ranks (numpy's default); `v` sorted.
double percentile(const std::vector<double>& v, double p) {
    if (v.empty()) return std::nan("");
    const double rank = p / 100.0 * static_cast<double>(v.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(rank));
    const auto hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

struct distribution {
    double p50, p95, p99, min, max;
    std::size_t n;
};

distribution describe(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    if (v.empty()) return {std::nan(""), std::nan(""), std::nan(""), std::nan(""), std::nan(""), 0};
    return {percentile(v, 50), percentile(v, 95), percentile(v, 99), v.front(), v.back(), v.size()};
}

void print_distribution(const char* name, const std::vector<double>& v) {
    const auto d = describe(v);
    std::printf("  %-34s p50 %7.1f  p95 %7.1f  p99 %7.1f  min %7.1f  max %7.1f  (n=%zu)\n", name, d.p50, d.p95, d.p99,
                d.min, d.max, d.n);
}

// "%8.1f" or "       -" for a missing value.
std::string cell(std::optional<double> v, int width = 8) {
    char buf[32];
    if (v && std::isfinite(*v)) std::snprintf(buf, sizeof buf, "%*.1f", width, *v);
    else std::snprintf(buf, sizeof buf, "%*s", width, "-");
    return buf;
}

std::optional<double> json_ms(const nlohmann::json& line, const char* key) {
    if (!line.contains("ms") || !line["ms"].contains(key) || !line["ms"][key].is_number()) return std::nullopt;
    return line["ms"][key].get<double>();
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        const bool has_value = i + 1 < argc;
        auto number = [&](int& out, int min) {
            auto v = has_value ? parse_int(argv[++i]) : std::nullopt;
            if (!v || *v < min) {
                std::fprintf(stderr, "agent_latency: %s wants a whole number >= %d\n", std::string(a).c_str(), min);
                return false;
            }
            out = *v;
            return true;
        };
        if (a == "-h" || a == "--help") {
            std::string text = usage;
            text.replace(text.find("@SERVER@"), 8, o.server.empty() ? ": none in this build" : ": " + o.server);
            std::fputs(text.c_str(), stdout);
            return 0;
        }
        if (a == "--turns") {
            if (!number(o.turns, 1)) return 2;
        } else if (a == "--warmup") {
            if (!number(o.warmup, 0)) return 2;
        } else if (a == "--calls") {
            if (!number(o.calls, 1)) return 2;
        } else if (a == "--stt-ms") {
            if (!number(o.stt_ms, 0)) return 2;
        } else if (a == "--llm-ms") {
            if (!number(o.llm_ms, 0)) return 2;
        } else if (a == "--tts-ms") {
            if (!number(o.tts_ms, 0)) return 2;
        } else if (a == "--server" && has_value) {
            o.server = argv[++i];
        } else if (a == "--agent-log" && has_value) {
            o.agent_log = argv[++i];
        } else {
            std::fprintf(stderr, "agent_latency: unknown argument %s (--help)\n", argv[i]);
            return 2;
        }
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    auto fail = [](const std::string& what) {
        std::fprintf(stderr, "agent_latency: error: %s\n", what.c_str());
        return 1;
    };

    // ---- the backends
    test_server server;
    if (auto e = server.start(o); !e.empty()) return fail(e);
    std::string error;
    auto cfg_opt = agent_config(server.port(), o.agent_log, &error);
    if (!cfg_opt) return fail("configuration: " + error);
    const agent::config cfg = std::move(*cfg_opt);
    std::shared_ptr<agent::text_to_speech> tts = agent::make_tts(cfg, &error);
    std::shared_ptr<agent::speech_to_text> stt = tts ? agent::make_stt(cfg, &error) : nullptr;
    std::shared_ptr<agent::brain> brain = stt ? agent::make_brain(cfg, &error) : nullptr;
    if (!brain) return fail(error);
    auto prompts = std::make_shared<agent::prompt_cache>();
    for (auto [text, slot] : {std::pair{&cfg.calls.greeting, &prompts->greeting}, std::pair{&cfg.calls.idle_prompt, &prompts->idle_prompt},
                              std::pair{&cfg.calls.goodbye, &prompts->goodbye}, std::pair{&cfg.calls.apology, &prompts->apology}}) {
        *slot = agent::synthesize_16k(*tts, *text, &error);
        if (!error.empty()) return fail("synthesizing the prompts with the test server: " + error);
    }

    // ---- the agent, on its own thread
    std::mutex turn_lines_mutex;
    std::vector<nlohmann::json> turn_lines;  // in the order written (the calls come one after another)
    auto workers = std::make_shared<agent::worker_group>();
    agent::conversation_env env;
    env.cfg = &cfg;
    env.stt = stt;
    env.thinker = brain;
    env.tts = tts;
    env.tools = std::make_shared<const agent::tool_registry>(agent::builtin_tools());
    env.prompts = prompts;
    env.workers = workers;
    env.turn_log = [&](const std::string& line) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return;
        std::lock_guard lock(turn_lines_mutex);
        turn_lines.push_back(std::move(j));
    };
    env.log = [level = cfg.agent.level](agent::log_level l, const std::string& text) {
        if (static_cast<int>(l) > static_cast<int>(level)) return;
        std::lock_guard lock(stderr_mutex);
        std::fprintf(stderr, "agent %-5s %s\n", std::string(agent::to_string(l)).c_str(), text.c_str());
    };

    asio::io_context agent_io;
    auto agent_work = asio::make_work_guard(agent_io);
    std::optional<agent::agent_app> app;
    app.emplace(agent_io, cfg, env);
    if (auto ec = app->start()) return fail("the agent cannot listen on 127.0.0.1: " + ec.message());
    const std::uint16_t agent_port = app->udp_port();
    std::thread agent_thread([&] { agent_io.run(); });
    // Stops the agent as SIGTERM does in main.cpp, and waits for its thread and workers.
    auto stop_agent = [&] {
        asio::post(agent_io, [&] { app->shutdown([&] { agent_io.stop(); }, 2000ms); });
        agent_thread.join();
        workers->wait_idle(3000ms);
        app.reset();
    };

    // ---- the caller, on another thread
    // The turns spread over the calls, the warm-up ones first in the first call; call k's packet
    // clock shifted by k/calls of a frame.
    const auto calls = static_cast<std::size_t>(std::min(o.calls, o.turns));
    std::vector<call_plan> plan(calls);
    for (std::size_t k = 0; k < calls; ++k) {
        plan[k].turns = static_cast<std::size_t>(o.turns) / calls + (k < static_cast<std::size_t>(o.turns) % calls ? 1 : 0);
        plan[k].phase = std::chrono::microseconds(std::chrono::microseconds(frame_time).count() * static_cast<long long>(k) /
                                                  static_cast<long long>(calls));
    }
    plan[0].turns += static_cast<std::size_t>(o.warmup);
    asio::io_context caller_io;
    auto caller_work = asio::make_work_guard(caller_io);
    sipvoice::ua::user_agent_config ucfg;
    ucfg.user_agent = "agent_latency";
    ucfg.transport.bind_address = "127.0.0.1";
    ucfg.transport.udp_port = 0;
    ucfg.transport.tcp = false;
    ucfg.transport.tls = false;
    ucfg.session_expires = 0;  // no re-INVITEs during the run
    std::optional<sipvoice::ua::user_agent> ua;
    ua.emplace(caller_io, ucfg);
    caller phone(caller_io, *ua, "sip:agent@127.0.0.1:" + std::to_string(agent_port), plan, static_cast<std::size_t>(o.warmup));
    if (auto e = phone.open(); !e.empty()) {
        stop_agent();
        return fail(e);
    }
    if (auto ec = ua->start()) {
        stop_agent();
        return fail("the caller cannot listen on 127.0.0.1: " + ec.message());
    }
    auto done = phone.finished_future();
    std::thread caller_thread([&] { caller_io.run(); });
    asio::post(caller_io, [&] { phone.begin(); });

    std::printf("agent_latency: sipvoice-agent in-process (SIP 127.0.0.1:%u), test server 127.0.0.1:%u with STT %d ms, "
                "LLM first token %d ms, TTS first byte %d ms; %d turns + %d warm-up over %zu calls\n",
                agent_port, server.port(), o.stt_ms, o.llm_ms, o.tts_ms, o.turns, o.warmup, calls);
    // A call takes about 5 s before its first turn (the greeting and 1 s of quiet), a turn about 3 s
    // (1 s of speech, the reply, 1 s of quiet), a turn without reply reply_timeout more.
    const auto total_turns = static_cast<long long>(o.turns + o.warmup);
    const auto limit = 30s + static_cast<long long>(calls) * 10s + total_turns * (reply_timeout + 5s);
    std::string run_error = done.wait_for(limit) == std::future_status::ready ? done.get() : "the run did not finish in time";
    asio::post(caller_io, [&] { phone.stop(); });
    asio::post(caller_io, [&] { ua->shutdown([&] { caller_io.stop(); }, 1000ms); });
    caller_thread.join();
    stop_agent();
    server.stop();

    // ---- the figures
    const auto& turns = phone.turns();
    if (phone.calls_connected() == 0 && run_error.empty()) run_error = "no call was connected";
    if (!run_error.empty() && turns.empty()) return fail(run_error);
    // The agent's turn lines by call (in the order the calls' Call-IDs first appear) and turn number.
    std::map<std::pair<std::size_t, std::uint64_t>, nlohmann::json> agent_turns;
    {
        std::vector<std::string> call_ids;
        std::lock_guard lock(turn_lines_mutex);
        for (auto& line : turn_lines) {
            const auto id = line.value("call_id", std::string());
            if (!line.contains("turn") || !line["turn"].is_number_unsigned()) continue;
            auto it = std::find(call_ids.begin(), call_ids.end(), id);
            if (it == call_ids.end()) it = call_ids.insert(call_ids.end(), id);
            agent_turns[{static_cast<std::size_t>(it - call_ids.begin()), line["turn"].get<std::uint64_t>()}] = line;
        }
    }

    const double delays = o.stt_ms + o.llm_ms + o.tts_ms;
    // The conversation's speculative start: early_silence of quiet frames, counted as the detector
    // counts them (whole frames, rounded up).
    const double frame_ms = ms(frame_time);
    const double early_s = cfg.vad.early_silence;
    const double pause_ms = std::ceil(early_s * 1000 / frame_ms - 1e-9) * frame_ms;
    const double eot_ms = cfg.vad.end_of_turn_silence * 1000;

    std::printf("\n turn call  latency overhead   vs eot |  stt_done llm_first tts_first first_rtp    inside     path | heard -> said\n");
    std::vector<double> latency, overhead, vs_eot, inside, path;
    std::size_t number = 0;
    std::size_t replies = 0;
    for (const auto& t : turns) {
        std::optional<double> lat;
        if (t.reply_at) lat = ms(*t.reply_at - t.last_speech_sent);
        nlohmann::json line;
        if (auto it = agent_turns.find({t.call, t.turn_in_call}); it != agent_turns.end()) line = it->second;
        const auto stt_done = json_ms(line, "stt_done");
        const auto llm_first = json_ms(line, "llm_first_token");
        const auto tts_first = json_ms(line, "tts_first_audio");
        const auto first_rtp = json_ms(line, "first_rtp");
        std::optional<double> ovh, eot, in, pth;
        if (lat) {
            ovh = *lat - delays - pause_ms;
            eot = *lat - delays - eot_ms;
        }
        if (first_rtp) in = *first_rtp - delays - pause_ms;
        if (lat && first_rtp) pth = *lat - *first_rtp;
        const std::string label = t.warmup ? "w" + std::to_string(t.turn_in_call) : std::to_string(++number);
        std::string words = line.is_object() ? line.value("heard", std::string()) + " -> " + line.value("said", std::string())
                                             : std::string("(no turn log line)");
        if (!t.reply_at) words += "  NO REPLY";
        if (t.overlapping > 0) words += "  (agent audio during the speech: " + std::to_string(t.overlapping) + " packets)";
        std::printf("%5s %4zu %s %s %s | %s  %s  %s  %s  %s %s | %s\n", label.c_str(), t.call + 1, cell(lat).c_str(),
                    cell(ovh).c_str(), cell(eot).c_str(), cell(stt_done).c_str(), cell(llm_first).c_str(),
                    cell(tts_first).c_str(), cell(first_rtp).c_str(), cell(in).c_str(), cell(pth).c_str(), words.c_str());
        if (t.warmup) continue;
        if (lat) {
            ++replies;
            latency.push_back(*lat);
            overhead.push_back(*ovh);
            vs_eot.push_back(*eot);
        }
        if (in) inside.push_back(*in);
        if (pth) path.push_back(*pth);
    }

    std::printf("\nms. Turns counted %zu of %d, with a reply %zu; calls %zu of %zu connected; RTP packets sent %llu, received %llu\n",
                number, o.turns, replies, phone.calls_connected(), calls, static_cast<unsigned long long>(phone.sent()),
                static_cast<unsigned long long>(phone.received()));
    std::printf("  latency:  the caller's last speech packet sent -> the first packet of the reply received\n");
    std::printf("  overhead: latency - backend delays (%.0f ms) - the pause before the agent starts the turn's work\n"
                "            (%.0f ms: vad early silence %.2f s in %.0f ms frames). This is \"minus the end-of-turn\n"
                "            silence\" for this pipeline: it transcribes at that pause and waits out the %.0f ms\n"
                "            end-of-turn silence only before playing the reply, which is not ready earlier.\n",
                delays, pause_ms, early_s, frame_ms, eot_ms);
    std::printf("  vs eot:   latency - backend delays - the full %.0f ms end-of-turn silence (negative: the\n"
                "            speculative start saves more than the agent costs)\n",
                eot_ms);
    std::printf("  turn log: the agent's own clock, ms after its end of speech. inside = first_rtp - delays - pause\n"
                "            (the agent alone); path = latency - first_rtp (receiving, the 20 ms frame ticks,\n"
                "            loopback)\n");
    std::printf("  calls:    the caller's packet clock is shifted by k/%zu of 20 ms in call k, so that the phase\n"
                "            between its clock and the agent's (fixed within a call; it moves the path by up to\n"
                "            20 ms) is sampled evenly, as random calls would sample it\n\n",
                calls);
    print_distribution("latency", latency);
    print_distribution("overhead", overhead);
    print_distribution("vs eot", vs_eot);
    print_distribution("inside (agent-internal overhead)", inside);
    print_distribution("path (receiving, ticks)", path);

    const auto lat_d = describe(latency);
    const auto ovh_d = describe(overhead);
    const auto in_d = describe(inside);
    const bool p50_ok = lat_d.n > 0 && lat_d.p50 <= 700;
    const bool ovh_ok = ovh_d.n > 0 && ovh_d.p99 <= 20;
    std::printf("\nGoals: p50 latency <= 700 ms: %s (%.1f ms); overhead p99 <= 20 ms: %s (%.1f ms)\n", p50_ok ? "met" : "NOT met",
                lat_d.p50, ovh_ok ? "met" : "NOT met", ovh_d.p99);
    std::printf("Summary: agent latency turns=%zu replies=%zu p50=%.1f p95=%.1f p99=%.1f min=%.1f max=%.1f ms; "
                "overhead p50=%.1f p99=%.1f ms; inside p99=%.1f ms; goals p50<=700 %s, overhead p99<=20 %s\n",
                number, replies, lat_d.p50, lat_d.p95, lat_d.p99, lat_d.min, lat_d.max, ovh_d.p50, ovh_d.p99, in_d.p99,
                p50_ok ? "met" : "not met", ovh_ok ? "met" : "not met");

    if (!run_error.empty()) return fail(run_error);
    if (replies == 0) return fail("no reply was heard");
    return 0;
}
