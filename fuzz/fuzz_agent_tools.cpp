// fuzz_agent_tools: what a model or a caller can hand the agent's tools, on arbitrary bytes:
//  - every built-in tool's arguments, as the JSON text an LLM sends (tool_registry::call);
//  - what the caller said, through the rule brain's triggers and their argument extraction;
//  - an Open-Meteo response (weather_sentence) and a plugin's arguments against a schema
//    (check_plugin_arguments), both from the input as JSON.
//
// Properties: nothing throws out of a tool or the brain, nothing crashes; a tool's result is an
// error or a non-empty text; the rule brain always answers with exactly one final assistant message.
#include <asio/io_context.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "builtin_tools.hpp"
#include "fuzz_common.hpp"
#include "http_client.hpp"
#include "offline_backends.hpp"
#include "plugins.hpp"
#include "scheduler.hpp"
#include "web_tools.hpp"

namespace {
using namespace sipvoice::agent;

struct fixture {
    asio::io_context io;  // never run: due reminders are not fired here
    scheduler sched{io, 4};
    tool_registry tools = make_tool_registry(config{}, std::make_shared<http_client>(), [] { return std::string("ok"); }).tools;
    rule_brain brain;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static fixture f;
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    tool_context ctx;
    ctx.call_id = "fuzz";
    ctx.caller = "sip:fuzz@127.0.0.1";
    ctx.services = &f.sched;
    for (const auto& t : f.tools.all()) {
        if (t.name == "system_status") continue;  // reads /proc: slow, and nothing of the input
        const tool_result r = f.tools.call(t.name, text, ctx);
        FUZZ_CHECK(r.error || !r.text.empty());
    }
    // Cancel what the input set, so the per-caller limit does not turn every later input into an error.
    for (const auto& r : f.sched.pending(ctx.caller)) f.sched.cancel(ctx.caller, r.id);

    const nlohmann::json history = nlohmann::json::array({{{"role", "user"}, {"content", std::string(text)}}});
    brain_request request;
    request.call_id = "fuzz";
    request.caller = ctx.caller;
    request.text = std::string(text);
    request.history = &history;
    request.tools = &f.tools;
    request.services = &f.sched;
    const brain_result out = f.brain.respond(request, {}, {});
    FUZZ_CHECK(!out.messages.empty() && out.messages.back().value("role", "") == "assistant");
    for (const auto& r : f.sched.pending(ctx.caller)) f.sched.cancel(ctx.caller, r.id);

    const auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_discarded()) {
        (void)weather_sentence(j, weather_settings{});
        (void)check_plugin_arguments(j, j);
        (void)check_plugin_arguments({{"type", "object"}, {"properties", {{"n", {{"type", "integer"}, {"minimum", 1}}}}}}, j);
    }
    return 0;
}
