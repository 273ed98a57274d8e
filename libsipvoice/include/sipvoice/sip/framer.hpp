// sipvoice/sip/framer.hpp: cutting a TCP/TLS byte stream into SIP messages (RFC 3261 §18.3).
//
// Feed bytes in chunks of any size; next() yields each complete message (header section plus
// Content-Length bytes of body) as soon as it is there. CRLF keep-alives between messages (RFC 5626
// §4.4.1: "\r\n\r\n" ping, "\r\n" pong) are consumed and reported so the transport can answer a ping.
// A header section or body above the configured limits, or a missing/invalid Content-Length, is an
// error after which the stream cannot be resynchronised: the transport closes the connection.
//
//   sip::stream_framer framer;
//   framer.feed(chunk);
//   for (;;) {
//       auto ev = framer.next();
//       if (ev.kind == sip::frame_kind::message) handle(sip::message::parse(std::move(ev.bytes), stream_opts));
//       else if (ev.kind == sip::frame_kind::ping) send("\r\n");
//       else if (ev.kind == sip::frame_kind::error) { close(); break; }
//       else break;  // need_more
//   }
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "sipvoice/sip/error.hpp"

namespace sipvoice::sip {

struct framer_limits {
    std::size_t max_header_bytes = 16 * 1024;  // start line + headers + the empty line
    std::size_t max_body_bytes = 1024 * 1024;
    // RFC 3261 §18.3 makes Content-Length mandatory on streams; when false a missing one means 0.
    bool require_content_length = false;
};

enum class frame_kind : std::uint8_t {
    need_more,  // feed more bytes
    message,    // `bytes` holds one whole message
    ping,       // a "\r\n\r\n" keep-alive ping was consumed: answer with "\r\n"
    pong,       // a lone "\r\n" keep-alive pong was consumed (a second one right after it is
                // reported as a ping: the two halves of a ping split across reads)
    error,      // `error` says why; the stream is unusable from here on
};

struct frame_event {
    frame_kind kind = frame_kind::need_more;
    std::string bytes;
    sip::error error;
};

class stream_framer {
public:
    explicit stream_framer(framer_limits limits = {}) : limits_(limits) {}

    void feed(std::string_view bytes);
    frame_event next();

    // Bytes fed but not yet returned.
    [[nodiscard]] std::size_t buffered() const noexcept { return buf_.size() - pos_; }
    [[nodiscard]] bool failed() const noexcept { return failed_.failed(); }
    void reset();

private:
    framer_limits limits_;
    std::string buf_;
    std::size_t pos_ = 0;        // start of unconsumed data
    std::size_t scanned_ = 0;    // how far the search for the end of headers got (relative to pos_)
    std::size_t header_end_ = 0; // when non-zero: length of the header section of the pending message
    std::size_t body_len_ = 0;
    bool after_pong_ = false;    // the last thing consumed was a lone CRLF
    sip::error failed_;
};

}  // namespace sipvoice::sip
