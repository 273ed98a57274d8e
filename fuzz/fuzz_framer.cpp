// fuzz_framer: stream_framer (RFC 3261 §18.3 framing, RFC 5626 §4.4.1 keep-alives) fed in chunks.
//
// Input layout: byte 0 picks the limits, byte 1 (low 3 bits) how many of the following bytes are chunk
// sizes (cycled; size = byte + 1), the rest is the byte stream. Small limits make the error paths
// reachable with small inputs.
//
// Properties (the framer never copies, reorders, drops or duplicates bytes):
//  - the bytes the framer consumed (fed - buffered()) advance monotonically, and what an event
//    consumed is: bare LFs (tolerated) then "\r\n\r\n" for a ping (or "\r\n" right after a pong: a
//    ping split across reads), "\r\n" for a pong, the message's own bytes for a message, nothing
//    else for need_more;
//  - a message starts with neither CR nor LF and is no larger than the two limits together;
//  - while waiting for more bytes, the framer never holds more than the limits allow (a peer cannot
//    make it buffer without bound);
//  - after an error, next() keeps reporting the same error and feed() is ignored;
//  - the messages and the error do not depend on how the stream was cut into chunks (keep-alives may:
//    "\r\n" + "\r\n" is two pongs, "\r\n\r\n" one ping).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"
#include "sipvoice/sip/framer.hpp"
#include "sipvoice/sip/message.hpp"

namespace {
using namespace sipvoice::sip;
using sipvoice::fuzz::use;

struct outcome {
    std::vector<std::string> messages;
    bool failed = false;
    error err;
};

bool only_lf(std::string_view s) { return s.find_first_not_of('\n') == std::string_view::npos; }

// Feeds `stream` in the given chunk sizes (cycled; empty = all at once) and checks every event.
outcome run(std::string_view stream, const framer_limits& limits, const std::vector<std::size_t>& chunks) {
    outcome out;
    stream_framer framer(limits);
    const std::size_t max_pending = limits.max_header_bytes + limits.max_body_bytes;
    std::size_t fed = 0;     // bytes of `stream` given to the framer
    std::size_t cursor = 0;  // bytes of `stream` accounted for by the events so far
    std::size_t chunk_index = 0;
    frame_kind previous = frame_kind::need_more;  // the last event other than need_more

    auto drain = [&]() {
        for (std::size_t guard = 0;; ++guard) {
            FUZZ_CHECK(guard <= stream.size() + 2);  // every non-final event consumes bytes
            frame_event ev = framer.next();
            if (ev.kind == frame_kind::error) {
                FUZZ_CHECK(ev.error.failed());
                FUZZ_CHECK(framer.failed());
                out.failed = true;
                out.err = ev.error;
                return;
            }
            FUZZ_CHECK(framer.buffered() <= fed);
            const std::size_t consumed = fed - framer.buffered();
            FUZZ_CHECK(consumed >= cursor);
            const std::string_view taken = stream.substr(cursor, consumed - cursor);
            cursor = consumed;
            const frame_kind last = previous;
            previous = ev.kind;
            switch (ev.kind) {
                case frame_kind::need_more:
                    previous = last;
                    FUZZ_CHECK(only_lf(taken));
                    FUZZ_CHECK(framer.buffered() <= max_pending);
                    return;
                case frame_kind::ping: {
                    // "\r\n\r\n", or the second "\r\n" of a ping whose first half was reported as a pong.
                    const std::size_t n = taken.size() >= 4 && taken.substr(taken.size() - 4) == "\r\n\r\n" ? 4 : 2;
                    FUZZ_CHECK(n == 4 || last == frame_kind::pong);
                    FUZZ_CHECK(taken.size() >= n && taken.substr(taken.size() - 2) == "\r\n");
                    FUZZ_CHECK(only_lf(taken.substr(0, taken.size() - n)));
                    break;
                }
                case frame_kind::pong:
                    FUZZ_CHECK(taken.size() >= 2 && taken.substr(taken.size() - 2) == "\r\n");
                    FUZZ_CHECK(only_lf(taken.substr(0, taken.size() - 2)));
                    break;
                case frame_kind::message: {
                    const std::string_view m = ev.bytes;
                    FUZZ_CHECK(!m.empty());
                    FUZZ_CHECK(m.front() != '\r' && m.front() != '\n');
                    FUZZ_CHECK(m.size() <= max_pending);
                    FUZZ_CHECK(taken.size() >= m.size() && taken.substr(taken.size() - m.size()) == m);
                    FUZZ_CHECK(only_lf(taken.substr(0, taken.size() - m.size())));
                    out.messages.emplace_back(m);
                    break;
                }
                case frame_kind::error:
                    break;
            }
        }
    };

    while (fed < stream.size() && !out.failed) {
        std::size_t n = stream.size() - fed;
        if (!chunks.empty()) n = std::min(n, chunks[chunk_index++ % chunks.size()]);
        framer.feed(stream.substr(fed, n));
        fed += n;
        drain();
    }
    if (out.failed) {
        // The stream is unusable from here on: the same error again, and new bytes are ignored.
        const std::size_t before = framer.buffered();
        framer.feed("INVITE sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n");
        FUZZ_CHECK(framer.buffered() == before);
        const frame_event again = framer.next();
        FUZZ_CHECK(again.kind == frame_kind::error);
        FUZZ_CHECK(again.error == out.err);
        framer.reset();
        FUZZ_CHECK(!framer.failed() && framer.buffered() == 0);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    framer_limits limits;
    limits.max_header_bytes = std::size_t{64} << (data[0] & 7U);         // 64 .. 8192
    limits.max_body_bytes = (std::size_t{16} << ((data[0] >> 3) & 7U)) - 16;  // 0 .. 2032
    limits.require_content_length = (data[0] & 0x40U) != 0;
    const std::size_t nchunks = std::min<std::size_t>(data[1] & 7U, size - 2);
    std::vector<std::size_t> chunks;
    for (std::size_t i = 0; i < nchunks; ++i) chunks.push_back(std::size_t{data[2 + i]} + 1);
    const std::string_view stream = sipvoice::fuzz::as_text(data + 2 + nchunks, size - 2 - nchunks);

    const outcome chunked = run(stream, limits, chunks);
    const outcome whole = run(stream, limits, {});
    FUZZ_CHECK(chunked.messages == whole.messages);
    FUZZ_CHECK(chunked.failed == whole.failed);
    if (chunked.failed) FUZZ_CHECK(chunked.err.code == whole.err.code);

    // What the transport does next with each message.
    for (const std::string& m : chunked.messages) {
        parse_options opts;
        opts.transport = transport_kind::stream;
        auto parsed = message::parse(m, opts);
        use(parsed.has_value());
    }
    return 0;
}
