// sipvoice-agent's configuration: the typed settings, and where each value comes from.
//
// Precedence, lowest first: built-in defaults < agent.toml < `.env` beside it < the real environment.
// Every key of agent.toml has exactly one environment variable (`[sip] registrar` -> SIP_REGISTRAR);
// OPENAI_BASE_URL and OPENAI_API_KEY are fallbacks for the base_url and api_key of the three stages
// (used only where the stage's own value is empty after all the rest). The defaults need no key and no network:
// an empty configuration is a valid one (offline backends, a trunk listening for local calls).
//
// Loading never throws: every problem is one line in load_result::errors, naming the key (and the
// file line or the variable) it is about.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sipvoice::agent {

enum class sip_transport { udp, tcp, tls };
// registered: REGISTER as an extension with a PBX; trunk: no REGISTER, INVITEs accepted from the
// allow-list only.
enum class sip_mode { registered, trunk };
enum class stt_backend { offline, openai };
enum class llm_backend { offline, openai, http_brain };
enum class tts_backend { offline, openai };
enum class log_level { error, warn, info, debug, trace };

struct sip_settings {
    std::string registrar;  // sip:HOST[:PORT][;transport=...], sips:..., or a bare HOST[:PORT]
    sip_transport transport = sip_transport::udp;
    std::string user;
    std::string auth_user;  // empty: user
    std::string password;
    std::string domain;     // empty: the registrar's host
    std::int64_t expires = 600;
    // SIP Outbound (RFC 5626): register with reg-id and +sip.instance; a registrar that requires it
    // gets its flow kept alive at its Flow-Timer and a dead TCP/TLS flow noticed within 10 s.
    bool outbound = false;
    std::string instance_id;  // "urn:uuid:..."; empty: derived from /etc/machine-id and the AOR
    std::string listen_address = "0.0.0.0";
    std::int64_t listen_port = 5060;
    // Not set anywhere: registered when a registrar is configured, else trunk.
    sip_mode mode = sip_mode::trunk;
    std::vector<std::string> allow = {"127.0.0.1", "::1"};  // addresses or CIDR prefixes
    // The DNS server for SRV and address lookups of SIP domains (IP, IP:PORT, [IPv6]:PORT); empty:
    // /etc/resolv.conf's for SRV, the system's resolver for addresses.
    std::string dns_server;
};

struct call_settings {
    std::int64_t max_concurrent = 4;
    double max_duration = 600;      // seconds; 0: no limit
    double idle_prompt_after = 5;   // seconds of caller silence before the idle prompt
    double idle_hangup_after = 10;  // further seconds of silence after the prompt before goodbye
    bool barge_in = true;
    std::string greeting = "Hello, this is your voice assistant. How can I help you?";
    std::string idle_prompt = "Are you still there?";
    std::string goodbye = "Goodbye, and have a nice day.";
    std::string apology = "Sorry, something went wrong. Could you say that again?";
};

struct vad_settings {
    double speech_threshold_db = 12;   // above the noise floor: speech starts
    double silence_threshold_db = 6;   // below this above the noise floor: silence
    double end_of_turn_silence = 0.5;  // seconds of silence that end the caller's turn
    double min_speech = 0.2;           // seconds of speech before a turn starts (coughs, clicks)
    double early_silence = 0.12;       // seconds of silence that start the turn's work speculatively
};

struct stt_settings {
    stt_backend backend = stt_backend::offline;
    std::string base_url;  // the server's root or its /v1 address
    std::string api_key;
    std::string model = "whisper-1";
    std::string language;  // empty: agent.language
    double timeout = 10;
};

struct llm_settings {
    llm_backend backend = llm_backend::offline;
    std::string base_url;
    std::string api_key;
    std::string model = "gpt-4o-mini";
    std::string url;  // http_brain: the endpoint that receives {call_id, caller, text, history}
    std::string system_prompt =
        "You are a friendly voice assistant on a phone call. Your words are spoken aloud: answer in one "
        "to three short sentences, plain text only, no markdown, no lists, no emoji.";
    std::int64_t max_tool_rounds = 4;
    double timeout = 20;
};

struct tts_settings {
    tts_backend backend = tts_backend::offline;
    std::string base_url;
    std::string api_key;
    std::string model = "tts-1";
    std::string voice = "alloy";
    std::int64_t sample_rate = 24000;
    double timeout = 10;
};

// The tools (tools.hpp): what they may reach, and how outbound calls are placed.
struct tools_settings {
    std::string timezone;          // IANA name ("Europe/Berlin") for get_datetime and "at 7 pm"; empty: the system's
    std::string plugins_dir;       // a directory of plugins (plugins.hpp); empty: none
    std::string transfer_target;   // transfer_call's human: an extension ("100") or a SIP URI; empty: no transfer
    std::string transfer_fallback = "Sorry, I could not transfer you right now. Please call back later.";
    double ring_timeout = 30;      // seconds an outbound call (timer, callback) rings before it counts as no answer
    std::int64_t max_timers = 10;  // per caller
    bool dtmf_collect = false;     // collect keypad digits until # or dtmf_timeout, then hand them over at once
    double dtmf_timeout = 3;       // seconds after the last digit
};

// get_weather: an Open-Meteo-compatible forecast API. Empty base_url: the tool is not offered.
struct weather_settings {
    std::string base_url;          // "https://api.open-meteo.com"
    double latitude = 0;
    double longitude = 0;
    std::string location;          // spoken name ("Berlin"); empty: "here"
    std::string units = "metric";  // metric (Celsius, km/h) or imperial (Fahrenheit, mph)
    double timeout = 5;
};

// home_assistant: Home Assistant's REST API. Empty base_url: the tool is not offered.
struct home_assistant_settings {
    std::string base_url;                // "http://homeassistant.local:8123"
    std::string token;                   // a long-lived access token (secret)
    std::vector<std::string> entities;   // entity ids it may read or act on ("light.kitchen"); "domain.*" allowed
    std::vector<std::string> services;   // services it may call ("light.turn_on"); "domain.*" allowed
    double timeout = 5;
};

struct general_settings {
    std::string language = "en";
    log_level level = log_level::info;
    std::string turn_log;  // path of the JSON-lines turn log; empty: none, "-": standard output
};

struct config {
    sip_settings sip;
    call_settings calls;
    vad_settings vad;
    stt_settings stt;
    llm_settings llm;
    tts_settings tts;
    general_settings agent;
    tools_settings tools;
    weather_settings weather;
    home_assistant_settings home_assistant;
};

// Where a value came from.
enum class origin { default_value, file, dotenv, env };
struct value_origin {
    origin kind = origin::default_value;
    std::string where;  // "agent.toml:12", ".env:3 SIP_USER", "SIP_USER"; empty for a default
};

// What is read: the caller reads the files (see read_sources) or gives text directly (tests).
struct config_sources {
    std::string file_name;  // for messages; empty: no config file
    std::string file_text;
    std::string dotenv_name;  // empty: no .env
    std::string dotenv_text;
    std::map<std::string, std::string> env;  // the real environment
};

struct load_result {
    config cfg;
    std::map<std::string, value_origin> origins;  // by key name ("sip.registrar"), every key
    std::vector<std::string> errors;              // one line each; empty: the configuration is valid
    std::vector<std::string> warnings;            // e.g. an unknown SIP_* variable in the environment
    [[nodiscard]] bool ok() const { return errors.empty(); }
};

load_result load_config(const config_sources& sources);

// Reads the config file (explicit, or ./agent.toml when it exists) and the .env beside it (./.env
// without a config file). A file that cannot be read is an error in the result, not an exception.
struct source_files {
    std::optional<std::string> config_path;  // nullopt: ./agent.toml if present
    std::map<std::string, std::string> env;
};
struct read_outcome {
    config_sources sources;
    std::vector<std::string> errors;
};
read_outcome read_sources(const source_files& files);

// The process environment as a map (from environ).
std::map<std::string, std::string> process_environment();

// One line per key: name, value (secrets masked), origin; aligned. For --check-config.
std::string format_effective(const load_result& result);

// "***" for short secrets, "***" + the last 4 characters for long ones (API keys), "" for empty.
std::string mask_secret(std::string_view secret);

// The key table, for documentation checks: name, environment variable, whether it is secret.
struct key_info {
    std::string_view name;
    std::string_view env;
    std::string_view fallback_env;  // "" or OPENAI_BASE_URL / OPENAI_API_KEY
    bool secret;
};
std::span<const key_info> keys();

// {base_url}/v1/{path}, whether base_url is the server's root or already ends in /v1.
std::string endpoint(std::string_view base_url, std::string_view path);

std::string_view to_string(sip_transport v);
std::string_view to_string(sip_mode v);
std::string_view to_string(stt_backend v);
std::string_view to_string(llm_backend v);
std::string_view to_string(tts_backend v);
std::string_view to_string(log_level v);

// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace sipvoice::agent
