// fuzz_agent_config: sipvoice-agent's configuration loader on arbitrary text: agent.toml (through
// toml++), the .env beside it and environment variables, with every check across keys.
//
// Input: the text up to the first NUL is agent.toml, up to the second the .env, and the rest is
// environment lines (NAME=VALUE, one per line).
//
// Properties: load_config never throws and never crashes; a valid result has no errors and every key
// has an origin; an invalid one has at least one error line, each a single non-empty line; a valid
// configuration formats (--check-config) and mask_secret never shows more than the last 4
// characters of a secret.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sipvoice::agent;
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto first = in.find('\0');
    const auto second = first == std::string_view::npos ? first : in.find('\0', first + 1);
    config_sources src;
    src.file_name = "agent.toml";
    src.file_text = std::string(in.substr(0, first));
    if (first != std::string_view::npos) {
        src.dotenv_name = ".env";
        src.dotenv_text = std::string(in.substr(first + 1, second == std::string_view::npos ? std::string_view::npos : second - first - 1));
    }
    if (second != std::string_view::npos) {
        std::string_view env = in.substr(second + 1);
        while (!env.empty()) {
            const auto nl = env.find('\n');
            const auto line = env.substr(0, nl);
            const auto eq = line.find('=');
            if (eq != std::string_view::npos && eq > 0) src.env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
            if (nl == std::string_view::npos) break;
            env.remove_prefix(nl + 1);
        }
    }
    const auto r = load_config(src);
    if (r.ok()) {
        for (const auto& k : keys()) FUZZ_CHECK(r.origins.count(std::string(k.name)) == 1);
        FUZZ_CHECK(!format_effective(r).empty());
    } else {
        for (const auto& e : r.errors) FUZZ_CHECK(!e.empty() && e.find('\n') == std::string::npos);
    }
    const std::string secret(in.substr(0, std::min<std::size_t>(in.size(), 40)));
    const std::string masked = mask_secret(secret);
    FUZZ_CHECK(masked.size() <= 3 + 4);
    return 0;
}
