// `sipvoice parse`: parse and validate one SIP message, as a user agent receiving it would.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "describe.hpp"
#include "sipvoice/sip/message.hpp"
#include "sipvoice/sip/validate.hpp"

namespace sipvoice::cli {
namespace {

constexpr std::string_view parse_usage = R"(usage: sipvoice parse [--json] [--stream] FILE|-

Parses one SIP message (RFC 3261) from FILE, or from standard input with '-', and validates it as
a user agent that receives it would (RFC 3261 §8.2).

  --json     print the start line, every header with its typed reading, the body length and the
             verdict as JSON
  --stream   the bytes came over TCP/TLS: a missing Content-Length means an empty body (default:
             UDP datagram, where it means "the rest")

exit status: 0 the message is well formed (the verdict is printed when it is not plain acceptance,
e.g. "would answer 420 Bad Extension"); 1 malformed, rejected by the parser or by the validator
(400 or silent drop), with "line:col: reason" on stderr; 2 usage error or unreadable file.
)";

bool read_input(std::string_view path, std::string& out) {
    if (path == "-") {
        std::ostringstream ss;
        ss << std::cin.rdbuf();
        out = ss.str();
        return !std::cin.bad();
    }
    std::ifstream in{std::string(path), std::ios::binary};
    if (!in) return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
}

}  // namespace

int parse_command(std::span<const std::string_view> args) {
    bool as_json = false;
    sip::parse_options options;
    std::string_view path;
    for (std::string_view a : args) {
        if (a == "-h" || a == "--help") {
            std::fputs(parse_usage.data(), stdout);
            return 0;
        }
        if (a == "--json") {
            as_json = true;
        } else if (a == "--stream") {
            options.transport = sip::transport_kind::stream;
        } else if (path.empty() && (a == "-" || !a.starts_with("-"))) {
            path = a;
        } else {
            std::fprintf(stderr, "sipvoice parse: unexpected argument '%.*s'\n%s", static_cast<int>(a.size()), a.data(),
                         parse_usage.data());
            return 2;
        }
    }
    if (path.empty()) {
        std::fputs(parse_usage.data(), stderr);
        return 2;
    }
    std::string bytes;
    if (!read_input(path, bytes)) {
        std::fprintf(stderr, "sipvoice parse: cannot read '%.*s'\n", static_cast<int>(path.size()), path.data());
        return 2;
    }
    options.max_message_size = std::max<std::size_t>(options.max_message_size, bytes.size());

    auto parsed = sip::message::parse(std::move(bytes), options);
    if (!parsed) {
        const sip::parse_error& e = parsed.error();
        std::fprintf(stderr, "%u:%u: %.*s\n", e.line, e.column, static_cast<int>(e.what().size()), e.what().data());
        return 1;
    }
    const sip::message& m = *parsed;
    const sip::verdict v = sip::validate(m);

    if (as_json) {
        nlohmann::ordered_json out = describe_message(m);
        out["verdict"] = describe_verdict(v);
        std::cout << out.dump(2) << '\n';
    } else {
        const auto d = describe_message(m);
        std::cout << (m.is_request() ? "request" : "response") << ": " << m.start_line() << '\n';
        if (m.is_request()) std::cout << "  request-uri: " << d["request_uri_parts"].dump() << '\n';
        std::cout << "headers (" << m.fields().size() << "):\n";
        for (const auto& h : d["headers"]) {
            std::cout << "  " << h["name"].get<std::string>() << ": " << h["value"].get<std::string>() << '\n';
            if (h.contains("parsed")) std::cout << "      = " << h["parsed"].dump() << '\n';
        }
        std::cout << "body: " << m.body().size() << " bytes";
        if (m.trailing_bytes() > 0) std::cout << " (" << m.trailing_bytes() << " trailing bytes ignored)";
        std::cout << '\n';
    }

    if (v.action == sip::action::accept) return 0;
    const std::string what = v.malformed ? std::string(v.where.what()) + " (" + v.detail + ")"
                             : v.action == sip::action::drop ? "would silently drop: " + v.detail
                                                             : std::string();
    if (v.action == sip::action::drop || v.malformed) {
        std::fprintf(stderr, "%u:%u: %s\n", v.where.line, v.where.column, what.c_str());
        return 1;
    }
    if (!as_json) {
        std::cout << "verdict: would answer " << v.status << ' ' << v.reason;
        if (!v.detail.empty()) std::cout << " (" << v.detail << ')';
        std::cout << '\n';
    }
    return 0;
}

}  // namespace sipvoice::cli
