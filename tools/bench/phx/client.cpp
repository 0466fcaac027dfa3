// phx-bench-client: this project as a benchmark client, through the facade
// (`--api facade`: phx::socket, phx::channel, push(...).receive(...)) or
// through the actor API (`--api actor`: a CAF actor driving CHANNEL actors
// with request(...).then(...), events as typed messages). Every socket of a
// run shares one actor system, as an application with many sockets would.
//
//   phx-bench-client --api facade|actor --workload echo|fanin|scale|storm --url ws://127.0.0.1:P/socket ...
// Prints one JSON line of results (fields: docs/benchmarks.md).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "bench/measure.hpp"
#include "phx/actors/socket.hpp"
#include "phx/phx.hpp"
#include "phx/transport/io_scheduler.hpp"

namespace {

using namespace phx::bench;
using namespace std::chrono_literals;

/// The scheduler as phx recommends it for a system that runs phx alone
/// (`phx::use_io_scheduler`: the actors run on the io thread), or with
/// `--scheduler caf` one CAF worker (`phx::tune_scheduler`), or with
/// `--scheduler caf-defaults` CAF's own settings. Experiments with CAF's
/// workers: `--caf-max-threads N`, `--caf-poll-attempts N` (see
/// docs/benchmarks.md); likewise `--timeout-ms`, the push timeout, 10 s by default.
/// `--caf-max-throughput N`: at most N messages per activation; with 1 the
/// echo's `actor_jobs_per_round_trip` counts the messages the actors handle
/// per round trip (the harness's hop count for the floor).
struct bench_config : caf::actor_system_config {
  bench_config() {
    phx::add_message_types(*this);
    if (scheduler == "io")
      phx::use_io_scheduler(*this);
    else if (scheduler == "caf")
      phx::tune_scheduler(*this);
    if (max_throughput > 0)
      set("scheduler.max-throughput", static_cast<size_t>(max_throughput));
    if (max_threads > 0)
      set("scheduler.max-threads", static_cast<size_t>(max_threads));
    if (poll_attempts >= 0) {
      set("work-stealing.aggressive-poll-attempts", static_cast<size_t>(poll_attempts));
      set("work-stealing.moderate-poll-attempts", static_cast<size_t>(poll_attempts));
    }
  }
  static inline std::string scheduler = "io";
  static inline long max_threads = 0;
  static inline long poll_attempts = -1;
  static inline long max_throughput = 0;
};

/// Counts the actor activations of `sys` when it runs on the io scheduler
/// (with `--caf-max-throughput 1`, one per message); nothing otherwise.
void count_jobs(echo_run& run, caf::actor_system& sys) {
  if (!phx::transport::io_scheduler_stats_of(sys))
    return;
  run.jobs = [&sys] { return uint64_t(phx::transport::io_scheduler_stats_of(sys)->jobs_run); };
}

/// Join progress of many sockets, from many threads.
struct join_tally {
  size_t n = 0;
  std::atomic<size_t> joined{0};
  std::atomic<size_t> rejoined{0};
  std::atomic<bool> storming{false};
  /// Every open, first connects included: more than `n` before the storm
  /// means sockets reconnected during the run (reported, never hidden).
  std::atomic<size_t> opens_total{0};
  double t1 = 0;
  double t_done = 0;
  std::mutex mtx;
  std::vector<double> opens;
  once_signal all_joined;
  once_signal all_rejoined;

  /// A channel joined for the first time.
  void on_joined() {
    if (++joined == n) {
      t1 = now_s();
      all_joined.fire();
    }
  }

  /// A channel joined for the second time (after the storm).
  void on_rejoined() {
    if (++rejoined == n) {
      t_done = now_s();
      all_rejoined.fire();
    }
  }

  void on_open() {
    ++opens_total;
    if (!storming.load())
      return;
    std::lock_guard<std::mutex> guard{mtx};
    opens.push_back(now_s());
  }
};

/// `--transport websocket|longpoll` (websocket by default).
phx::transport_choice transport_of(const args& a) {
  auto text = a.text("transport", "websocket");
  auto kind = phx::parse_transport_choice(text);
  if (!kind || *kind == phx::transport_choice::automatic)
    throw usage_error("--transport is websocket or longpoll, got " + text);
  return *kind;
}

phx::socket::options facade_options(const args& a) {
  phx::socket::options o;
  o.heartbeat_interval_ms = static_cast<uint32_t>(a.number("heartbeat-ms", 30000));
  o.timeout = static_cast<uint32_t>(a.number("timeout-ms", phx::socket::DEFAULT_TIMEOUT));
  o.reconnect_jitter_ms = static_cast<uint32_t>(a.number("jitter-ms", 0));
  o.transport = transport_of(a);
  // The first reconnect step (1 s by default; the quick mode shortens it).
  auto first = static_cast<uint32_t>(a.number("reconnect-ms", 1000));
  o.reconnect_after_ms = [first](uint32_t tries) {
    return tries <= 1 ? first : phx::socket::DEFAULT_RECONNECT_AFTER_MS(tries);
  };
  return o;
}

phx::socket_options actor_options(const args& a) {
  phx::socket_options o;
  auto ep = phx::protocol::parse_endpoint(a.text("url"));
  if (!ep)
    throw std::invalid_argument("bad --url: " + ep.error().what);
  o.endpoint = *ep;
  o.heartbeat_interval = std::chrono::milliseconds(a.number("heartbeat-ms", 30000));
  o.timeout = std::chrono::milliseconds(a.number("timeout-ms", phx::socket::DEFAULT_TIMEOUT));
  o.reconnect_jitter_ms = a.number("jitter-ms", 0);
  o.transport = transport_of(a);
  auto first = a.number("reconnect-ms", 1000);
  o.reconnect_after_ms = [first](uint32_t tries) -> int64_t {
    return tries <= 1 ? first : phx::protocol::default_reconnect_after_ms(tries);
  };
  o.logger = phx::logger{phx::log_level::warning, phx::logger::stderr_sink()};
  return o;
}

phx::socket_actor spawn_actor_socket(caf::actor_system& sys, const args& a) {
  auto ctx = phx::make_socket_context(actor_options(a));
  if (!ctx)
    throw std::runtime_error("make_socket_context: " + to_string(ctx.error()));
  auto sock = phx::spawn_socket(sys, *ctx);
  caf::anon_send(sock, phx::connect_atom::value);
  return sock;
}

/// Creates and joins a channel through the actor API, blocking (setup only).
phx::channel_actor join_actor_channel(caf::actor_system& sys, phx::socket_actor sock,
                                      const std::string& topic) {
  caf::scoped_actor self{sys};
  phx::channel_actor ch;
  std::string failure;
  self->request(sock, 10s, phx::channel_atom::value, topic, phx::payload{})
    .receive([&](phx::channel_actor& c) { ch = c; },
             [&](caf::error& e) { failure = to_string(e); });
  if (!ch)
    throw std::runtime_error("channel: " + failure);
  self->request(ch, 10s, phx::join_atom::value)
    .receive([&](phx::reply& r) {
               if (!r.ok())
                 failure = "join refused: " + r.response.to_string();
             },
             [&](caf::error& e) { failure = to_string(e); });
  if (!failure.empty())
    throw std::runtime_error(failure);
  return ch;
}

// -- echo ------------------------------------------------------------------------

void echo_facade(const args& a, report& out, echo_run& run) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  count_jobs(run, sys);
  auto body = phx::json(a.text("payload"));
  phx::socket sock{sys, a.text("url"), facade_options(a)};
  sock.connect();
  auto ch = sock.channel("room:bench");
  once_signal joined;
  ch.join().receive("ok", [&](const phx::payload&) { joined.fire(); });
  joined.wait_for(10, "the join");
  // Every push is sent from a callback of this socket (one at a time), but
  // for the first window: hence the lock, uncontended once running.
  std::mutex mtx;
  std::function<void()> push_one = [&] {
    auto idx = run.next();
    ch.push("echo", body)
      .receive("ok", [&, idx](const phx::payload& r) {
        std::lock_guard<std::mutex> guard{mtx};
        bool ok = run.received > 0 || r == body;
        if (run.on_reply(idx, ok))
          push_one();
      })
      .receive("error", [&, idx](const phx::payload&) {
        std::lock_guard<std::mutex> guard{mtx};
        if (run.on_reply(idx, false))
          push_one();
      })
      .receive("timeout", [&, idx](const phx::payload&) {
        std::lock_guard<std::mutex> guard{mtx};
        if (run.on_reply(idx, false))
          push_one();
      });
  };
  {
    std::lock_guard<std::mutex> guard{mtx};
    run.begin();
    for (uint64_t i = 0; i < run.window && run.sent < run.total; ++i)
      push_one();
  }
  run.done.wait_for(120, "the echo replies");
  std::lock_guard<std::mutex> guard{mtx};
  run.write(out);
  // Actors still running once every push has its outcome (the idle PUSH actors of the pool).
  out.add("actors_running", double(sys.registry().running()));
}

struct echo_driver_state {
  /// CAF keeps a clock entry per request until its timeout, while the CHANNEL
  /// answers every push itself (reply, or ec::push_timeout at the push's own
  /// timeout): the default 0 (`caf::infinite`) is what docs/guide.md advises.
  caf::duration request_timeout{caf::infinite};
  phx::channel_actor ch;
  phx::payload body;
  echo_run* run = nullptr;
};

void echo_push(caf::stateful_actor<echo_driver_state>* self) {
  auto& st = self->state;
  auto idx = st.run->next();
  self->request(st.ch, st.request_timeout, phx::push_atom::value, std::string{"echo"}, st.body)
    .then(
      [self, idx](phx::reply& r) {
        auto& s = self->state;
        bool ok = r.ok() && (s.run->received > 0 || r.response == s.body);
        if (s.run->on_reply(idx, ok))
          echo_push(self);
      },
      [self, idx](caf::error&) {
        if (self->state.run->on_reply(idx, false))
          echo_push(self);
      });
}

caf::behavior echo_driver(caf::stateful_actor<echo_driver_state>* self, phx::channel_actor ch,
                          phx::payload body, echo_run* run, long request_timeout_ms) {
  self->state.ch = std::move(ch);
  self->state.body = std::move(body);
  self->state.run = run;
  if (request_timeout_ms == 0)
    self->state.request_timeout = caf::infinite;
  else
    self->state.request_timeout = caf::duration{std::chrono::milliseconds(request_timeout_ms)};
  run->begin();
  for (uint64_t i = 0; i < run->window && run->sent < run->total; ++i)
    echo_push(self);
  // Kept alive by its pending requests; nothing else to handle.
  return {[](caf::get_atom) {}};
}

void echo_actor(const args& a, report& out, echo_run& run) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  count_jobs(run, sys);
  auto body = phx::json(a.text("payload"));
  auto sock = spawn_actor_socket(sys, a);
  auto ch = join_actor_channel(sys, sock, "room:bench");
  auto driver = sys.spawn(echo_driver, ch, body, &run, a.number("request-timeout-ms", 0));
  run.done.wait_for(120, "the echo replies");
  caf::anon_send_exit(driver, caf::exit_reason::user_shutdown);
  run.write(out);
  out.add("actors_running", double(sys.registry().running()));
  caf::anon_send_exit(sock, caf::exit_reason::user_shutdown);
}

// -- fan-in ----------------------------------------------------------------------

struct flood_run {
  uint64_t total = 0;
  uint64_t chunk = 0;
  uint64_t floods = 0;
  std::atomic<uint64_t> events{0};
  std::atomic<uint64_t> replies{0};
  std::atomic<uint64_t> errors{0};
  double t0 = 0;
  double c0 = 0;
  double t1 = 0;
  double c1 = 0;
  once_signal done;

  void check() {
    if (events.load() == total && replies.load() == floods) {
      t1 = now_s();
      c1 = cpu_s();
      done.fire();
    }
  }

  /// Waits for every event, or for the replies and then one quiet second:
  /// events the client dropped never come, and the loss is reported.
  void wait() {
    auto deadline = now_s() + 120;
    uint64_t seen = 0;
    double quiet_since = now_s();
    while (now_s() < deadline) {
      if (done.wait_for_ms(100))
        return;
      auto n = events.load();
      if (n != seen) {
        seen = n;
        quiet_since = now_s();
        t1 = quiet_since;
        c1 = cpu_s();
      } else if (replies.load() == floods && now_s() - quiet_since > 1.0) {
        return; // t1, c1: when the last event came
      }
    }
    throw std::runtime_error("timed out waiting for the flood");
  }

  void start() {
    t0 = now_s();
    c0 = cpu_s();
  }

  void write(report& out) {
    auto n = double(events.load());
    out.add("events", n).add("lost", double(total) - n).add("errors", double(errors.load()))
      .add("wall_s", t1 - t0).add("cpu_s", c1 - c0)
      .add("events_per_s", n / (t1 - t0)).add("cpu_s_per_100k", (c1 - c0) / n * 1e5)
      .add("peak_rss_kib", double(peak_rss_kib()));
  }
};

phx::payload flood_body(uint64_t n) {
  return phx::object({{"n", static_cast<long long>(n)}});
}

void fanin_facade(const args& a, report& out, flood_run& run) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  phx::socket sock{sys, a.text("url"), facade_options(a)};
  sock.connect();
  auto ch = sock.channel("room:flood");
  ch.on("flood", [&](const phx::payload& p) {
    if (p.json().HasMember("i")) {
      ++run.events;
      run.check();
    }
  });
  once_signal joined;
  ch.join().receive("ok", [&](const phx::payload&) { joined.fire(); });
  joined.wait_for(10, "the join");
  run.start();
  for (uint64_t sent = 0; sent < run.total; sent += run.chunk)
    ch.push("flood", flood_body(std::min(run.chunk, run.total - sent)), 120s)
      .receive("ok", [&](const phx::payload&) {
        ++run.replies;
        run.check();
      })
      .receive("error", [&](const phx::payload&) { ++run.errors; })
      .receive("timeout", [&](const phx::payload&) { ++run.errors; });
  run.wait();
  run.write(out);
}

phx::channel_subscriber_actor::behavior_type
flood_counter(phx::channel_subscriber_actor::pointer, flood_run* run) {
  return {
    [run](phx::event_atom, const phx::protocol::message& m, const std::string&,
          const phx::flow_ticket&) {
      if (m.event == "flood" && m.payload.json().HasMember("i")) {
        ++run->events;
        run->check();
      }
    },
    [](phx::state_atom, const std::string&, phx::channel_state) {},
    [](phx::join_atom, const std::string&, const phx::reply&) {},
  };
}

void fanin_actor(const args& a, report& out, flood_run& run) {
  bench_config cfg;
  caf::actor_system sys{cfg};
  auto sock = spawn_actor_socket(sys, a);
  auto ch = join_actor_channel(sys, sock, "room:flood");
  auto counter = sys.spawn(flood_counter, &run);
  {
    // Same sender: the subscription is in place once the state reply is back.
    caf::scoped_actor self{sys};
    self->send(ch, phx::subscribe_atom::value, counter);
    self->request(ch, 10s, phx::state_atom::value).receive([](phx::channel_state) {},
                                                            [](caf::error&) {});
  }
  run.start();
  auto driver = sys.spawn([&](caf::event_based_actor* self) {
    for (uint64_t sent = 0; sent < run.total; sent += run.chunk)
      self->request(ch, 120s, phx::push_atom::value, std::string{"flood"},
                    flood_body(std::min(run.chunk, run.total - sent)))
        .then(
          [&](phx::reply& r) {
            if (!r.ok())
              ++run.errors;
            ++run.replies;
            run.check();
          },
          [&](caf::error&) { ++run.errors; });
  });
  run.wait();
  run.write(out);
  caf::anon_send_exit(driver, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(counter, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(sock, caf::exit_reason::user_shutdown);
}

// -- scale and storm: many sockets, one channel each ---------------------------------

/// What stays alive while the sockets are measured (never destroyed: the
/// process exits without tearing 10,000 connections down).
struct fleet {
  std::unique_ptr<bench_config> cfg = std::make_unique<bench_config>();
  std::unique_ptr<caf::actor_system> sys = std::make_unique<caf::actor_system>(*cfg);
  std::vector<phx::socket> sockets;
  std::vector<phx::channel> channels;
  std::vector<phx::socket_actor> socket_actors;
  std::vector<caf::actor> helpers;
};

void start_facade_fleet(fleet& f, const args& a, size_t n, join_tally& tally) {
  auto url = a.text("url");
  auto opts = facade_options(a);
  f.sockets.reserve(n);
  f.channels.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    f.sockets.emplace_back(*f.sys, url, opts);
    auto& sock = f.sockets.back();
    sock.on_open([&tally] { tally.on_open(); });
    sock.connect();
    f.channels.push_back(sock.channel("room:s" + std::to_string(i)));
    // The join push reports every attempt: the first ok is the join, the
    // second the rejoin after the storm (callbacks of a socket are serial).
    auto oks = std::make_shared<int>(0);
    f.channels.back().join().receive("ok", [&tally, oks](const phx::payload&) {
      if (++*oks == 1)
        tally.on_joined();
      else if (*oks == 2)
        tally.on_rejoined();
    });
  }
}

phx::socket_subscriber_actor::behavior_type
open_counter(phx::socket_subscriber_actor::pointer, join_tally* tally) {
  return {
    [tally](phx::opened_atom) { tally->on_open(); },
    [](phx::closed_atom, uint16_t, const std::string&) {},
    [](phx::error_atom, const std::string&, int) {},
    [](phx::message_atom, const phx::protocol::message&, const phx::flow_ticket&) {},
  };
}

/// Counts join oks per topic: the second one of a topic is its rejoin (the
/// first may arrive before or after the requester saw it).
phx::channel_subscriber_actor::behavior_type
join_counter(phx::channel_subscriber_actor::pointer, join_tally* tally) {
  auto oks = std::make_shared<std::unordered_map<std::string, int>>();
  return {
    [](phx::event_atom, const phx::protocol::message&, const std::string&,
       const phx::flow_ticket&) {},
    [](phx::state_atom, const std::string&, phx::channel_state) {},
    [tally, oks](phx::join_atom, const std::string& topic, const phx::reply& r) {
      if (r.ok() && ++(*oks)[topic] == 2)
        tally->on_rejoined();
    },
  };
}

void start_actor_fleet(fleet& f, const args& a, size_t n, join_tally& tally) {
  // One subscriber for every socket's opens, one for every channel's joins.
  bool subscribe = true;
  phx::socket_subscriber_actor opens;
  phx::channel_subscriber_actor joins;
  if (subscribe) {
    opens = f.sys->spawn(open_counter, &tally);
    joins = f.sys->spawn(join_counter, &tally);
  }
  f.socket_actors.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    f.socket_actors.push_back(spawn_actor_socket(*f.sys, a));
    if (subscribe)
      caf::anon_send(f.socket_actors.back(), phx::subscribe_atom::value, opens);
  }
  // One driver actor creates and joins every channel with request/then.
  auto sockets = f.socket_actors;
  f.helpers.push_back(f.sys->spawn([sockets, joins, subscribe, &tally](caf::event_based_actor* self) {
    for (size_t i = 0; i < sockets.size(); ++i) {
      self->request(sockets[i], 120s, phx::channel_atom::value, "room:s" + std::to_string(i),
                    phx::payload{})
        .then(
          [self, joins, subscribe, &tally](phx::channel_actor& ch) {
            if (subscribe)
              self->send(ch, phx::subscribe_atom::value, joins);
            self->request(ch, 120s, phx::join_atom::value)
              .then([&tally](phx::reply& r) {
                      if (r.ok())
                        tally.on_joined();
                    },
                    [](caf::error& e) {
                      std::cerr << "join failed: " << to_string(e) << "\n";
                    });
          },
          [](caf::error& e) { std::cerr << "channel failed: " << to_string(e) << "\n"; });
    }
  }));
  if (subscribe) {
    f.helpers.push_back(caf::actor_cast<caf::actor>(opens));
    f.helpers.push_back(caf::actor_cast<caf::actor>(joins));
  }
}

void scale(const args& a, report& out, bool actor_api) {
  raise_nofile_limit();
  auto n = static_cast<size_t>(a.number("sockets", 1000));
  auto hold = a.number("hold-ms", 0);
  auto* f = new fleet; // never freed: see fleet
  auto rss0 = rss_kib();
  join_tally tally;
  tally.n = n;
  auto t0 = now_s();
  if (actor_api)
    start_actor_fleet(*f, a, n, tally);
  else
    start_facade_fleet(*f, a, n, tally);
  tally.all_joined.wait_for(120, "every join");
  std::this_thread::sleep_for(std::chrono::milliseconds(hold));
  auto rss1 = rss_kib();
  out.add("sockets", double(n)).add("joined", double(tally.joined.load()))
    .add("opens", double(tally.opens_total.load()))
    .add("join_all_s", tally.t1 - t0).add("rss_kib", double(rss1))
    .add("rss_kib_per_socket", double(rss1 - rss0) / double(n))
    .add("threads", double(threads()));
}

void storm(const args& a, report& out, bool actor_api) {
  raise_nofile_limit();
  auto n = static_cast<size_t>(a.number("sockets", 1000));
  auto* f = new fleet; // never freed: see fleet
  join_tally tally;
  tally.n = n;
  if (actor_api)
    start_actor_fleet(*f, a, n, tally);
  else
    start_facade_fleet(*f, a, n, tally);
  tally.all_joined.wait_for(120, "every join");
  tally.storming.store(true);
  auto t_disconnect = now_s();
  if (http_get(a.text("url"), "/admin/disconnect_all") != 200)
    throw std::runtime_error("/admin/disconnect_all failed");
  tally.all_rejoined.wait_for(120, "every rejoin");
  std::vector<double> opens;
  {
    std::lock_guard<std::mutex> guard{tally.mtx};
    opens = tally.opens;
  }
  out.add("sockets", double(n)).add("jitter_ms", double(a.number("jitter-ms", 0)))
    .add("rejoined", double(tally.rejoined.load()))
    .add("rejoin_all_s", tally.t_done - t_disconnect)
    .add("peak_connects_per_s", double(peak_per_second(opens, t_disconnect)))
    .add("peak_connects_sliding_1s", double(peak_in_window(opens)));
}

/// The options of each workload (names without "--").
std::vector<std::string> options_of(const std::string& workload) {
  std::vector<std::string> known = {"api", "workload", "url", "scheduler", "caf-max-threads",
                                    "caf-poll-attempts", "caf-max-throughput", "io-threads",
                                    "heartbeat-ms", "timeout-ms", "jitter-ms", "reconnect-ms",
                                    "transport"};
  std::vector<std::string> own;
  if (workload == "echo")
    own = {"payload", "count", "warmup", "window", "request-timeout-ms"};
  else if (workload == "fanin")
    own = {"count", "chunk"};
  else if (workload == "scale")
    own = {"sockets", "hold-ms"};
  else if (workload == "storm")
    own = {"sockets"};
  else
    throw usage_error("unknown --workload " + workload + " (echo, fanin, scale or storm)");
  known.insert(known.end(), own.begin(), own.end());
  return known;
}

} // namespace

int main(int argc, char** argv) {
  try {
    args a{argc, argv};
    auto workload = a.text("workload");
    a.allow(options_of(workload), "phx-bench-client --workload " + workload);
    auto api = a.text("api");
    if (api != "facade" && api != "actor")
      throw usage_error("--api is facade or actor");
    bool actor_api = api == "actor";
    bench_config::scheduler = a.text("scheduler", "io");
    if (bench_config::scheduler != "io" && bench_config::scheduler != "caf"
        && bench_config::scheduler != "caf-defaults")
      throw usage_error("--scheduler is io, caf or caf-defaults");
    bench_config::max_threads = a.number("caf-max-threads", 0);
    bench_config::poll_attempts = a.number("caf-poll-attempts", -1);
    bench_config::max_throughput = a.number("caf-max-throughput", 0);
    // The io runtime starts on first use: with --io-threads N, here and with N threads.
    if (auto n = a.number("io-threads", 0); n > 0)
      phx::transport::io_runtime::instance(static_cast<size_t>(n));
    report out;
    out.add("client", std::string{actor_api ? "phx_actor" : "phx"}).add("workload", workload)
      .add("scheduler", bench_config::scheduler);
    if (workload == "echo") {
      echo_run run{static_cast<uint64_t>(a.number("warmup", 0)),
                   static_cast<uint64_t>(a.number("count", 100000)),
                   static_cast<uint64_t>(a.number("window", 100))};
      if (actor_api)
        echo_actor(a, out, run);
      else
        echo_facade(a, out, run);
    } else if (workload == "fanin") {
      flood_run run;
      run.total = static_cast<uint64_t>(a.number("count", 200000));
      run.chunk = static_cast<uint64_t>(a.number("chunk", 100000));
      if (run.chunk == 0)
        throw usage_error("--chunk must be positive");
      run.floods = (run.total + run.chunk - 1) / run.chunk;
      if (actor_api)
        fanin_actor(a, out, run);
      else
        fanin_facade(a, out, run);
    } else if (workload == "scale") {
      scale(a, out, actor_api);
    } else {
      storm(a, out, actor_api);
    }
    out.print();
    // Measured: skip the teardown of every socket and of the actor system.
    std::_Exit(0);
  } catch (const usage_error& e) {
    std::cerr << "phx-bench-client: " << e.what() << "\n";
    std::_Exit(usage_exit_code);
  } catch (const std::exception& e) {
    std::cerr << "phx-bench-client: " << e.what() << "\n";
    std::_Exit(1);
  }
}
