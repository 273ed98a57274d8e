// `sipvoice options`: send OPTIONS to a SIP URI and print the answer.
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <charconv>
#include <cstdio>
#include <string>

#include "commands.hpp"
#include "net_options.hpp"

namespace sipvoice::cli {
namespace {

constexpr std::string_view options_usage = R"(usage: sipvoice options SIP-URI [options]

Sends OPTIONS (RFC 3261 §11) to SIP-URI, e.g. 'sip:pbx.example.com;transport=tcp', and prints the
response: its status line and headers. Exit 0 on any final response, 1 when none came (timeout,
connection refused, TLS failure), 2 on a usage error.

  --timeout S      give up after S seconds (default 10)
  -h, --help       this help

)";

}  // namespace

int options_command(std::span<const std::string_view> args) {
    net_options net = default_net_options();
    std::string uri;
    unsigned timeout_s = 10;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        if (a == "-h" || a == "--help") {
            std::printf("%s%s", options_usage.data(), net_options_help.data());
            return 0;
        }
        const int net_rc = parse_net_option(args, i, net);
        if (net_rc < 0) return 2;
        if (net_rc > 0) continue;
        if (a == "--timeout") {
            auto v = option_value(args, i);
            if (!v) return 2;
            auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), timeout_s);
            if (ec != std::errc() || end != v->data() + v->size() || timeout_s == 0) {
                std::fprintf(stderr, "sipvoice options: --timeout: not a positive number of seconds\n");
                return 2;
            }
        } else if (uri.empty() && !a.starts_with("-")) {
            uri = std::string(a);
        } else {
            std::fprintf(stderr, "sipvoice options: unexpected argument '%.*s' (see --help)\n", static_cast<int>(a.size()), a.data());
            return 2;
        }
    }
    if (uri.empty()) {
        std::fprintf(stderr, "sipvoice options: a SIP-URI is required (see --help)\n");
        return 2;
    }
    if (!ua::target_of(uri)) {
        std::fprintf(stderr, "sipvoice options: not a usable SIP URI: %s\n", uri.c_str());
        return 2;
    }
    net.config.transport.keepalive_interval = {};

    asio::io_context io;
    ua::user_agent agent(io, net.config);
    agent.on_log(stderr_log(net.verbose));
    if (auto ec = agent.start()) {
        std::fprintf(stderr, "sipvoice options: cannot listen: %s\n", ec.message().c_str());
        return 1;
    }
    int status = 1;
    asio::steady_timer deadline(io, std::chrono::seconds(timeout_s));
    deadline.async_wait([&](std::error_code ec) {
        if (ec) return;
        std::fprintf(stderr, "sipvoice options: no answer from %s within %u s\n", uri.c_str(), timeout_s);
        agent.shutdown([&io] { io.stop(); });
    });
    agent.send_options(uri, [&](const ua::request_outcome& r) {
        deadline.cancel();
        if (r.response) {
            const std::string_view bytes = r.response->bytes();
            const std::string_view head = bytes.substr(0, bytes.size() - r.response->body().size());
            for (char c : head)
                if (c != '\r') std::fputc(c, stdout);  // LF line ends on a terminal
            std::fflush(stdout);
            status = 0;
        } else {
            std::fprintf(stderr, "sipvoice options: %s\n", r.error.c_str());
        }
        agent.shutdown([&io] { io.stop(); });
    });
    io.run();
    return status;
}

}  // namespace sipvoice::cli
