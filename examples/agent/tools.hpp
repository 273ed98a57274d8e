// Tools the brain can use during a call. Each is described once (name, description, JSON Schema of its
// arguments) and offered both to an LLM (as an OpenAI "function" tool) and to the offline rule brain.
//
// Built in so far: get_datetime (the time or the date, spoken naturally) and hang_up (the brain ends
// the call after its farewell). More tools, plugins and callbacks come with the next milestone.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace sipvoice::agent {

struct tool_context {
    std::string call_id;
    std::string caller;
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

struct tool_result {
    std::string text;       // for the model (role "tool") and, from the rule brain, to be spoken
    bool error = false;     // text is an error message for the model
    bool end_call = false;  // hang up after the reply has played
};

struct tool {
    std::string name;
    std::string description;
    nlohmann::json parameters;  // JSON Schema of the arguments (an "object")
    std::function<tool_result(const nlohmann::json& args, const tool_context&)> run;
};

class tool_registry {
public:
    void add(tool t);
    [[nodiscard]] const tool* find(std::string_view name) const;
    [[nodiscard]] const std::vector<tool>& all() const noexcept { return tools_; }
    // The "tools" array of a chat completions request.
    [[nodiscard]] nlohmann::json openai_tools() const;
    // Runs a tool by name with its arguments as JSON text (as an LLM sends them). Unknown tool,
    // arguments that are not a JSON object, or an exception inside the tool: an error result, never a
    // throw.
    [[nodiscard]] tool_result call(std::string_view name, std::string_view arguments_json, const tool_context& ctx) const;

private:
    std::vector<tool> tools_;
};

// get_datetime and hang_up.
tool_registry builtin_tools();

// "It is 3:05 PM." / "Today is Saturday, November 21, 2026." for the local time zone (TZ).
std::string spoken_time(std::chrono::system_clock::time_point t);
std::string spoken_date(std::chrono::system_clock::time_point t);

}  // namespace sipvoice::agent
