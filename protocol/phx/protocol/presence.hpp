#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "phx/protocol/json.hpp"
#include "phx/protocol/result.hpp"

namespace phx::protocol {

/// One presence: the metas of a key, each an immutable JSON object whose
/// `phx_ref` is its identity, plus the presence object as last received
/// (Phoenix.Presence `fetch/2` may add fields besides `metas`).
struct presence {
  json_ptr fields;            ///< The presence object as received (`metas` and any other field).
  std::vector<json_ptr> metas; ///< The metas, in arrival order.
};

/// The `phx_ref` of a meta (empty if it has none).
std::string_view phx_ref_of(const json_value& meta) noexcept;

/// Presences by key, iterated in insertion order (a key that is joined again
/// keeps its place; a removed key loses it).
class presence_state {
public:
  using value_type = std::pair<std::string, presence>;            ///< A key and its presence.
  using const_iterator = std::list<value_type>::const_iterator; ///< Iterates in insertion order.

  /// An empty state.
  presence_state() = default;
  /// Copies and moves (a copy shares the immutable metas).
  presence_state(const presence_state& other);
  /// Copies (the metas are shared: they are immutable).
  presence_state& operator=(const presence_state& other);
  /// Moves.
  presence_state(presence_state&&) noexcept = default;
  /// Moves.
  presence_state& operator=(presence_state&&) noexcept = default;

  /// The presence of `key`, or null.
  const presence* find(const std::string& key) const;
  /// The presence of `key`, or null (mutable).
  presence* find(const std::string& key);

  /// Sets the presence of `key`, keeping its place if it exists.
  presence& assign(const std::string& key, presence p);

  /// Removes `key`; false if absent.
  bool erase(const std::string& key);

  /// The number of keys.
  size_t size() const noexcept { return entries_.size(); }
  /// True without keys.
  bool empty() const noexcept { return entries_.empty(); }
  /// The presences in insertion order.
  const_iterator begin() const noexcept { return entries_.begin(); }
  /// Past the last presence.
  const_iterator end() const noexcept { return entries_.end(); }

private:
  void reindex();
  std::list<value_type> entries_;
  std::unordered_map<std::string, std::list<value_type>::iterator> index_;
};

/// A `presence_diff` payload: `{"joins": {...}, "leaves": {...}}`.
struct presence_diff {
  presence_state joins;  ///< Keys joined, or metas added to a key.
  presence_state leaves; ///< Keys left, or metas removed from a key.
};

/// Called for each join: key, the presence before (null if new), the joined part.
using presence_join_fn = std::function<void(
  const std::string& key, const presence* current, const presence& joined)>;

/// Called for each leave: key, the presence after removal, the left part.
using presence_leave_fn = std::function<void(
  const std::string& key, const presence& current, const presence& left)>;

/// Reads a `presence_state` payload; metas alias into `payload`.
result<presence_state> parse_presence_state(const json_ptr& payload);

/// Reads a `presence_diff` payload; metas alias into `payload`.
result<presence_diff> parse_presence_diff(const json_ptr& payload);

/// phoenix.js `Presence.syncState`: the new state, reporting joins and
/// leaves. `current` and `next` are not modified.
presence_state sync_state(const presence_state& current,
                          const presence_state& next,
                          const presence_join_fn& on_join = {},
                          const presence_leave_fn& on_leave = {});

/// phoenix.js `Presence.syncDiff`: joins add metas after the existing ones
/// (same `phx_ref` replaces), leaves remove metas by `phx_ref`, a key left
/// without metas disappears, leaves of unknown keys are ignored. `current`
/// and `diff` are not modified.
presence_state sync_diff(const presence_state& current,
                         const presence_diff& diff,
                         const presence_join_fn& on_join = {},
                         const presence_leave_fn& on_leave = {});

/// phoenix.js `Presence.list`: one entry per key, in order, as chosen.
template <class Chooser>
auto list(const presence_state& state, Chooser&& chooser) {
  using result_type = decltype(chooser(std::string{}, presence{}));
  std::vector<result_type> out;
  out.reserve(state.size());
  for (auto& [key, p] : state)
    out.emplace_back(chooser(key, p));
  return out;
}

/// The presences as a JSON object `{key: {"metas": [...], ...}}`.
json_document to_json(const presence_state& state);

/// One presence as a JSON object `{"metas": [...], ...}`.
json_document to_json(const presence& p);

/// The client-side presence logic of phoenix.js's `Presence` instance,
/// without a channel: tracks the join_ref of the last state and queues
/// diffs that arrive before the first state or after a rejoin.
class presence_tracker {
public:
  /// Diffs queued while waiting for a state beyond this are dropped and reported.
  static constexpr size_t max_pending_diffs = 10000;

  presence_join_fn on_join;      ///< Called for each join (phoenix.js `onJoin`).
  presence_leave_fn on_leave;    ///< Called for each leave (phoenix.js `onLeave`).
  std::function<void()> on_sync; ///< Called after each state or diff is applied (`onSync`).

  /// A `presence_state` payload arrived while the channel's join_ref is
  /// `join_ref`: sync, apply queued diffs, then `on_sync`.
  std::optional<error> handle_state(const json_ptr& payload,
                                    const std::optional<std::string>& join_ref);

  /// A `presence_diff` payload arrived: queued while pending, else applied
  /// and followed by `on_sync`.
  std::optional<error> handle_diff(const json_ptr& payload,
                                   const std::optional<std::string>& join_ref);

  /// True until a state arrived under the channel's current join_ref.
  bool in_pending_sync_state(const std::optional<std::string>& join_ref) const;

  /// The current presences.
  const presence_state& state() const noexcept { return state_; }

  /// Number of queued diffs.
  size_t pending_diffs() const noexcept { return pending_.size(); }

private:
  presence_state state_;
  std::vector<presence_diff> pending_;
  std::optional<std::string> join_ref_;
};

} // namespace phx::protocol
