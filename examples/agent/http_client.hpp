// A small blocking HTTP client over libcurl, for the OpenAI-compatible backends and the web tools.
// Runs on the conversation's worker threads; one http_client may be used by several threads at once.
//
// Why the multi interface under a blocking call: curl_multi_poll can be woken from another thread
// (curl_multi_wakeup), so a stop request (barge-in, hang-up) aborts a transfer at once instead of at
// libcurl's next progress tick (up to a second when the server is silent). Each http_client keeps
// its idle multi handles, and with them their connection caches: the next turn reuses the TCP/TLS
// connection to the same server.
//
// Never throws: every failure, a throwing body callback included, is http_response::error.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace sipvoice::agent {

struct form_part {
    std::string name;
    std::string value;         // the part's bytes (a file's content)
    std::string filename;      // non-empty: sent as a file
    std::string content_type;  // empty: libcurl's default
};

struct http_request {
    std::string url;
    std::string api_key;               // non-empty: "Authorization: Bearer <key>"
    std::vector<std::string> headers;  // extra "Name: value" lines
    std::string json_body;             // sent as application/json when `form` is empty
    std::vector<form_part> form;       // non-empty: a multipart/form-data POST instead
    double connect_timeout = 5;        // seconds
    double timeout = 10;               // seconds for the whole transfer, response body included
};

struct http_response {
    long status = 0;     // the HTTP status; 0 when no response arrived
    std::string body;    // the body when it was not streamed (no sink, or a non-2xx status)
    std::string error;   // empty: a complete 2xx response; else one line naming the URL
    bool cancelled = false;  // stopped through the stop_token
    [[nodiscard]] bool ok() const noexcept { return error.empty(); }
};

// Gets the body of a 2xx response in pieces as they arrive. Returning false abandons the transfer
// (the caller found the stream bad and keeps its own reason).
using body_sink = std::function<bool(std::string_view bytes)>;

class http_client {
public:
    http_client();
    ~http_client();
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    // A POST. With a sink, a 2xx body goes to it and not into http_response::body; error bodies are
    // always collected (their first 200 bytes go into the error line).
    http_response post(const http_request& request, const body_sink& sink, std::stop_token stop) noexcept;
    http_response post(const http_request& request, std::stop_token stop) noexcept {
        return post(request, body_sink{}, std::move(stop));
    }

    // A GET (REST reads: a weather forecast, a Home Assistant state). The request's json_body and
    // form are ignored; everything else (headers, api_key, timeouts, the stop) is as for post().
    http_response get(const http_request& request, std::stop_token stop) noexcept;

private:
    struct pool;
    std::unique_ptr<pool> pool_;

    // The one transfer behind both verbs.
    http_response perform(const http_request& request, const body_sink& sink, std::stop_token stop, bool is_get) noexcept;
};

}  // namespace sipvoice::agent
