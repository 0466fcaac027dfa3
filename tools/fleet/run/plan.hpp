#pragma once

// The arrival plan: every user start and stop of a run, computed up front
// from the populations' phases (so that a seed and a scenario give the same
// plan), each with its intended time.

#include <cstdint>
#include <string>
#include <vector>

#include "scenario/scenario.hpp"

namespace phx::fleet {

/// One start or stop of a user, at its intended time.
struct plan_event {
  int64_t at_ns = 0;
  size_t pop = 0;
  uint64_t user = 0;   ///< global user index
  bool start = true;   ///< false: stop (ramp down)
  bool session = false; ///< started by an arrival phase: leaves when its steps end
};

/// A phase of one population in time, for progress lines.
struct plan_phase {
  double from_s = 0;
  double to_s = 0;
  std::string label; ///< e.g. `chat: ramp 0->100`
};

/// The whole plan of a run.
struct plan {
  std::vector<plan_event> events; ///< sorted by time
  std::vector<plan_phase> phases;
  uint64_t users_max = 0;         ///< users that may run at once (for preflight)
  uint64_t users_started = 0;     ///< user indexes used

  /// The label of the phases active at `t_s` (`;`-separated), or `hold`.
  std::string phase_at(double t_s) const;
};

/// Builds the plan of `sc` for a run of `length_s` seconds.
plan make_plan(const scenario& sc, double length_s);

} // namespace phx::fleet
