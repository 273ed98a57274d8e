// Plugins: tools written as small programs in any language, one directory each, so that an owner can
// add an ability to the assistant without rebuilding it. PLUGINS.md is the contract for plugin
// authors; in short:
//
//   <plugins dir>/<plugin>/manifest.json   name, description, parameters (JSON Schema), executable,
//                                          timeout, max_output, triggers
//   <plugins dir>/<plugin>/<executable>    started with the arguments as one JSON object on stdin;
//                                          prints one JSON object on stdout:
//                                          {"say": "..."} | {"result": <any JSON>} | {"error": "..."}
//
// Why a program and not a library: a plugin cannot crash the agent, leak into its memory or hold a
// call's thread for ever. The runner treats the program as untrusted in what it does at run time
// (not in what it is: the plugins directory is part of the owner's configuration):
//   - no shell: the executable is started directly (posix_spawn), with argv = [path] only, so no
//     argument is ever parsed by a shell;
//   - a fresh process group, SIGKILLed as a whole at the time limit, and anything the plugin left
//     running in it is killed when it exits; the plugin itself is always reaped (no zombies);
//   - stdout is read up to max_output bytes (beyond it: killed, an error), and the last 4 KiB of
//     stderr are kept for the error message;
//   - a minimal environment (PATH=/usr/bin:/bin, LANG=C.UTF-8, and TZ when the agent has one): the
//     agent's own environment holds API keys and tokens, which a plugin must not see;
//   - stdin, stdout and stderr are pipes that are written and read without blocking, so a plugin
//     that never reads its arguments, or fills stdout before reading, cannot stall the turn;
//   - the working directory is the plugin's own directory; no other file descriptor is inherited.
// It is not a sandbox: a plugin runs with the agent's user and can do whatever that user can
// (setsid() even escapes the process group). Install only plugins you trust.
//
// Every failure (bad arguments, cannot start, time limit, non-zero exit, killed by a signal, output
// too large, not one JSON object, none of say/result/error, the plugin's own "error") becomes an
// error result for the model, "<name> failed: <reason>", and never an exception: the turn goes on
// and the model can tell the caller.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools.hpp"

namespace sipvoice::agent {

inline constexpr std::chrono::milliseconds k_plugin_default_timeout{5000};
inline constexpr std::chrono::milliseconds k_plugin_max_timeout{60000};
inline constexpr std::size_t k_plugin_default_max_output = 64 * 1024;
inline constexpr std::size_t k_plugin_max_output_limit = 1024 * 1024;  // the largest max_output a manifest may ask for
inline constexpr std::size_t k_plugin_max_stderr = 4096;                 // the last bytes of stderr kept
inline constexpr std::size_t k_plugin_max_manifest = 64 * 1024;          // bytes of manifest.json
// Plugin triggers sit just before the built-in tools' (50): an owner who installs a plugin for a
// phrase wants it to win over a built-in that also matches.
inline constexpr int k_plugin_trigger_priority = 45;

struct plugin_manifest {
    std::string name;
    std::string description;
    nlohmann::json parameters;              // a JSON Schema "object" (checked at load)
    std::filesystem::path executable;       // absolute, symlinks resolved, inside the plugins directory
    std::filesystem::path directory;        // the manifest's directory (absolute): the working directory
    std::chrono::milliseconds timeout = k_plugin_default_timeout;
    std::size_t max_output = k_plugin_default_max_output;  // bytes of stdout
    std::vector<trigger> triggers;          // fixed arguments, priority k_plugin_trigger_priority
};

struct plugin_load_result {
    std::vector<tool> tools;                 // one per manifest, in the order of `manifests`
    std::vector<plugin_manifest> manifests;  // sorted by directory name
    std::vector<std::string> errors;         // one line each, naming the file ("<path>: <reason>")
};

// Loads every <dir>/<subdirectory>/manifest.json (subdirectories in name order; files and hidden
// entries in `dir` are ignored). A bad manifest is an error line and its plugin is skipped; the others
// load. Bad: not a JSON object, an unknown key, a name that is not ^[a-zA-Z0-9_-]{1,64}$ or is in
// `reserved_names` (the built-in tools) or is already taken by an earlier plugin, no description,
// parameters that are not an object schema, an executable that is absolute, has a ".." component,
// is missing, is not a regular executable file, or resolves (symlinks) outside `dir`; a timeout
// that is not in (0, 60] seconds, a max_output not in [1, 1 MiB], a trigger without keywords, with
// a phrase that is not lower-case words or that no keyword of its trigger fires on, or whose fixed
// arguments do not pass the schema. An empty `dir`: nothing, no error; a missing one: an error line.
// Never throws.
plugin_load_result load_plugins(const std::filesystem::path& dir, const std::vector<std::string>& reserved_names);

// Checks `args` against the top level of a plugin's parameters schema: an object, every "required"
// property present, and each declared property's "type" (string, number, integer, boolean, object,
// array, null, or a list of them), "enum", "minimum" and "maximum"; with "additionalProperties":
// false, no undeclared property. Deeper levels are the plugin's business. "" when they pass, else
// one sentence for the model ("argument 'sides' must be an integer").
std::string check_plugin_arguments(const nlohmann::json& schema, const nlohmann::json& args);

struct plugin_outcome {
    tool_result result;        // what the model gets
    std::string stderr_text;   // its last k_plugin_max_stderr bytes at most, made valid UTF-8 (for the log)
    int exit_status = -1;      // the exit status; -1 when it did not exit on its own (not run, signal, killed)
    int term_signal = 0;       // the signal that ended it, when one did (SIGKILL after a time limit)
    bool timed_out = false;
    bool stopped = false;      // killed because `stop` was requested (the turn was given up)
    std::chrono::milliseconds took{};  // from before the start to after the reaping
};

// Runs one plugin to completion (or to its time limit) on the calling thread. Safe to call from
// several threads at once; it blocks SIGPIPE on the calling thread only while writing to the plugin.
// A stop requested on `stop` while it runs kills it (its whole process group) at once. Never throws
// (an exception inside is an error result).
plugin_outcome run_plugin(const plugin_manifest& m, const nlohmann::json& args, std::stop_token stop = {});

// The tool the brain sees: the manifest's name, description, parameters and triggers; run() calls
// run_plugin and returns its result.
tool make_plugin_tool(plugin_manifest m);

}  // namespace sipvoice::agent
