// fuzz_sse: the agent's stream parsers on arbitrary bytes: sse_parser (Server-Sent Events from an
// OpenAI-compatible server), chat_stream (the chat.completion.chunk payloads: text deltas, tool calls
// assembled by index) and sentence_splitter (the reply cut into sentences for speech).
//
// Input: byte 0 is the chunk size (1..64) the rest is fed in, as the network would split it.
//
// Properties:
//  - the events do not depend on how the bytes are split (one feed of everything == chunked feeds);
//  - chat_stream never throws on any payload; its text is the concatenation of the deltas it handed
//    back; every tool call has its pieces in order;
//  - sentence_splitter gives back non-empty trimmed sentences, and nothing of the text's words is
//    lost between feed() and flush() (the letters and digits of the input come out in order).
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"
#include "sentence_splitter.hpp"
#include "sse.hpp"

namespace {
using namespace sipvoice::agent;

std::string alnum(std::string_view s) {
    std::string out;
    for (const char c : s)
        if (std::isalnum(static_cast<unsigned char>(c)) != 0) out.push_back(c);
    return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

    sse_parser whole;
    const auto expect = whole.feed(bytes);
    sse_parser split;
    std::vector<sse_event> got;
    for (std::size_t at = 0; at < bytes.size(); at += chunk) split.feed(bytes.substr(at, chunk), got);
    FUZZ_CHECK(got == expect);
    FUZZ_CHECK(whole.pending() == split.pending());

    chat_stream chat;
    std::string text;
    for (const auto& e : expect) {
        const auto d = chat.add(e.data);
        text += d.text;
    }
    FUZZ_CHECK(chat.text() == text);

    // The reply text (or the raw bytes when the stream had none) through the sentence cutter.
    const std::string_view reply = text.empty() ? bytes : std::string_view(text);
    sentence_splitter cutter;
    std::string spoken;
    for (std::size_t at = 0; at < reply.size(); at += chunk) {
        for (const auto& s : cutter.feed(reply.substr(at, chunk))) {
            FUZZ_CHECK(!s.empty() && s.front() != ' ' && s.back() != ' ');
            spoken += s;
        }
    }
    spoken += cutter.flush();
    FUZZ_CHECK(alnum(spoken) == alnum(reply));
    return 0;
}
