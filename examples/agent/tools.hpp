// Tools the brain can use during a call. Each is described once (name, description, JSON Schema of its
// arguments) and offered both to an LLM (as an OpenAI "function" tool) and to the offline rule brain.
//
// The offline rule brain finds a tool through its triggers: keywords that fire it in what the caller
// said, the phrases callers use (the offline recognizer is biased towards them), and a function that
// takes the tool's arguments out of the words ("set a timer for ten minutes" -> {"seconds": 600}).
//
// Tools run on the conversation's worker threads (never on the SIP thread): a slow one (an HTTP
// request, a plugin) delays only its own turn. What a tool needs from the agent beyond its arguments
// (timers, callbacks, the registration state) it reaches through tool_context::services.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <stop_token>

#include <nlohmann/json.hpp>

namespace sipvoice::agent {

class agent_services;  // timers, callbacks, registration state: scheduler.hpp

struct tool_context {
    std::string call_id;
    std::string caller;  // the caller's SIP URI (From of their INVITE, or whom an outbound call dialled)
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
    agent_services* services = nullptr;  // null in tests and tools that need none
    // Requested when the turn is given up (a barge-in, the end of the call): a tool that takes a
    // while (a plugin) stops then.
    std::stop_token stop;
};

struct tool_result {
    std::string text;       // for the model (role "tool") and, from the rule brain, to be spoken
    bool error = false;     // text is an error message for the model
    bool end_call = false;  // hang up after the reply has played
    std::string transfer_to;  // non-empty: after the reply has played, transfer the call there (REFER)

    tool_result() = default;
    tool_result(std::string text_, bool error_ = false, bool end_call_ = false)  // NOLINT: implicit from text
        : text(std::move(text_)), error(error_), end_call(end_call_) {}
};

// How the offline rule brain finds a tool in what the caller said.
struct trigger {
    // Whole-word sequences of the normalized text (lower case ASCII letters, digits and inner
    // apostrophes; words one space apart): "timer", "what time". Any one fires the trigger.
    std::vector<std::string> keywords;
    // Whole sentences callers say to ask for it, in the same normalized form ("set a timer for ten
    // minutes"): the offline recognizer's bias. Each must fire this trigger (a test checks it).
    std::vector<std::string> phrases;
    // The tool's arguments from what was said: `raw` as the recognizer wrote it, `normalized` as
    // above. nullopt: the trigger fired but the arguments are not there ("set a timer"): `ask` is said
    // instead of calling the tool. An empty function: the arguments are {}.
    std::function<std::optional<nlohmann::json>(std::string_view raw, std::string_view normalized)> arguments;
    std::string ask = "Sorry, I did not get all of that. Could you say it again?";
    // A name for what the caller wants ("time", "goodbye"), for logs and tests; empty: the tool's name.
    std::string intent;
    // Lower goes first when several triggers fire ("thank you, goodbye" is a goodbye). The
    // conversational rules (greeting, thanks, yes, no, help) sit at 80-90; the farewell at 0.
    int priority = 50;
};

struct tool {
    using run_fn = std::function<tool_result(const nlohmann::json& args, const tool_context&)>;
    std::string name;
    std::string description;
    nlohmann::json parameters;  // JSON Schema of the arguments (an "object")
    run_fn run;
    std::vector<trigger> triggers;  // empty: only an LLM can call it

    tool() = default;
    tool(std::string name_, std::string description_, nlohmann::json parameters_, run_fn run_,
         std::vector<trigger> triggers_ = {})
        : name(std::move(name_)),
          description(std::move(description_)),
          parameters(std::move(parameters_)),
          run(std::move(run_)),
          triggers(std::move(triggers_)) {}
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

// get_datetime and hang_up, with their triggers (the offline brain's "time", "date",
// "date_and_time" and "goodbye").
tool_registry builtin_tools();

// "It is 3:05 PM." / "Today is Saturday, November 21, 2026." for the local time zone (TZ).
std::string spoken_time(std::chrono::system_clock::time_point t);
std::string spoken_date(std::chrono::system_clock::time_point t);

}  // namespace sipvoice::agent
