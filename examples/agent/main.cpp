// sipvoice-agent: the phone voice assistant. Registers as an extension with a PBX (or listens as a
// trunk), answers calls, and holds a conversation: turn-taking on the caller's audio, speech to text,
// a brain (an LLM with tools, an HTTP agent, or offline rules), text to speech streamed back.
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent.hpp"
#include "backends.hpp"
#include "builtin_tools.hpp"
#include "http_client.hpp"
#include "scheduler.hpp"
#include "config.hpp"
#include "conversation.hpp"
#include "sipvoice/codec/resampler.hpp"
#include "sipvoice/media/wav.hpp"
#include "tools.hpp"

using namespace sipvoice::agent;

namespace {

constexpr const char* usage = R"(usage: sipvoice-agent [--config FILE] [--check-config]
       sipvoice-agent [--config FILE] --say TEXT --output WAV

The phone voice assistant built on libsipvoice: registers as an extension with your PBX (or
listens as a SIP trunk), answers calls and talks with the caller.

  --config FILE    the configuration (TOML; default: ./agent.toml when it exists). A .env file
                   beside it (KEY=VALUE lines) is read too; variables of the real environment win
                   over both. Every key has an environment variable: [sip] registrar is
                   SIP_REGISTRAR, [llm] model is LLM_MODEL, ... (see agent.example.toml).
  --check-config   validate the configuration, print every key with its value and where it
                   came from (secrets masked), and exit 0; exit 2 on an error.
  --say TEXT       synthesize TEXT with the configured speech backend into --output (a 16 kHz
                   mono WAV) and exit: a check of the TTS settings, and test audio for calls.
  --output WAV     where --say writes.
  -h, --help       this text.

Running: prints "listening udp=ADDR:PORT tcp=ADDR:PORT" on standard output once it listens; logs
go to standard error; the per-turn JSON log to agent.turn_log. SIGINT/SIGTERM: every call hears
the goodbye and is hung up, the registration is removed, exit 0.

Exit status: 0 done; 1 could not start (a port in use, a model missing); 2 configuration or usage
error (one line per problem on standard error).
)";

std::mutex log_mutex;

void log_line(log_level configured, log_level level, const std::string& text) {
    if (static_cast<int>(level) > static_cast<int>(configured)) return;
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    localtime_r(&t, &tm);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::lock_guard lock(log_mutex);
    std::fprintf(stderr, "%02d:%02d:%02d.%03lld %-5s %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(ms),
                 std::string(to_string(level)).c_str(), text.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    std::optional<std::string> config_path;
    bool check_only = false;
    std::optional<std::string> say;
    std::string output;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "-h" || a == "--help") {
            std::fputs(usage, stdout);
            return 0;
        }
        if (a == "--check-config") {
            check_only = true;
        } else if (a == "--config" && i + 1 < argc) {
            config_path = argv[++i];
        } else if (a.starts_with("--config=")) {
            config_path = std::string(a.substr(9));
        } else if (a == "--say" && i + 1 < argc) {
            say = argv[++i];
        } else if (a == "--output" && i + 1 < argc) {
            output = argv[++i];
        } else {
            std::fprintf(stderr, "sipvoice-agent: unknown option '%s'\n", argv[i]);
            std::fputs(usage, stderr);
            return 2;
        }
    }
    if (say && output.empty()) {
        std::fprintf(stderr, "sipvoice-agent: --say needs --output WAV\n");
        return 2;
    }

    const auto read = read_sources({config_path, process_environment()});
    for (const auto& e : read.errors) std::fprintf(stderr, "%s\n", e.c_str());
    if (!read.errors.empty()) return 2;

    const auto result = load_config(read.sources);
    for (const auto& w : result.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    for (const auto& e : result.errors) std::fprintf(stderr, "%s\n", e.c_str());
    if (!result.ok()) return 2;
    const config& cfg = result.cfg;

    const std::string file = read.sources.file_name.empty() ? "none (defaults)" : read.sources.file_name;
    const std::string dotenv = read.sources.dotenv_name.empty() ? "none" : read.sources.dotenv_name;
    if (check_only) {
        std::printf("# sipvoice-agent: configuration valid (config: %s, .env: %s)\n\n%s", file.c_str(),
                    dotenv.c_str(), format_effective(result).c_str());
        return 0;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    const log_level level = cfg.agent.level;
    auto log = [level](log_level l, const std::string& text) { log_line(level, l, text); };
    // The time zone of get_datetime and "at 7 pm", for the whole process: set before any thread
    // starts, since localtime_r reads it.
    if (!cfg.tools.timezone.empty()) {
        setenv("TZ", cfg.tools.timezone.c_str(), 1);
        tzset();
    }

    std::string error;
    std::shared_ptr<text_to_speech> tts = make_tts(cfg, &error);
    if (!tts) {
        std::fprintf(stderr, "sipvoice-agent: %s\n", error.c_str());
        return 1;
    }
    if (say) {
        auto pcm = synthesize_16k(*tts, *say, &error);
        if (!error.empty()) {
            std::fprintf(stderr, "sipvoice-agent: %s\n", error.c_str());
            return 1;
        }
        sipvoice::media::wav_audio wav;
        wav.sample_rate = 16000;
        wav.samples = pcm;
        if (auto e = sipvoice::media::write_wav(output, wav); e.failed()) {
            std::fprintf(stderr, "sipvoice-agent: cannot write %s: %s\n", output.c_str(), std::string(e.what()).c_str());
            return 1;
        }
        std::printf("wrote %s seconds=%.2f\n", output.c_str(), static_cast<double>(pcm.size()) / 16000.0);
        return 0;
    }
    // The io_context first: the scheduler of timers and callbacks runs on it, and the tools (whose
    // phrases the offline recognizer is biased towards) talk to the scheduler.
    asio::io_context io;
    auto reminders = std::make_shared<scheduler>(io, static_cast<std::size_t>(cfg.tools.max_timers));
    auto tool_set = make_tool_registry(cfg, std::make_shared<http_client>(),
                                       [r = reminders.get()] { return r->registration_state(); });
    for (const auto& e : tool_set.errors) log(log_level::warn, "plugin skipped: " + e);
    auto tools = std::make_shared<const tool_registry>(std::move(tool_set.tools));
    {
        std::string names;
        for (const auto& t : tools->all()) names += (names.empty() ? "" : " ") + t.name;
        log(log_level::info, "tools: " + names);
    }
    std::shared_ptr<speech_to_text> stt = make_stt(cfg, &error, tools.get());
    if (!stt) {
        std::fprintf(stderr, "sipvoice-agent: %s\n", error.c_str());
        return 1;
    }
    std::shared_ptr<brain> brain = make_brain(cfg, &error);
    if (!brain) {
        std::fprintf(stderr, "sipvoice-agent: %s\n", error.c_str());
        return 1;
    }

    // The fixed phrases, synthesized now so that they play at once; when the configured speech
    // server cannot say them, the offline voice does (an apology must work when that server is down).
    auto prompts = std::make_shared<prompt_cache>();
    {
        std::unique_ptr<text_to_speech> fallback;
        const auto t0 = std::chrono::steady_clock::now();
        for (auto [text, slot] : {std::pair{&cfg.calls.greeting, &prompts->greeting},
                                  std::pair{&cfg.calls.idle_prompt, &prompts->idle_prompt},
                                  std::pair{&cfg.calls.goodbye, &prompts->goodbye},
                                  std::pair{&cfg.calls.apology, &prompts->apology}}) {
            *slot = synthesize_16k(*tts, *text, &error);
            if (!error.empty()) {
                log(log_level::warn, error + "; the offline voice says \"" + *text + "\" instead");
                if (!fallback) {
                    config offline = cfg;
                    offline.tts.backend = tts_backend::offline;
                    fallback = make_tts(offline, &error);
                }
                if (fallback) *slot = synthesize_16k(*fallback, *text, &error);
            }
        }
        log(log_level::debug, "prompts synthesized in " +
                                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                     std::chrono::steady_clock::now() - t0)
                                                     .count()) +
                                  " ms");
    }

    // The per-turn JSON log.
    std::function<void(const std::string&)> turn_log;
    FILE* turn_file = nullptr;
    if (cfg.agent.turn_log == "-") {
        turn_log = [](const std::string& line) {
            std::lock_guard lock(log_mutex);
            std::printf("%s\n", line.c_str());
        };
    } else if (!cfg.agent.turn_log.empty()) {
        turn_file = std::fopen(cfg.agent.turn_log.c_str(), "a");
        if (turn_file == nullptr) {
            std::fprintf(stderr, "sipvoice-agent: agent.turn_log: cannot open %s\n", cfg.agent.turn_log.c_str());
            return 1;
        }
        turn_log = [turn_file](const std::string& line) {
            std::fprintf(turn_file, "%s\n", line.c_str());
            std::fflush(turn_file);
        };
    }

    auto workers = std::make_shared<worker_group>();
    conversation_env env;
    env.cfg = &cfg;
    env.stt = stt;
    env.thinker = brain;
    env.tts = tts;
    env.tools = tools;
    env.prompts = prompts;
    env.workers = workers;
    env.turn_log = turn_log;
    env.log = log;

    int rc = 0;
    {
        agent_app app(io, cfg, env, reminders);
        if (auto ec = app.start()) {
            std::fprintf(stderr, "sipvoice-agent: cannot listen on %s:%lld: %s\n", cfg.sip.listen_address.c_str(),
                         static_cast<long long>(cfg.sip.listen_port), ec.message().c_str());
            return 1;
        }
        std::printf("listening udp=%s:%u tcp=%s:%u mode=%s stt=%s llm=%s tts=%s\n", cfg.sip.listen_address.c_str(),
                    app.udp_port(), cfg.sip.listen_address.c_str(), app.tcp_port(), std::string(to_string(cfg.sip.mode)).c_str(),
                    std::string(to_string(cfg.stt.backend)).c_str(), std::string(to_string(cfg.llm.backend)).c_str(),
                    std::string(to_string(cfg.tts.backend)).c_str());
        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](std::error_code ec, int sig) {
            if (ec) return;
            log(log_level::info, std::string("signal ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ": ending calls");
            app.shutdown([&io] { io.stop(); });
            // A second signal stops at once.
            signals.async_wait([&io](std::error_code e, int) {
                if (!e) io.stop();
            });
        });
        io.run();
        // Turns still in flight were cancelled with their calls; their threads post into `io`, so
        // they must be done before it goes.
        if (!workers->wait_idle(std::chrono::milliseconds(3000)))
            log(log_level::warn, std::to_string(workers->running()) + " backend request(s) still running at exit");
    }
    if (turn_file != nullptr) std::fclose(turn_file);
    log(log_level::info, "stopped");
    return rc;
}
