// Helpers for the tests that run the I/O layers over 127.0.0.1 sockets: running an io_context until
// something happened, and a throw-away self-signed TLS certificate.
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <string>

namespace sipvoice::test {

// Runs `io` until `done()` holds or `limit` passes (a guard against a hang, not a speed check).
template <class Pred>
bool run_until(asio::io_context& io, Pred done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < end) {
        io.run_for(std::chrono::milliseconds(5));
        if (io.stopped()) io.restart();
    }
    return done();
}

// A self-signed certificate for 127.0.0.1 and localhost (subjectAltName IP and DNS), and its key, as
// PEM files in a fresh temporary directory. The certificate is its own CA.
struct test_certificate {
    std::filesystem::path dir;
    std::string cert_file;
    std::string key_file;
};
test_certificate make_test_certificate();

}  // namespace sipvoice::test
