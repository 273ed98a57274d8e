// Tools that reach outside the call: the weather (an Open-Meteo-compatible forecast API), Home
// Assistant (its REST API, behind an allow-list), and the host's own state.
//
//   get_weather     GET  {base}/v1/forecast?latitude=..&longitude=..&current=..&daily=..
//   home_assistant  GET  {base}/api/states/<entity_id>
//                   POST {base}/api/services/<domain>/<service>   {"entity_id": ..., ...data}
//   system_status   /proc/uptime, /proc/loadavg, /proc/meminfo, statvfs("/"), the registration
//
// Each answers with a short sentence to be spoken. Failures (the service unreachable, an error status,
// an answer that is not what the API documents, a refused token) are a tool_result with error=true
// and one line saying why, for the model to tell the caller in its own words; nothing throws out of a
// tool. The HTTP requests run on the conversation's worker thread that called the tool, bounded by
// the settings' timeout.
//
// Home Assistant can open locks and doors, so the allow-list is checked before any request is made,
// the ids are checked against Home Assistant's own id syntax before they go into a URL (no path or
// query injection), and the model's extra service data may not name other targets than the one
// entity that was allowed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "http_client.hpp"
#include "tools.hpp"

namespace sipvoice::agent {

// ---- get_weather

// Arguments: {} or {"when": "now" | "today"} (absent: both). Offered only when s.base_url is set
// (the caller's choice; the tool itself just fails without it).
tool make_weather_tool(weather_settings s, std::shared_ptr<http_client> http);

// The spoken sentence for an Open-Meteo forecast response with the fields make_weather_tool asks for
// (`current` and `daily`, units in `current_units`): "In Berlin it is 12 degrees and partly cloudy,
// with wind at 10 kilometres per hour. Today: clear sky, 8 to 14 degrees, 30 percent chance of
// rain." `when`: "now" (the first sentence), "today" (the second) or anything else (both). A part whose
// fields are missing or not numbers is left out; "" when nothing asked for is there.
std::string weather_sentence(const nlohmann::json& open_meteo_response, const weather_settings& s,
                             std::string_view when = "both");

// The WMO weather interpretation code (WMO 4677, as Open-Meteo reduces it) in words: 0 "clear sky",
// 2 "partly cloudy", 51 "light drizzle", 95 "a thunderstorm" ... "" for a code outside the table.
std::string_view wmo_weather_text(int code);

// ---- home_assistant

// Arguments: {"action": "get_state" | "call_service", "entity_id": "light.kitchen", "service":
// "light.turn_on" (call_service), "data": {...} (optional extra service data)}. Offline triggers are
// made for each exact (not wildcard) allow-listed entity: "turn on the kitchen light" (when a turn_on
// service is allowed for it), "turn off ...", "is the kitchen light on", or "what is the outside
// temperature" for entities that do not switch; the phrases only when every word is a common word the
// offline recognizer's dictionary has.
tool make_home_assistant_tool(home_assistant_settings s, std::shared_ptr<http_client> http);

// Home Assistant's id syntax: "domain.object_id", both parts of [a-z0-9_], not empty. Services
// ("light.turn_on") have the same shape.
bool valid_entity_id(std::string_view id);

// Whether `id` ("light.kitchen") is matched by an allow-list entry: the same id, or "light.*".
bool allow_listed(std::string_view id, const std::vector<std::string>& allowed);

// ---- system_status

// `registration_state`: a sentence about the agent's SIP registration ("Registered with
// sip:pbx.example.com as 1001."), appended to the summary; an empty function or an empty answer
// leaves it out.
tool make_system_status_tool(std::function<std::string()> registration_state);

// What system_status reads; a part that could not be read is nullopt and left out of the summary.
struct host_status {
    std::optional<double> uptime_seconds;
    std::optional<double> load_1min;
    std::optional<std::uint64_t> memory_total_kib;
    std::optional<std::uint64_t> memory_available_kib;
    std::optional<double> disk_used_percent;  // of the file system at disk_path, as df counts it
};

// Reads proc_dir/uptime, proc_dir/loadavg, proc_dir/meminfo and statvfs(disk_path). Never throws.
host_status read_host_status(const std::string& proc_dir = "/proc", const std::string& disk_path = "/");

// "The host has been up for 3 days and 4 hours. Load is 0.52. 2.1 of 23.4 gigabytes of memory are in
// use. The disk is 41 percent full." then `registration` (a period added if it has none). "" when
// nothing is known.
std::string status_sentence(const host_status& h, std::string_view registration);

}  // namespace sipvoice::agent
