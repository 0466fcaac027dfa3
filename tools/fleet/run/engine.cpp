#include "run/engine.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <sys/stat.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "phx/phx.hpp"

#include "measure/clock.hpp"
#include "measure/metrics.hpp"
#include "progress/progress.hpp"
#include "run/faults.hpp"
#include "run/plan.hpp"
#include "run/preflight.hpp"
#include "run/results.hpp"
#include "scenario/scenario.hpp"
#include "user/supervisor.hpp"
#include "user/user.hpp"

#ifdef PHX_FLEET_HAVE_REPORT
#include "report/report.hpp"
#endif

namespace phx::fleet {

namespace {

std::atomic<int> stop_signal{0};

extern "C" void on_signal(int sig) {
  stop_signal = sig;
}

// The fleet's actor system: every user's actors on phx's io threads.
struct fleet_config : caf::actor_system_config {
  fleet_config() {
    phx::add_message_types(*this);
    phx::use_io_scheduler(*this);
  }
};

} // namespace

bool stop_requested() {
  return stop_signal != 0;
}

bool make_dir(const std::string& dir) {
  std::string path;
  std::stringstream ss{dir};
  std::string part;
  if (!dir.empty() && dir[0] == '/')
    path = "/";
  while (std::getline(ss, part, '/')) {
    if (part.empty())
      continue;
    path += part + "/";
    ::mkdir(path.c_str(), 0755);
  }
  struct stat st{};
  return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

namespace {

// Faults run on their own threads: an admin call that hangs must not stall the clock.
struct fault_runner {
  std::mutex mtx;
  std::vector<fault_record> done;
  std::vector<std::thread> threads;

  void start(const scenario& sc, const fault& f, double at_s, progress& prog) {
    std::vector<std::string> bases;
    for (size_t i = 0; i < sc.targets.size(); ++i)
      if (f.target < 0 || static_cast<size_t>(f.target) == i)
        bases.push_back(sc.targets[i].admin);
    auto path = "/admin/" + f.kind + (f.query.empty() ? "" : "?" + f.query);
    prog.event("fault", "fault at " + std::to_string(static_cast<int>(at_s)) + " s: GET " + path,
               "\"at_s\":" + json_number(at_s) + ",\"kind\":" + json_string(f.kind));
    threads.emplace_back([this, bases, path, at_s, kind = f.kind] {
      std::string detail;
      for (auto& b : bases) {
        auto r = http_get(b, path);
        detail += (detail.empty() ? "" : "; ") + std::string{"GET "} + b + path + " -> "
                  + (r.status ? std::to_string(r.status) : r.error);
      }
      std::lock_guard<std::mutex> guard{mtx};
      done.push_back({at_s, kind, detail});
    });
  }

  std::vector<fault_record> finish() {
    for (auto& t : threads)
      t.join();
    threads.clear();
    std::lock_guard<std::mutex> guard{mtx};
    std::sort(done.begin(), done.end(),
              [](const fault_record& a, const fault_record& b) { return a.at_s < b.at_s; });
    return done;
  }
};

// What this process costs: CPU seconds, peak and current RSS, threads.
struct process_stats {
  double cpu_s = 0;
  long rss_kib = 0;
  long peak_rss_kib = 0;
  long threads = 0;
};

process_stats own_stats() {
  process_stats p;
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  p.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
            + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  std::ifstream in{"/proc/self/status"};
  std::string key;
  long value = 0;
  while (in >> key) {
    if (key == "VmRSS:" && in >> value)
      p.rss_kib = value;
    else if (key == "VmHWM:" && in >> value)
      p.peak_rss_kib = value;
    else if (key == "Threads:" && in >> value)
      p.threads = value;
  }
  return p;
}

uint64_t errors_sum(const metrics::totals& t) {
  uint64_t n = 0;
  for (auto& kv : t.errors)
    n += kv.second;
  return n;
}

// Part 1: every user in this process, under one supervisor, on phx's io thread.
class local_backend : public user_backend {
public:
  explicit local_backend(const backend_context& ctx) : ctx_(ctx), sys_(cfg_) {
    auto& the_plan = *ctx.the_plan;
    session_.assign(the_plan.users_started, false);
    pop_of_.assign(the_plan.users_started, 0);
    for (auto& e : the_plan.events)
      if (e.start) {
        session_[e.user] = e.session;
        pop_of_[e.user] = e.pop;
      }
    auto factory = [this](uint64_t index, int64_t intended) {
      auto& sc = *ctx_.sc;
      user_spec u;
      u.index = index;
      u.sc = &sc;
      u.pop = &sc.populations[pop_of_[index]];
      u.url = sc.targets[index % sc.targets.size()].url;
      u.seed = user_seed(ctx_.seed, index);
      u.run_seed = ctx_.seed;
      u.intended_start_ns = intended;
      u.session = session_[index];
      u.m = ctx_.m;
      u.clock = ctx_.clock;
      u.log_level = ctx_.level;
      return u;
    };
    sup_ = spawn_supervisor(sys_, factory, ctx.m, ctx.clock);
  }

  ~local_backend() override {
    // The users' sockets end asynchronously (their facade handles send exits):
    // let them finish before the system goes.
    for (int i = 0; i < 100 && sys_.registry().running() > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }

  std::string prepare(run_clock& clock, progress&) override {
    clock.start = std::chrono::steady_clock::now();
    return {};
  }

  void dispatch(const plan_event& e) override {
    if (e.start) {
      ctx_.m->latency(latency_kind::lag, ctx_.clock->now_ns() - e.at_ns);
      caf::anon_send(sup_, start_atom::value, e.user, e.at_ns);
    } else {
      caf::anon_send(sup_, stop_atom::value, e.user);
    }
  }

  void finish() override {
    caf::scoped_actor self{sys_};
    // Each user's socket closes on the io thread: allow 2 ms per user more.
    auto wait = std::chrono::milliseconds{
      static_cast<int64_t>((ctx_.sc->drain_s + 10) * 1000)
      + static_cast<int64_t>(ctx_.the_plan->users_max) * 2};
    self->request(sup_, wait, stop_all_atom::value)
      .receive([](uint64_t) {},
               [&](caf::error& e) {
                 std::fprintf(stderr, "phx-fleet: stopping the users took too long (%s); "
                              "the actor system's shutdown waits for the rest\n",
                              to_string(e).c_str());
               });
    self->send_exit(sup_, caf::exit_reason::user_shutdown);
  }

private:
  backend_context ctx_;
  fleet_config cfg_;
  std::vector<bool> session_;  // read by the supervisor's factory: outlives the system
  std::vector<size_t> pop_of_;
  caf::actor_system sys_;
  caf::actor sup_;
};

} // namespace

int run(const run_options& opts, const backend_maker& make) {
  auto [parsed, err] = load_scenario(opts.scenario_file);
  if (!parsed) {
    std::fprintf(stderr, "phx-fleet: %s: %s\n", opts.scenario_file.c_str(), err.text().c_str());
    return exit_usage;
  }
  scenario sc = std::move(*parsed);
  if (opts.users)
    sc.scale_users(*opts.users);
  if (opts.duration_s)
    sc.duration_s = *opts.duration_s;
  uint64_t seed = opts.seed ? *opts.seed
                  : sc.seed ? *sc.seed
                            : std::random_device{}();
  auto level = phx::protocol::parse_log_level(opts.log_level);
  if (!level) {
    std::fprintf(stderr, "phx-fleet: --log-level: expected trace, debug, info, warning, error or off\n");
    return exit_usage;
  }
  const double length_s = sc.length_s();
  auto the_plan = make_plan(sc, length_s);

  // Where people and machines read progress.
  std::FILE* events = nullptr;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> events_file{nullptr, &std::fclose};
  if (opts.events == "-") {
    events = stdout;
  } else if (!opts.events.empty()) {
    events_file.reset(std::fopen(opts.events.c_str(), "w"));
    if (!events_file) {
      std::fprintf(stderr, "phx-fleet: --events: cannot write '%s'\n", opts.events.c_str());
      return exit_usage;
    }
    events = events_file.get();
  }
  std::FILE* human = opts.quiet ? nullptr : (events == stdout ? stderr : stdout);
  progress prog{human, events, length_s, sc.total_users()};

  if (!opts.report_dir.empty() && !make_dir(opts.report_dir)) {
    std::fprintf(stderr, "phx-fleet: --report: cannot create directory '%s'\n",
                 opts.report_dir.c_str());
    return exit_usage;
  }

  metrics m;
  run_clock clock;
  backend_context ctx{&sc, seed, *level, &m, &clock, &the_plan};
  std::unique_ptr<user_backend> backend;
  if (make) {
    backend = make(ctx); // says why itself when it cannot start
    if (!backend)
      return exit_usage;
  } else {
    auto pf = preflight(sc, the_plan.users_max);
    for (auto& n : pf.notes)
      prog.event("preflight", "preflight: " + n, "\"note\":" + json_string(n));
    if (!pf.ok) {
      for (auto& p : pf.problems) {
        std::fprintf(stderr, "phx-fleet: preflight: %s\n", p.c_str());
        prog.event("preflight", "", "\"problem\":" + json_string(p));
      }
      return exit_usage;
    }
    backend = std::make_unique<local_backend>(ctx);
  }

  run_info info;
  info.scenario = sc.name;
  info.seed = seed;
  info.users_target = sc.total_users();
  prog.event("start",
             "phx-fleet: " + sc.name + ", " + std::to_string(info.users_target) + " users over "
               + std::to_string(sc.targets.size()) + " target(s), "
               + json_number(length_s) + " s, seed " + std::to_string(seed),
             "\"scenario\":" + json_string(sc.name) + ",\"seed\":" + std::to_string(seed)
               + ",\"users\":" + std::to_string(info.users_target) + ",\"duration_s\":"
               + json_number(length_s));

  stop_signal = 0;
  auto old_int = std::signal(SIGINT, on_signal);
  auto old_term = std::signal(SIGTERM, on_signal);

  std::vector<second_row> rows;
  fault_runner faults;
  bool aborted = false;
  std::string abort_reason;
  int64_t joined_end = 0;
  process_stats end_stats;
  if (auto err = backend->prepare(clock, prog); !err.empty()) {
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
    std::fprintf(stderr, "phx-fleet: %s\n", err.c_str());
    prog.event("abort", "", "\"reason\":" + json_string(err));
    return exit_aborted;
  }
  info.started_at = iso_now(); // after the workers joined, for a coordinator
  {
    size_t next_event = 0;
    size_t next_fault = 0;
    int64_t next_tick = 1000000000;
    const auto lead = backend->lead_ns();
    const auto row_delay = backend->row_delay_ns();
    const auto end_ns = static_cast<int64_t>(std::llround(length_s * 1e9));
    for (;;) {
      auto now = clock.now_ns();
      while (next_event < the_plan.events.size()
             && the_plan.events[next_event].at_ns <= now + lead)
        backend->dispatch(the_plan.events[next_event++]);
      backend->poll(prog);
      while (next_fault < sc.faults.size()
             && static_cast<int64_t>(sc.faults[next_fault].at_s * 1e9) <= now)
        faults.start(sc, sc.faults[next_fault++], static_cast<double>(now) / 1e9, prog);
      if (now >= next_tick + row_delay || now >= end_ns) {
        if (now >= next_tick + row_delay) {
          auto row = m.take_second(static_cast<double>(next_tick) / 1e9);
          auto totals = m.snapshot();
          backend->second(row.t_s, prog);
          prog.second(row, the_plan.phase_at(row.t_s - 0.5), errors_sum(totals));
          rows.push_back(row);
          next_tick += 1000000000;
          // abort_on_fail thresholds: checked every second once their delay passed.
          for (auto& th : sc.thresholds) {
            if (!th.abort_on_fail || row.t_s < th.delay_s)
              continue;
            auto r = evaluate({th}, totals, m.joined()).front();
            if (std::isfinite(r.value) && !r.met) {
              aborted = true;
              abort_reason = "threshold " + th.name + " = " + json_number(r.value)
                             + " missed its limit " + json_number(th.limit) + " (abort_on_fail)";
            }
          }
        }
        if (now >= end_ns || aborted)
          break;
      }
      if (stop_signal) {
        aborted = true;
        abort_reason = std::string{"signal "} + (stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
        break;
      }
      auto wake = std::min(next_tick + row_delay, end_ns);
      if (next_event < the_plan.events.size())
        wake = std::min(wake, the_plan.events[next_event].at_ns - lead);
      if (next_fault < sc.faults.size())
        wake = std::min(wake, static_cast<int64_t>(sc.faults[next_fault].at_s * 1e9));
      auto sleep_ns = std::clamp<int64_t>(wake - clock.now_ns(), 0, 50000000);
      if (sleep_ns > 0)
        std::this_thread::sleep_for(std::chrono::nanoseconds{sleep_ns});
    }
    info.duration_s = clock.now_s();
    joined_end = m.joined();
    end_stats = own_stats();
    // Outcomes of the teardown are ours, not the server's: stop counting first.
    m.stop_counting();
    if (aborted)
      prog.event("abort", "phx-fleet: aborted: " + abort_reason,
                 "\"reason\":" + json_string(abort_reason));
    backend->finish();
    // A backend whose rows lag the clock (workers' reports in flight) has its
    // last second in hand only now that the users reported their last figures.
    if (row_delay > 0 && next_tick <= end_ns && !aborted) {
      rows.push_back(m.take_second(static_cast<double>(next_tick) / 1e9));
      backend->second(rows.back().t_s, prog);
      prog.second(rows.back(), the_plan.phase_at(rows.back().t_s - 0.5), errors_sum(m.snapshot()));
    }
    backend->describe(info);
    backend.reset();
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);

  auto totals = m.snapshot();
  info.joined_end = joined_end;
  info.faults = faults.finish();
  info.thresholds = evaluate(sc.thresholds, totals, joined_end);
  bool all_met = true;
  for (auto& t : info.thresholds)
    all_met = all_met && t.met;
  info.exit_code = aborted ? exit_aborted : all_met ? exit_met : exit_missed;

  // The end-of-run summary for people.
  std::ostringstream os;
  auto& push = totals.latency[static_cast<size_t>(latency_kind::push)];
  auto& join = totals.latency[static_cast<size_t>(latency_kind::join)];
  auto& lag = totals.latency[static_cast<size_t>(latency_kind::lag)];
  auto ms = [](int64_t ns) { return json_number(static_cast<double>(ns) / 1e6); };
  os << "summary: joined peak " << totals.joined_peak << ", at end " << joined_end << " of "
     << info.users_target << "; pushes " << push.count() << " (p50 " << ms(push.value_at_quantile(0.5))
     << " p99 " << ms(push.value_at_quantile(0.99)) << " max " << ms(push.max()) << " ms); joins "
     << join.count() << " (p99 " << ms(join.value_at_quantile(0.99)) << " ms); generator lag p99 "
     << ms(lag.value_at_quantile(0.99)) << " ms; errors " << errors_sum(totals);
  for (auto& [k, v] : totals.errors)
    os << "\n  error " << k << ": " << v;
  for (auto& t : info.thresholds)
    os << "\n  threshold " << t.name << " " << (t.met ? "met" : "MISSED") << ": "
       << json_number(t.value) << (sc.thresholds.empty() ? "" : " vs limit ") << json_number(t.limit);
  os << "\nprocess: CPU " << json_number(end_stats.cpu_s) << " s, RSS " << end_stats.rss_kib
     << " KiB (peak " << end_stats.peak_rss_kib << "), " << end_stats.threads << " threads";
  os << "\nexit code " << info.exit_code;
  std::string thresholds_json = "[";
  for (size_t i = 0; i < info.thresholds.size(); ++i)
    thresholds_json += (i ? "," : "") + std::string{"{\"name\":"} + json_string(info.thresholds[i].name)
                       + ",\"value\":" + json_number(info.thresholds[i].value)
                       + ",\"met\":" + (info.thresholds[i].met ? "true" : "false") + "}";
  thresholds_json += "]";
  prog.event("end", os.str(),
             "\"exit_code\":" + std::to_string(info.exit_code) + ",\"thresholds\":" + thresholds_json
               + ",\"cpu_s\":" + json_number(end_stats.cpu_s) + ",\"rss_kib\":"
               + std::to_string(end_stats.rss_kib) + ",\"peak_rss_kib\":"
               + std::to_string(end_stats.peak_rss_kib) + ",\"threads\":"
               + std::to_string(end_stats.threads));

  if (!opts.report_dir.empty()) {
    auto e1 = write_summary(opts.report_dir, info, totals);
    auto e2 = write_series(opts.report_dir, rows);
    if (info.cluster && e2.empty())
      e2 = write_worker_series(opts.report_dir, info.worker_rows);
    for (auto* e : {&e1, &e2})
      if (!e->empty())
        std::fprintf(stderr, "phx-fleet: %s\n", e->c_str());
#ifdef PHX_FLEET_HAVE_REPORT
    if (e1.empty() && e2.empty()) {
      auto e3 = render_report(opts.report_dir);
      if (!e3.empty())
        std::fprintf(stderr, "phx-fleet: report.html: %s\n", e3.c_str());
    }
#endif
  }
  return info.exit_code;
}

} // namespace phx::fleet
