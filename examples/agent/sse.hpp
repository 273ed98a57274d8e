// Server-Sent Events, as an OpenAI-compatible server streams chat completions.
//
// sse_parser is incremental: bytes go in as the network delivers them, split anywhere (inside a
// line, between the \r and \n of a line end), and each event comes out once its blank line has
// arrived. chat_stream folds the "data:" payloads of a chat completions stream into the reply: text
// deltas (handed back so that the caller can speak them at once), tool calls assembled by index
// from their pieces, and the finish reason. Neither throws; a payload that is not what the protocol
// says is an error value.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sipvoice::agent {

struct sse_event {
    std::string type;  // the "event:" field; empty for the default ("message")
    std::string data;  // the "data:" lines joined by \n
    [[nodiscard]] bool done() const { return data == "[DONE]"; }  // OpenAI's end-of-stream marker
    friend bool operator==(const sse_event&, const sse_event&) = default;
};

class sse_parser {
public:
    // Appends to `out` the events that `bytes` completes.
    void feed(std::string_view bytes, std::vector<sse_event>& out);
    std::vector<sse_event> feed(std::string_view bytes) {
        std::vector<sse_event> out;
        feed(bytes, out);
        return out;
    }
    // Bytes of an event whose blank line has not come yet (a stream that ends here was cut).
    [[nodiscard]] bool pending() const { return !line_.empty() || has_data_ || !event_.type.empty(); }

private:
    void on_line(std::string_view line, std::vector<sse_event>& out);
    std::string line_;  // the unfinished line
    bool after_cr_ = false;  // the last byte was a \r: a \n right after it ends no second line
    sse_event event_;
    bool has_data_ = false;
};

struct chat_tool_call {
    std::string id;
    std::string name;
    std::string arguments;  // JSON text, concatenated from the pieces
};

class chat_stream {
public:
    struct delta {
        std::string text;   // reply text this payload adds ("" when none)
        std::string error;  // non-empty: the payload is bad (or is the server's error report)
    };
    // One event's data: a chat.completion.chunk in JSON, or [DONE].
    delta add(std::string_view data);

    [[nodiscard]] bool done() const { return done_; }  // [DONE] arrived
    // The stream ended properly: [DONE], or at least a finish reason (servers that skip [DONE]).
    [[nodiscard]] bool complete() const { return done_ || !finish_reason_.empty(); }
    [[nodiscard]] const std::string& text() const { return text_; }
    [[nodiscard]] const std::string& finish_reason() const { return finish_reason_; }
    // By index; an index that no piece named stays an empty entry (callers skip nameless calls).
    [[nodiscard]] const std::vector<chat_tool_call>& tool_calls() const { return calls_; }

private:
    std::string text_;
    std::string finish_reason_;
    std::vector<chat_tool_call> calls_;
    bool done_ = false;
};

}  // namespace sipvoice::agent
