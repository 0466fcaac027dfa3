#pragma once

// One run of a scenario: preflight, the arrival plan on the clock, faults,
// the once-a-second row, thresholds and the report files.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "phx/actors/logger.hpp"

#include "measure/clock.hpp"
#include "measure/metrics.hpp"
#include "run/plan.hpp"
#include "run/results.hpp"
#include "scenario/scenario.hpp"

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

class progress;

/// Where the users of a run live: in this process (`phx-fleet run`) or on
/// worker processes (`phx-fleet coordinator`). The run loop (plan, clock,
/// faults, seconds, thresholds, files) is the same for both.
class user_backend {
public:
  virtual ~user_backend() = default;
  /// Plan events are handed over this long before their intended time.
  virtual int64_t lead_ns() const { return 0; }
  /// Each second's row is taken this long after the second ends (reports in flight).
  virtual int64_t row_delay_ns() const { return 0; }
  /// Before the run: sets `clock.start`; an error text aborts the run (exit 3).
  virtual std::string prepare(run_clock& clock, progress& prog) = 0;
  /// Starts or stops a user of the plan (at or before its intended time).
  virtual void dispatch(const plan_event& e) = 0;
  /// Called at least every 50 ms during the run.
  virtual void poll(progress& prog) { (void) prog; }
  /// Called once a second after the row of the second ending at `t_s`.
  virtual void second(double t_s, progress& prog) { (void) t_s, (void) prog; }
  /// The run ended (measurements no longer count): stops every user.
  virtual void finish() = 0;
  /// Adds what the backend knows to the summary (workers).
  virtual void describe(run_info& info) { (void) info; }
};

/// What a backend is made from: the scenario (as run), the run's seed, the
/// sockets' log level, where measurements go and the run's clock.
struct backend_context {
  const scenario* sc = nullptr;
  uint64_t seed = 0;
  phx::log_level level = phx::log_level::off;
  metrics* m = nullptr;
  run_clock* clock = nullptr;
  const plan* the_plan = nullptr;
};

/// Makes the backend of a run.
using backend_maker = std::function<std::unique_ptr<user_backend>(const backend_context&)>;

/// Runs a scenario and returns the exit code. Messages go to stderr/stdout.
/// Without `make`, the users run in this process.
int run(const run_options& opts, const backend_maker& make = {});

/// True once SIGINT or SIGTERM arrived during a run (for a backend's waits).
bool stop_requested();

/// Creates `dir` and its parents; false when it is not a directory after.
bool make_dir(const std::string& dir);

} // namespace phx::fleet
