#include "cluster/worker.hpp"

#include <unistd.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "phx/phx.hpp"

#include "cluster/protocol.hpp"
#include "measure/clock.hpp"
#include "measure/metrics.hpp"
#include "progress/progress.hpp"
#include "scenario/scenario.hpp"
#include "user/supervisor.hpp"
#include "user/user.hpp"

namespace phx::fleet::cluster {

namespace {

// How the engine ended, for the worker's main thread.
enum outcome : int { running = 0, finished = 1, coordinator_lost = 2 };

// What the worker's command line gives the engine spawned here by the
// coordinator (spawn arguments come from the coordinator, these do not).
struct process_settings {
  std::mutex mtx;
  std::string log_level = "off";
  std::string histograms_out;
  double grace_s = 10;
  users_actor engine; // the engine of this process, once spawned
  std::atomic<int> outcome{running};
};

process_settings& settings() {
  static process_settings s;
  return s;
}

std::atomic<int> stop_signal{0};

extern "C" void on_worker_signal(int sig) {
  stop_signal = sig;
}

// What users hold raw pointers into: kept until the process exits, since a
// user's actor may end after its engine.
struct engine_context {
  scenario sc;
  metrics m;
  run_clock clock;
  uint64_t seed = 0;
  phx::log_level level = phx::log_level::off;
  std::mutex mtx; // guards the maps below (the supervisor's factory and the engine)
  std::unordered_map<uint64_t, std::pair<uint32_t, bool>> user_info; // pop, session
  std::vector<uint64_t> ended;
};

std::vector<std::shared_ptr<engine_context>>& kept_contexts() {
  static std::vector<std::shared_ptr<engine_context>> all;
  return all;
}

struct engine_state {
  std::shared_ptr<engine_context> ctx;
  coordinator_actor coordinator;
  std::string worker_id;
  caf::actor sup;
  bool started = false;
  bool stopping = false;
  std::vector<user_event> pending; // events that came before the start instant
  std::unordered_set<uint64_t> live;
};

using engine_ptr = users_actor::stateful_pointer<engine_state>;

void fire(engine_ptr self, const user_event& e) {
  auto& st = self->state;
  if (st.stopping)
    return;
  if (e.start) {
    st.ctx->m.latency(latency_kind::lag, st.ctx->clock.now_ns() - e.at_ns);
    {
      std::lock_guard<std::mutex> guard{st.ctx->mtx};
      st.ctx->user_info[e.user] = {e.pop, e.session};
    }
    st.live.insert(e.user);
    caf::anon_send(st.sup, start_atom::value, e.user, e.at_ns);
  } else {
    st.live.erase(e.user);
    caf::anon_send(st.sup, stop_atom::value, e.user);
  }
}

void schedule(engine_ptr self, const user_event& e) {
  auto delay = e.at_ns - self->state.ctx->clock.now_ns();
  if (delay <= 0)
    fire(self, e);
  else
    self->delayed_send(self, std::chrono::nanoseconds{delay}, fire_atom::value, e);
}

// The next whole second of the run, so that workers' seconds line up.
void schedule_tick(engine_ptr self) {
  auto now = self->state.ctx->clock.now_ns();
  int64_t next = (now / 1000000000 + 1) * 1000000000;
  if (next < 1000000000)
    next = 1000000000;
  self->delayed_send(self, std::chrono::nanoseconds{next - now}, tick_atom::value);
}

worker_report take_report(engine_ptr self) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  auto r = to_wire(ctx.m.take_delta());
  {
    std::lock_guard<std::mutex> guard{ctx.mtx};
    r.ended.swap(ctx.ended);
  }
  for (auto u : r.ended)
    st.live.erase(u);
  r.worker_id = st.worker_id;
  r.t_s = ctx.clock.now_s();
  r.connecting = ctx.m.connecting();
  r.open = ctx.m.open();
  r.joined = ctx.m.joined();
  r.users = static_cast<int64_t>(st.live.size());
  return r;
}

// Tests add these files by hand and compare with the coordinator's merge.
void write_histograms(const engine_state& st) {
  auto& s = settings();
  std::string path;
  {
    std::lock_guard<std::mutex> guard{s.mtx};
    path = s.histograms_out;
  }
  if (path.empty())
    return;
  auto t = st.ctx->m.snapshot();
  std::ostringstream os;
  os << "{\"worker\": " << json_string(st.worker_id) << ", \"pushes_sent\": " << t.pushes_sent
     << ", \"counts\": {";
  for (size_t k = 0; k < latency_kinds; ++k)
    os << (k ? ", " : "") << json_string(to_string(static_cast<latency_kind>(k))) << ": "
       << t.latency[k].count();
  os << "}, \"push_ok\": "
     << t.outcomes[static_cast<size_t>(op_kind::push)][static_cast<size_t>(outcome_kind::ok)]
     << ", \"push_histogram\": [";
  auto buckets = t.latency[static_cast<size_t>(latency_kind::push)].buckets();
  for (size_t i = 0; i < buckets.size(); ++i)
    os << (i ? "," : "") << "[" << json_number(static_cast<double>(buckets[i].first) / 1e6)
       << "," << buckets[i].second << "]";
  os << "]}\n";
  std::ofstream out{path, std::ios::trunc};
  out << os.str();
  if (!out.flush())
    std::fprintf(stderr, "phx-fleet worker: cannot write %s\n", path.c_str());
}

// Stops every user, then the supervisor and the engine; `how` tells main.
void stop_load(engine_ptr self, outcome how) {
  auto& st = self->state;
  if (st.stopping)
    return;
  st.stopping = true;
  st.ctx->m.stop_counting();
  // Each user's socket closes on the io thread: allow 2 ms per user more (as `run`).
  auto grace = std::chrono::milliseconds{static_cast<int64_t>(settings().grace_s * 1000)
                                         + static_cast<int64_t>(st.live.size()) * 2};
  auto done = [self, how] {
    self->send_exit(self->state.sup, caf::exit_reason::user_shutdown);
    settings().outcome = how;
    self->quit();
  };
  self->request(st.sup, grace, stop_all_atom::value)
    .then([done](uint64_t) { done(); },
          [done](caf::error& e) {
            std::fprintf(stderr, "phx-fleet worker: stopping the users took too long (%s)\n",
                         to_string(e).c_str());
            done();
          });
}

users_actor::behavior_type users_engine(engine_ptr self, coordinator_actor coordinator,
                                        std::string worker_id, std::string scenario_json,
                                        uint64_t seed) {
  auto& st = self->state;
  auto [parsed, err] = parse_scenario(scenario_json);
  if (!parsed) {
    std::fprintf(stderr, "phx-fleet worker: the coordinator's scenario does not parse here: %s\n",
                 err.text().c_str());
    self->quit(caf::make_error(caf::sec::invalid_argument, "scenario"));
    return {[](go_atom, int64_t) {}, [](events_atom, const std::vector<user_event>&) {},
            [](finish_atom) { return worker_report{}; }, [](tick_atom) {},
            [](fire_atom, const user_event&) {}};
  }
  st.ctx = std::make_shared<engine_context>();
  st.ctx->sc = std::move(*parsed);
  st.ctx->seed = seed;
  {
    std::lock_guard<std::mutex> guard{settings().mtx};
    st.ctx->level = phx::protocol::parse_log_level(settings().log_level).value_or(phx::log_level::off);
    kept_contexts().push_back(st.ctx);
    settings().engine = caf::actor_cast<users_actor>(self);
  }
  st.coordinator = std::move(coordinator);
  st.worker_id = std::move(worker_id);
  auto ctx = st.ctx.get();
  auto factory = [ctx](uint64_t index, int64_t intended) {
    auto& sc = ctx->sc;
    std::pair<uint32_t, bool> info{0, false};
    {
      std::lock_guard<std::mutex> guard{ctx->mtx};
      auto it = ctx->user_info.find(index);
      if (it != ctx->user_info.end())
        info = it->second;
    }
    user_spec u;
    u.index = index;
    u.sc = &sc;
    u.pop = &sc.populations[std::min<size_t>(info.first, sc.populations.size() - 1)];
    u.url = sc.targets[index % sc.targets.size()].url;
    u.seed = user_seed(ctx->seed, index);
    u.run_seed = ctx->seed;
    u.intended_start_ns = intended;
    u.session = info.second;
    u.m = &ctx->m;
    u.clock = &ctx->clock;
    u.log_level = ctx->level;
    return u;
  };
  auto ended = [ctx](uint64_t index) {
    std::lock_guard<std::mutex> guard{ctx->mtx};
    ctx->ended.push_back(index);
  };
  st.sup = spawn_supervisor(self->system(), factory, &ctx->m, &ctx->clock, {}, ended);
  // No orphan load: a lost coordinator (its node down, or a frozen one missing
  // heartbeats) stops every user of this worker.
  self->monitor(st.coordinator);
  self->set_down_handler([self](caf::down_msg& dm) {
    if (dm.source != self->state.coordinator.address() || self->state.stopping)
      return; // after the run's finish, the coordinator going is expected
    std::fprintf(stderr, "phx-fleet worker %s: the coordinator is lost (%s): stopping the users\n",
                 self->state.worker_id.c_str(), to_string(dm.reason).c_str());
    stop_load(self, coordinator_lost);
  });
  return {
    [self](go_atom, int64_t start_unix_ns) {
      auto& st = self->state;
      if (st.started)
        return;
      // One run-relative instant on every node: our steady clock, offset by
      // how far the start is from our wall clock now.
      auto wall_now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
      st.ctx->clock.start = std::chrono::steady_clock::now()
                            + std::chrono::nanoseconds{start_unix_ns - wall_now};
      st.started = true;
      for (auto& e : st.pending)
        schedule(self, e);
      st.pending.clear();
      schedule_tick(self);
    },
    [self](events_atom, const std::vector<user_event>& events) {
      auto& st = self->state;
      for (auto& e : events) {
        if (!st.started)
          st.pending.push_back(e);
        else
          schedule(self, e);
      }
    },
    [self](fire_atom, const user_event& e) { fire(self, e); },
    [self](tick_atom) {
      if (self->state.stopping)
        return;
      self->send(self->state.coordinator, report_atom::value, take_report(self));
      schedule_tick(self);
    },
    [self](finish_atom) {
      // Measurements stop before the users do: their teardown is ours.
      self->state.ctx->m.stop_counting();
      auto r = take_report(self);
      write_histograms(self->state);
      stop_load(self, finished);
      return r;
    },
  };
}

// The worker's node: phx's sockets on its io thread, the node links, and the
// engine's actor type for the coordinator's remote spawn.
struct worker_config : caf::actor_system_config {
  explicit worker_config(const links::link_options& lo) {
    phx::add_message_types(*this);
    phx::use_io_scheduler(*this);
    cluster::add_message_types(*this);
    add_users_actor_type(*this);
    links::configure(*this, lo);
  }
};

void raise_open_files() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0)
    return "unknown";
  return buf;
}

} // namespace

void add_users_actor_type(caf::actor_system_config& cfg) {
  cfg.add_actor_type(users_actor_name, users_engine);
}

int run_worker(const worker_options& opts) {
  if (auto err = links::check(opts.links, opts.host); !err.empty()) {
    std::fprintf(stderr, "phx-fleet worker: %s\n", err.c_str());
    return 2;
  }
  if (!phx::protocol::parse_log_level(opts.log_level)) {
    std::fprintf(stderr, "phx-fleet worker: --log-level: expected trace, debug, info, warning, error or off\n");
    return 2;
  }
  {
    auto& s = settings();
    std::lock_guard<std::mutex> guard{s.mtx};
    s.log_level = opts.log_level;
    s.histograms_out = opts.histograms_out;
    s.grace_s = opts.grace_s;
  }
  raise_open_files();
  stop_signal = 0;
  auto old_int = std::signal(SIGINT, on_worker_signal);
  auto old_term = std::signal(SIGTERM, on_worker_signal);
  struct restore {
    void (*i)(int);
    void (*t)(int);
    ~restore() {
      std::signal(SIGINT, i);
      std::signal(SIGTERM, t);
    }
  } restore_signals{old_int, old_term};

  worker_config cfg{opts.links};
  caf::actor_system sys{cfg};
  // The engine's handle must not outlive the actor system.
  struct forget_engine {
    ~forget_engine() {
      std::lock_guard<std::mutex> guard{settings().mtx};
      settings().engine = nullptr;
    }
  } forget;
  const auto where = links::to_string(opts.host, opts.port);
  // The coordinator may not listen yet: retry until the connect timeout.
  coordinator_actor coordinator;
  std::string last_error;
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::milliseconds{static_cast<int64_t>(opts.connect_timeout_s * 1000)};
  for (;;) {
    auto c = links::connect<coordinator_actor>(sys, opts.links, opts.host, opts.port);
    if (c) {
      coordinator = std::move(*c);
      break;
    }
    last_error = to_string(c.error());
    if (std::chrono::steady_clock::now() >= deadline || stop_signal) {
      std::fprintf(stderr,
                   "phx-fleet worker: cannot join the coordinator at %s within %g s (%s link): %s\n",
                   where.c_str(), opts.connect_timeout_s, opts.links.insecure ? "plain" : "TLS",
                   last_error.c_str());
      return 2;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
  }

  caf::scoped_actor self{sys};
  self->monitor(coordinator);
  hello h;
  h.version = opts.fake_version ? opts.fake_version : protocol_version;
  h.build = build_id();
  h.weight = opts.weight;
  h.host = host_name();
  h.pid = static_cast<int64_t>(::getpid());
  welcome w;
  std::string failure;
  self->request(coordinator, std::chrono::seconds{30}, hello_atom::value, h)
    .receive([&](welcome& x) { w = std::move(x); },
             [&](caf::error& e) { failure = to_string(e); });
  if (!failure.empty()) {
    std::fprintf(stderr, "phx-fleet worker: the coordinator at %s did not answer the handshake: %s\n",
                 where.c_str(), failure.c_str());
    return 2;
  }
  if (!w.accepted) {
    std::fprintf(stderr, "phx-fleet worker: refused by the coordinator at %s: %s\n", where.c_str(),
                 w.reason.c_str());
    return 2;
  }
  std::printf("phx-fleet worker: joined the coordinator at %s as %s (weight %g, %s link)\n",
              where.c_str(), w.worker_id.c_str(), opts.weight,
              opts.links.insecure ? "plain" : "TLS");
  std::fflush(stdout);

  // Until the engine ends: the run finished, or the coordinator was lost.
  bool coordinator_down = false;
  std::chrono::steady_clock::time_point down_at;
  bool told_stop = false;
  for (;;) {
    self->receive([&](caf::down_msg&) {
                    if (!coordinator_down) {
                      coordinator_down = true;
                      down_at = std::chrono::steady_clock::now();
                    }
                  },
                  caf::after(std::chrono::milliseconds{100}) >> [] {});
    auto how = settings().outcome.load();
    if (how == finished) {
      std::printf("phx-fleet worker %s: %s\n", w.worker_id.c_str(),
                  told_stop ? "stopped by a signal" : "the run ended");
      return told_stop ? 3 : 0;
    }
    if (how == coordinator_lost) {
      std::fprintf(stderr, "phx-fleet worker %s: stopped its users: the coordinator was lost\n",
                   w.worker_id.c_str());
      return 3;
    }
    users_actor engine;
    {
      std::lock_guard<std::mutex> guard{settings().mtx};
      engine = settings().engine;
    }
    if (stop_signal && !told_stop) {
      told_stop = true;
      if (engine) {
        // The engine stops its users; its outcome ends this loop.
        self->request(engine, std::chrono::seconds{5}, finish_atom::value)
          .receive([](worker_report&) {}, [](caf::error&) {});
      } else {
        return 3;
      }
    }
    if (coordinator_down) {
      auto waited = std::chrono::steady_clock::now() - down_at;
      // No engine yet, or one that did not stop within its grace: leave anyway.
      if (!engine || waited > std::chrono::milliseconds{static_cast<int64_t>(opts.grace_s * 1000) + 60000}) {
        std::fprintf(stderr, "phx-fleet worker %s: the coordinator was lost\n", w.worker_id.c_str());
        return 3;
      }
    }
  }
}

} // namespace phx::fleet::cluster
