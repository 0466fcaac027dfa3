#pragma once

// One run of a scenario: preflight, the arrival plan on the clock, faults,
// the once-a-second row, thresholds and the report files.

#include <cstdint>
#include <optional>
#include <string>

namespace phx::fleet {

/// Exit codes of `phx-fleet run` (k6's convention, documented in docs/fleet.md).
enum exit_code : int {
  exit_met = 0,      ///< every threshold met
  exit_missed = 1,   ///< a threshold missed
  exit_usage = 2,    ///< bad usage, bad scenario, or preflight refused the run
  exit_aborted = 3,  ///< aborted: a signal, or an abort_on_fail threshold missed during the run
};

/// The command line of `phx-fleet run`.
struct run_options {
  std::string scenario_file;
  std::string report_dir;              ///< empty: no files
  std::optional<double> duration_s;    ///< --duration
  std::optional<uint64_t> users;       ///< --users
  std::string events;                  ///< --events FILE or "-"; empty for none
  std::optional<uint64_t> seed;        ///< --seed
  std::string log_level = "off";       ///< --log-level of the phx sockets
  bool quiet = false;                  ///< --quiet: no progress lines for people
};

/// Runs a scenario and returns the exit code. Messages go to stderr/stdout.
int run(const run_options& opts);

} // namespace phx::fleet
