// A million events to a slow consumer, against a real phx-server: memory
// stays bounded. A slow callback slows the server down (reads pause, or wait
// for the callbacks on the io thread: TCP backpressure, nothing lost); a slow
// subscriber actor loses events beyond its bounded queue, counted.
#define BOOST_TEST_MODULE phx_flow_integration
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "phx/phx.hpp"
#include "phx_test/recorder.hpp"
#include "phx_test/require.hpp"
#include "phx_test/scheduler.hpp"
#include "phx_test/server_process.hpp"
#include "phx_test/transport.hpp"

using namespace std::chrono_literals;

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr int floods = 3; // ThreadSanitizer runs these ~20x slower
// A flood of 100,000 events took up to a minute under TSan on 2 shared cores.
constexpr int push_timeout_ms = 150000;
constexpr auto flood_wait = std::chrono::seconds{180};
#else
constexpr int floods = 10;
constexpr int push_timeout_ms = 60000;
constexpr auto flood_wait = std::chrono::seconds{120};
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// ASan's quarantine (256 MiB) keeps freed blocks resident, TSan adds shadow
// memory for every byte touched: RSS says nothing about our bounds there.
constexpr bool rss_meaningful = false;
#else
constexpr bool rss_meaningful = true;
#endif
constexpr int per_flood = 100000; // phx-server's bound per flood push

// Over long-poll a client behind on its events pauses its polls, and a server
// ends a session that has not polled within its timeout (as Phoenix does
// after its window): this one outlasts the pauses of a slow consumer under
// the sanitizers (the test runs' default is 1.5 s).
std::vector<std::string> server_args() {
  return {"--longpoll-window-ms", "1000", "--longpoll-timeout-ms", "120000"};
}
constexpr int total = floods * per_flood;

// Resident set size of this process in KiB.
long rss_kib() {
  std::ifstream in{"/proc/self/status"};
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long kib = 0;
      in >> kib;
      return kib;
    }
    in.ignore(1024, '\n');
  }
  return 0;
}

// Some real work per event, so that the consumer is slower than the wire.
uint64_t chew(const phx::payload& p, int rounds = 20) {
  uint64_t h = 1469598103934665603ull;
  auto text = p.to_string();
  for (int round = 0; round < rounds; ++round)
    for (char c : text)
      h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_slow_callback_pauses_reads_and_loses_nothing) {
  phx_test::server_process server{server_args()};
  caf::actor_system_config cfg;
  phx::add_message_types(cfg);
  phx_test::apply_test_scheduler(cfg, [](auto& c) { phx::tune_scheduler(c); });
  caf::actor_system sys{cfg};
  phx::socket::options opts;
  opts.log_level = phx::log_level::error;
  opts.timeout = push_timeout_ms;
  phx_test::with_test_transport(opts);
  phx::socket sock{sys, server.url(), opts};
  sock.connect();
  auto ch = sock.channel("room:flow");
  BOOST_REQUIRE_EQUAL(PHX_REQUIRE_VALUE(ch.join().wait_for(10s)).status, "ok");
  auto rss_before = rss_kib();
  std::atomic<long> rss_peak{rss_before};
  std::atomic<int> got{0};
  std::atomic<bool> in_order{true};
  std::atomic<uint64_t> sink{0};
  phx_test::recorder done;
  ch.on("flood", [&](const phx::payload& p) {
    sink += chew(p);
    int n = ++got;
    // Each flood counts 1..per_flood: check the order within it.
    if (p.json()["i"].GetInt() != (n - 1) % per_flood + 1)
      in_order = false;
    if (n % 20000 == 0) {
      auto now = rss_kib();
      if (now > rss_peak)
        rss_peak = now;
    }
    if (n == total)
      done.add("all");
  });
  for (int i = 0; i < floods; ++i) {
    auto out = ch.push("flood", phx::object({{"n", per_flood}})).wait_for(flood_wait);
    BOOST_REQUIRE(out);
    BOOST_REQUIRE_EQUAL(out->status, "ok");
  }
  BOOST_REQUIRE_MESSAGE(done.wait_for("all", 120s), "got " << got.load() << " of " << total);
  BOOST_CHECK(in_order);
  auto stats = sock.stats();
  BOOST_TEST_MESSAGE("rss before " << rss_before << " KiB, peak " << rss_peak.load()
                                   << " KiB, inbound pauses " << stats.inbound_pauses);
  if (phx_test::io_scheduler_run()) {
    // The io thread runs the callbacks too: it reads again only once they
    // are done, so the credit is never used up and reads never need a pause.
    BOOST_CHECK_EQUAL(stats.inbound_pauses, 0u);
  } else {
    // The callbacks run on a CAF worker: the io thread is held back by the credit.
    BOOST_CHECK_GT(stats.inbound_pauses, 0u);
  }
  // Without backpressure a million queued events would take hundreds of MiB.
  // Over long-poll one poll answer carries all the server buffered (a whole
  // flood: Phoenix sends its buffer at once), so the bound is the server's.
  if (rss_meaningful && !phx_test::longpoll_run())
    BOOST_CHECK_LT(rss_peak.load() - rss_before, 64 * 1024);
  else
    BOOST_TEST_MESSAGE("RSS bound not checked (sanitizer or long-poll): growth "
                       << rss_peak.load() - rss_before << " KiB");
}

BOOST_AUTO_TEST_CASE(a_slow_subscriber_actor_loses_what_its_queue_cannot_hold) {
  phx_test::server_process server{server_args()};
  caf::actor_system_config cfg;
  phx::add_message_types(cfg);
  // One CAF worker (phx::tune_scheduler's docs), or the io threads in the io run.
  phx_test::apply_test_scheduler(cfg, [](auto& c) { phx::tune_scheduler(c); });
  caf::actor_system sys{cfg};
  phx::socket::options opts;
  opts.log_level = phx::log_level::error;
  opts.timeout = push_timeout_ms;
  phx_test::with_test_transport(opts);
  opts.max_subscriber_queue = 1000;
  phx::socket sock{sys, server.url(), opts};
  sock.connect();
  auto ch = sock.channel("room:flow");
  BOOST_REQUIRE_EQUAL(PHX_REQUIRE_VALUE(ch.join().wait_for(10s)).status, "ok");
  auto rss_before = rss_kib();
  std::atomic<int> got{0};
  // The slowest subscriber there is: it leaves every event in its mailbox
  // (holding its ticket) until told to go, then consumes them all.
  auto stalled = sys.spawn([&got](caf::event_based_actor* self) -> caf::behavior {
      self->set_default_handler(caf::skip);
      return {[self, &got](caf::ok_atom) {
        self->become(caf::behavior{
          [&got](phx::event_atom, phx::protocol::message& m, std::string&, phx::flow_ticket&) {
            if (m.event == "flood")
              ++got;
          },
          [](phx::state_atom, std::string&, phx::channel_state) {},
          [](phx::join_atom, std::string&, phx::reply&) {},
        });
      }};
    });
  auto sub = caf::actor_cast<phx::channel_subscriber_actor>(stalled);
  caf::anon_send(ch.actor(), phx::subscribe_atom::value, sub);
  long rss_peak = rss_before;
  for (int i = 0; i < floods; ++i) {
    auto out = ch.push("flood", phx::object({{"n", per_flood}})).wait_for(flood_wait);
    BOOST_REQUIRE(out);
    BOOST_REQUIRE_EQUAL(out->status, "ok");
    rss_peak = std::max(rss_peak, rss_kib());
  }
  caf::anon_send(stalled, caf::ok_atom::value);
  // Every event was either delivered or dropped and counted.
  phx::channel_stats stats;
  phx_test::recorder settled;
  for (int attempt = 0; attempt < 600; ++attempt) {
    caf::scoped_actor self{sys};
    self->request(ch.actor(), 5s, phx::stats_atom::value)
      .receive([&](phx::channel_stats s) { stats = s; }, [](caf::error&) {});
    if (got.load() + static_cast<long>(stats.subscriber_overflows) >= total)
      break;
    settled.wait([](auto&) { return false; }, 100ms); // bounded wait between polls
  }
  BOOST_TEST_MESSAGE("delivered " << got.load() << ", dropped " << stats.subscriber_overflows
                                  << ", rss growth " << rss_peak - rss_before << " KiB");
  BOOST_CHECK_EQUAL(got.load() + static_cast<long>(stats.subscriber_overflows), total);
  // The queue holds 1000 messages: everything beyond them was dropped.
  BOOST_CHECK_GT(got.load(), 0);
  BOOST_CHECK_LE(got.load(), 1000);
  // Over long-poll a poll answer brings a whole flood at once (see above).
  if (rss_meaningful && !phx_test::longpoll_run())
    BOOST_CHECK_LT(rss_peak - rss_before, 64 * 1024);
  else
    BOOST_TEST_MESSAGE("RSS bound not checked (sanitizer or long-poll): growth "
                       << rss_peak - rss_before << " KiB");
  caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
}
