#pragma once

// The verdict and the files of a run: thresholds evaluated on the whole-run
// measurements, summary.json and series.csv (schema: docs/fleet.md).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "measure/metrics.hpp"
#include "scenario/scenario.hpp"

namespace phx::fleet {

/// One threshold after the run (or during it, for abort_on_fail).
struct threshold_result {
  std::string name;
  double limit = 0;
  double value = 0; ///< NaN when there is nothing to measure (no samples)
  bool met = false;
};

/// The value a threshold name measures; NaN when there are no samples.
double threshold_value(const std::string& name, const metrics::totals& t, int64_t joined_end);

/// Evaluates every threshold (a value of NaN is not met).
std::vector<threshold_result> evaluate(const std::vector<threshold>& ths,
                                       const metrics::totals& t, int64_t joined_end);

/// A fault as it was injected.
struct fault_record {
  double at_s = 0;
  std::string kind;
  std::string detail;
};

/// A worker of a run over several processes, as summary.json lists it.
struct worker_record {
  std::string id;    ///< `w1`, `w2`, ... in order of joining
  std::string host;  ///< the host name it gave
  double weight = 1;
  double joined_at = 0;      ///< run-relative seconds (negative: before the start)
  uint64_t users = 0;        ///< users it ran at its end (at the run's end, or when lost)
  uint64_t users_started = 0; ///< users started on it over the run (re-spawns included)
  std::optional<double> lost_at;      ///< when it was lost; none if it ran to the end
  std::optional<double> recovered_at; ///< when its users' re-spawns were all started
  uint64_t respawned = 0;    ///< users of it re-spawned on the others
};

/// One second of one worker (workers.csv).
struct worker_row {
  double t_s = 0;
  std::string worker;
  int64_t users = 0;   ///< users alive on it
  int64_t joined = 0;  ///< its users with a joined channel
  std::optional<double> lag_p99_ms; ///< its generator lag in that second
};

/// What summary.json says besides the measurements.
struct run_info {
  std::string scenario;
  uint64_t seed = 0;
  std::string started_at; ///< ISO-8601, UTC
  double duration_s = 0;
  uint64_t users_target = 0;
  int64_t joined_end = 0;
  std::vector<fault_record> faults;
  std::vector<threshold_result> thresholds;
  int exit_code = 0;
  bool cluster = false;                ///< a coordinator's run: workers are listed
  std::vector<worker_record> workers;
  uint64_t respawned_users = 0;
  std::vector<worker_row> worker_rows; ///< workers.csv
};

/// Writes DIR/summary.json; returns an error text or empty.
std::string write_summary(const std::string& dir, const run_info& info,
                          const metrics::totals& t);

/// Writes DIR/series.csv; returns an error text or empty.
std::string write_series(const std::string& dir, const std::vector<second_row>& rows);

/// Writes DIR/workers.csv (a coordinator's run: `t_s`, then `ID_users`,
/// `ID_joined`, `ID_lag_p99_ms` for each worker); returns an error text or empty.
std::string write_worker_series(const std::string& dir, const std::vector<worker_row>& rows);

/// The CSV header of series.csv.
extern const char* const series_header;

/// The current time as ISO-8601 UTC (`2026-12-06T03:32:03Z`).
std::string iso_now();

} // namespace phx::fleet
