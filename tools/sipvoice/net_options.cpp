#include "net_options.hpp"

#include <charconv>

#include "sipvoice/config.hpp"
#include "sipvoice/transport/dns.hpp"

namespace sipvoice::cli {

const std::string_view* option_value(std::span<const std::string_view> args, std::size_t& i) {
    if (i + 1 >= args.size()) {
        std::fprintf(stderr, "sipvoice: option %.*s needs a value\n", static_cast<int>(args[i].size()), args[i].data());
        return nullptr;
    }
    return &args[++i];
}

namespace {

bool parse_port(std::string_view text, std::uint16_t& out) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v > 65535) return false;
    out = static_cast<std::uint16_t>(v);
    return true;
}

}  // namespace

net_options default_net_options() {
    net_options n;
    n.config.transport.udp_port = 0;
    n.config.transport.tcp_port = 0;
    n.config.transport.tls_port = 0;
    n.config.user_agent = std::string("sipvoice/") + SIPVOICE_VERSION;
    return n;
}

int parse_net_option(std::span<const std::string_view> args, std::size_t& i, net_options& out) {
    const std::string_view a = args[i];
    auto& t = out.config.transport;
    if (a == "--bind") {
        auto v = option_value(args, i);
        if (!v) return -1;
        t.bind_address = std::string(*v);
    } else if (a == "--port") {
        auto v = option_value(args, i);
        if (!v) return -1;
        std::uint16_t port = 0;
        if (!parse_port(*v, port)) {
            std::fprintf(stderr, "sipvoice: --port: not a port number: %.*s\n", static_cast<int>(v->size()), v->data());
            return -1;
        }
        t.udp_port = t.tcp_port = port;
    } else if (a == "--advertise") {
        auto v = option_value(args, i);
        if (!v) return -1;
        std::string_view host = *v;
        // HOST, HOST:PORT, [v6], [v6]:PORT
        std::size_t colon = host.rfind(':');
        const bool bracketed = !host.empty() && host.front() == '[';
        if (colon != std::string_view::npos && (bracketed ? host.find(']') < colon : host.find(':') == colon)) {
            if (!parse_port(host.substr(colon + 1), out.config.advertised_port)) {
                std::fprintf(stderr, "sipvoice: --advertise: bad port in %.*s\n", static_cast<int>(v->size()), v->data());
                return -1;
            }
            host = host.substr(0, colon);
        }
        if (bracketed && host.size() > 2 && host.back() == ']') host = host.substr(1, host.size() - 2);
        out.config.advertised_host = std::string(host);
    } else if (a == "--ca-file") {
        auto v = option_value(args, i);
        if (!v) return -1;
        t.tls_settings.ca_file = std::string(*v);
    } else if (a == "--ca-dir") {
        auto v = option_value(args, i);
        if (!v) return -1;
        t.tls_settings.ca_dir = std::string(*v);
    } else if (a == "--dns-server") {
        auto v = option_value(args, i);
        if (!v) return -1;
        if (!transport::parse_name_server(*v)) {
            std::fprintf(stderr, "sipvoice: --dns-server: not IP, IP:PORT or [IPv6]:PORT: %.*s\n", static_cast<int>(v->size()), v->data());
            return -1;
        }
        out.config.dns_server = std::string(*v);
    } else if (a == "--no-srv") {
        out.config.srv_lookup = false;
    } else if (a == "--insecure") {
        t.tls_settings.verify_peer = false;
    } else if (a == "-v" || a == "--verbose") {
        out.verbose = true;
    } else {
        return 0;
    }
    return 1;
}

log_handler stderr_log(bool verbose) {
    return [verbose](log_level level, std::string_view text) {
        if (level == log_level::debug && !verbose) return;
        const std::string_view name = log_level_name(level);
        std::fprintf(stderr, "sipvoice: %.*s: %.*s\n", static_cast<int>(name.size()), name.data(),
                     static_cast<int>(text.size()), text.data());
    };
}

}  // namespace sipvoice::cli
