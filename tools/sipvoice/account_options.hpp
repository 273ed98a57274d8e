// The account options shared by `register`, `call` (the registrar as outbound proxy, digest
// credentials for the INVITE) and `answer --register`: --registrar, --user, --auth-user, --password,
// --domain, --expires, --keepalive, --options-ping, --outbound, --instance-id; the password may come
// from SIP_PASSWORD instead.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "net_options.hpp"
#include "sipvoice/ua/registration.hpp"
#include "sipvoice/ua/user_agent.hpp"

namespace sipvoice::cli {

constexpr std::string_view account_options_help = R"(account options:
  --registrar URI  sip:HOST[:PORT][;transport=udp|tcp|tls] or sips:HOST[:PORT]
  --user EXT       the extension: user part of the address of record and the Contact
  --auth-user ID   authentication user when it differs from EXT (3CX "authentication ID")
  --password PW    the password; or set SIP_PASSWORD in the environment
  --domain D       domain of the address of record (default: the registrar's host)
  --expires S      requested registration expiry in seconds (default 3600)
  --keepalive S    keep-alive interval toward the registrar: CRLF pings on TCP/TLS, OPTIONS on
                   UDP (default 30; 0 switches it off)
  --options-ping   ping with OPTIONS on TCP/TLS too (for registrars that ignore CRLF pings)
  --outbound       SIP Outbound (RFC 5626): register with reg-id and +sip.instance; when the
                   registrar requires outbound in its 200, keep the flow alive at its Flow-Timer
                   (CRLF on TCP/TLS, STUN on UDP), take a ping without answer (10 s) as a dead
                   flow (register again at once), and ask for calls' in-dialog requests over the
                   flow (;ob in their Contact)
  --instance-id URN  the instance id for --outbound (implies it), e.g. urn:uuid:UUID; default:
                   one derived from /etc/machine-id and the address of record, stable across runs
)";

struct account_options {
    ua::account acct;
    bool have_password = false;
    bool given = false;  // some account option was on the command line
};

// Parses args[i] (and its value) if it is an account option. Returns 1 when it consumed the option,
// 0 when it is not one, -1 on error (printed, prefixed with `command`, e.g. "sipvoice register").
int parse_account_option(std::span<const std::string_view> args, std::size_t& i, account_options& out,
                         std::string_view command);

// After parsing: takes the password from SIP_PASSWORD when --password was not given, and checks that
// --registrar, --user and (with `need_password`) a password are there and the registrar is a usable
// URI. `required`: even when no account option was given. False with the error printed (a usage
// error, exit 2).
bool complete_account(account_options& out, std::string_view command, bool required, bool need_password = true);

// The domain of the address of record (--domain, else the registrar's host) and "sip:EXT@DOMAIN",
// the From of our calls: ua::account_domain() and ua::account_aor().
using ua::account_aor;
using ua::account_domain;

// The transport's CRLF pings follow the account's keep-alive.
void apply_account(const ua::account& acct, net_options& net);

// One line per registration state change, the same for every command:
//   registering | registered expires=N [outbound=yes flow_timer=S] | failed retry_in=Ns reason=... | unregistered
void print_registration(const ua::registration_state& s);

}  // namespace sipvoice::cli
