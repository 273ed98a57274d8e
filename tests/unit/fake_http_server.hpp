// An HTTP server on 127.0.0.1 (cpp-httplib) for the tests of the agent's HTTP clients: the test sets
// its handlers on `http`, then start(); the handlers run on the server's threads and only record what
// they saw (under a mutex), for the test thread to check afterwards (Catch2's assertions are not
// thread-safe).
#pragma once

#include <catch2/catch.hpp>

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace sipvoice::test {

class fake_http_server {
public:
    httplib::Server http;

    fake_http_server() = default;
    fake_http_server(const fake_http_server&) = delete;
    fake_http_server& operator=(const fake_http_server&) = delete;
    ~fake_http_server() {
        release();
        http.stop();
        if (thread_.joinable()) thread_.join();
    }

    // After the handlers are set.
    void start() {
        port_ = http.bind_to_any_port("127.0.0.1");
        REQUIRE(port_ > 0);
        // The socket already listens: a request made before the accept loop runs just waits.
        thread_ = std::thread([this] { http.listen_after_bind(); });
        // stop() before the accept loop runs would be lost (httplib stops only a running server), and a
        // test that makes no request would then hang in the destructor's join.
        while (!http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    [[nodiscard]] std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }

    // A handler that must hang: until the test ends (release) or `limit`.
    void stall(std::chrono::milliseconds limit) {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, limit, [this] { return released_; });
    }
    void release() {
        {
            const std::lock_guard lock(mutex_);
            released_ = true;
        }
        cv_.notify_all();
    }

    // What the handlers saw.
    void record(nlohmann::json j) {
        const std::lock_guard lock(mutex_);
        seen_.push_back(std::move(j));
    }
    // A whole request: method, path, query parameters, Authorization, Content-Type and body.
    void record(const httplib::Request& req) {
        nlohmann::json params = nlohmann::json::object();
        for (const auto& [k, v] : req.params) params[k] = v;
        record({{"method", req.method},
                {"path", req.path},
                {"params", params},
                {"authorization", req.get_header_value("Authorization")},
                {"content_type", req.get_header_value("Content-Type")},
                {"body", req.body}});
    }
    std::vector<nlohmann::json> seen() {
        const std::lock_guard lock(mutex_);
        return seen_;
    }

private:
    std::thread thread_;
    int port_ = 0;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool released_ = false;
    std::vector<nlohmann::json> seen_;
};

}  // namespace sipvoice::test
