#include "run/results.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <limits>
#include <map>
#include <algorithm>
#include <regex>
#include <sstream>

#include "progress/progress.hpp"

namespace phx::fleet {

const char* const series_header =
  "t_s,users_connecting,users_open,users_joined,pushes_sent,replies_ok,replies_error,timeouts,"
  "failed,errors,push_p50_ms,push_p90_ms,push_p99_ms,push_max_ms,join_p99_ms,lag_p99_ms";

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

double ms(int64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

uint64_t sum(const std::array<uint64_t, outcome_kinds>& a) {
  uint64_t n = 0;
  for (auto x : a)
    n += x;
  return n;
}

uint64_t errors_total(const metrics::totals& t, const std::string& prefix = {}) {
  uint64_t n = 0;
  for (auto& [k, v] : t.errors)
    if (k.rfind(prefix, 0) == 0)
      n += v;
  return n;
}

std::string latency_json(const histogram& h, bool with_mean) {
  std::ostringstream os;
  os << "{\"count\":" << h.count();
  auto q = [&](double x) { return h.count() ? json_number(ms(h.value_at_quantile(x))) : "null"; };
  os << ",\"p50\":" << q(0.5) << ",\"p90\":" << q(0.9) << ",\"p99\":" << q(0.99)
     << ",\"max\":" << (h.count() ? json_number(ms(h.max())) : "null");
  if (with_mean)
    os << ",\"mean\":" << (h.count() ? json_number(h.mean() / 1e6) : "null");
  os << "}";
  return os.str();
}

std::string csv_opt(const std::optional<double>& v) {
  if (!v)
    return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", *v);
  return buf;
}

} // namespace

double threshold_value(const std::string& name, const metrics::totals& t, int64_t joined_end) {
  static const std::regex latency{
    R"(^(connect|join|push|recover|lag)_(p50|p90|p99|p999|max|mean)_ms$)"};
  std::smatch m;
  if (std::regex_match(name, m, latency)) {
    static const char* kinds[] = {"connect", "join", "push", "recover", "lag"};
    size_t k = 0;
    while (m[1] != kinds[k])
      ++k;
    auto& h = t.latency[k];
    if (h.count() == 0)
      return nan;
    auto q = m[2].str();
    if (q == "max")
      return ms(h.max());
    if (q == "mean")
      return h.mean() / 1e6;
    double p = q == "p50" ? 0.5 : q == "p90" ? 0.9 : q == "p99" ? 0.99 : 0.999;
    return ms(h.value_at_quantile(p));
  }
  uint64_t ops = 0;
  for (auto& o : t.outcomes)
    ops += sum(o);
  auto& push = t.outcomes[static_cast<size_t>(op_kind::push)];
  if (name == "error_rate") {
    auto e = errors_total(t);
    return ops == 0 ? (e > 0 ? 1.0 : nan) : static_cast<double>(e) / static_cast<double>(ops);
  }
  if (name == "push_error_rate") {
    auto n = sum(push);
    return n == 0 ? nan : static_cast<double>(errors_total(t, "push_")) / static_cast<double>(n);
  }
  if (name == "timeout_rate") {
    uint64_t to = 0;
    for (auto& o : t.outcomes)
      to += o[static_cast<size_t>(outcome_kind::timeout)];
    return ops == 0 ? nan : static_cast<double>(to) / static_cast<double>(ops);
  }
  if (name == "min_joined_peak")
    return static_cast<double>(t.joined_peak);
  if (name == "min_joined_end")
    return static_cast<double>(joined_end);
  if (name == "min_push_count")
    return static_cast<double>(push[static_cast<size_t>(outcome_kind::ok)]);
  if (name == "min_join_count")
    return static_cast<double>(
      t.outcomes[static_cast<size_t>(op_kind::join)][static_cast<size_t>(outcome_kind::ok)]);
  if (name == "user_restarts") {
    auto it = t.errors.find("user_restart");
    return it == t.errors.end() ? 0.0 : static_cast<double>(it->second);
  }
  return nan;
}

std::vector<threshold_result> evaluate(const std::vector<threshold>& ths,
                                       const metrics::totals& t, int64_t joined_end) {
  std::vector<threshold_result> out;
  for (auto& th : ths) {
    threshold_result r;
    r.name = th.name;
    r.limit = th.limit;
    r.value = threshold_value(th.name, t, joined_end);
    r.met = std::isfinite(r.value) && (th.is_min() ? r.value >= th.limit : r.value <= th.limit);
    out.push_back(r);
  }
  return out;
}

std::string iso_now() {
  auto now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string write_summary(const std::string& dir, const run_info& info,
                          const metrics::totals& t) {
  std::ostringstream os;
  os << "{\n  \"scenario\": " << json_string(info.scenario) << ",\n  \"seed\": " << info.seed
     << ",\n  \"started_at\": " << json_string(info.started_at)
     << ",\n  \"duration_s\": " << json_number(info.duration_s)
     << ",\n  \"users\": {\"target\": " << info.users_target << ", \"joined_peak\": "
     << t.joined_peak << ", \"joined_end\": " << info.joined_end << "},\n  \"latency_ms\": {";
  const latency_kind kinds[] = {latency_kind::connect, latency_kind::join, latency_kind::push,
                                latency_kind::recover};
  for (size_t i = 0; i < 4; ++i)
    os << (i ? ",\n" : "\n") << "    " << json_string(to_string(kinds[i])) << ": "
       << latency_json(t.latency[static_cast<size_t>(kinds[i])], true);
  os << "\n  },\n  \"outcomes\": {";
  for (size_t op = 0; op < op_kinds; ++op) {
    os << (op ? ",\n" : "\n") << "    " << json_string(to_string(static_cast<op_kind>(op)))
       << ": {";
    for (size_t r = 0; r < outcome_kinds; ++r)
      os << (r ? ", " : "") << json_string(to_string(static_cast<outcome_kind>(r))) << ": "
         << t.outcomes[op][r];
    os << "}";
  }
  os << "\n  },\n  \"errors\": {";
  bool first = true;
  for (auto& [k, v] : t.errors) {
    os << (first ? "\n" : ",\n") << "    " << json_string(k) << ": " << v;
    first = false;
  }
  os << (first ? "" : "\n  ") << "},\n  \"generator_lag_ms\": "
     << latency_json(t.latency[static_cast<size_t>(latency_kind::lag)], false)
     << ",\n  \"faults\": [";
  for (size_t i = 0; i < info.faults.size(); ++i) {
    auto& f = info.faults[i];
    os << (i ? ",\n" : "\n") << "    {\"at_s\": " << json_number(f.at_s)
       << ", \"kind\": " << json_string(f.kind) << ", \"detail\": " << json_string(f.detail) << "}";
  }
  os << (info.faults.empty() ? "" : "\n  ") << "],\n  \"thresholds\": [";
  for (size_t i = 0; i < info.thresholds.size(); ++i) {
    auto& th = info.thresholds[i];
    os << (i ? ",\n" : "\n") << "    {\"name\": " << json_string(th.name)
       << ", \"limit\": " << json_number(th.limit) << ", \"value\": " << json_number(th.value)
       << ", \"met\": " << (th.met ? "true" : "false") << "}";
  }
  os << (info.thresholds.empty() ? "" : "\n  ") << "],\n  \"push_histogram\": [";
  auto buckets = t.latency[static_cast<size_t>(latency_kind::push)].buckets();
  for (size_t i = 0; i < buckets.size(); ++i)
    os << (i ? "," : "") << "[" << json_number(ms(buckets[i].first)) << "," << buckets[i].second
       << "]";
  os << "],\n";
  if (info.cluster) {
    os << "  \"workers\": [";
    for (size_t i = 0; i < info.workers.size(); ++i) {
      auto& w = info.workers[i];
      auto opt = [](const std::optional<double>& v) { return v ? json_number(*v) : "null"; };
      os << (i ? ",\n" : "\n") << "    {\"id\": " << json_string(w.id)
         << ", \"host\": " << json_string(w.host) << ", \"weight\": " << json_number(w.weight)
         << ", \"users\": " << w.users << ", \"users_started\": " << w.users_started
         << ", \"joined_at\": " << json_number(w.joined_at) << ", \"lost_at\": " << opt(w.lost_at)
         << ", \"recovered_at\": " << opt(w.recovered_at) << ", \"respawned\": " << w.respawned
         << "}";
    }
    os << (info.workers.empty() ? "" : "\n  ") << "],\n  \"respawned_users\": "
       << info.respawned_users << ",\n";
  }
  os << "  \"exit_code\": " << info.exit_code << "\n}\n";
  auto path = dir + "/summary.json";
  std::ofstream out{path, std::ios::trunc};
  if (!out || !(out << os.str()) || !out.flush())
    return "cannot write " + path;
  return {};
}

std::string write_series(const std::string& dir, const std::vector<second_row>& rows) {
  auto path = dir + "/series.csv";
  std::ofstream out{path, std::ios::trunc};
  if (!out)
    return "cannot write " + path;
  out << series_header << "\n";
  for (auto& r : rows) {
    char t[32];
    std::snprintf(t, sizeof t, "%.0f", r.t_s);
    out << t << ',' << r.users_connecting << ',' << r.users_open << ',' << r.users_joined << ','
        << r.pushes_sent << ',' << r.replies_ok << ',' << r.replies_error << ',' << r.timeouts
        << ',' << r.failed << ',' << r.errors << ',' << csv_opt(r.push_p50_ms) << ','
        << csv_opt(r.push_p90_ms) << ',' << csv_opt(r.push_p99_ms) << ','
        << csv_opt(r.push_max_ms) << ',' << csv_opt(r.join_p99_ms) << ','
        << csv_opt(r.lag_p99_ms) << '\n';
  }
  if (!out.flush())
    return "cannot write " + path;
  return {};
}

std::string write_worker_series(const std::string& dir, const std::vector<worker_row>& rows) {
  // One row a second, three columns a worker (`w1_users`, `w1_joined`,
  // `w1_lag_p99_ms`, ...): series.csv's shape, so the report reads both alike.
  std::vector<std::string> ids;
  std::map<double, std::map<std::string, const worker_row*>> by_second;
  for (auto& r : rows) {
    if (std::find(ids.begin(), ids.end(), r.worker) == ids.end())
      ids.push_back(r.worker);
    by_second[r.t_s][r.worker] = &r;
  }
  auto path = dir + "/workers.csv";
  std::ofstream out{path, std::ios::trunc};
  if (!out)
    return "cannot write " + path;
  out << "t_s";
  for (auto& id : ids)
    out << ',' << id << "_users," << id << "_joined," << id << "_lag_p99_ms";
  out << "\n";
  for (auto& [t_s, workers] : by_second) {
    char t[32];
    std::snprintf(t, sizeof t, "%.0f", t_s);
    out << t;
    for (auto& id : ids) {
      auto it = workers.find(id);
      if (it == workers.end())
        out << ",,,";
      else
        out << ',' << it->second->users << ',' << it->second->joined << ','
            << csv_opt(it->second->lag_p99_ms);
    }
    out << '\n';
  }
  if (!out.flush())
    return "cannot write " + path;
  return {};
}

} // namespace phx::fleet
