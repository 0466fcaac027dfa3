#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "phx/protocol/json.hpp"
#include "phx/protocol/payload.hpp"

namespace phx_server {

class channel;
class context;

/// Presence tracking per topic (Phoenix.Presence over Phoenix.Tracker):
/// one meta per tracked channel, keyed by user id, each meta carrying a
/// unique `phx_ref`; every change is broadcast as `presence_diff`.
class presence_tracker {
public:
  /// A tracker that broadcasts through `ctx.bus`.
  explicit presence_tracker(context& ctx) : ctx_(ctx) {}

  /// Tracks `ch` under `key` with `meta` (an object; `phx_ref` is added).
  /// The join diff is not sent yet: the channel pushes `presence_state`
  /// first, then calls `announce` (the diff of Phoenix.Presence is async).
  phx::protocol::json_ptr track(channel& ch, const std::string& key,
                                phx::protocol::json_document meta);

  /// Broadcasts the join diff of a meta returned by `track`.
  void announce(const std::string& topic, const std::string& key,
                const phx::protocol::json_ptr& meta);

  /// Merges the object `changes` into `ch`'s meta under a new `phx_ref`
  /// (keeping the old one as `phx_ref_prev`) and broadcasts the leave of the
  /// old meta plus the join of the new one. False if `ch` is not tracked.
  bool update(channel& ch, const phx::protocol::json_value& changes);

  /// Stops tracking `ch` and broadcasts the leave; a no-op if not tracked.
  void untrack(channel& ch);

  /// The presences of `topic`: `{key: {"metas": [...]}}`.
  phx::protocol::payload list(const std::string& topic) const;

private:
  struct entry {
    channel* owner;
    std::string key;
    phx::protocol::json_ptr meta;
  };

  void broadcast_diff(const std::string& topic, const entry* joined,
                      const entry* left);

  context& ctx_;
  std::unordered_map<std::string, std::vector<entry>> topics_;
};

} // namespace phx_server
