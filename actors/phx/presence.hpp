#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "phx/channel.hpp"
#include "phx/protocol/presence.hpp"

namespace phx {

/// One key's presence: its metas (each a JSON object with `phx_ref`).
using presence_entry = protocol::presence;

/// Tracks the presences of a channel (phoenix.js `Presence`): syncs state
/// and diffs, queues diffs that arrive before the first state or after a
/// rejoin, and reports joins, leaves and syncs. Thread-safe.
class presence {
public:
  /// Tracks `ch`'s `presence_state` and `presence_diff` events (or custom names).
  explicit presence(const phx::channel& ch, std::string state_event = "presence_state",
                    std::string diff_event = "presence_diff");
  ~presence();
  presence(const presence&) = delete;
  presence& operator=(const presence&) = delete;

  /// Runs for each join: key, the presence before (null if new), the joined metas.
  void on_join(std::function<void(const std::string& key, const presence_entry* current,
                                  const presence_entry& joined)> callback);

  /// Runs for each leave: key, the presence after, the left metas.
  void on_leave(std::function<void(const std::string& key, const presence_entry& current,
                                   const presence_entry& left)> callback);

  /// Runs after every state or diff applied.
  void on_sync(std::function<void()> callback);

  /// Every presence, in order, as `chooser(key, presence)` returns it.
  template <class Chooser>
  auto list(Chooser&& chooser) const {
    return protocol::list(snapshot(), std::forward<Chooser>(chooser));
  }

  /// Every presence, in order.
  std::vector<std::pair<std::string, presence_entry>> list() const;

  /// The presences as JSON `{key: {"metas": [...]}}`.
  payload to_payload() const;

  /// Diffs waiting for a state.
  size_t pending_diffs() const;

  /// A copy of the current state.
  protocol::presence_state snapshot() const;

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

} // namespace phx
