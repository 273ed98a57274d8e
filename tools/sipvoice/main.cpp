// sipvoice: command-line softphone and SIP toolbox.
#include <cstdio>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "sipvoice/config.hpp"

namespace {

constexpr std::string_view usage = R"(usage: sipvoice <command> [options]

A SIP toolbox built on libsipvoice.

commands:
  parse [--json] FILE|-   parse and validate one SIP message (RFC 3261); '-' reads stdin.
                          exit 0: well formed (the verdict of a user agent is printed when it
                          is not plain acceptance); exit 1: malformed, with line:col: reason.
  register --registrar URI --user EXT --password PW [--once] ...
                          register with a registrar and keep the registration alive, printing
                          each state change; --once exits 0 when registered, 1 on failure.
  options SIP-URI         send OPTIONS and print the response; exit 0 on any final response.
  call SIP-URI|EXT [--registrar URI --user EXT --password P] [--play WAV] [--record WAV]
       [--dtmf DIGITS] [--duration S] [--codec C] [--hold-after S] [--session-expires S] ...
                          place a call; exit 0 only when answered with two-way RTP.
  answer [--listen udp:HOST:PORT] [--registrar URI --user EXT ...] [--echo | --play WAV]
       [--record WAV] [--max-calls N] [--session-expires S] [--rtp-timeout S]
                          answer incoming calls (registered or not), echo or play audio.

options:
  -h, --help      this help
  --version       print the version

Run 'sipvoice <command> --help' for a command's options.
)";

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string_view> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
        std::fputs(usage.data(), args.empty() ? stderr : stdout);
        return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version") {
        std::printf("sipvoice %s\n", SIPVOICE_VERSION);
        return 0;
    }
    const std::string_view command = args[0];
    const std::span<const std::string_view> rest(args.data() + 1, args.size() - 1);
    if (command == "parse") return sipvoice::cli::parse_command(rest);
    if (command == "register") return sipvoice::cli::register_command(rest);
    if (command == "options") return sipvoice::cli::options_command(rest);
    if (command == "call") return sipvoice::cli::call_command(rest);
    if (command == "answer") return sipvoice::cli::answer_command(rest);
    std::fprintf(stderr, "sipvoice: unknown command '%.*s' (see 'sipvoice --help')\n", static_cast<int>(command.size()),
                 command.data());
    return 2;
}
