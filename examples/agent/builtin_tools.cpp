#include "builtin_tools.hpp"

#include <algorithm>
#include <ctime>

#include "calc.hpp"
#include "http_client.hpp"
#include "plugins.hpp"
#include "scheduler.hpp"
#include "spoken.hpp"
#include "web_tools.hpp"

namespace sipvoice::agent {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using std::chrono::system_clock;

constexpr std::int64_t max_timer_seconds = 7 * 24 * 3600;

json object_schema(json properties, json required = json::array()) {
    return {{"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)}};
}

tool_result no_services() { return {"timers and callbacks are not available here", true}; }

std::string what_text(const reminder& r) {
    return r.kind == reminder_kind::timer
               ? "timer " + std::to_string(r.id) + " for " + spoken_duration(r.length) +
                     (r.label.empty() ? "" : " (" + r.label + ")")
               : "a callback" + (r.label.empty() ? std::string() : " about " + r.label);
}

// A whole number of seconds from {"seconds": 600} or {"duration": "ten minutes"}.
std::optional<std::int64_t> seconds_argument(const json& args, const char* number_key, std::string* error) {
    if (args.contains(number_key)) {
        const auto& v = args[number_key];
        if (v.is_number()) {
            const double d = v.get<double>();
            if (d >= 1 && d <= static_cast<double>(max_timer_seconds)) return static_cast<std::int64_t>(d + 0.5);
            *error = std::string("'") + number_key + "' must be between 1 and " + std::to_string(max_timer_seconds);
            return std::nullopt;
        }
        if (v.is_string()) {
            if (auto d = parse_duration(v.get<std::string>())) return d->count();
        }
        *error = std::string("'") + number_key + "' must be a number of seconds";
        return std::nullopt;
    }
    if (args.contains("duration") && args["duration"].is_string()) {
        if (auto d = parse_duration(args["duration"].get<std::string>()); d && d->count() >= 1) return d->count();
        *error = "could not read the duration '" + args["duration"].get<std::string>() + "'";
        return std::nullopt;
    }
    *error = std::string("'") + number_key + "' is required";
    return std::nullopt;
}

std::string label_argument(const json& args, const char* key) {
    if (!args.contains(key) || !args[key].is_string()) return {};
    std::string s = args[key].get<std::string>();
    if (s.size() > 200) s.resize(200);
    return s;
}

// The next time the local clock shows hour:minute, after `now`.
system_clock::time_point next_clock_time(int hour, int minute, system_clock::time_point now) {
    const std::time_t n = system_clock::to_time_t(now);
    std::tm tm{};
    localtime_r(&n, &tm);
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    std::time_t t = std::mktime(&tm);
    if (t <= n) {
        tm.tm_mday += 1;
        tm.tm_isdst = -1;
        t = std::mktime(&tm);
    }
    return system_clock::from_time_t(t);
}

std::optional<clock_time> parse_hh_mm(std::string_view s) {
    if (auto t = parse_clock_time("at " + std::string(s))) return t;
    return parse_clock_time(s);
}

}  // namespace

std::string reminder_announcement(const reminder& r) {
    if (r.kind == reminder_kind::callback)
        return "You asked me to get back to you now" + (r.label.empty() ? std::string(".") : ", about " + r.label + ".");
    return "Your timer for " + spoken_duration(r.length) +
           (r.label.empty() ? std::string() : ", " + r.label + ",") + " is up.";
}

std::string reminder_opening(const reminder& r) {
    if (r.kind == reminder_kind::callback)
        return "Hello, this is your voice assistant, calling you back as you asked" +
               (r.label.empty() ? std::string() : ", about " + r.label) + ". How can I help?";
    return "Hello, this is your voice assistant. " + reminder_announcement(r) + " Is there anything else?";
}

tool make_set_timer_tool() {
    trigger t;
    t.keywords = {"timer", "set a timer", "start a timer"};
    t.phrases = {"set a timer for one minute", "set a timer for two minutes", "set a timer for five minutes",
                 "set a timer for ten minutes", "set a timer for thirty seconds", "set a timer for one hour"};
    t.arguments = [](std::string_view raw, std::string_view) -> std::optional<json> {
        auto d = parse_duration(raw);
        if (!d || d->count() < 1) return std::nullopt;
        return json{{"seconds", d->count()}};
    };
    t.ask = "For how long should I set the timer?";
    t.priority = 35;
    return {"set_timer",
            "Start a countdown timer. When it ends the caller is told, and called back if they have hung up. "
            "Say back how long it runs.",
            object_schema({{"seconds", {{"type", "integer"}, {"description", "how long, in seconds"}}},
                           {"label", {{"type", "string"}, {"description", "what it is for, e.g. 'the tea'"}}}},
                          json::array({"seconds"})),
            [](const json& args, const tool_context& ctx) -> tool_result {
                if (ctx.services == nullptr) return no_services();
                std::string error;
                auto secs = seconds_argument(args, "seconds", &error);
                if (!secs) return {error, true};
                reminder r;
                r.kind = reminder_kind::timer;
                r.caller = ctx.caller;
                r.call_id = ctx.call_id;
                r.label = label_argument(args, "label");
                r.due = ctx.now + seconds(*secs);
                r.length = seconds(*secs);
                auto added = ctx.services->schedule(r, &error);
                if (!added) return {error, true};
                return "Timer " + std::to_string(added->id) + " is set for " + spoken_duration(seconds(*secs)) +
                       (added->label.empty() ? "" : ", for " + added->label) + ".";
            },
            {t}};
}

tool make_list_timers_tool() {
    trigger t;
    t.keywords = {"timers", "my timers", "what timers", "which timers", "list timers", "time is left",
                  "time left", "how long is left", "callbacks"};
    t.phrases = {"what timers do i have", "how much time is left", "list my timers"};
    t.priority = 30;
    return {"list_timers",
            "The caller's pending timers and callbacks, with their ids and when each ends.",
            object_schema(json::object()),
            [](const json&, const tool_context& ctx) -> tool_result {
                if (ctx.services == nullptr) return no_services();
                const auto items = ctx.services->pending(ctx.caller);
                if (items.empty()) return {"You have no timers or callbacks."};
                std::string s = items.size() == 1 ? "You have one: " : "You have " + std::to_string(items.size()) + ": ";
                for (std::size_t i = 0; i < items.size(); ++i) {
                    if (i > 0) s += i + 1 == items.size() ? "; and " : "; ";
                    s += what_text(items[i]) + ", " + (items[i].kind == reminder_kind::timer ? "ending " : "") +
                         spoken_when(items[i].due, ctx.now);
                }
                return s + ".";
            },
            {t}};
}

tool make_cancel_timer_tool() {
    trigger t;
    t.keywords = {"cancel the timer", "cancel timer", "cancel my timer", "stop the timer", "delete the timer",
                  "cancel the callback", "cancel my callback", "don't call me back", "do not call me back"};
    t.phrases = {"cancel the timer", "stop the timer"};
    t.arguments = [](std::string_view, std::string_view normalized) -> std::optional<json> {
        if (normalized.find("callback") != std::string_view::npos || normalized.find("call me") != std::string_view::npos)
            return json{{"kind", "callback"}};
        return json{{"kind", "timer"}};
    };
    t.priority = 25;
    return {"cancel_timer",
            "Cancel one of the caller's timers or callbacks: by its id, by its label, or the only one there is.",
            object_schema({{"id", {{"type", "integer"}, {"description", "the id list_timers gave"}}},
                           {"label", {{"type", "string"}}},
                           {"kind", {{"type", "string"}, {"enum", {"timer", "callback"}}}}}),
            [](const json& args, const tool_context& ctx) -> tool_result {
                if (ctx.services == nullptr) return no_services();
                auto items = ctx.services->pending(ctx.caller);
                if (args.contains("kind") && args["kind"].is_string()) {
                    const auto kind = args["kind"] == "callback" ? reminder_kind::callback : reminder_kind::timer;
                    std::erase_if(items, [kind](const reminder& r) { return r.kind != kind; });
                }
                std::optional<std::uint64_t> id;
                if (args.contains("id")) {
                    if (!args["id"].is_number_integer()) return {"'id' must be an integer", true};
                    id = args["id"].get<std::uint64_t>();
                } else if (const auto label = label_argument(args, "label"); !label.empty()) {
                    for (const auto& r : items)
                        if (r.label == label) id = r.id;
                    if (!id) return {"there is no timer or callback labelled '" + label + "'", true};
                } else if (items.size() == 1) {
                    id = items.front().id;
                } else if (items.empty()) {
                    return {"You have nothing to cancel."};
                } else {
                    return {"There are " + std::to_string(items.size()) +
                                " pending; say which one (list_timers gives their ids).",
                            true};
                }
                auto gone = ctx.services->cancel(ctx.caller, *id);
                if (!gone) return {"there is no timer or callback " + std::to_string(*id), true};
                std::string what = what_text(*gone);
                what[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(what[0])));
                return what + " is cancelled.";
            },
            {t}};
}

tool make_schedule_callback_tool() {
    trigger t;
    t.keywords = {"call me back", "call me", "callback", "call back", "ring me"};
    t.phrases = {"call me back in one hour", "call me back in ten minutes", "call me back in two minutes",
                 "call me back at seven", "call me back later"};
    t.arguments = [](std::string_view raw, std::string_view) -> std::optional<json> {
        if (auto d = parse_duration(raw); d && d->count() >= 1) return json{{"in_seconds", d->count()}};
        if (auto c = parse_clock_time(raw)) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "%02d:%02d", c->hour, c->minute);
            return json{{"at", buf}};
        }
        return std::nullopt;
    };
    t.ask = "When should I call you back?";
    t.priority = 36;
    return {"schedule_callback",
            "Call the caller back later: after a number of seconds, or at a local clock time. The call opens "
            "with the reason.",
            object_schema({{"in_seconds", {{"type", "integer"}, {"description", "call back after this many seconds"}}},
                           {"at", {{"type", "string"}, {"description", "or at this local time, 24-hour HH:MM"}}},
                           {"reason", {{"type", "string"}, {"description", "what it is about, said when calling"}}}}),
            [](const json& args, const tool_context& ctx) -> tool_result {
                if (ctx.services == nullptr) return no_services();
                reminder r;
                r.kind = reminder_kind::callback;
                r.caller = ctx.caller;
                r.call_id = ctx.call_id;
                r.label = label_argument(args, "reason");
                std::string error;
                if (args.contains("at")) {
                    if (!args["at"].is_string()) return {"'at' must be a time like \"19:00\"", true};
                    auto c = parse_hh_mm(args["at"].get<std::string>());
                    if (!c) return {"could not read the time '" + args["at"].get<std::string>() + "'", true};
                    r.due = next_clock_time(c->hour, c->minute, ctx.now);
                } else if (auto secs = seconds_argument(args, "in_seconds", &error)) {
                    r.due = ctx.now + seconds(*secs);
                } else {
                    return {"give 'in_seconds' or 'at'", true};
                }
                auto added = ctx.services->schedule(r, &error);
                if (!added) return {error, true};
                return "I will call you back " + spoken_when(added->due, ctx.now) + ".";
            },
            {t}};
}

tool make_transfer_call_tool(std::string target) {
    trigger t;
    t.keywords = {"human", "a person", "real person", "operator", "transfer me", "speak to someone",
                  "talk to someone", "representative"};
    t.phrases = {"transfer me to a human", "i want to talk to a person", "operator"};
    t.priority = 20;
    return {"transfer_call",
            "Transfer the caller to a human colleague. Tell the caller you are transferring them; the transfer "
            "happens after your reply.",
            object_schema(json::object()),
            [target = std::move(target)](const json&, const tool_context&) -> tool_result {
                tool_result r{"I am transferring you to a colleague now. Please hold on."};
                r.transfer_to = target;
                return r;
            },
            {t}};
}

tool_setup make_tool_registry(const config& cfg, std::shared_ptr<http_client> http,
                              std::function<std::string()> registration_state) {
    tool_setup out;
    out.tools = builtin_tools();  // get_datetime, hang_up
    out.tools.add(make_calculate_tool());
    out.tools.add(make_set_timer_tool());
    out.tools.add(make_list_timers_tool());
    out.tools.add(make_cancel_timer_tool());
    out.tools.add(make_schedule_callback_tool());
    out.tools.add(make_system_status_tool(std::move(registration_state)));
    if (!cfg.weather.base_url.empty()) out.tools.add(make_weather_tool(cfg.weather, http));
    if (!cfg.home_assistant.base_url.empty()) out.tools.add(make_home_assistant_tool(cfg.home_assistant, http));
    if (!cfg.tools.transfer_target.empty()) out.tools.add(make_transfer_call_tool(cfg.tools.transfer_target));
    if (!cfg.tools.plugins_dir.empty()) {
        std::vector<std::string> reserved;
        for (const auto& t : out.tools.all()) reserved.push_back(t.name);
        // Every built-in's name, offered or not: a plugin may not take get_weather's name because
        // the weather is not configured today.
        for (const char* n : {"get_weather", "home_assistant", "transfer_call"}) reserved.emplace_back(n);
        auto loaded = load_plugins(cfg.tools.plugins_dir, reserved);
        for (auto& t : loaded.tools) out.tools.add(std::move(t));
        out.errors = std::move(loaded.errors);
    }
    return out;
}

}  // namespace sipvoice::agent
