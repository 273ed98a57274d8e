// `sipvoice register`: register an extension and keep it registered, printing each state change.
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "commands.hpp"
#include "net_options.hpp"

namespace sipvoice::cli {
namespace {

constexpr std::string_view register_usage = R"(usage: sipvoice register --registrar URI --user EXT --password PW [options]

Registers EXT with the registrar (RFC 3261 §10) and keeps it registered: digest authentication on
401 and 407, refresh before the granted expiry lapses, backoff with jitter after failures, keep-alive
pings, and registration again as soon as a lost registrar is back. Prints one line per state change:
  registering | registered expires=N | failed retry_in=Ns reason=... | unregistered
On SIGINT/SIGTERM it un-registers (Expires: 0) and exits 0.

  --registrar URI  sip:HOST[:PORT][;transport=udp|tcp|tls] or sips:HOST[:PORT]
  --user EXT       the extension: user part of the address of record and the Contact
  --auth-user ID   authentication user when it differs from EXT (3CX "authentication ID")
  --password PW    the password; or set SIP_PASSWORD in the environment
  --domain D       domain of the address of record (default: the registrar's host)
  --expires S      requested expiry in seconds (default 3600)
  --keepalive S    keep-alive interval toward the registrar: CRLF pings on TCP/TLS, OPTIONS on
                   UDP (default 30; 0 switches it off)
  --options-ping   ping with OPTIONS on TCP/TLS too (for registrars that ignore CRLF pings)
  --once           exit 0 as soon as registered (after un-registering again), or 1 with the
                   reason at the first failure
  -h, --help       this help

)";

bool parse_seconds(std::string_view text, std::uint32_t& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

void print_state(const ua::registration_state& s) {
    switch (s.status) {
        case ua::registration_status::registering: std::printf("registering\n"); break;
        case ua::registration_status::registered: std::printf("registered expires=%u\n", s.expires); break;
        case ua::registration_status::failed:
            std::printf("failed retry_in=%.1fs reason=%s\n", static_cast<double>(s.retry_in.count()) / 1000.0, s.reason.c_str());
            break;
        case ua::registration_status::unregistered: std::printf("unregistered\n"); break;
    }
    std::fflush(stdout);
}

}  // namespace

int register_command(std::span<const std::string_view> args) {
    net_options net = default_net_options();
    ua::account acct;
    bool once = false;
    bool have_password = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        if (a == "-h" || a == "--help") {
            std::printf("%s%s", register_usage.data(), net_options_help.data());
            return 0;
        }
        const int net_rc = parse_net_option(args, i, net);
        if (net_rc < 0) return 2;
        if (net_rc > 0) continue;
        if (a == "--once") {
            once = true;
            continue;
        }
        if (a == "--options-ping") {
            acct.options_ping = true;
            continue;
        }
        const bool takes_value = a == "--registrar" || a == "--user" || a == "--auth-user" || a == "--password" ||
                                 a == "--domain" || a == "--expires" || a == "--keepalive";
        if (!takes_value) {
            std::fprintf(stderr, "sipvoice register: unknown option '%.*s' (see --help)\n", static_cast<int>(a.size()), a.data());
            return 2;
        }
        auto v = option_value(args, i);
        if (!v) return 2;
        if (a == "--registrar") acct.registrar = std::string(*v);
        if (a == "--user") acct.user = std::string(*v);
        if (a == "--auth-user") acct.auth_user = std::string(*v);
        if (a == "--domain") acct.domain = std::string(*v);
        if (a == "--password") {
            acct.password = std::string(*v);
            have_password = true;
        }
        if (a == "--expires" && !parse_seconds(*v, acct.expires)) {
            std::fprintf(stderr, "sipvoice register: --expires: not a number of seconds\n");
            return 2;
        }
        if (a == "--keepalive") {
            std::uint32_t s = 0;
            if (!parse_seconds(*v, s)) {
                std::fprintf(stderr, "sipvoice register: --keepalive: not a number of seconds\n");
                return 2;
            }
            acct.keepalive = std::chrono::seconds(s);
        }
    }
    if (!have_password) {
        if (const char* env = std::getenv("SIP_PASSWORD")) {
            acct.password = env;
            have_password = true;
        }
    }
    if (acct.registrar.empty() || acct.user.empty() || !have_password) {
        std::fprintf(stderr, "sipvoice register: --registrar, --user and --password (or SIP_PASSWORD) are required (see --help)\n");
        return 2;
    }
    if (!ua::target_of(acct.registrar)) {
        std::fprintf(stderr, "sipvoice register: --registrar: not a usable SIP URI: %s\n", acct.registrar.c_str());
        return 2;
    }
    // The transport's CRLF pings follow the account's keep-alive.
    net.config.transport.keepalive_interval = acct.keepalive;

    asio::io_context io;
    ua::user_agent agent(io, net.config);
    agent.on_log(stderr_log(net.verbose));
    if (auto ec = agent.start()) {
        std::fprintf(stderr, "sipvoice register: cannot listen: %s\n", ec.message().c_str());
        return 1;
    }
    int status = 0;
    bool stopping = false;
    auto stop = [&](int rc) {
        if (stopping) return;
        stopping = true;
        status = rc;
        agent.shutdown([&io] { io.stop(); });
    };
    agent.add_registration(acct, [&](const ua::registration_state& s) {
        if (stopping && s.status == ua::registration_status::failed) return;  // the un-REGISTER's fate
        print_state(s);
        if (!once) return;
        if (s.status == ua::registration_status::registered) stop(0);
        if (s.status == ua::registration_status::failed) stop(1);
    });
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code ec, int) {
        if (!ec) stop(0);
    });
    io.run();
    return status;
}

}  // namespace sipvoice::cli
