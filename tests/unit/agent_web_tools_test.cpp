// The web tools of sipvoice-agent (examples/agent/web_tools.hpp): get_weather, home_assistant and
// system_status.
//
// The pure parts (the WMO table, the weather sentence, the id checks, the triggers, the status
// sentence) are checked directly. The HTTP parts run against an in-process cpp-httplib server on
// 127.0.0.1 (when cpp-httplib is installed) that answers in the documented formats of Open-Meteo's
// /v1/forecast and Home Assistant's REST API; its handlers only record what they saw, and the test
// thread checks it afterwards (Catch2's assertions are not thread-safe).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cctype>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "offline_backends.hpp"
#include "web_tools.hpp"

#ifdef SIPVOICE_HAVE_HTTPLIB
#include <httplib.h>
#endif

namespace agent = sipvoice::agent;
using nlohmann::json;

namespace {

// The shape of a real Open-Meteo answer to the tool's query (latitude 52.52, longitude 13.41, metric):
// metadata, then current_units/current and daily_units/daily (arrays of one day).
json open_meteo_metric() {
    return json::parse(R"({
      "latitude": 52.52,
      "longitude": 13.419998,
      "generationtime_ms": 0.0680685043334961,
      "utc_offset_seconds": 3600,
      "timezone": "Europe/Berlin",
      "timezone_abbreviation": "GMT+1",
      "elevation": 38.0,
      "current_units": {"time": "iso8601", "interval": "seconds", "temperature_2m": "°C",
                        "apparent_temperature": "°C", "weather_code": "wmo code", "wind_speed_10m": "km/h",
                        "relative_humidity_2m": "%"},
      "current": {"time": "2026-03-14T10:15", "interval": 900, "temperature_2m": 12.4,
                  "apparent_temperature": 10.6, "weather_code": 2, "wind_speed_10m": 9.7,
                  "relative_humidity_2m": 71},
      "daily_units": {"time": "iso8601", "weather_code": "wmo code", "temperature_2m_max": "°C",
                      "temperature_2m_min": "°C", "precipitation_probability_max": "%"},
      "daily": {"time": ["2026-03-14"], "weather_code": [0], "temperature_2m_max": [14.4],
                "temperature_2m_min": [7.6], "precipitation_probability_max": [30]}
    })");
}

// The same place asked with temperature_unit=fahrenheit&wind_speed_unit=mph.
json open_meteo_imperial() {
    json j = open_meteo_metric();
    j["current_units"]["temperature_2m"] = "°F";
    j["current_units"]["apparent_temperature"] = "°F";
    j["current_units"]["wind_speed_10m"] = "mp/h";
    j["current"]["temperature_2m"] = 54.3;
    j["current"]["apparent_temperature"] = 51.1;
    j["current"]["wind_speed_10m"] = 6.0;
    j["daily_units"]["temperature_2m_max"] = "°F";
    j["daily_units"]["temperature_2m_min"] = "°F";
    j["daily"]["temperature_2m_max"] = json::array({57.9});
    j["daily"]["temperature_2m_min"] = json::array({45.7});
    return j;
}

agent::weather_settings berlin(std::string base = "http://127.0.0.1:9") {
    agent::weather_settings s;
    s.base_url = std::move(base);
    s.latitude = 52.52;
    s.longitude = 13.41;
    s.location = "Berlin";
    s.timeout = 5;
    return s;
}

// What the offline brain does with a caller's words (tools.hpp): lower case ASCII letters, digits and
// inner apostrophes, one space apart; a keyword fires when its words appear whole.
std::string normalized(std::string_view text) {
    std::string out;
    auto alnum = [&](std::size_t i) { return i < text.size() && std::isalnum(static_cast<unsigned char>(text[i])) != 0; };
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = ' ';
        if (alnum(i))
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
        else if (text[i] == '\'' && i > 0 && alnum(i - 1) && alnum(i + 1))
            c = '\'';
        if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
        out += c;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

bool fires(const agent::trigger& t, std::string_view text) {
    const std::string padded = " " + normalized(text) + " ";
    for (const auto& kw : t.keywords)
        if (padded.find(" " + kw + " ") != std::string::npos) return true;
    return false;
}

// The first trigger of `t` that fires for `text`, by priority as the rule brain picks.
const agent::trigger* first_firing(const agent::tool& t, std::string_view text) {
    const agent::trigger* best = nullptr;
    for (const auto& tr : t.triggers)
        if (fires(tr, text) && (best == nullptr || tr.priority < best->priority)) best = &tr;
    return best;
}

json arguments_for(const agent::trigger& t, std::string_view text) {
    if (!t.arguments) return json::object();
    const auto args = t.arguments(text, normalized(text));
    return args ? *args : json();
}

// The words of pocketsphinx's en-us dictionary, when it is installed (empty otherwise).
const std::set<std::string>& dictionary_words() { return agent::offline_dictionary_words(); }

void check_phrases(const agent::tool& t) {
    for (const auto& tr : t.triggers) {
        for (const auto& phrase : tr.phrases) {
            INFO(t.name << ": phrase '" << phrase << "'");
            CHECK(normalized(phrase) == phrase);
            CHECK(fires(tr, phrase));
            CHECK(phrase.find_first_of("0123456789") == std::string::npos);
            if (!dictionary_words().empty()) {
                std::istringstream in(phrase);
                for (std::string w; in >> w;) {
                    INFO("word '" << w << "'");
                    CHECK(dictionary_words().count(w) == 1);
                }
            }
        }
    }
}

agent::home_assistant_settings home(std::string base = "http://127.0.0.1:9") {
    agent::home_assistant_settings s;
    s.base_url = std::move(base);
    s.token = "ha-secret-token";
    s.entities = {"light.kitchen_light", "sensor.outside_temperature", "switch.*", "light.lamp_2", "fan.zork_xq"};
    s.services = {"light.turn_on", "light.turn_off", "switch.*", "homeassistant.turn_on"};
    s.timeout = 5;
    return s;
}

agent::tool_result run(const agent::tool& t, const json& args) { return t.run(args, agent::tool_context{}); }

}  // namespace

// ---- get_weather: the pure parts

TEST_CASE("agent web tools: the WMO weather codes as Open-Meteo documents them", "[agent][web_tools]") {
    // Open-Meteo's table, every code it uses.
    const std::vector<std::pair<int, std::string>> table = {
        {0, "clear sky"},          {1, "mainly clear"},          {2, "partly cloudy"},
        {3, "overcast"},           {45, "fog"},                  {48, "rime fog"},
        {51, "light drizzle"},     {53, "moderate drizzle"},     {55, "dense drizzle"},
        {56, "light freezing drizzle"}, {57, "dense freezing drizzle"}, {61, "slight rain"},
        {63, "moderate rain"},     {65, "heavy rain"},           {66, "light freezing rain"},
        {67, "heavy freezing rain"}, {71, "slight snowfall"},    {73, "moderate snowfall"},
        {75, "heavy snowfall"},    {77, "snow grains"},          {80, "slight rain showers"},
        {81, "moderate rain showers"}, {82, "violent rain showers"}, {85, "slight snow showers"},
        {86, "heavy snow showers"}, {95, "a thunderstorm"},      {96, "a thunderstorm with slight hail"},
        {99, "a thunderstorm with heavy hail"},
    };
    std::set<int> known;
    for (const auto& [code, text] : table) {
        INFO("code " << code);
        CHECK(agent::wmo_weather_text(code) == text);
        known.insert(code);
    }
    // Everything else is not a code Open-Meteo sends: no words rather than wrong ones.
    for (int code = -5; code <= 120; ++code) {
        if (known.count(code) != 0) continue;
        INFO("code " << code);
        CHECK(agent::wmo_weather_text(code).empty());
    }
}

TEST_CASE("agent web tools: the weather sentence from an Open-Meteo response", "[agent][web_tools]") {
    agent::weather_settings s = berlin();
    const json metric = open_meteo_metric();
    CHECK(agent::weather_sentence(metric, s) ==
          "In Berlin it is 12 degrees and partly cloudy, with wind at 10 kilometres per hour. "
          "Today: clear sky, 8 to 14 degrees, 30 percent chance of rain.");
    CHECK(agent::weather_sentence(metric, s, "now") ==
          "In Berlin it is 12 degrees and partly cloudy, with wind at 10 kilometres per hour.");
    CHECK(agent::weather_sentence(metric, s, "today") == "Today in Berlin: clear sky, 8 to 14 degrees, 30 percent chance of rain.");

    SECTION("no location: here") {
        s.location.clear();
        CHECK(agent::weather_sentence(metric, s) ==
              "Here it is 12 degrees and partly cloudy, with wind at 10 kilometres per hour. "
              "Today: clear sky, 8 to 14 degrees, 30 percent chance of rain.");
        CHECK(agent::weather_sentence(metric, s, "today") == "Today: clear sky, 8 to 14 degrees, 30 percent chance of rain.");
    }
    SECTION("imperial units, read from current_units") {
        s.units = "imperial";
        CHECK(agent::weather_sentence(open_meteo_imperial(), s) ==
              "In Berlin it is 54 degrees and partly cloudy, with wind at 6 miles per hour. It feels like 51 degrees. "
              "Today: clear sky, 46 to 58 degrees, 30 percent chance of rain.");
    }
    SECTION("rain, frost, calm air, a null probability") {
        json j = metric;
        j["current"]["weather_code"] = 61;
        j["current"]["temperature_2m"] = -2.6;
        j["current"]["apparent_temperature"] = -7.9;
        j["current"]["wind_speed_10m"] = 0.3;
        j["daily"]["weather_code"] = json::array({96});
        j["daily"]["temperature_2m_min"] = json::array({-4.5});
        j["daily"]["temperature_2m_max"] = json::array({0.2});
        j["daily"]["precipitation_probability_max"] = json::array({nullptr});
        CHECK(agent::weather_sentence(j, s) ==
              "In Berlin it is minus 3 degrees with slight rain, and no wind. It feels like minus 8 degrees. "
              "Today: a thunderstorm with slight hail, minus 5 to 0 degrees.");
    }
    SECTION("missing fields leave their part out, or everything") {
        json j = metric;
        j.erase("daily");
        CHECK(agent::weather_sentence(j, s) == "In Berlin it is 12 degrees and partly cloudy, with wind at 10 kilometres per hour.");
        CHECK(agent::weather_sentence(j, s, "today").empty());
        j = metric;
        j["current"].erase("temperature_2m");
        CHECK(agent::weather_sentence(j, s) == "Today in Berlin: clear sky, 8 to 14 degrees, 30 percent chance of rain.");
        j["daily"]["temperature_2m_max"] = json::array();
        CHECK(agent::weather_sentence(j, s).empty());
        CHECK(agent::weather_sentence(json::parse(R"({"error": true, "reason": "x"})"), s).empty());
        CHECK(agent::weather_sentence(json::array(), s).empty());
        CHECK(agent::weather_sentence(json("text"), s).empty());
        j = metric;
        j["current"]["temperature_2m"] = "12.4";  // a string is not a number
        j["current"]["weather_code"] = 4;          // not a code: no words for it
        CHECK(agent::weather_sentence(j, s, "now").empty());
        j["current"]["temperature_2m"] = 12.4;
        CHECK(agent::weather_sentence(j, s, "now") == "In Berlin it is 12 degrees, with wind at 10 kilometres per hour.");
        // Numbers no weather has are no numbers (and must not overflow a conversion to int).
        j["current"]["weather_code"] = 1e300;
        j["current"]["wind_speed_10m"] = -1e300;
        j["current"]["apparent_temperature"] = 3e9;
        CHECK(agent::weather_sentence(j, s, "now") == "In Berlin it is 12 degrees.");
        j["daily"]["temperature_2m_min"] = json::array({-1e20});
        CHECK(agent::weather_sentence(j, s, "today").empty());
    }
}

TEST_CASE("agent web tools: get_weather's description, schema and offline triggers", "[agent][web_tools]") {
    const agent::tool t = agent::make_weather_tool(berlin(), nullptr);
    CHECK(t.name == "get_weather");
    CHECK(t.parameters["type"] == "object");
    CHECK(t.parameters["properties"]["when"]["enum"] == json::array({"now", "today"}));
    REQUIRE(t.triggers.size() == 1);
    check_phrases(t);
    const auto& tr = t.triggers[0];
    for (const char* said : {"What is the weather?", "what's the weather like", "Will it rain today?", "Is it raining",
                             "what's the temperature outside", "give me the forecast"})
        CHECK(fires(tr, said));
    for (const char* said : {"what time is it", "set a timer", "rainy", "weathers"}) CHECK_FALSE(fires(tr, said));
    CHECK(arguments_for(tr, "what's the weather like") == json::object());
    CHECK(arguments_for(tr, "will it rain today") == json{{"when", "today"}});
    CHECK(arguments_for(tr, "what is the weather forecast") == json{{"when", "today"}});
    CHECK(arguments_for(tr, "is it raining") == json{{"when", "now"}});
}

TEST_CASE("agent web tools: get_weather refuses bad arguments before any request", "[agent][web_tools]") {
    // Port 9 (discard) on 127.0.0.1: nothing listens, and nothing should be asked anyway.
    const agent::tool t = agent::make_weather_tool(berlin(), nullptr);
    for (const json& when : {json("tomorrow"), json(3), json("")}) {
        const auto r = run(t, {{"when", when}});
        CHECK(r.error);
        CHECK_THAT(r.text, Catch::StartsWith("'when' must be"));
    }
    agent::weather_settings unset = berlin();
    unset.base_url.clear();
    const auto r = run(agent::make_weather_tool(unset, nullptr), json::object());
    CHECK(r.error);
    CHECK_THAT(r.text, Catch::Contains("not configured"));
}

// ---- home_assistant: the pure parts

TEST_CASE("agent web tools: entity ids, services and the allow-list", "[agent][web_tools]") {
    for (const char* good : {"light.kitchen", "sensor.outside_temperature_2", "input_boolean.x", "a.b"}) {
        INFO(good);
        CHECK(agent::valid_entity_id(good));
    }
    const std::vector<std::string> bad_ids = {
        "", "light", "light.", ".kitchen", "Light.Kitchen", "light.kitchen light", "light.kitchen/../config",
        "light/../../api/config", "light.kitchen?x=1", "light.kitchen#", "light.kitchen%2f", "light.kit.chen",
        "light.kitchen\n", "light.*", "light.k\xc3\xbc", std::string("light.kitchen\0x", 15), "light.-kitchen"};
    for (const auto& bad : bad_ids) {
        INFO(json(bad).dump(-1, ' ', true, json::error_handler_t::replace));
        CHECK_FALSE(agent::valid_entity_id(bad));
    }
    CHECK_FALSE(agent::valid_entity_id(std::string("light.") + std::string(300, 'a')));

    const std::vector<std::string> allowed = {"light.kitchen", "switch.*", "light.*x"};
    CHECK(agent::allow_listed("light.kitchen", allowed));
    CHECK(agent::allow_listed("switch.coffee", allowed));
    CHECK(agent::allow_listed("switch.a", allowed));
    CHECK_FALSE(agent::allow_listed("light.kitchen_2", allowed));
    CHECK_FALSE(agent::allow_listed("light.x", allowed));        // "light.*x" is no wildcard
    CHECK_FALSE(agent::allow_listed("switches.coffee", allowed));  // the domain whole, not a prefix
    CHECK_FALSE(agent::allow_listed("lock.front_door", allowed));
    CHECK_FALSE(agent::allow_listed("switch.*", allowed));         // a wildcard is not an id
    CHECK_FALSE(agent::allow_listed("light.kitchen", {}));
    CHECK_FALSE(agent::allow_listed("light.kitchen", {"*"}));
}

TEST_CASE("agent web tools: home_assistant's offline triggers come from the allow-list", "[agent][web_tools]") {
    const agent::tool t = agent::make_home_assistant_tool(home(), nullptr);
    CHECK(t.name == "home_assistant");
    CHECK(t.parameters["required"] == json::array({"action", "entity_id"}));
    CHECK_THAT(t.description, Catch::Contains("light.kitchen_light"));
    check_phrases(t);

    std::set<std::string> phrases;
    for (const auto& tr : t.triggers) phrases.insert(tr.phrases.begin(), tr.phrases.end());
    // light.lamp_2's digit is said as a word; fan.zork_xq has words no dictionary has and its domain's
    // services are not allowed: keywords for typed text, no phrases.
    CHECK(phrases == std::set<std::string>{"turn on the kitchen light", "turn off the kitchen light", "is the kitchen light on",
                                           "what is the outside temperature", "turn on the lamp two", "turn off the lamp two",
                                           "is the lamp two on"});

    auto args_for = [&](std::string_view said) {
        const agent::trigger* tr = first_firing(t, said);
        return tr == nullptr ? json("no trigger") : arguments_for(*tr, said);
    };
    CHECK(args_for("Please turn on the kitchen light.") ==
          json{{"action", "call_service"}, {"entity_id", "light.kitchen_light"}, {"service", "light.turn_on"}});
    CHECK(args_for("turn the kitchen light off") ==
          json{{"action", "call_service"}, {"entity_id", "light.kitchen_light"}, {"service", "light.turn_off"}});
    CHECK(args_for("is the kitchen light on") == json{{"action", "get_state"}, {"entity_id", "light.kitchen_light"}});
    CHECK(args_for("what's the outside temperature") ==
          json{{"action", "get_state"}, {"entity_id", "sensor.outside_temperature"}});
    // Only homeassistant.turn_on is allowed for fans, and no turn_off at all.
    CHECK(args_for("turn on the zork xq") ==
          json{{"action", "call_service"}, {"entity_id", "fan.zork_xq"}, {"service", "homeassistant.turn_on"}});
    CHECK(args_for("turn off the zork xq") == json("no trigger"));
    CHECK(args_for("turn on the garage door") == json("no trigger"));
}

// ---- system_status: the pure parts

TEST_CASE("agent web tools: the status sentence", "[agent][web_tools]") {
    agent::host_status h;
    h.uptime_seconds = 3 * 86400 + 4 * 3600 + 59 * 60 + 30;
    h.load_1min = 0.523;
    h.memory_total_kib = 24536000;     // 23.4 GiB
    h.memory_available_kib = 22334000;  // 2.1 GiB in use
    h.disk_used_percent = 40.6;
    CHECK(agent::status_sentence(h, "registered with sip:pbx.example.com as 1001") ==
          "The host has been up for 3 days and 4 hours. Load is 0.52. 2.1 of 23.4 gigabytes of memory are in use. "
          "The disk is 41 percent full. Registered with sip:pbx.example.com as 1001.");
    CHECK(agent::status_sentence(h, "") ==
          "The host has been up for 3 days and 4 hours. Load is 0.52. 2.1 of 23.4 gigabytes of memory are in use. "
          "The disk is 41 percent full.");

    const std::vector<std::pair<double, std::string>> uptimes = {
        {5, "less than a minute"}, {60, "1 minute"},       {61 * 60, "1 hour and 1 minute"}, {2 * 3600, "2 hours"},
        {86400, "1 day"},          {86400 + 3600, "1 day and 1 hour"}, {2 * 86400 + 59 * 60, "2 days"}};
    for (const auto& [seconds, words] : uptimes) {
        agent::host_status only;
        only.uptime_seconds = seconds;
        CHECK(agent::status_sentence(only, "") == "The host has been up for " + words + ".");
    }
    CHECK(agent::status_sentence({}, "").empty());
    CHECK(agent::status_sentence({}, "Not registered: 403 Forbidden!") == "Not registered: 403 Forbidden!");
    agent::host_status odd;
    odd.memory_total_kib = 100;
    odd.memory_available_kib = 200;  // impossible: left out
    CHECK(agent::status_sentence(odd, "listening as a trunk") == "Listening as a trunk.");
}

TEST_CASE("agent web tools: the host status from a proc directory", "[agent][web_tools]") {
    const auto dir = std::filesystem::temp_directory_path() / ("sipvoice-proc-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto write = [&](const char* name, const std::string& text) { std::ofstream(dir / name) << text; };
    write("uptime", "273600.58 520000.12\n");
    write("loadavg", "1.25 0.80 0.40 2/345 6789\n");
    write("meminfo", "MemTotal:        8000000 kB\nMemFree:          100000 kB\nMemAvailable:    6000000 kB\n");
    const auto h = agent::read_host_status(dir.string(), dir.string());
    CHECK(h.uptime_seconds == Approx(273600.58));
    CHECK(h.load_1min == Approx(1.25));
    CHECK(h.memory_total_kib == 8000000u);
    CHECK(h.memory_available_kib == 6000000u);
    REQUIRE(h.disk_used_percent.has_value());
    CHECK(*h.disk_used_percent >= 0);
    CHECK(*h.disk_used_percent <= 100);

    write("meminfo", "MemTotal: lots\n");
    write("uptime", "");
    std::filesystem::remove(dir / "loadavg");
    const auto broken = agent::read_host_status(dir.string(), (dir / "missing").string());
    CHECK_FALSE(broken.uptime_seconds.has_value());
    CHECK_FALSE(broken.load_1min.has_value());
    CHECK_FALSE(broken.memory_total_kib.has_value());
    CHECK_FALSE(broken.memory_available_kib.has_value());
    CHECK_FALSE(broken.disk_used_percent.has_value());
    std::filesystem::remove_all(dir);
}

TEST_CASE("agent web tools: system_status reads this host", "[agent][web_tools]") {
    const auto h = agent::read_host_status();
    REQUIRE(h.uptime_seconds.has_value());
    REQUIRE(h.load_1min.has_value());
    REQUIRE(h.memory_total_kib.has_value());
    REQUIRE(h.memory_available_kib.has_value());
    REQUIRE(h.disk_used_percent.has_value());
    CHECK(*h.uptime_seconds > 0);
    CHECK(*h.memory_total_kib > 0);
    CHECK(*h.memory_available_kib <= *h.memory_total_kib);

    int asked = 0;
    const agent::tool t = agent::make_system_status_tool([&] {
        ++asked;
        return std::string("registered with sip:pbx.example.com as 1001");
    });
    CHECK(t.name == "system_status");
    check_phrases(t);
    REQUIRE(t.triggers.size() == 1);
    for (const char* said : {"what is the system status", "give me a status report", "how is the system doing", "server status please"})
        CHECK(fires(t.triggers[0], said));
    CHECK_FALSE(fires(t.triggers[0], "what is the weather"));

    const auto r = run(t, json::object());
    CHECK_FALSE(r.error);
    CHECK(asked == 1);
    CHECK_THAT(r.text, Catch::StartsWith("The host has been up for "));
    CHECK_THAT(r.text, Catch::Contains(". Load is "));
    CHECK_THAT(r.text, Catch::Contains(" gigabytes of memory are in use. The disk is "));
    CHECK_THAT(r.text, Catch::EndsWith(" percent full. Registered with sip:pbx.example.com as 1001."));

    const auto without = run(agent::make_system_status_tool({}), json::object());
    CHECK_FALSE(without.error);
    CHECK_THAT(without.text, Catch::EndsWith(" percent full."));
    const auto throwing = run(agent::make_system_status_tool([]() -> std::string { throw std::runtime_error("boom"); }),
                              json::object());
    CHECK_FALSE(throwing.error);
    CHECK_THAT(throwing.text, Catch::EndsWith("The registration state is unknown (boom)."));
}

// ---- the HTTP parts

#ifdef SIPVOICE_HAVE_HTTPLIB

#include "fake_http_server.hpp"

namespace {

using fake_server = sipvoice::test::fake_http_server;

const char* const k_current = "temperature_2m,apparent_temperature,weather_code,wind_speed_10m,relative_humidity_2m";
const char* const k_daily = "weather_code,temperature_2m_max,temperature_2m_min,precipitation_probability_max";

// A stand-in for Home Assistant: a light, a sensor, the bearer token, state kept across calls.
class fake_home_assistant {
public:
    fake_server server;

    fake_home_assistant() {
        states_ = json::parse(R"({
          "light.kitchen_light": {"entity_id": "light.kitchen_light", "state": "off",
            "attributes": {"supported_color_modes": ["brightness"], "color_mode": null, "brightness": null,
                           "friendly_name": "Kitchen Light", "supported_features": 32},
            "last_changed": "2026-03-14T09:58:01.123456+00:00", "last_reported": "2026-03-14T09:58:01.123456+00:00",
            "last_updated": "2026-03-14T09:58:01.123456+00:00",
            "context": {"id": "01HRX0KJ9ZQ3W5V7B2N4M6P8R0", "parent_id": null, "user_id": null}},
          "sensor.outside_temperature": {"entity_id": "sensor.outside_temperature", "state": "12.3",
            "attributes": {"state_class": "measurement", "unit_of_measurement": "°C", "device_class": "temperature",
                           "friendly_name": "Outside Temperature"},
            "last_changed": "2026-03-14T10:01:00.000000+00:00", "last_reported": "2026-03-14T10:01:00.000000+00:00",
            "last_updated": "2026-03-14T10:01:00.000000+00:00",
            "context": {"id": "01HRX0MJ2ZQ3W5V7B2N4M6P8R1", "parent_id": null, "user_id": null}},
          "switch.coffee_maker": {"entity_id": "switch.coffee_maker", "state": "on", "attributes": {},
            "last_changed": "2026-03-14T07:00:00+00:00", "last_reported": "2026-03-14T07:00:00+00:00",
            "last_updated": "2026-03-14T07:00:00+00:00", "context": {"id": "x", "parent_id": null, "user_id": null}}
        })");
        server.http.Get(R"(/api/states/(.*))", [this](const httplib::Request& req, httplib::Response& res) {
            server.record(req);
            if (!authorized(req, res)) return;
            const std::lock_guard lock(mutex_);
            const std::string id = req.matches[1];
            if (!states_.contains(id)) {
                res.status = 404;
                res.set_content(R"({"message":"Entity not found."})", "application/json");
                return;
            }
            res.set_content(states_[id].dump(), "application/json");
        });
        server.http.Post(R"(/api/services/([^/]+)/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
            server.record(req);
            if (!authorized(req, res)) return;
            const json body = json::parse(req.body, nullptr, false);
            const std::string service = req.matches[2];
            json changed = json::array();
            const std::lock_guard lock(mutex_);
            if (body.is_object() && body.contains("entity_id") && body["entity_id"].is_string()) {
                const std::string id = body["entity_id"];
                const std::string want = service == "turn_on" ? "on" : service == "turn_off" ? "off" : "";
                if (states_.contains(id) && !want.empty() && states_[id]["state"] != want) {
                    states_[id]["state"] = want;
                    changed.push_back(states_[id]);
                }
            }
            res.set_content(changed.dump(), "application/json");
        });
        server.start();
    }

private:
    bool authorized(const httplib::Request& req, httplib::Response& res) {
        if (req.get_header_value("Authorization") == "Bearer ha-secret-token") return true;
        res.status = 401;
        res.set_content("401: Unauthorized", "text/plain");
        return false;
    }

    std::mutex mutex_;
    json states_;
};

}  // namespace

TEST_CASE("agent web tools: get_weather asks Open-Meteo and speaks the answer", "[agent][web_tools][http]") {
    fake_server server;
    std::string reply = open_meteo_metric().dump();
    server.http.Get("/v1/forecast", [&](const httplib::Request& req, httplib::Response& res) {
        server.record(req);
        const bool imperial = req.get_param_value("temperature_unit") == "fahrenheit";
        res.set_content(imperial ? open_meteo_imperial().dump() : reply, "application/json");
    });
    server.start();
    auto http = std::make_shared<agent::http_client>();

    SECTION("metric") {
        agent::weather_settings s = berlin(server.base() + "/");
        const auto r = run(agent::make_weather_tool(s, http), json::object());
        CHECK_FALSE(r.error);
        CHECK(r.text ==
              "In Berlin it is 12 degrees and partly cloudy, with wind at 10 kilometres per hour. "
              "Today: clear sky, 8 to 14 degrees, 30 percent chance of rain.");
        const auto seen = server.seen();
        REQUIRE(seen.size() == 1);
        CHECK(seen[0]["method"] == "GET");
        CHECK(seen[0]["path"] == "/v1/forecast");
        CHECK(seen[0]["body"] == "");
        CHECK(seen[0]["authorization"] == "");
        CHECK(seen[0]["params"] == json{{"latitude", "52.52"},
                                        {"longitude", "13.41"},
                                        {"current", k_current},
                                        {"daily", k_daily},
                                        {"timezone", "auto"},
                                        {"forecast_days", "1"}});
    }
    SECTION("imperial, only today") {
        agent::weather_settings s = berlin(server.base());
        s.units = "imperial";
        s.latitude = -33.8688;
        s.longitude = 151.2093;
        s.location = "Sydney";
        const auto r = run(agent::make_weather_tool(s, http), {{"when", "now"}});
        CHECK_FALSE(r.error);
        CHECK(r.text == "In Sydney it is 54 degrees and partly cloudy, with wind at 6 miles per hour. It feels like 51 degrees.");
        const auto seen = server.seen();
        REQUIRE(seen.size() == 1);
        CHECK(seen[0]["params"]["latitude"] == "-33.8688");
        CHECK(seen[0]["params"]["longitude"] == "151.2093");
        CHECK(seen[0]["params"]["temperature_unit"] == "fahrenheit");
        CHECK(seen[0]["params"]["wind_speed_unit"] == "mph");
    }
    SECTION("a 200 that is not JSON") {
        reply = "<html>maintenance</html>";
        const auto r = run(agent::make_weather_tool(berlin(server.base()), http), json::object());
        CHECK(r.error);
        CHECK(r.text == "weather service sent something that is not a JSON object");
    }
    SECTION("JSON without the fields") {
        reply = R"({"latitude": 52.52, "longitude": 13.41, "current": {}})";
        const auto r = run(agent::make_weather_tool(berlin(server.base()), http), json::object());
        CHECK(r.error);
        CHECK_THAT(r.text, Catch::StartsWith("weather service answer has no current conditions"));
    }
}

TEST_CASE("agent web tools: get_weather's failures are one line each", "[agent][web_tools][http]") {
    fake_server server;
    server.http.Get("/v1/forecast", [&](const httplib::Request& req, httplib::Response& res) {
        server.record(req);
        const std::string lat = req.get_param_value("latitude");
        if (lat == "1") {
            res.status = 500;
            res.set_content("Internal Server Error\nstack trace follows", "text/plain");
        } else if (lat == "2") {
            // Open-Meteo's own error shape.
            res.status = 400;
            res.set_content(R"({"error":true,"reason":"Latitude must be in range of -90 to 90°. Given: 2."})", "application/json");
        } else {
            server.stall(std::chrono::seconds(10));
            res.set_content(open_meteo_metric().dump(), "application/json");
        }
    });
    server.start();
    auto http = std::make_shared<agent::http_client>();
    agent::weather_settings s = berlin(server.base());

    SECTION("500") {
        s.latitude = 1;
        const auto r = run(agent::make_weather_tool(s, http), json::object());
        CHECK(r.error);
        CHECK_THAT(r.text, Catch::StartsWith("weather service failed: HTTP 500 from " + server.base() + "/v1/forecast?"));
        CHECK(r.text.find('\n') == std::string::npos);
    }
    SECTION("400 with Open-Meteo's reason") {
        s.latitude = 2;
        const auto r = run(agent::make_weather_tool(s, http), json::object());
        CHECK(r.error);
        CHECK(r.text == "weather service refused the request (HTTP 400): Latitude must be in range of -90 to 90°. Given: 2.");
    }
    SECTION("a server that does not answer in time") {
        s.latitude = 3;
        s.timeout = 0.3;
        const auto r = run(agent::make_weather_tool(s, http), json::object());
        CHECK(r.error);
        CHECK_THAT(r.text, Catch::StartsWith("weather service unreachable: "));
        CHECK_THAT(r.text, Catch::Contains("timed out"));
        server.release();
    }
    SECTION("nothing listening") {
        fake_server closed;
        closed.start();
        const std::string base = closed.base();
        closed.http.stop();
        s.base_url = base;
        const auto r = run(agent::make_weather_tool(s, http), json::object());
        CHECK(r.error);
        CHECK_THAT(r.text, Catch::StartsWith("weather service unreachable: "));
    }
}

TEST_CASE("agent web tools: home_assistant reads states with the bearer token", "[agent][web_tools][http]") {
    fake_home_assistant ha;
    auto http = std::make_shared<agent::http_client>();
    agent::home_assistant_settings s = home(ha.server.base() + "/");
    s.entities.push_back("light.cellar");
    const agent::tool t = agent::make_home_assistant_tool(s, http);

    auto r = run(t, {{"action", "get_state"}, {"entity_id", "light.kitchen_light"}});
    CHECK_FALSE(r.error);
    CHECK(r.text == "Kitchen Light is off.");
    r = run(t, {{"action", "get_state"}, {"entity_id", "sensor.outside_temperature"}});
    CHECK_FALSE(r.error);
    CHECK(r.text == "Outside Temperature is 12.3 degrees Celsius.");
    r = run(t, {{"action", "get_state"}, {"entity_id", "switch.coffee_maker"}});  // no friendly_name
    CHECK_FALSE(r.error);
    CHECK(r.text == "coffee maker is on.");
    r = run(t, {{"action", "get_state"}, {"entity_id", "light.cellar"}});
    CHECK(r.error);
    CHECK(r.text == "I don't know cellar (light.cellar).");

    const auto seen = ha.server.seen();
    REQUIRE(seen.size() == 4);
    CHECK(seen[0]["method"] == "GET");
    CHECK(seen[0]["path"] == "/api/states/light.kitchen_light");
    CHECK(seen[1]["path"] == "/api/states/sensor.outside_temperature");
    CHECK(seen[3]["path"] == "/api/states/light.cellar");
    for (const auto& req : seen) CHECK(req["authorization"] == "Bearer ha-secret-token");

    s.token = "wrong";
    r = run(agent::make_home_assistant_tool(s, http), {{"action", "get_state"}, {"entity_id", "light.kitchen_light"}});
    CHECK(r.error);
    CHECK(r.text == "the Home Assistant token was refused");
}

TEST_CASE("agent web tools: home_assistant calls a service and the state follows", "[agent][web_tools][http]") {
    fake_home_assistant ha;
    auto http = std::make_shared<agent::http_client>();
    const agent::tool t = agent::make_home_assistant_tool(home(ha.server.base()), http);

    auto r = run(t, {{"action", "call_service"},
                     {"entity_id", "light.kitchen_light"},
                     {"service", "light.turn_on"},
                     {"data", {{"brightness_pct", 40}}}});
    CHECK_FALSE(r.error);
    CHECK(r.text == "Done: turn on for Kitchen Light.");
    r = run(t, {{"action", "get_state"}, {"entity_id", "light.kitchen_light"}});
    CHECK(r.text == "Kitchen Light is on.");
    // Already on: Home Assistant lists no changed state, so the id's words name it.
    r = run(t, {{"action", "call_service"}, {"entity_id", "light.kitchen_light"}, {"service", "light.turn_on"}});
    CHECK_FALSE(r.error);
    CHECK(r.text == "Done: turn on for kitchen light.");
    // "switch.*" allows both the entity and the service.
    r = run(t, {{"action", "call_service"}, {"entity_id", "switch.coffee_maker"}, {"service", "switch.turn_off"}});
    CHECK_FALSE(r.error);
    CHECK(r.text == "Done: turn off for coffee maker.");

    const auto seen = ha.server.seen();
    REQUIRE(seen.size() == 4);
    CHECK(seen[0]["method"] == "POST");
    CHECK(seen[0]["path"] == "/api/services/light/turn_on");
    CHECK(seen[0]["content_type"] == "application/json");
    CHECK(seen[0]["authorization"] == "Bearer ha-secret-token");
    CHECK(json::parse(seen[0]["body"].get<std::string>()) == json{{"entity_id", "light.kitchen_light"}, {"brightness_pct", 40}});
    CHECK(json::parse(seen[2]["body"].get<std::string>()) == json{{"entity_id", "light.kitchen_light"}});
    CHECK(seen[3]["path"] == "/api/services/switch/turn_off");
    CHECK(json::parse(seen[3]["body"].get<std::string>()) == json{{"entity_id", "switch.coffee_maker"}});
}

TEST_CASE("agent web tools: home_assistant refuses without a request", "[agent][web_tools][http]") {
    fake_home_assistant ha;
    auto http = std::make_shared<agent::http_client>();
    const agent::tool t = agent::make_home_assistant_tool(home(ha.server.base()), http);

    struct refusal {
        json args;
        std::string starts;
    };
    const std::vector<refusal> refusals = {
        {{{"action", "get_state"}, {"entity_id", "lock.front_door"}}, "not allowed: lock.front_door is not in home_assistant.entities"},
        {{{"action", "call_service"}, {"entity_id", "light.kitchen_light"}, {"service", "light.toggle"}},
         "not allowed: light.toggle is not in home_assistant.services"},
        {{{"action", "call_service"}, {"entity_id", "light.kitchen_light"}, {"service", "lock.unlock"}},
         "not allowed: lock.unlock"},
        // The data may not smuggle in another target.
        {{{"action", "call_service"}, {"entity_id", "light.kitchen_light"}, {"service", "light.turn_on"},
          {"data", {{"entity_id", "lock.front_door"}}}},
         "not allowed: 'data' may not name targets (entity_id)"},
        {{{"action", "call_service"}, {"entity_id", "light.kitchen_light"}, {"service", "light.turn_on"},
          {"data", {{"area_id", "house"}}}},
         "not allowed: 'data' may not name targets (area_id)"},
        {{{"action", "call_service"}, {"entity_id", "light.kitchen_light"}, {"service", "light.turn_on"}, {"data", "x"}},
         "'data' must be an object"},
        {{{"action", "call_service"}, {"entity_id", "light.kitchen_light"}}, "'service' must be a service"},
        {{{"action", "delete"}, {"entity_id", "light.kitchen_light"}}, "'action' must be"},
        {{{"entity_id", "light.kitchen_light"}}, "'action' must be"},
        {{{"action", "get_state"}}, "'entity_id' must be an entity id"},
        {{{"action", "get_state"}, {"entity_id", 7}}, "'entity_id' must be an entity id"},
        // Hostile ids: paths, queries, other APIs, case, spaces, control characters.
        {{{"action", "get_state"}, {"entity_id", "light.kitchen_light/../../config"}}, "'entity_id' must be an entity id"},
        {{{"action", "get_state"}, {"entity_id", "../config"}}, "'entity_id' must be an entity id"},
        {{{"action", "get_state"}, {"entity_id", "light.kitchen_light?x=1"}}, "'entity_id' must be an entity id"},
        {{{"action", "get_state"}, {"entity_id", "light.kitchen_light%2F..%2Fconfig"}}, "'entity_id' must be an entity id"},
        {{{"action", "get_state"}, {"entity_id", "Light.Kitchen_Light"}}, "'entity_id' must be an entity id"},
        {{{"action", "get_state"}, {"entity_id", "light.kitchen light"}}, "'entity_id' must be an entity id"},
        {{{"action", "get_state"}, {"entity_id", "light.kitchen_light\r\nX-Evil: 1"}}, "'entity_id' must be an entity id"},
        {{{"action", "get_state"}, {"entity_id", "switch.*"}}, "'entity_id' must be an entity id"},
        {{{"action", "call_service"}, {"entity_id", "switch.coffee_maker"}, {"service", "switch/../../states"}},
         "'service' must be a service"},
        {{{"action", "call_service"}, {"entity_id", "switch.coffee_maker"}, {"service", "switch.turn_on/x"}},
         "'service' must be a service"},
        {{{"action", "call_service"}, {"entity_id", "switch.coffee_maker"}, {"service", "switch.*"}}, "'service' must be a service"},
    };
    for (const auto& [args, starts] : refusals) {
        INFO(args.dump());
        const auto r = run(t, args);
        CHECK(r.error);
        CHECK_THAT(r.text, Catch::StartsWith(starts));
        CHECK(r.text.find('\n') == std::string::npos);
    }
    CHECK(run(t, json::array()).error);
    CHECK(ha.server.seen().empty());
}

TEST_CASE("agent web tools: home_assistant's service failures", "[agent][web_tools][http]") {
    fake_server server;
    server.http.Post(R"(/api/services/light/(.*))", [&](const httplib::Request& req, httplib::Response& res) {
        server.record(req);
        if (req.matches[1] == "turn_on") {
            res.status = 500;
            res.set_content("500 Internal Server Error", "text/plain");
        } else if (req.matches[1] == "turn_off") {
            res.status = 401;
            res.set_content("401: Unauthorized", "text/plain");
        } else {
            server.stall(std::chrono::seconds(10));
        }
    });
    server.start();
    auto http = std::make_shared<agent::http_client>();
    agent::home_assistant_settings s = home(server.base());
    s.services = {"light.*"};
    s.timeout = 0.3;
    const agent::tool t = agent::make_home_assistant_tool(s, http);
    auto call = [&](const char* service) {
        return run(t, {{"action", "call_service"}, {"entity_id", "light.kitchen_light"}, {"service", service}});
    };
    auto r = call("light.turn_on");
    CHECK(r.error);
    CHECK_THAT(r.text, Catch::StartsWith("Home Assistant failed: HTTP 500 from " + server.base() + "/api/services/light/turn_on"));
    r = call("light.turn_off");
    CHECK(r.error);
    CHECK(r.text == "the Home Assistant token was refused");
    r = call("light.toggle");
    CHECK(r.error);
    CHECK_THAT(r.text, Catch::StartsWith("Home Assistant unreachable: "));
    server.release();
    CHECK(server.seen().size() == 3);
}

#endif  // SIPVOICE_HAVE_HTTPLIB
