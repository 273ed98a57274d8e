#include "sse.hpp"

#include <exception>

#include <nlohmann/json.hpp>

namespace sipvoice::agent {
namespace {

// A tool call index beyond this is a broken server, not a model calling a hundred tools at once; it
// would otherwise make the vector as large as the number says.
constexpr std::size_t max_tool_calls = 64;

std::string excerpt(std::string_view s) {
    std::string out(s.substr(0, 120));
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return s.size() > 120 ? out + "..." : out;
}

const nlohmann::json* member(const nlohmann::json& j, const char* key) {
    if (!j.is_object()) return nullptr;
    const auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
}

}  // namespace

void sse_parser::feed(std::string_view bytes, std::vector<sse_event>& out) {
    // A line ends at \r\n, \n or a lone \r (the SSE grammar allows all three).
    for (const char c : bytes) {
        if (c == '\n' && after_cr_) {
            after_cr_ = false;
            continue;
        }
        after_cr_ = c == '\r';
        if (c == '\r' || c == '\n') {
            on_line(line_, out);
            line_.clear();
        } else {
            line_ += c;
        }
    }
}

void sse_parser::on_line(std::string_view line, std::vector<sse_event>& out) {
    if (line.empty()) {  // the blank line: dispatch, unless the event has no data (spec: ignored)
        if (has_data_) {
            if (!event_.data.empty() && event_.data.back() == '\n') event_.data.pop_back();
            out.push_back(std::move(event_));
        }
        event_ = {};
        has_data_ = false;
        return;
    }
    if (line.front() == ':') return;  // a comment: keep-alives
    const auto colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);
    if (field == "data") {
        event_.data.append(value);
        event_.data += '\n';
        has_data_ = true;
    } else if (field == "event") {
        event_.type = std::string(value);
    }
    // id and retry do not matter to a single request; unknown fields are ignored (spec).
}

chat_stream::delta chat_stream::add(std::string_view data) {
    if (data == "[DONE]") {
        done_ = true;
        return {};
    }
    const auto j = nlohmann::json::parse(data, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return {{}, "bad JSON in the stream: " + excerpt(data)};
    if (const auto* err = member(j, "error")) {
        const auto* message = member(*err, "message");
        return {{}, "the server reported: " + excerpt(message != nullptr && message->is_string()
                                                           ? message->get<std::string>()
                                                           : err->dump())};
    }
    const auto* choices = member(j, "choices");
    if (choices == nullptr || (choices->is_array() && choices->empty())) return {};  // e.g. a usage chunk
    if (!choices->is_array() || !choices->front().is_object()) return {{}, "bad choices in the stream: " + excerpt(data)};
    const auto& choice = choices->front();
    delta out;
    try {
        if (const auto* reason = member(choice, "finish_reason"); reason != nullptr && reason->is_string())
            finish_reason_ = reason->get<std::string>();
        const auto* d = member(choice, "delta");
        if (d == nullptr) return out;
        if (const auto* content = member(*d, "content"); content != nullptr && content->is_string()) {
            out.text = content->get<std::string>();
            text_ += out.text;
        }
        const auto* calls = member(*d, "tool_calls");
        if (calls == nullptr) return out;
        if (!calls->is_array()) return {{}, "bad tool_calls in the stream: " + excerpt(data)};
        for (std::size_t i = 0; i < calls->size(); ++i) {
            const auto& piece = (*calls)[i];
            // Servers that leave out the index send each call whole, one per array slot.
            std::size_t index = i;
            if (const auto* idx = member(piece, "index")) {
                if (!idx->is_number_unsigned() && !(idx->is_number_integer() && idx->get<long long>() >= 0))
                    return {{}, "bad tool call index in the stream: " + excerpt(data)};
                index = idx->get<std::size_t>();
            }
            if (index >= max_tool_calls) return {{}, "tool call index out of range in the stream: " + excerpt(data)};
            if (calls_.size() <= index) calls_.resize(index + 1);
            auto& call = calls_[index];
            if (const auto* id = member(piece, "id"); id != nullptr && id->is_string() && call.id.empty())
                call.id = id->get<std::string>();
            const auto* fn = member(piece, "function");
            if (fn == nullptr) continue;
            if (const auto* name = member(*fn, "name"); name != nullptr && name->is_string()) {
                // OpenAI sends the name whole in the first piece; some servers repeat it in every piece.
                const auto s = name->get<std::string>();
                if (s != call.name) call.name += s;
            }
            if (const auto* args = member(*fn, "arguments"))
                call.arguments += args->is_string() ? args->get<std::string>() : args->dump();
        }
    } catch (const std::exception& e) {  // a type nlohmann refuses; never a crash
        return {{}, std::string("bad chunk in the stream (") + e.what() + "): " + excerpt(data)};
    }
    return out;
}

}  // namespace sipvoice::agent
