// The OpenAI-compatible backends of sipvoice-agent (examples/agent/openai_backends.hpp) against an
// in-process cpp-httplib server on 127.0.0.1 that speaks the real wire formats: a multipart
// transcription upload, an SSE chat completions stream with a tool call, chunked raw PCM speech;
// and the faults: an error status, a server that never answers, a stream cut half way, a stop.
//
// The handlers run on the server's threads: they only record what they saw (under a mutex) and the
// test thread checks it afterwards (Catch2's assertions are not thread-safe).
#include <catch2/catch.hpp>

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <sipvoice/media/wav.hpp>

#include "../unit/fake_http_server.hpp"
#include "openai_backends.hpp"
#include "tools.hpp"

namespace agent = sipvoice::agent;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

using fake_server = sipvoice::test::fake_http_server;

// Streams `pieces` one per call of the chunked content provider, a little apart so that the client
// gets them as separate reads; then ends the body properly, or (cut) drops the connection.
void stream_pieces(httplib::Response& res, const char* content_type, std::vector<std::string> pieces, bool cut = false) {
    auto next = std::make_shared<std::size_t>(0);
    auto data = std::make_shared<std::vector<std::string>>(std::move(pieces));
    res.set_chunked_content_provider(content_type, [next, data, cut](std::size_t, httplib::DataSink& sink) {
        if (*next == data->size()) {
            if (cut) return false;  // httplib closes the connection without the last chunk
            sink.done();
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
        const auto& piece = (*data)[(*next)++];
        return sink.write(piece.data(), piece.size());
    });
}

// SSE text cut into pieces of `n` bytes, so that events and lines arrive split.
std::vector<std::string> split_every(const std::string& s, std::size_t n) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < s.size(); i += n) out.push_back(s.substr(i, n));
    return out;
}

std::string sse(const json& chunk) { return "data: " + chunk.dump() + "\n\n"; }
json chunk_with(const json& choice) {
    return {{"object", "chat.completion.chunk"}, {"choices", json::array({choice})}};
}
json text_chunk(const std::string& text) {
    return chunk_with({{"index", 0}, {"delta", {{"content", text}}}});
}
json finish_chunk(const std::string& reason) {
    return chunk_with({{"index", 0}, {"delta", json::object()}, {"finish_reason", reason}});
}
json tool_chunk(int index, json call) {
    call["index"] = index;
    return chunk_with({{"index", 0}, {"delta", {{"tool_calls", json::array({call})}}}});
}

// A test's PCM: a ramp that wraps, so every byte position matters.
std::int16_t test_sample(std::size_t i) { return static_cast<std::int16_t>(static_cast<std::uint16_t>(i * 997u + 13u)); }

std::string pcm_bytes(std::size_t samples) {
    std::string out;
    for (std::size_t i = 0; i < samples; ++i) {
        const auto v = static_cast<std::uint16_t>(test_sample(i));
        out += static_cast<char>(v & 0xFF);
        out += static_cast<char>(v >> 8);
    }
    return out;
}

double seconds_since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

}  // namespace

TEST_CASE("agent openai: stt uploads a WAV with model, language and response_format", "[agent][openai]") {
    fake_server server;
    server.http.Post("/v1/audio/transcriptions", [&](const httplib::Request& req, httplib::Response& res) {
        json seen = {{"multipart", req.is_multipart_form_data()},
                     {"authorization", req.get_header_value("Authorization")}};
        for (const char* field : {"model", "language", "response_format"})
            if (req.has_file(field)) seen[field] = req.get_file_value(field).content;
        std::string reply = "no file";
        if (req.has_file("file")) {
            const auto file = req.get_file_value("file");
            seen["filename"] = file.filename;
            const auto* p = reinterpret_cast<const std::uint8_t*>(file.content.data());
            const auto wav = sipvoice::media::parse_wav({p, file.content.size()});
            seen["wav_ok"] = wav.has_value();
            if (wav) {
                bool same = true;
                for (std::size_t i = 0; i < wav->samples.size(); ++i) same = same && wav->samples[i] == test_sample(i);
                seen["same_samples"] = same;
                // The transcript is made of what arrived, so the client cannot pass without the upload.
                reply = "  " + std::to_string(wav->samples.size()) + " samples at " + std::to_string(wav->sample_rate) +
                        " Hz, " + std::to_string(wav->channels) + " channel\n";
            }
        }
        server.record(seen);
        res.set_content(json({{"text", reply}}).dump(), "application/json");
    });
    server.start();

    std::vector<std::int16_t> pcm(3200);
    for (std::size_t i = 0; i < pcm.size(); ++i) pcm[i] = test_sample(i);

    agent::stt_settings settings;
    settings.backend = agent::stt_backend::openai;
    settings.base_url = server.base();
    settings.model = "whisper-test";
    settings.timeout = 5;
    std::string expected_language;
    SECTION("the agent's language when stt.language is empty, with a key") {
        settings.api_key = "sk-stt";
        expected_language = "de";
    }
    SECTION("stt.language first, base_url already ending in /v1/") {
        settings.base_url += "/v1/";
        settings.language = "fr";
        expected_language = "fr";
    }
    agent::openai_stt stt(settings, "de");
    const auto result = stt.transcribe(pcm, 16000, {});
    CHECK(result.error.empty());
    CHECK(result.text == "3200 samples at 16000 Hz, 1 channel");

    const auto seen = server.seen();
    REQUIRE(seen.size() == 1);
    const auto& s = seen[0];
    CHECK(s["multipart"] == true);
    CHECK(s["model"] == "whisper-test");
    CHECK(s["language"] == expected_language);
    CHECK(s["response_format"] == "json");
    CHECK(s["filename"] == "turn.wav");
    CHECK(s["wav_ok"] == true);
    CHECK(s["same_samples"] == true);
    CHECK(s["authorization"] == (settings.api_key.empty() ? "" : "Bearer sk-stt"));
}

TEST_CASE("agent openai: stt reports an HTTP 500 with the URL and the body", "[agent][openai]") {
    fake_server server;
    server.http.Post("/v1/audio/transcriptions", [](const httplib::Request&, httplib::Response& res) {
        res.status = 500;
        res.set_content(R"({"error":{"message":"model not loaded"}})", "application/json");
    });
    server.start();
    agent::stt_settings settings;
    settings.base_url = server.base();
    settings.timeout = 5;
    agent::openai_stt stt(settings, "");
    const std::vector<std::int16_t> pcm(800, 100);
    const auto result = stt.transcribe(pcm, 8000, {});
    CHECK(result.text.empty());
    CHECK_THAT(result.error, Catch::StartsWith("stt: HTTP 500 from " + server.base() + "/v1/audio/transcriptions: "));
    CHECK_THAT(result.error, Catch::Contains("model not loaded"));
    CHECK(result.error.find('\n') == std::string::npos);
}

TEST_CASE("agent openai: llm streams a tool call, runs the tool, then streams the answer", "[agent][openai]") {
    fake_server server;
    server.http.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
        auto body = json::parse(req.body, nullptr, false);
        server.record({{"body", body}, {"authorization", req.get_header_value("Authorization")}});
        const auto& messages = body["messages"];
        if (messages.back()["role"] != "tool") {
            // First request: get_datetime with its arguments cut in pieces, the stream in 11-byte reads.
            std::string s = sse(tool_chunk(0, {{"id", "call_dt"},
                                               {"type", "function"},
                                               {"function", {{"name", "get_datetime"}, {"arguments", ""}}}}));
            for (const char* piece : {"{\"wh", "at\": \"", "date", "\"}"})
                s += sse(tool_chunk(0, {{"function", {{"arguments", piece}}}}));
            s += sse(finish_chunk("tool_calls")) + "data: [DONE]\n\n";
            stream_pieces(res, "text/event-stream", split_every(s, 11));
            return;
        }
        // Second request: it must carry the assistant's tool call and the tool's result.
        const auto& call_msg = messages[messages.size() - 2];
        const auto& tool_msg = messages.back();
        const bool good = call_msg["role"] == "assistant" && call_msg["content"].is_null() &&
                          call_msg["tool_calls"].size() == 1 && call_msg["tool_calls"][0]["id"] == "call_dt" &&
                          call_msg["tool_calls"][0]["type"] == "function" &&
                          call_msg["tool_calls"][0]["function"]["name"] == "get_datetime" &&
                          call_msg["tool_calls"][0]["function"]["arguments"] == R"({"what": "date"})" &&
                          tool_msg["tool_call_id"] == "call_dt" && tool_msg["content"].is_string();
        if (!good) {
            res.status = 400;
            res.set_content(R"({"error":"bad tool round: )" + messages.dump() + "\"}", "application/json");
            return;
        }
        // The answer quotes the tool's result, so it cannot be right unless the tool ran.
        std::string s = ": a comment line\n\n" + sse(text_chunk("Sure. ")) + sse(text_chunk(tool_msg["content"]));
        s += sse(finish_chunk("stop")) + "data: [DONE]\n\n";
        stream_pieces(res, "text/event-stream", split_every(s, 5));
    });
    server.start();

    agent::llm_settings settings;
    settings.backend = agent::llm_backend::openai;
    settings.base_url = server.base();
    settings.api_key = "sk-llm";
    settings.model = "test-model";
    settings.timeout = 5;
    agent::openai_llm llm(settings);
    const auto tools = agent::builtin_tools();
    const json history = json::array({{{"role", "system"}, {"content", "Be brief."}},
                                      {{"role", "user"}, {"content", "What is the date?"}}});
    agent::brain_request request;
    request.call_id = "call-1";
    request.caller = "sip:alice@example.com";
    request.text = "What is the date?";
    request.history = &history;
    request.tools = &tools;
    std::string streamed;
    int pieces = 0;
    const auto result = llm.respond(request, [&](std::string_view t) { streamed += t, ++pieces; }, {});
    INFO(result.error);
    REQUIRE(result.error.empty());
    CHECK_FALSE(result.end_call);
    REQUIRE(result.messages.size() == 3);
    CHECK(result.messages[0]["role"] == "assistant");
    CHECK(result.messages[0]["tool_calls"][0]["function"]["name"] == "get_datetime");
    CHECK(result.messages[1]["role"] == "tool");
    CHECK(result.messages[1]["tool_call_id"] == "call_dt");
    const std::string tool_text = result.messages[1]["content"];
    CHECK_THAT(tool_text, Catch::StartsWith("Today is "));
    CHECK(result.messages[2] == json({{"role", "assistant"}, {"content", "Sure. " + tool_text}}));
    CHECK(streamed == "Sure. " + tool_text);
    CHECK(pieces >= 2);  // streamed as it came, not all at once

    const auto seen = server.seen();
    REQUIRE(seen.size() == 2);
    const auto& first = seen[0]["body"];
    CHECK(seen[0]["authorization"] == "Bearer sk-llm");
    CHECK(first["model"] == "test-model");
    CHECK(first["stream"] == true);
    CHECK(first["messages"] == history);
    CHECK(first["tools"] == tools.openai_tools());
    CHECK_FALSE(first.contains("tool_choice"));
    CHECK(seen[1]["body"]["messages"].size() == history.size() + 2);
}

TEST_CASE("agent openai: llm stops offering tools after max_tool_rounds, and hang_up ends the call", "[agent][openai]") {
    fake_server server;
    server.http.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
        auto body = json::parse(req.body, nullptr, false);
        server.record(body);
        std::string s;
        if (body.value("tool_choice", "") == "none") {
            s = sse(text_chunk("Goodbye.")) + sse(finish_chunk("stop"));  // no [DONE]: some servers skip it
        } else {
            // A model that would call tools for ever; no id (some servers leave it out).
            s = sse(tool_chunk(0, {{"function", {{"name", "hang_up"}, {"arguments", "{}"}}}})) +
                sse(finish_chunk("tool_calls")) + "data: [DONE]\n\n";
        }
        stream_pieces(res, "text/event-stream", {s});
    });
    server.start();

    agent::llm_settings settings;
    settings.base_url = server.base();
    settings.timeout = 5;
    settings.max_tool_rounds = 2;
    agent::openai_llm llm(settings);
    const auto tools = agent::builtin_tools();
    const json history = json::array({{{"role", "user"}, {"content", "bye"}}});
    agent::brain_request request;
    request.history = &history;
    request.tools = &tools;
    std::string streamed;
    const auto result = llm.respond(request, [&](std::string_view t) { streamed += t; }, {});
    INFO(result.error);
    REQUIRE(result.error.empty());
    CHECK(result.end_call);
    CHECK(streamed == "Goodbye.");
    REQUIRE(result.messages.size() == 5);  // 2 x (assistant tool call + tool result) + the answer
    CHECK(result.messages[0]["tool_calls"][0]["id"] == result.messages[1]["tool_call_id"]);
    CHECK(result.messages[2]["tool_calls"][0]["id"] != result.messages[0]["tool_calls"][0]["id"]);
    CHECK(result.messages[4]["content"] == "Goodbye.");
    const auto seen = server.seen();
    REQUIRE(seen.size() == 3);
    CHECK_FALSE(seen[0].contains("tool_choice"));
    CHECK_FALSE(seen[1].contains("tool_choice"));
    CHECK(seen[2]["tool_choice"] == "none");
    CHECK(seen[2]["tools"] == tools.openai_tools());
}

TEST_CASE("agent openai: llm faults are one-line errors", "[agent][openai]") {
    std::string mode;  // set before each request; outlives the server's threads
    fake_server server;
    server.http.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
        if (mode == "silent") {
            server.stall(std::chrono::seconds(10));
            res.set_content("{}", "application/json");
        } else if (mode == "cut") {
            stream_pieces(res, "text/event-stream", {sse(text_chunk("Half a"))}, true);
        } else if (mode == "ended") {
            stream_pieces(res, "text/event-stream", {sse(text_chunk("Half a"))});
        } else if (mode == "bad json") {
            stream_pieces(res, "text/event-stream", {sse(text_chunk("Hi")), "data: {\"choices\": [\n\n"});
        } else {
            res.status = 429;
            res.set_content("rate limited", "text/plain");
        }
    });
    server.start();
    agent::llm_settings settings;
    settings.base_url = server.base();
    settings.timeout = 5;
    const json history = json::array({{{"role", "user"}, {"content", "hi"}}});
    const agent::tool_registry no_tools;
    agent::brain_request request;
    request.history = &history;
    request.tools = &no_tools;
    std::string streamed;
    auto on_text = [&](std::string_view t) { streamed += t; };

    SECTION("a server that never answers: the timeout") {
        mode = "silent";
        settings.timeout = 1;
        agent::openai_llm llm(settings);
        const auto t0 = clock_type::now();
        const auto result = llm.respond(request, on_text, {});
        CHECK(seconds_since(t0) < 2.0);
        CHECK(seconds_since(t0) > 0.8);
        CHECK_THAT(result.error, Catch::StartsWith("llm: ") && Catch::Contains("/v1/chat/completions"));
        CHECK_THAT(result.error, Catch::Contains("timed out", Catch::CaseSensitive::No));
    }
    SECTION("a stream cut off") {
        mode = "cut";
        agent::openai_llm llm(settings);
        const auto result = llm.respond(request, on_text, {});
        CHECK_THAT(result.error, Catch::StartsWith("llm: "));
        CHECK(streamed == "Half a");
    }
    SECTION("a stream that ends without [DONE] or a finish reason") {
        mode = "ended";
        agent::openai_llm llm(settings);
        const auto result = llm.respond(request, on_text, {});
        CHECK_THAT(result.error, Catch::StartsWith("llm: ") && Catch::Contains("ended before"));
    }
    SECTION("bad JSON in the stream") {
        mode = "bad json";
        agent::openai_llm llm(settings);
        const auto result = llm.respond(request, on_text, {});
        CHECK_THAT(result.error, Catch::StartsWith("llm: bad JSON"));
        CHECK(streamed == "Hi");
    }
    SECTION("an error status") {
        agent::openai_llm llm(settings);
        const auto result = llm.respond(request, on_text, {});
        CHECK(result.error == "llm: HTTP 429 from " + server.base() + "/v1/chat/completions: rate limited");
    }
}

TEST_CASE("agent openai: a stop mid-stream returns promptly", "[agent][openai]") {
    fake_server server;
    server.http.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
        auto sent = std::make_shared<bool>(false);
        res.set_chunked_content_provider("text/event-stream", [&server, sent](std::size_t, httplib::DataSink& sink) {
            if (*sent) {
                server.stall(std::chrono::seconds(10));  // then silence, as a slow model
                return false;
            }
            *sent = true;
            const auto s = sse(text_chunk("Let me think"));
            return sink.write(s.data(), s.size());
        });
    });
    server.http.Post("/v1/audio/speech", [&](const httplib::Request&, httplib::Response& res) {
        auto sent = std::make_shared<bool>(false);
        res.set_chunked_content_provider("audio/pcm", [&server, sent](std::size_t, httplib::DataSink& sink) {
            if (*sent) {
                server.stall(std::chrono::seconds(10));
                return false;
            }
            *sent = true;
            const auto s = pcm_bytes(480);
            return sink.write(s.data(), s.size());
        });
    });
    server.start();

    std::stop_source stop;
    std::atomic<bool> first{false};
    clock_type::time_point stopped_at;  // written by the stopper, read after join()
    std::thread stopper([&] {
        const auto deadline = clock_type::now() + std::chrono::seconds(3);
        while (!first && clock_type::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        stopped_at = clock_type::now();
        stop.request_stop();
    });
    clock_type::time_point returned;

    SECTION("llm") {
        agent::llm_settings settings;
        settings.base_url = server.base();
        settings.timeout = 8;
        agent::openai_llm llm(settings);
        const json history = json::array({{{"role", "user"}, {"content", "hi"}}});
        const agent::tool_registry no_tools;
        agent::brain_request request;
        request.history = &history;
        request.tools = &no_tools;
        const auto t0 = clock_type::now();
        const auto result = llm.respond(request, [&](std::string_view) { first = true; }, stop.get_token());
        returned = clock_type::now();
        CHECK(seconds_since(t0) < 1.0);
        CHECK_THAT(result.error, Catch::StartsWith("llm: "));
    }
    SECTION("tts") {
        agent::tts_settings settings;
        settings.base_url = server.base();
        settings.timeout = 8;
        agent::openai_tts tts(settings);
        std::size_t samples = 0;
        const auto t0 = clock_type::now();
        const auto error = tts.synthesize("Hello there.", [&](std::span<const std::int16_t> pcm) {
            samples += pcm.size();
            first = true;
        }, stop.get_token());
        returned = clock_type::now();
        CHECK(seconds_since(t0) < 1.0);
        CHECK(samples == 480);
        CHECK_THAT(error, Catch::StartsWith("tts: "));
    }
    stopper.join();
    CHECK(first);
    // From the stop request (made 100 ms after the first data, the server then silent) to the return.
    // The wakeup makes it well under a millisecond; libcurl's own ticks alone would take ~100 ms.
    CHECK(std::chrono::duration<double>(returned - stopped_at).count() < 0.05);
}

TEST_CASE("agent openai: tts streams raw PCM as it arrives, odd byte splits included", "[agent][openai]") {
    fake_server server;
    server.http.Post("/v1/audio/speech", [&](const httplib::Request& req, httplib::Response& res) {
        auto body = json::parse(req.body, nullptr, false);
        server.record(body);
        // As many samples as the input has characters x 100: the client cannot pass by luck.
        const std::string input = body.value("input", "");
        stream_pieces(res, "audio/pcm", split_every(pcm_bytes(input.size() * 100), 333));
    });
    server.start();
    agent::tts_settings settings;
    settings.base_url = server.base();
    settings.model = "kokoro";
    settings.voice = "af_heart";
    settings.timeout = 5;
    bool rate_sent = false;
    SECTION("24 kHz: no sample_rate field") {}
    SECTION("16 kHz: asked for") {
        settings.sample_rate = 16000;
        rate_sent = true;
    }
    agent::openai_tts tts(settings);
    CHECK(tts.sample_rate() == static_cast<std::uint32_t>(settings.sample_rate));
    std::vector<std::int16_t> got;
    int calls = 0;
    const std::string text = "The time is three o'clock.";
    const auto error = tts.synthesize(text, [&](std::span<const std::int16_t> pcm) {
        got.insert(got.end(), pcm.begin(), pcm.end());
        ++calls;
    }, {});
    CHECK(error.empty());
    REQUIRE(got.size() == text.size() * 100);
    bool same = true;
    for (std::size_t i = 0; i < got.size(); ++i) same = same && got[i] == test_sample(i);
    CHECK(same);
    CHECK(calls > 1);

    const auto seen = server.seen();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0]["model"] == "kokoro");
    CHECK(seen[0]["voice"] == "af_heart");
    CHECK(seen[0]["input"] == text);
    CHECK(seen[0]["response_format"] == "pcm");
    CHECK(seen[0].contains("sample_rate") == rate_sent);
    if (rate_sent) CHECK(seen[0]["sample_rate"] == 16000);
}

TEST_CASE("agent openai: tts cut half way returns an error after the audio that came", "[agent][openai]") {
    fake_server server;
    constexpr std::size_t total = 24000;
    server.http.Post("/v1/audio/speech", [&](const httplib::Request& req, httplib::Response& res) {
        if (req.get_header_value("Authorization") != "Bearer sk-tts") {
            res.status = 401;
            res.set_content("no key", "text/plain");
            return;
        }
        auto pieces = split_every(pcm_bytes(total), 4000);
        pieces.resize(pieces.size() / 2);
        stream_pieces(res, "audio/pcm", pieces, true);
    });
    server.start();
    agent::tts_settings settings;
    settings.base_url = server.base();
    settings.timeout = 5;
    std::size_t samples = 0;
    auto on_audio = [&](std::span<const std::int16_t> pcm) { samples += pcm.size(); };

    SECTION("cut") {
        settings.api_key = "sk-tts";
        agent::openai_tts tts(settings);
        const auto error = tts.synthesize("A long answer.", on_audio, {});
        CHECK_THAT(error, Catch::StartsWith("tts: " + server.base() + "/v1/audio/speech: "));
        CHECK(samples == total / 2);
    }
    SECTION("an error status") {
        agent::openai_tts tts(settings);
        const auto error = tts.synthesize("A long answer.", on_audio, {});
        CHECK(error == "tts: HTTP 401 from " + server.base() + "/v1/audio/speech: no key");
        CHECK(samples == 0);
    }
}

TEST_CASE("agent openai: http_brain posts the turn and speaks the reply", "[agent][openai]") {
    fake_server server;
    server.http.Post("/brain", [&](const httplib::Request& req, httplib::Response& res) {
        auto body = json::parse(req.body, nullptr, false);
        server.record(body);
        const std::string text = body.value("text", "");
        res.set_content(json({{"reply", "You said: " + text}, {"end_call", text == "bye"}}).dump(), "application/json");
    });
    server.start();
    agent::llm_settings settings;
    settings.backend = agent::llm_backend::http_brain;
    settings.url = server.base() + "/brain";
    settings.timeout = 5;
    agent::http_brain brain(settings);
    const json history = json::array({{{"role", "user"}, {"content", "bye"}}});
    agent::brain_request request;
    request.call_id = "c-42";
    request.caller = "sip:bob@example.com";
    request.text = "bye";
    request.history = &history;
    std::vector<std::string> texts;
    const auto result = brain.respond(request, [&](std::string_view t) { texts.emplace_back(t); }, {});
    CHECK(result.error.empty());
    CHECK(result.end_call);
    CHECK(texts == std::vector<std::string>{"You said: bye"});
    CHECK(result.messages == json::array({{{"role", "assistant"}, {"content", "You said: bye"}}}));
    const auto seen = server.seen();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0] == json({{"call_id", "c-42"}, {"caller", "sip:bob@example.com"}, {"text", "bye"}, {"history", history}}));
}
