#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

namespace phx::protocol {

/// Severity of a log line.
enum class log_level : uint8_t { trace, debug, info, warning, error, off };

/// Returns `"trace"`, `"debug"`, ...
const char* to_string(log_level level) noexcept;

/// Parses a level name; empty for an unknown name.
std::optional<log_level> parse_log_level(std::string_view name) noexcept;

/// Where log lines go: level, component (`"socket"`, `"channel"`,
/// `"transport"`, `"push"`, `"server"`, ...) and the text. Texts never hold
/// secrets (tokens, params, header values): callers redact before logging.
using log_sink =
  std::function<void(log_level, std::string_view component, std::string_view text)>;

} // namespace phx::protocol
