#pragma once

// The virtual user: one phx socket and its channels driving the steps of its
// population, an actor of the fleet's actor system (CAF's "cell" shape: a
// state struct and a function returning the behaviour).

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/fwd.hpp>

#include "phx/actors/logger.hpp"

#include "measure/clock.hpp"
#include "measure/metrics.hpp"
#include "scenario/scenario.hpp"

namespace phx::fleet {

/// Everything a user needs to start; all pointers outlive the run.
struct user_spec {
  uint64_t index = 0;            ///< user index in the run ({{i}})
  const scenario* sc = nullptr;
  const population* pop = nullptr;
  std::string url;               ///< the target this user connects to
  uint64_t seed = 0;             ///< the user's own seed (run seed and index)
  int64_t intended_start_ns = 0; ///< when the arrival schedule wanted it connected
  bool session = false;          ///< leaves once its steps end (arrival phases)
  uint64_t run_seed = 0;                          ///< the run's seed ({{seed}})
  metrics* m = nullptr;                           ///< where measurements go
  const run_clock* clock = nullptr;               ///< the run's time base
  phx::log_level log_level = phx::log_level::off; ///< of the user's socket
};

/// Spawns the actor of one virtual user (untyped: its messages are internal).
caf::actor spawn_user(caf::actor_system& sys, user_spec spec);

/// A deterministic seed for user `index` of a run seeded with `run_seed` (splitmix64).
uint64_t user_seed(uint64_t run_seed, uint64_t index) noexcept;

} // namespace phx::fleet
