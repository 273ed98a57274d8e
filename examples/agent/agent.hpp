// sipvoice-agent's SIP side: registers as an extension (or listens as a trunk with an allow-list),
// answers calls up to the configured maximum, runs one conversation per call, and shuts down politely.
//
// Everything here runs on the io_context thread; the conversations' slow stages run on the worker
// group's threads (conversation.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <asio/io_context.hpp>

#include "backends.hpp"
#include "config.hpp"
#include "conversation.hpp"
#include "scheduler.hpp"
#include "tools.hpp"

namespace sipvoice::agent {

// An address allow-list entry: "192.0.2.10", "10.0.0.0/8", "::1", "2001:db8::/32".
struct address_prefix {
    std::vector<std::uint8_t> bytes;  // 4 or 16
    unsigned bits = 0;
};
std::optional<address_prefix> parse_prefix(std::string_view text);
bool allowed(const std::vector<address_prefix>& list, std::string_view address);

// The registrar setting as a SIP URI for the stack: sip: added to a bare HOST[:PORT], and
// ;transport= (or sips:) from sip.transport when the URI does not say it.
std::string registrar_uri(const sip_settings& s);

// Where a call back to `caller` (a From URI) goes: registered, the caller's user part in the
// account's domain (through the registrar); as a trunk, the URI as it is.
std::string callback_uri(const config& cfg, std::string_view caller);
// A transfer target (tools.transfer_target) as a URI: a SIP URI as it is; a bare extension in the
// account's domain, or (as a trunk) on `peer_host`, where the call came from.
std::string transfer_uri(const config& cfg, std::string_view target, std::string_view peer_host);

class agent_app {
public:
    // `reminders`: the timers and callbacks of the tools (may be null: none). The app reports its
    // registration state to it and tells the caller when one comes due: on the line when they still
    // are, else by calling them back.
    agent_app(asio::io_context& io, const config& cfg, conversation_env env,
              std::shared_ptr<scheduler> reminders = nullptr);
    ~agent_app();
    agent_app(const agent_app&) = delete;
    agent_app& operator=(const agent_app&) = delete;

    // Listens, and registers in register mode. An error says what failed.
    std::error_code start();
    // SIGTERM: every call says goodbye and hangs up (at most `grace`), then un-REGISTER, then `done`.
    void shutdown(std::function<void()> done, std::chrono::milliseconds grace = std::chrono::milliseconds(8000));

    [[nodiscard]] std::size_t active_calls() const;
    // Calls `uri` and, once answered, opens the conversation with `opening`; `why` names it in the
    // log ("timer 3"). False when it cannot be placed now (shutting down, calls.max_concurrent).
    bool call_out(const std::string& uri, const std::string& caller, std::string opening, std::string why);
    [[nodiscard]] std::uint16_t udp_port() const;
    [[nodiscard]] std::uint16_t tcp_port() const;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace sipvoice::agent
