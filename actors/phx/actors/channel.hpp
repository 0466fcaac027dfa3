#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "phx/actors/actors.hpp"
#include "phx/actors/options.hpp"
#include "phx/actors/subscriber.hpp"

namespace phx {

/// A FIFO queue on a vector: nothing is allocated while it is empty, where a
/// `std::deque` allocates 576 bytes as it is made (per channel, per queue).
template <class T>
class fifo {
public:
  bool empty() const noexcept { return head_ == items_.size(); }
  size_t size() const noexcept { return items_.size() - head_; }
  const T& front() const { return items_[head_]; }
  const T& back() const { return items_.back(); }

  template <class... Ts>
  void emplace_back(Ts&&... xs) {
    items_.emplace_back(std::forward<Ts>(xs)...);
  }

  void pop_front() {
    if (++head_ == items_.size()) {
      clear();
    } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
      // Dropping the consumed half costs what those pops saved: O(1) amortized.
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  void clear() noexcept {
    items_.clear();
    head_ = 0;
  }

private:
  std::vector<T> items_;
  size_t head_ = 0;
};

/// The pending pushes of a channel by ref. Refs count up per socket, so a
/// channel sends its pushes in ref order: a sorted vector searched by halves
/// replaces a hash map (no allocation, no string hashing per push). Finished
/// entries leave the front at once; those behind a slower push are compacted
/// away once they outnumber the live ones, so it stays O(pending pushes).
class ref_index {
public:
  /// Adds `ref` for push `id` (`id` > 0). Refs made by `socket_context::make_ref`
  /// come in increasing order; any other ref is kept too, just slower.
  void add(const std::string& ref, uint64_t id);

  /// The push sent with `ref`, if it is pending.
  std::optional<uint64_t> find(const std::string& ref) const;

  /// Forgets `ref` (nothing if unknown).
  void erase(const std::string& ref);

  /// 1 if `ref` is pending, else 0 (as a map's `count`).
  size_t count(const std::string& ref) const { return find(ref) ? 1 : 0; }

  /// True if no ref is pending.
  bool empty() const noexcept { return live_ == 0; }

  /// The number of pending refs.
  size_t size() const noexcept { return live_; }

  /// Entries held, finished ones not yet dropped included (bounded by about
  /// twice the pending refs; for tests).
  size_t held() const noexcept { return items_.size() - head_ + others_.size(); }

private:
  using entry = std::pair<uint64_t, uint64_t>; // (ref, id); id 0: finished
  static std::optional<uint64_t> parse(const std::string& ref) noexcept;
  std::vector<entry>::const_iterator locate(uint64_t ref) const;
  void trim();

  std::vector<entry> items_;
  size_t head_ = 0;
  size_t live_ = 0;
  /// Refs that are not canonical decimals (never made by this client).
  std::unordered_map<std::string, uint64_t> others_;
};

/// The state of a CHANNEL actor: the state machine of phoenix.js's Channel,
/// its join push, push buffer and bindings, and its REJOIN SUPERVISOR role
/// (rejoin with backoff after errors, at once when the socket reopens).
/// Exposed for deterministic tests.
struct channel_actor_state {
  static inline const char* name = "phx.channel";

  /// A push waiting for its outcome: its PUSH actor, who hears the outcome
  /// (the actor API's requester or the facade's callbacks), what to send, and
  /// the ref once sent.
  struct pending_push {
    push_actor actor;
    std::string event;
    protocol::payload payload;
    caf::timespan timeout{};
    std::optional<std::string> ref;
    bool in_buffer = false;
    /// The actor API's requester: the outcome goes to the PUSH as this
    /// request, delegated, so the PUSH answers it (one message).
    caf::typed_response_promise<reply> requester;
    /// The facade's callbacks, run by the PUSH.
    std::shared_ptr<push_hooks> hooks;
  };

  /// At most this many idle PUSH actors wait for the next push (a window of
  /// that many pushes in flight spawns none once running).
  static constexpr size_t max_idle_pushes = 128;
  /// The pool is trimmed to this (or to the pushes in flight, if more) when
  /// the push timer fires: a burst's PUSH actors do not stay for good.
  static constexpr size_t kept_idle_pushes = 8;

  std::shared_ptr<socket_context> ctx;
  /// What the supervisor restarts this channel from (shared with it).
  std::shared_ptr<channel_spec> spec;
  /// The supervisor of the system, kept alive by the actors it watches.
  supervisor_actor supervisor;
  /// The socket, held weakly: a channel never keeps its socket alive. Null
  /// while its crashed socket waits for the supervisor's restart.
  caf::actor_addr socket;
  std::string topic;
  std::function<protocol::payload()> params;
  std::shared_ptr<channel_hooks> hooks;

  channel_state state = channel_state::closed;
  bool joined_once = false;
  caf::timespan timeout{};

  // -- join push --------------------------------------------------------------------

  /// The ref of the current join push (== its join_ref); empty after a reset.
  std::optional<std::string> join_ref;
  /// True while the join push waits for its reply.
  bool join_awaiting = false;
  uint64_t join_epoch = 0;
  std::vector<caf::typed_response_promise<reply>> join_waiters;

  // -- rejoin supervisor ---------------------------------------------------------------

  uint32_t rejoin_tries = 0;
  uint64_t rejoin_epoch = 0;
  /// A restart scheduled a rejoin with backoff: the socket's open does not
  /// rejoin at once meanwhile.
  bool rejoin_after_restart = false;

  // -- leave ---------------------------------------------------------------------------

  std::optional<std::string> leave_ref;
  uint64_t leave_epoch = 0;
  std::vector<caf::typed_response_promise<channel_state>> leave_waiters;
  std::vector<std::shared_ptr<push_hooks>> leave_hooks;

  // -- pushes --------------------------------------------------------------------------

  uint64_t next_push = 0;
  std::unordered_map<uint64_t, pending_push> pushes;
  /// PUSH actors that delivered their outcome, reused by the next pushes.
  std::vector<push_actor> idle_pushes;
  ref_index by_ref;
  /// Ids of pushes waiting for a join, in order (ids of finished pushes are skipped).
  std::vector<uint64_t> buffer;
  size_t buffered = 0;
  /// Push deadlines in order (finished ones leave lazily), plus those that
  /// arrived out of order (a shorter timeout than earlier pushes).
  fifo<std::pair<caf::actor_clock::time_point, uint64_t>> deadlines;
  std::multimap<caf::actor_clock::time_point, uint64_t> late_deadlines;
  /// The one push timer: armed for `timer_at`, tagged with `timer_epoch`.
  bool timer_armed = false;
  caf::actor_clock::time_point timer_at;
  uint64_t timer_epoch = 0;

  std::vector<subscriber<channel_subscriber_actor>> subscribers;
  channel_stats stats;
  /// Jitter of the rejoin backoff.
  protocol::jitter_random rng{fresh_jitter_seed()};
  /// Why the channel is ending (exit request, socket stopped): the outcome
  /// of what is still pending when it dies. Empty: it crashed.
  caf::error end_reason;

  channel_actor_state() = default;
  channel_actor_state(const channel_actor_state&) = delete;
  channel_actor_state& operator=(const channel_actor_state&) = delete;

  /// However the channel ends (closed, killed, crashed), every pending push
  /// and join gets its one outcome: `end_reason`, or `ec::channel_crashed`
  /// if it died without one (killed), as no reply can reach it anymore.
  ~channel_actor_state();
};

/// The CHANNEL behavior (for `spawn` and deterministic tests), started from
/// its spec: fresh, or restarted by the supervisor (then it rejoins with the
/// rejoin backoff if join had been called).
channel_actor::behavior_type
channel_impl(channel_actor::stateful_pointer<channel_actor_state> self,
             socket_actor socket, std::shared_ptr<channel_spec> spec);

/// Builds a channel's spec from the options a facade or the socket gives.
std::shared_ptr<channel_spec> make_channel_spec(std::shared_ptr<socket_context> ctx,
                                                channel_options opts);

/// Spawns a CHANNEL for `opts.topic` on `socket`. The caller routes it with
/// `(channel_atom, channel, topic)` unless the socket spawned it.
channel_actor spawn_channel(caf::actor_system& sys, socket_actor socket,
                            std::shared_ptr<socket_context> ctx, channel_options opts);

} // namespace phx
