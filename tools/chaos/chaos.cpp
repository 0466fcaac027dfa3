#include "chaos.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "phx/phx.hpp"
#include "phx_test/server_process.hpp"

namespace phx_chaos {

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// A sanitizer's allocator keeps freed memory in quarantine and counts nothing
// in mallinfo2: there, memory figures are reported but not judged.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool memory_bounds = false;
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool memory_bounds = false;
#  else
constexpr bool memory_bounds = true;
#  endif
#else
constexpr bool memory_bounds = true;
#endif

// Set by SIGINT or SIGTERM: end the run early but cleanly (the phx-server
// child is stopped and the report printed). A second signal kills at once.
volatile sig_atomic_t stop_requested = 0;

extern "C" void on_stop_signal(int sig) {
  stop_requested = 1;
  ::signal(sig, SIG_DFL);
}

uint64_t heap_kib() {
  return mallinfo2().uordblks / 1024;
}

uint64_t rss_kib() {
  std::ifstream in{"/proc/self/statm"};
  uint64_t total = 0;
  uint64_t resident = 0;
  in >> total >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) / 1024;
}

bool parse_number(const char* text, uint64_t max, uint64_t& out) {
  if (text == nullptr || *text == '\0')
    return false;
  uint64_t value = 0;
  for (auto p = text; *p != '\0'; ++p) {
    if (*p < '0' || *p > '9')
      return false;
    value = value * 10 + static_cast<uint64_t>(*p - '0');
    if (value > max)
      return false;
  }
  out = value;
  return true;
}

// -- the run --------------------------------------------------------------------------

/// One channel the run drives. Lives until the end of the run: the callbacks
/// of its pushes point at it. Its channel handle goes once it is retired
/// (kicked) and idle, so that its actor can go.
struct slot {
  size_t socket = 0;
  std::string topic;
  std::optional<phx::channel> channel;
  std::atomic<uint32_t> in_flight{0};
  std::atomic<uint64_t> joins{0};
  bool kick_sent = false; // guarded by the runner's mutex
  bool retired = false;   // guarded by the runner's mutex
};

/// Counters written by callbacks (actor threads) and read by the runner.
struct counters {
  std::atomic<uint64_t> pushes{0};
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> error{0};
  std::atomic<uint64_t> timeout{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> duplicated{0};
  std::atomic<uint64_t> warnings{0};
  std::atomic<uint64_t> kicked{0};
};

/// What one settle found.
struct snapshot {
  uint64_t actors = 0;
  uint64_t pending = 0;
  uint64_t buffered = 0;
  uint64_t rss_kib = 0;
  uint64_t heap_kib = 0;
};

const char* const fault_kinds[] = {"disconnect_all", "kill_all", "disconnect_user", "stall",
                                   "crash",          "kick",     "restart"};
// Relative weights of the kinds above.
const unsigned fault_weights[] = {3, 3, 1, 2, 3, 1, 1};

class runner {
public:
  runner(const chaos_options& opts, std::ostream& out)
    : opts_(opts),
      out_(out),
      fault_rng_(opts.seed),
      push_rng_(opts.seed ^ 0x9e3779b97f4a7c15ull),
      server_({"--log-level", "error"}) {
    phx::add_message_types(cfg_);
    sys_.emplace(cfg_);
    for (uint32_t i = 0; i < opts_.sockets; ++i)
      add_socket(i);
    std::lock_guard<std::mutex> guard{mtx_};
    for (uint32_t i = 0; i < opts_.sockets; ++i)
      for (uint32_t j = 0; j < opts_.channels; ++j)
        add_slot(i);
  }

  ~runner() {
    stop_driver();
    // Sockets first (their actors end every pending push), then the system.
    for (auto& s : sockets_)
      s.disconnect_and_wait();
    {
      std::lock_guard<std::mutex> guard{mtx_};
      for (auto& s : slots_)
        s->channel.reset();
    }
    sockets_.clear();
    sys_.reset();
  }

  chaos_report run() {
    out_ << "phx-chaos: " << opts_.sockets << " sockets x " << opts_.channels
         << " channels on " << server_.url() << ", " << opts_.seconds << " s, seed "
         << opts_.seed << std::endl;
    if (!settle()) {
      report_.failures.push_back("the channels did not join at the start");
      return finish(snapshot{});
    }
    driver_ = std::thread{[this] { drive(); }};
    auto load_left = std::chrono::milliseconds{uint64_t{opts_.seconds} * 1000};
    snapshot first;
    snapshot last;
    while (load_left.count() > 0 && !stop_requested) {
      ++report_.cycles;
      auto length = std::min<std::chrono::milliseconds>(
        load_left, std::chrono::milliseconds{uint64_t{opts_.cycle_seconds} * 1000});
      load_left -= length;
      auto started = steady::now();
      pushing_ = true;
      inject_faults_until(started + length);
      pushing_ = false;
      auto settle_start = steady::now();
      bool settled = settle();
      auto settle_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         steady::now() - settle_start)
                         .count();
      last = measure();
      if (report_.cycles == 1)
        first = last;
      print_cycle(last, settle_ms, settled);
      if (!settled) {
        report_.settled = false;
        break;
      }
    }
    report_.interrupted = stop_requested != 0;
    report_.actors_after_cycle1 = first.actors;
    report_.rss_after_cycle1_kib = first.rss_kib;
    report_.heap_after_cycle1_kib = first.heap_kib;
    return finish(last);
  }

private:
  // -- setup --------------------------------------------------------------------------

  void add_socket(uint32_t index) {
    phx::socket::options opts;
    opts.params = phx::object({{"user", "chaos" + std::to_string(index)}});
    // Fast, jittered steps: many recoveries per cycle, not in lockstep.
    opts.reconnect_after_ms = [](uint32_t tries) { return std::min(50u * tries, 500u); };
    opts.rejoin_after_ms = [](uint32_t tries) { return std::min(50u * tries, 500u); };
    opts.reconnect_jitter_ms = 100;
    opts.rejoin_jitter_ms = 100;
    // Short heartbeats: a stalled server is noticed within seconds.
    opts.heartbeat_interval_ms = 1000;
    opts.timeout = 2000;
    opts.log_level = phx::log_level::warning;
    opts.logger = [c = &counters_, verbose = opts_.verbose](
                    phx::log_level, std::string_view component, std::string_view text) {
      ++c->warnings;
      if (verbose)
        std::cerr << "[" << component << "] " << text << "\n";
    };
    phx::socket sock{*sys_, server_.url(), std::move(opts)};
    opens_.push_back(std::make_unique<std::atomic<uint64_t>>(0));
    sock.on_open([n = opens_.back().get()] { ++*n; });
    sock.connect();
    sockets_.push_back(std::move(sock));
  }

  // Call with mtx_ held.
  void add_slot(size_t socket) {
    auto s = std::make_unique<slot>();
    s->socket = socket;
    s->topic = "room:chaos-" + std::to_string(socket) + "-" + std::to_string(next_topic_++);
    s->channel = sockets_[socket].channel(s->topic);
    s->channel->join().receive("ok", [p = s.get()](const phx::payload&) { ++p->joins; });
    slots_.push_back(std::move(s));
  }

  // -- pushes ---------------------------------------------------------------------------

  // Call with mtx_ held: the slot's channel is not released meanwhile.
  void issue(slot& s, const std::string& event, phx::payload body,
             std::chrono::milliseconds timeout) {
    auto once = std::make_shared<std::atomic<int>>(0);
    ++s.in_flight;
    ++counters_.pushes;
    auto on = [this, &s, once](std::atomic<uint64_t>& counter) {
      return [this, &s, once, &counter](const phx::payload&) {
        if (once->fetch_add(1) == 0) {
          ++counter;
          --s.in_flight;
          ++counters_.completed;
        } else {
          ++counters_.duplicated;
        }
      };
    };
    s.channel->push(event, std::move(body), timeout)
      .receive("ok", on(counters_.ok))
      .receive("error", on(counters_.error))
      .receive("timeout", on(counters_.timeout))
      .receive("failed", on(counters_.failed));
  }

  void drive() {
    constexpr auto tick = 5ms;
    double budget = 0;
    size_t next = 0;
    uint64_t n = 0;
    while (!quit_) {
      auto wake = steady::now() + tick;
      {
        std::lock_guard<std::mutex> guard{mtx_};
        maintain();
        if (pushing_) {
          budget += opts_.rate * std::chrono::duration<double>(tick).count();
          // One pass over the slots at most: a full channel is skipped.
          for (size_t seen = 0; budget >= 1 && seen < slots_.size(); ++seen) {
            auto& s = *slots_[next++ % slots_.size()];
            if (s.retired || s.in_flight >= opts_.in_flight)
              continue;
            auto kind = push_rng_() % 100;
            auto body = phx::object({{"n", static_cast<long long>(++n)}});
            if (kind < 80)
              issue(s, "echo", body, 2000ms);
            else if (kind < 95)
              issue(s, "noreply", body, std::chrono::milliseconds{100 + push_rng_() % 300});
            else
              issue(s, "echo_error", body, 2000ms);
            budget -= 1;
          }
          budget = std::min(budget, static_cast<double>(opts_.rate)); // no burst after a stall
        } else {
          budget = 0;
        }
      }
      std::this_thread::sleep_until(wake);
    }
  }

  void stop_driver() {
    quit_ = true;
    if (driver_.joinable())
      driver_.join();
  }

  // Call with mtx_ held: replaces kicked channels, releases idle retired ones.
  void maintain() {
    auto count = slots_.size();
    for (size_t i = 0; i < count; ++i) {
      auto& s = *slots_[i];
      if (s.retired) {
        if (s.channel && s.in_flight == 0)
          s.channel.reset();
        continue;
      }
      if (s.kick_sent && s.channel->state() == phx::channel_state::closed) {
        s.retired = true;
        ++counters_.kicked;
        add_slot(s.socket);
      }
    }
  }

  // -- faults ---------------------------------------------------------------------------

  void inject_faults_until(steady::time_point end) {
    std::discrete_distribution<size_t> pick{std::begin(fault_weights), std::end(fault_weights)};
    for (;;) {
      auto next = steady::now() + std::chrono::milliseconds{200 + fault_rng_() % 1000};
      if (!sleep_until(std::min(next, end)) || next >= end)
        return;
      if (!opts_.no_faults)
        inject(fault_kinds[pick(fault_rng_)]);
    }
  }

  // Sleeps until `t` in short steps; false if a stop was requested meanwhile.
  static bool sleep_until(steady::time_point t) {
    while (!stop_requested) {
      auto now = steady::now();
      if (now >= t)
        return true;
      std::this_thread::sleep_for(std::min<steady::duration>(t - now, 100ms));
    }
    return false;
  }

  void inject(const std::string& kind) {
    std::string detail;
    try {
      if (kind == "disconnect_all" || kind == "kill_all") {
        server_.admin("/admin/" + kind);
      } else if (kind == "disconnect_user") {
        auto user = "chaos" + std::to_string(fault_rng_() % opts_.sockets);
        server_.admin("/admin/disconnect?user=" + user);
        detail = user;
      } else if (kind == "stall") {
        auto ms = std::to_string(200 + fault_rng_() % 1800);
        server_.admin("/admin/stall?ms=" + ms);
        detail = ms + " ms";
      } else if (kind == "crash" || kind == "kick") {
        std::lock_guard<std::mutex> guard{mtx_};
        std::vector<slot*> candidates;
        for (auto& s : slots_)
          if (!s->retired && !s->kick_sent
              && s->channel->state() == phx::channel_state::joined)
            candidates.push_back(s.get());
        if (candidates.empty()) {
          detail = "no joined channel";
        } else {
          auto& s = *candidates[fault_rng_() % candidates.size()];
          if (kind == "kick")
            s.kick_sent = true;
          issue(s, kind, phx::payload{}, 2000ms);
          detail = s.topic;
        }
      } else if (kind == "restart") {
        restart_server();
      }
    } catch (const std::exception& e) {
      ++report_.fault_errors;
      detail = std::string{"failed: "} + e.what();
    }
    ++report_.faults;
    ++report_.faults_by_kind[kind];
    if (opts_.verbose)
      out_ << "  fault " << kind << (detail.empty() ? "" : " " + detail) << std::endl;
  }

  // SIGKILL and start again on the same port; a few tries, since the port
  // may be busy for a moment. Throws the last error if all fail.
  void restart_server() {
    for (int attempt = 1;; ++attempt) {
      try {
        server_.restart();
        return;
      } catch (const std::exception&) {
        if (attempt == 5)
          throw;
        std::this_thread::sleep_for(200ms);
      }
    }
  }

  // -- settle and measure ----------------------------------------------------------------

  // Waits (bounded) until every push has its outcome, every socket is open and
  // every channel that was not kicked is joined.
  bool settle() {
    auto deadline = steady::now() + std::chrono::seconds{opts_.settle_seconds};
    for (;;) {
      {
        std::lock_guard<std::mutex> guard{mtx_};
        maintain();
        if (quiet())
          return true;
      }
      if (steady::now() >= deadline)
        return false;
      std::this_thread::sleep_for(50ms);
    }
  }

  // Call with mtx_ held.
  bool quiet() {
    if (counters_.completed != counters_.pushes)
      return false;
    for (auto& s : sockets_)
      if (!s.connected())
        return false;
    for (auto& s : slots_)
      if (!s->retired && s->channel->state() != phx::channel_state::joined)
        return false;
    return true;
  }

  snapshot measure() {
    snapshot out;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      maintain(); // releases retired channels that just went idle
    }
    // Actors that just delivered their last message are still quitting: the
    // fewest seen within a short window is what the process holds.
    uint64_t running = sys_->registry().running();
    for (int i = 0; i < 20; ++i) {
      std::this_thread::sleep_for(50ms);
      running = std::min<uint64_t>(running, sys_->registry().running());
    }
    // Idle PUSH actors wait in their channels' bounded pools for the next
    // pushes (asked after the window: pools only shrink without traffic).
    uint64_t idle_pushes = 0;
    std::lock_guard<std::mutex> guard{mtx_};
    caf::scoped_actor self{*sys_};
    for (auto& s : slots_) {
      if (!s->channel)
        continue;
      self->request(s->channel->actor(), 5s, phx::stats_atom::value)
        .receive(
          [&](phx::channel_stats st) {
            out.pending += st.pending;
            out.buffered += st.buffered;
            idle_pushes += st.idle_pushes;
          },
          [&](caf::error&) {
            // A closed channel that already quit holds nothing.
          });
    }
    out.actors = running > idle_pushes ? running - idle_pushes : 0;
    out.rss_kib = rss_kib();
    out.heap_kib = heap_kib();
    return out;
  }

  void print_cycle(const snapshot& s, long long settle_ms, bool settled) {
    out_ << "cycle " << report_.cycles << ": pushes " << counters_.pushes << " (ok "
         << counters_.ok << ", error " << counters_.error << ", timeout " << counters_.timeout
         << ", failed " << counters_.failed << "), faults " << report_.faults << ", kicked "
         << counters_.kicked << ", actors " << s.actors << ", pending " << s.pending
         << ", buffered " << s.buffered << ", rss " << s.rss_kib << " KiB, heap "
         << s.heap_kib << " KiB, "
         << (settled ? "settled in " : "NOT settled after ") << settle_ms << " ms" << std::endl;
  }

  chaos_report finish(const snapshot& end) {
    stop_driver();
    auto& r = report_;
    r.pushes = counters_.pushes;
    r.ok = counters_.ok;
    r.error = counters_.error;
    r.timeout = counters_.timeout;
    r.failed = counters_.failed;
    r.duplicated = counters_.duplicated;
    r.client_warnings = counters_.warnings;
    r.kicked = counters_.kicked;
    r.missing = r.pushes - std::min(r.pushes, counters_.completed.load());
    for (auto& n : opens_)
      r.reconnects += *n > 0 ? *n - 1 : 0;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      for (auto& s : slots_) {
        r.rejoins += s->joins > 0 ? s->joins - 1 : 0;
        if (!s->retired && s->channel->state() != phx::channel_state::joined) {
          ++r.not_rejoined;
          r.failures.push_back(s->topic + " is " + phx::to_string(s->channel->state()));
        }
      }
    }
    r.actors_end = end.actors;
    r.pending_end = end.pending;
    r.buffered_end = end.buffered;
    r.rss_end_kib = end.rss_kib;
    r.rss_growth_kib = static_cast<int64_t>(end.rss_kib)
                       - static_cast<int64_t>(r.rss_after_cycle1_kib);
    r.heap_end_kib = end.heap_kib;
    r.heap_growth_kib = static_cast<int64_t>(end.heap_kib)
                        - static_cast<int64_t>(r.heap_after_cycle1_kib);
    if (r.missing > 0)
      r.failures.push_back(std::to_string(r.missing) + " push(es) without an outcome");
    if (r.duplicated > 0)
      r.failures.push_back(std::to_string(r.duplicated) + " duplicated outcome(s)");
    if (!r.settled)
      r.failures.push_back("a settle did not finish within "
                           + std::to_string(opts_.settle_seconds) + " s");
    if (r.cycles > 0) {
      if (r.actors_end > r.actors_after_cycle1)
        r.failures.push_back("actors grew from " + std::to_string(r.actors_after_cycle1)
                             + " to " + std::to_string(r.actors_end));
      if (r.pending_end + r.buffered_end > 0)
        r.failures.push_back("channels still hold pushes at the end");
      if (memory_bounds && r.rss_growth_kib > static_cast<int64_t>(opts_.max_rss_growth_kib))
        r.failures.push_back("RSS grew by " + std::to_string(r.rss_growth_kib)
                             + " KiB (bound " + std::to_string(opts_.max_rss_growth_kib)
                             + ")");
      if (memory_bounds
          && r.heap_growth_kib > static_cast<int64_t>(opts_.max_heap_growth_kib))
        r.failures.push_back("the heap in use grew by " + std::to_string(r.heap_growth_kib)
                             + " KiB (bound " + std::to_string(opts_.max_heap_growth_kib)
                             + ")");
    }
    return r;
  }

  // -- state ------------------------------------------------------------------------------

  chaos_options opts_;
  std::ostream& out_;
  std::mt19937_64 fault_rng_;  // main thread
  std::mt19937_64 push_rng_;   // driver thread
  chaos_report report_;
  counters counters_;
  std::mutex mtx_;
  std::vector<std::unique_ptr<slot>> slots_; // guarded by mtx_
  uint64_t next_topic_ = 0;                  // guarded by mtx_
  std::vector<std::unique_ptr<std::atomic<uint64_t>>> opens_;
  std::atomic<bool> pushing_{false};
  std::atomic<bool> quit_{false};
  std::thread driver_;
  phx_test::server_process server_;
  caf::actor_system_config cfg_;
  std::optional<caf::actor_system> sys_;
  std::vector<phx::socket> sockets_;
};

} // namespace

// -- options and report -------------------------------------------------------------------

std::string usage() {
  return "usage: phx-chaos [--seconds N] [--sockets N] [--channels N] [--seed N]\n"
         "                 [--cycle-seconds N] [--rate N] [--in-flight N]\n"
         "                 [--settle-seconds N] [--max-rss-growth-kib N]\n"
         "                 [--max-heap-growth-kib N] [--no-faults] [--verbose]\n"
         "Runs phx-server on 127.0.0.1 and N sockets x N channels (per socket) pushing\n"
         "while faults are injected; the last line is the JSON report. Exit status 0 if\n"
         "every push had exactly one outcome, every channel not kicked rejoined and\n"
         "nothing grew; 1 if not; 2 for bad usage; 3 if the run could not start.\n";
}

std::string parse_options(int argc, char** argv, chaos_options& out) {
  struct flag {
    const char* name;
    uint64_t min;
    uint64_t max;
    std::function<void(uint64_t)> set;
  };
  const flag flags[] = {
    {"--seconds", 1, 86400, [&](uint64_t v) { out.seconds = static_cast<uint32_t>(v); }},
    {"--sockets", 1, 1000, [&](uint64_t v) { out.sockets = static_cast<uint32_t>(v); }},
    {"--channels", 1, 100, [&](uint64_t v) { out.channels = static_cast<uint32_t>(v); }},
    {"--seed", 0, UINT64_MAX / 10, [&](uint64_t v) { out.seed = v; }},
    {"--cycle-seconds", 1, 3600, [&](uint64_t v) { out.cycle_seconds = static_cast<uint32_t>(v); }},
    {"--rate", 1, 100000, [&](uint64_t v) { out.rate = static_cast<uint32_t>(v); }},
    {"--in-flight", 1, 10000, [&](uint64_t v) { out.in_flight = static_cast<uint32_t>(v); }},
    {"--settle-seconds", 1, 3600,
     [&](uint64_t v) { out.settle_seconds = static_cast<uint32_t>(v); }},
    {"--max-rss-growth-kib", 0, uint64_t{1} << 40,
     [&](uint64_t v) { out.max_rss_growth_kib = v; }},
    {"--max-heap-growth-kib", 0, uint64_t{1} << 40,
     [&](uint64_t v) { out.max_heap_growth_kib = v; }},
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help")
      return "help";
    if (arg == "--verbose") {
      out.verbose = true;
      continue;
    }
    if (arg == "--no-faults") {
      out.no_faults = true;
      continue;
    }
    auto f = std::find_if(std::begin(flags), std::end(flags),
                          [&](const flag& x) { return arg == x.name; });
    if (f == std::end(flags))
      return "unknown option " + arg;
    uint64_t value = 0;
    if (i + 1 >= argc || !parse_number(argv[i + 1], f->max, value) || value < f->min)
      return arg + " takes a number from " + std::to_string(f->min) + " to "
             + std::to_string(f->max);
    f->set(value);
    ++i;
  }
  return {};
}

std::string chaos_report::to_json(const chaos_options& opts) const {
  std::ostringstream out;
  out << "{\"pushes\":" << pushes << ",\"ok\":" << ok << ",\"error\":" << error
      << ",\"timeout\":" << timeout << ",\"missing\":" << missing
      << ",\"duplicated\":" << duplicated << ",\"faults\":" << faults
      << ",\"reconnects\":" << reconnects << ",\"rejoins\":" << rejoins
      << ",\"rss_growth_kib\":" << rss_growth_kib;
  out << ",\"failed\":" << failed << ",\"kicked\":" << kicked
      << ",\"not_rejoined\":" << not_rejoined << ",\"cycles\":" << cycles
      << ",\"actors_after_cycle1\":" << actors_after_cycle1 << ",\"actors_end\":" << actors_end
      << ",\"pending_end\":" << pending_end << ",\"buffered_end\":" << buffered_end
      << ",\"rss_after_cycle1_kib\":" << rss_after_cycle1_kib
      << ",\"rss_end_kib\":" << rss_end_kib
      << ",\"max_rss_growth_kib\":" << opts.max_rss_growth_kib
      << ",\"heap_growth_kib\":" << heap_growth_kib
      << ",\"heap_after_cycle1_kib\":" << heap_after_cycle1_kib
      << ",\"heap_end_kib\":" << heap_end_kib
      << ",\"max_heap_growth_kib\":" << opts.max_heap_growth_kib
      << ",\"memory_bounds\":" << (memory_bounds ? "true" : "false")
      << ",\"fault_errors\":" << fault_errors << ",\"client_warnings\":" << client_warnings
      << ",\"faults_by_kind\":{";
  bool first = true;
  for (auto& [kind, n] : faults_by_kind) {
    out << (first ? "" : ",") << "\"" << kind << "\":" << n;
    first = false;
  }
  out << "},\"seconds\":" << opts.seconds << ",\"sockets\":" << opts.sockets
      << ",\"channels\":" << opts.channels << ",\"seed\":" << opts.seed
      << ",\"interrupted\":" << (interrupted ? "true" : "false")
      << ",\"pass\":" << (failures.empty() ? "true" : "false") << "}";
  return out.str();
}

chaos_report run_chaos(const chaos_options& opts, std::ostream& progress) {
  ::signal(SIGINT, on_stop_signal);
  ::signal(SIGTERM, on_stop_signal);
  runner r{opts, progress};
  return r.run();
}

} // namespace phx_chaos
