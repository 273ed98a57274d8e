#include "tools.hpp"

#include <ctime>
#include <exception>

namespace sipvoice::agent {
namespace {

std::tm local(std::chrono::system_clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    localtime_r(&tt, &tm);
    return tm;
}

constexpr const char* weekdays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr const char* months[] = {"January", "February", "March",     "April",   "May",      "June",
                                  "July",    "August",   "September", "October", "November", "December"};

trigger datetime_trigger(std::string intent, int priority, std::vector<std::string> keywords,
                         std::vector<std::string> phrases, std::string what) {
    trigger t;
    t.intent = std::move(intent);
    t.priority = priority;
    t.keywords = std::move(keywords);
    t.phrases = std::move(phrases);
    t.arguments = [what = std::move(what)](std::string_view, std::string_view) -> std::optional<nlohmann::json> {
        return nlohmann::json{{"what", what}};
    };
    return t;
}

trigger goodbye_trigger() {
    trigger t;
    t.intent = "goodbye";
    // First of all: a goodbye ends the call whatever else was said ("thank you, goodbye").
    t.priority = 0;
    t.keywords = {"goodbye", "good bye", "bye", "bye bye", "hang up", "good night", "see you"};
    // Only "goodbye" as a phrase. Biased towards "bye" (or "bye bye"), the recognizer heard "hi" as
    // "bye" (3 of 24 turns: 4 synthetic voices, 3 seeds, 16 and 8 kHz) and "my boss" as "my bye", and
    // a false goodbye hangs up on the caller. Without that bias a lone "bye" comes out as its
    // homophone "by" and the call goes on, which costs less: the caller hangs up or says goodbye.
    // "bye" stays a keyword for text that has it.
    t.phrases = {"goodbye"};
    return t;
}

}  // namespace

std::string spoken_time(std::chrono::system_clock::time_point t) {
    const std::tm tm = local(t);
    const int hour12 = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
    std::string s = "It is " + std::to_string(hour12) + ":" + (tm.tm_min < 10 ? "0" : "") + std::to_string(tm.tm_min);
    s += tm.tm_hour < 12 ? " AM." : " PM.";
    return s;
}

std::string spoken_date(std::chrono::system_clock::time_point t) {
    const std::tm tm = local(t);
    return std::string("Today is ") + weekdays[tm.tm_wday % 7] + ", " + months[tm.tm_mon % 12] + " " +
           std::to_string(tm.tm_mday) + ", " + std::to_string(tm.tm_year + 1900) + ".";
}

void tool_registry::add(tool t) {
    for (auto& existing : tools_) {
        if (existing.name == t.name) {
            existing = std::move(t);
            return;
        }
    }
    tools_.push_back(std::move(t));
}

const tool* tool_registry::find(std::string_view name) const {
    for (const auto& t : tools_)
        if (t.name == name) return &t;
    return nullptr;
}

nlohmann::json tool_registry::openai_tools() const {
    auto out = nlohmann::json::array();
    for (const auto& t : tools_) {
        out.push_back({{"type", "function"},
                       {"function", {{"name", t.name}, {"description", t.description}, {"parameters", t.parameters}}}});
    }
    return out;
}

tool_result tool_registry::call(std::string_view name, std::string_view arguments_json, const tool_context& ctx) const {
    const tool* t = find(name);
    if (t == nullptr) return {"unknown tool '" + std::string(name) + "'", true, false};
    nlohmann::json args = nlohmann::json::object();
    if (!arguments_json.empty()) {
        args = nlohmann::json::parse(arguments_json, nullptr, false);
        if (args.is_discarded() || !args.is_object())
            return {"the arguments of " + t->name + " are not a JSON object: " + std::string(arguments_json), true, false};
    }
    try {
        return t->run(args, ctx);
    } catch (const std::exception& e) {
        return {t->name + " failed: " + e.what(), true, false};
    }
}

tool_registry builtin_tools() {
    tool_registry r;
    r.add({"get_datetime",
           "The current local time or date, as a sentence to say to the caller.",
           {{"type", "object"},
            {"properties",
             {{"what", {{"type", "string"}, {"enum", {"time", "date", "both"}}, {"description", "what to tell"}}}}},
            {"required", nlohmann::json::array()}},
           [](const nlohmann::json& args, const tool_context& ctx) -> tool_result {
               const std::string what = args.contains("what") && args["what"].is_string() ? args["what"].get<std::string>() : "both";
               if (what != "time" && what != "date" && what != "both")
                   return {"'what' must be \"time\", \"date\" or \"both\"", true, false};
               std::string text;
               if (what != "date") text = spoken_time(ctx.now);
               if (what != "time") text += (text.empty() ? "" : " ") + spoken_date(ctx.now);
               return {text, false, false};
           },
           {datetime_trigger("date_and_time", 49, {"date and time", "time and date", "day and time", "time and day"},
                             {"what is the date and time"}, "both"),
            datetime_trigger("time", 50, {"time", "clock", "what hour"},
                             {"what time is it", "what is the time", "what's the time", "tell me the time", "time"},
                             "time"),
            // "day" alone too: the recognizer often hears "date" as "day".
            datetime_trigger("date", 51, {"date", "day", "what day", "which day", "the day", "today"},
                             {"what is the date", "what's the date", "what day is it", "what is today's date", "date"},
                             "date")}});
    r.add({"hang_up",
           "End the call after your farewell has been spoken. Use it when the caller says goodbye or the "
           "conversation is over.",
           {{"type", "object"}, {"properties", nlohmann::json::object()}, {"required", nlohmann::json::array()}},
           [](const nlohmann::json&, const tool_context&) -> tool_result {
               return {"The call will end after your reply.", false, true};
           },
           {goodbye_trigger()}});
    return r;
}

}  // namespace sipvoice::agent
