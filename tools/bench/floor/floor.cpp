// phx-bench-floor: what CAF 0.17 alone costs the architecture, with no phx
// code in the measured actors. Two figures bound what any client shaped as
// ARCHITECTURE.md asks (a SOCKET, a CHANNEL and a TRANSPORT actor per socket,
// a message per hop) can reach against the bare client:
//   - heap and RSS per idle actor, spawned N at a time: with one handler and a
//     four-byte state (the least an actor can be), and with fifteen handlers
//     (what a SOCKET or a CHANNEL answers);
//   - CPU per message hop between two actors on phx's io scheduler (the
//     facade's default), pipelined with a window of 100 as the echo workload.
// How many hops an echo round trip of phx takes is counted, not assumed: the
// harness runs phx-bench-client with one message per actor activation and
// reads its activations per round trip. The last figure here checks that way
// of counting on a ping-pong, whose round trip is known to be 2 messages.
//
//   phx-bench-floor [--actors 10000] [--hops 2000000] [--window 100]
// Prints one JSON line (the harness reads it; docs/benchmarks.md explains it).

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "bench/measure.hpp"
#include "phx/actors/actors.hpp"
#include "phx/transport/io_scheduler.hpp"

namespace {

using namespace phx::bench;

/// Counts down events of other threads; fires once the last has come.
class countdown {
public:
  explicit countdown(uint64_t n) : left_(n) {}

  void count() {
    if (--left_ == 0)
      done_.fire();
  }

  /// Waits up to a minute; throws naming `what` when not all came.
  void wait(const char* what) { done_.wait_for(60, what); }

private:
  std::atomic<uint64_t> left_;
  once_signal done_;
};

struct tiny_state {
  int32_t sum = 0;
};

using tiny_actor = caf::stateful_actor<tiny_state>;

// The least an actor can be: one handler, four bytes of state.
caf::behavior one_handler(tiny_actor* self, countdown* ready) {
  return {[=](int32_t x) {
    self->state.sum += x;
    ready->count();
  }};
}

// As many handlers as a SOCKET or a CHANNEL answers, each with its own types.
caf::behavior fifteen_handlers(tiny_actor* self, countdown* ready) {
  return {
    [=](int32_t x) {
      self->state.sum += x;
      ready->count();
    },
    [=](double) { ++self->state.sum; },
    [=](float) { ++self->state.sum; },
    [=](int8_t) { ++self->state.sum; },
    [=](uint8_t, int32_t) { ++self->state.sum; },
    [=](const std::string&) { ++self->state.sum; },
    [=](const std::string&, int32_t) { ++self->state.sum; },
    [=](int32_t, const std::string&) { ++self->state.sum; },
    [=](int32_t, int32_t) { ++self->state.sum; },
    [=](int32_t, int32_t, int32_t) { ++self->state.sum; },
    [=](int32_t, double) { ++self->state.sum; },
    [=](double, int32_t) { ++self->state.sum; },
    [=](const std::vector<int32_t>&) { ++self->state.sum; },
    [=](const std::string&, const std::string&) { ++self->state.sum; },
    [=](int32_t, float) { ++self->state.sum; },
  };
}

/// Heap in use (every arena) in bytes.
double heap_bytes() {
  return double(mallinfo2().uordblks);
}

/// Spawns `n` idle actors of one kind, each handling one message (so that its
/// behavior exists), and reports the heap and RSS they added per actor.
template <class F>
void idle_actors(caf::actor_system& sys, const char* key, F fn, size_t n, report& out,
                 std::vector<caf::actor>& keep) {
  countdown ready{n};
  auto heap0 = heap_bytes();
  auto rss0 = rss_kib();
  for (size_t i = 0; i < n; ++i) {
    keep.push_back(sys.spawn(fn, &ready));
    caf::anon_send(keep.back(), int32_t{1});
  }
  ready.wait("the idle actors");
  // Let the io thread finish the activations it has started (bounded).
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto heap1 = heap_bytes();
  auto rss1 = rss_kib();
  out.add(std::string{key} + "_heap_bytes_per_actor", (heap1 - heap0) / double(n))
    .add(std::string{key} + "_rss_kib_per_actor", double(rss1 - rss0) / double(n));
}

struct pong_state {
  caf::actor ping;
};

/// Sends every number it gets back to its ping.
caf::behavior pong(caf::stateful_actor<pong_state>* self) {
  return {[=](uint64_t x) { self->send(self->state.ping, x); },
          [=](caf::actor ping) { self->state.ping = std::move(ping); }};
}

struct ping_state {
  caf::actor pong;
  uint64_t sent = 0;
  uint64_t back = 0;
  uint64_t total = 0;
};

/// Keeps `window` numbers in flight to its pong until `total` came back.
caf::behavior ping(caf::stateful_actor<ping_state>* self, caf::actor peer, uint64_t total,
                   uint64_t window, countdown* done) {
  self->state.pong = std::move(peer);
  self->state.total = total;
  self->send(self->state.pong, caf::actor{self});
  for (; self->state.sent < window && self->state.sent < total; ++self->state.sent)
    self->send(self->state.pong, self->state.sent);
  return {[=](uint64_t) {
    auto& st = self->state;
    if (++st.back == st.total) {
      done->count();
      return;
    }
    if (st.sent < st.total)
      self->send(st.pong, st.sent++);
  }};
}

/// CPU and wall time per message hop (a ping and its pong are two hops).
void hops(caf::actor_system& sys, uint64_t round_trips, uint64_t window, report& out) {
  auto run = [&](uint64_t n) {
    countdown done{1};
    auto p = sys.spawn(pong);
    sys.spawn(ping, p, n, window, &done);
    done.wait("the ping-pong");
  };
  run(round_trips / 10); // warm the allocator and the io thread
  auto c0 = cpu_s();
  auto t0 = now_s();
  run(round_trips);
  auto cpu = cpu_s() - c0;
  auto wall = now_s() - t0;
  auto n = double(2 * round_trips);
  out.add("hops", n)
    .add("hop_cpu_ns", cpu / n * 1e9)
    .add("hop_wall_ns", wall / n * 1e9)
    .add("hops_per_s", n / wall);
}

/// Counts a ping-pong's messages the way the harness counts phx's echo hops
/// (actor activations on an io scheduler that handles one message per
/// activation): a round trip is 2 messages, so the figure must be about 2
/// (plus the few activations of spawning the pair).
void counted_hops(uint64_t round_trips, uint64_t window, report& out) {
  // Never freed (as everything else here): the process ends with _Exit.
  auto* cfg = new caf::actor_system_config;
  phx::use_io_scheduler(*cfg);
  cfg->set("scheduler.max-throughput", size_t{1});
  auto* sys = new caf::actor_system{*cfg};
  auto jobs = [sys] { return phx::transport::io_scheduler_stats_of(*sys)->jobs_run; };
  auto j0 = jobs();
  countdown done{1};
  auto p = sys->spawn(pong);
  auto q = sys->spawn(ping, p, round_trips, window, &done);
  done.wait("the counted ping-pong");
  auto j1 = jobs();
  out.add("counted_pingpong_messages_per_round_trip", double(j1 - j0) / double(round_trips));
  caf::anon_send_exit(q, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
}

} // namespace

int main(int argc, char** argv) {
  try {
    args a{argc, argv};
    a.allow({"actors", "hops", "window"}, "phx-bench-floor");
    auto actors = static_cast<size_t>(a.number("actors", 10000));
    auto hop_count = static_cast<uint64_t>(a.number("hops", 2000000));
    auto window = static_cast<uint64_t>(a.number("window", 100));
    if (actors == 0 || hop_count < 20 || window == 0)
      throw usage_error("--actors and --window must be positive, --hops at least 20");
    caf::actor_system_config cfg;
    phx::use_io_scheduler(cfg);
    caf::actor_system sys{cfg};
    report out;
    out.add("actors", double(actors)).add("scheduler", std::string{"io"});
    std::vector<caf::actor> keep;
    keep.reserve(2 * actors);
    idle_actors(sys, "one_handler", one_handler, actors, out, keep);
    idle_actors(sys, "fifteen_handlers", fifteen_handlers, actors, out, keep);
    hops(sys, hop_count / 2, window, out);
    counted_hops(std::max<uint64_t>(hop_count / 20, 1000), window, out);
    out.print();
    // Measured: skip the teardown of 2 x actors actors.
    std::_Exit(0);
  } catch (const usage_error& e) {
    std::cerr << "phx-bench-floor: " << e.what() << "\n";
    std::_Exit(usage_exit_code);
  } catch (const std::exception& e) {
    std::cerr << "phx-bench-floor: " << e.what() << "\n";
    std::_Exit(1);
  }
}
