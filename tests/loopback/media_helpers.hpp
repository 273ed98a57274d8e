// Helpers of the media loopback tests: call_media configurations on 127.0.0.1, one offer/answer
// exchange between two of them, a tone and the share of its frequency in what was heard.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

#include "../unit/loopback.hpp"
#include "sipvoice/ua/call_media.hpp"

namespace sipvoice::test {

inline ua::media_config loopback_media(duration rtcp_interval, duration rtp_timeout, bool rtcp_mux = false) {
    ua::media_config c;
    c.address = "127.0.0.1";
    c.sockets.bind_address = "127.0.0.1";
    c.sockets.rtcp_mux = rtcp_mux;
    c.codecs = {sdp::pcmu()};
    c.app_rate = 8000;
    c.rtcp_interval = rtcp_interval;
    c.rtp_timeout = rtp_timeout;
    return c;
}

// offerer.offer() -> answerer.answer() -> offerer.on_answer(); the answer's text, empty on failure.
inline std::string negotiate(ua::call_media& offerer, ua::call_media& answerer) {
    const auto answer = answerer.answer(offerer.offer());
    if (!answer || !offerer.on_answer(*answer)) return {};
    return *answer;
}

// Runs `io` for `d`, whatever happens.
inline void run_for(asio::io_context& io, std::chrono::milliseconds d) {
    run_until(io, [] { return false; }, d);
}

inline std::vector<std::int16_t> make_tone(double hz, double rate, double seconds, double amplitude = 8000) {
    std::vector<std::int16_t> out(static_cast<std::size_t>(rate * seconds));
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = static_cast<std::int16_t>(amplitude * std::sin(2 * std::numbers::pi * hz * static_cast<double>(i) / rate));
    return out;
}

// Energy of the `freq` component relative to the whole signal (Goertzel), in [0, 1].
inline double tone_share(const std::int16_t* x, std::size_t n, double freq, double rate) {
    double s1 = 0, s2 = 0, total = 0;
    const double k = 2 * std::cos(2 * std::numbers::pi * freq / rate);
    for (std::size_t i = 0; i < n; ++i) {
        const double s0 = x[i] + k * s1 - s2;
        s2 = s1;
        s1 = s0;
        total += static_cast<double>(x[i]) * x[i];
    }
    const double power = s1 * s1 + s2 * s2 - k * s1 * s2;
    return total > 0 ? 2 * power / (static_cast<double>(n) * total) : 0;
}

inline double rms(const std::int16_t* x, std::size_t n) {
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) total += static_cast<double>(x[i]) * x[i];
    return n > 0 ? std::sqrt(total / static_cast<double>(n)) : 0;
}

}  // namespace sipvoice::test
