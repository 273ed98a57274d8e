#include "account_options.hpp"

#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace sipvoice::cli {
namespace {

bool parse_seconds(std::string_view text, std::uint32_t& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

int parse_account_option(std::span<const std::string_view> args, std::size_t& i, account_options& out,
                         std::string_view command) {
    const std::string_view a = args[i];
    if (a == "--options-ping" || a == "--outbound") {
        (a == "--outbound" ? out.acct.outbound : out.acct.options_ping) = true;
        out.given = true;
        return 1;
    }
    const bool takes_value = a == "--registrar" || a == "--user" || a == "--auth-user" || a == "--password" ||
                             a == "--domain" || a == "--expires" || a == "--keepalive" || a == "--instance-id";
    if (!takes_value) return 0;
    auto v = option_value(args, i);
    if (!v) return -1;
    out.given = true;
    auto& acct = out.acct;
    if (a == "--registrar") acct.registrar = std::string(*v);
    if (a == "--user") acct.user = std::string(*v);
    if (a == "--auth-user") acct.auth_user = std::string(*v);
    if (a == "--domain") acct.domain = std::string(*v);
    if (a == "--instance-id") {
        // RFC 5626 §4.1: a URN; "urn:uuid:" + a UUID is what RFC 4122 names and every registrar takes.
        const std::string_view id = *v;
        if (!ua::valid_instance_id(id)) {
            std::fprintf(stderr, "%.*s: --instance-id: not a URN (urn:uuid:...): %.*s\n", static_cast<int>(command.size()),
                         command.data(), static_cast<int>(id.size()), id.data());
            return -1;
        }
        acct.instance_id = std::string(id);
        acct.outbound = true;
    }
    if (a == "--password") {
        acct.password = std::string(*v);
        out.have_password = true;
    }
    if (a == "--expires" && !parse_seconds(*v, acct.expires)) {
        std::fprintf(stderr, "%.*s: --expires: not a number of seconds\n", static_cast<int>(command.size()), command.data());
        return -1;
    }
    if (a == "--keepalive") {
        std::uint32_t s = 0;
        if (!parse_seconds(*v, s)) {
            std::fprintf(stderr, "%.*s: --keepalive: not a number of seconds\n", static_cast<int>(command.size()),
                         command.data());
            return -1;
        }
        acct.keepalive = std::chrono::seconds(s);
    }
    return 1;
}

bool complete_account(account_options& out, std::string_view command, bool required, bool need_password) {
    if (!out.given && !required) return true;
    if (!out.have_password) {
        if (const char* env = std::getenv("SIP_PASSWORD")) {
            out.acct.password = env;
            out.have_password = true;
        }
    }
    const int n = static_cast<int>(command.size());
    if (out.acct.registrar.empty() || out.acct.user.empty() || (need_password && !out.have_password)) {
        std::fprintf(stderr, "%.*s: %s are required (see --help)\n", n, command.data(),
                     need_password ? "--registrar, --user and --password (or SIP_PASSWORD)" : "--registrar and --user");
        return false;
    }
    if (!ua::target_of(out.acct.registrar)) {
        std::fprintf(stderr, "%.*s: --registrar: not a usable SIP URI: %s\n", n, command.data(), out.acct.registrar.c_str());
        return false;
    }
    return true;
}

void apply_account(const ua::account& acct, net_options& net) { net.config.transport.keepalive_interval = acct.keepalive; }

void print_registration(const ua::registration_state& s) {
    switch (s.status) {
        case ua::registration_status::registering: std::printf("registering\n"); break;
        case ua::registration_status::registered:
            // RFC 5626: the registrar took the flow as an outbound one (and said how often to keep it alive).
            if (s.outbound)
                std::printf("registered expires=%u outbound=yes flow_timer=%u\n", s.expires, s.flow_timer);
            else
                std::printf("registered expires=%u\n", s.expires);
            break;
        case ua::registration_status::failed:
            std::printf("failed retry_in=%.1fs reason=%s\n", static_cast<double>(s.retry_in.count()) / 1000.0, s.reason.c_str());
            break;
        case ua::registration_status::unregistered: std::printf("unregistered\n"); break;
    }
    std::fflush(stdout);
}

}  // namespace sipvoice::cli
