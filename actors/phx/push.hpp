#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "phx/actors/hooks.hpp"
#include "phx/json.hpp"

namespace phx {

/// A push to a channel (or a join or leave) as phoenix.js shapes it: register
/// what to do for each outcome with `receive`, chainable. Exactly one outcome
/// per push: `"ok"` or `"error"` (the server's reply), `"timeout"` (no reply
/// in time, or the channel or socket went away) or `"failed"` (refused
/// locally and never sent: not joined, buffer full, encode error). A join
/// push reports every join attempt (the first join and each rejoin).
/// Copies share the same push. Thread-safe.
class push {
public:
  /// Runs `callback` with the response when the outcome is `status`; runs it
  /// at once if that outcome already happened. Returns `*this`.
  push& receive(const std::string& status, std::function<void(const payload&)> callback);

  /// Blocks until the outcome (never call it from a callback).
  push_outcome wait() const;

  /// Blocks up to `timeout`; empty if there is no outcome yet.
  std::optional<push_outcome> wait_for(std::chrono::milliseconds timeout) const;

  /// The outcome, if there is one (for a join push: the latest attempt's).
  std::optional<push_outcome> outcome() const;

  /// @private
  explicit push(std::shared_ptr<push_hooks> hooks) : hooks_(std::move(hooks)) {}

private:
  std::shared_ptr<push_hooks> hooks_;
};

} // namespace phx
