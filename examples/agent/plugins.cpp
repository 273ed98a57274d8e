#include "plugins.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>

namespace sipvoice::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using steady = std::chrono::steady_clock;

// ---- text for messages: whatever bytes a plugin wrote must become valid UTF-8 before it reaches a
// JSON message (nlohmann::json::dump throws on invalid UTF-8), and one line before it reaches a log.

// The length of the valid UTF-8 sequence at s[i], or 0 when the byte there does not start one.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) return 1;
    std::size_t n = 0;
    unsigned min = 0;
    unsigned cp = 0;
    if ((b & 0xE0) == 0xC0) {
        n = 2;
        min = 0x80;
        cp = b & 0x1Fu;
    } else if ((b & 0xF0) == 0xE0) {
        n = 3;
        min = 0x800;
        cp = b & 0x0Fu;
    } else if ((b & 0xF8) == 0xF0) {
        n = 4;
        min = 0x10000;
        cp = b & 0x07u;
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        const auto c = static_cast<unsigned char>(s[i + k]);
        if ((c & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (c & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;  // overlong, too big, surrogate
    return n;
}

// `s` with every invalid byte replaced by U+FFFD; with one_line, control characters and runs of
// white space become one space and the ends are trimmed.
std::string clean_text(std::string_view s, bool one_line) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = utf8_sequence(s, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
            continue;
        }
        const auto b = static_cast<unsigned char>(s[i]);
        if (one_line && (b < 0x20 || b == 0x7F)) {
            if (!out.empty() && out.back() != ' ') out += ' ';
        } else if (one_line && b == ' ') {
            if (!out.empty() && out.back() != ' ') out += ' ';
        } else {
            out.append(s.substr(i, n));
        }
        i += n;
    }
    if (one_line && !out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

bool utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The first `max` bytes of valid UTF-8 text, cut at a character boundary, with "..." when cut.
std::string head(const std::string& s, std::size_t max) {
    if (s.size() <= max) return s;
    std::size_t cut = max;
    while (cut > 0 && utf8_continuation(s[cut])) --cut;
    return s.substr(0, cut) + "...";
}

// The last `max` bytes: a traceback's last line says what went wrong.
std::string tail(const std::string& s, std::size_t max) {
    if (s.size() <= max) return s;
    std::size_t from = s.size() - max;
    while (from < s.size() && utf8_continuation(s[from])) ++from;
    return "..." + s.substr(from);
}

// 300 ms -> "0.3", 5000 ms -> "5", 1250 ms -> "1.25".
std::string seconds_text(std::chrono::milliseconds ms) {
    const auto count = ms.count();
    std::string s = std::to_string(count / 1000);
    if (const auto frac = count % 1000; frac != 0) {
        std::string digits = std::to_string(frac);
        digits.insert(0, 3 - digits.size(), '0');
        while (digits.back() == '0') digits.pop_back();
        s += "." + digits;
    }
    return s;
}

tool_result failure(const std::string& name, const std::string& reason) {
    return {name + " failed: " + reason, true, false};
}

// ---- argument checking (the schema's top level)

const std::set<std::string, std::less<>> k_json_types = {"string", "number", "integer", "boolean",
                                                         "object", "array",  "null"};

bool has_type(const json& v, std::string_view type) {
    if (type == "string") return v.is_string();
    if (type == "boolean") return v.is_boolean();
    if (type == "object") return v.is_object();
    if (type == "array") return v.is_array();
    if (type == "null") return v.is_null();
    if (type == "number") return v.is_number();
    if (type == "integer") {
        if (v.is_number_integer()) return true;
        // JSON Schema counts 3.0 as an integer, and models do write it.
        if (!v.is_number_float()) return false;
        const double d = v.get<double>();
        return std::isfinite(d) && std::floor(d) == d;
    }
    return false;
}

// "an integer", "a string or null".
std::string type_phrase(const json& type) {
    auto one = [](const std::string& t) {
        return (t == "integer" || t == "object" || t == "array") ? "an " + t : "a " + t;
    };
    if (type.is_string()) return one(type.get<std::string>());
    std::string out;
    for (std::size_t i = 0; i < type.size(); ++i) {
        if (i > 0) out += i + 1 == type.size() ? " or " : ", ";
        out += type[i].is_string() ? one(type[i].get<std::string>()) : "?";
    }
    return out;
}

std::string check_property(const std::string& key, const json& prop, const json& value) {
    if (prop.contains("type")) {
        const json& type = prop["type"];
        bool ok = false;
        if (type.is_string()) {
            ok = has_type(value, type.get<std::string>());
        } else if (type.is_array()) {
            for (const auto& t : type) ok = ok || (t.is_string() && has_type(value, t.get<std::string>()));
        } else {
            ok = true;  // not a type the loader would accept; nothing to hold the value to
        }
        if (!ok) return "argument '" + key + "' must be " + type_phrase(type);
    }
    if (prop.contains("enum") && prop["enum"].is_array()) {
        const json& options = prop["enum"];
        if (std::find(options.begin(), options.end(), value) == options.end())
            return "argument '" + key + "' must be one of " + options.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    if (value.is_number()) {
        const double v = value.get<double>();
        if (prop.contains("minimum") && prop["minimum"].is_number() && v < prop["minimum"].get<double>())
            return "argument '" + key + "' must be at least " + prop["minimum"].dump();
        if (prop.contains("maximum") && prop["maximum"].is_number() && v > prop["maximum"].get<double>())
            return "argument '" + key + "' must be at most " + prop["maximum"].dump();
    }
    return {};
}

// ---- the manifest

const std::set<std::string, std::less<>> k_manifest_keys = {"name",    "description", "parameters", "executable",
                                                            "timeout", "max_output",  "triggers"};
const std::set<std::string, std::less<>> k_trigger_keys = {"keywords", "phrases", "arguments"};

bool valid_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

// The normalized form of tools.hpp: words of a-z, 0-9 and inner apostrophes, one space apart.
// Phrases are what the offline recognizer is biased towards, and it knows only dictionary words:
// no digits there ("five", not "5").
bool normalized_words(std::string_view s, bool digits_allowed) {
    if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
    char prev = ' ';
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        const bool letter = (c >= 'a' && c <= 'z') || (digits_allowed && c >= '0' && c <= '9');
        if (c == ' ') {
            if (prev == ' ') return false;
        } else if (c == '\'') {
            const bool inner = prev != ' ' && prev != '\'' && i + 1 < s.size() && s[i + 1] != ' ' && s[i + 1] != '\'';
            if (!inner) return false;
        } else if (!letter) {
            return false;
        }
        prev = c;
    }
    return true;
}

bool fires(std::string_view phrase, std::string_view keyword) {
    const std::string text = " " + std::string(phrase) + " ";
    return text.find(" " + std::string(keyword) + " ") != std::string::npos;
}

// "" when `schema` is an object schema the runner can hold arguments to.
std::string check_schema(json& schema) {
    if (!schema.is_object()) return "\"parameters\" must be a JSON Schema object";
    if (!schema.contains("type")) schema["type"] = "object";  // the OpenAI tools API insists on it
    if (schema["type"] != "object") return "\"parameters\" must have \"type\": \"object\"";
    if (!schema.contains("properties")) schema["properties"] = json::object();
    const json& props = schema["properties"];
    if (!props.is_object()) return "\"parameters.properties\" must be an object";
    for (const auto& [key, prop] : props.items()) {
        if (!prop.is_object()) return "property '" + key + "' must be a schema object";
        if (!prop.contains("type")) continue;
        const json& type = prop["type"];
        const bool known = type.is_string() ? k_json_types.count(type.get<std::string>()) > 0
                         : type.is_array()  ? !type.empty() && std::all_of(type.begin(), type.end(), [](const json& t) {
                                                 return t.is_string() && k_json_types.count(t.get<std::string>()) > 0;
                                             })
                                            : false;
        if (!known) return "property '" + key + "' has an unknown \"type\" " + type.dump();
    }
    if (schema.contains("required")) {
        const json& required = schema["required"];
        if (!required.is_array()) return "\"parameters.required\" must be an array of property names";
        for (const auto& r : required) {
            if (!r.is_string()) return "\"parameters.required\" must be an array of property names";
            // A required name that is not declared is a typo the model could never satisfy.
            if (!props.contains(r.get<std::string>())) return "required property '" + r.get<std::string>() + "' is not declared";
        }
    }
    return {};
}

std::string check_executable(const json& value, const fs::path& plugin_dir, const fs::path& root, fs::path* out) {
    if (!value.is_string() || value.get<std::string>().empty()) return "\"executable\" must be a non-empty string";
    const fs::path rel(value.get<std::string>());
    if (rel.is_absolute()) return "\"executable\" must be relative to the manifest's directory, not " + rel.string();
    for (const auto& part : rel)
        if (part == "..") return "\"executable\" must not contain \"..\": " + rel.string();
    std::error_code ec;
    const fs::path resolved = fs::canonical(plugin_dir / rel, ec);
    if (ec) return "executable " + rel.string() + ": " + ec.message();
    // Symlinks resolved: a link out of the plugins directory would run a program nobody installed as
    // a plugin.
    const fs::path inside = resolved.lexically_relative(root);
    if (inside.empty() || *inside.begin() == "..")
        return "executable " + rel.string() + " resolves to " + resolved.string() + ", outside the plugins directory";
    if (!fs::is_regular_file(resolved, ec)) return "executable " + rel.string() + " is not a regular file";
    if (::access(resolved.c_str(), X_OK) != 0) return "executable " + rel.string() + " is not executable (chmod +x)";
    *out = resolved;
    return {};
}

std::string check_triggers(const json& value, const json& schema, std::vector<trigger>* out) {
    if (!value.is_array()) return "\"triggers\" must be an array";
    for (std::size_t i = 0; i < value.size(); ++i) {
        const json& t = value[i];
        const std::string where = "triggers[" + std::to_string(i) + "]";
        if (!t.is_object()) return where + " must be an object";
        for (const auto& [key, v] : t.items())
            if (k_trigger_keys.count(key) == 0) return where + ": unknown key '" + key + "'";
        trigger tr;
        tr.priority = k_plugin_trigger_priority;
        if (!t.contains("keywords") || !t["keywords"].is_array() || t["keywords"].empty())
            return where + ": \"keywords\" must be a non-empty array";
        for (const auto& k : t["keywords"]) {
            if (!k.is_string() || !normalized_words(k.get<std::string>(), true))
                return where + ": keyword " + k.dump() + " must be lower-case words one space apart";
            tr.keywords.push_back(k.get<std::string>());
        }
        if (t.contains("phrases")) {
            if (!t["phrases"].is_array()) return where + ": \"phrases\" must be an array";
            for (const auto& p : t["phrases"]) {
                if (!p.is_string() || !normalized_words(p.get<std::string>(), false))
                    return where + ": phrase " + p.dump() + " must be lower-case words one space apart, numbers spelled out";
                const std::string phrase = p.get<std::string>();
                if (std::none_of(tr.keywords.begin(), tr.keywords.end(), [&](const std::string& k) { return fires(phrase, k); }))
                    return where + ": phrase \"" + phrase + "\" contains none of the trigger's keywords";
                tr.phrases.push_back(phrase);
            }
        }
        json args = t.contains("arguments") ? t["arguments"] : json::object();
        if (!args.is_object()) return where + ": \"arguments\" must be an object";
        if (const std::string bad = check_plugin_arguments(schema, args); !bad.empty()) return where + ": " + bad;
        tr.arguments = [args](std::string_view, std::string_view) -> std::optional<json> { return args; };
        out->push_back(std::move(tr));
    }
    return {};
}

std::optional<json> read_json_file(const fs::path& file, std::string* error) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        *error = "cannot open: " + std::string(std::strerror(errno));
        return std::nullopt;
    }
    std::string text;
    std::array<char, 4096> buf{};
    while (in.read(buf.data(), buf.size()) || in.gcount() > 0) {
        text.append(buf.data(), static_cast<std::size_t>(in.gcount()));
        if (text.size() > k_plugin_max_manifest) {
            *error = "larger than " + std::to_string(k_plugin_max_manifest) + " bytes";
            return std::nullopt;
        }
    }
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) {
        *error = "not valid JSON";
        return std::nullopt;
    }
    return j;
}

// One manifest, or the reason it is refused.
std::optional<plugin_manifest> parse_manifest(const fs::path& file, const fs::path& root, std::string* error) {
    std::optional<json> doc = read_json_file(file, error);
    if (!doc) return std::nullopt;
    json& j = *doc;
    auto refuse = [&](std::string reason) -> std::optional<plugin_manifest> {
        *error = std::move(reason);
        return std::nullopt;
    };
    if (!j.is_object()) return refuse("not a JSON object");
    for (const auto& [key, v] : j.items())
        if (k_manifest_keys.count(key) == 0) return refuse("unknown key '" + key + "'");

    plugin_manifest m;
    m.directory = file.parent_path();
    if (!j.contains("name") || !j["name"].is_string()) return refuse("\"name\" is missing");
    m.name = j["name"].get<std::string>();
    if (!valid_name(m.name)) return refuse("\"name\" must match ^[a-zA-Z0-9_-]{1,64}$, not " + j["name"].dump());
    if (!j.contains("description") || !j["description"].is_string() || j["description"].get<std::string>().empty())
        return refuse("\"description\" must be a non-empty string");
    m.description = j["description"].get<std::string>();
    m.parameters = j.contains("parameters") ? j["parameters"] : json{{"type", "object"}, {"properties", json::object()}};
    if (std::string bad = check_schema(m.parameters); !bad.empty()) return refuse(std::move(bad));
    if (!j.contains("executable")) return refuse("\"executable\" is missing");
    if (std::string bad = check_executable(j["executable"], m.directory, root, &m.executable); !bad.empty())
        return refuse(std::move(bad));
    if (j.contains("timeout")) {
        const json& t = j["timeout"];
        const double max_s = static_cast<double>(k_plugin_max_timeout.count()) / 1000.0;
        if (!t.is_number() || !(t.get<double>() > 0) || t.get<double>() > max_s)
            return refuse("\"timeout\" must be a number of seconds in (0, " + seconds_text(k_plugin_max_timeout) + "]");
        m.timeout = std::max(std::chrono::milliseconds{1},
                             std::chrono::milliseconds{std::llround(t.get<double>() * 1000.0)});
    }
    if (j.contains("max_output")) {
        const json& o = j["max_output"];
        if (!o.is_number_unsigned() || o.get<std::size_t>() < 1 || o.get<std::size_t>() > k_plugin_max_output_limit)
            return refuse("\"max_output\" must be a number of bytes in [1, " + std::to_string(k_plugin_max_output_limit) + "]");
        m.max_output = o.get<std::size_t>();
    }
    if (j.contains("triggers"))
        if (std::string bad = check_triggers(j["triggers"], m.parameters, &m.triggers); !bad.empty())
            return refuse(std::move(bad));
    return m;
}

// ---- the runner

class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) : fd_(fd) {}
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }
    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] bool open() const noexcept { return fd_ >= 0; }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

struct pipe_pair {
    unique_fd read;
    unique_fd write;
};

// A descriptor numbered 3 or above. An agent started with stdin, stdout or stderr closed gets one
// of those numbers for a new pipe, and then the plugin's dup2 onto 0, 1 and 2 would overwrite one
// pipe end with another.
int above_stdio(int fd) {
    if (fd < 0 || fd > STDERR_FILENO) return fd;
    const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    ::close(fd);
    return moved;
}

// O_CLOEXEC: another thread of the agent may start a process at the same moment, and a copy of a
// pipe's write end in that process would keep our read end from ever seeing end of file.
bool make_pipe(pipe_pair* p) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    p->read.reset(above_stdio(fds[0]));
    p->write.reset(above_stdio(fds[1]));
    return p->read.open() && p->write.open();
}

void set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// A write to a pipe whose reader is gone raises SIGPIPE, whose default action ends the whole agent.
// It is directed at the writing thread, so blocking it on this thread for the write is enough, and
// one that our write raised is taken off the pending set before it is unblocked. The process-wide
// disposition stays as the application set it.
ssize_t write_without_sigpipe(int fd, const char* data, std::size_t size) {
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    const ssize_t n = ::write(fd, data, size);
    const int saved = errno;
    if (n < 0 && saved == EPIPE && !was_pending) {
        const timespec zero{};
        while (sigtimedwait(&pipe_only, nullptr, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    errno = saved;
    return n;
}

// Reads what is there; false at end of file or on an error. `*total` counts everything read. Of
// what is read, `out` keeps the first `keep` bytes (stdout: anything beyond max_output is refused
// anyway), or with keep_tail the last `keep` (stderr: a traceback or a shell's "set -e" message ends
// with what went wrong). The rest is read and dropped so that the writer never blocks on a full pipe.
bool drain(int fd, std::string* out, std::size_t keep, bool keep_tail, std::size_t* total) {
    std::array<char, 16384> buf{};
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n > 0) {
            const auto got = static_cast<std::size_t>(n);
            *total += got;
            if (keep_tail) {
                out->append(buf.data(), got);
                if (out->size() > keep) out->erase(0, out->size() - keep);
            } else if (out->size() < keep) {
                out->append(buf.data(), std::min(got, keep - out->size()));
            }
            continue;
        }
        if (n == 0) return false;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK;
    }
}

class spawn_setup {
public:
    spawn_setup() {
        ok_ = posix_spawn_file_actions_init(&actions_) == 0;
        attr_ok_ = posix_spawnattr_init(&attr_) == 0;
    }
    ~spawn_setup() {
        if (ok_) posix_spawn_file_actions_destroy(&actions_);
        if (attr_ok_) posix_spawnattr_destroy(&attr_);
    }
    spawn_setup(const spawn_setup&) = delete;
    spawn_setup& operator=(const spawn_setup&) = delete;

    // 0 or an errno value.
    int prepare(int in, int out, int err, const char* cwd) {
        if (!ok_ || !attr_ok_) return ENOMEM;
        if (int e = posix_spawn_file_actions_adddup2(&actions_, in, STDIN_FILENO); e != 0) return e;
        if (int e = posix_spawn_file_actions_adddup2(&actions_, out, STDOUT_FILENO); e != 0) return e;
        if (int e = posix_spawn_file_actions_adddup2(&actions_, err, STDERR_FILENO); e != 0) return e;
        // Descriptors the agent opened without O_CLOEXEC (or a library did) stay out of the plugin.
        if (int e = posix_spawn_file_actions_addclosefrom_np(&actions_, 3); e != 0) return e;
        if (int e = posix_spawn_file_actions_addchdir_np(&actions_, cwd); e != 0) return e;
        // A group of its own: the time limit kills everything the plugin started, not only itself.
        if (int e = posix_spawnattr_setpgroup(&attr_, 0); e != 0) return e;
        // The calling thread may block signals, and the agent may ignore some (SIGPIPE): the plugin
        // starts with an empty mask and default actions, as a program started from a shell would.
        sigset_t none;
        sigemptyset(&none);
        if (int e = posix_spawnattr_setsigmask(&attr_, &none); e != 0) return e;
        sigset_t all;
        sigfillset(&all);
        sigdelset(&all, SIGKILL);
        sigdelset(&all, SIGSTOP);
        if (int e = posix_spawnattr_setsigdefault(&attr_, &all); e != 0) return e;
        const short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
        return posix_spawnattr_setflags(&attr_, flags);
    }
    [[nodiscard]] const posix_spawn_file_actions_t* actions() const { return &actions_; }
    [[nodiscard]] const posix_spawnattr_t* attr() const { return &attr_; }

private:
    posix_spawn_file_actions_t actions_{};
    posix_spawnattr_t attr_{};
    bool ok_ = false;
    bool attr_ok_ = false;
};

// The plugin's whole environment. The agent's own holds API keys and tokens.
std::vector<std::string> plugin_environment() {
    std::vector<std::string> env = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8"};
    // The time zone is not a secret, and a plugin that speaks times should agree with the agent.
    if (const char* tz = std::getenv("TZ"); tz != nullptr) env.push_back(std::string("TZ=") + tz);
    return env;
}

// The started plugin, reaped on every path out of run_plugin (an exception included): a child
// that is never waited for stays a zombie for as long as the agent runs.
class child_process {
public:
    explicit child_process(pid_t pid) : pid_(pid) {}
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    ~child_process() { kill_and_reap(); }

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    [[nodiscard]] bool ended() const noexcept { return reaped_; }
    [[nodiscard]] int status() const noexcept { return status_; }

    // Has the plugin ended? Looked at without reaping it (WNOWAIT): while it is a zombie its pid, and
    // so its process group id, cannot be reused, so the group can be killed without hitting a
    // stranger. Then the rest of its group is killed (what it left behind would hold our pipes open,
    // or run on after the call) and it is reaped.
    void check() noexcept {
        if (reaped_) return;
        siginfo_t info{};
        int r = 0;
        do {
            r = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
        } while (r < 0 && errno == EINTR);
        if (r < 0) {  // ECHILD: reaped behind our back (SIGCHLD ignored); there is no status to get
            reaped_ = true;
            return;
        }
        if (info.si_pid == 0) return;  // still running
        kill_and_reap();
    }

    // The time limit or too much output: the whole group goes, then the plugin is reaped. SIGKILL
    // cannot be caught, so the wait is short.
    void kill_and_reap() noexcept {
        if (reaped_) return;
        ::kill(-pid_, SIGKILL);
        int r = 0;
        do {
            r = ::waitpid(pid_, &status_, 0);
        } while (r < 0 && errno == EINTR);
        if (r < 0) status_ = 0;
        reaped_ = true;
    }

private:
    pid_t pid_;
    bool reaped_ = false;
    int status_ = 0;
};

struct exchange {
    std::string out;
    std::string err;
    std::size_t out_total = 0;
    std::size_t err_total = 0;
    bool timed_out = false;
    bool too_large = false;
    bool stopped = false;
};

// A descriptor that polls readable when the process ends (Linux 5.3), or -1. Through syscall():
// glibc 2.36's <sys/pidfd.h> declares pidfd_open without extern "C", so C++ cannot link it.
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
    (void)pid;
    return -1;
#endif
}

// Writes `input` to the plugin and reads its stdout and stderr until both are closed and it has
// ended, or until the deadline, the output limit, or a stop (`stopped`: readable once a stop was
// requested).
void converse(child_process& child, pipe_pair& in, pipe_pair& out, pipe_pair& err, const std::string& input,
              std::size_t max_output, steady::time_point deadline, const unique_fd& stopped, exchange& x) {
    set_nonblocking(in.write.get());
    set_nonblocking(out.read.get());
    set_nonblocking(err.read.get());
    // Wakes poll() when the plugin ends; without it (a kernel older than 5.3) the loop looks every
    // 10 ms.
    const unique_fd pidfd(open_pidfd(child.pid()));
    std::size_t written = 0;

    for (;;) {
        child.check();
        if (child.ended()) in.write.reset();  // nobody will read it
        if (child.ended() && !out.read.open() && !err.read.open()) return;
        const auto now = steady::now();
        if (now >= deadline) {
            // A plugin that ended but left its pipes open in a process outside its group (setsid):
            // what it wrote before it ended is its answer.
            x.timed_out = !child.ended();
            return;
        }

        std::array<pollfd, 5> fds{};
        nfds_t count = 0;
        auto watch = [&](const unique_fd& fd, short events) -> pollfd* {
            if (!fd.open()) return nullptr;
            fds[count] = {fd.get(), events, 0};
            return &fds[count++];
        };
        const pollfd* in_ready = watch(in.write, POLLOUT);
        const pollfd* out_ready = watch(out.read, POLLIN);
        const pollfd* err_ready = watch(err.read, POLLIN);
        if (!child.ended()) watch(pidfd, POLLIN);  // only to wake up: child.check() looks at the plugin
        const pollfd* stop_ready = watch(stopped, POLLIN);
        auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
        if (!child.ended() && !pidfd.open()) wait = std::min<decltype(wait)>(wait, 10);
        if (::poll(fds.data(), count, static_cast<int>(wait)) < 0) {
            if (errno == EINTR) continue;
            x.timed_out = !child.ended();  // cannot wait any more: as good as the limit
            return;
        }
        if (stop_ready != nullptr && stop_ready->revents != 0 && !child.ended()) {
            x.stopped = true;
            return;
        }
        if (in_ready != nullptr && in_ready->revents != 0) {
            const ssize_t w = write_without_sigpipe(in.write.get(), input.data() + written, input.size() - written);
            if (w > 0) written += static_cast<std::size_t>(w);
            // EPIPE: it stopped reading (or never started); its answer is still read below. Closing
            // after the last byte is the end of file that tells it it has all of its arguments.
            const bool failed = w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
            if (failed || written == input.size()) in.write.reset();
        }
        if (out_ready != nullptr && out_ready->revents != 0) {
            if (!drain(out.read.get(), &x.out, max_output + 1, false, &x.out_total)) out.read.reset();
            if (x.out_total > max_output) {
                x.too_large = true;
                return;
            }
        }
        if (err_ready != nullptr && err_ready->revents != 0) {
            if (!drain(err.read.get(), &x.err, k_plugin_max_stderr, true, &x.err_total)) err.read.reset();
        }
    }
}

// What a plugin that ran to the end printed, as a result for the model.
tool_result read_reply(const std::string& name, const std::string& out) {
    const json reply = json::parse(out, nullptr, false);
    if (reply.is_discarded()) {
        const std::string shown = head(clean_text(out, true), 80);
        if (shown.empty()) return failure(name, "it printed nothing (expected one JSON object on stdout)");
        return failure(name, "its output is not JSON: " + shown);
    }
    if (!reply.is_object()) return failure(name, "its output is not a JSON object");
    const int keys = static_cast<int>(reply.contains("say")) + static_cast<int>(reply.contains("result")) +
                     static_cast<int>(reply.contains("error"));
    if (keys == 0) return failure(name, "its output has none of \"say\", \"result\" and \"error\"");
    if (keys > 1) return failure(name, "its output has more than one of \"say\", \"result\" and \"error\"");
    if (reply.contains("error")) {
        const json& e = reply["error"];
        return failure(name, e.is_string() ? e.get<std::string>() : e.dump());
    }
    if (reply.contains("say")) {
        if (!reply["say"].is_string()) return failure(name, "\"say\" must be a string");
        return {reply["say"].get<std::string>(), false, false};
    }
    const json& r = reply["result"];
    return {r.is_string() ? r.get<std::string>() : r.dump(), false, false};
}

std::string signal_name(int sig) {
    const char* d = sigdescr_np(sig);  // thread-safe, unlike strsignal
    return "signal " + std::to_string(sig) + (d != nullptr ? " (" + std::string(d) + ")" : "");
}

plugin_outcome run_checked(const plugin_manifest& m, const json& args, std::stop_token stop) {
    plugin_outcome o;
    if (std::string bad = check_plugin_arguments(m.parameters, args); !bad.empty()) {
        o.result = failure(m.name, bad);
        return o;
    }
    // One line, so a plugin may read either its whole stdin or one line.
    const std::string input = args.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    const auto start = steady::now();
    pipe_pair in, out, err;
    if (!make_pipe(&in) || !make_pipe(&out) || !make_pipe(&err)) {
        o.result = failure(m.name, std::string("cannot create pipes: ") + std::strerror(errno));
        return o;
    }
    spawn_setup setup;
    const std::string cwd = m.directory.string();
    const std::string path = m.executable.string();
    if (int e = setup.prepare(in.read.get(), out.write.get(), err.write.get(), cwd.c_str()); e != 0) {
        o.result = failure(m.name, std::string("cannot prepare to start it: ") + std::strerror(e));
        return o;
    }
    const std::vector<std::string> env_strings = plugin_environment();
    std::vector<char*> envp;
    for (const auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    std::array<char*, 2> argv = {const_cast<char*>(path.c_str()), nullptr};

    pid_t pid = -1;
    if (int e = ::posix_spawn(&pid, path.c_str(), setup.actions(), setup.attr(), argv.data(), envp.data()); e != 0) {
        o.result = failure(m.name, "cannot start " + path + ": " + std::strerror(e));
        return o;
    }
    child_process child(pid);
    // The plugin's ends: closed here, so that end of file on stdout means the plugin closed it.
    in.read.reset();
    out.write.reset();
    err.write.reset();

    // A stop request makes `stopped` readable (the callback runs on the thread that requests it).
    unique_fd stopped(stop.stop_possible() ? ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1);
    auto wake = [fd = stopped.get()] {
        const std::uint64_t one = 1;
        [[maybe_unused]] const ssize_t w = ::write(fd, &one, sizeof one);
    };
    std::optional<std::stop_callback<decltype(wake)>> on_stop;
    if (stopped.open()) on_stop.emplace(stop, wake);
    exchange x;
    converse(child, in, out, err, input, m.max_output, start + m.timeout, stopped, x);
    on_stop.reset();
    child.kill_and_reap();  // after the limit or too much output; a no-op when it ended by itself
    o.took = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
    // The kept tail may start inside a character.
    const auto first = std::find_if(x.err.begin(), x.err.end(), [](char c) { return !utf8_continuation(c); });
    x.err.erase(x.err.begin(), first);
    o.stderr_text = clean_text(x.err, false);
    o.timed_out = x.timed_out;
    o.stopped = x.stopped;
    if (WIFEXITED(child.status())) o.exit_status = WEXITSTATUS(child.status());
    if (WIFSIGNALED(child.status())) o.term_signal = WTERMSIG(child.status());

    const std::string said = tail(clean_text(x.err, true), 300);
    const std::string why = said.empty() ? "" : ": " + said;
    if (x.stopped) {
        o.result = failure(m.name, "it was stopped: the turn was given up");
    } else if (x.timed_out) {
        o.result = failure(m.name, "it took longer than its time limit of " + seconds_text(m.timeout) + " s" + why);
    } else if (x.too_large) {
        o.result = failure(m.name, "its output is larger than " + std::to_string(m.max_output) + " bytes");
    } else if (o.term_signal != 0) {
        o.result = failure(m.name, "it was killed by " + signal_name(o.term_signal) + why);
    } else if (o.exit_status != 0) {
        o.result = failure(m.name, "it exited with status " + std::to_string(o.exit_status) + why);
    } else {
        o.result = read_reply(m.name, x.out);
    }
    return o;
}

}  // namespace

std::string check_plugin_arguments(const json& schema, const json& args) {
    if (!args.is_object()) return "the arguments must be a JSON object";
    if (!schema.is_object()) return {};
    if (schema.contains("required") && schema["required"].is_array()) {
        for (const auto& r : schema["required"])
            if (r.is_string() && !args.contains(r.get<std::string>()))
                return "argument '" + r.get<std::string>() + "' is required";
    }
    const json empty = json::object();
    const json& props = schema.contains("properties") && schema["properties"].is_object() ? schema["properties"] : empty;
    const bool closed = schema.contains("additionalProperties") && schema["additionalProperties"] == false;
    for (const auto& [key, value] : args.items()) {
        if (props.contains(key)) {
            if (!props[key].is_object()) continue;
            if (std::string bad = check_property(key, props[key], value); !bad.empty()) return bad;
        } else if (closed) {
            return "unknown argument '" + key + "'";
        }
    }
    return {};
}

plugin_load_result load_plugins(const fs::path& dir, const std::vector<std::string>& reserved_names) {
    plugin_load_result r;
    if (dir.empty()) return r;
    try {
        std::error_code ec;
        const fs::path root = fs::canonical(dir, ec);
        if (ec || !fs::is_directory(root, ec)) {
            r.errors.push_back(dir.string() + ": not a directory" + (ec ? " (" + ec.message() + ")" : ""));
            return r;
        }
        std::vector<fs::path> subdirs;
        for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
            const fs::path& p = it->path();
            if (p.filename().string().starts_with(".")) continue;
            std::error_code type_ec;
            if (it->is_directory(type_ec)) subdirs.push_back(p);
        }
        if (ec) r.errors.push_back(root.string() + ": " + ec.message());
        std::sort(subdirs.begin(), subdirs.end());

        std::map<std::string, fs::path> taken;  // name -> its manifest
        for (const auto& sub : subdirs) {
            const fs::path file = sub / "manifest.json";
            if (!fs::exists(file, ec)) {
                r.errors.push_back(file.string() + ": missing (every plugin directory needs one)");
                continue;
            }
            std::string error;
            std::optional<plugin_manifest> m = parse_manifest(file, root, &error);
            if (m && std::find(reserved_names.begin(), reserved_names.end(), m->name) != reserved_names.end()) {
                error = "name '" + m->name + "' is a built-in tool's";
                m.reset();
            }
            if (m && taken.count(m->name) > 0) {
                error = "name '" + m->name + "' is already taken by " + taken[m->name].string();
                m.reset();
            }
            if (!m) {
                r.errors.push_back(file.string() + ": " + error);
                continue;
            }
            taken[m->name] = file;
            r.tools.push_back(make_plugin_tool(*m));
            r.manifests.push_back(std::move(*m));
        }
    } catch (const std::exception& e) {  // std::bad_alloc, or a filesystem error not reported by code
        r.errors.push_back(dir.string() + ": " + e.what());
    }
    return r;
}

plugin_outcome run_plugin(const plugin_manifest& m, const json& args, std::stop_token stop) {
    try {
        return run_checked(m, args, std::move(stop));
    } catch (const std::exception& e) {
        plugin_outcome o;
        o.result = failure(m.name, e.what());
        return o;
    }
}

tool make_plugin_tool(plugin_manifest m) {
    tool t;
    t.name = m.name;
    t.description = m.description;
    t.parameters = m.parameters;
    t.triggers = m.triggers;
    t.run = [m = std::move(m)](const json& args, const tool_context& ctx) { return run_plugin(m, args, ctx.stop).result; };
    return t;
}

}  // namespace sipvoice::agent
