#pragma once

// The run's clock: nanoseconds since the run started (steady clock), the one
// time base of intended and actual times.

#include <chrono>
#include <cstdint>

namespace phx::fleet {

/// Nanoseconds since `start` on the steady clock.
struct run_clock {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();

  /// Now, in nanoseconds since the start.
  int64_t now_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now() - start).count();
  }

  /// Seconds since the start.
  double now_s() const { return static_cast<double>(now_ns()) / 1e9; }
};

} // namespace phx::fleet
