// sipvoice-agent's configuration (examples/agent/config.hpp): defaults, agent.toml, .env and the
// environment in their order of precedence, one exact error line per kind of mistake, masking of
// secrets, and agent.example.toml documenting every key.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "config.hpp"

using namespace sipvoice::agent;

namespace {

load_result load(std::string toml, std::map<std::string, std::string> env = {}, std::string dotenv = "") {
    config_sources s;
    s.file_name = "agent.toml";
    s.file_text = std::move(toml);
    if (!dotenv.empty()) {
        s.dotenv_name = ".env";
        s.dotenv_text = std::move(dotenv);
    }
    s.env = std::move(env);
    return load_config(s);
}

// The single error of a result (and a readable failure when there are none or several).
std::string only_error(const load_result& r) {
    INFO("errors: " << r.errors.size());
    for (const auto& e : r.errors) INFO(e);
    REQUIRE(r.errors.size() == 1);
    return r.errors.front();
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("agent config: no file and no environment is a valid offline configuration", "[agent]") {
    const auto r = load_config({});
    REQUIRE(r.ok());
    const auto& c = r.cfg;
    CHECK(c.sip.mode == sip_mode::trunk);  // no registrar: answer calls from the allow-list
    CHECK(c.sip.transport == sip_transport::udp);
    CHECK(c.sip.allow == std::vector<std::string>{"127.0.0.1", "::1"});
    CHECK(c.sip.listen_port == 5060);
    CHECK(c.calls.idle_prompt_after == 5);
    CHECK(c.vad.end_of_turn_silence == 0.5);
    CHECK(c.vad.end_of_turn_silence < 0.8);
    CHECK(c.stt.backend == stt_backend::offline);
    CHECK(c.llm.backend == llm_backend::offline);
    CHECK(c.tts.backend == tts_backend::offline);
    CHECK(c.tts.sample_rate == 24000);
    CHECK(c.agent.level == log_level::info);
    REQUIRE(r.origins.size() == keys().size());
    for (const auto& [key, o] : r.origins) CHECK(o.kind == origin::default_value);
    CHECK(r.warnings.empty());
}

TEST_CASE("agent config: values from the file, with their line", "[agent]") {
    const auto r = load(R"([sip]
registrar = "sip:pbx.example.com;transport=tcp"
user = "1002"
auth_user = "auth1002"
password = "s3cret"
expires = 300
allow = ["192.0.2.10", "10.0.0.0/8"]

[calls]
max_concurrent = 2
idle_prompt_after = 7.5
barge_in = false

[vad]
end_of_turn_silence = 0.35

[llm]
backend = "http_brain"
url = "http://127.0.0.1:8123/brain"
max_tool_rounds = 2

[agent]
log_level = "debug"
)");
    REQUIRE(r.ok());
    const auto& c = r.cfg;
    CHECK(c.sip.registrar == "sip:pbx.example.com;transport=tcp");
    CHECK(c.sip.user == "1002");
    CHECK(c.sip.auth_user == "auth1002");
    CHECK(c.sip.password == "s3cret");
    CHECK(c.sip.expires == 300);
    CHECK(c.sip.allow == std::vector<std::string>{"192.0.2.10", "10.0.0.0/8"});
    CHECK(c.sip.mode == sip_mode::registered);        // a registrar and no mode: register
    CHECK(c.sip.transport == sip_transport::tcp);     // from the registrar's ;transport=tcp
    CHECK(c.calls.max_concurrent == 2);
    CHECK(c.calls.idle_prompt_after == 7.5);
    CHECK_FALSE(c.calls.barge_in);
    CHECK(c.vad.end_of_turn_silence == 0.35);
    CHECK(c.llm.backend == llm_backend::http_brain);
    CHECK(c.llm.url == "http://127.0.0.1:8123/brain");
    CHECK(c.llm.max_tool_rounds == 2);
    CHECK(c.agent.level == log_level::debug);
    CHECK(r.origins.at("sip.user").kind == origin::file);
    CHECK(r.origins.at("sip.user").where == "agent.toml:3");
    CHECK(r.origins.at("agent.log_level").where == "agent.toml:23");
    CHECK(r.origins.at("sip.mode").kind == origin::default_value);
    CHECK(r.origins.at("stt.model").kind == origin::default_value);
}

TEST_CASE("agent config: a bare registrar host becomes a sip: URI; sips: means TLS", "[agent]") {
    auto r = load("[sip]\nregistrar = \"pbx.example.com:5070\"\nuser = \"1\"\n");
    REQUIRE(r.ok());
    CHECK(r.cfg.sip.registrar == "sip:pbx.example.com:5070");
    r = load("[sip]\nregistrar = \"sips:pbx.example.com\"\nuser = \"1\"\n");
    REQUIRE(r.ok());
    CHECK(r.cfg.sip.transport == sip_transport::tls);
}

TEST_CASE("agent config: the environment overrides the file", "[agent]") {
    const auto r = load("[sip]\nregistrar = \"sip:a.example.com\"\nuser = \"1001\"\n[llm]\nmodel = \"from-file\"\n",
                        {{"SIP_USER", "2002"}, {"LLM_MODEL", "llama3"}, {"SIP_ALLOW", "192.0.2.1, 192.0.2.2"},
                         {"CALLS_BARGE_IN", "no"}, {"VAD_MIN_SPEECH", "0.3"}, {"HOME", "/root"}});
    REQUIRE(r.ok());
    CHECK(r.cfg.sip.user == "2002");
    CHECK(r.cfg.sip.registrar == "sip:a.example.com");
    CHECK(r.cfg.llm.model == "llama3");
    CHECK(r.cfg.sip.allow == std::vector<std::string>{"192.0.2.1", "192.0.2.2"});
    CHECK_FALSE(r.cfg.calls.barge_in);
    CHECK(r.cfg.vad.min_speech == 0.3);
    CHECK(r.origins.at("sip.user").kind == origin::env);
    CHECK(r.origins.at("sip.user").where == "SIP_USER");
    CHECK(r.origins.at("sip.registrar").kind == origin::file);
}

TEST_CASE("agent config: .env overrides the file but never the real environment", "[agent]") {
    const auto r = load("[sip]\nuser = \"from-file\"\nregistrar = \"sip:pbx\"\n",
                        {{"SIP_PASSWORD", "from-env"}},
                        "# comment\n"
                        "SIP_USER=from-dotenv\n"
                        "export SIP_PASSWORD='from-dotenv'\n"
                        "TTS_VOICE=\"nova \\\"quoted\\\"\"\n"
                        "LLM_MODEL=qwen2.5 # inline comment\n"
                        "\n"
                        "UNRELATED_TOOL_SETTING=whatever\n");
    REQUIRE(r.ok());
    CHECK(r.cfg.sip.user == "from-dotenv");
    CHECK(r.cfg.sip.password == "from-env");
    CHECK(r.cfg.tts.voice == "nova \"quoted\"");
    CHECK(r.cfg.llm.model == "qwen2.5");
    CHECK(r.origins.at("sip.user").kind == origin::dotenv);
    CHECK(r.origins.at("sip.user").where == ".env:2 SIP_USER");
    CHECK(r.origins.at("sip.password").kind == origin::env);
}

TEST_CASE("agent config: a malformed .env value hidden by the real environment is no error", "[agent]") {
    const auto r = load("", {{"SIP_TRANSPORT", "tcp"}}, "SIP_TRANSPORT=ftp\n");
    REQUIRE(r.ok());
    CHECK(r.cfg.sip.transport == sip_transport::tcp);
}

TEST_CASE("agent config: OPENAI_BASE_URL and OPENAI_API_KEY fill the stages' own keys", "[agent]") {
    const std::string toml = "[stt]\nbackend = \"openai\"\n[llm]\nbackend = \"openai\"\nbase_url = \"http://127.0.0.1:11434/v1\"\n"
                             "[tts]\nbackend = \"openai\"\n";
    const auto r = load(toml, {{"OPENAI_BASE_URL", "https://api.openai.com/v1"},
                               {"OPENAI_API_KEY", "sk-test-0123456789abcdef"},
                               {"TTS_BASE_URL", "http://127.0.0.1:8880"}});
    REQUIRE(r.ok());
    CHECK(r.cfg.stt.base_url == "https://api.openai.com/v1");
    CHECK(r.origins.at("stt.base_url").where == "OPENAI_BASE_URL");
    CHECK(r.cfg.llm.base_url == "http://127.0.0.1:11434/v1");  // the file's own key wins over the fallback
    CHECK(r.cfg.tts.base_url == "http://127.0.0.1:8880");      // so does the stage's own variable
    CHECK(r.cfg.stt.api_key == "sk-test-0123456789abcdef");
    CHECK(r.cfg.llm.api_key == "sk-test-0123456789abcdef");
    CHECK(r.origins.at("llm.api_key").where == "OPENAI_API_KEY");

    const auto d = load(toml, {}, "OPENAI_BASE_URL=http://localhost:8000\n");
    REQUIRE(d.ok());
    CHECK(d.cfg.stt.base_url == "http://localhost:8000");
    CHECK(d.origins.at("stt.base_url").where == ".env:1 OPENAI_BASE_URL");
    CHECK(d.cfg.stt.api_key.empty());  // a local server needs no key

    // An empty value in the file (a copy of agent.example.toml) is filled by the fallback too.
    const auto e = load("[stt]\nbackend = \"openai\"\nbase_url = \"\"\napi_key = \"\"\n",
                        {{"OPENAI_BASE_URL", "http://127.0.0.1:8000"}, {"OPENAI_API_KEY", "sk-x"}});
    REQUIRE(e.ok());
    CHECK(e.cfg.stt.base_url == "http://127.0.0.1:8000");
    CHECK(e.cfg.stt.api_key == "sk-x");
    CHECK(e.origins.at("stt.api_key").where == "OPENAI_API_KEY");
}

TEST_CASE("agent config: each kind of mistake is one line naming the key", "[agent]") {
    SECTION("unknown key, with the closest one") {
        CHECK(only_error(load("[sip]\nregistar = \"sip:pbx\"\n")) ==
              "agent.toml:2: unknown key 'sip.registar' (did you mean 'sip.registrar'?)");
    }
    SECTION("unknown key with nothing close") {
        CHECK(only_error(load("[sip]\nfavourite_colour = \"blue\"\n")) ==
              "agent.toml:2: unknown key 'sip.favourite_colour'");
    }
    SECTION("a key outside its table") {
        CHECK(only_error(load("language = \"de\"\n")) ==
              "agent.toml:1: unknown key 'language' (did you mean 'agent.language'?)");
    }
    SECTION("unknown table") {
        CHECK(only_error(load("[stt]\nmodel = \"x\"\n[sipp]\nuser = \"1\"\n")) ==
              "agent.toml:3: unknown table 'sipp' (did you mean 'sip'?)");
    }
    SECTION("wrong type") {
        CHECK(only_error(load("[sip]\nexpires = \"600\"\n")) ==
              "agent.toml:2: sip.expires: expected an integer, got a string");
        CHECK(only_error(load("[calls]\nbarge_in = \"yes\"\n")) ==
              "agent.toml:2: calls.barge_in: expected true or false, got a string");
        CHECK(only_error(load("[sip]\nallow = \"127.0.0.1\"\n")) ==
              "agent.toml:2: sip.allow: expected an array of strings, got a string");
        CHECK(only_error(load("[sip]\nallow = [\"127.0.0.1\", 5]\n")) ==
              "agent.toml:2: sip.allow: expected an array of strings, got an integer in it");
        CHECK(only_error(load("sip = 5\n")) == "agent.toml:1: 'sip' must be a table ([sip]), got an integer");
    }
    SECTION("out of range") {
        CHECK(only_error(load("[sip]\nexpires = 5\n")) == "agent.toml:2: sip.expires = 5: must be between 30 and 86400");
        CHECK(only_error(load("[vad]\nend_of_turn_silence = 0.01\n")) ==
              "agent.toml:2: vad.end_of_turn_silence = 0.01: must be between 0.1 and 5");
        CHECK(only_error(load("[tts]\nsample_rate = 96000\n")) ==
              "agent.toml:2: tts.sample_rate = 96000: must be between 8000 and 48000");
    }
    SECTION("not one of the choices") {
        CHECK(only_error(load("[sip]\ntransport = \"ftp\"\n")) ==
              "agent.toml:2: sip.transport = \"ftp\": must be udp, tcp or tls");
        CHECK(only_error(load("[llm]\nbackend = \"gpt\"\n")) ==
              "agent.toml:2: llm.backend = \"gpt\": must be offline, openai or http_brain");
    }
    SECTION("malformed values of a key's own kind") {
        CHECK(only_error(load("[sip]\nregistrar = \"http://pbx.example.com\"\n")) ==
              "agent.toml:2: sip.registrar = \"http://pbx.example.com\": must be a sip: or sips: URI, or a host name");
        CHECK(only_error(load("[stt]\nbase_url = \"api.openai.com\"\n")) ==
              "agent.toml:2: stt.base_url = \"api.openai.com\": must be an http:// or https:// URL");
        CHECK(only_error(load("[sip]\nlisten_address = \"localhost\"\n")) ==
              "agent.toml:2: sip.listen_address = \"localhost\": must be an IPv4 or IPv6 address (0.0.0.0 or :: for all)");
        CHECK(only_error(load("[sip]\ndns_server = \"dns.example.com\"\n")) ==
              "agent.toml:2: sip.dns_server = \"dns.example.com\": must be an IP address, IP:PORT or [IPv6]:PORT");
        CHECK(only_error(load("", {{"SIP_DNS_SERVER", "127.0.0.1:99999"}})) ==
              "SIP_DNS_SERVER=127.0.0.1:99999: must be an IP address, IP:PORT or [IPv6]:PORT");
        CHECK(load("[sip]\ndns_server = \"127.0.0.1:5353\"\n").cfg.sip.dns_server == "127.0.0.1:5353");
        CHECK(only_error(load("[sip]\nallow = [\"10.0.0.0/33\"]\n")) ==
              "agent.toml:2: sip.allow = [\"10.0.0.0/33\"]: '10.0.0.0/33' is not an IP address or prefix (like "
              "192.0.2.10 or 10.0.0.0/8)");
    }
    SECTION("malformed TOML") {
        const auto e = only_error(load("[sip]\nuser = \"1002\n"));
        CHECK(e.starts_with("agent.toml:2:"));
        CHECK(e.find('\n') == std::string::npos);
    }
    SECTION("malformed environment values") {
        CHECK(only_error(load("", {{"SIP_TRANSPORT", "ftp"}})) == "SIP_TRANSPORT=ftp: must be udp, tcp or tls");
        CHECK(only_error(load("", {{"SIP_EXPIRES", "ten"}})) == "SIP_EXPIRES=ten: must be an integer");
        CHECK(only_error(load("", {{"CALLS_MAX_DURATION", "1h"}})) == "CALLS_MAX_DURATION=1h: must be a number");
        CHECK(only_error(load("", {{"CALLS_BARGE_IN", "maybe"}})) == "CALLS_BARGE_IN=maybe: must be true or false");
        CHECK(only_error(load("", {{"SIP_LISTEN_PORT", "70000"}})) ==
              "SIP_LISTEN_PORT=70000: must be between 0 and 65535");
        CHECK(only_error(load("", {{"OPENAI_BASE_URL", "localhost:8000"}, {"STT_BACKEND", "openai"}})) ==
              "OPENAI_BASE_URL=localhost:8000: must be an http:// or https:// URL");
    }
    SECTION("mistakes in .env") {
        CHECK(only_error(load("", {}, "SIP_USER=1\nSIP_REGISTAR=sip:pbx\n")) ==
              ".env:2: unknown variable 'SIP_REGISTAR' (did you mean 'SIP_REGISTRAR'?)");
        CHECK(only_error(load("", {}, "SIP_TRANSPORT=ftp\n")) == ".env:1: SIP_TRANSPORT=ftp: must be udp, tcp or tls");
        CHECK(only_error(load("", {}, "just some words\n")) == ".env:1: expected KEY=VALUE");
        CHECK(only_error(load("", {}, "SIP_USER=\"1002\n")) == ".env:1: SIP_USER: unterminated or malformed quoted value");
    }
}

TEST_CASE("agent config: several mistakes are several lines, in file order", "[agent]") {
    const auto r = load("[sip]\ntransport = \"ftp\"\nexpires = 1\n[calls]\nmax_concurent = 3\n");
    REQUIRE(r.errors.size() == 3);
    CHECK(r.errors[0].starts_with("agent.toml:2: sip.transport"));
    CHECK(r.errors[1].starts_with("agent.toml:3: sip.expires"));
    CHECK(r.errors[2] == "agent.toml:5: unknown key 'calls.max_concurent' (did you mean 'calls.max_concurrent'?)");
}

TEST_CASE("agent config: checks across keys", "[agent]") {
    SECTION("register needs a registrar and a user") {
        const auto r = load("[sip]\nmode = \"register\"\n");
        REQUIRE(r.errors.size() == 2);
        CHECK(r.errors[0] == "agent.toml:2: sip.mode = \"register\" needs sip.registrar (SIP_REGISTRAR)");
        CHECK(r.errors[1] == "agent.toml:2: sip.mode = \"register\" needs sip.user (SIP_USER)");
    }
    SECTION("a registrar without a user") {
        CHECK(only_error(load("", {{"SIP_REGISTRAR", "sip:pbx.example.com"}})) ==
              "sip.mode = \"register\" needs sip.user (SIP_USER)");
    }
    SECTION("trunk mode needs peers") {
        CHECK(only_error(load("[sip]\nallow = []\n")) ==
              "agent.toml:2: sip.allow is empty: in trunk mode it lists the peers that may send INVITEs");
    }
    SECTION("an explicit trunk ignores the registrar") {
        const auto r = load("[sip]\nmode = \"trunk\"\nregistrar = \"sip:pbx\"\n");
        REQUIRE(r.ok());
        CHECK(r.cfg.sip.mode == sip_mode::trunk);
    }
    SECTION("openai stages need a base_url; the API key may be empty") {
        CHECK(only_error(load("", {{"STT_BACKEND", "openai"}})) ==
              "STT_BACKEND: stt.backend = \"openai\" needs stt.base_url (STT_BASE_URL or OPENAI_BASE_URL), e.g. "
              "https://api.openai.com/v1");
        CHECK(only_error(load("[tts]\nbackend = \"openai\"\n")) ==
              "agent.toml:2: tts.backend = \"openai\" needs tts.base_url (TTS_BASE_URL or OPENAI_BASE_URL), e.g. "
              "https://api.openai.com/v1");
        CHECK(load("", {{"LLM_BACKEND", "openai"}, {"LLM_BASE_URL", "http://127.0.0.1:8080"}}).ok());
    }
    SECTION("http_brain needs its URL") {
        CHECK(only_error(load("[llm]\nbackend = \"http_brain\"\n")) ==
              "agent.toml:2: llm.backend = \"http_brain\" needs llm.url (LLM_URL)");
    }
    SECTION("a transport that contradicts the registrar URI") {
        CHECK(only_error(load("[sip]\nregistrar = \"sip:pbx;transport=tcp\"\nuser = \"1\"\n", {{"SIP_TRANSPORT", "udp"}})) ==
              "SIP_TRANSPORT: sip.transport = \"udp\" contradicts sip.registrar \"sip:pbx;transport=tcp\"");
    }
    SECTION("silence threshold above the speech threshold") {
        CHECK(only_error(load("[vad]\nsilence_threshold_db = 20\n")) ==
              "agent.toml:2: vad.silence_threshold_db = 20 must not exceed vad.speech_threshold_db = 12");
    }
}

TEST_CASE("agent config: an unknown variable of ours in the environment is a warning", "[agent]") {
    const auto r = load("", {{"SIP_REGISTAR", "sip:pbx"}, {"OPENAI_ORGANIZATION", "org"}, {"PATH", "/bin"}});
    REQUIRE(r.ok());
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0] ==
          "environment variable SIP_REGISTAR is not a sipvoice-agent setting (did you mean 'SIP_REGISTRAR'?); ignored");
}

TEST_CASE("agent config: secrets are masked in the effective configuration", "[agent]") {
    CHECK(mask_secret("") == "");
    CHECK(mask_secret("hunter2") == "***");
    CHECK(mask_secret("sk-proj-abcdefghijklmnopWXYZ") == "***WXYZ");

    const auto r = load("[sip]\nregistrar = \"sip:pbx.example.com\"\nuser = \"1002\"\npassword = \"averylongpassword1234\"\n",
                        {{"OPENAI_API_KEY", "sk-proj-abcdefghijklmnopWXYZ"}});
    REQUIRE(r.ok());
    const std::string out = format_effective(r);
    CHECK(out.find("averylongpassword") == std::string::npos);
    CHECK(out.find("1234") == std::string::npos);  // a password shows not even its end
    CHECK(out.find("abcdefghijklmnop") == std::string::npos);
    CHECK(out.find("password = \"***\"") != std::string::npos);
    CHECK(out.find("api_key = \"***WXYZ\"") != std::string::npos);
    CHECK(out.find("# env OPENAI_API_KEY") != std::string::npos);
    CHECK(out.find("# file agent.toml:3") != std::string::npos);
    CHECK(out.find("[sip]\nregistrar = \"sip:pbx.example.com\"") != std::string::npos);
    for (const auto& k : keys()) {
        const auto dot = k.name.find('.');
        CHECK(out.find("\n" + std::string(k.name.substr(dot + 1)) + " = ") != std::string::npos);
    }
    // The output is TOML again: fed back in, it gives the same configuration (secrets aside).
    const auto again = load(out);
    REQUIRE(again.ok());
    CHECK(again.cfg.sip.user == "1002");
    CHECK(again.cfg.sip.mode == sip_mode::registered);
}

TEST_CASE("agent config: every key has one environment variable, SECTION_KEY", "[agent]") {
    std::set<std::string> seen;
    for (const auto& k : keys()) {
        std::string want(k.name);
        std::replace(want.begin(), want.end(), '.', '_');
        std::transform(want.begin(), want.end(), want.begin(), [](unsigned char ch) { return std::toupper(ch); });
        CHECK(k.env == want);
        CHECK(seen.insert(std::string(k.env)).second);
    }
    for (const auto& name : {"SIP_REGISTRAR", "SIP_TRANSPORT", "SIP_USER", "SIP_AUTH_USER", "SIP_PASSWORD",
                             "STT_MODEL", "LLM_MODEL", "TTS_MODEL", "TTS_VOICE"})
        CHECK(seen.contains(name));
}

TEST_CASE("agent config: agent.example.toml parses and documents every key", "[agent]") {
    const std::string text = slurp(SIPVOICE_AGENT_EXAMPLE);
    REQUIRE(!text.empty());
    config_sources s;
    s.file_name = "agent.example.toml";
    s.file_text = text;
    const auto r = load_config(s);
    for (const auto& e : r.errors) INFO(e);
    REQUIRE(r.ok());
    // Its values are the defaults.
    const auto defaults = load_config({});
    CHECK(format_effective(r).size() > 0);
    CHECK(r.cfg.llm.system_prompt == defaults.cfg.llm.system_prompt);
    CHECK(r.cfg.calls.greeting == defaults.cfg.calls.greeting);
    CHECK(r.cfg.sip.allow == defaults.cfg.sip.allow);
    CHECK(r.cfg.vad.end_of_turn_silence == defaults.cfg.vad.end_of_turn_silence);
    // Every key appears in its table (set, or commented out), next to its environment variable.
    for (const auto& k : keys()) {
        const auto dot = k.name.find('.');
        const std::string section = "[" + std::string(k.name.substr(0, dot)) + "]";
        const std::string key = std::string(k.name.substr(dot + 1)) + " = ";
        const auto at = text.find("\n" + section + "\n");
        INFO(k.name);
        REQUIRE(at != std::string::npos);
        const auto next = text.find("\n[", at + 1);
        const std::string body = text.substr(at, next == std::string::npos ? std::string::npos : next - at);
        CHECK((body.find("\n" + key) != std::string::npos || body.find("\n# " + key) != std::string::npos));
        CHECK(body.find(std::string(k.env)) != std::string::npos);
    }
}

TEST_CASE("agent config: helpers", "[agent]") {
    CHECK(edit_distance("registar", "registrar") == 1);
    CHECK(edit_distance("", "abc") == 3);
    CHECK(edit_distance("kitten", "sitting") == 3);
    CHECK(endpoint("https://api.openai.com/v1", "chat/completions") == "https://api.openai.com/v1/chat/completions");
    CHECK(endpoint("http://127.0.0.1:8000/", "/audio/speech") == "http://127.0.0.1:8000/v1/audio/speech");
    CHECK(to_string(sip_mode::registered) == "register");
    CHECK(to_string(llm_backend::http_brain) == "http_brain");
}

TEST_CASE("agent config: the tools' keys, each mistake one line naming the key", "[agent]") {
    const auto ok = load("[tools]\ntimezone = \"Europe/Berlin\"\ntransfer_target = \"100\"\n[weather]\n"
                         "base_url = \"https://api.open-meteo.com\"\nlatitude = 52.52\nlongitude = 13.41\n"
                         "[home_assistant]\nbase_url = \"http://ha.local:8123\"\ntoken = \"abcdefgh12345678\"\n"
                         "entities = [\"light.kitchen\", \"sensor.*\"]\n");
    for (const auto& e : ok.errors) INFO(e);
    REQUIRE(ok.ok());
    CHECK(ok.cfg.tools.timezone == "Europe/Berlin");
    CHECK(ok.cfg.weather.latitude == 52.52);
    CHECK(ok.cfg.home_assistant.entities == std::vector<std::string>{"light.kitchen", "sensor.*"});
    CHECK(format_effective(ok).find("abcdefgh12345678") == std::string::npos);  // the token is masked

    CHECK(only_error(load("[tools]\ntimezone = \"Mars/Olympus\"\n")).find("tools.timezone") != std::string::npos);
    CHECK(only_error(load("[tools]\ntimezone = \"../../etc/passwd\"\n")).find("tools.timezone") != std::string::npos);
    CHECK(only_error(load("[weather]\nlatitude = 91\n")).find("weather.latitude") != std::string::npos);
    CHECK(only_error(load("[weather]\nunits = \"kelvin\"\n")).find("weather.units") != std::string::npos);
    CHECK(only_error(load("[home_assistant]\nentities = [\"Light.Kitchen\"]\n")).find("home_assistant.entities") !=
          std::string::npos);
    CHECK(only_error(load("[home_assistant]\nbase_url = \"http://ha.local:8123\"\n")).find("home_assistant.token") !=
          std::string::npos);
    CHECK(only_error(load("[tools]\ndtmf_timeout = 0\n")).find("tools.dtmf_timeout") != std::string::npos);
    // The environment too; OPENAI_BASE_URL is no fallback for the weather's base_url.
    const auto env = load("", {{"TOOLS_DTMF_COLLECT", "true"}, {"HOME_ASSISTANT_SERVICES", "light.turn_on,light.turn_off"},
                               {"OPENAI_BASE_URL", "http://127.0.0.1:8000"}});
    REQUIRE(env.ok());
    CHECK(env.cfg.tools.dtmf_collect);
    CHECK(env.cfg.home_assistant.services == std::vector<std::string>{"light.turn_on", "light.turn_off"});
    CHECK(env.cfg.weather.base_url.empty());
    CHECK(only_error(load("", {{"WEATHER_UNITS", "kelvin"}})).find("WEATHER_UNITS") != std::string::npos);
}

TEST_CASE("agent config: sip.outbound and sip.instance_id (RFC 5626)", "[agent]") {
    auto r = load("[sip]\noutbound = true\ninstance_id = \"urn:uuid:00000000-0000-1000-8000-000a95a0e128\"\n");
    REQUIRE(r.ok());
    CHECK(r.cfg.sip.outbound);
    CHECK(r.cfg.sip.instance_id == "urn:uuid:00000000-0000-1000-8000-000a95a0e128");
    r = load("", {{"SIP_OUTBOUND", "true"}});
    REQUIRE(r.ok());
    CHECK(r.cfg.sip.outbound);
    CHECK(r.cfg.sip.instance_id.empty());
    CHECK(only_error(load("[sip]\ninstance_id = \"1234\"\n")) ==
          "agent.toml:2: sip.instance_id = \"1234\": '1234' is not a URN such as urn:uuid:00000000-0000-1000-8000-000000000000");
    CHECK(only_error(load("", {{"SIP_INSTANCE_ID", "urn:x\"y"}})).find("SIP_INSTANCE_ID") != std::string::npos);
}
