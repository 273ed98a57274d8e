// sipvoice/log.hpp: how the I/O layers report what they do. The library never writes to a stream
// itself; the application installs a handler (the CLI prints to stderr, the agent to its log).
// Messages never contain passwords.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace sipvoice {

enum class log_level : std::uint8_t { debug, info, warning, error };
std::string_view log_level_name(log_level level) noexcept;

using log_handler = std::function<void(log_level, std::string_view)>;

}  // namespace sipvoice
