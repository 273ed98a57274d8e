// The subcommands of the `sipvoice` tool. Each takes its arguments (after the subcommand name) and
// returns the process exit status.
#pragma once

#include <span>
#include <string_view>

namespace sipvoice::cli {

int parse_command(std::span<const std::string_view> args);
int register_command(std::span<const std::string_view> args);
int options_command(std::span<const std::string_view> args);
int call_command(std::span<const std::string_view> args);
int answer_command(std::span<const std::string_view> args);

}  // namespace sipvoice::cli
