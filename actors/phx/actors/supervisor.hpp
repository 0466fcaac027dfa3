#pragma once

// The SUPERVISOR: one per actor system, whose one job is supervision, in the
// manner of an OTP supervisor with one_for_one children. It watches every
// SOCKET and CHANNEL (monitors), restarts one that dies abnormally from its
// spec, counts every restart (the in-place restarts the actors perform under
// `callback_failure::restart` included) against the socket's restart
// intensity, and past it stops the socket for good.

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "phx/actors/actors.hpp"
#include "phx/actors/hooks.hpp"
#include "phx/actors/options.hpp"

namespace phx {

/// The state of the SUPERVISOR actor. Exposed for deterministic tests.
struct supervisor_state {
  static inline const char* name = "phx.supervisor";

  /// One socket's tree: its current SOCKET, its live CHANNELs with their
  /// specs, and the times of its recent restarts. Actors are held by address:
  /// watching never keeps an actor alive.
  struct tree {
    std::shared_ptr<socket_context> ctx;
    caf::actor_addr socket;
    std::vector<std::pair<caf::actor_addr, std::shared_ptr<channel_spec>>> channels;
    std::vector<caf::actor_clock::time_point> restarts;
    /// Stopped for good: nothing of it is restarted anymore.
    bool stopped = false;
  };

  /// Trees by their socket's context (stable across socket restarts).
  std::unordered_map<const socket_context*, std::shared_ptr<tree>> trees;
  /// The tree of every watched actor, by address.
  std::unordered_map<caf::actor_addr, std::shared_ptr<tree>> owners;
  /// Restarts performed (in place or by a new actor), for tests and stats.
  uint64_t restarts = 0;
};

/// The SUPERVISOR behavior (for deterministic tests).
supervisor_actor::behavior_type
supervisor_impl(supervisor_actor::stateful_pointer<supervisor_state> self);

/// The supervisor of `sys`, spawned (hidden, so it never holds the system's
/// shutdown up) on first use.
supervisor_actor supervisor_of(caf::actor_system& sys);

/// True for an exit reason that is a crash to restart from (a kill, an
/// exception that escaped, any error), false for a deliberate stop (normal,
/// user_shutdown, unreachable: released by its last handle, the socket
/// stopped for good).
bool is_crash(const caf::error& reason);

/// Reports a fault of user code once: the logger (error, naming the callback)
/// and the socket's `on_error` callbacks (a fault of `on_error` itself is only
/// logged).
void report_fault(const socket_context& ctx, const callback_fault& fault);

/// Spawns a CHANNEL from its spec on `socket` and routes it there (the
/// supervisor's restart; `spawn_channel` is the first start).
channel_actor respawn_channel(caf::actor_system& sys, const socket_actor& socket,
                              std::shared_ptr<channel_spec> spec);

} // namespace phx
