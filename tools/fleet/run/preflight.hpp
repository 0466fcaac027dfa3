#pragma once

// Preflight: before a run, checks what the machine allows against what the
// scenario needs (open files, ephemeral ports per destination, memory) and
// says what to change.

#include <cstdint>
#include <string>
#include <vector>

#include "scenario/scenario.hpp"

namespace phx::fleet {

/// What preflight found: notes for people, and whether the run may start.
struct preflight_result {
  bool ok = true;
  std::vector<std::string> notes;    ///< info and warnings
  std::vector<std::string> problems; ///< each one stops the run (exit 2)
};

/// Checks a run of at most `users` users at once over the targets of `sc`;
/// raises the soft open-file limit when the hard limit allows.
preflight_result preflight(const scenario& sc, uint64_t users);

/// Estimated client memory per user (KiB) that preflight uses.
constexpr uint64_t preflight_kib_per_user = 40;

} // namespace phx::fleet
