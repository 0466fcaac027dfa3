// Simulated workers for the coordinator benchmark (docs/fleet.md, "What one
// coordinator carries"): one process joins a phx-fleet coordinator as many
// workers over the middleman. Each joins with a real hello; the coordinator
// remote-spawns a "phx.fleet.users" engine for it here, a light actor that
// runs no socket but sends, every second, real reports: histograms of as many
// push, join and lag samples as its users would make (one push a second
// each), outcomes, errors and gauges. So the coordinator merges what 200
// workers would send, from a few processes.
//
//   fleet_cluster_sim_workers --coordinator HOST:PORT --workers K [--insecure-links | LINKS]

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "cluster/links.hpp"
#include "cluster/protocol.hpp"
#include "measure/metrics.hpp"

namespace links = phx::fleet::links;
using namespace phx::fleet;
using namespace phx::fleet::cluster;

namespace {

std::atomic<int> finished{0};

struct sim_state {
  coordinator_actor coordinator;
  std::string id;
  std::mt19937_64 rng;
  int64_t users = 0;
  bool started = false;
  int64_t second = 0;
};

using sim_ptr = users_actor::stateful_pointer<sim_state>;

// One second of `users` users each pushing once: what a real engine reports.
worker_report make_report(sim_ptr self) {
  auto& st = self->state;
  metrics_delta d;
  std::lognormal_distribution<double> push_ms{-0.7, 0.6};
  std::exponential_distribution<double> lag_ms{5.0};
  auto n = static_cast<uint64_t>(st.users);
  for (uint64_t i = 0; i < n; ++i) {
    d.latency[static_cast<size_t>(latency_kind::push)].record(
      static_cast<int64_t>(push_ms(st.rng) * 1e6));
    d.latency[static_cast<size_t>(latency_kind::lag)].record(
      static_cast<int64_t>(lag_ms(st.rng) * 1e6));
  }
  d.outcomes[static_cast<size_t>(op_kind::push)][static_cast<size_t>(outcome_kind::ok)] = n;
  d.pushes_sent = n;
  if (st.rng() % 10 == 0)
    d.errors["push_timeout"] = 1;
  auto r = to_wire(d);
  r.worker_id = st.id;
  r.t_s = static_cast<double>(++st.second);
  r.open = r.joined = r.users = st.users;
  return r;
}

users_actor::behavior_type sim_engine(sim_ptr self, coordinator_actor coordinator, std::string id,
                                      std::string, uint64_t seed) {
  self->state.coordinator = std::move(coordinator);
  self->state.id = std::move(id);
  self->state.rng.seed(seed ^ std::hash<std::string>{}(self->state.id));
  self->monitor(self->state.coordinator);
  self->set_down_handler([self](caf::down_msg&) {
    ++finished;
    self->quit();
  });
  return {
    [self](go_atom, int64_t) {
      if (self->state.started)
        return;
      self->state.started = true;
      self->delayed_send(self, std::chrono::seconds{1}, tick_atom::value);
    },
    [self](events_atom, const std::vector<user_event>& events) {
      for (auto& e : events)
        self->state.users += e.start ? 1 : -1;
    },
    [self](fire_atom, const user_event&) {},
    [self](tick_atom) {
      self->send(self->state.coordinator, report_atom::value, make_report(self));
      self->delayed_send(self, std::chrono::seconds{1}, tick_atom::value);
    },
    [self](finish_atom) {
      auto r = make_report(self);
      ++finished;
      self->quit();
      return r;
    },
  };
}

struct sim_config : caf::actor_system_config {
  explicit sim_config(const links::link_options& lo) {
    cluster::add_message_types(*this);
    add_actor_type(users_actor_name, sim_engine);
    links::configure(*this, lo);
  }
};

} // namespace

int main(int argc, char** argv) {
  links::link_options lo;
  std::string at;
  int workers = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--insecure-links")
      lo.insecure = true;
    else if (a == "--coordinator" && i + 1 < argc)
      at = argv[++i];
    else if (a == "--workers" && i + 1 < argc)
      workers = std::atoi(argv[++i]);
    else if (a == "--link-cert" && i + 1 < argc)
      lo.certificate = argv[++i];
    else if (a == "--link-key" && i + 1 < argc)
      lo.key = argv[++i];
    else if (a == "--link-ca" && i + 1 < argc)
      lo.cafile = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s --coordinator HOST:PORT --workers K [--insecure-links | "
                           "--link-cert F --link-key F --link-ca F]\n", argv[0]);
      return 2;
    }
  }
  auto hp = links::parse_host_port(at);
  if (!hp || workers < 1) {
    std::fprintf(stderr, "--coordinator HOST:PORT and --workers K >= 1 are needed\n");
    return 2;
  }
  if (auto err = links::check(lo); !err.empty()) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 2;
  }
  sim_config cfg{lo};
  caf::actor_system sys{cfg};
  caf::expected<coordinator_actor> c{caf::sec::invalid_argument};
  for (int tries = 0; tries < 150; ++tries) {
    c = links::connect<coordinator_actor>(sys, lo, hp->first, hp->second);
    if (c)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
  }
  if (!c) {
    std::fprintf(stderr, "cannot reach the coordinator: %s\n", to_string(c.error()).c_str());
    return 2;
  }
  caf::scoped_actor self{sys};
  int joined = 0;
  for (int k = 0; k < workers; ++k) {
    hello h;
    h.build = build_id();
    h.host = "sim";
    h.pid = ::getpid();
    self->request(*c, std::chrono::seconds{30}, hello_atom::value, h)
      .receive([&](welcome& w) { joined += w.accepted ? 1 : 0; },
               [&](caf::error& e) { std::fprintf(stderr, "hello: %s\n", to_string(e).c_str()); });
  }
  std::printf("simulated workers joined: %d of %d\n", joined, workers);
  std::fflush(stdout);
  // Until every engine finished (or saw the coordinator go); bounded at one hour.
  for (int i = 0; i < 36000 && finished.load() < joined; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  return 0;
}
