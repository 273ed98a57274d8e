// The agent's tools, assembled from the configuration: the built-ins (tools.hpp, calc.hpp,
// web_tools.hpp, and the timer, callback and transfer tools here) and the plugins (plugins.hpp).
//
// The timer and callback tools keep nothing themselves: they ask the agent's scheduler
// (tool_context::services, scheduler.hpp), so a timer outlives the call that set it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "tools.hpp"

namespace sipvoice::agent {

class http_client;

// set_timer {seconds, label?}, list_timers {}, cancel_timer {id? | label?}.
tool make_set_timer_tool();
tool make_list_timers_tool();
tool make_cancel_timer_tool();
// schedule_callback {in_seconds? | at "HH:MM"?, reason?}: an outbound call to the caller then.
tool make_schedule_callback_tool();
// transfer_call {}: the reply is said, then the call is transferred to `target` (REFER).
tool make_transfer_call_tool(std::string target);

// What a timer or a callback says when it comes due: on the line ("Your timer for 10 minutes is
// up.") or as the opening line of the call that brings the news.
struct reminder;
std::string reminder_announcement(const reminder& r);
std::string reminder_opening(const reminder& r);

struct tool_setup {
    tool_registry tools;
    std::vector<std::string> errors;  // plugins that did not load (the rest work), one line each
};
// Every tool the configuration asks for. registration_state: for system_status.
tool_setup make_tool_registry(const config& cfg, std::shared_ptr<http_client> http,
                              std::function<std::string()> registration_state);

}  // namespace sipvoice::agent
