#include "openai_backends.hpp"

#include <algorithm>
#include <cctype>
#include <exception>
#include <optional>
#include <vector>

#include <sipvoice/media/wav.hpp>

#include "sse.hpp"
#include "tools.hpp"

namespace sipvoice::agent {
namespace {

using nlohmann::json;

// The connection should be up long before a slow answer is: a dead server fails fast.
double connect_timeout(double timeout) { return std::clamp(timeout, 0.1, 5.0); }

std::string excerpt(std::string_view s) {
    std::string out(s.substr(0, 200));
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return s.size() > 200 ? out + "..." : out;
}

std::string trim(std::string s) {
    auto space = [](unsigned char c) { return std::isspace(c) != 0; };
    s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), space));
    s.erase(std::find_if_not(s.rbegin(), s.rend(), space).base(), s.end());
    return s;
}

std::string failure(std::string_view stage, const http_response& r) {
    return std::string(stage) + (r.cancelled ? "cancelled" : r.error);
}

}  // namespace

// ---- speech to text

openai_stt::openai_stt(const stt_settings& settings, std::string language)
    : settings_(settings), language_(settings.language.empty() ? std::move(language) : settings.language) {}

speech_to_text::result openai_stt::transcribe(std::span<const std::int16_t> pcm, std::uint32_t rate,
                                              std::stop_token stop) {
    if (pcm.empty()) return {};  // nothing was said: no request
    try {
        media::wav_audio audio;
        audio.sample_rate = rate;
        audio.channels = 1;
        audio.samples.assign(pcm.begin(), pcm.end());
        const auto wav = media::serialize_wav(audio);
        if (!wav) return {{}, "stt: cannot make a WAV of the turn: " + std::string(wav.error().what())};

        http_request req;
        req.url = endpoint(settings_.base_url, "audio/transcriptions");
        req.api_key = settings_.api_key;
        req.connect_timeout = connect_timeout(settings_.timeout);
        req.timeout = settings_.timeout;
        req.form.push_back({"file", std::string(wav->begin(), wav->end()), "turn.wav", "audio/wav"});
        req.form.push_back({"model", settings_.model, {}, {}});
        if (!language_.empty()) req.form.push_back({"language", language_, {}, {}});
        req.form.push_back({"response_format", "json", {}, {}});

        const auto r = http_.post(req, stop);
        if (!r.ok()) return {{}, failure("stt: ", r)};
        const auto j = json::parse(r.body, nullptr, false);
        if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
            return {{}, "stt: no \"text\" in the answer from " + req.url + ": " + excerpt(r.body)};
        return {trim(j["text"].get<std::string>()), {}};
    } catch (const std::exception& e) {
        return {{}, std::string("stt: ") + e.what()};
    }
}

// ---- the LLM, streaming, with tools

openai_llm::openai_llm(const llm_settings& settings) : settings_(settings) {}

brain_result openai_llm::respond(const brain_request& request, const std::function<void(std::string_view)>& on_text,
                                 std::stop_token stop) {
    brain_result out;
    try {
        const std::string url = endpoint(settings_.base_url, "chat/completions");
        json messages = request.history != nullptr && request.history->is_array() ? *request.history : json::array();
        const json tools = request.tools != nullptr ? request.tools->openai_tools() : json::array();
        bool spoke = false;  // text of an earlier round went to on_text
        char last_spoken = ' ';

        for (std::int64_t round = 0;; ++round) {
            // After max_tool_rounds rounds of tools the model must answer in words.
            const bool last = round >= settings_.max_tool_rounds;
            json body = {{"model", settings_.model}, {"messages", messages}, {"stream", true}};
            if (!tools.empty()) {
                body["tools"] = tools;
                if (last) body["tool_choice"] = "none";
            }
            http_request req;
            req.url = url;
            req.api_key = settings_.api_key;
            req.connect_timeout = connect_timeout(settings_.timeout);
            req.timeout = settings_.timeout;
            req.headers.emplace_back("Accept: text/event-stream");
            req.json_body = body.dump(-1, ' ', false, json::error_handler_t::replace);

            sse_parser parser;
            chat_stream stream;
            std::string bad;
            std::vector<sse_event> events;
            bool first_text = true;
            const auto r = http_.post(
                req,
                [&](std::string_view bytes) {
                    events.clear();
                    parser.feed(bytes, events);
                    for (const auto& e : events) {
                        if (stream.done()) break;
                        auto d = stream.add(e.data);
                        if (!d.error.empty()) {
                            bad = std::move(d.error);
                            return false;
                        }
                        if (d.text.empty() || stop.stop_requested()) continue;
                        // "Let me check." then "It is 3 PM.": keep the rounds' sentences apart.
                        if (first_text && spoke && std::isspace(static_cast<unsigned char>(last_spoken)) == 0)
                            on_text(" ");
                        first_text = false;
                        spoke = true;
                        last_spoken = d.text.back();
                        on_text(d.text);
                    }
                    return true;
                },
                stop);
            if (r.cancelled || stop.stop_requested()) {
                out.error = "llm: cancelled";
                return out;
            }
            if (!bad.empty()) {
                out.error = "llm: " + bad + " (from " + url + ")";
                return out;
            }
            if (!r.ok()) {
                out.error = "llm: " + r.error;
                return out;
            }
            if (!stream.complete()) {
                out.error = "llm: the stream from " + url + " ended before the reply did";
                return out;
            }

            std::vector<chat_tool_call> calls;
            for (const auto& c : stream.tool_calls())
                if (!c.name.empty()) calls.push_back(c);
            if (calls.empty() || last) {
                if (!calls.empty() && stream.text().empty()) {
                    out.error = "llm: the model still called tools after " + std::to_string(round) + " rounds";
                    return out;
                }
                out.messages.push_back({{"role", "assistant"}, {"content", stream.text()}});
                return out;
            }

            json tool_calls = json::array();
            for (std::size_t i = 0; i < calls.size(); ++i) {
                // Some servers leave the id out; the tool message must still point at its call.
                if (calls[i].id.empty()) calls[i].id = "call_" + std::to_string(round) + "_" + std::to_string(i);
                tool_calls.push_back({{"id", calls[i].id},
                                      {"type", "function"},
                                      {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments}}}});
            }
            json assistant = {{"role", "assistant"},
                              {"content", stream.text().empty() ? json(nullptr) : json(stream.text())},
                              {"tool_calls", tool_calls}};
            messages.push_back(assistant);
            out.messages.push_back(std::move(assistant));
            for (const auto& call : calls) {
                tool_context ctx;
                ctx.call_id = request.call_id;
                ctx.caller = request.caller;
                ctx.services = request.services;
                ctx.stop = stop;
                const tool_result result = request.tools != nullptr
                                               ? request.tools->call(call.name, call.arguments, ctx)
                                               : tool_result{"no tools are available", true, false};
                if (result.end_call) out.end_call = true;
                if (!result.transfer_to.empty()) out.transfer_to = result.transfer_to;
                // The model is told plainly when a tool failed, so it apologizes instead of reading
                // the reason out as a result.
                json msg = {{"role", "tool"},
                            {"tool_call_id", call.id},
                            {"content", result.error ? "error: " + result.text : result.text}};
                messages.push_back(msg);
                out.messages.push_back(std::move(msg));
            }
        }
    } catch (const std::exception& e) {
        out.error = std::string("llm: ") + e.what();
    }
    return out;
}

// ---- a webhook brain

http_brain::http_brain(const llm_settings& settings) : settings_(settings) {}

brain_result http_brain::respond(const brain_request& request, const std::function<void(std::string_view)>& on_text,
                                 std::stop_token stop) {
    brain_result out;
    try {
        const json body = {{"call_id", request.call_id},
                           {"caller", request.caller},
                           {"text", request.text},
                           {"history", request.history != nullptr ? *request.history : json::array()}};
        http_request req;
        req.url = settings_.url;
        req.api_key = settings_.api_key;
        req.connect_timeout = connect_timeout(settings_.timeout);
        req.timeout = settings_.timeout;
        req.json_body = body.dump(-1, ' ', false, json::error_handler_t::replace);
        const auto r = http_.post(req, stop);
        if (!r.ok()) {
            out.error = failure("llm: ", r);
            return out;
        }
        const auto j = json::parse(r.body, nullptr, false);
        if (!j.is_object() || !j.contains("reply") || !j["reply"].is_string()) {
            out.error = "llm: no \"reply\" in the answer from " + settings_.url + ": " + excerpt(r.body);
            return out;
        }
        const auto reply = j["reply"].get<std::string>();
        if (const auto it = j.find("end_call"); it != j.end() && it->is_boolean()) out.end_call = it->get<bool>();
        if (!reply.empty() && !stop.stop_requested()) on_text(reply);
        out.messages.push_back({{"role", "assistant"}, {"content", reply}});
    } catch (const std::exception& e) {
        out.error = std::string("llm: ") + e.what();
    }
    return out;
}

// ---- text to speech, streamed as raw PCM

openai_tts::openai_tts(const tts_settings& settings) : settings_(settings) {}

std::uint32_t openai_tts::sample_rate() const {
    return static_cast<std::uint32_t>(std::clamp<std::int64_t>(settings_.sample_rate, 1, 384000));
}

std::string openai_tts::synthesize(std::string_view text,
                                   const std::function<void(std::span<const std::int16_t>)>& on_audio,
                                   std::stop_token stop) {
    if (text.empty()) return {};  // servers refuse an empty input
    try {
        json body = {{"model", settings_.model},
                     {"voice", settings_.voice},
                     {"input", text},
                     {"response_format", "pcm"}};
        // OpenAI's pcm is always 24 kHz and it rejects unknown fields; speaches and Kokoro take a rate.
        if (settings_.sample_rate != 24000) body["sample_rate"] = settings_.sample_rate;
        http_request req;
        req.url = endpoint(settings_.base_url, "audio/speech");
        req.api_key = settings_.api_key;
        req.connect_timeout = connect_timeout(settings_.timeout);
        req.timeout = settings_.timeout;
        req.json_body = body.dump(-1, ' ', false, json::error_handler_t::replace);

        // The network splits the s16le stream anywhere: an odd byte waits for its partner.
        std::optional<unsigned char> carry;
        std::vector<std::int16_t> samples;
        auto sample = [](unsigned char lo, unsigned char hi) {
            return static_cast<std::int16_t>(static_cast<std::uint16_t>(lo | (hi << 8)));
        };
        const auto r = http_.post(
            req,
            [&](std::string_view bytes) {
                samples.clear();
                std::size_t i = 0;
                if (carry && !bytes.empty()) {
                    samples.push_back(sample(*carry, static_cast<unsigned char>(bytes[0])));
                    carry.reset();
                    i = 1;
                }
                for (; i + 1 < bytes.size(); i += 2)
                    samples.push_back(sample(static_cast<unsigned char>(bytes[i]), static_cast<unsigned char>(bytes[i + 1])));
                if (i < bytes.size()) carry = static_cast<unsigned char>(bytes[i]);
                if (!samples.empty() && !stop.stop_requested()) on_audio(samples);
                return true;
            },
            stop);
        if (!r.ok()) return failure("tts: ", r);
        return {};
    } catch (const std::exception& e) {
        return std::string("tts: ") + e.what();
    }
}

}  // namespace sipvoice::agent
