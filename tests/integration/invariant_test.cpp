// Thousands of pushes while connections are cut at random: every push ends in
// exactly one outcome, and no push, channel state or actor is left behind.
#define BOOST_TEST_MODULE phx_invariant
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <random>
#include <thread>

#include <caf/actor_registry.hpp>
#include <caf/scoped_actor.hpp>

#include "phx/actors/channel.hpp"
#include "phx/phx.hpp"
#include "phx_test/recorder.hpp"
#include "phx_test/require.hpp"
#include "phx_test/server_process.hpp"
#include "phx_test/transport.hpp"

using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(every_push_has_exactly_one_outcome_under_random_cuts) {
  phx_test::server_process server;
  phx::socket::options opts;
  opts.reconnect_after_ms = [](uint32_t) { return 50u; };
  opts.rejoin_after_ms = [](uint32_t) { return 50u; };
  opts.log_level = phx::log_level::off;
  phx_test::with_test_transport(opts);
  phx::socket sock{server.url(), opts};
  auto running_before = sock.system().registry().running();
  sock.connect();
  constexpr int channels = 4;
  constexpr int pushes_per_channel = 1500;
  std::vector<phx::channel> chans;
  for (int i = 0; i < channels; ++i) {
    chans.push_back(sock.channel("room:inv" + std::to_string(i)));
    BOOST_REQUIRE_EQUAL(PHX_REQUIRE_VALUE(chans.back().join().wait_for(10s)).status, "ok");
  }
  std::atomic<bool> stop{false};
  std::atomic<int> faults{0};
  std::thread chaos{[&] {
    std::mt19937 rng{7};
    // Bounded: at most 40 faults, each after 20-80 ms.
    for (int i = 0; i < 40 && !stop; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds{20 + rng() % 60});
      auto path = rng() % 2 == 0 ? "/admin/kill_all" : "/admin/disconnect_all";
      try {
        server.admin(path);
        ++faults;
      } catch (...) {
        // The server may be busy accepting reconnects; the next fault follows.
      }
    }
  }};
  constexpr int total = channels * pushes_per_channel;
  std::vector<std::atomic<int>> outcomes(total);
  std::atomic<int> ok{0}, error{0}, timeout{0}, failed{0}, done{0};
  phx_test::recorder finished;
  for (int i = 0; i < pushes_per_channel; ++i) {
    for (int c = 0; c < channels; ++c) {
      int id = i * channels + c;
      auto note = [&, id](std::atomic<int>& counter) {
        return [&, id](const phx::payload&) {
          ++outcomes[id];
          ++counter;
          if (++done == total)
            finished.add("done");
        };
      };
      chans[c]
        .push("echo", phx::object({{"id", id}}), 2s)
        .receive("ok", note(ok))
        .receive("error", note(error))
        .receive("timeout", note(timeout))
        .receive("failed", note(failed));
    }
    if (i % 100 == 0)
      std::this_thread::sleep_for(5ms); // spread the pushes over the faults
  }
  BOOST_REQUIRE_MESSAGE(finished.wait_for("done", 60s),
                        "only " << done.load() << " of " << total << " pushes ended");
  stop = true;
  chaos.join();
  int missing = 0, duplicated = 0;
  for (auto& o : outcomes) {
    if (o == 0)
      ++missing;
    if (o > 1)
      ++duplicated;
  }
  BOOST_TEST_MESSAGE("pushes " << total << " ok " << ok << " error " << error << " timeout "
                               << timeout << " failed " << failed << " faults " << faults);
  BOOST_CHECK_EQUAL(missing, 0);
  BOOST_CHECK_EQUAL(duplicated, 0);
  BOOST_CHECK_EQUAL(ok + error + timeout + failed, total);
  BOOST_CHECK_GT(ok.load(), 0);
  BOOST_CHECK_GT(faults.load(), 0);
  // Nothing is left behind: no pending push in any channel, and no PUSH
  // actor but those idle in the channels' bounded pools.
  uint64_t idle = 0;
  for (auto& ch : chans) {
    caf::scoped_actor self{sock.system()};
    self->request(ch.actor(), 5s, phx::stats_atom::value)
      .receive(
        [&](phx::channel_stats s) {
          BOOST_CHECK_EQUAL(s.pending, 0u);
          BOOST_CHECK_EQUAL(s.buffered, 0u);
          BOOST_CHECK_LE(s.idle_pushes, phx::channel_actor_state::max_idle_pushes);
          idle += s.idle_pushes;
        },
        [](caf::error& e) { BOOST_FAIL(to_string(e)); });
  }
  // Socket + channels + idle PUSH actors (+ at most one transport).
  auto running = sock.system().registry().running();
  BOOST_CHECK_LE(running, running_before + channels + idle + 1);
}
