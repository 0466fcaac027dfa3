#pragma once

#include <string_view>

#include "phx/protocol/log.hpp"

namespace phx_server {

/// Writes `[level] component: text` lines to stderr; stdout is reserved for
/// the one `listening on` line that scripts parse.
class logger {
public:
  /// A logger writing `level` and above.
  explicit logger(phx::protocol::log_level level) : level_(level) {}

  /// True if lines of `level` are written (callers skip building text otherwise).
  bool enabled(phx::protocol::log_level level) const noexcept {
    return level >= level_ && level_ != phx::protocol::log_level::off;
  }

  /// The lowest severity written.
  phx::protocol::log_level level() const noexcept { return level_; }

  /// Writes one line if `level` is enabled.
  void write(phx::protocol::log_level level, std::string_view component,
             std::string_view text) const;

private:
  phx::protocol::log_level level_;
};

} // namespace phx_server
