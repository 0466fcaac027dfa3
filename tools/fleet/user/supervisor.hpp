#pragma once

// The users' supervisor (OTP's one_for_one): starts, stops and watches every
// virtual user; a user whose actor dies abnormally is restarted from its spec
// with backoff, counted, and given up after too many restarts in a period.
// The fleet never dies of one user.

#include <cstdint>
#include <functional>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "user/user.hpp"

namespace phx::fleet {

/// Starts user `index` (`start_atom, index, intended_start_ns`).
using start_atom = caf::atom_constant<caf::atom("fstart")>;
/// Stops user `index` (`stop_atom, index`): a ramp down.
using stop_atom = caf::atom_constant<caf::atom("fstop")>;
/// Stops every user; answers the number stopped once all are down.
using stop_all_atom = caf::atom_constant<caf::atom("fstopall")>;
/// INTERNAL: restarts user `index` after its backoff.
using restart_atom = caf::atom_constant<caf::atom("frestart")>;

/// How a supervisor makes the spec of a user (index, intended start time).
using user_factory = std::function<user_spec(uint64_t index, int64_t intended_ns)>;

/// Restart intensity: at most `max_restarts` in `period_s` per user, then
/// the user is given up (counted as `user_gave_up`).
struct restart_policy {
  uint32_t max_restarts = 5;       ///< restarts allowed per user in `period_s`
  double period_s = 60;            ///< the intensity's window
  uint32_t first_backoff_ms = 100; ///< delay of the first restart, doubling after
  uint32_t max_backoff_ms = 5000;  ///< the longest delay
};

/// Called (in the supervisor's context) when user `index` ended by itself:
/// its steps ended (a session) or it was given up; not when it was stopped.
using user_ended = std::function<void(uint64_t index)>;

/// Spawns the supervisor.
caf::actor spawn_supervisor(caf::actor_system& sys, user_factory make, metrics* m,
                            const run_clock* clock, restart_policy policy = {},
                            user_ended ended = {});

} // namespace phx::fleet
