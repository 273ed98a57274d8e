// `sipvoice register`: register an extension and keep it registered, printing each state change.
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <cstdio>
#include <string>

#include "account_options.hpp"
#include "commands.hpp"
#include "net_options.hpp"

namespace sipvoice::cli {
namespace {

constexpr std::string_view register_usage = R"(usage: sipvoice register --registrar URI --user EXT --password PW [options]

Registers EXT with the registrar (RFC 3261 §10) and keeps it registered: digest authentication on
401 and 407, refresh before the granted expiry lapses, backoff with jitter after failures, keep-alive
pings, and registration again as soon as a lost registrar is back. Prints one line per state change:
  registering | registered expires=N [outbound=yes flow_timer=S] | failed retry_in=Ns reason=... |
  unregistered
On SIGINT/SIGTERM it un-registers (Expires: 0) and exits 0.

  --once           exit 0 as soon as registered (after un-registering again), or 1 with the
                   reason at the first failure
  -h, --help       this help

)";

}  // namespace

int register_command(std::span<const std::string_view> args) {
    net_options net = default_net_options();
    account_options account;
    bool once = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        if (a == "-h" || a == "--help") {
            std::printf("%s%s%s", register_usage.data(), account_options_help.data(), net_options_help.data());
            return 0;
        }
        const int net_rc = parse_net_option(args, i, net);
        if (net_rc < 0) return 2;
        if (net_rc > 0) continue;
        const int acct_rc = parse_account_option(args, i, account, "sipvoice register");
        if (acct_rc < 0) return 2;
        if (acct_rc > 0) continue;
        if (a == "--once") {
            once = true;
            continue;
        }
        std::fprintf(stderr, "sipvoice register: unknown option '%.*s' (see --help)\n", static_cast<int>(a.size()), a.data());
        return 2;
    }
    if (!complete_account(account, "sipvoice register", true)) return 2;
    const ua::account& acct = account.acct;
    apply_account(acct, net);

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
        print_registration(s);
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
