#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "phx/protocol/log.hpp"

namespace phx {

using protocol::log_level;
using protocol::log_sink;

/// The project's logger (Debian's CAF compiles its own logging out): a level
/// filter in front of a sink. Cheap to copy and to test (`enabled` first).
/// Log texts never contain secrets: callers redact URLs, never log params,
/// header values or tokens.
class logger {
public:
  /// A logger that drops everything.
  logger() = default;

  /// Logs at `level` and above to `sink`.
  logger(log_level level, log_sink sink);

  /// A sink writing `<time> <level> [<component>] <text>` lines to stderr,
  /// one write per line (safe from any thread).
  static log_sink stderr_sink();

  /// True if a line at `level` would be written.
  bool enabled(log_level level) const noexcept {
    return sink_ && level >= level_ && level_ != log_level::off;
  }

  /// Writes one line if `level` is enabled.
  void log(log_level level, std::string_view component, std::string_view text) const;

  /// Writes a debug line.
  void debug(std::string_view component, std::string_view text) const {
    log(log_level::debug, component, text);
  }
  /// Writes an info line.
  void info(std::string_view component, std::string_view text) const {
    log(log_level::info, component, text);
  }
  /// Writes a warning line.
  void warning(std::string_view component, std::string_view text) const {
    log(log_level::warning, component, text);
  }
  /// Writes an error line.
  void error(std::string_view component, std::string_view text) const {
    log(log_level::error, component, text);
  }

  /// The sink as a plain function filtered by the level (for the transport).
  log_sink as_sink() const;

  /// The lowest level written.
  log_level level() const noexcept { return level_; }

private:
  log_level level_ = log_level::off;
  std::shared_ptr<const log_sink> sink_;
};

} // namespace phx
