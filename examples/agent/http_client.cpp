#include "http_client.hpp"

#include <algorithm>
#include <exception>
#include <mutex>

#include <curl/curl.h>

namespace sipvoice::agent {
namespace {

constexpr std::size_t max_error_body = 64 * 1024;       // of a non-2xx response: only its start is shown
constexpr std::size_t max_body = 64 * 1024 * 1024;      // of a non-streamed 2xx response
constexpr std::size_t idle_multis_kept = 4;

void global_init() {
    // curl_global_init is not thread-safe; the first request of any thread does it, once.
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct easy_deleter {
    void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
struct mime_deleter {
    void operator()(curl_mime* m) const noexcept { curl_mime_free(m); }
};
struct slist_deleter {
    void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};

// What the callbacks, called from inside curl_multi_perform, share with post().
struct transfer {
    CURL* easy = nullptr;
    const body_sink* sink = nullptr;
    std::stop_token stop;
    std::string body;
    bool sink_refused = false;
    std::string sink_error;  // the sink threw
};

bool is_2xx(long status) { return status >= 200 && status < 300; }

std::size_t on_write(char* data, std::size_t size, std::size_t count, void* user) {
    auto& t = *static_cast<transfer*>(user);
    const std::size_t n = size * count;
    if (t.stop.stop_requested()) return 0;  // anything but n aborts the transfer
    long status = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    if (is_2xx(status) && t.sink != nullptr && *t.sink) {
        // An exception must not unwind through libcurl's C frames.
        try {
            if (!(*t.sink)(std::string_view(data, n))) {
                t.sink_refused = true;
                return 0;
            }
        } catch (const std::exception& e) {
            t.sink_error = e.what();
            return 0;
        } catch (...) {
            t.sink_error = "unknown exception";
            return 0;
        }
        return n;
    }
    const std::size_t cap = is_2xx(status) ? max_body : max_error_body;
    if (t.body.size() < cap) t.body.append(data, std::min(n, cap - t.body.size()));
    return n;
}

// Belt and braces with the wakeup in post(): aborts from inside a transfer that is busy receiving.
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<transfer*>(user)->stop.stop_requested() ? 1 : 0;
}

// The first 200 bytes of an error body on one line, not cutting a UTF-8 sequence in two.
std::string body_excerpt(std::string_view body) {
    std::size_t n = std::min<std::size_t>(body.size(), 200);
    if (n < body.size())
        while (n > 0 && (static_cast<unsigned char>(body[n]) & 0xC0) == 0x80) --n;
    std::string out(body.substr(0, n));
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    while (!out.empty() && out.back() == ' ') out.pop_back();
    if (n < body.size()) out += "...";
    return out;
}

long to_ms(double seconds) { return seconds <= 0 ? 0 : static_cast<long>(seconds * 1000.0 + 0.5); }

}  // namespace

struct http_client::pool {
    std::mutex mutex;
    std::vector<CURLM*> idle;

    CURLM* take() {
        {
            const std::lock_guard lock(mutex);
            if (!idle.empty()) {
                CURLM* m = idle.back();
                idle.pop_back();
                return m;
            }
        }
        return curl_multi_init();
    }
    void give_back(CURLM* m) {
        {
            const std::lock_guard lock(mutex);
            if (idle.size() < idle_multis_kept) {
                idle.push_back(m);
                return;
            }
        }
        curl_multi_cleanup(m);
    }
    ~pool() {
        for (CURLM* m : idle) curl_multi_cleanup(m);
    }
};

http_client::http_client() : pool_(std::make_unique<pool>()) { global_init(); }
http_client::~http_client() = default;

http_response http_client::post(const http_request& request, const body_sink& sink, std::stop_token stop) noexcept {
    return perform(request, sink, std::move(stop), false);
}

http_response http_client::get(const http_request& request, std::stop_token stop) noexcept {
    return perform(request, body_sink{}, std::move(stop), true);
}

http_response http_client::perform(const http_request& request, const body_sink& sink, std::stop_token stop,
                                   bool is_get) noexcept {
    http_response out;
    try {
        global_init();
        transfer t;
        t.sink = &sink;
        t.stop = stop;
        // Declared before the easy handle, so freed after it, as libcurl wants.
        std::unique_ptr<curl_mime, mime_deleter> mime;
        std::unique_ptr<curl_slist, slist_deleter> headers;
        std::unique_ptr<CURL, easy_deleter> easy(curl_easy_init());
        if (!easy) return {0, {}, request.url + ": curl_easy_init failed", false};
        CURL* h = easy.get();
        t.easy = h;
        char errbuf[CURL_ERROR_SIZE] = {};

        auto add_header = [&](const std::string& line) {
            curl_slist* l = curl_slist_append(headers.get(), line.c_str());
            if (l != nullptr) {
                (void)headers.release();
                headers.reset(l);
            }
        };
        // No "Expect: 100-continue" for a large upload: some servers never answer it, and libcurl
        // would then wait a second before sending the body anyway.
        add_header("Expect:");
        if (!request.api_key.empty()) add_header("Authorization: Bearer " + request.api_key);
        for (const auto& line : request.headers) add_header(line);

        curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // worker threads: no SIGALRM for DNS timeouts
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, to_ms(request.connect_timeout));
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, to_ms(request.timeout));
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
        curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
        if (is_get) {
            curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        } else if (!request.form.empty()) {
            mime.reset(curl_mime_init(h));
            for (const auto& p : request.form) {
                curl_mimepart* part = curl_mime_addpart(mime.get());
                curl_mime_name(part, p.name.c_str());
                curl_mime_data(part, p.value.data(), p.value.size());
                if (!p.filename.empty()) curl_mime_filename(part, p.filename.c_str());
                if (!p.content_type.empty()) curl_mime_type(part, p.content_type.c_str());
            }
            curl_easy_setopt(h, CURLOPT_MIMEPOST, mime.get());
        } else {
            add_header("Content-Type: application/json");
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.json_body.data());
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.json_body.size()));
        }
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

        CURLM* multi = pool_->take();
        if (multi == nullptr) return {0, {}, request.url + ": curl_multi_init failed", false};
        CURLcode code = CURLE_OK;
        bool finished = false;
        if (curl_multi_add_handle(multi, h) != CURLM_OK) {
            pool_->give_back(multi);
            return {0, {}, request.url + ": curl_multi_add_handle failed", false};
        }
        {
            const std::stop_callback wake(stop, [multi] { curl_multi_wakeup(multi); });
            int running = 1;
            while (!stop.stop_requested()) {
                if (curl_multi_perform(multi, &running) != CURLM_OK || running == 0) break;
                curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
            }
            int queued = 0;
            while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
                if (msg->msg == CURLMSG_DONE && msg->easy_handle == h) {
                    code = msg->data.result;
                    finished = true;
                }
            }
        }
        curl_multi_remove_handle(multi, h);
        pool_->give_back(multi);

        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
        out.body = std::move(t.body);
        if (stop.stop_requested()) {
            out.cancelled = true;
            out.error = "cancelled: " + request.url;
        } else if (!t.sink_error.empty()) {
            out.error = t.sink_error + " (reading " + request.url + ")";
        } else if (t.sink_refused) {
            out.error = "stopped reading " + request.url;
        } else if (out.status != 0 && !is_2xx(out.status)) {
            out.error = "HTTP " + std::to_string(out.status) + " from " + request.url;
            if (const auto excerpt = body_excerpt(out.body); !excerpt.empty()) out.error += ": " + excerpt;
        } else if (!finished) {
            out.error = request.url + ": the transfer did not finish";
        } else if (code != CURLE_OK) {
            out.error = request.url + ": " + (errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(code));
        } else if (!is_2xx(out.status)) {
            out.error = request.url + ": no HTTP response";
        }
    } catch (const std::exception& e) {
        out.error = request.url + ": " + e.what();
    } catch (...) {
        out.error = request.url + ": unknown exception";
    }
    return out;
}

}  // namespace sipvoice::agent
