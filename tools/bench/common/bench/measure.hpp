#pragma once

// What every C++ benchmark client measures and how it reports: CPU time of
// its own process (getrusage), RSS and thread count (/proc/self/status),
// latency percentiles, bounded waits for other threads, the echo measurement
// with its warm-up, a tiny command line reader that refuses unknown options,
// a blocking loopback HTTP GET for the server's admin endpoints, and one JSON
// line of results.
// Header-only and free of phx, CAF and websocketpp: the bare client uses it too.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace phx::bench {

// -- clocks and process counters -------------------------------------------------

/// Monotonic seconds since an arbitrary origin.
inline double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

/// User + system CPU seconds of this whole process (all its threads).
inline double cpu_s() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

/// One numeric field of /proc/self/status (e.g. "VmRSS" in KiB, "Threads").
inline long proc_status(const char* field) {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  auto len = std::strlen(field);
  while (std::getline(in, line))
    if (line.compare(0, len, field) == 0 && line.size() > len && line[len] == ':')
      return std::strtol(line.c_str() + len + 1, nullptr, 10);
  return -1;
}

/// Resident set size of this process in KiB.
inline long rss_kib() {
  return proc_status("VmRSS");
}

/// The largest resident set size this process has had, in KiB.
inline long peak_rss_kib() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/// Threads of this process.
inline long threads() {
  return proc_status("Threads");
}

/// Raises the soft open-file limit to the hard limit (10,000 sockets need it).
inline void raise_nofile_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// -- statistics ------------------------------------------------------------------

/// The q-quantile (0..1) of `xs` by nearest rank; sorts `xs`. 0 for none.
inline double quantile(std::vector<double>& xs, double q) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto rank = static_cast<size_t>(std::ceil(q * double(xs.size())));
  return xs[std::min(xs.size() - 1, rank == 0 ? 0 : rank - 1)];
}

/// The largest number of timestamps (seconds) inside any window of `width`
/// seconds: a sliding "per second" peak, stricter than aligned buckets.
inline size_t peak_in_window(std::vector<double> ts, double width = 1.0) {
  std::sort(ts.begin(), ts.end());
  size_t best = 0;
  size_t lo = 0;
  for (size_t hi = 0; hi < ts.size(); ++hi) {
    while (ts[hi] - ts[lo] >= width)
      ++lo;
    best = std::max(best, hi - lo + 1);
  }
  return best;
}

/// The largest number of timestamps in one whole second counted from
/// `origin` ([origin, origin+1), [origin+1, origin+2), ...): "no second in
/// which more than ..." as a server's per-second counter would see it.
inline size_t peak_per_second(const std::vector<double>& ts, double origin) {
  std::map<long, size_t> buckets;
  size_t best = 0;
  for (auto t : ts)
    best = std::max(best, ++buckets[static_cast<long>(std::floor(t - origin))]);
  return best;
}

// -- waiting ----------------------------------------------------------------------

/// Waits up to `seconds` for `f` and returns its value; throws naming `what`
/// when it does not come (every wait of a benchmark is bounded).
template <class Future>
auto wait(Future& f, long seconds, const char* what) {
  if (f.wait_for(std::chrono::seconds(seconds)) != std::future_status::ready)
    throw std::runtime_error(std::string{"timed out waiting for "} + what);
  return f.get();
}

/// Sets a promise once, from whichever thread gets there first.
class once_signal {
public:
  void fire() {
    if (!fired_.exchange(true))
      done_.set_value();
  }

  /// Waits up to `seconds`; throws naming `what` when it was not fired.
  void wait_for(long seconds, const char* what) {
    wait(future_, seconds, what);
  }

  /// True once fired; waits up to `ms`.
  bool wait_for_ms(long ms) {
    return future_.wait_for(std::chrono::milliseconds(ms)) == std::future_status::ready;
  }

private:
  std::atomic<bool> fired_{false};
  std::promise<void> done_;
  std::shared_future<void> future_ = done_.get_future().share();
};

// -- command line ------------------------------------------------------------------

/// A command line the client cannot run: printed, then the exit code is
/// `usage_exit_code` (a run that failed exits 1).
class usage_error : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

/// The exit code of a wrong command line (unknown option, bad value).
constexpr int usage_exit_code = 2;

/// `--name value` pairs; every option of a benchmark client has a value.
class args {
public:
  args(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string key = argv[i];
      if (key.rfind("--", 0) != 0 || i + 1 >= argc)
        throw usage_error("expected --name value pairs, got '" + key + "'");
      values_[key.substr(2)] = argv[++i];
    }
  }

  /// Refuses every option not in `known` (names without "--"): an option a
  /// client would silently ignore makes its figures mean something else.
  void allow(const std::vector<std::string>& known, const std::string& context) const {
    for (auto& [name, value] : values_) {
      if (std::find(known.begin(), known.end(), name) != known.end())
        continue;
      std::string list;
      for (auto& k : known)
        list += (list.empty() ? "--" : ", --") + k;
      throw usage_error("unknown option --" + name + " for " + context + " (known: " + list + ")");
    }
  }

  /// A text option, or `fallback`; throws if required and missing.
  std::string text(const std::string& name, const char* fallback = nullptr) const {
    auto i = values_.find(name);
    if (i != values_.end())
      return i->second;
    if (fallback == nullptr)
      throw usage_error("missing option --" + name);
    return fallback;
  }

  /// A non-negative integer option, or `fallback`; throws on bad input.
  long number(const std::string& name, long fallback) const {
    auto i = values_.find(name);
    if (i == values_.end())
      return fallback;
    char* end = nullptr;
    auto v = std::strtol(i->second.c_str(), &end, 10);
    if (end == i->second.c_str() || *end != '\0' || v < 0)
      throw usage_error("--" + name + " wants a non-negative integer, got '" + i->second + "'");
    return v;
  }

private:
  std::map<std::string, std::string> values_;
};

// -- loopback HTTP ---------------------------------------------------------------

/// `host:port` of a `ws://host:port/...` URL (loopback only: the bench never
/// talks to anything else).
inline std::pair<std::string, uint16_t> host_port(const std::string& url) {
  auto start = url.find("://");
  if (start == std::string::npos)
    throw std::invalid_argument("not a URL: " + url);
  start += 3;
  auto slash = url.find('/', start);
  auto hp = url.substr(start, slash - start);
  auto colon = hp.rfind(':');
  if (colon == std::string::npos)
    throw std::invalid_argument("URL without a port: " + url);
  return {hp.substr(0, colon), static_cast<uint16_t>(std::stoi(hp.substr(colon + 1)))};
}

/// A blocking `GET path` to the phx-server of `url` (its admin endpoints),
/// bounded by `timeout_ms`; returns the HTTP status, throws on failure.
inline int http_get(const std::string& url, const std::string& path, int timeout_ms = 5000) {
  auto [host, port] = host_port(url);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error(std::string{"socket: "} + std::strerror(errno));
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } guard{fd};
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    throw std::invalid_argument("the bench talks to IPv4 loopback only, not " + host);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    throw std::runtime_error("GET " + path + ": connect: " + std::strerror(errno));
  auto req = "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
    throw std::runtime_error("GET " + path + ": send failed");
  std::string raw;
  char buf[2048];
  for (int i = 0; i < 1000; ++i) {
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    raw.append(buf, static_cast<size_t>(n));
  }
  if (raw.rfind("HTTP/", 0) != 0 || raw.find(' ') == std::string::npos)
    throw std::runtime_error("GET " + path + ": no HTTP response");
  return std::atoi(raw.c_str() + raw.find(' ') + 1);
}

// -- the report line ---------------------------------------------------------------

/// One flat JSON object of results, printed as a single line on stdout (the
/// harness reads the last line that starts with '{').
class report {
public:
  /// Adds a text field.
  report& add(const std::string& key, const std::string& value) {
    fields_.emplace_back(key, "\"" + value + "\"");
    return *this;
  }

  /// Adds a number (non-finite numbers become null).
  report& add(const std::string& key, double value) {
    if (!std::isfinite(value)) {
      fields_.emplace_back(key, "null");
      return *this;
    }
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.6g", value);
    fields_.emplace_back(key, buf);
    return *this;
  }

  /// Prints the line and flushes.
  void print() const {
    std::string out = "{";
    for (size_t i = 0; i < fields_.size(); ++i) {
      if (i > 0)
        out += ",";
      out += "\"" + fields_[i].first + "\":" + fields_[i].second;
    }
    out += "}\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  }

private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// -- the echo measurement ------------------------------------------------------------

/// The echo workload's measurement, the same for every C++ client: `window`
/// pushes in flight (each reply sends the next push), the first `warmup` round
/// trips unmeasured (clock, CPU and latencies start at the warmup-th reply),
/// then `total - warmup` measured. Not thread-safe: the client serializes
/// calls (one io thread, or its own lock).
struct echo_run {
  uint64_t warmup = 0;
  uint64_t total = 0;
  uint64_t window = 100;
  /// Optional: a count of work the client's runtime did (phx: actor
  /// activations), read where the measured part starts and ends.
  std::function<uint64_t()> jobs;
  std::vector<double> sent_at;
  std::vector<double> latencies;
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t errors = 0;
  double t0 = 0;
  double c0 = 0;
  double t1 = 0;
  double c1 = 0;
  uint64_t j0 = 0;
  uint64_t j1 = 0;
  once_signal done;

  /// Sizes the run: `count` measured round trips after `warmup` others.
  echo_run(uint64_t warmup_round_trips, uint64_t count, uint64_t in_flight)
    : warmup(warmup_round_trips), total(warmup_round_trips + count), window(in_flight) {
    if (count == 0 || window == 0)
      throw usage_error("--count and --window must be positive");
    sent_at.reserve(total);
    latencies.reserve(count);
  }

  /// Records a reply to push `idx`; true if another push should go out.
  bool on_reply(uint64_t idx, bool ok) {
    if (!ok)
      ++errors;
    if (received >= warmup)
      latencies.push_back((now_s() - sent_at[idx]) * 1000);
    if (++received == warmup)
      start_clock();
    if (received == total) {
      t1 = now_s();
      c1 = cpu_s();
      j1 = jobs ? jobs() : 0;
      done.fire();
      return false;
    }
    return sent < total;
  }

  /// Call before the first push: starts the clock now when there is no warmup.
  void begin() {
    if (warmup == 0)
      start_clock();
  }

  /// The index of the next push.
  uint64_t next() {
    sent_at.push_back(now_s());
    return sent++;
  }

  /// The measured round trips' figures.
  void write(report& out) const {
    auto n = double(received - warmup);
    out.add("round_trips", n).add("warmup", double(warmup)).add("errors", double(errors))
      .add("wall_s", t1 - t0).add("cpu_s", c1 - c0)
      .add("rt_per_s", n / (t1 - t0)).add("cpu_s_per_100k", (c1 - c0) / n * 1e5);
    auto lat = latencies;
    out.add("p50_ms", quantile(lat, 0.5)).add("p99_ms", quantile(lat, 0.99))
      .add("peak_rss_kib", double(peak_rss_kib()));
    if (jobs)
      out.add("actor_jobs_per_round_trip", double(j1 - j0) / n);
  }

private:
  void start_clock() {
    t0 = now_s();
    c0 = cpu_s();
    j0 = jobs ? jobs() : 0;
  }
};

} // namespace phx::bench
