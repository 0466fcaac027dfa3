#pragma once

// The verdict and the files of a run: thresholds evaluated on the whole-run
// measurements, summary.json and series.csv (schema: docs/fleet.md).

#include <cstdint>
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
};

/// Writes DIR/summary.json; returns an error text or empty.
std::string write_summary(const std::string& dir, const run_info& info,
                          const metrics::totals& t);

/// Writes DIR/series.csv; returns an error text or empty.
std::string write_series(const std::string& dir, const std::vector<second_row>& rows);

/// The CSV header of series.csv.
extern const char* const series_header;

/// The current time as ISO-8601 UTC (`2026-12-06T03:32:03Z`).
std::string iso_now();

} // namespace phx::fleet
