// Plugins (examples/agent/plugins.hpp): the manifest loader and the runner, against the fixture
// plugins in tests/data/plugins (each shows one behaviour: see its README.md), manifests written
// into a temporary directory, and the two example plugins shipped in examples/agent/plugins.
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <stop_token>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "offline_backends.hpp"
#include "plugins.hpp"
#include "tools.hpp"

using namespace sipvoice::agent;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> k_reserved = {"get_datetime", "hang_up", "calculate"};

fs::path fixtures_dir() { return fs::path(SIPVOICE_TEST_DATA_DIR) / "plugins"; }

const plugin_load_result& fixtures() {
    static const plugin_load_result loaded = load_plugins(fixtures_dir(), k_reserved);
    return loaded;
}

const plugin_manifest& fixture(const std::string& name) {
    for (const auto& m : fixtures().manifests)
        if (m.name == name) return m;
    FAIL("no fixture plugin '" << name << "' (errors: " << json(fixtures().errors).dump() << ")");
    throw std::logic_error("unreachable");
}

// Every whole number in `text` ("pids 123 456" -> {123, 456}).
std::vector<pid_t> numbers_in(const std::string& text) {
    std::vector<pid_t> out;
    const std::regex number(R"(\d+)");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), number); it != std::sregex_iterator(); ++it)
        out.push_back(static_cast<pid_t>(std::stol(it->str())));
    return out;
}

// Gone, or a zombie waiting for its new parent (init, which in a container may never reap it).
// Waits up to 5 s for it: the kill is sent before run_plugin returns, the death takes a moment.
bool process_ended(pid_t pid) {
    const auto until = std::chrono::steady_clock::now() + 5s;
    for (;;) {
        if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string line;
        std::getline(stat, line);
        const auto close = line.rfind(')');
        if (close != std::string::npos && close + 2 < line.size() && (line[close + 2] == 'Z' || line[close + 2] == 'X'))
            return true;
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(10ms);
    }
}

// "pids <shell> <sleep>" on a killed plugin's stderr: the shell was the plugin, reaped before
// run_plugin returned (a zombie would still answer kill(pid, 0)); the sleep was in its process
// group and was killed with it.
void check_plugin_and_child_gone(const std::string& stderr_text) {
    const std::vector<pid_t> pids = numbers_in(stderr_text);
    INFO(stderr_text);
    REQUIRE(pids.size() == 2);
    errno = 0;
    CHECK(::kill(pids[0], 0) == -1);
    CHECK(errno == ESRCH);
    CHECK(process_ended(pids[1]));
}

class temp_dir {
public:
    temp_dir() {
        std::string pattern = (fs::temp_directory_path() / "sipvoice-plugins-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    [[nodiscard]] const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

void write_file(const fs::path& file, const std::string& text, bool executable = false) {
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    fs::permissions(file, executable ? fs::perms(0755) : fs::perms(0644));
}

// A plugin directory <root>/<dir> with a manifest and an executable run.sh that says "ok".
void write_plugin(const fs::path& root, const std::string& dir, const json& manifest, bool executable = true) {
    write_file(root / dir / "manifest.json", manifest.dump(2));
    write_file(root / dir / "run.sh", "#!/bin/sh\necho '{\"say\": \"ok\"}'\n", executable);
}

json manifest_named(const std::string& name) {
    return {{"name", name}, {"description", "A plugin for the loader's tests."}, {"executable", "run.sh"}, {"timeout", 1}};
}

bool valid_utf8_json_text(const std::string& s) {
    try {
        (void)json(s).dump();
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

}  // namespace

// ---- loading

TEST_CASE("the fixture plugins load without errors", "[plugins]") {
    const auto& loaded = fixtures();
    INFO(json(loaded.errors).dump(2));
    REQUIRE(loaded.errors.empty());
    std::vector<std::string> names;
    for (const auto& m : loaded.manifests) names.push_back(m.name);
    // In the order of their directories' names.
    CHECK(names == std::vector<std::string>{"big", "crash", "deaf", "fails", "garbage", "good", "orphan", "raw", "slow"});
    REQUIRE(loaded.tools.size() == loaded.manifests.size());
    for (std::size_t i = 0; i < loaded.tools.size(); ++i) {
        CHECK(loaded.tools[i].name == loaded.manifests[i].name);
        CHECK(loaded.tools[i].description == loaded.manifests[i].description);
        CHECK(loaded.tools[i].parameters == loaded.manifests[i].parameters);
        CHECK(loaded.tools[i].run);
    }

    const plugin_manifest& good = fixture("good");
    CHECK(good.directory == fs::canonical(fixtures_dir() / "good"));
    CHECK(good.executable == fs::canonical(fixtures_dir() / "good" / "good.py"));
    CHECK(good.timeout == 5000ms);
    CHECK(good.max_output == k_plugin_default_max_output);
    CHECK(fixture("slow").timeout == 300ms);
    CHECK(fixture("big").max_output == 4096);
    // No parameters in the manifest: an object schema with no properties.
    CHECK(fixture("garbage").parameters == json{{"type", "object"}, {"properties", json::object()}});
}

TEST_CASE("a plugin's triggers carry its fixed arguments at the plugin priority", "[plugins]") {
    const plugin_manifest& good = fixture("good");
    REQUIRE(good.triggers.size() == 1);
    const trigger& t = good.triggers[0];
    CHECK(t.keywords == std::vector<std::string>{"test plugin", "good plugin"});
    CHECK(t.phrases == std::vector<std::string>{"run the test plugin"});
    CHECK(t.priority == k_plugin_trigger_priority);
    REQUIRE(t.arguments);
    const auto args = t.arguments("Run the test plugin.", "run the test plugin");
    REQUIRE(args.has_value());
    CHECK(*args == json{{"mode", "say"}, {"who", "caller"}});
    // The tool carries them too, and its arguments run the plugin.
    const auto found = std::find_if(fixtures().tools.begin(), fixtures().tools.end(),
                                    [](const tool& candidate) { return candidate.name == "good"; });
    REQUIRE(found != fixtures().tools.end());
    const tool& as_tool = *found;
    REQUIRE(as_tool.triggers.size() == 1);
    const tool_result r = as_tool.run(*as_tool.triggers[0].arguments("", ""), tool_context{});
    CHECK_FALSE(r.error);
    CHECK(r.text == "Hello, caller!");
}

TEST_CASE("bad plugin manifests are reported one line each and skipped while the others load", "[plugins]") {
    temp_dir tmp;
    const fs::path& root = tmp.path();
    struct bad_case {
        std::string dir;
        std::string expected;  // in the error line
    };
    std::vector<bad_case> bad;
    auto add_bad = [&](const std::string& dir, const json& manifest, const std::string& expected, bool executable = true) {
        write_plugin(root, dir, manifest, executable);
        bad.push_back({dir, expected});
    };

    json m = manifest_named("x");
    m.erase("name");
    add_bad("a_missing_name", m, "\"name\" is missing");
    add_bad("b_bad_name", manifest_named("bad name!"), "must match ^[a-zA-Z0-9_-]{1,64}$");
    add_bad("b_long_name", manifest_named(std::string(65, 'n')), "must match");
    m = manifest_named("absolute");
    m["executable"] = "/bin/true";
    add_bad("c_absolute", m, "must be relative to the manifest's directory");
    m = manifest_named("dotdot");
    m["executable"] = "../ok/run.sh";
    add_bad("d_dotdot", m, "must not contain \"..\"");
    add_bad("e_not_executable", manifest_named("not_executable"), "is not executable", false);
    m = manifest_named("missing_exe");
    m["executable"] = "nope.sh";
    add_bad("f_missing_exe", m, "executable nope.sh: No such file or directory");
    add_bad("g_reserved", manifest_named("hang_up"), "name 'hang_up' is a built-in tool's");
    write_plugin(root, "h_twin_first", manifest_named("twin"));
    add_bad("h_twin_second", manifest_named("twin"), "name 'twin' is already taken by " +
                                                         (fs::canonical(root) / "h_twin_first" / "manifest.json").string());
    m = manifest_named("unknown_key");
    m["timout"] = 3;
    add_bad("j_unknown_key", m, "unknown key 'timout'");
    for (const json& t : {json(0), json(61), json("5"), json(-1)}) {
        m = manifest_named("timeout");
        m["timeout"] = t;
        add_bad("k_timeout_" + std::to_string(bad.size()), m, "\"timeout\" must be a number of seconds in (0, 60]");
    }
    for (const json& o : {json(0), json(2 * 1024 * 1024), json(1.5)}) {
        m = manifest_named("max_output");
        m["max_output"] = o;
        add_bad("l_max_output_" + std::to_string(bad.size()), m, "\"max_output\" must be a number of bytes");
    }
    m = manifest_named("array_params");
    m["parameters"] = {{"type", "array"}};
    add_bad("m_params_type", m, "must have \"type\": \"object\"");
    m["parameters"] = "object";
    add_bad("m_params_string", m, "\"parameters\" must be a JSON Schema object");
    m["parameters"] = {{"type", "object"}, {"properties", {{"x", {{"type", "text"}}}}}};
    add_bad("m_params_unknown_type", m, "property 'x' has an unknown \"type\"");
    m["parameters"] = {{"type", "object"}, {"properties", {{"x", {{"type", "string"}}}}}, {"required", {"y"}}};
    add_bad("n_required", m, "required property 'y' is not declared");
    m = manifest_named("triggers");
    m["triggers"] = {{{"keywords", {"roll"}}, {"phrases", {"roll 2 dice"}}}};
    add_bad("o_phrase_digits", m, "numbers spelled out");
    m["triggers"] = {{{"keywords", {"coin"}}, {"phrases", {"flip a penny"}}}};
    add_bad("p_phrase_no_keyword", m, "phrase \"flip a penny\" contains none of the trigger's keywords");
    m["triggers"] = {{{"keywords", {"Coin Flip"}}}};
    add_bad("p_keyword_case", m, "must be lower-case words");
    m["triggers"] = {{{"phrases", {"flip a coin"}}}};
    add_bad("p_no_keywords", m, "\"keywords\" must be a non-empty array");
    m["triggers"] = {{{"keywords", {"coin"}}, {"arguments", {{"count", "two"}}}}};
    m["parameters"] = {{"type", "object"}, {"properties", {{"count", {{"type", "integer"}}}}}};
    add_bad("q_trigger_args", m, "triggers[0]: argument 'count' must be an integer");
    m = manifest_named("outside");
    m["executable"] = "link";
    write_plugin(root, "r_symlink_out", m);
    fs::create_symlink("/bin/true", root / "r_symlink_out" / "link");
    bad.push_back({"r_symlink_out", "outside the plugins directory"});
    fs::create_directories(root / "s_no_manifest");
    bad.push_back({"s_no_manifest", "missing"});
    write_file(root / "t_not_object" / "manifest.json", "[]");
    bad.push_back({"t_not_object", "not a JSON object"});
    write_file(root / "i_bad_json" / "manifest.json", "{\"name\": ");
    bad.push_back({"i_bad_json", "not valid JSON"});
    m = manifest_named("no_description");
    m.erase("description");
    add_bad("u_no_description", m, "\"description\" must be a non-empty string");
    m = manifest_named("directory_exe");
    m["executable"] = ".";
    add_bad("v_directory_exe", m, "is not a regular file");

    // Good ones among them: a plain one, a symlink that stays inside, and a name with - and digits.
    write_plugin(root, "ok", manifest_named("ok"));
    m = manifest_named("inner-link2");
    m["executable"] = "link";
    write_plugin(root, "w_inner_link", m);
    fs::create_symlink("run.sh", root / "w_inner_link" / "link");
    // Ignored: files and hidden directories next to the plugins.
    write_file(root / "README.md", "# my plugins\n");
    write_plugin(root, ".disabled", manifest_named("hidden"));

    const plugin_load_result r = load_plugins(root, k_reserved);
    std::vector<std::string> names;
    for (const auto& loaded : r.manifests) names.push_back(loaded.name);
    CHECK(names == std::vector<std::string>{"twin", "ok", "inner-link2"});
    CHECK(r.tools.size() == 3);
    CHECK(r.manifests[2].executable == fs::canonical(root / "w_inner_link" / "run.sh"));

    INFO(json(r.errors).dump(2));
    CHECK(r.errors.size() == bad.size());
    for (const auto& b : bad) {
        const std::string file = (fs::canonical(root) / b.dir / "manifest.json").string();
        const auto line = std::find_if(r.errors.begin(), r.errors.end(),
                                       [&](const std::string& e) { return e.rfind(file + ": ", 0) == 0; });
        INFO(b.dir);
        REQUIRE(line != r.errors.end());
        CHECK_THAT(*line, Catch::Contains(b.expected));
    }
}

TEST_CASE("a missing plugins directory is one error and an empty path is none", "[plugins]") {
    const plugin_load_result none = load_plugins("", k_reserved);
    CHECK(none.tools.empty());
    CHECK(none.errors.empty());
    const plugin_load_result missing = load_plugins("/nonexistent/sipvoice-plugins", k_reserved);
    CHECK(missing.tools.empty());
    REQUIRE(missing.errors.size() == 1);
    CHECK_THAT(missing.errors[0], Catch::StartsWith("/nonexistent/sipvoice-plugins: not a directory"));
}

// ---- arguments

TEST_CASE("plugin arguments are checked against the schema's top level", "[plugins]") {
    const json schema = fixture("good").parameters;
    struct check_case {
        json args;
        std::string expected;  // "" when they pass
    };
    const std::vector<check_case> cases = {
        {{{"mode", "say"}}, ""},
        {{{"mode", "say"}, {"count", 7}, {"ratio", 0.5}, {"loud", true}, {"who", "x"}}, ""},
        {{{"mode", "say"}, {"count", 7.0}}, ""},  // 7.0 is an integer in JSON Schema
        {{{"mode", "say"}, {"ratio", 2}}, ""},    // an integer is a number
        {{{"mode", "say"}, {"extra", "allowed"}}, ""},
        {json::object(), "argument 'mode' is required"},
        {{{"mode", 3}}, "argument 'mode' must be a string"},
        {{{"mode", "sing"}}, R"(argument 'mode' must be one of ["say","string","object","error","env"])"},
        {{{"mode", "say"}, {"count", "7"}}, "argument 'count' must be an integer"},
        {{{"mode", "say"}, {"count", 1.5}}, "argument 'count' must be an integer"},
        {{{"mode", "say"}, {"count", 101}}, "argument 'count' must be at most 100"},
        {{{"mode", "say"}, {"count", -1}}, "argument 'count' must be at least 0"},
        {{{"mode", "say"}, {"ratio", "half"}}, "argument 'ratio' must be a number"},
        {{{"mode", "say"}, {"loud", "yes"}}, "argument 'loud' must be a boolean"},
        {{{"mode", "say"}, {"loud", 1}}, "argument 'loud' must be a boolean"},
        {json::array({"say"}), "the arguments must be a JSON object"},
    };
    for (const auto& c : cases) {
        INFO(c.args.dump());
        CHECK(check_plugin_arguments(schema, c.args) == c.expected);
    }

    const json closed = {{"type", "object"},
                         {"properties", {{"note", {{"type", json::array({"string", "null"})}}}}},
                         {"additionalProperties", false}};
    CHECK(check_plugin_arguments(closed, {{"note", nullptr}}).empty());
    CHECK(check_plugin_arguments(closed, {{"note", "hi"}}).empty());
    CHECK(check_plugin_arguments(closed, {{"note", 3}}) == "argument 'note' must be a string or a null");
    CHECK(check_plugin_arguments(closed, {{"other", 3}}) == "unknown argument 'other'");
}

TEST_CASE("arguments that fail the schema are an error result and the plugin does not run", "[plugins]") {
    plugin_manifest m = fixture("good");
    // Were it started, this would fail as "cannot start".
    m.executable = "/nonexistent/good.py";
    const plugin_outcome o = run_plugin(m, {{"mode", "say"}, {"count", "seven"}});
    CHECK(o.result.error);
    CHECK(o.result.text == "good failed: argument 'count' must be an integer");
    CHECK(o.exit_status == -1);
    CHECK(o.took == 0ms);  // set only once a process was started
    CHECK(o.stderr_text.empty());

    // With valid arguments it is started, and fails (glibc reports the failed exec; under valgrind's
    // posix_spawn it is the child's exit status 127, as from a shell).
    const plugin_outcome started = run_plugin(m, {{"mode", "say"}});
    CHECK(started.result.error);
    CHECK_THAT(started.result.text, Catch::StartsWith("good failed: cannot start /nonexistent/good.py: ") ||
                                        Catch::Equals("good failed: it exited with status 127"));
}

// ---- running

TEST_CASE("a good plugin's say, result and error reach the model", "[plugins]") {
    const plugin_manifest& good = fixture("good");

    const plugin_outcome said = run_plugin(good, {{"mode", "say"}, {"who", "J\xC3\xBCrgen"}});
    CHECK_FALSE(said.result.error);
    CHECK(said.result.text == "Hello, J\xC3\xBCrgen!");
    CHECK(said.exit_status == 0);
    CHECK(said.term_signal == 0);
    CHECK_FALSE(said.timed_out);
    CHECK(said.took > 0ms);

    // A result string is given as it is, anything else as compact JSON.
    const plugin_outcome text = run_plugin(good, {{"mode", "string"}, {"count", 7}});
    CHECK_FALSE(text.result.error);
    CHECK(text.result.text == "count is 7");

    const json args = {{"mode", "object"}, {"count", 2}, {"who", "x"}};
    const plugin_outcome object = run_plugin(good, args);
    CHECK_FALSE(object.result.error);
    const json parsed = json::parse(object.result.text);
    CHECK(parsed == json{{"echo", args}, {"list", {1, 2, 3}}});
    CHECK(object.result.text == parsed.dump());

    const plugin_outcome refused = run_plugin(good, {{"mode", "error"}});
    CHECK(refused.result.error);
    CHECK(refused.result.text == "good failed: the answer is not known");
    CHECK(refused.exit_status == 0);
}

TEST_CASE("a plugin runs in its own directory with a minimal environment and no arguments", "[plugins]") {
    REQUIRE(::setenv("SIPVOICE_PLUGIN_TEST_SECRET", "hunter2", 1) == 0);
    const plugin_manifest& good = fixture("good");
    const plugin_outcome o = run_plugin(good, {{"mode", "env"}});
    ::unsetenv("SIPVOICE_PLUGIN_TEST_SECRET");
    REQUIRE_FALSE(o.result.error);
    const json seen = json::parse(o.result.text);
    INFO(seen.dump(2));
    CHECK(seen["cwd"] == good.directory.string());
    CHECK(seen["argv"] == json::array({good.executable.string()}));
    const json& env = seen["env"];
    CHECK(env["PATH"] == "/usr/bin:/bin");
    CHECK(env["LANG"] == "C.UTF-8");
    for (const auto& [key, value] : env.items()) {
        INFO(key);
        CHECK((key == "PATH" || key == "LANG" || key == "TZ"));
    }
    CHECK_FALSE(env.contains("SIPVOICE_PLUGIN_TEST_SECRET"));
}

TEST_CASE("a plugin tool goes through the tool registry like a built-in", "[plugins]") {
    tool_registry registry;
    registry.add(make_plugin_tool(fixture("good")));
    const tool_context ctx;
    const tool_result ok = registry.call("good", R"({"mode": "say", "who": "Bob"})", ctx);
    CHECK_FALSE(ok.error);
    CHECK(ok.text == "Hello, Bob!");
    const tool_result bad = registry.call("good", R"({"who": "Bob"})", ctx);
    CHECK(bad.error);
    CHECK(bad.text == "good failed: argument 'mode' is required");
    const json offered = registry.openai_tools();
    REQUIRE(offered.size() == 1);
    CHECK(offered[0]["function"]["name"] == "good");
    CHECK(offered[0]["function"]["parameters"] == fixture("good").parameters);
}

TEST_CASE("a plugin past its time limit is killed with its process group and reaped", "[plugins]") {
    const plugin_outcome o = run_plugin(fixture("slow"), json::object());
    CHECK(o.timed_out);
    CHECK(o.result.error);
    CHECK_THAT(o.result.text, Catch::StartsWith("slow failed: it took longer than its time limit of 0.3 s"));
    CHECK(o.term_signal == SIGKILL);
    CHECK(o.exit_status == -1);
    // At the limit, not at the end of the plugin's 30 s sleep (the bound is loose for a busy machine).
    CHECK(o.took >= 300ms);
    CHECK(o.took < 10s);
    check_plugin_and_child_gone(o.stderr_text);
}

TEST_CASE("a stop request (the turn given up) kills a running plugin and its group before its limit", "[plugins]") {
    // The slow fixture's script with a limit of 20 s: only the stop can end it early.
    temp_dir dir;
    write_file(dir.path() / "patient" / "manifest.json",
               json{{"name", "patient"}, {"description", "Sleeps far longer than a turn."}, {"executable", "slow.sh"}, {"timeout", 20}}.dump());
    write_file(dir.path() / "patient" / "slow.sh", "#!/bin/sh\nsleep 30 &\necho \"pids $$ $!\" >&2\nwait\n", true);
    const plugin_load_result loaded = load_plugins(dir.path(), k_reserved);
    REQUIRE(loaded.errors.empty());
    REQUIRE(loaded.manifests.size() == 1);

    std::stop_source stop;
    std::thread barge_in([&] {
        std::this_thread::sleep_for(300ms);
        stop.request_stop();
    });
    const plugin_outcome o = run_plugin(loaded.manifests[0], json::object(), stop.get_token());
    barge_in.join();
    CHECK(o.stopped);
    CHECK_FALSE(o.timed_out);
    CHECK(o.result.error);
    CHECK_THAT(o.result.text, Catch::StartsWith("patient failed: it was stopped"));
    CHECK(o.term_signal == SIGKILL);
    CHECK(o.took < 20s);  // not run to its limit (the bound is loose for a busy machine)
    check_plugin_and_child_gone(o.stderr_text);

    // Through the tool: the context's stop token reaches the plugin; one already requested stops it
    // before it can answer.
    const tool t = make_plugin_tool(loaded.manifests[0]);
    std::stop_source already;
    already.request_stop();
    tool_context ctx;
    ctx.stop = already.get_token();
    const tool_result r = t.run(json::object(), ctx);
    CHECK(r.error);
    CHECK_THAT(r.text, Catch::StartsWith("patient failed: it was stopped"));
}

TEST_CASE("a plugin's child left holding stdout open neither holds up the answer nor outlives it", "[plugins]") {
    const plugin_outcome o = run_plugin(fixture("orphan"), json::object());
    CHECK_FALSE(o.result.error);
    CHECK(o.result.text == "I left a child behind.");
    CHECK_FALSE(o.timed_out);  // its limit is 3 s; the child would sleep for 30
    CHECK(o.exit_status == 0);
    const std::vector<pid_t> pids = numbers_in(o.stderr_text);
    INFO(o.stderr_text);
    REQUIRE(pids.size() == 1);
    CHECK(process_ended(pids[0]));
}

TEST_CASE("a plugin that prints garbage is an error for the model", "[plugins]") {
    const plugin_outcome o = run_plugin(fixture("garbage"), json::object());
    CHECK(o.result.error);
    CHECK(o.result.text == R"(garbage failed: its output is not JSON: Hello! I am not JSON, {"say": "almost")");
    CHECK(o.exit_status == 0);
}

TEST_CASE("every plugin reply other than one object with one of say, result, error is refused", "[plugins]") {
    const plugin_manifest& raw = fixture("raw");
    struct reply_case {
        std::string stdout_text;
        bool error;
        std::string text;
    };
    const std::vector<reply_case> cases = {
        {"", true, "raw failed: it printed nothing (expected one JSON object on stdout)"},
        {"  \n\n", true, "raw failed: it printed nothing (expected one JSON object on stdout)"},
        {"[1, 2]", true, "raw failed: its output is not a JSON object"},
        {"\"just a string\"", true, "raw failed: its output is not a JSON object"},
        {R"({"answer": 42})", true, R"(raw failed: its output has none of "say", "result" and "error")"},
        {R"({"say": "a", "result": 1})", true, R"(raw failed: its output has more than one of "say", "result" and "error")"},
        {R"({"say": 5})", true, R"(raw failed: "say" must be a string)"},
        {R"({"say": "one"} {"say": "two"})", true, R"(raw failed: its output is not JSON: {"say": "one"} {"say": "two"})"},
        {"{\"say\": \"cut", true, "raw failed: its output is not JSON: {\"say\": \"cut"},
        {"\n  {\"say\": \"padded\"}  \n", false, "padded"},
        {R"({"result": null})", false, "null"},
        {R"({"result": 42})", false, "42"},
        {R"({"result": "plain"})", false, "plain"},
        {R"({"result": {"b": [1, 2], "a": "x"}})", false, R"({"a":"x","b":[1,2]})"},
        {R"({"say": "hi", "extra": true})", false, "hi"},  // other keys are ignored
        {R"({"error": {"code": 7}})", true, R"(raw failed: {"code":7})"},
    };
    for (const auto& c : cases) {
        INFO(c.stdout_text);
        const plugin_outcome o = run_plugin(raw, {{"stdout", c.stdout_text}});
        CHECK(o.exit_status == 0);
        CHECK(o.result.error == c.error);
        CHECK(o.result.text == c.text);
    }

    // Bytes that are not UTF-8 (raw.py writes U+0080..U+00FF as single bytes) never reach a message
    // as they are: the message must survive nlohmann::json::dump when it goes to the model.
    const plugin_outcome bytes = run_plugin(raw, {{"stdout", "\xC3\xBF\xC3\xBE oops"}, {"stderr", "\xC3\xBF bad\n"}});
    CHECK(bytes.result.error);
    CHECK_THAT(bytes.result.text, Catch::StartsWith("raw failed: its output is not JSON: "));
    CHECK(valid_utf8_json_text(bytes.result.text));
    CHECK(valid_utf8_json_text(bytes.stderr_text));
    CHECK_THAT(bytes.stderr_text, Catch::EndsWith(" bad\n"));
}

TEST_CASE("a plugin that exits non-zero fails with its stderr in the message", "[plugins]") {
    const plugin_outcome o = run_plugin(fixture("fails"), json::object());
    CHECK(o.result.error);
    CHECK(o.exit_status == 3);
    CHECK(o.term_signal == 0);
    // Its stdout is not taken: a failed run's answer is not trusted.
    CHECK(o.result.text == "fails failed: it exited with status 3: fails: checking the disk fails: the disk is on fire");
    CHECK(o.stderr_text == "fails: checking the disk\nfails: the disk is on fire\n");

    // A long stderr: its end in the message and in the outcome (where a traceback says what went
    // wrong), the last 4 KiB of it.
    const std::string long_err = std::string(10000, 'a') + "\nValueError: the real reason\n";
    const plugin_outcome l = run_plugin(fixture("raw"), {{"stdout", ""}, {"stderr", long_err}, {"status", 1}});
    CHECK(l.exit_status == 1);
    CHECK_THAT(l.result.text, Catch::StartsWith("raw failed: it exited with status 1: ..."));
    CHECK_THAT(l.result.text, Catch::EndsWith("aaa ValueError: the real reason"));
    CHECK(l.result.text.size() < 400);
    CHECK(l.stderr_text.size() == k_plugin_max_stderr);
    CHECK_THAT(l.stderr_text, Catch::EndsWith("aaa\nValueError: the real reason\n"));
}

TEST_CASE("a plugin killed by a signal fails with the signal in the message", "[plugins]") {
    const plugin_outcome o = run_plugin(fixture("crash"), json::object());
    CHECK(o.result.error);
    CHECK(o.term_signal == SIGTERM);
    CHECK(o.exit_status == -1);
    CHECK_FALSE(o.timed_out);
    CHECK_THAT(o.result.text, Catch::StartsWith("crash failed: it was killed by signal " + std::to_string(SIGTERM) + " (Terminated)"));
}

TEST_CASE("a plugin that prints too much is stopped at max_output", "[plugins]") {
    const plugin_outcome o = run_plugin(fixture("big"), json::object());
    CHECK(o.result.error);
    CHECK(o.result.text == "big failed: its output is larger than 4096 bytes");
    CHECK_FALSE(o.timed_out);  // stopped by the limit, long before its 2 s
    CHECK(o.term_signal == SIGKILL);
}

TEST_CASE("a plugin that never reads stdin gets a large argument without a deadlock", "[plugins]") {
    // 1 MiB of arguments to a plugin that writes 100 kB and exits without reading any: the runner
    // must read while its write is pending, and the write's EPIPE must not raise SIGPIPE (which
    // would end this test program).
    const std::string filler(1024 * 1024, 'f');
    const plugin_outcome o = run_plugin(fixture("deaf"), {{"filler", filler}});
    CHECK_FALSE(o.timed_out);
    CHECK(o.exit_status == 0);
    REQUIRE_FALSE(o.result.error);
    CHECK(o.result.text == std::string(100000, 'x'));
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    CHECK(sigismember(&pending, SIGPIPE) == 0);
}

TEST_CASE("plugins run from several threads at once", "[plugins]") {
    std::vector<std::thread> threads;
    std::vector<std::string> texts(4);
    for (std::size_t i = 0; i < texts.size(); ++i) {
        threads.emplace_back([i, &texts] {
            const auto& m = i % 2 == 0 ? fixture("good") : fixture("deaf");
            const json args = i % 2 == 0 ? json{{"mode", "say"}, {"who", std::to_string(i)}} : json::object();
            texts[i] = run_plugin(m, args).result.text;
        });
    }
    for (auto& t : threads) t.join();
    CHECK(texts[0] == "Hello, 0!");
    CHECK(texts[1] == std::string(100000, 'x'));
    CHECK(texts[2] == "Hello, 2!");
    CHECK(texts[3] == std::string(100000, 'x'));
}

// ---- the shipped examples

TEST_CASE("the example plugins load and run", "[plugins]") {
    const plugin_load_result r = load_plugins(fs::path(SIPVOICE_AGENT_SOURCE_DIR) / "plugins", k_reserved);
    INFO(json(r.errors).dump(2));
    REQUIRE(r.errors.empty());
    REQUIRE(r.manifests.size() == 2);
    const plugin_manifest& coin = r.manifests[0];
    const plugin_manifest& dice = r.manifests[1];
    REQUIRE(coin.name == "coin_flip");
    REQUIRE(dice.name == "roll_dice");

    const plugin_outcome one = run_plugin(dice, json::object());
    REQUIRE_FALSE(one.result.error);
    CHECK(std::regex_match(one.result.text, std::regex(R"(You rolled an? [1-6]\.)")));

    const plugin_outcome three = run_plugin(dice, {{"sides", 20}, {"count", 3}});
    REQUIRE_FALSE(three.result.error);
    std::smatch parts;
    REQUIRE(std::regex_match(three.result.text, parts,
                             std::regex(R"(You rolled (\d+), (\d+) and (\d+) on 20-sided dice, for a total of (\d+)\.)")));
    int sum = 0;
    for (int i = 1; i <= 3; ++i) {
        const int roll = std::stoi(parts[static_cast<std::size_t>(i)].str());
        CHECK(roll >= 1);
        CHECK(roll <= 20);
        sum += roll;
    }
    CHECK(std::stoi(parts[4].str()) == sum);

    CHECK(run_plugin(dice, {{"sides", 1}}).result.text == "roll_dice failed: argument 'sides' must be at least 2");
    CHECK(run_plugin(dice, {{"colour", "red"}}).result.text == "roll_dice failed: unknown argument 'colour'");

    const plugin_outcome flip = run_plugin(coin, json::object());
    REQUIRE_FALSE(flip.result.error);
    CHECK((flip.result.text == "Heads." || flip.result.text == "Tails."));
    const plugin_outcome flips = run_plugin(coin, {{"count", 4}});
    REQUIRE_FALSE(flips.result.error);
    REQUIRE(std::regex_match(flips.result.text, parts,
                             std::regex(R"(((?:Heads|Tails)(?:, (?:heads|tails)){3}): (\d) heads? and (\d) tails?\.)")));
    const std::string sides = parts[1].str();
    const auto count = [&](const char* word) {
        std::string lower = sides;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        int n = 0;
        for (auto at = lower.find(word); at != std::string::npos; at = lower.find(word, at + 1)) ++n;
        return n;
    };
    CHECK(std::stoi(parts[2].str()) == count("heads"));
    CHECK(std::stoi(parts[3].str()) == count("tails"));
}

TEST_CASE("the example plugins' phrases fire their triggers and are dictionary words", "[plugins]") {
    const plugin_load_result r = load_plugins(fs::path(SIPVOICE_AGENT_SOURCE_DIR) / "plugins", k_reserved);
    REQUIRE(r.errors.empty());
    std::set<std::string> words;
    for (const auto& m : r.manifests) {
        REQUIRE_FALSE(m.triggers.empty());
        for (const auto& t : m.triggers) {
            CHECK(t.priority == k_plugin_trigger_priority);
            REQUIRE(t.arguments);
            const auto args = t.arguments("", "");
            REQUIRE(args.has_value());
            CHECK(check_plugin_arguments(m.parameters, *args).empty());
            for (const auto& p : t.phrases) {
                INFO(p);
                const std::string padded = " " + p + " ";
                CHECK(std::any_of(t.keywords.begin(), t.keywords.end(),
                                  [&](const std::string& k) { return padded.find(" " + k + " ") != std::string::npos; }));
                std::istringstream split(p);
                for (std::string w; split >> w;) words.insert(w);
            }
        }
    }
    CHECK(*r.manifests[1].triggers[1].arguments("", "") == json{{"count", 2}});

    // What the offline recognizer can hear: every word of a phrase in pocketsphinx's dictionary.
    const auto& known = offline_dictionary_words();
    REQUIRE_FALSE(known.empty());
    for (const auto& w : words) {
        INFO(w);
        CHECK(known.count(w) == 1);
    }
}
