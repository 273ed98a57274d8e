// Options shared by the commands that talk to the network (register, options): where we listen, how
// TLS verifies, how much we log. Each command parses its own options first and hands the rest here.
#pragma once

#include <cstdio>
#include <span>
#include <string>
#include <string_view>

#include "sipvoice/log.hpp"
#include "sipvoice/ua/user_agent.hpp"

namespace sipvoice::cli {

constexpr std::string_view net_options_help = R"(network options:
  --bind ADDR      local address to listen on (default: all IPv4 and IPv6 addresses)
  --port P         local UDP and TCP port (default 0: any free port)
  --advertise HOST[:PORT]
                   address (and port) for Via and Contact, when behind a NAT
  --ca-file FILE   trust the CAs in this PEM file for TLS (default: the system store)
  --ca-dir DIR     trust the CAs in this hashed directory
  --insecure       do not verify the TLS peer's certificate (self-signed test PBXs only)
  --dns-server IP[:PORT]
                   ask this DNS server for NAPTR, SRV and address records (default: the first
                   of /etc/resolv.conf)
  --no-srv         no DNS NAPTR or SRV lookup (RFC 3263): a host name without a port is used on
                   the transport's default port
  -v, --verbose    log debug messages to stderr
)";

struct net_options {
    ua::user_agent_config config;
    bool verbose = false;
};

// Parses args[i] (and its value) if it is a network option. Returns 1 when it consumed the option,
// 0 when it is not one, -1 on error (printed).
int parse_net_option(std::span<const std::string_view> args, std::size_t& i, net_options& out);

// A user_agent_config with the CLI's defaults: free ports, no TLS listener.
net_options default_net_options();

// A log handler printing "sipvoice: level: text" to stderr.
log_handler stderr_log(bool verbose);

// The value of an option, or nullptr with an error printed.
const std::string_view* option_value(std::span<const std::string_view> args, std::size_t& i);

}  // namespace sipvoice::cli
