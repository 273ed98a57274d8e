#include "web_tools.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <exception>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

namespace sipvoice::agent {
namespace {

using nlohmann::json;

const json k_no_required = json::array();

// ---- small helpers

std::string trim_slashes(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

// A double as the shortest text that reads back the same, "52.52", whatever the C locale says.
std::string number_text(double v) {
    std::array<char, 64> buf{};
    const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return ec == std::errc{} ? std::string(buf.data(), end) : std::string("0");
}

// A rounded whole number as a speech synthesizer should read it: "minus 3", not "-3" (which some
// read as "dash three").
std::string spoken_whole(double v) {
    const long n = std::lround(v);
    return n < 0 ? "minus " + std::to_string(-n) : std::to_string(n);
}

std::string fixed(double v, int decimals) {
    std::array<char, 64> buf{};
    const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::fixed, decimals);
    return ec == std::errc{} ? std::string(buf.data(), end) : std::string("0");
}

// A number of a weather answer, or nullopt. Nothing real is beyond a million (temperatures, speeds,
// percentages, codes); a value that is must not reach the conversions to integers, where it would
// not fit.
std::optional<double> plausible(const json& v) {
    if (!v.is_number()) return std::nullopt;
    const double d = v.get<double>();
    if (!(std::abs(d) <= 1e6)) return std::nullopt;
    return d;
}

std::optional<double> number_in(const json& object, const char* key) {
    if (!object.is_object()) return std::nullopt;
    const auto it = object.find(key);
    return it == object.end() ? std::nullopt : plausible(*it);
}

// The first element of a daily array ("daily": {"temperature_2m_max": [14.2]}).
std::optional<double> first_number_in(const json& object, const char* key) {
    if (!object.is_object()) return std::nullopt;
    const auto it = object.find(key);
    if (it == object.end() || !it->is_array() || it->empty()) return std::nullopt;
    return plausible((*it)[0]);
}

std::string string_in(const json& object, const char* key) {
    if (!object.is_object()) return {};
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

// What a tool may say about a value the model sent: quoted, escaped, and short.
std::string shown(const json& value) {
    std::string s = value.dump(-1, ' ', true, json::error_handler_t::replace);
    if (s.size() > 80) s = s.substr(0, 77) + "...";
    return s;
}

tool_result failure(std::string why) { return tool_result{std::move(why), true}; }

// No exception leaves a tool, even one called without the registry's own net.
template <class F>
tool_result guarded(const char* name, const F& run) noexcept {
    try {
        return run();
    } catch (const std::exception& e) {
        return failure(std::string(name) + " failed: " + e.what());
    } catch (...) {
        return failure(std::string(name) + " failed");
    }
}

// ---- get_weather

std::string wind_words(const json& response, const weather_settings& s) {
    const std::string unit = string_in(response.value("current_units", json::object()), "wind_speed_10m");
    if (unit == "km/h") return "kilometres per hour";
    if (unit == "mp/h" || unit == "mph") return "miles per hour";
    if (unit == "m/s") return "metres per second";
    if (unit == "kn") return "knots";
    return s.units == "imperial" ? "miles per hour" : "kilometres per hour";
}

// "it is 12 degrees and partly cloudy, with wind at 10 kilometres per hour": the sky codes read as
// adjectives, the rest as what falls ("with light drizzle").
std::string current_part(const json& response, const weather_settings& s) {
    const json current = response.value("current", json::object());
    const auto temperature = number_in(current, "temperature_2m");
    if (!temperature) return {};
    std::string out = "it is " + spoken_whole(*temperature) + " degrees";
    bool said_with = false;
    if (const auto code = number_in(current, "weather_code")) {
        static constexpr std::array<std::string_view, 4> skies = {"clear", "mainly clear", "partly cloudy", "overcast"};
        const int c = static_cast<int>(*code);
        if (c >= 0 && c <= 3) {
            out += " and " + std::string(skies[static_cast<std::size_t>(c)]);
        } else if (const std::string_view text = wmo_weather_text(c); !text.empty()) {
            out += " with " + std::string(text);
            said_with = true;
        }
    }
    if (const auto wind = number_in(current, "wind_speed_10m")) {
        out += said_with ? ", and " : ", with ";
        out += std::lround(*wind) == 0 ? "no wind" : "wind at " + spoken_whole(*wind) + " " + wind_words(response, s);
    }
    out += ".";
    // Said only when it matters: wind chill or humidity that makes it feel different.
    if (const auto feels = number_in(current, "apparent_temperature");
        feels && std::abs(std::lround(*feels) - std::lround(*temperature)) >= 3)
        out += " It feels like " + spoken_whole(*feels) + " degrees.";
    return out;
}

// "clear sky, 8 to 14 degrees, 30 percent chance of rain."
std::string today_part(const json& response) {
    const json daily = response.value("daily", json::object());
    const auto low = first_number_in(daily, "temperature_2m_min");
    const auto high = first_number_in(daily, "temperature_2m_max");
    if (!low || !high) return {};
    std::string out;
    if (const auto code = first_number_in(daily, "weather_code")) {
        const std::string_view text = wmo_weather_text(static_cast<int>(*code));
        if (!text.empty()) out = std::string(text) + ", ";
    }
    out += spoken_whole(*low) + " to " + spoken_whole(*high) + " degrees";
    // Often null (not every model has it): then nothing is said about it.
    if (const auto rain = first_number_in(daily, "precipitation_probability_max"))
        out += ", " + spoken_whole(*rain) + " percent chance of rain";
    return out + ".";
}

std::string capitalized(std::string s) {
    if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
    return s;
}

std::string forecast_url(const weather_settings& s) {
    std::string url = trim_slashes(s.base_url) + "/v1/forecast?latitude=" + number_text(s.latitude) +
                      "&longitude=" + number_text(s.longitude) +
                      "&current=temperature_2m,apparent_temperature,weather_code,wind_speed_10m,relative_humidity_2m"
                      "&daily=weather_code,temperature_2m_max,temperature_2m_min,precipitation_probability_max"
                      "&timezone=auto&forecast_days=1";
    if (s.units == "imperial") url += "&temperature_unit=fahrenheit&wind_speed_unit=mph";
    return url;
}

// Open-Meteo answers a bad request with 400 and {"error": true, "reason": "..."}.
std::string service_reason(const std::string& body) {
    const json j = json::parse(body, nullptr, false);
    if (j.is_discarded()) return {};
    std::string reason = string_in(j, "reason");
    if (reason.empty()) reason = string_in(j, "message");  // Home Assistant's shape
    std::replace_if(reason.begin(), reason.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
    return reason;
}

tool_result run_weather(const weather_settings& s, http_client& http, const json& args) {
    if (!args.is_object()) return failure("the arguments must be a JSON object");
    std::string when = "both";
    // null as absent: some models send every optional parameter.
    if (args.contains("when") && !args["when"].is_null()) {
        if (!args["when"].is_string() || (args["when"] != "now" && args["when"] != "today"))
            return failure("'when' must be \"now\" or \"today\", not " + shown(args["when"]));
        when = args["when"].get<std::string>();
    }
    if (s.base_url.empty()) return failure("the weather service is not configured (weather.base_url)");
    http_request request;
    request.url = forecast_url(s);
    request.timeout = s.timeout;
    request.connect_timeout = std::min(s.timeout, 5.0);
    const http_response response = http.get(request, std::stop_token{});
    if (response.status == 0) return failure("weather service unreachable: " + response.error);
    if (!response.ok()) {
        const std::string reason = service_reason(response.body);
        return failure(reason.empty() ? "weather service failed: " + response.error
                                      : "weather service refused the request (HTTP " + std::to_string(response.status) +
                                            "): " + reason);
    }
    const json body = json::parse(response.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
        return failure("weather service sent something that is not a JSON object");
    std::string text = weather_sentence(body, s, when);
    if (text.empty()) return failure("weather service answer has no current conditions or forecast for today");
    return tool_result{std::move(text)};
}

// "what's the weather like" -> both, "will it rain today" -> today, "is it raining" -> now.
std::optional<json> weather_arguments(std::string_view, std::string_view normalized) {
    const std::string text = " " + std::string(normalized) + " ";
    auto has = [&](std::string_view w) { return text.find(" " + std::string(w) + " ") != std::string::npos; };
    if (has("today") || has("forecast")) return json{{"when", "today"}};
    if (has("raining") || has("outside") || has("now")) return json{{"when", "now"}};
    return json::object();
}

// ---- home_assistant

bool id_part(std::string_view part) {
    auto allowed = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; };
    return !part.empty() && std::all_of(part.begin(), part.end(), allowed);
}

std::pair<std::string_view, std::string_view> split_id(std::string_view id) {
    const auto dot = id.find('.');
    if (dot == std::string_view::npos) return {id, {}};
    return {id.substr(0, dot), id.substr(dot + 1)};
}

// "light.kitchen_light" -> "kitchen light": what a caller calls it when Home Assistant gave no name.
std::string object_words(std::string_view id) {
    std::string out;
    for (char c : split_id(id).second) {
        if (c == '_') {
            if (!out.empty() && out.back() != ' ') out += ' ';
        } else {
            out += c;
        }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out.empty() ? std::string(id) : out;
}

// Units as they should be heard, not read out symbol by symbol.
std::string spoken_unit(const std::string& unit) {
    static const std::pair<std::string_view, std::string_view> words[] = {
        {"°C", "degrees Celsius"}, {"°F", "degrees Fahrenheit"}, {"%", "percent"}, {"W", "watts"},
        {"kW", "kilowatts"},       {"kWh", "kilowatt hours"},    {"V", "volts"},  {"A", "amperes"},
        {"lx", "lux"},             {"hPa", "hectopascals"},      {"ppm", "parts per million"},
        {"mm", "millimetres"},     {"km/h", "kilometres per hour"}, {"m/s", "metres per second"},
    };
    for (const auto& [symbol, spoken] : words)
        if (unit == symbol) return std::string(spoken);
    return unit;
}

// Keys of a service call that choose what it acts on: only the allow-listed entity may be named.
constexpr std::array<std::string_view, 5> k_target_keys = {"entity_id", "device_id", "area_id", "floor_id", "label_id"};

struct ha_context {
    const home_assistant_settings& s;
    http_client& http;
};

http_request ha_request(const home_assistant_settings& s, std::string path) {
    http_request request;
    request.url = trim_slashes(s.base_url) + path;
    request.api_key = s.token;
    request.timeout = s.timeout;
    request.connect_timeout = std::min(s.timeout, 5.0);
    return request;
}

// The failures both actions share, or nullopt when the response is a 2xx.
std::optional<tool_result> ha_failure(const http_response& response) {
    if (response.ok()) return std::nullopt;
    if (response.status == 0) return failure("Home Assistant unreachable: " + response.error);
    if (response.status == 401) return failure("the Home Assistant token was refused");
    return failure("Home Assistant failed: " + response.error);
}

tool_result ha_get_state(const ha_context& c, const std::string& entity_id) {
    const http_response response = c.http.get(ha_request(c.s, "/api/states/" + entity_id), std::stop_token{});
    if (response.status == 404) return failure("I don't know " + object_words(entity_id) + " (" + entity_id + ").");
    if (auto f = ha_failure(response)) return *f;
    const json state = json::parse(response.body, nullptr, false);
    if (state.is_discarded() || !state.is_object() || !state.contains("state"))
        return failure("Home Assistant sent a state that is not one: " + shown(json(response.body)));
    const json attributes = state.value("attributes", json::object());
    std::string name = string_in(attributes, "friendly_name");
    if (name.empty()) name = object_words(entity_id);
    const json& value = state["state"];
    std::string text = name + " is " + (value.is_string() ? value.get<std::string>() : value.dump());
    if (const std::string unit = string_in(attributes, "unit_of_measurement"); !unit.empty())
        text += " " + spoken_unit(unit);
    return tool_result{text + "."};
}

tool_result ha_call_service(const ha_context& c, const std::string& entity_id, const std::string& service,
                            const json& data) {
    json body = data.is_object() ? data : json::object();
    body["entity_id"] = entity_id;
    const auto [domain, name] = split_id(service);
    http_request request = ha_request(c.s, "/api/services/" + std::string(domain) + "/" + std::string(name));
    request.json_body = body.dump();
    const http_response response = c.http.post(request, std::stop_token{});
    if (response.status == 400 || response.status == 404)
        return failure("Home Assistant could not call " + service + ": " + response.error);
    if (auto f = ha_failure(response)) return *f;
    // The answer lists the states that changed; the entity's own has its friendly name. It is empty
    // when nothing changed (a light that was already on), so the id's words are the fallback.
    std::string who = object_words(entity_id);
    const json changed = json::parse(response.body, nullptr, false);
    if (changed.is_array()) {
        for (const auto& st : changed) {
            if (!st.is_object() || string_in(st, "entity_id") != entity_id) continue;
            if (const auto n = string_in(st.value("attributes", json::object()), "friendly_name"); !n.empty()) who = n;
        }
    }
    std::string what(name);
    std::replace(what.begin(), what.end(), '_', ' ');
    return tool_result{"Done: " + what + " for " + who + "."};
}

tool_result run_home_assistant(const home_assistant_settings& s, http_client& http, const json& args) {
    if (!args.is_object()) return failure("the arguments must be a JSON object");
    const json action = args.value("action", json());
    if (action != "get_state" && action != "call_service")
        return failure("'action' must be \"get_state\" or \"call_service\", not " + shown(action));
    const json entity = args.value("entity_id", json());
    if (!entity.is_string() || !valid_entity_id(entity.get<std::string>()))
        return failure("'entity_id' must be an entity id like \"light.kitchen\", not " + shown(entity));
    const std::string entity_id = entity.get<std::string>();
    if (!allow_listed(entity_id, s.entities))
        return failure("not allowed: " + entity_id + " is not in home_assistant.entities");
    if (s.base_url.empty()) return failure("Home Assistant is not configured (home_assistant.base_url)");
    const ha_context c{s, http};
    if (action == "get_state") return ha_get_state(c, entity_id);

    const json service = args.value("service", json());
    if (!service.is_string() || !valid_entity_id(service.get<std::string>()))
        return failure("'service' must be a service like \"light.turn_on\", not " + shown(service));
    const std::string service_id = service.get<std::string>();
    if (!allow_listed(service_id, s.services))
        return failure("not allowed: " + service_id + " is not in home_assistant.services");
    json data = args.value("data", json::object());
    if (data.is_null()) data = json::object();
    if (!data.is_object()) return failure("'data' must be an object, not " + shown(data));
    for (const auto key : k_target_keys)
        if (data.contains(std::string(key)))
            return failure("not allowed: 'data' may not name targets (" + std::string(key) + "); use entity_id");
    return ha_call_service(c, entity_id, service_id, data);
}

// Common words of entity names that the offline recognizer's dictionary has (checked against
// cmudict-en-us by the tests). A generated phrase uses only these: a phrase with another word would
// be left out of the recognizer's bias anyway (offline_backends.cpp drops phrases with words its
// dictionary lacks), and a short list keeps the bias on household words.
bool phrase_word(std::string_view w) {
    static constexpr std::string_view words[] = {
        "air", "alarm", "aquarium", "attic", "baby", "back", "balcony", "basement", "bathroom", "battery", "bed",
        "bedroom", "big", "blinds", "boiler", "bottom", "bulb", "camera", "car", "ceiling", "cellar", "charger",
        "children", "christmas", "cleaner", "closet", "coffee", "computer", "conditioner", "conditioning", "corner",
        "couch", "curtain", "curtains", "deck", "dehumidifier", "desk", "dining", "dishwasher", "door", "doors",
        "downstairs", "driveway", "dryer", "east", "energy", "entrance", "fan", "first", "floor", "freezer", "fridge",
        "front", "garage", "garden", "gate", "guest", "hall", "hallway", "heat", "heater", "heating", "hot",
        "humidifier", "humidity", "indoor", "inside", "kettle", "kids", "kitchen", "lamp", "lamps", "laundry", "lawn",
        "left", "light", "lights", "little", "living", "lock", "lower", "machine", "main", "maker", "master",
        "mirror", "mower", "music", "night", "north", "nursery", "office", "outdoor", "outlet", "outside", "oven",
        "patio", "plug", "pool", "porch", "power", "printer", "pump", "purifier", "radiator", "radio", "reading",
        "right", "robot", "room", "router", "second", "sensor", "shades", "shed", "side", "siren", "small", "socket",
        "sofa", "solar", "south", "spa", "speaker", "speakers", "spot", "spots", "sprinkler", "sprinklers", "stairs",
        "strip", "study", "switch", "table", "tank", "television", "temperature", "terrace", "thermostat", "third",
        "top", "towel", "tree", "tub", "tv", "upper", "upstairs", "vacuum", "wall", "washer", "water", "west",
        "window", "windows", "workshop", "yard",
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    };
    return std::find(std::begin(words), std::end(words), w) != std::end(words);
}

// "kitchen_light_2" -> "kitchen light two": single digits as the recognizer writes them.
std::vector<std::string> name_words(std::string_view id) {
    static constexpr std::string_view digits[] = {"zero", "one", "two",   "three", "four",
                                                  "five", "six", "seven", "eight", "nine"};
    std::vector<std::string> out;
    std::istringstream in(object_words(id));
    for (std::string w; in >> w;) {
        const bool digit = w.size() == 1 && w[0] >= '0' && w[0] <= '9';
        out.push_back(digit ? std::string(digits[w[0] - '0']) : w);
    }
    return out;
}

std::string joined(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
    return out;
}

// Domains whose entities a caller switches on and off.
bool switchable(std::string_view domain) {
    static constexpr std::string_view domains[] = {"light", "switch", "fan", "input_boolean", "media_player",
                                                   "climate", "humidifier", "siren", "automation", "script"};
    return std::find(std::begin(domains), std::end(domains), domain) != std::end(domains);
}

// The allowed service for turning `id` on or off (`verb` "turn_on"/"turn_off"): its domain's own,
// else Home Assistant's generic one; "" when neither is allowed.
std::string allowed_switch_service(std::string_view id, std::string_view verb, const home_assistant_settings& s) {
    for (std::string candidate : {std::string(split_id(id).first), std::string("homeassistant")}) {
        candidate += "." + std::string(verb);
        if (allow_listed(candidate, s.services)) return candidate;
    }
    return {};
}

trigger fixed_trigger(std::vector<std::string> keywords, std::string phrase, bool phrase_ok, json arguments,
                      int priority) {
    trigger t;
    t.keywords = std::move(keywords);
    if (phrase_ok) t.phrases.push_back(std::move(phrase));
    t.arguments = [arguments = std::move(arguments)](std::string_view, std::string_view) -> std::optional<json> {
        return arguments;
    };
    t.priority = priority;
    return t;
}

std::vector<trigger> home_assistant_triggers(const home_assistant_settings& s) {
    std::vector<trigger> out;
    for (const auto& id : s.entities) {
        if (!valid_entity_id(id)) continue;  // wildcards ("light.*") name nothing to say
        const std::vector<std::string> words = name_words(id);
        const std::string name = joined(words);
        const bool phrase_ok = std::all_of(words.begin(), words.end(), phrase_word);
        // A longer name is the more specific match: "turn on the kitchen light" before "... kitchen".
        const int priority = 50 - static_cast<int>(std::min<std::size_t>(words.size(), 5));
        const json get_state = {{"action", "get_state"}, {"entity_id", id}};
        if (!switchable(split_id(id).first)) {
            out.push_back(fixed_trigger({"what is the " + name, "what's the " + name}, "what is the " + name, phrase_ok,
                                        get_state, priority));
            continue;
        }
        for (const char* verb : {"on", "off"}) {
            const std::string service = allowed_switch_service(id, std::string("turn_") + verb, s);
            if (service.empty()) continue;
            out.push_back(fixed_trigger(
                {std::string("turn ") + verb + " the " + name, "turn the " + name + " " + verb,
                 std::string("switch ") + verb + " the " + name},
                std::string("turn ") + verb + " the " + name, phrase_ok,
                {{"action", "call_service"}, {"entity_id", id}, {"service", service}}, priority));
        }
        out.push_back(fixed_trigger({"is the " + name + " on", "is the " + name + " off"}, "is the " + name + " on",
                                    phrase_ok, get_state, priority));
    }
    return out;
}

// ---- system_status

std::optional<std::uint64_t> meminfo_kib(const std::string& path, std::string_view key) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
        if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 && line[key.size()] == ':') {
            std::uint64_t v = 0;
            const char* first = line.data() + key.size() + 1;
            while (*first == ' ' || *first == '\t') ++first;
            const auto [end, ec] = std::from_chars(first, line.data() + line.size(), v);
            if (ec == std::errc{} && end != first) return v;
            return std::nullopt;
        }
    }
    return std::nullopt;
}

std::optional<double> first_value(const std::string& path) {
    std::ifstream in(path);
    double v = 0;
    if (in >> v && v >= 0) return v;
    return std::nullopt;
}

std::string counted(long n, const char* unit) { return std::to_string(n) + " " + unit + (n == 1 ? "" : "s"); }

// "3 days and 4 hours", "2 hours and 5 minutes", "7 minutes": the two largest units are enough.
std::string spoken_uptime(double seconds) {
    const long total_minutes = static_cast<long>(seconds / 60);
    const long days = total_minutes / (24 * 60);
    const long hours = total_minutes / 60 % 24;
    const long minutes = total_minutes % 60;
    if (days > 0) return counted(days, "day") + (hours > 0 ? " and " + counted(hours, "hour") : "");
    if (hours > 0) return counted(hours, "hour") + (minutes > 0 ? " and " + counted(minutes, "minute") : "");
    if (minutes > 0) return counted(minutes, "minute");
    return "less than a minute";
}

tool_result run_system_status(const std::function<std::string()>& registration_state) {
    std::string registration;
    if (registration_state) {
        try {
            registration = registration_state();
        } catch (const std::exception& e) {
            registration = std::string("the registration state is unknown (") + e.what() + ")";
        }
    }
    std::string text = status_sentence(read_host_status(), registration);
    if (text.empty()) return failure("could not read the host's status");
    return tool_result{std::move(text)};
}

}  // namespace

// ---- get_weather

std::string_view wmo_weather_text(int code) {
    // Open-Meteo's table of the WMO codes it uses (its API documentation, "WMO Weather interpretation
    // codes"), in words that can follow "Today:".
    switch (code) {
        case 0: return "clear sky";
        case 1: return "mainly clear";
        case 2: return "partly cloudy";
        case 3: return "overcast";
        case 45: return "fog";
        case 48: return "rime fog";
        case 51: return "light drizzle";
        case 53: return "moderate drizzle";
        case 55: return "dense drizzle";
        case 56: return "light freezing drizzle";
        case 57: return "dense freezing drizzle";
        case 61: return "slight rain";
        case 63: return "moderate rain";
        case 65: return "heavy rain";
        case 66: return "light freezing rain";
        case 67: return "heavy freezing rain";
        case 71: return "slight snowfall";
        case 73: return "moderate snowfall";
        case 75: return "heavy snowfall";
        case 77: return "snow grains";
        case 80: return "slight rain showers";
        case 81: return "moderate rain showers";
        case 82: return "violent rain showers";
        case 85: return "slight snow showers";
        case 86: return "heavy snow showers";
        case 95: return "a thunderstorm";
        case 96: return "a thunderstorm with slight hail";
        case 99: return "a thunderstorm with heavy hail";
        default: return {};
    }
}

std::string weather_sentence(const nlohmann::json& open_meteo_response, const weather_settings& s,
                             std::string_view when) {
    if (!open_meteo_response.is_object()) return {};
    const bool now = when != "today";
    const bool today = when != "now";
    const std::string where = s.location.empty() ? std::string() : "in " + s.location;
    std::string out;
    if (now) {
        if (const std::string current = current_part(open_meteo_response, s); !current.empty())
            out = capitalized(where.empty() ? "here " + current : where + " " + current);
    }
    if (today) {
        if (const std::string forecast = today_part(open_meteo_response); !forecast.empty()) {
            // Alone, the forecast says where it is for.
            const std::string head = out.empty() && !where.empty() ? "Today " + where + ": " : "Today: ";
            out += (out.empty() ? "" : " ") + head + forecast;
        }
    }
    return out;
}

tool make_weather_tool(weather_settings s, std::shared_ptr<http_client> http) {
    if (!http) http = std::make_shared<http_client>();
    tool t;
    t.name = "get_weather";
    const std::string where = s.location.empty() ? std::string() : " for " + s.location;
    t.description = "The current weather and today's forecast" + where + ", as a sentence to say to the caller.";
    t.parameters = {{"type", "object"},
                    {"properties",
                     {{"when",
                       {{"type", "string"},
                        {"enum", {"now", "today"}},
                        {"description", "now: the current conditions; today: today's forecast; absent: both"}}}}},
                    {"required", k_no_required}};
    t.run = [settings = std::move(s), client = std::move(http)](const json& args, const tool_context&) -> tool_result {
        return guarded("get_weather", [&] { return run_weather(settings, *client, args); });
    };
    trigger tr;
    tr.keywords = {"weather", "forecast", "temperature outside", "is it raining", "rain today"};
    tr.phrases = {"what is the weather", "what's the weather like", "what is the weather forecast",
                  "will it rain today"};
    tr.arguments = weather_arguments;
    t.triggers.push_back(std::move(tr));
    return t;
}

// ---- home_assistant

bool valid_entity_id(std::string_view id) {
    if (id.size() > 255) return false;
    const auto [domain, object] = split_id(id);
    return id.find('.') != std::string_view::npos && id_part(domain) && id_part(object);
}

bool allow_listed(std::string_view id, const std::vector<std::string>& allowed) {
    if (!valid_entity_id(id)) return false;
    const std::string_view domain = split_id(id).first;
    for (const auto& entry : allowed) {
        if (entry == id) return true;
        if (entry.size() == domain.size() + 2 && entry.compare(0, domain.size(), domain) == 0 &&
            entry.compare(domain.size(), 2, ".*") == 0)
            return true;
    }
    return false;
}

tool make_home_assistant_tool(home_assistant_settings s, std::shared_ptr<http_client> http) {
    if (!http) http = std::make_shared<http_client>();
    tool t;
    t.name = "home_assistant";
    std::string entities;
    for (const auto& e : s.entities) entities += (entities.empty() ? "" : ", ") + e;
    t.description =
        "Read the state of a smart home device or call a Home Assistant service on it (turn a light on or off). "
        "Only these entities may be used: " +
        (entities.empty() ? std::string("none") : entities) + ".";
    t.parameters = {
        {"type", "object"},
        {"properties",
         {{"action",
           {{"type", "string"},
            {"enum", {"get_state", "call_service"}},
            {"description", "read a state or call a service"}}},
          {"entity_id", {{"type", "string"}, {"description", "the entity, like light.kitchen"}}},
          {"service", {{"type", "string"}, {"description", "for call_service: domain.service, like light.turn_on"}}},
          {"data",
           {{"type", "object"}, {"description", "optional extra service data, like {\"brightness_pct\": 50}"}}}}},
        {"required", {"action", "entity_id"}}};
    t.triggers = home_assistant_triggers(s);
    t.run = [settings = std::move(s), client = std::move(http)](const json& args, const tool_context&) -> tool_result {
        return guarded("home_assistant", [&] { return run_home_assistant(settings, *client, args); });
    };
    return t;
}

// ---- system_status

host_status read_host_status(const std::string& proc_dir, const std::string& disk_path) {
    host_status h;
    try {
        h.uptime_seconds = first_value(proc_dir + "/uptime");
        h.load_1min = first_value(proc_dir + "/loadavg");
        h.memory_total_kib = meminfo_kib(proc_dir + "/meminfo", "MemTotal");
        h.memory_available_kib = meminfo_kib(proc_dir + "/meminfo", "MemAvailable");
    } catch (...) {
        // An ifstream does not throw unless asked to; a failed allocation leaves what was read.
    }
    struct statvfs fs {};
    if (statvfs(disk_path.c_str(), &fs) == 0) {
        // As df counts: blocks reserved for root are neither used nor available to others.
        const double used = static_cast<double>(fs.f_blocks - fs.f_bfree);
        const double usable = used + static_cast<double>(fs.f_bavail);
        if (usable > 0) h.disk_used_percent = 100.0 * used / usable;
    }
    return h;
}

std::string status_sentence(const host_status& h, std::string_view registration) {
    std::vector<std::string> parts;
    if (h.uptime_seconds) parts.push_back("The host has been up for " + spoken_uptime(*h.uptime_seconds) + ".");
    if (h.load_1min) parts.push_back("Load is " + fixed(*h.load_1min, 2) + ".");
    if (h.memory_total_kib && h.memory_available_kib && *h.memory_available_kib <= *h.memory_total_kib) {
        constexpr double kib_per_gib = 1024.0 * 1024.0;
        const double total = static_cast<double>(*h.memory_total_kib) / kib_per_gib;
        const double used = static_cast<double>(*h.memory_total_kib - *h.memory_available_kib) / kib_per_gib;
        parts.push_back(fixed(used, 1) + " of " + fixed(total, 1) + " gigabytes of memory are in use.");
    }
    if (h.disk_used_percent)
        parts.push_back("The disk is " + std::to_string(std::lround(*h.disk_used_percent)) + " percent full.");
    std::string reg(registration);
    while (!reg.empty() && reg.back() == ' ') reg.pop_back();
    if (!reg.empty()) {
        reg = capitalized(std::move(reg));
        if (reg.back() != '.' && reg.back() != '!' && reg.back() != '?') reg += ".";
        parts.push_back(std::move(reg));
    }
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : " ") + p;
    return out;
}

tool make_system_status_tool(std::function<std::string()> registration_state) {
    tool t;
    t.name = "system_status";
    t.description =
        "The state of the host this assistant runs on (uptime, load, memory, disk) and of its SIP registration, as "
        "sentences to say to the caller.";
    t.parameters = {{"type", "object"}, {"properties", json::object()}, {"required", k_no_required}};
    t.run = [registration = std::move(registration_state)](const json&, const tool_context&) -> tool_result {
        return guarded("system_status", [&] { return run_system_status(registration); });
    };
    trigger tr;
    tr.keywords = {"system status", "status report", "how is the system", "server status"};
    tr.phrases = {"what is the system status", "give me a status report"};
    t.triggers.push_back(std::move(tr));
    return t;
}

}  // namespace sipvoice::agent
