#include "synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace phx::fleet::test {

namespace {

constexpr double none = std::numeric_limits<double>::quiet_NaN();

/// A row of series.csv (the engine's columns, in its order; NaN: no sample).
struct second {
  double t_s = 0, connecting = 0, open = 0, joined = 0, pushes = 0, ok = 0, error = 0,
         timeouts = 0, failed = 0, errors = 0, p50 = none, p90 = none, p99 = none, max = none,
         join_p99 = none, lag_p99 = none;
};

/// Deterministic noise in [0, 1): the same data on every machine.
double noise(double t, int k) {
  double x = std::sin(t * 12.9898 + k * 78.233) * 43758.5453;
  return x - std::floor(x);
}

std::string cell(double v) {
  if (std::isnan(v))
    return {};
  std::ostringstream out;
  out << v;
  return out.str();
}

void write_series(const std::filesystem::path& file, const std::vector<second>& rows) {
  std::ofstream out{file};
  out << "t_s,users_connecting,users_open,users_joined,pushes_sent,replies_ok,replies_error,"
         "timeouts,failed,errors,push_p50_ms,push_p90_ms,push_p99_ms,push_max_ms,join_p99_ms,"
         "lag_p99_ms\n";
  for (auto& r : rows) {
    const double cells[] = {r.t_s,     r.connecting, r.open, r.joined, r.pushes, r.ok,
                            r.error,   r.timeouts,   r.failed, r.errors, r.p50,  r.p90,
                            r.p99,     r.max,        r.join_p99, r.lag_p99};
    for (size_t i = 0; i < std::size(cells); ++i)
      out << (i ? "," : "") << cell(cells[i]);
    out << '\n';
  }
}

/// Pushes answered at a steady latency, with a little noise.
void steady_pushes(second& s, double per_user) {
  const double t = s.t_s;
  s.pushes = std::round(s.joined * per_user);
  s.error = s.pushes > 0 && noise(t, 1) > 0.8 ? std::floor(1 + 3 * noise(t, 2)) : 0;
  s.ok = s.pushes - s.error;
  if (s.pushes > 0) {
    s.p50 = 1.8 + 0.3 * noise(t, 3);
    s.p90 = 3.5 + 0.8 * noise(t, 4);
    s.p99 = 7.5 + 3.0 * noise(t, 5);
    s.max = 15 + 25 * noise(t, 6);
  }
  s.errors = s.error;
  s.lag_p99 = 0.4 + 0.6 * noise(t, 7);
}

/// A sparse log-bucketed histogram (buckets 1 % wide): a log-normal body
/// around 2 ms and the slow replies of a recovery around 300 ms.
std::string push_histogram(double total, double slow) {
  std::ostringstream out;
  out << '[';
  bool first = true;
  const double width = std::log(1.01);
  for (double upper = 0.5; upper < 1000; upper *= 1.01) {
    const double x = std::log(upper);
    auto density = [&](double median, double sigma) {
      const double z = (x - std::log(median)) / sigma;
      return std::exp(-0.5 * z * z) / (sigma * std::sqrt(2 * M_PI)) * width;
    };
    const double count = std::round(total * density(2.0, 0.45) + slow * density(300, 0.6));
    if (count <= 0)
      continue;
    out << (first ? "" : ",") << '[' << std::round(upper * 1000) / 1000 << ',' << count << ']';
    first = false;
  }
  out << ']';
  return out.str();
}

struct totals {
  double pushes = 0, ok = 0, error = 0, timeouts = 0, failed = 0, errors = 0, peak = 0, end = 0;
};

totals sum(const std::vector<second>& rows) {
  totals t;
  for (auto& r : rows) {
    t.pushes += r.pushes;
    t.ok += r.ok;
    t.error += r.error;
    t.timeouts += r.timeouts;
    t.failed += r.failed;
    t.errors += r.errors;
    t.peak = std::max(t.peak, r.joined);
  }
  if (!rows.empty())
    t.end = rows.back().joined;
  return t;
}

void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out{file};
  out << text;
  if (!out)
    throw std::runtime_error("cannot write " + file.string());
}

// -- the runs ------------------------------------------------------------------

/// A chat room of 500 users pushing once a second; phx-server killed at 60 s
/// (every socket drops and comes back), 50 users dropped at 90 s.
void full(const std::filesystem::path& dir) {
  std::vector<second> rows;
  for (int t = 1; t <= 120; ++t) {
    second s;
    s.t_s = t;
    if (t <= 20) {
      s.connecting = 25;
      s.open = 25 * t;
      s.joined = 25 * (t - 1);
      s.join_p99 = 25 + 10 * noise(t, 8);
    } else if (t == 61 || t == 62) {
      s.connecting = t == 62 ? 500 : 0;
    } else if (t == 63) {
      s.connecting = 200, s.open = 300, s.joined = 120, s.join_p99 = 340;
    } else if (t == 64) {
      s.open = 500, s.joined = 430, s.join_p99 = 260;
    } else if (t == 91) {
      s.connecting = 50, s.open = 450, s.joined = 450;
    } else if (t == 92) {
      s.open = 500, s.joined = 480, s.join_p99 = 31;
    } else {
      s.open = 500, s.joined = 500;
    }
    steady_pushes(s, 1.0);
    if (t == 61) {
      // In flight when the server died: timed out; every socket closed 1006.
      s.timeouts = 480, s.errors = 500 + 480;
    } else if (t == 62) {
      s.failed = 20, s.errors = 500 + 20; // 500 refused connects, 20 pushes on no channel
      s.lag_p99 = 3.5;
    } else if (t >= 63 && t <= 66) {
      const double decay = std::pow(0.35, t - 63);
      s.p50 = 2 + 40 * decay, s.p90 = 4 + 180 * decay, s.p99 = 9 + 420 * decay, s.max = 20 + 900 * decay;
      s.lag_p99 = t == 63 ? 6.2 : t == 64 ? 2.1 : s.lag_p99;
    }
    rows.push_back(s);
  }
  write_series(dir / "series.csv", rows);
  const auto sums = sum(rows);
  const double error_rate = (sums.error + sums.timeouts + sums.failed) / sums.pushes;
  std::ostringstream js;
  js << R"({"scenario":"chat-room","seed":42,"started_at":"2026-12-06T03:00:00Z","duration_s":120,)"
     << R"("users":{"target":500,"joined_peak":)" << sums.peak << R"(,"joined_end":)" << sums.end << "},"
     << R"("latency_ms":{)"
     << R"("connect":{"count":1550,"p50":3.1,"p90":6.0,"p99":14.2,"max":96.5,"mean":3.9},)"
     << R"("join":{"count":1050,"p50":12.4,"p90":24.8,"p99":340.1,"max":410.0,"mean":16.2},)"
     << R"("push":{"count":)" << sums.ok << R"(,"p50":2.02,"p90":4.1,"p99":9.4,"max":912.3,"mean":2.6},)"
     << R"("recover":{"count":500,"p50":3105,"p90":3890,"p99":4210,"max":4402,"mean":3240}},)"
     << R"("outcomes":{"connect":{"ok":1050,"error":500,"timeout":0,"failed":0},)"
     << R"("join":{"ok":1050,"error":0,"timeout":0,"failed":0},)"
     << R"("push":{"ok":)" << sums.ok << R"(,"error":)" << sums.error << R"(,"timeout":)" << sums.timeouts
     << R"(,"failed":)" << sums.failed << "}},"
     << R"("errors":{"close 1006":550,"connect ECONNREFUSED":500,"push timeout":480,)"
     << R"("reply error":)" << sums.error << R"(,"push on no channel":20},)"
     << R"("generator_lag_ms":{"count":)" << sums.pushes + 1550
     << R"(,"p50":0.21,"p90":0.48,"p99":0.97,"max":6.2},)"
     << R"("faults":[{"at_s":60,"kind":"kill_all","detail":"POST /admin/kill_all on 127.0.0.1:4000"},)"
     << R"({"at_s":90,"kind":"disconnect","detail":"50 users dropped by /admin/disconnect"}],)"
     << R"("thresholds":[{"name":"push_p99_ms","limit":50,"value":9.4,"met":true},)"
     << R"({"name":"join_p99_ms","limit":200,"value":340.1,"met":false},)"
     << R"({"name":"error_rate","limit":0.001,"value":)" << error_rate << R"(,"met":false}],)"
     << R"("push_histogram":)" << push_histogram(sums.ok - 600, 600) << ","
     << R"("exit_code":1})";
  write_text(dir / "summary.json", js.str());
}

/// 200 users join a room and stay; nobody pushes; 5 joins are refused.
void nopush(const std::filesystem::path& dir) {
  std::vector<second> rows;
  for (int t = 1; t <= 30; ++t) {
    second s;
    s.t_s = t;
    s.connecting = t <= 10 ? 20 : 0;
    s.open = std::min(200, 20 * t);
    s.joined = std::min(195, std::max(0, 20 * (t - 1) - (t >= 4 ? 5 : 0)));
    if (t <= 11)
      s.join_p99 = 20 + 15 * noise(t, 1);
    s.errors = t >= 3 && t <= 5 ? (t == 4 ? 3 : 1) : 0;
    s.lag_p99 = 0.3 + 0.4 * noise(t, 2);
    rows.push_back(s);
  }
  write_series(dir / "series.csv", rows);
  write_text(dir / "summary.json",
             R"({"scenario":"presence-only","seed":3,"started_at":"2026-12-06T03:10:00Z","duration_s":30,)"
             R"("users":{"target":200,"joined_peak":195,"joined_end":195},)"
             R"("latency_ms":{"connect":{"count":200,"p50":2.9,"p90":5.2,"p99":11.0,"max":15.1,"mean":3.4},)"
             R"("join":{"count":200,"p50":9.8,"p90":18.0,"p99":34.5,"max":41.0,"mean":11.2}},)"
             R"("outcomes":{"connect":{"ok":200,"error":0,"timeout":0,"failed":0},)"
             R"("join":{"ok":195,"error":5,"timeout":0,"failed":0}},)"
             R"("errors":{"join refused: unauthorized":5},)"
             R"("generator_lag_ms":{"count":400,"p50":0.1,"p90":0.3,"p99":0.6,"max":0.9},)"
             R"("faults":[],"thresholds":[{"name":"join_p99_ms","limit":200,"value":34.5,"met":true}],)"
             R"("push_histogram":[],"exit_code":0})");
}

/// Aborted before its first second: every section empty.
void empty(const std::filesystem::path& dir) {
  write_series(dir / "series.csv", {});
  write_text(dir / "summary.json",
             R"({"scenario":"reconnect-storm","seed":7,"started_at":"2026-12-06T03:20:00Z","duration_s":0,)"
             R"("users":{"target":1000,"joined_peak":0,"joined_end":0},"latency_ms":{},"outcomes":{},)"
             R"("errors":{},"generator_lag_ms":{"count":0,"p50":null,"p90":null,"p99":null,"max":null},)"
             R"("faults":[],"thresholds":[],"push_histogram":[],"exit_code":3})");
}

/// Part 2: three workers of 300 users; the second is lost at 25 s and its
/// users respawned on the others. An error kind holds "</script><!--".
void workers(const std::filesystem::path& dir) {
  std::vector<second> rows;
  for (int t = 1; t <= 40; ++t) {
    second s;
    s.t_s = t;
    s.connecting = t <= 9 ? 100 : t == 26 || t == 27 ? 150 : 0;
    s.open = t <= 9 ? 100 * t : t == 26 ? 600 : t == 27 ? 750 : 900;
    s.joined = t <= 9 ? 100 * (t - 1) : t == 26 ? 600 : t == 27 ? 700 : 900;
    if (t <= 10 || (t >= 26 && t <= 28))
      s.join_p99 = 30 + 20 * noise(t, 9);
    steady_pushes(s, 0.5);
    if (t == 26)
      s.timeouts = 150, s.errors += 153;
    rows.push_back(s);
  }
  write_series(dir / "series.csv", rows);
  const auto sums = sum(rows);
  std::ostringstream js;
  js << R"({"scenario":"fan-in on three workers","seed":11,"started_at":"2026-12-06T03:30:00Z",)"
     << R"("duration_s":40,"users":{"target":900,"joined_peak":)" << sums.peak
     << R"(,"joined_end":)" << sums.end << "},"
     << R"("latency_ms":{"push":{"count":)" << sums.ok
     << R"(,"p50":1.9,"p90":3.9,"p99":9.9,"max":38.0,"mean":2.3},)"
     << R"("recover":{"count":300,"p50":1200,"p90":1900,"p99":2300,"max":2450,"mean":1300}},)"
     << R"("outcomes":{"push":{"ok":)" << sums.ok << R"(,"error":)" << sums.error
     << R"(,"timeout":150,"failed":0}},)"
     << R"("errors":{"worker lost":1,"close 1011 </script><!-- injected":3,"push timeout":150},)"
     << R"("generator_lag_ms":{"count":)" << sums.pushes << R"(,"p50":0.2,"p90":0.5,"p99":0.9,"max":1.4},)"
     << R"("faults":[],"thresholds":[{"name":"push_p99_ms","limit":50,"value":9.9,"met":true}],)"
     << R"("push_histogram":)" << push_histogram(sums.ok, 0) << ","
     << R"("workers":[{"id":"w1","host":"10.0.0.11","users":450,"lost_at":null},)"
     << R"({"id":"w2","host":"10.0.0.12","users":300,"lost_at":25,"recovered_at":27,"respawned":300},)"
     << R"({"id":"w3","host":"10.0.0.13","users":450,"lost_at":null}],)"
     << R"("respawned_users":300,"exit_code":0})";
  write_text(dir / "summary.json", js.str());
  // workers.csv: users per worker (w2's re-spawned on w1 and w3 over 2 s) and their lag.
  std::ostringstream wc;
  wc << "t_s,w1_users,w1_joined,w1_lag_p99_ms,w2_users,w2_joined,w2_lag_p99_ms,w3_users,w3_joined,"
        "w3_lag_p99_ms\n";
  for (int t = 1; t <= 40; ++t) {
    const int base = t <= 9 ? 33 * t : 300;
    const int extra = t <= 25 ? 0 : t == 26 ? 75 : 150;
    wc << t << ',' << base + extra << ',' << base + extra << ',' << 0.4 + 0.3 * noise(t, 3) << ',';
    if (t < 25)
      wc << base << ',' << base << ',' << 0.5 + 0.3 * noise(t, 5) << ',';
    else
      wc << ",,,";
    wc << base + extra << ',' << base + extra << ',' << 0.3 + 0.3 * noise(t, 7) << "\n";
  }
  write_text(dir / "workers.csv", wc.str());
}

} // namespace

void write_run(const std::string& dir, run which) {
  const std::filesystem::path path{dir};
  std::filesystem::create_directories(path);
  switch (which) {
    case run::full: return full(path);
    case run::nopush: return nopush(path);
    case run::empty: return empty(path);
    case run::workers: return workers(path);
  }
}

} // namespace phx::fleet::test
