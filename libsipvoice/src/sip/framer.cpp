// Stream framing (RFC 3261 §18.3) and CRLF keep-alives (RFC 5626 §4.4.1).
#include "sipvoice/sip/framer.hpp"

#include <cstring>

#include "charset.hpp"
#include "sipvoice/sip/headers.hpp"

namespace sipvoice::sip {
namespace {
using namespace detail;

// Finds the Content-Length ("Content-Length" or compact "l") in a header section, reading folded
// lines (RFC 3261 §7.3.1) the way the message parser does: a line starting with SP/HT continues the
// header before it. Returns false and sets err on an invalid or conflicting value.
bool find_content_length(std::string_view head, bool& found, std::size_t& length, error& err) {
    found = false;
    std::string value;              // the Content-Length value being collected, folds joined
    std::size_t value_at = 0;       // where it started, for the error offset
    bool collecting = false;
    auto finish = [&]() {
        if (!collecting) return true;
        collecting = false;
        std::uint32_t v = 0;
        const error e = parse_number(value, max_delta_seconds, v);
        if (e.failed() || (found && v != length)) {
            err = {errc::bad_content_length, static_cast<std::uint32_t>(value_at)};
            return false;
        }
        found = true;
        length = v;
        return true;
    };
    std::size_t pos = find_char(head, '\n');  // skip the start line
    while (pos != std::string_view::npos && pos + 1 < head.size()) {
        const std::size_t line_start = pos + 1;
        const std::size_t line_end = find_char(head, '\n', line_start);
        std::string_view line =
            head.substr(line_start, (line_end == std::string_view::npos ? head.size() : line_end) - line_start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        pos = line_end;
        if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {  // continuation line
            if (collecting) value.append(" ").append(line);
            continue;
        }
        if (!finish()) return false;
        const std::size_t colon = find_char(line, ':');
        if (colon == std::string_view::npos) continue;
        if (lookup_header(trim(line.substr(0, colon))) != header_id::content_length) continue;
        value.assign(line.substr(colon + 1));
        value_at = line_start + colon + 1;
        collecting = true;
    }
    return finish();
}

}  // namespace

void stream_framer::feed(std::string_view bytes) {
    if (failed_.failed()) return;
    // Drop what was consumed before growing, so a long-lived connection's buffer stays small.
    if (pos_ > 0 && (pos_ == buf_.size() || pos_ > 65536)) {
        buf_.erase(0, pos_);
        pos_ = 0;
    }
    buf_.append(bytes);
}

void stream_framer::reset() {
    buf_.clear();
    pos_ = scanned_ = header_end_ = body_len_ = 0;
    after_pong_ = false;
    failed_ = {};
}

frame_event stream_framer::next() {
    frame_event ev;
    if (failed_.failed()) {
        ev.kind = frame_kind::error;
        ev.error = failed_;
        return ev;
    }
    auto fail = [&](errc code, std::size_t offset) {
        failed_ = {code, static_cast<std::uint32_t>(offset)};
        ev.kind = frame_kind::error;
        ev.error = failed_;
        return ev;
    };
    const char* data = buf_.data() + pos_;
    const std::size_t avail = buf_.size() - pos_;

    if (header_end_ == 0) {
        // Keep-alives between messages: "\r\n\r\n" is a ping, a lone "\r\n" a pong. A ping split
        // across two reads shows as a pong, then a ping (so it is still answered).
        if (avail >= 1 && (data[0] == '\r' || data[0] == '\n')) {
            if (avail >= 4 && std::memcmp(data, "\r\n\r\n", 4) == 0) {
                pos_ += 4;
                after_pong_ = false;
                ev.kind = frame_kind::ping;
                return ev;
            }
            if (avail >= 2 && data[0] == '\r' && data[1] == '\n') {
                if (avail == 3 && data[2] == '\r') return ev;  // maybe the start of a ping: wait
                pos_ += 2;
                ev.kind = after_pong_ ? frame_kind::ping : frame_kind::pong;
                after_pong_ = !after_pong_;
                return ev;
            }
            if (data[0] == '\n') {  // bare LF: tolerated and skipped
                pos_ += 1;
                return next();
            }
            if (avail >= 2) return fail(errc::bad_start_line, 0);  // a CR that does not start a CRLF
            return ev;  // a lone '\r': wait for its '\n'
        }
        after_pong_ = false;
        // End of the header section: an empty line (CRLF CRLF, or LF LF from lenient peers).
        std::size_t from = scanned_;
        std::size_t end = 0;
        while (from < avail) {
            const auto* nl = static_cast<const char*>(std::memchr(data + from, '\n', avail - from));
            if (nl == nullptr) break;
            const std::size_t i = static_cast<std::size_t>(nl - data);
            if (i + 1 < avail && data[i + 1] == '\n') {
                end = i + 2;
                break;
            }
            if (i + 2 < avail && data[i + 1] == '\r' && data[i + 2] == '\n') {
                end = i + 3;
                break;
            }
            if (i + 2 >= avail) {  // cannot tell yet whether an empty line follows
                from = i;
                break;
            }
            from = i + 1;
        }
        if (end == 0) {
            scanned_ = from < avail ? from : avail;
            if (avail > limits_.max_header_bytes) return fail(errc::header_too_large, limits_.max_header_bytes);
            return ev;
        }
        if (end > limits_.max_header_bytes) return fail(errc::header_too_large, limits_.max_header_bytes);
        bool found = false;
        std::size_t length = 0;
        error err;
        if (!find_content_length(std::string_view(data, end), found, length, err)) return fail(err.code, err.offset);
        if (!found && limits_.require_content_length) return fail(errc::bad_content_length, 0);
        if (length > limits_.max_body_bytes) return fail(errc::body_too_large, end);
        header_end_ = end;
        body_len_ = length;
    }
    if (avail < header_end_ + body_len_) return ev;
    const std::size_t total = header_end_ + body_len_;
    ev.kind = frame_kind::message;
    ev.bytes.assign(data, total);
    pos_ += total;
    header_end_ = body_len_ = scanned_ = 0;
    return ev;
}

}  // namespace sipvoice::sip
