#pragma once

// Everything a run measures: latency histograms (whole run and the current
// second), outcomes by kind, errors by kind, and the user gauges. Users on
// any thread record into it; the run's clock thread takes one row a second.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "measure/histogram.hpp"

namespace phx::fleet {

/// What a latency measures. `lag` is the generator's own lag: actual minus
/// intended send time of every timer-driven action.
enum class latency_kind { connect, join, push, recover, lag };
constexpr size_t latency_kinds = 5;
/// `"connect"`, `"join"`, ...
const char* to_string(latency_kind k) noexcept;

/// Operations that end with an outcome.
enum class op_kind { connect, join, push };
constexpr size_t op_kinds = 3;
const char* to_string(op_kind k) noexcept;

/// The one outcome of an operation: the server's ok or error, no reply in
/// time, or refused locally / never completed.
enum class outcome_kind { ok, error, timeout, failed };
constexpr size_t outcome_kinds = 4;
const char* to_string(outcome_kind k) noexcept;

/// One row of series.csv: the gauges at the end of the second, the counts and
/// percentiles of that second (nullopt: no sample).
struct second_row {
  double t_s = 0;
  int64_t users_connecting = 0;
  int64_t users_open = 0;
  int64_t users_joined = 0;
  uint64_t pushes_sent = 0;
  uint64_t replies_ok = 0;
  uint64_t replies_error = 0;
  uint64_t timeouts = 0;
  uint64_t failed = 0;
  uint64_t errors = 0;
  std::optional<double> push_p50_ms, push_p90_ms, push_p99_ms, push_max_ms, join_p99_ms,
    lag_p99_ms;
  int64_t presence = 0; ///< largest presence count a user saw (in the last second with any)
};

/// What one process measured in one second, as it crosses a node link: the
/// second's histograms, outcomes, errors and pushes (a worker's report).
struct metrics_delta {
  std::array<histogram, latency_kinds> latency;
  std::array<std::array<uint64_t, outcome_kinds>, op_kinds> outcomes{};
  std::map<std::string, uint64_t> errors;
  uint64_t pushes_sent = 0;
  int64_t presence = -1; ///< largest presence count seen in the second; -1: none
};

/// Thread-safe collector of a run's measurements.
class metrics {
public:
  /// Records a latency in nanoseconds (ignored once `stop_counting` ran).
  void latency(latency_kind k, int64_t ns);
  /// Counts an outcome.
  void outcome(op_kind op, outcome_kind r);
  /// Counts one error of `kind` (e.g. `push_timeout`, `close_1006`, `join_refused`).
  void error(const std::string& kind, uint64_t n = 1);
  /// Counts a push handed to its channel.
  void push_sent();
  /// A user saw `n` presences.
  void presence_seen(int64_t n);

  /// Moves the gauge of users whose socket is connecting by `d`.
  void add_connecting(int64_t d) { connecting_ += d; }
  /// Moves the gauge of users whose socket is open by `d`.
  void add_open(int64_t d) { open_ += d; }
  /// Moves the gauge of users with a joined channel by `d` (and its peak).
  void add_joined(int64_t d);

  /// Ends the current second: returns its row and starts the next.
  second_row take_second(double t_s);

  /// Ends the current second of a worker: returns what it measured (the
  /// window) and starts the next. Use either this or `take_second`.
  metrics_delta take_delta();

  /// Adds a worker's second to the whole run and to the current second
  /// (the coordinator's merge; counted even after `stop_counting`).
  void merge(const metrics_delta& d);

  /// Sets the user gauges (the coordinator: sums of its workers' gauges).
  void set_gauges(int64_t connecting, int64_t open, int64_t joined);

  /// From now on outcomes and latencies are no longer counted (the run ended:
  /// teardown outcomes are not the server's doing).
  void stop_counting() { counting_ = false; }

  /// Whole-run results (copies, taken under the lock).
  struct totals {
    std::array<histogram, latency_kinds> latency;
    std::array<std::array<uint64_t, outcome_kinds>, op_kinds> outcomes{};
    std::map<std::string, uint64_t> errors;
    int64_t joined_peak = 0;
    int64_t joined_now = 0;
    uint64_t pushes_sent = 0;
  };
  totals snapshot() const;

  /// Users connecting now.
  int64_t connecting() const { return connecting_.load(); }
  /// Users whose socket is open now.
  int64_t open() const { return open_.load(); }
  /// Users with a joined channel now.
  int64_t joined() const { return joined_.load(); }

private:
  mutable std::mutex mtx_;
  std::atomic<bool> counting_{true};
  std::atomic<int64_t> connecting_{0};
  std::atomic<int64_t> open_{0};
  std::atomic<int64_t> joined_{0};
  std::atomic<int64_t> joined_peak_{0};
  // Guarded by mtx_.
  std::array<histogram, latency_kinds> total_;
  std::array<histogram, latency_kinds> window_;
  std::array<std::array<uint64_t, outcome_kinds>, op_kinds> outcomes_{};
  std::map<std::string, uint64_t> errors_;
  uint64_t pushes_sent_ = 0;
  metrics_delta window_delta_; // outcomes, errors and pushes of the second, for take_delta
  second_row row_;
  int64_t presence_ = 0;
  int64_t presence_window_ = -1;
};

} // namespace phx::fleet
