// sipvoice-agent: the phone voice assistant (issue 5). What exists so far is its configuration:
// agent.toml, a .env beside it and the environment, validated and shown by --check-config. The
// conversation itself (SIP, turn-taking, STT, LLM, TTS) is not written yet, and the program says so.
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "config.hpp"

namespace {

constexpr const char* usage = R"(usage: sipvoice-agent [--config FILE] [--check-config]

The phone voice assistant built on libsipvoice.

  --config FILE    the configuration (TOML; default: ./agent.toml when it exists). A .env file
                   beside it (KEY=VALUE lines) is read too; variables of the real environment win
                   over both. Every key has an environment variable: [sip] registrar is
                   SIP_REGISTRAR, [llm] model is LLM_MODEL, ... (see agent.example.toml).
  --check-config   validate the configuration, print every key with its value and where it
                   came from (secrets masked), and exit 0; exit 2 on an error.
  -h, --help       this text.

Exit status: 0 configuration valid (--check-config); 1 the conversation is not implemented yet;
2 configuration or usage error (one line per problem on standard error).
)";

}  // namespace

int main(int argc, char** argv) {
    using namespace sipvoice::agent;
    std::optional<std::string> config_path;
    bool check_only = false;
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
        } else {
            std::fprintf(stderr, "sipvoice-agent: unknown option '%s'\n", argv[i]);
            std::fputs(usage, stderr);
            return 2;
        }
    }

    const auto read = read_sources({config_path, process_environment()});
    for (const auto& e : read.errors) std::fprintf(stderr, "%s\n", e.c_str());
    if (!read.errors.empty()) return 2;

    const auto result = load_config(read.sources);
    for (const auto& w : result.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    for (const auto& e : result.errors) std::fprintf(stderr, "%s\n", e.c_str());
    if (!result.ok()) return 2;

    const std::string file = read.sources.file_name.empty() ? "none (defaults)" : read.sources.file_name;
    const std::string dotenv = read.sources.dotenv_name.empty() ? "none" : read.sources.dotenv_name;
    if (check_only) {
        std::printf("# sipvoice-agent: configuration valid (config: %s, .env: %s)\n\n%s", file.c_str(),
                    dotenv.c_str(), format_effective(result).c_str());
        return 0;
    }
    std::fprintf(stderr,
                 "sipvoice-agent: the configuration is valid (config: %s), but the conversation (answering "
                 "calls, speech recognition, the model, speech synthesis) is not implemented yet.\n"
                 "Run with --check-config to see the effective configuration.\n",
                 file.c_str());
    return 1;
}
