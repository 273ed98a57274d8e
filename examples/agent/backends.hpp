// The three stages of a turn, as interfaces: speech to text, the brain (an LLM with tools, an HTTP
// agent, or the offline rules), text to speech. Each is chosen in the configuration (make_* below).
//
// Threading (DESIGN.md): every method here blocks and runs on a worker thread of the conversation,
// never on the SIP thread. Each takes a std::stop_token; a barge-in or the end of the call requests a
// stop, and the method returns soon after (an HTTP transfer is aborted, a synthesis stops between
// chunks). What a stopped call returns does not matter: the conversation has moved on.
//
// Errors are values: a non-empty `error` names the stage and what went wrong in one line
// ("stt: HTTP 500 from http://127.0.0.1:8000/v1/audio/transcriptions: ..."). The conversation says
// its apology and listens again; a failing stage never ends the call.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config.hpp"

namespace sipvoice::agent {

class tool_registry;
class agent_services;

class speech_to_text {
public:
    virtual ~speech_to_text() = default;
    struct result {
        std::string text;   // what was understood; empty: nothing (noise, silence)
        std::string error;  // non-empty: the stage failed
    };
    // One caller turn: mono PCM16 at `rate` (16000 from the conversation).
    virtual result transcribe(std::span<const std::int16_t> pcm, std::uint32_t rate, std::stop_token stop) = 0;
};

class text_to_speech {
public:
    virtual ~text_to_speech() = default;
    // Speaks `text`: on_audio gets mono PCM16 at sample_rate() in chunks, as soon as each arrives
    // (streaming). Returns "" or the error; a stream that breaks half way returns an error after the
    // chunks that did arrive.
    virtual std::string synthesize(std::string_view text,
                                   const std::function<void(std::span<const std::int16_t>)>& on_audio,
                                   std::stop_token stop) = 0;
    [[nodiscard]] virtual std::uint32_t sample_rate() const = 0;
};

// What the brain gets for one turn.
struct brain_request {
    std::string call_id;
    std::string caller;          // the caller's SIP URI (From)
    std::string text;            // what the caller just said (already the last "user" message of history)
    const nlohmann::json* history = nullptr;  // OpenAI chat messages: system, user, assistant, tool, ...
    const tool_registry* tools = nullptr;     // what the brain may call (never null from the conversation)
    agent_services* services = nullptr;       // for the tools (tool_context::services); may be null
};

struct brain_result {
    std::string error;         // non-empty: failed (text streamed before the failure may have been spoken)
    // Messages to append to the history, in order: assistant messages with tool_calls, the tool
    // results (role "tool"), and the final assistant message with the whole reply text.
    nlohmann::json messages = nlohmann::json::array();
    bool end_call = false;     // the brain decided to end the call (hang_up tool, a goodbye)
    std::string transfer_to;   // transfer the call there after the reply (transfer_call tool)
};

class brain {
public:
    virtual ~brain() = default;
    // Answers one turn. on_text gets the reply as it is generated (token by token for a streaming
    // LLM; all at once for the others); only text meant to be spoken goes there.
    virtual brain_result respond(const brain_request& request, const std::function<void(std::string_view)>& on_text,
                                 std::stop_token stop) = 0;
};

// The stages the configuration asks for. On a setup problem (a model file missing) nullptr and
// *error set to one line.
// The offline recognizer is biased towards the phrases of `tools` (null: the built-in tools).
std::unique_ptr<speech_to_text> make_stt(const config& cfg, std::string* error, const tool_registry* tools = nullptr);
std::unique_ptr<text_to_speech> make_tts(const config& cfg, std::string* error);
std::unique_ptr<brain> make_brain(const config& cfg, std::string* error);

}  // namespace sipvoice::agent
