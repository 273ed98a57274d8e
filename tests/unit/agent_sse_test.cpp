// The SSE parser and the chat completions stream accumulator of the OpenAI backends (examples/agent).
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "sse.hpp"

using sipvoice::agent::chat_stream;
using sipvoice::agent::sse_event;
using sipvoice::agent::sse_parser;

namespace {

// Every line-end style, a comment, a multi-line event, "data:" without its space, an event type, an
// "id:" to ignore, a data-less event (not dispatched) and the end marker.
constexpr std::string_view mixed_stream =
    ": keep-alive comment\r\n"
    "data: {\"a\":1}\r\n"
    "\r\n"
    "data: line one\n"
    "data:line two\n"
    "id: 7\n"
    "\n"
    "event: ping\r"
    "data: lone CR\r"
    "\r"
    "data: crlf one\r\n"
    "data: crlf two\r\n"
    "\r\n"
    "event: nothing\n"
    "\n"
    "data: [DONE]\r\n"
    "\r\n";

std::vector<sse_event> feed_split(std::string_view bytes, std::vector<std::size_t> cuts) {
    sse_parser p;
    std::vector<sse_event> out;
    std::size_t from = 0;
    cuts.push_back(bytes.size());
    for (const std::size_t cut : cuts) {
        p.feed(bytes.substr(from, cut - from), out);
        from = cut;
    }
    CHECK_FALSE(p.pending());
    return out;
}

// Two tool calls streamed in parallel as OpenAI does: ids and names first, then the arguments in
// pieces that cut through keys and strings, interleaved between the two indexes.
constexpr std::string_view tool_stream =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
    "{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_datetime\",\"arguments\":\"\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":["
    "{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"hang_up\",\"arguments\":\"{\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"wh\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"at\\\": \\\"da\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"}\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"te\\\"}\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
    "data: [DONE]\n\n";

}  // namespace

TEST_CASE("agent sse: events of a stream with every line-end style", "[agent][sse]") {
    const auto events = feed_split(mixed_stream, {});
    const std::vector<sse_event> expected = {
        {"", "{\"a\":1}"},
        {"", "line one\nline two"},
        {"ping", "lone CR"},
        {"", "crlf one\ncrlf two"},
        {"", "[DONE]"},
    };
    CHECK(events == expected);
    CHECK(events.back().done());
    CHECK_FALSE(events.front().done());
}

TEST_CASE("agent sse: the input split at every byte position gives the same events", "[agent][sse]") {
    const auto whole = feed_split(mixed_stream, {});
    REQUIRE(whole.size() == 5);
    for (std::size_t i = 0; i <= mixed_stream.size(); ++i) {
        INFO("split at " << i);
        CHECK(feed_split(mixed_stream, {i}) == whole);
    }
    // Two cuts: catches state that survives one boundary but not the next (a \r\n cut in two
    // right after another cut).
    for (std::size_t i = 0; i <= mixed_stream.size(); i += 3)
        for (std::size_t j = i; j <= mixed_stream.size(); ++j) {
            INFO("split at " << i << " and " << j);
            CHECK(feed_split(mixed_stream, {i, j}) == whole);
        }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < mixed_stream.size(); ++i) every.push_back(i);
    CHECK(feed_split(mixed_stream, every) == whole);
}

TEST_CASE("agent sse: an event cut off before its blank line is pending, not dispatched", "[agent][sse]") {
    sse_parser p;
    CHECK(p.feed("data: {\"choices\":[{\"delta\":{\"content\":\"Hel").empty());
    CHECK(p.pending());
    CHECK(p.feed("lo\"}}]}\n").empty());
    CHECK(p.pending());
    const auto events = p.feed("\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "{\"choices\":[{\"delta\":{\"content\":\"Hello\"}}]}");
    CHECK_FALSE(p.pending());
}

TEST_CASE("agent sse: two parallel tool calls accumulated by index from split arguments", "[agent][sse]") {
    // Through the parser at every split position, so that the accumulator sees the same payloads
    // whatever the network did.
    for (std::size_t cut = 0; cut <= tool_stream.size(); cut += 7) {
        INFO("split at " << cut);
        chat_stream s;
        for (const auto& e : feed_split(tool_stream, {cut})) {
            const auto d = s.add(e.data);
            REQUIRE(d.error.empty());
            CHECK(d.text.empty());
        }
        CHECK(s.done());
        CHECK(s.complete());
        CHECK(s.finish_reason() == "tool_calls");
        CHECK(s.text().empty());
        REQUIRE(s.tool_calls().size() == 2);
        CHECK(s.tool_calls()[0].id == "call_a");
        CHECK(s.tool_calls()[0].name == "get_datetime");
        CHECK(s.tool_calls()[0].arguments == R"({"what": "date"})");
        CHECK(s.tool_calls()[1].id == "call_b");
        CHECK(s.tool_calls()[1].name == "hang_up");
        CHECK(s.tool_calls()[1].arguments == "{}");
    }
}

TEST_CASE("agent sse: text deltas come back in order, and DONE ends the stream", "[agent][sse]") {
    chat_stream s;
    CHECK(s.add(R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})").text.empty());
    CHECK(s.add(R"({"choices":[{"index":0,"delta":{"content":"It is "}}]})").text == "It is ");
    CHECK(s.add(R"({"choices":[{"index":0,"delta":{"content":"3 PM."}}]})").text == "3 PM.");
    CHECK_FALSE(s.complete());
    CHECK(s.add(R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})").error.empty());
    CHECK(s.complete());
    CHECK_FALSE(s.done());
    // A usage chunk (stream_options.include_usage) has no choices: nothing, and no error.
    const auto usage = s.add(R"({"choices":[],"usage":{"total_tokens":12}})");
    CHECK(usage.error.empty());
    CHECK(usage.text.empty());
    CHECK(s.add("[DONE]").error.empty());
    CHECK(s.done());
    CHECK(s.text() == "It is 3 PM.");
    CHECK(s.finish_reason() == "stop");
    CHECK(s.tool_calls().empty());
}

TEST_CASE("agent sse: bad JSON or a bad chunk is an error value", "[agent][sse]") {
    const char* bad[] = {
        "{not json",
        "",
        "[1,2]",
        R"({"choices":5})",
        R"({"choices":["x"]})",
        R"({"choices":[{"delta":{"tool_calls":{"index":0}}}]})",
        R"({"choices":[{"delta":{"tool_calls":[{"index":-1,"function":{"name":"x"}}]}}]})",
        R"({"choices":[{"delta":{"tool_calls":[{"index":"0","function":{"name":"x"}}]}}]})",
        R"({"choices":[{"delta":{"tool_calls":[{"index":4000000000,"function":{"name":"x"}}]}}]})",
        R"({"error":{"message":"model overloaded","type":"server_error"}})",
    };
    for (const char* payload : bad) {
        INFO(payload);
        chat_stream s;
        const auto d = s.add(payload);
        CHECK_FALSE(d.error.empty());
        CHECK(s.tool_calls().size() <= 64);
    }
    chat_stream s;
    CHECK_THAT(s.add(R"({"error":{"message":"model overloaded"}})").error, Catch::Contains("model overloaded"));
}
