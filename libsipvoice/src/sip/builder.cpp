// Building and serializing messages (RFC 3261 §7, §8.2.6, §21).
#include "sipvoice/sip/builder.hpp"

#include <string>

#include "charset.hpp"

namespace sipvoice::sip {
namespace {

// A value must stay on its line: CR and LF would start a new header (header injection).
void append_value(std::string& out, std::string_view value) {
    for (char c : value) out.push_back((c == '\r' || c == '\n') ? ' ' : c);
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
    append_value(out, name);  // names too: "X\r\nVia" would inject a header (RFC 3261 §7.3.1 field-name is a token)
    out.append(": ");
    append_value(out, value);
    out.append("\r\n");
}

}  // namespace

message_builder message_builder::request(std::string_view method, std::string_view request_uri) {
    message_builder b;
    // RFC 3261 §7.1: the Request-Line is one line; CR/LF from the caller must not end it early.
    append_value(b.start_line_, method);
    b.start_line_.append(" ");
    append_value(b.start_line_, request_uri);
    b.start_line_.append(" SIP/2.0");
    return b;
}

message_builder message_builder::response(int status, std::string_view reason) {
    message_builder b;
    b.start_line_ = "SIP/2.0 " + std::to_string(status) + " ";
    append_value(b.start_line_, reason.empty() ? reason_phrase(status) : reason);  // Reason-Phrase: no CR/LF (§25.1)
    return b;
}

message_builder message_builder::response_to(const message& req, int status, std::string_view reason,
                                             std::string_view to_tag) {
    message_builder b = response(status, reason);
    // RFC 3261 §8.2.6.2: Via (all, in order), From, Call-ID and CSeq copied; To copied, plus a tag.
    for (const header_field& f : req.fields()) {
        switch (f.id) {
            case header_id::via:
            case header_id::from:
            case header_id::call_id:
            case header_id::cseq:
                b.add(f.id, req.value(f));
                break;
            case header_id::to: {
                std::string to(req.value(f));
                auto parsed = parse_name_addr(req.value(f));
                if (!to_tag.empty() && parsed && !parsed->params.contains("tag")) to.append(";tag=").append(to_tag);
                b.add(f.id, to);
                break;
            }
            default:
                break;
        }
    }
    return b;
}

message_builder& message_builder::add(header_id id, std::string_view value) {
    if (id == header_id::content_length) return *this;  // always derived from the body
    if (id == header_id::content_type) {
        content_type_.assign(value);
        return *this;
    }
    append_header(headers_, canonical_name(id), value);
    return *this;
}

message_builder& message_builder::add(std::string_view name, std::string_view value) {
    const header_id id = lookup_header(name);
    if (id != header_id::other) return add(id, value);
    append_header(headers_, name, value);
    return *this;
}

message_builder& message_builder::body(std::string_view content_type, std::string_view bytes) {
    content_type_.assign(content_type);
    body_.assign(bytes);
    return *this;
}

std::string message_builder::str() const {
    std::string out;
    out.reserve(start_line_.size() + headers_.size() + content_type_.size() + body_.size() + 64);
    out.append(start_line_).append("\r\n").append(headers_);
    if (!content_type_.empty()) append_header(out, "Content-Type", content_type_);
    out.append("Content-Length: ").append(std::to_string(body_.size())).append("\r\n\r\n").append(body_);
    return out;
}

std::string serialize(const message& m) {
    std::string out;
    out.reserve(m.bytes().size() + 32);
    if (m.is_request()) {
        out.append(m.method_name()).append(" ").append(m.request_uri().text).append(" ").append(m.version());
    } else {
        out.append(m.version()).append(" ").append(std::to_string(m.status())).append(" ").append(m.reason_phrase());
    }
    out.append("\r\n");
    for (const header_field& f : m.fields()) {
        if (f.id == header_id::content_length) continue;
        append_header(out, f.id == header_id::other ? m.name(f) : canonical_name(f.id), m.value(f));
    }
    out.append("Content-Length: ").append(std::to_string(m.body().size())).append("\r\n\r\n").append(m.body());
    return out;
}

std::string_view reason_phrase(int status) noexcept {
    switch (status) {
        case 100: return "Trying";
        case 180: return "Ringing";
        case 181: return "Call Is Being Forwarded";
        case 182: return "Queued";
        case 183: return "Session Progress";
        case 199: return "Early Dialog Terminated";
        case 200: return "OK";
        case 202: return "Accepted";
        case 204: return "No Notification";
        case 300: return "Multiple Choices";
        case 301: return "Moved Permanently";
        case 302: return "Moved Temporarily";
        case 305: return "Use Proxy";
        case 380: return "Alternative Service";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 402: return "Payment Required";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 406: return "Not Acceptable";
        case 407: return "Proxy Authentication Required";
        case 408: return "Request Timeout";
        case 410: return "Gone";
        case 412: return "Conditional Request Failed";
        case 413: return "Request Entity Too Large";
        case 414: return "Request-URI Too Long";
        case 415: return "Unsupported Media Type";
        case 416: return "Unsupported URI Scheme";
        case 417: return "Unknown Resource-Priority";
        case 420: return "Bad Extension";
        case 421: return "Extension Required";
        case 422: return "Session Interval Too Small";
        case 423: return "Interval Too Brief";
        case 428: return "Use Identity Header";
        case 429: return "Provide Referrer Identity";
        case 433: return "Anonymity Disallowed";
        case 436: return "Bad Identity-Info";
        case 437: return "Unsupported Certificate";
        case 438: return "Invalid Identity Header";
        case 439: return "First Hop Lacks Outbound Support";
        case 440: return "Max-Breadth Exceeded";
        case 469: return "Bad Info Package";
        case 470: return "Consent Needed";
        case 480: return "Temporarily Unavailable";
        case 481: return "Call/Transaction Does Not Exist";
        case 482: return "Loop Detected";
        case 483: return "Too Many Hops";
        case 484: return "Address Incomplete";
        case 485: return "Ambiguous";
        case 486: return "Busy Here";
        case 487: return "Request Terminated";
        case 488: return "Not Acceptable Here";
        case 489: return "Bad Event";
        case 491: return "Request Pending";
        case 493: return "Undecipherable";
        case 494: return "Security Agreement Required";
        case 500: return "Server Internal Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Server Time-out";
        case 505: return "Version Not Supported";
        case 513: return "Message Too Large";
        case 555: return "Push Notification Service Not Supported";
        case 580: return "Precondition Failure";
        case 600: return "Busy Everywhere";
        case 603: return "Decline";
        case 604: return "Does Not Exist Anywhere";
        case 606: return "Not Acceptable";
        case 607: return "Unwanted";
        case 608: return "Rejected";
        default: return {};
    }
}

}  // namespace sipvoice::sip
