#include "phx/protocol/log.hpp"

namespace phx::protocol {

const char* to_string(log_level level) noexcept {
  switch (level) {
    case log_level::trace: return "trace";
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warning: return "warning";
    case log_level::error: return "error";
    case log_level::off: return "off";
  }
  return "unknown";
}

std::optional<log_level> parse_log_level(std::string_view name) noexcept {
  for (auto level : {log_level::trace, log_level::debug, log_level::info,
                     log_level::warning, log_level::error, log_level::off})
    if (name == to_string(level))
      return level;
  if (name == "warn")
    return log_level::warning;
  return std::nullopt;
}

} // namespace phx::protocol
