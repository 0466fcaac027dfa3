#include "measure/metrics.hpp"

#include <algorithm>

namespace phx::fleet {

const char* to_string(latency_kind k) noexcept {
  static const char* names[] = {"connect", "join", "push", "recover", "lag"};
  return names[static_cast<size_t>(k)];
}

const char* to_string(op_kind k) noexcept {
  static const char* names[] = {"connect", "join", "push"};
  return names[static_cast<size_t>(k)];
}

const char* to_string(outcome_kind k) noexcept {
  static const char* names[] = {"ok", "error", "timeout", "failed"};
  return names[static_cast<size_t>(k)];
}

void metrics::latency(latency_kind k, int64_t ns) {
  if (!counting_)
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  total_[static_cast<size_t>(k)].record(ns);
  window_[static_cast<size_t>(k)].record(ns);
}

namespace {

// Which column of the second's row an outcome counts in (one rule for local and merged counts).
void count_in_row(second_row& row, size_t op, size_t r, uint64_t n) {
  if (op == static_cast<size_t>(op_kind::push) && r == static_cast<size_t>(outcome_kind::ok))
    row.replies_ok += n;
  else if (op == static_cast<size_t>(op_kind::push) && r == static_cast<size_t>(outcome_kind::error))
    row.replies_error += n;
  else if (r == static_cast<size_t>(outcome_kind::timeout))
    row.timeouts += n;
  else if (r == static_cast<size_t>(outcome_kind::failed))
    row.failed += n;
}

} // namespace

void metrics::outcome(op_kind op, outcome_kind r) {
  if (!counting_)
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  auto o = static_cast<size_t>(op);
  auto k = static_cast<size_t>(r);
  ++outcomes_[o][k];
  ++window_delta_.outcomes[o][k];
  count_in_row(row_, o, k, 1);
}

void metrics::error(const std::string& kind, uint64_t n) {
  if (!counting_)
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  errors_[kind] += n;
  window_delta_.errors[kind] += n;
  row_.errors += n;
}

void metrics::push_sent() {
  if (!counting_)
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  ++pushes_sent_;
  ++window_delta_.pushes_sent;
  ++row_.pushes_sent;
}

void metrics::presence_seen(int64_t n) {
  std::lock_guard<std::mutex> guard{mtx_};
  presence_window_ = std::max(presence_window_, n);
}

void metrics::add_joined(int64_t d) {
  auto now = joined_ += d;
  auto peak = joined_peak_.load();
  while (now > peak && !joined_peak_.compare_exchange_weak(peak, now)) {
  }
}

second_row metrics::take_second(double t_s) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto row = row_;
  row_ = second_row{};
  row.t_s = t_s;
  row.users_connecting = connecting_.load();
  row.users_open = open_.load();
  row.users_joined = joined_.load();
  auto ms = [](int64_t ns) { return static_cast<double>(ns) / 1e6; };
  auto& push = window_[static_cast<size_t>(latency_kind::push)];
  if (push.count() > 0) {
    row.push_p50_ms = ms(push.value_at_quantile(0.50));
    row.push_p90_ms = ms(push.value_at_quantile(0.90));
    row.push_p99_ms = ms(push.value_at_quantile(0.99));
    row.push_max_ms = ms(push.max());
  }
  auto& join = window_[static_cast<size_t>(latency_kind::join)];
  if (join.count() > 0)
    row.join_p99_ms = ms(join.value_at_quantile(0.99));
  auto& lag = window_[static_cast<size_t>(latency_kind::lag)];
  if (lag.count() > 0)
    row.lag_p99_ms = ms(lag.value_at_quantile(0.99));
  // A second without presence events keeps the count of the last one that had some.
  if (presence_window_ >= 0)
    presence_ = presence_window_;
  presence_window_ = -1;
  row.presence = presence_;
  for (auto& h : window_)
    h.reset();
  window_delta_ = metrics_delta{};
  return row;
}

metrics_delta metrics::take_delta() {
  std::lock_guard<std::mutex> guard{mtx_};
  metrics_delta d = std::move(window_delta_);
  window_delta_ = metrics_delta{};
  d.latency = window_;
  for (auto& h : window_)
    h.reset();
  d.presence = presence_window_;
  presence_window_ = -1;
  row_ = second_row{};
  return d;
}

void metrics::merge(const metrics_delta& d) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (size_t k = 0; k < latency_kinds; ++k) {
    total_[k].merge(d.latency[k]);
    window_[k].merge(d.latency[k]);
  }
  for (size_t op = 0; op < op_kinds; ++op)
    for (size_t r = 0; r < outcome_kinds; ++r) {
      outcomes_[op][r] += d.outcomes[op][r];
      count_in_row(row_, op, r, d.outcomes[op][r]);
    }
  for (auto& [k, n] : d.errors) {
    errors_[k] += n;
    row_.errors += n;
  }
  pushes_sent_ += d.pushes_sent;
  row_.pushes_sent += d.pushes_sent;
  presence_window_ = std::max(presence_window_, d.presence);
}

void metrics::set_gauges(int64_t connecting, int64_t open, int64_t joined) {
  connecting_ = connecting;
  open_ = open;
  add_joined(joined - joined_.load());
}

metrics::totals metrics::snapshot() const {
  std::lock_guard<std::mutex> guard{mtx_};
  totals t;
  t.latency = total_;
  t.outcomes = outcomes_;
  t.errors = errors_;
  t.joined_peak = joined_peak_.load();
  t.joined_now = joined_.load();
  t.pushes_sent = pushes_sent_;
  return t;
}

} // namespace phx::fleet
