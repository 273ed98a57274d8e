// sipvoice-openai-test-server: a scripted fake of the OpenAI HTTP API (speech-to-text, streaming chat
// and text-to-speech) for the agent's end-to-end tests and its latency benchmark. It speaks the real
// wire formats (a multipart upload, Server-Sent Events chat chunks, chunked raw PCM) so that the
// agent's real HTTP clients are exercised; its answers come from a script, its delays emulate measured
// cloud latencies, its faults a misbehaving server, and its log shows the tests what the agent sent.
#include <httplib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numbers>
#include <optional>
#include <pthread.h>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using json = nlohmann::ordered_json;  // keeps OpenAI's key order on the wire and the request's in the log

constexpr const char* usage_text = R"(usage: sipvoice-openai-test-server [OPTION...]

A scripted fake of the OpenAI HTTP API for sipvoice-agent's end-to-end tests and latency benchmark:
  POST /v1/audio/transcriptions  multipart (file, model, language, response_format, ...) -> {"text": T}
                                 (response_format "text": T as text/plain; "verbose_json": more fields)
  POST /v1/chat/completions      "stream": true -> Server-Sent Events chat.completion.chunk ... [DONE];
                                 otherwise one chat.completion JSON
  POST /v1/audio/speech          JSON {model, voice, input, response_format "pcm", sample_rate?} ->
                                 chunked s16le mono PCM (40 ms chunks, unpaced): a sine tone lasting
                                 max(300, ms-per-char * characters of input) ms,
                                 floor(sample_rate * ms / 1000) samples
Errors are OpenAI-style JSON {"error": {"message", "type", "param", "code"}}.
Once ready it prints one line "listening port=N" on standard output; SIGTERM or SIGINT stops it
(exit 0; an idle keep-alive connection delays that by at most ~1 s).

  --listen HOST:PORT        address to listen on (default 127.0.0.1:0; port 0 = a free port)
  --log FILE                one JSON line per request, written and flushed on arrival:
                            {"t_ms", "path", "method", "headers": {"authorization", "content-type"},
                            "n" (the endpoint's request number), "fault" (null, "fail", "hang", "cut"),
                            transcriptions: "fields" {name: value} of the non-file parts and "file"
                            {"name", "content_type", "bytes", "wav": {"rate", "channels", "bits",
                            "seconds"} or null}; chat and speech: "body" (the JSON request, or null)}
  --script FILE             the replies, JSON: {"stt": ["text", ...], "llm": [ENTRY, ...]}, taken in
                            order, the last one repeating. An llm ENTRY is {"text": "..."},
                            {"tool_call": {"name": N, "arguments": {...} or "raw text"}},
                            {"tool_calls": [{...}, ...]} (parallel calls) or {"echo_tool_result": true}
                            (the text "Result: " + the content of the request's last role "tool"
                            message). A request failed or hung by a fault does not use up an
                            entry (a cut one does: part of its reply went out).
  --stt-text T              the transcription for every request (replaces the script's "stt";
                            default "hello")
  --llm-text T              the chat reply for every request (replaces the script's "llm";
                            default "OK.")
  --api-key K               answer 401 to requests without "Authorization: Bearer K"
  --threads N               worker threads (default 16): concurrent and hanging requests
  --stt-delay-ms MS         wait before the transcription response (default 0)
  --llm-first-token-ms MS   wait before the first chat chunk (headers go out at once; default 0)
  --llm-token-ms MS         wait between content (or tool arguments) chunks (default 0)
  --tts-first-byte-ms MS    wait before the first audio chunk (headers go out at once; default 0)
  --tts-ms-per-char MS      speech duration per character of input (default 60)
  --tts-tone-hz HZ          the tone's frequency (default 440; amplitude -12 dBFS)
  --fail-stt N[,N...]       faults for the Nth request of an endpoint (counting every authorized
  --fail-llm, --fail-tts    request to it from 1; each option may repeat). fail: 500 with an error
  --hang-stt, --hang-llm,   JSON. hang: send nothing for 60 s (or until shutdown), then 503.
  --hang-tts                cut: send half the chunks, then close the connection without the
  --cut-llm, --cut-tts      terminating chunk.
  -h, --help                this text

Exit status: 0 stopped by SIGTERM/SIGINT; 1 the server failed; 2 usage or script error.
)";

enum endpoint : std::size_t { stt, llm, tts, endpoint_count };
enum class fault { none, fail, hang, cut };

struct tool_call {
    std::string name;
    std::string arguments;  // JSON text as sent (a script may give deliberately broken JSON)
};

struct llm_reply {
    std::string text;
    std::vector<tool_call> calls;
    bool echo_tool_result = false;
};

struct options {
    std::string host = "127.0.0.1";
    int port = 0;
    std::string log_path;
    std::string api_key;
    std::size_t threads = 16;
    std::vector<std::string> stt_script{"hello"};
    std::vector<llm_reply> llm_script{llm_reply{.text = "OK.", .calls = {}}};
    long stt_delay_ms = 0, llm_first_token_ms = 0, llm_token_ms = 0, tts_first_byte_ms = 0;
    long tts_ms_per_char = 60;
    double tts_tone_hz = 440;
    std::array<std::set<long>, endpoint_count> fail, hang, cut;
};

// Shared by the handlers, which run on the worker threads.
struct server_state {
    options opt;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    std::FILE* log = nullptr;
    std::mutex log_mutex;
    std::mutex stop_mutex;
    std::condition_variable stop_cv;
    bool stopping = false;
    std::array<std::atomic<long>, endpoint_count> requests{};
    std::array<std::atomic<std::size_t>, endpoint_count> script_pos{};
    std::atomic<long> ids{0};

    // Every wait goes through here so that shutdown interrupts it (a hang must not hold up the
    // worker pool's join). False: the server is stopping.
    bool pause_ms(long ms) {
        std::unique_lock lock(stop_mutex);
        if (ms > 0) stop_cv.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping; });
        return !stopping;
    }
    void stop() {
        { const std::lock_guard lock(stop_mutex); stopping = true; }
        stop_cv.notify_all();
    }
    void write_log(const json& entry) {
        if (log == nullptr) return;
        const std::string line = entry.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
        const std::lock_guard lock(log_mutex);
        std::fputs(line.c_str(), log);
        std::fflush(log);  // the tests read the log while the server runs
    }
    std::string next_id(std::string_view prefix) { return std::string(prefix) + std::to_string(++ids); }
};

// ---- command line and script

long parse_long(std::string_view s, std::string_view what) {
    long v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v < 0)
        throw std::invalid_argument(std::string(what) + ": not a non-negative integer: " + std::string(s));
    return v;
}

void parse_list(std::string_view s, std::string_view what, std::set<long>& into) {
    for (std::size_t pos = 0; pos <= s.size();) {
        const std::size_t comma = std::min(s.find(',', pos), s.size());
        const long n = parse_long(s.substr(pos, comma - pos), what);
        if (n < 1) throw std::invalid_argument(std::string(what) + ": request numbers count from 1");
        into.insert(n);
        pos = comma + 1;
    }
}

llm_reply parse_llm_entry(const json& j) {
    if (!j.is_object()) throw std::invalid_argument("script: an llm entry is not an object");
    llm_reply r;
    if (j.contains("text")) r.text = j.at("text").get<std::string>();
    if (j.value("echo_tool_result", false)) r.echo_tool_result = true;
    json calls = j.contains("tool_calls") ? j.at("tool_calls") : json::array();
    if (j.contains("tool_call")) calls.push_back(j.at("tool_call"));
    for (const json& c : calls) {
        const json args = c.value("arguments", json::object());
        r.calls.push_back({c.at("name").get<std::string>(), args.is_string() ? args.get<std::string>() : args.dump()});
    }
    if (!j.contains("text") && !r.echo_tool_result && r.calls.empty())
        throw std::invalid_argument("script: an llm entry needs text, tool_call(s) or echo_tool_result");
    return r;
}

void load_script(const std::string& path, options& opt) {
    std::ifstream in(path);
    if (!in) throw std::invalid_argument("script: cannot read " + path);
    json j;
    try {
        j = json::parse(in);
    } catch (const json::exception& e) {
        throw std::invalid_argument("script " + path + ": " + e.what());
    }
    try {
        if (j.contains("stt")) opt.stt_script = j.at("stt").get<std::vector<std::string>>();
        if (j.contains("llm")) {
            opt.llm_script.clear();
            for (const json& e : j.at("llm")) opt.llm_script.push_back(parse_llm_entry(e));
        }
    } catch (const json::exception& e) {
        throw std::invalid_argument("script " + path + ": " + e.what());
    }
    if (opt.stt_script.empty() || opt.llm_script.empty())
        throw std::invalid_argument("script " + path + ": an empty stt or llm list");
}

options parse_options(int argc, char** argv) {
    options opt;
    std::optional<std::string> script, stt_text, llm_text;
    const std::map<std::string_view, std::set<long>*> faults{
        {"--fail-stt", &opt.fail[stt]}, {"--fail-llm", &opt.fail[llm]}, {"--fail-tts", &opt.fail[tts]},
        {"--hang-stt", &opt.hang[stt]}, {"--hang-llm", &opt.hang[llm]}, {"--hang-tts", &opt.hang[tts]},
        {"--cut-llm", &opt.cut[llm]},   {"--cut-tts", &opt.cut[tts]}};
    const std::map<std::string_view, long*> numbers{
        {"--stt-delay-ms", &opt.stt_delay_ms},           {"--llm-first-token-ms", &opt.llm_first_token_ms},
        {"--llm-token-ms", &opt.llm_token_ms},           {"--tts-first-byte-ms", &opt.tts_first_byte_ms},
        {"--tts-ms-per-char", &opt.tts_ms_per_char}};
    for (int i = 1; i < argc; ++i) {
        std::string name = argv[i], value;
        if (name == "-h" || name == "--help") {
            std::fputs(usage_text, stdout);
            std::exit(0);
        }
        if (const auto eq = name.find('='); name.starts_with("--") && eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            throw std::invalid_argument(name + ": needs a value (or unknown option; see --help)");
        }
        if (const auto it = faults.find(name); it != faults.end()) {
            parse_list(value, name, *it->second);
        } else if (const auto num = numbers.find(name); num != numbers.end()) {
            *num->second = parse_long(value, name);
        } else if (name == "--listen") {
            const auto colon = value.rfind(':');
            if (colon == std::string::npos) throw std::invalid_argument("--listen: HOST:PORT expected");
            opt.host = value.substr(0, colon);
            opt.port = static_cast<int>(std::min(parse_long(value.substr(colon + 1), name), 65536L));
            if (opt.port > 65535) throw std::invalid_argument("--listen: port out of range");
        } else if (name == "--log") {
            opt.log_path = value;
        } else if (name == "--script") {
            script = value;
        } else if (name == "--stt-text") {
            stt_text = value;
        } else if (name == "--llm-text") {
            llm_text = value;
        } else if (name == "--api-key") {
            opt.api_key = value;
        } else if (name == "--threads") {
            opt.threads = static_cast<std::size_t>(std::max(1L, parse_long(value, name)));
        } else if (name == "--tts-tone-hz") {
            char* end = nullptr;
            opt.tts_tone_hz = std::strtod(value.c_str(), &end);
            if (end == value.c_str() || *end != '\0' || !(opt.tts_tone_hz > 0))
                throw std::invalid_argument("--tts-tone-hz: not a positive number: " + value);
        } else {
            throw std::invalid_argument("unknown option " + name + " (see --help)");
        }
    }
    // The shortcuts win over the script, whatever their order on the command line.
    if (script) load_script(*script, opt);
    if (stt_text) opt.stt_script = {*stt_text};
    if (llm_text) opt.llm_script = {llm_reply{.text = *llm_text, .calls = {}}};
    return opt;
}

// ---- wire helpers

void send_error(httplib::Response& res, int status, std::string_view message, std::string_view type,
                const json& code = nullptr) {
    res.status = status;
    res.set_content(json{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}}.dump(),
                    "application/json");
}

json header_or_null(const httplib::Request& req, const char* name) {
    return req.has_header(name) ? json(req.get_header_value(name)) : json(nullptr);
}

// The format of an uploaded WAV (RIFF, PCM or extensible), or null: the tests check what the agent
// sends to STT. A data size past the end (a streaming writer's placeholder) counts what is there.
json wav_info(std::string_view b) {
    const auto u16 = [&](std::size_t at) { return std::uint32_t(std::uint8_t(b[at])) | std::uint32_t(std::uint8_t(b[at + 1])) << 8; };
    const auto u32 = [&](std::size_t at) { return u16(at) | u16(at + 2) << 16; };
    if (b.size() < 12 || b.substr(0, 4) != "RIFF" || b.substr(8, 4) != "WAVE") return nullptr;
    std::uint32_t rate = 0, channels = 0, bits = 0;
    for (std::size_t at = 12; at + 8 <= b.size();) {
        const std::string_view id = b.substr(at, 4);
        const std::size_t size = u32(at + 4), body = at + 8;
        if (id == "fmt " && size >= 16 && body + 16 <= b.size()) {
            const std::uint32_t format = u16(body);
            if (format != 1 && format != 0xFFFE) return nullptr;
            channels = u16(body + 2);
            rate = u32(body + 4);
            bits = u16(body + 14);
        } else if (id == "data") {
            if (rate == 0 || channels == 0 || bits == 0 || bits % 8 != 0) return nullptr;
            const std::size_t bytes = std::min(size, b.size() - body);
            return {{"rate", rate}, {"channels", channels}, {"bits", bits},
                    {"seconds", double(bytes) / (double(rate) * channels * (bits / 8))}};
        }
        at = body + size + (size & 1);  // chunks are padded to an even size
    }
    return nullptr;
}

// Word by word, each piece with the spaces before it, so that the pieces concatenate to the text.
std::vector<std::string> split_words(const std::string& text) {
    std::vector<std::string> pieces;
    std::size_t start = 0;
    for (std::size_t i = 1; i <= text.size(); ++i) {
        if (i == text.size() || (text[i] == ' ' && text[i - 1] != ' ')) {
            pieces.push_back(text.substr(start, i - start));
            start = i;
        }
    }
    return pieces;
}

// Pieces of about n bytes, never splitting a UTF-8 sequence (each piece must be valid JSON text).
std::vector<std::string> split_bytes(const std::string& s, std::size_t n) {
    std::vector<std::string> pieces;
    for (std::size_t start = 0; start < s.size();) {
        std::size_t end = std::min(start + n, s.size());
        while (end < s.size() && (std::uint8_t(s[end]) & 0xC0) == 0x80) ++end;
        pieces.push_back(s.substr(start, end - start));
        start = end;
    }
    return pieces;
}

std::size_t utf8_length(std::string_view s) {
    return std::size_t(std::count_if(s.begin(), s.end(), [](char c) { return (std::uint8_t(c) & 0xC0) != 0x80; }));
}

// A response body sent as separate HTTP chunks, each after its delay; used for SSE and for PCM.
struct chunk_stream {
    std::vector<std::string> chunks;
    std::vector<long> delay_ms;             // before each chunk
    std::size_t cut_at = std::size_t(-1);   // abort before this chunk (a cut fault)
    std::size_t next = 0;
};

void send_chunks(server_state& st, httplib::Response& res, const char* content_type, std::shared_ptr<chunk_stream> s) {
    res.set_chunked_content_provider(content_type, [&st, s](std::size_t, httplib::DataSink& sink) {
        if (s->next == s->chunks.size()) {
            sink.done();
            return true;
        }
        // Returning false makes httplib close the connection without the terminating chunk.
        if (s->next == s->cut_at || !st.pause_ms(s->delay_ms[s->next])) return false;
        const std::string& c = s->chunks[s->next++];
        return sink.write(c.data(), c.size());
    });
}

// ---- the endpoints

// The log fields every request has.
json request_line(const server_state& st, const httplib::Request& req) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - st.start);
    return {{"t_ms", double(us.count()) / 1000.0}, {"path", req.path}, {"method", req.method},
            {"headers", {{"authorization", header_or_null(req, "Authorization")},
                         {"content-type", header_or_null(req, "Content-Type")}}}};
}

// What every request goes through: the log line, the API key, the request number and its fault.
// A fail or hang fault is answered here; nullopt: the response is set.
std::optional<fault> admit(server_state& st, const httplib::Request& req, httplib::Response& res, endpoint ep,
                           const json& details) {
    json entry = request_line(st, req);
    entry.update(details);
    if (!st.opt.api_key.empty() && req.get_header_value("Authorization") != "Bearer " + st.opt.api_key) {
        st.write_log(entry);
        send_error(res, 401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key");
        return std::nullopt;
    }
    const long n = ++st.requests[ep];
    const fault f = st.opt.fail[ep].contains(n) ? fault::fail
                  : st.opt.hang[ep].contains(n) ? fault::hang
                  : st.opt.cut[ep].contains(n)  ? fault::cut : fault::none;
    static constexpr std::array<const char*, 4> fault_names{nullptr, "fail", "hang", "cut"};
    entry["n"] = n;
    entry["fault"] = fault_names[std::size_t(f)] ? json(fault_names[std::size_t(f)]) : json(nullptr);
    st.write_log(entry);
    if (f == fault::fail) {
        send_error(res, 500, "The server had an error while processing your request (injected fault).", "server_error");
        return std::nullopt;
    }
    if (f == fault::hang) {
        st.pause_ms(60'000);
        send_error(res, 503, "Hung request released (injected fault).", "server_error");
        return std::nullopt;
    }
    return f;
}

// The script entry for this (not faulted) request: in order, then the last one again.
template <class T>
const T& next_entry(server_state& st, endpoint ep, const std::vector<T>& script) {
    return script[std::min(st.script_pos[ep]++, script.size() - 1)];
}

std::optional<json> parse_json_body(const httplib::Request& req) {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return std::nullopt;
    return body;
}

void handle_transcription(server_state& st, const httplib::Request& req, httplib::Response& res) {
    json fields = json::object(), file = nullptr;
    for (const auto& [name, part] : req.files) {
        if (!part.filename.empty() || name == "file") {
            file = {{"name", part.filename}, {"content_type", part.content_type},
                    {"bytes", part.content.size()}, {"wav", wav_info(part.content)}};
        } else if (!fields.contains(name)) {
            fields[name] = part.content;
        } else {  // a repeated field (e.g. timestamp_granularities[]) becomes a list
            if (!fields[name].is_array()) fields[name] = json::array({fields[name]});
            fields[name].push_back(part.content);
        }
    }
    if (!admit(st, req, res, stt, {{"fields", fields}, {"file", file}})) return;
    if (!req.is_multipart_form_data()) return send_error(res, 400, "Expected multipart/form-data.", "invalid_request_error");
    if (file.is_null()) return send_error(res, 400, "Missing required parameter: 'file'.", "invalid_request_error");
    if (!fields.contains("model")) return send_error(res, 400, "Missing required parameter: 'model'.", "invalid_request_error");
    const std::string& text = next_entry(st, stt, st.opt.stt_script);
    if (!st.pause_ms(st.opt.stt_delay_ms)) return send_error(res, 503, "Shutting down.", "server_error");
    const std::string format = fields.value("response_format", "json");
    if (format == "text") return res.set_content(text + "\n", "text/plain; charset=utf-8");
    json answer{{"text", text}};
    if (format == "verbose_json") {
        answer["task"] = "transcribe";
        answer["language"] = fields.value("language", "english");
        answer["duration"] = file["wav"].is_null() ? 0.0 : file["wav"]["seconds"].get<double>();
        answer["segments"] = json::array();
    }
    res.set_content(answer.dump(), "application/json");
}

// The text of the request's last role "tool" message (a string, or the text of its parts).
std::string last_tool_result(const json& body) {
    std::string result;
    for (const json& m : body.value("messages", json::array())) {
        if (!m.is_object() || m.value("role", "") != "tool") continue;
        const json content = m.value("content", json(""));
        result.clear();
        if (content.is_string()) {
            result = content.get<std::string>();
        } else if (content.is_array()) {
            for (const json& part : content) if (part.is_object()) result += part.value("text", "");
        } else {
            result = content.dump();
        }
    }
    return result;
}

void handle_chat(server_state& st, const httplib::Request& req, httplib::Response& res) {
    const std::optional<json> body = parse_json_body(req);
    const auto f = admit(st, req, res, llm, {{"body", body ? *body : json(nullptr)}});
    if (!f) return;
    if (!body) return send_error(res, 400, "The request body is not a JSON object.", "invalid_request_error");
    if (!body->contains("model") || !body->value("messages", json()).is_array())
        return send_error(res, 400, "Missing required parameter: 'model' or 'messages'.", "invalid_request_error");
    llm_reply reply = next_entry(st, llm, st.opt.llm_script);
    if (reply.echo_tool_result) reply.text = "Result: " + last_tool_result(*body);
    const bool tools = !reply.calls.empty();
    const std::string id = st.next_id("chatcmpl-test"), model = body->value("model", "test-model");
    const std::int64_t created = std::time(nullptr);
    std::vector<std::string> call_ids;
    for (std::size_t i = 0; i < reply.calls.size(); ++i) call_ids.push_back(st.next_id("call_test"));
    const std::size_t prompt_tokens = req.body.size() / 4 + 1, completion_tokens = utf8_length(reply.text) / 4 + 1;
    const json usage{{"prompt_tokens", prompt_tokens}, {"completion_tokens", completion_tokens},
                     {"total_tokens", prompt_tokens + completion_tokens}};
    const char* finish = tools ? "tool_calls" : "stop";

    if (!body->value("stream", false)) {
        const std::size_t pieces = tools ? 1 : std::max<std::size_t>(1, split_words(reply.text).size());
        if (!st.pause_ms(st.opt.llm_first_token_ms + st.opt.llm_token_ms * long(pieces - 1)))
            return send_error(res, 503, "Shutting down.", "server_error");
        json message{{"role", "assistant"}, {"content", tools && reply.text.empty() ? json(nullptr) : json(reply.text)}};
        for (std::size_t i = 0; i < reply.calls.size(); ++i) {
            message["tool_calls"].push_back({{"id", call_ids[i]}, {"type", "function"},
                {"function", {{"name", reply.calls[i].name}, {"arguments", reply.calls[i].arguments}}}});
        }
        const json answer{{"id", id}, {"object", "chat.completion"}, {"created", created}, {"model", model},
                          {"choices", {{{"index", 0}, {"message", message}, {"finish_reason", finish}}}},
                          {"usage", usage}};
        return res.set_content(answer.dump(), "application/json");
    }

    auto s = std::make_shared<chunk_stream>();
    const auto add = [&](json delta, json finish_reason, long delay_ms) {
        const json chunk{{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model},
                         {"choices", {{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish_reason)}}}}};
        s->chunks.push_back("data: " + chunk.dump() + "\n\n");
        s->delay_ms.push_back(delay_ms);
    };
    // The first piece follows the role chunk at once: "first token" is the first text, not the role.
    add({{"role", "assistant"}, {"content", ""}}, nullptr, st.opt.llm_first_token_ms);
    bool first_piece = true;
    const auto piece_delay = [&] { return std::exchange(first_piece, false) ? 0L : st.opt.llm_token_ms; };
    for (const std::string& w : split_words(reply.text)) add({{"content", w}}, nullptr, piece_delay());
    for (std::size_t i = 0; i < reply.calls.size(); ++i) {
        add({{"tool_calls", {{{"index", i}, {"id", call_ids[i]}, {"type", "function"},
                              {"function", {{"name", reply.calls[i].name}, {"arguments", ""}}}}}}}, nullptr, piece_delay());
        for (const std::string& a : split_bytes(reply.calls[i].arguments, 4))
            add({{"tool_calls", {{{"index", i}, {"function", {{"arguments", a}}}}}}}, nullptr, piece_delay());
    }
    add(json::object(), finish, 0);
    if (const json so = body->value("stream_options", json::object()); so.is_object() && so.value("include_usage", false)) {
        s->chunks.push_back("data: " + json{{"id", id}, {"object", "chat.completion.chunk"}, {"created", created},
                                            {"model", model}, {"choices", json::array()}, {"usage", usage}}.dump() + "\n\n");
        s->delay_ms.push_back(0);
    }
    s->chunks.push_back("data: [DONE]\n\n");
    s->delay_ms.push_back(0);
    if (*f == fault::cut) s->cut_at = s->chunks.size() / 2;
    res.set_header("Cache-Control", "no-cache");
    send_chunks(st, res, "text/event-stream", std::move(s));
}

void handle_speech(server_state& st, const httplib::Request& req, httplib::Response& res) {
    const std::optional<json> body = parse_json_body(req);
    const auto f = admit(st, req, res, tts, {{"body", body ? *body : json(nullptr)}});
    if (!f) return;
    if (!body) return send_error(res, 400, "The request body is not a JSON object.", "invalid_request_error");
    for (const char* key : {"model", "voice", "input"}) {
        const json v = body->value(key, json());
        if (!v.is_string() || v.get<std::string>().empty())
            return send_error(res, 400, std::string("Missing required parameter: '") + key + "'.", "invalid_request_error");
    }
    // OpenAI's default format is mp3, which this fake does not make: the agent must ask for pcm.
    if (const std::string format = body->value("response_format", "mp3"); format != "pcm")
        return send_error(res, 400, "Unsupported response_format '" + format + "' (this test server makes pcm only).",
                          "invalid_request_error");
    const json rate_j = body->value("sample_rate", json(24000));
    if (!rate_j.is_number_integer() || rate_j.get<long>() < 1000 || rate_j.get<long>() > 192000)
        return send_error(res, 400, "Invalid 'sample_rate'.", "invalid_request_error");
    const long rate = rate_j.get<long>();
    const long ms = std::max(300L, st.opt.tts_ms_per_char * long(utf8_length(body->at("input").get<std::string>())));
    const std::size_t samples = std::size_t(rate * ms / 1000), chunk_samples = std::size_t(rate * 40 / 1000);
    const double amplitude = 32767.0 * std::pow(10.0, -12.0 / 20.0), step = 2 * std::numbers::pi * st.opt.tts_tone_hz / double(rate);

    auto s = std::make_shared<chunk_stream>();
    for (std::size_t at = 0; at < samples; at += chunk_samples) {
        std::string& c = s->chunks.emplace_back();
        for (std::size_t i = at; i < std::min(samples, at + chunk_samples); ++i) {
            const auto v = std::uint16_t(std::int16_t(std::lround(amplitude * std::sin(step * double(i)))));
            c.push_back(char(v & 0xFF));  // s16le whatever the host's byte order
            c.push_back(char(v >> 8));
        }
        s->delay_ms.push_back(s->delay_ms.empty() ? st.opt.tts_first_byte_ms : 0);
    }
    if (*f == fault::cut) s->cut_at = s->chunks.size() / 2;
    send_chunks(st, res, "audio/pcm", std::move(s));
}

}  // namespace

int main(int argc, char** argv) {
    auto st = std::make_unique<server_state>();
    try {
        st->opt = parse_options(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sipvoice-openai-test-server: %s\n", e.what());
        return 2;
    }
    if (!st->opt.log_path.empty() && (st->log = std::fopen(st->opt.log_path.c_str(), "w")) == nullptr) {
        std::fprintf(stderr, "sipvoice-openai-test-server: cannot write %s\n", st->opt.log_path.c_str());
        return 2;
    }

    // SIGTERM/SIGINT are taken by sigwait on one thread; blocked before any thread starts, so that
    // every thread (httplib's workers too) inherits the mask. A client gone mid-write must not kill us.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    httplib::Server svr;
    const std::size_t threads = st->opt.threads;
    svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // Small SSE and PCM chunks must not wait for Nagle; and no SO_REUSEPORT (httplib's default), so
    // that a fixed --listen port already in use is an error rather than a shared port.
    svr.set_socket_options([](int sock) {
        const int on = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    });
    svr.set_keep_alive_max_count(1000);   // like a cloud API, reuse connections
    svr.set_keep_alive_timeout(1);        // an idle keep-alive connection holds up shutdown this long
    svr.set_payload_max_length(64 << 20);
    svr.Post("/v1/audio/transcriptions", [&st](const httplib::Request& q, httplib::Response& r) { handle_transcription(*st, q, r); });
    svr.Post("/v1/chat/completions", [&st](const httplib::Request& q, httplib::Response& r) { handle_chat(*st, q, r); });
    svr.Post("/v1/audio/speech", [&st](const httplib::Request& q, httplib::Response& r) { handle_speech(*st, q, r); });
    const auto not_found = [&st](const httplib::Request& q, httplib::Response& r) {
        st->write_log(request_line(*st, q));
        send_error(r, 404, "Unknown request URL: " + q.method + " " + q.path + ".", "invalid_request_error", "unknown_url");
    };
    svr.Get(".*", not_found);
    svr.Post(".*", not_found);
    svr.set_exception_handler([](const httplib::Request&, httplib::Response& r, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
            std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {}
        send_error(r, 500, "test server: " + what, "server_error");
    });

    const int port = st->opt.port == 0 ? svr.bind_to_any_port(st->opt.host) : (svr.bind_to_port(st->opt.host, st->opt.port) ? st->opt.port : -1);
    if (port < 0) {
        std::fprintf(stderr, "sipvoice-openai-test-server: cannot listen on %s:%d\n", st->opt.host.c_str(), st->opt.port);
        return 1;
    }

    std::atomic<bool> listen_done{false}, signalled{false};
    std::thread stopper([&] {
        int sig = 0;
        sigwait(&signals, &sig);
        signalled = !listen_done;
        st->stop();  // releases hangs and delays first: the worker pool's join waits for them
        // stop() does nothing before listen_after_bind() has started: repeat until it has returned.
        while (!listen_done) {
            svr.stop();
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });
    std::printf("listening port=%d\n", port);
    std::fflush(stdout);
    const bool ok = svr.listen_after_bind();
    listen_done = true;
    if (!signalled) pthread_kill(stopper.native_handle(), SIGTERM);  // listening failed: end the stopper
    stopper.join();
    if (st->log != nullptr) std::fclose(st->log);
    return signalled && ok ? 0 : 1;
}
