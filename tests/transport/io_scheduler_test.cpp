// The io scheduler: CAF actors run on phx's io threads, hand messages on
// without leaving them, keep timers, do not starve the io, and their actor
// systems shut down (also several at once, also with jobs still queued).
#include "fixture.hpp"

#include <future>
#include <pthread.h>

#include <caf/logger.hpp>
#include <caf/stateful_actor.hpp>

#include "phx/transport/io_scheduler.hpp"

using namespace phx_test;

namespace {

using name_atom = caf::atom_constant<caf::atom("name")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using spin_atom = caf::atom_constant<caf::atom("spin")>;

struct io_config : caf::actor_system_config {
  io_config() { tr::use_io_scheduler(*this); }
};

/// The name of the calling thread.
std::string thread_name() {
  char buf[32] = {0};
  pthread_getname_np(pthread_self(), buf, sizeof(buf));
  return buf;
}

/// Answers with the name of the thread it runs on.
caf::behavior namer(caf::event_based_actor*) {
  return {[](name_atom) { return thread_name(); }};
}

/// Plays ping-pong with `peer` until `left` reaches 0, then tells `done`.
caf::behavior pinger(caf::event_based_actor* self) {
  return {[self](ping_atom, int left, caf::actor& peer, caf::actor& done) {
    if (left == 0) {
      self->send(done, ping_atom::value, thread_name());
      return;
    }
    self->send(peer, ping_atom::value, left - 1, caf::actor_cast<caf::actor>(self), done);
  }};
}

/// Sends itself a message per message until told `spin_atom, false`.
struct spinner_state {
  bool on = true;
  uint64_t rounds = 0;
};
caf::behavior spinner(caf::stateful_actor<spinner_state>* self) {
  return {
    [self](spin_atom) {
      if (!self->state.on)
        return;
      ++self->state.rounds;
      self->send(self, spin_atom::value);
    },
    [self](spin_atom, bool on) -> uint64_t {
      self->state.on = on;
      return self->state.rounds;
    },
  };
}

/// Destroys `sys` on another thread; false if that takes longer than `bound`
/// (the thread is then left behind: the run fails and ctest's limit ends it).
bool shuts_down_within(std::unique_ptr<caf::actor_system> sys, std::chrono::seconds bound) {
  // CAF parks a system's logger in every thread that spawns for it, and
  // ~actor_system waits for them all: this thread lets go of it first.
  caf::logger::set_current_actor_system(nullptr);
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  std::thread{[sys = std::move(sys), done]() mutable {
    sys.reset();
    done->set_value();
  }}.detach();
  return fut.wait_for(bound) == std::future_status::ready;
}

} // namespace

BOOST_AUTO_TEST_SUITE(io_scheduler)

BOOST_AUTO_TEST_CASE(actors_run_on_the_io_threads) {
  io_config cfg;
  caf::actor_system sys{cfg};
  auto stats = tr::io_scheduler_stats_of(sys);
  BOOST_TEST_REQUIRE(stats.has_value());
  BOOST_TEST(stats->threads == tr::io_runtime::instance()->threads());
  caf::scoped_actor self{sys};
  auto a = sys.spawn(namer);
  std::string name;
  self->request(a, max_wait, name_atom::value)
    .receive([&](std::string& n) { name = n; },
             [&](caf::error& err) { BOOST_FAIL(sys.render(err)); });
  BOOST_TEST(name == "phx.io");
  BOOST_TEST(tr::io_scheduler_stats_of(sys)->jobs_run >= 1u);
  self->send_exit(a, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(a_system_with_caf_workers_has_no_io_scheduler) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  BOOST_TEST(!tr::io_scheduler_stats_of(sys).has_value());
}

BOOST_AUTO_TEST_CASE(messages_between_actors_stay_on_the_io_thread) {
  io_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto a = sys.spawn(pinger);
  auto b = sys.spawn(pinger);
  auto before = *tr::io_scheduler_stats_of(sys);
  constexpr int rounds = 10000;
  self->send(a, ping_atom::value, rounds, b, caf::actor{self.ptr()});
  std::string last;
  self->receive([&](ping_atom, std::string& name) { last = name; },
                caf::after(max_wait) >> [&] { BOOST_FAIL("the ping-pong did not end"); });
  BOOST_TEST(last == "phx.io");
  auto after = *tr::io_scheduler_stats_of(sys);
  // Every hop woke the other actor on the same thread: no hand-over per hop.
  BOOST_TEST(after.jobs_run - before.jobs_run >= size_t{rounds});
  BOOST_TEST(after.external_jobs - before.external_jobs <= 4u);
  self->send_exit(a, caf::exit_reason::user_shutdown);
  self->send_exit(b, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(timers_and_request_timeouts_fire) {
  io_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto relay = sys.spawn([](caf::event_based_actor* me) -> caf::behavior {
    return {
      [me](ping_atom, caf::actor& to) {
        me->delayed_send(me, std::chrono::milliseconds(50), ping_atom::value, to, 1);
      },
      [me](ping_atom, caf::actor& to, int) { me->send(to, ping_atom::value, thread_name()); },
    };
  });
  auto t0 = std::chrono::steady_clock::now();
  self->send(relay, ping_atom::value, caf::actor{self.ptr()});
  bool fired = false;
  self->receive([&](ping_atom, std::string&) { fired = true; },
                caf::after(max_wait) >> [] {});
  BOOST_TEST(fired);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(50)));
  // A request nobody answers times out through the clock as well.
  auto silent = sys.spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](name_atom) -> caf::result<std::string> { return caf::delegated<std::string>{}; }};
  });
  auto asker = sys.spawn([silent](caf::event_based_actor* me) -> caf::behavior {
    return {[me, silent](ping_atom, caf::actor& to) {
      me->request(silent, std::chrono::milliseconds(50), name_atom::value)
        .then([](std::string&) {},
              [me, to](caf::error& err) { me->send(to, ping_atom::value, err); });
    }};
  });
  self->send(asker, ping_atom::value, caf::actor{self.ptr()});
  caf::error got;
  self->receive([&](ping_atom, caf::error& err) { got = err; },
                caf::after(max_wait) >> [] {});
  BOOST_TEST((got == caf::sec::request_timeout), sys.render(got));
  for (auto& a : {relay, silent, asker})
    self->send_exit(a, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(an_actor_that_never_runs_dry_does_not_starve_the_rest) {
  io_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto spin = sys.spawn(spinner);
  // However the test ends: a spinning actor would hold ~actor_system forever.
  struct stop_at_exit {
    caf::scoped_actor& self;
    caf::actor spin;
    ~stop_at_exit() { self->send_exit(spin, caf::exit_reason::user_shutdown); }
  } stopper{self, spin};
  self->send(spin, spin_atom::value);
  // Other actors and the connections of the io thread still get their turn.
  auto a = sys.spawn(namer);
  for (int i = 0; i < 50; ++i) {
    bool answered = false;
    self->request(a, max_wait, name_atom::value)
      .receive([&](std::string&) { answered = true; }, [](caf::error&) {});
    BOOST_TEST_REQUIRE(answered);
  }
  raw_server srv{options([](auto& o) { o.echo = true; })};
  auto listener = sys.spawn([](caf::event_based_actor* me) -> caf::behavior {
    // Reports the listener gets, forwarded to whoever asked last.
    auto asked = std::make_shared<caf::actor>();
    return {
      [asked](ping_atom, caf::actor& who) { *asked = who; },
      [me, asked](tr::opened_atom, tr::generation, tr::transport_kind) { me->send(*asked, tr::opened_atom::value); },
      [me, asked](tr::frame_atom, tr::generation, std::vector<frame>& fs, tr::flow_ticket&) {
        for (auto& f : fs)
          me->send(*asked, tr::frame_atom::value, f.data);
      },
      [](tr::closed_atom, tr::generation, uint16_t, std::string&) {},
      [](tr::failed_atom, tr::generation, tr::connect_failure&) {},
    };
  });
  self->send(listener, ping_atom::value, caf::actor{self.ptr()});
  auto t = tr::spawn_transport(sys, caf::actor_cast<tr::listener_actor>(listener), 1,
                               transport_fixture::request(srv.url()));
  bool opened = false;
  self->receive([&](tr::opened_atom) { opened = true; }, caf::after(max_wait) >> [] {});
  BOOST_TEST_REQUIRE(opened);
  self->send(t, tr::frame_atom::value, frame{frame_type::text, "still here"});
  std::string echoed;
  self->receive([&](tr::frame_atom, std::string& data) { echoed = data; },
                caf::after(max_wait) >> [] {});
  BOOST_TEST(echoed == "still here");
  uint64_t rounds = 0;
  self->request(spin, max_wait, spin_atom::value, false)
    .receive([&](uint64_t n) { rounds = n; }, [](caf::error&) {});
  BOOST_TEST(rounds > 1000u);
  self->send(t, tr::abort_atom::value);
  for (auto& x : {spin, a, listener})
    self->send_exit(x, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(an_actor_that_throws_ends_alone) {
  io_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto thrower = sys.spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](ping_atom) -> int { throw std::runtime_error("boom"); }};
  });
  self->monitor(thrower);
  self->send(thrower, ping_atom::value);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; }, caf::after(max_wait) >> [] {});
  BOOST_TEST(down);
  auto a = sys.spawn(namer);
  std::string name;
  self->request(a, max_wait, name_atom::value)
    .receive([&](std::string& n) { name = n; }, [](caf::error&) {});
  BOOST_TEST(name == "phx.io");
  self->send_exit(a, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(a_system_shuts_down_with_actors_spawned_on_the_io_thread) {
  // Spawning on the io thread makes CAF park the system's logger there; the
  // shutdown must release it or ~actor_system waits for ever.
  io_config cfg;
  auto sys = std::make_unique<caf::actor_system>(cfg);
  {
    caf::scoped_actor self{*sys};
    auto parent = sys->spawn([](caf::event_based_actor* me) -> caf::behavior {
      return {[me](ping_atom, int n) {
        for (int i = 0; i < n; ++i)
          me->spawn<caf::linked>(spinner);
        return n;
      }};
    });
    int spawned = 0;
    self->request(parent, max_wait, ping_atom::value, 100)
      .receive([&](int n) { spawned = n; }, [](caf::error&) {});
    BOOST_TEST(spawned == 100);
    self->send_exit(parent, caf::exit_reason::user_shutdown);
  }
  BOOST_TEST(shuts_down_within(std::move(sys), max_wait));
}

BOOST_AUTO_TEST_CASE(a_system_shuts_down_while_its_actors_are_busy) {
  io_config cfg;
  auto sys = std::make_unique<caf::actor_system>(cfg);
  std::vector<caf::actor> spinners;
  for (int i = 0; i < 20; ++i) {
    spinners.push_back(sys->spawn(spinner));
    caf::anon_send(spinners.back(), spin_atom::value);
  }
  for (auto& s : spinners)
    caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  spinners.clear();
  BOOST_TEST(shuts_down_within(std::move(sys), max_wait));
}

BOOST_AUTO_TEST_CASE(two_systems_share_the_io_thread_and_end_one_at_a_time) {
  io_config cfg1;
  io_config cfg2;
  auto sys1 = std::make_unique<caf::actor_system>(cfg1);
  caf::actor_system sys2{cfg2};
  auto a1 = sys1->spawn(namer);
  auto a2 = sys2.spawn(namer);
  auto ask = [](caf::actor_system& sys, const caf::actor& a) {
    caf::scoped_actor self{sys};
    std::string name;
    self->request(a, max_wait, name_atom::value)
      .receive([&](std::string& n) { name = n; }, [](caf::error&) {});
    return name;
  };
  BOOST_TEST(ask(*sys1, a1) == "phx.io");
  BOOST_TEST(ask(sys2, a2) == "phx.io");
  caf::anon_send_exit(a1, caf::exit_reason::user_shutdown);
  a1 = nullptr;
  BOOST_TEST_REQUIRE(shuts_down_within(std::move(sys1), max_wait));
  // The other system's actors run on as before.
  BOOST_TEST(ask(sys2, a2) == "phx.io");
  caf::anon_send_exit(a2, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(actors_of_another_system_left_queued_at_a_shutdown_run_on) {
  // An actor of system A that an actor of B wakes is queued on B's io unit
  // (CAF hands the sender's unit on). B's shutdown must give it back to A's
  // scheduler, not end it with B's own leftovers.
  io_config cfg_a;
  io_config cfg_b;
  caf::actor_system sys_a{cfg_a};
  auto sys_b = std::make_unique<caf::actor_system>(cfg_b);
  constexpr int n = 600;
  auto handled = std::make_shared<std::atomic<int>>(0);
  auto all = std::make_shared<std::promise<void>>();
  std::vector<caf::actor> targets;
  for (int i = 0; i < n; ++i)
    targets.push_back(sys_a.spawn([handled, all](caf::event_based_actor*) -> caf::behavior {
      return {
        [](name_atom) { return thread_name(); },
        [handled, all](ping_atom) {
          // Slow: B's shutdown comes while most of them still wait in B's queue.
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          if (++*handled == n)
            all->set_value();
        },
      };
    }));
  {
    // Each waits for a message now, so that B's send queues it anew.
    caf::scoped_actor self{sys_a};
    for (auto& t : targets)
      self->request(t, max_wait, name_atom::value).receive([](std::string&) {}, [](caf::error&) {});
  }
  sys_b->spawn([targets](caf::event_based_actor* self) -> caf::behavior {
    for (auto& t : targets)
      self->send(t, ping_atom::value);
    self->quit();
    return {};
  });
  BOOST_TEST_REQUIRE(shuts_down_within(std::move(sys_b), max_wait));
  auto done = all->get_future();
  BOOST_TEST((done.wait_for(max_wait) == std::future_status::ready), handled->load() << " of " << n);
  for (auto& t : targets)
    caf::anon_send_exit(t, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
