#include "config.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <toml++/toml.h>
#include <type_traits>
#include <variant>

#include "sipvoice/sip/uri.hpp"
#include "sipvoice/transport/dns.hpp"
#include "sipvoice/ua/user_agent.hpp"

extern char** environ;

namespace sipvoice::agent {
namespace {

// ---- the key table: one row per key; loading, checking, printing and the docs test all walk it.

using value = std::variant<std::string, std::int64_t, double, bool, std::vector<std::string>>;
enum class kind { string, integer, number, boolean, choice, list };
enum class secrecy { none, password, api_key };

// A key's own check of a string (or of each list item); may normalize it. Returns the complaint.
using check_fn = std::optional<std::string> (*)(std::string&);

struct spec {
    key_info info;
    kind type = kind::string;
    secrecy secret = secrecy::none;
    std::span<const std::string_view> choices{};
    double min = 0;
    double max = 0;
    check_fn check = nullptr;
    value (*get)(const config&) = nullptr;
    void (*set)(config&, const value&) = nullptr;
};

template <auto Section, auto Field>
auto& field(config& c) {
    return (c.*Section).*Field;
}
template <auto Section, auto Field>
const auto& field(const config& c) {
    return (c.*Section).*Field;
}
template <auto Section, auto Field>
value get_plain(const config& c) {
    return value{field<Section, Field>(c)};
}
template <auto Section, auto Field>
void set_plain(config& c, const value& v) {
    auto& f = field<Section, Field>(c);
    f = std::get<std::remove_cvref_t<decltype(f)>>(v);
}
template <auto Section, auto Field>
value get_enum(const config& c) {
    return value{static_cast<std::int64_t>(field<Section, Field>(c))};
}
template <auto Section, auto Field>
void set_enum(config& c, const value& v) {
    auto& f = field<Section, Field>(c);
    f = static_cast<std::remove_cvref_t<decltype(f)>>(std::get<std::int64_t>(v));
}

template <auto S, auto F>
spec text(std::string_view name, std::string_view env, check_fn check = nullptr) {
    return {{name, env, "", false}, kind::string, secrecy::none, {}, 0, 0, check, get_plain<S, F>, set_plain<S, F>};
}
template <auto S, auto F>
spec secret(std::string_view name, std::string_view env, secrecy how, std::string_view fallback = "") {
    return {{name, env, fallback, true}, kind::string, how, {}, 0, 0, nullptr, get_plain<S, F>, set_plain<S, F>};
}
template <auto S, auto F>
spec integer(std::string_view name, std::string_view env, std::int64_t min, std::int64_t max) {
    return {{name, env, "", false}, kind::integer, secrecy::none, {}, static_cast<double>(min),
            static_cast<double>(max), nullptr, get_plain<S, F>, set_plain<S, F>};
}
template <auto S, auto F>
spec number(std::string_view name, std::string_view env, double min, double max) {
    return {{name, env, "", false}, kind::number, secrecy::none, {}, min, max, nullptr, get_plain<S, F>, set_plain<S, F>};
}
template <auto S, auto F>
spec boolean(std::string_view name, std::string_view env) {
    return {{name, env, "", false}, kind::boolean, secrecy::none, {}, 0, 0, nullptr, get_plain<S, F>, set_plain<S, F>};
}
template <auto S, auto F>
spec choice(std::string_view name, std::string_view env, std::span<const std::string_view> choices) {
    return {{name, env, "", false}, kind::choice, secrecy::none, choices, 0, 0, nullptr, get_enum<S, F>, set_enum<S, F>};
}
template <auto S, auto F>
spec list(std::string_view name, std::string_view env, check_fn item_check) {
    return {{name, env, "", false}, kind::list, secrecy::none, {}, 0, 0, item_check, get_plain<S, F>, set_plain<S, F>};
}

// The order of each choice list is the enum's order.
constexpr std::array<std::string_view, 3> transports{"udp", "tcp", "tls"};
constexpr std::array<std::string_view, 2> modes{"register", "trunk"};
constexpr std::array<std::string_view, 2> stt_backends{"offline", "openai"};
constexpr std::array<std::string_view, 3> llm_backends{"offline", "openai", "http_brain"};
constexpr std::array<std::string_view, 2> tts_backends{"offline", "openai"};
constexpr std::array<std::string_view, 5> log_levels{"error", "warn", "info", "debug", "trace"};

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    return true;
}

std::optional<std::string> check_registrar(std::string& v) {
    if (v.empty()) return std::nullopt;
    const bool has_scheme = starts_with_nocase(v, "sip:") || starts_with_nocase(v, "sips:");
    if (!has_scheme && v.find(':') != std::string::npos && v.find("://") != std::string::npos)
        return "must be a sip: or sips: URI, or a host name";
    const std::string candidate = has_scheme ? v : "sip:" + v;
    auto uri = sip::parse_uri(candidate);
    if (!uri || !uri->is_sip() || uri->host.empty()) return "must be a sip: or sips: URI, or a host name";
    if (!has_scheme && uri->has_user) return "must be a sip: or sips: URI, or a host name";
    v = candidate;
    return std::nullopt;
}

std::optional<std::string> check_http_url(std::string& v) {
    if (v.empty()) return std::nullopt;
    const bool http = starts_with_nocase(v, "http://");
    const bool https = starts_with_nocase(v, "https://");
    const std::size_t host_at = http ? 7 : 8;
    if ((!http && !https) || v.size() <= host_at || v[host_at] == '/')
        return "must be an http:// or https:// URL";
    return std::nullopt;
}

bool is_ip_address(const std::string& s) {
    unsigned char buf[16];
    return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::optional<std::string> check_ip_address(std::string& v) {
    if (is_ip_address(v)) return std::nullopt;
    return "must be an IPv4 or IPv6 address (0.0.0.0 or :: for all)";
}

std::optional<std::string> check_dns_server(std::string& v) {
    if (v.empty() || sipvoice::transport::parse_name_server(v)) return std::nullopt;
    return "must be an IP address, IP:PORT or [IPv6]:PORT";
}

std::optional<std::string> check_allow_entry(std::string& v) {
    const auto slash = v.find('/');
    const std::string address = v.substr(0, slash);
    bool ok = is_ip_address(address);
    if (ok && slash != std::string::npos) {
        const std::string_view prefix = std::string_view(v).substr(slash + 1);
        int bits = -1;
        const auto [end, ec] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), bits);
        const int max_bits = address.find(':') != std::string::npos ? 128 : 32;
        ok = ec == std::errc{} && end == prefix.data() + prefix.size() && !prefix.empty() && bits >= 0 &&
             bits <= max_bits;
    }
    if (ok) return std::nullopt;
    return "'" + v + "' is not an IP address or prefix (like 192.0.2.10 or 10.0.0.0/8)";
}

// An IANA zone name that the system's tz database has (Debian: tzdata), so that TZ=<name> is not
// silently taken as UTC.
std::optional<std::string> check_timezone(std::string& v) {
    if (v.empty()) return std::nullopt;
    const bool shaped = v.find("..") == std::string::npos && v.front() != '/' &&
                        v.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") ==
                            std::string::npos;
    if (!shaped || access(("/usr/share/zoneinfo/" + v).c_str(), R_OK) != 0)
        return "'" + v + "' is not a time zone of /usr/share/zoneinfo (like Europe/Berlin or UTC)";
    return std::nullopt;
}

// "light.kitchen", "light.*": a Home Assistant entity id or service name, or a whole domain.
std::optional<std::string> check_ha_name(std::string& v) {
    const auto dot = v.find('.');
    auto part_ok = [](std::string_view p) {
        return !p.empty() && p.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string_view::npos;
    };
    if (dot != std::string::npos && part_ok(std::string_view(v).substr(0, dot)) &&
        (v.substr(dot + 1) == "*" || part_ok(std::string_view(v).substr(dot + 1))))
        return std::nullopt;
    return "'" + v + "' is not DOMAIN.NAME or DOMAIN.* (lower case letters, digits, _)";
}

// RFC 5626 §4.1: a URN, put between <...> inside a quoted Contact parameter.
std::optional<std::string> check_instance_id(std::string& v) {
    if (v.empty() || sipvoice::ua::valid_instance_id(v))
        return std::nullopt;
    return "'" + v + "' is not a URN such as urn:uuid:00000000-0000-1000-8000-000000000000";
}

std::optional<std::string> check_units(std::string& v) {
    if (v == "metric" || v == "imperial") return std::nullopt;
    return "must be \"metric\" or \"imperial\"";
}

const std::vector<spec>& table() {
    using c = config;
    static const std::vector<spec> rows = {
        text<&c::sip, &sip_settings::registrar>("sip.registrar", "SIP_REGISTRAR", check_registrar),
        choice<&c::sip, &sip_settings::transport>("sip.transport", "SIP_TRANSPORT", transports),
        text<&c::sip, &sip_settings::user>("sip.user", "SIP_USER"),
        text<&c::sip, &sip_settings::auth_user>("sip.auth_user", "SIP_AUTH_USER"),
        secret<&c::sip, &sip_settings::password>("sip.password", "SIP_PASSWORD", secrecy::password),
        text<&c::sip, &sip_settings::domain>("sip.domain", "SIP_DOMAIN"),
        integer<&c::sip, &sip_settings::expires>("sip.expires", "SIP_EXPIRES", 30, 86400),
        boolean<&c::sip, &sip_settings::outbound>("sip.outbound", "SIP_OUTBOUND"),
        text<&c::sip, &sip_settings::instance_id>("sip.instance_id", "SIP_INSTANCE_ID", check_instance_id),
        text<&c::sip, &sip_settings::listen_address>("sip.listen_address", "SIP_LISTEN_ADDRESS", check_ip_address),
        integer<&c::sip, &sip_settings::listen_port>("sip.listen_port", "SIP_LISTEN_PORT", 0, 65535),
        choice<&c::sip, &sip_settings::mode>("sip.mode", "SIP_MODE", modes),
        list<&c::sip, &sip_settings::allow>("sip.allow", "SIP_ALLOW", check_allow_entry),
        text<&c::sip, &sip_settings::dns_server>("sip.dns_server", "SIP_DNS_SERVER", check_dns_server),

        integer<&c::calls, &call_settings::max_concurrent>("calls.max_concurrent", "CALLS_MAX_CONCURRENT", 1, 10000),
        number<&c::calls, &call_settings::max_duration>("calls.max_duration", "CALLS_MAX_DURATION", 0, 86400),
        number<&c::calls, &call_settings::idle_prompt_after>("calls.idle_prompt_after", "CALLS_IDLE_PROMPT_AFTER", 1, 3600),
        number<&c::calls, &call_settings::idle_hangup_after>("calls.idle_hangup_after", "CALLS_IDLE_HANGUP_AFTER", 1, 3600),
        boolean<&c::calls, &call_settings::barge_in>("calls.barge_in", "CALLS_BARGE_IN"),
        text<&c::calls, &call_settings::greeting>("calls.greeting", "CALLS_GREETING"),
        text<&c::calls, &call_settings::idle_prompt>("calls.idle_prompt", "CALLS_IDLE_PROMPT"),
        text<&c::calls, &call_settings::goodbye>("calls.goodbye", "CALLS_GOODBYE"),
        text<&c::calls, &call_settings::apology>("calls.apology", "CALLS_APOLOGY"),

        number<&c::vad, &vad_settings::speech_threshold_db>("vad.speech_threshold_db", "VAD_SPEECH_THRESHOLD_DB", 1, 60),
        number<&c::vad, &vad_settings::silence_threshold_db>("vad.silence_threshold_db", "VAD_SILENCE_THRESHOLD_DB", 0, 60),
        number<&c::vad, &vad_settings::end_of_turn_silence>("vad.end_of_turn_silence", "VAD_END_OF_TURN_SILENCE", 0.1, 5),
        number<&c::vad, &vad_settings::min_speech>("vad.min_speech", "VAD_MIN_SPEECH", 0, 5),
        number<&c::vad, &vad_settings::early_silence>("vad.early_silence", "VAD_EARLY_SILENCE", 0, 5),

        choice<&c::stt, &stt_settings::backend>("stt.backend", "STT_BACKEND", stt_backends),
        text<&c::stt, &stt_settings::base_url>("stt.base_url", "STT_BASE_URL", check_http_url),
        secret<&c::stt, &stt_settings::api_key>("stt.api_key", "STT_API_KEY", secrecy::api_key, "OPENAI_API_KEY"),
        text<&c::stt, &stt_settings::model>("stt.model", "STT_MODEL"),
        text<&c::stt, &stt_settings::language>("stt.language", "STT_LANGUAGE"),
        number<&c::stt, &stt_settings::timeout>("stt.timeout", "STT_TIMEOUT", 0.1, 600),

        choice<&c::llm, &llm_settings::backend>("llm.backend", "LLM_BACKEND", llm_backends),
        text<&c::llm, &llm_settings::base_url>("llm.base_url", "LLM_BASE_URL", check_http_url),
        secret<&c::llm, &llm_settings::api_key>("llm.api_key", "LLM_API_KEY", secrecy::api_key, "OPENAI_API_KEY"),
        text<&c::llm, &llm_settings::model>("llm.model", "LLM_MODEL"),
        text<&c::llm, &llm_settings::url>("llm.url", "LLM_URL", check_http_url),
        text<&c::llm, &llm_settings::system_prompt>("llm.system_prompt", "LLM_SYSTEM_PROMPT"),
        integer<&c::llm, &llm_settings::max_tool_rounds>("llm.max_tool_rounds", "LLM_MAX_TOOL_ROUNDS", 0, 20),
        number<&c::llm, &llm_settings::timeout>("llm.timeout", "LLM_TIMEOUT", 0.1, 600),

        choice<&c::tts, &tts_settings::backend>("tts.backend", "TTS_BACKEND", tts_backends),
        text<&c::tts, &tts_settings::base_url>("tts.base_url", "TTS_BASE_URL", check_http_url),
        secret<&c::tts, &tts_settings::api_key>("tts.api_key", "TTS_API_KEY", secrecy::api_key, "OPENAI_API_KEY"),
        text<&c::tts, &tts_settings::model>("tts.model", "TTS_MODEL"),
        text<&c::tts, &tts_settings::voice>("tts.voice", "TTS_VOICE"),
        integer<&c::tts, &tts_settings::sample_rate>("tts.sample_rate", "TTS_SAMPLE_RATE", 8000, 48000),
        number<&c::tts, &tts_settings::timeout>("tts.timeout", "TTS_TIMEOUT", 0.1, 600),

        text<&c::agent, &general_settings::language>("agent.language", "AGENT_LANGUAGE"),
        choice<&c::agent, &general_settings::level>("agent.log_level", "AGENT_LOG_LEVEL", log_levels),
        text<&c::agent, &general_settings::turn_log>("agent.turn_log", "AGENT_TURN_LOG"),

        text<&c::tools, &tools_settings::timezone>("tools.timezone", "TOOLS_TIMEZONE", check_timezone),
        text<&c::tools, &tools_settings::plugins_dir>("tools.plugins_dir", "TOOLS_PLUGINS_DIR"),
        text<&c::tools, &tools_settings::transfer_target>("tools.transfer_target", "TOOLS_TRANSFER_TARGET"),
        text<&c::tools, &tools_settings::transfer_fallback>("tools.transfer_fallback", "TOOLS_TRANSFER_FALLBACK"),
        number<&c::tools, &tools_settings::ring_timeout>("tools.ring_timeout", "TOOLS_RING_TIMEOUT", 5, 300),
        integer<&c::tools, &tools_settings::max_timers>("tools.max_timers", "TOOLS_MAX_TIMERS", 0, 1000),
        boolean<&c::tools, &tools_settings::dtmf_collect>("tools.dtmf_collect", "TOOLS_DTMF_COLLECT"),
        number<&c::tools, &tools_settings::dtmf_timeout>("tools.dtmf_timeout", "TOOLS_DTMF_TIMEOUT", 0.5, 60),

        text<&c::weather, &weather_settings::base_url>("weather.base_url", "WEATHER_BASE_URL", check_http_url),
        number<&c::weather, &weather_settings::latitude>("weather.latitude", "WEATHER_LATITUDE", -90, 90),
        number<&c::weather, &weather_settings::longitude>("weather.longitude", "WEATHER_LONGITUDE", -180, 180),
        text<&c::weather, &weather_settings::location>("weather.location", "WEATHER_LOCATION"),
        text<&c::weather, &weather_settings::units>("weather.units", "WEATHER_UNITS", check_units),
        number<&c::weather, &weather_settings::timeout>("weather.timeout", "WEATHER_TIMEOUT", 0.1, 120),

        text<&c::home_assistant, &home_assistant_settings::base_url>("home_assistant.base_url", "HOME_ASSISTANT_BASE_URL",
                                                                     check_http_url),
        secret<&c::home_assistant, &home_assistant_settings::token>("home_assistant.token", "HOME_ASSISTANT_TOKEN",
                                                                    secrecy::api_key),
        list<&c::home_assistant, &home_assistant_settings::entities>("home_assistant.entities",
                                                                     "HOME_ASSISTANT_ENTITIES", check_ha_name),
        list<&c::home_assistant, &home_assistant_settings::services>("home_assistant.services",
                                                                     "HOME_ASSISTANT_SERVICES", check_ha_name),
        number<&c::home_assistant, &home_assistant_settings::timeout>("home_assistant.timeout", "HOME_ASSISTANT_TIMEOUT",
                                                                      0.1, 120),
    };
    return rows;
}

// The base_url keys fall back to OPENAI_BASE_URL (set here so the table stays one line per key).
const std::vector<spec>& specs() {
    static const std::vector<spec> rows = [] {
        auto r = table();
        for (auto& s : r)
            if (s.info.name == "stt.base_url" || s.info.name == "llm.base_url" || s.info.name == "tts.base_url")
                s.info.fallback_env = "OPENAI_BASE_URL";
        return r;
    }();
    return rows;
}

const spec* find_key(std::string_view name) {
    for (const auto& s : specs())
        if (s.info.name == name) return &s;
    return nullptr;
}
const spec* find_env(std::string_view name) {
    for (const auto& s : specs())
        if (s.info.env == name) return &s;
    return nullptr;
}

bool is_section(std::string_view name) {
    for (const auto& s : specs())
        if (s.info.name.substr(0, s.info.name.find('.')) == name) return true;
    return false;
}

// Variables with these prefixes belong to sipvoice-agent: an unknown one is most likely a typo.
bool has_our_prefix(std::string_view name) {
    for (std::string_view p : {"SIP_", "CALLS_", "VAD_", "STT_", "LLM_", "TTS_", "AGENT_", "TOOLS_", "WEATHER_",
                                 "HOME_ASSISTANT_"})
        if (name.starts_with(p)) return true;
    return false;
}

// " (did you mean 'x'?)" for the closest candidate, or "" when nothing is close.
std::string suggestion(std::string_view wrong, const std::vector<std::string_view>& candidates) {
    std::string_view best;
    std::size_t best_distance = std::string_view::npos;
    const auto last = [](std::string_view s) { return s.substr(s.rfind('.') + 1); };
    for (auto c : candidates) {
        // The same key in another section counts as close; a key outside any table is most likely one
        // of the general settings ("language" for "agent.language", not "stt.language").
        std::size_t d = last(c) == last(wrong) ? 1 : edit_distance(wrong, c);
        if (wrong.find('.') == std::string_view::npos && c.starts_with("agent.") && last(c) == wrong) d = 0;
        if (d < best_distance) best_distance = d, best = c;
    }
    if (best.empty() || best_distance > std::max<std::size_t>(2, wrong.size() / 3)) return "";
    return " (did you mean '" + std::string(best) + "'?)";
}

std::vector<std::string_view> key_names() {
    std::vector<std::string_view> v;
    for (const auto& s : specs()) v.push_back(s.info.name);
    return v;
}
std::vector<std::string_view> section_names() {
    std::vector<std::string_view> v;
    for (const auto& s : specs()) {
        auto sec = s.info.name.substr(0, s.info.name.find('.'));
        if (std::find(v.begin(), v.end(), sec) == v.end()) v.push_back(sec);
    }
    return v;
}
std::vector<std::string_view> env_names() {
    std::vector<std::string_view> v;
    for (const auto& s : specs()) v.push_back(s.info.env);
    return v;
}

std::string format_number(double d) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    return ec == std::errc{} ? std::string(buf, end) : std::to_string(d);
}

std::string choices_text(const spec& s) {
    std::string out;
    for (std::size_t i = 0; i < s.choices.size(); ++i) {
        if (i > 0) out += i + 1 == s.choices.size() ? " or " : ", ";
        out += s.choices[i];
    }
    return out;
}

// TOML basic-string quoting, for values shown back to the user.
std::string quote(std::string_view s) {
    std::string out = "\"";
    for (char ch : s) {
        switch (ch) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (static_cast<unsigned char>(ch) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(ch));
                    out += buf;
                } else {
                    out += ch;
                }
        }
    }
    return out + "\"";
}

std::string show(const spec& s, const value& v) {
    switch (s.type) {
        case kind::string: {
            const auto& str = std::get<std::string>(v);
            if (s.secret == secrecy::password) return quote(str.empty() ? "" : "***");
            if (s.secret == secrecy::api_key) return quote(mask_secret(str));
            return quote(str);
        }
        case kind::integer: return std::to_string(std::get<std::int64_t>(v));
        case kind::number: return format_number(std::get<double>(v));
        case kind::boolean: return std::get<bool>(v) ? "true" : "false";
        case kind::choice: return quote(s.choices[static_cast<std::size_t>(std::get<std::int64_t>(v))]);
        case kind::list: {
            std::string out = "[";
            for (const auto& item : std::get<std::vector<std::string>>(v)) {
                if (out.size() > 1) out += ", ";
                out += quote(item);
            }
            return out + "]";
        }
    }
    return "";
}

// Range and key checks of a value already of the right type; may normalize it.
std::optional<std::string> validate(const spec& s, value& v) {
    switch (s.type) {
        case kind::integer: {
            const auto n = std::get<std::int64_t>(v);
            if (static_cast<double>(n) < s.min || static_cast<double>(n) > s.max)
                return "must be between " + format_number(s.min) + " and " + format_number(s.max);
            return std::nullopt;
        }
        case kind::number: {
            const double d = std::get<double>(v);
            if (!(d >= s.min && d <= s.max))
                return "must be between " + format_number(s.min) + " and " + format_number(s.max);
            return std::nullopt;
        }
        case kind::string:
            return s.check != nullptr ? s.check(std::get<std::string>(v)) : std::nullopt;
        case kind::list:
            for (auto& item : std::get<std::vector<std::string>>(v))
                if (auto why = s.check != nullptr ? s.check(item) : std::nullopt) return why;
            return std::nullopt;
        case kind::boolean:
        case kind::choice: return std::nullopt;
    }
    return std::nullopt;
}

std::optional<std::int64_t> choice_index(const spec& s, std::string_view text) {
    for (std::size_t i = 0; i < s.choices.size(); ++i)
        if (s.choices[i] == text) return static_cast<std::int64_t>(i);
    return std::nullopt;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// A value from an environment variable or a .env line. Returns the complaint on failure.
std::optional<std::string> from_text(const spec& s, std::string_view text, value& out) {
    switch (s.type) {
        case kind::string: out = std::string(text); break;
        case kind::integer: {
            std::int64_t n = 0;
            const auto t = trim(text);
            const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
            if (t.empty() || ec != std::errc{} || end != t.data() + t.size()) return "must be an integer";
            out = n;
            break;
        }
        case kind::number: {
            double d = 0;
            const auto t = trim(text);
            const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
            if (t.empty() || ec != std::errc{} || end != t.data() + t.size()) return "must be a number";
            out = d;
            break;
        }
        case kind::boolean: {
            std::string t(trim(text));
            std::transform(t.begin(), t.end(), t.begin(), [](unsigned char ch) { return std::tolower(ch); });
            if (t == "true" || t == "1" || t == "yes" || t == "on") out = true;
            else if (t == "false" || t == "0" || t == "no" || t == "off") out = false;
            else return "must be true or false";
            break;
        }
        case kind::choice: {
            auto i = choice_index(s, trim(text));
            if (!i) return "must be " + choices_text(s);
            out = *i;
            break;
        }
        case kind::list: {
            std::vector<std::string> items;
            std::string_view rest = text;
            while (!rest.empty()) {
                const auto comma = rest.find(',');
                const auto item = trim(rest.substr(0, comma));
                if (!item.empty()) items.emplace_back(item);
                rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            }
            out = std::move(items);
            break;
        }
    }
    return validate(s, out);
}

std::string_view toml_type_name(toml::node_type t) {
    switch (t) {
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a float";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::array: return "an array";
        case toml::node_type::table: return "a table";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
        case toml::node_type::none: break;
    }
    return "nothing";
}

std::string_view expected_name(kind k) {
    switch (k) {
        case kind::string: return "a string";
        case kind::integer: return "an integer";
        case kind::number: return "a number";
        case kind::boolean: return "true or false";
        case kind::choice: return "a string";
        case kind::list: return "an array of strings";
    }
    return "";
}

// A TOML node as the key's value; the complaint when it has the wrong type.
std::optional<std::string> from_node(const spec& s, const toml::node& n, value& out) {
    const auto wrong = [&] {
        return "expected " + std::string(expected_name(s.type)) + ", got " + std::string(toml_type_name(n.type()));
    };
    switch (s.type) {
        case kind::string:
            if (!n.is_string()) return wrong();
            out = n.as_string()->get();
            return std::nullopt;
        case kind::integer:
            if (!n.is_integer()) return wrong();
            out = n.as_integer()->get();
            return std::nullopt;
        case kind::number:
            if (n.is_integer()) out = static_cast<double>(n.as_integer()->get());
            else if (n.is_floating_point()) out = n.as_floating_point()->get();
            else return wrong();
            return std::nullopt;
        case kind::boolean:
            if (!n.is_boolean()) return wrong();
            out = n.as_boolean()->get();
            return std::nullopt;
        case kind::choice:
            if (!n.is_string()) return wrong();
            out = n.as_string()->get();  // the index is looked up by the caller, for its message
            return std::nullopt;
        case kind::list: {
            if (!n.is_array()) return wrong();
            std::vector<std::string> items;
            for (const auto& item : *n.as_array()) {
                if (!item.is_string())
                    return "expected an array of strings, got " + std::string(toml_type_name(item.type())) +
                           " in it";
                items.push_back(item.as_string()->get());
            }
            out = std::move(items);
            return std::nullopt;
        }
    }
    return std::nullopt;
}

std::string one_line(std::string_view s) {
    std::string out(s);
    std::replace(out.begin(), out.end(), '\n', ' ');
    return out;
}

struct dotenv_entry {
    std::string name;
    std::string value;
    std::size_t line;
};

// KEY=VALUE lines; blank lines and # comments skipped; an optional `export `; values optionally in
// single quotes (literal) or double quotes (\" \\ \n escapes); unquoted values end at " #".
std::vector<dotenv_entry> parse_dotenv(std::string_view text, std::string_view name, std::vector<std::string>& errors) {
    std::vector<dotenv_entry> entries;
    std::size_t line_no = 0;
    while (!text.empty()) {
        const auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        ++line_no;
        line = trim(line);
        if (line.empty() || line.front() == '#') continue;
        if (line.starts_with("export ")) line = trim(line.substr(7));
        const auto eq = line.find('=');
        const auto key = trim(line.substr(0, eq == std::string_view::npos ? 0 : eq));
        const bool key_ok = !key.empty() && std::all_of(key.begin(), key.end(), [](unsigned char ch) {
            return std::isalnum(ch) || ch == '_';
        }) && !std::isdigit(static_cast<unsigned char>(key.front()));
        if (eq == std::string_view::npos || !key_ok) {
            errors.push_back(std::string(name) + ":" + std::to_string(line_no) + ": expected KEY=VALUE");
            continue;
        }
        std::string_view raw = trim(line.substr(eq + 1));
        std::string val;
        if (!raw.empty() && (raw.front() == '"' || raw.front() == '\'')) {
            const char q = raw.front();
            std::size_t i = 1;
            bool closed = false;
            for (; i < raw.size(); ++i) {
                const char ch = raw[i];
                if (ch == q) {
                    closed = true;
                    break;
                }
                if (q == '"' && ch == '\\' && i + 1 < raw.size()) {
                    const char next = raw[++i];
                    val += next == 'n' ? '\n' : next == 't' ? '\t' : next;
                } else {
                    val += ch;
                }
            }
            const auto after = trim(raw.substr(std::min(i + 1, raw.size())));
            if (!closed || (!after.empty() && after.front() != '#')) {
                errors.push_back(std::string(name) + ":" + std::to_string(line_no) + ": " + std::string(key) +
                                 ": unterminated or malformed quoted value");
                continue;
            }
        } else {
            const auto hash = raw.find(" #");
            val = std::string(trim(raw.substr(0, hash)));
        }
        entries.push_back({std::string(key), std::move(val), line_no});
    }
    return entries;
}

std::string origin_text(const value_origin& o) {
    switch (o.kind) {
        case origin::default_value: return o.where.empty() ? "default" : "default (" + o.where + ")";
        case origin::file: return "file " + o.where;
        case origin::dotenv: return ".env " + o.where;
        case origin::env: return "env " + o.where;
    }
    return "";
}

// Where a key was set, as a message prefix: "agent.toml:3: ", "SIP_MODE: ", or "" for a default.
std::string located(const load_result& r, std::string_view key) {
    const auto& o = r.origins.at(std::string(key));
    return o.kind == origin::default_value ? "" : o.where + ": ";
}

void cross_checks(load_result& r) {
    auto& c = r.cfg;
    auto& sip_cfg = c.sip;

    // The registrar's URI may carry the transport (;transport=tcp, or sips: for TLS).
    if (!sip_cfg.registrar.empty()) {
        auto uri = sip::parse_uri(sip_cfg.registrar);
        std::optional<sip_transport> from_uri;
        if (uri && uri->scheme == sip::uri_scheme::sips) from_uri = sip_transport::tls;
        else if (uri) {
            std::string t(uri->transport());
            std::transform(t.begin(), t.end(), t.begin(), [](unsigned char ch) { return std::tolower(ch); });
            if (t == "udp") from_uri = sip_transport::udp;
            else if (t == "tcp") from_uri = sip_transport::tcp;
            else if (t == "tls") from_uri = sip_transport::tls;
        }
        if (from_uri && *from_uri != sip_cfg.transport) {
            if (r.origins["sip.transport"].kind == origin::default_value) {
                sip_cfg.transport = *from_uri;
                r.origins["sip.transport"].where = "from sip.registrar";
            } else {
                r.errors.push_back(located(r, "sip.transport") + "sip.transport = \"" +
                                   std::string(to_string(sip_cfg.transport)) + "\" contradicts sip.registrar " +
                                   quote(sip_cfg.registrar));
            }
        }
    }

    if (r.origins["sip.mode"].kind == origin::default_value) {
        sip_cfg.mode = sip_cfg.registrar.empty() ? sip_mode::trunk : sip_mode::registered;
        r.origins["sip.mode"].where = sip_cfg.registrar.empty() ? "no sip.registrar" : "sip.registrar is set";
    }
    if (sip_cfg.mode == sip_mode::registered) {
        if (sip_cfg.registrar.empty())
            r.errors.push_back(located(r, "sip.mode") + "sip.mode = \"register\" needs sip.registrar (SIP_REGISTRAR)");
        if (sip_cfg.user.empty())
            r.errors.push_back(located(r, "sip.mode") + "sip.mode = \"register\" needs sip.user (SIP_USER)");
    } else if (sip_cfg.allow.empty()) {
        r.errors.push_back(located(r, "sip.allow") +
                           "sip.allow is empty: in trunk mode it lists the peers that may send INVITEs");
    }

    const auto needs_base = [&](bool openai, std::string_view stage, const std::string& base_url) {
        if (openai && base_url.empty()) {
            std::string upper(stage);
            std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char ch) { return std::toupper(ch); });
            const std::string key = std::string(stage) + ".backend";
            r.errors.push_back(located(r, key) + key + " = \"openai\" needs " + std::string(stage) + ".base_url (" +
                               upper + "_BASE_URL or OPENAI_BASE_URL), e.g. https://api.openai.com/v1");
        }
    };
    needs_base(c.stt.backend == stt_backend::openai, "stt", c.stt.base_url);
    needs_base(c.llm.backend == llm_backend::openai, "llm", c.llm.base_url);
    needs_base(c.tts.backend == tts_backend::openai, "tts", c.tts.base_url);

    if (!c.home_assistant.base_url.empty() && c.home_assistant.token.empty())
        r.errors.push_back(located(r, "home_assistant.base_url") +
                           "home_assistant.base_url is set but home_assistant.token is empty (a long-lived access "
                           "token from the Home Assistant profile page)");
    if (c.llm.backend == llm_backend::http_brain && c.llm.url.empty())
        r.errors.push_back(located(r, "llm.backend") + "llm.backend = \"http_brain\" needs llm.url (LLM_URL)");

    if (c.vad.silence_threshold_db > c.vad.speech_threshold_db)
        r.errors.push_back(located(r, "vad.silence_threshold_db") + "vad.silence_threshold_db = " +
                           format_number(c.vad.silence_threshold_db) + " must not exceed vad.speech_threshold_db = " +
                           format_number(c.vad.speech_threshold_db));
}

std::string read_file(const std::string& path, std::vector<std::string>& errors) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        errors.push_back(path + ": cannot read: " + std::strerror(errno));
        return {};
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = up;
        }
    }
    return row[b.size()];
}

std::string mask_secret(std::string_view secret) {
    if (secret.empty()) return "";
    if (secret.size() < 16) return "***";
    return "***" + std::string(secret.substr(secret.size() - 4));
}

std::span<const key_info> keys() {
    static const std::vector<key_info> infos = [] {
        std::vector<key_info> v;
        for (const auto& s : specs()) v.push_back(s.info);
        return v;
    }();
    return infos;
}

std::string endpoint(std::string_view base_url, std::string_view path) {
    while (base_url.ends_with('/')) base_url.remove_suffix(1);
    while (path.starts_with('/')) path.remove_prefix(1);
    std::string out(base_url);
    if (!base_url.ends_with("/v1")) out += "/v1";
    return out + "/" + std::string(path);
}

std::string_view to_string(sip_transport v) { return transports[static_cast<std::size_t>(v)]; }
std::string_view to_string(sip_mode v) { return modes[static_cast<std::size_t>(v)]; }
std::string_view to_string(stt_backend v) { return stt_backends[static_cast<std::size_t>(v)]; }
std::string_view to_string(llm_backend v) { return llm_backends[static_cast<std::size_t>(v)]; }
std::string_view to_string(tts_backend v) { return tts_backends[static_cast<std::size_t>(v)]; }
std::string_view to_string(log_level v) { return log_levels[static_cast<std::size_t>(v)]; }

load_result load_config(const config_sources& sources) {
    load_result r;
    for (const auto& s : specs()) r.origins[std::string(s.info.name)] = {};

    // ---- agent.toml
    if (!sources.file_name.empty()) {
        const std::string& file = sources.file_name;
        std::vector<std::pair<std::size_t, std::string>> file_errors;  // sorted by line at the end
        const auto complain = [&](std::size_t line, std::string msg) {
            file_errors.emplace_back(line, file + ":" + std::to_string(line) + ": " + std::move(msg));
        };
        toml::table root;
        bool parsed = true;
        try {
            root = toml::parse(sources.file_text, file);
        } catch (const toml::parse_error& e) {
            r.errors.push_back(file + ":" + std::to_string(e.source().begin.line) + ":" +
                               std::to_string(e.source().begin.column) + ": " + one_line(e.description()));
            parsed = false;
        }
        if (!parsed) return r;
        for (auto&& [section_key, section_node] : root) {
            const std::string section(section_key.str());
            const std::size_t section_line = section_key.source().begin.line;
            if (!is_section(section)) {
                if (section_node.is_table()) {
                    complain(section_line, "unknown table '" + section + "'" + suggestion(section, section_names()));
                } else {
                    complain(section_line, "unknown key '" + section + "'" + suggestion(section, key_names()));
                }
                continue;
            }
            if (!section_node.is_table()) {
                complain(section_line, "'" + section + "' must be a table ([" + section + "]), got " +
                                           std::string(toml_type_name(section_node.type())));
                continue;
            }
            for (auto&& [key, node] : *section_node.as_table()) {
                const std::string name = section + "." + std::string(key.str());
                std::size_t line = key.source().begin.line;
                if (line == 0) line = node.source().begin.line;
                const spec* s = find_key(name);
                if (s == nullptr) {
                    complain(line, "unknown key '" + name + "'" + suggestion(name, key_names()));
                    continue;
                }
                value v;
                if (auto why = from_node(*s, node, v)) {
                    complain(line, name + ": " + *why);
                    continue;
                }
                if (s->type == kind::choice) {
                    const std::string text = std::get<std::string>(v);
                    auto i = choice_index(*s, text);
                    if (!i) {
                        complain(line, name + " = " + quote(text) + ": must be " + choices_text(*s));
                        continue;
                    }
                    v = *i;
                }
                const std::string shown = show(*s, v);
                if (auto why = validate(*s, v)) {
                    complain(line, name + " = " + shown + ": " + *why);
                    continue;
                }
                s->set(r.cfg, v);
                r.origins[name] = {origin::file, file + ":" + std::to_string(line)};
            }
        }
        std::stable_sort(file_errors.begin(), file_errors.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        for (auto& [line, msg] : file_errors) r.errors.push_back(std::move(msg));
    }

    // ---- .env beside it: never over a variable of the real environment.
    std::map<std::string, std::pair<std::string, std::size_t>> dotenv_fallbacks;
    if (!sources.dotenv_name.empty()) {
        const std::string& name = sources.dotenv_name;
        for (const auto& e : parse_dotenv(sources.dotenv_text, name, r.errors)) {
            if (sources.env.contains(e.name)) continue;
            const std::string where = name + ":" + std::to_string(e.line);
            if (e.name == "OPENAI_BASE_URL" || e.name == "OPENAI_API_KEY") {
                dotenv_fallbacks[e.name] = {e.value, e.line};
                continue;
            }
            const spec* s = find_env(e.name);
            if (s == nullptr) {
                if (has_our_prefix(e.name))
                    r.errors.push_back(where + ": unknown variable '" + e.name + "'" + suggestion(e.name, env_names()));
                continue;
            }
            value v;
            if (auto why = from_text(*s, e.value, v)) {
                r.errors.push_back(where + ": " + e.name + "=" + e.value + ": " + *why);
                continue;
            }
            s->set(r.cfg, v);
            r.origins[std::string(s->info.name)] = {origin::dotenv, where + " " + e.name};
        }
    }

    // ---- the real environment
    for (const auto& [name, text] : sources.env) {
        const spec* s = find_env(name);
        if (s == nullptr) {
            if (has_our_prefix(name))
                r.warnings.push_back("environment variable " + name + " is not a sipvoice-agent setting" +
                                     suggestion(name, env_names()) + "; ignored");
            continue;
        }
        value v;
        if (auto why = from_text(*s, text, v)) {
            r.errors.push_back(name + "=" + (s->info.secret ? "***" : text) + ": " + *why);
            continue;
        }
        s->set(r.cfg, v);
        r.origins[std::string(s->info.name)] = {origin::env, name};
    }

    // ---- OPENAI_BASE_URL / OPENAI_API_KEY, where the stage's own value is empty (unset, or set empty
    // as in a copy of agent.example.toml)
    for (const auto& s : specs()) {
        if (s.info.fallback_env.empty()) continue;
        auto& o = r.origins[std::string(s.info.name)];
        if (!std::get<std::string>(s.get(r.cfg)).empty()) continue;
        const std::string fallback(s.info.fallback_env);
        value v;
        if (auto it = sources.env.find(fallback); it != sources.env.end()) {
            if (auto why = from_text(s, it->second, v)) {
                r.errors.push_back(fallback + "=" + it->second + ": " + *why);
                continue;
            }
            o = {origin::env, fallback};
        } else if (auto d = dotenv_fallbacks.find(fallback); d != dotenv_fallbacks.end()) {
            const std::string where = sources.dotenv_name + ":" + std::to_string(d->second.second);
            if (auto why = from_text(s, d->second.first, v)) {
                r.errors.push_back(where + ": " + fallback + "=" + d->second.first + ": " + *why);
                continue;
            }
            o = {origin::dotenv, where + " " + fallback};
        } else {
            continue;
        }
        s.set(r.cfg, v);
    }
    // The same malformed OPENAI_BASE_URL is reported once, not once per stage.
    std::vector<std::string> unique;
    for (auto& e : r.errors)
        if (std::find(unique.begin(), unique.end(), e) == unique.end()) unique.push_back(std::move(e));
    r.errors = std::move(unique);

    if (r.errors.empty()) cross_checks(r);
    return r;
}

read_outcome read_sources(const source_files& files) {
    namespace fs = std::filesystem;
    read_outcome out;
    out.sources.env = files.env;
    std::string config_path;
    if (files.config_path) {
        config_path = *files.config_path;
    } else {
        std::error_code ec;
        if (fs::is_regular_file("agent.toml", ec)) config_path = "agent.toml";
    }
    fs::path dotenv = ".env";
    if (!config_path.empty()) {
        out.sources.file_name = config_path;
        out.sources.file_text = read_file(config_path, out.errors);
        const fs::path dir = fs::path(config_path).parent_path();
        dotenv = dir.empty() ? fs::path(".env") : dir / ".env";
    }
    std::error_code ec;
    if (fs::exists(dotenv, ec)) {
        out.sources.dotenv_name = dotenv.string();
        out.sources.dotenv_text = read_file(dotenv.string(), out.errors);
    }
    return out;
}

std::map<std::string, std::string> process_environment() {
    std::map<std::string, std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const std::string_view entry(*e);
        const auto eq = entry.find('=');
        if (eq == std::string_view::npos) continue;
        env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    }
    return env;
}

std::string format_effective(const load_result& result) {
    // TOML again (secrets masked), with each value's origin as a comment, aligned.
    struct line {
        std::string section, text, from;
    };
    std::vector<line> lines;
    std::size_t width = 0;
    for (const auto& s : specs()) {
        const auto dot = s.info.name.find('.');
        line l{std::string(s.info.name.substr(0, dot)),
               std::string(s.info.name.substr(dot + 1)) + " = " + show(s, s.get(result.cfg)),
               origin_text(result.origins.at(std::string(s.info.name)))};
        width = std::max(width, std::min<std::size_t>(l.text.size(), 40));
        lines.push_back(std::move(l));
    }
    std::string out;
    std::string section;
    for (const auto& l : lines) {
        if (l.section != section) {
            if (!section.empty()) out += "\n";
            section = l.section;
            out += "[" + section + "]\n";
        }
        out += l.text;
        out.append(l.text.size() < width ? width - l.text.size() : 0, ' ');
        out += "  # " + l.from + "\n";
    }
    return out;
}

}  // namespace sipvoice::agent
