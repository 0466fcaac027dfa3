// The jitter of the RECONNECT and REJOIN SUPERVISORS (socket_options::
// reconnect_jitter_ms, rejoin_jitter_ms, random): each delay is its backoff
// step plus floor(window * random), drawn inside the actor, in virtual time.
#include "fixture.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <vector>

using namespace phx_test;
using phx::channel_state;

namespace {

/// A random source that yields `draws` in turn (then the last one again) and
/// counts how often the actors asked.
struct scripted_random {
  std::vector<double> draws;
  std::shared_ptr<size_t> calls = std::make_shared<size_t>(0);

  std::function<double()> source() const {
    return [draws = draws, calls = calls] { return draws[std::min((*calls)++, draws.size() - 1)]; };
  }
};

int64_t millis(caf::timespan t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t).count();
}

/// The connection attempt fails; returns the virtual ms until the next one.
int64_t ms_until_reconnect(fixture& f) {
  f.fail("connection refused");
  auto before = f.transports.size();
  return millis(f.advance_until([&] { return f.transports.size() > before; }, 20s));
}

/// Options for the rejoin tests: no heartbeat, so the channel's rejoins are
/// the only frames sent while the test waits.
phx::socket_options quiet(phx::socket_options opts) {
  opts.heartbeat_interval = caf::timespan{0};
  return opts;
}

/// Joins `c`, then the server errors it: the rejoin supervisor takes over.
void join_then_error(fixture& f, const std::shared_ptr<fixture::chan>& c) {
  auto jr = f.join_ok(c);
  f.receive_text("[\"" + jr + "\",\"" + jr + "\",\"room:a\",\"phx_error\",{}]");
  BOOST_REQUIRE(f.state_of(c) == channel_state::errored);
}

/// Virtual ms until the channel's next frame, which must be its rejoin; the
/// server refuses it, so that the next rejoin is scheduled with a fresh draw.
int64_t ms_until_rejoin(fixture& f) {
  auto before = f.current()->frames.size();
  auto waited = f.advance_until([&] { return f.current()->frames.size() > before; }, 20s);
  auto j = f.last_sent();
  BOOST_REQUIRE_EQUAL(j.event, "phx_join");
  BOOST_REQUIRE(j.ref);
  f.reply(j.join_ref, *j.ref, "room:a", "error");
  return millis(waited);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(jitter, fixture)

// -- reconnect ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(reconnects_after_the_step_plus_the_window_times_options_random) {
  scripted_random rnd{{0.0, 0.25, 0.5, 0.999}};
  auto opts = options();
  opts.reconnect_after_ms = [](uint32_t) -> int64_t { return 1000; };
  opts.reconnect_jitter_ms = 400;
  opts.random = rnd.source();
  start(std::move(opts));
  connect();
  std::vector<int64_t> gaps;
  for (size_t i = 0; i < rnd.draws.size(); ++i)
    gaps.push_back(ms_until_reconnect(*this));
  // 1000 + floor(400 * u) for u = 0, 0.25, 0.5, 0.999.
  std::vector<int64_t> want = {1000, 1100, 1200, 1399};
  BOOST_CHECK_EQUAL_COLLECTIONS(gaps.begin(), gaps.end(), want.begin(), want.end());
  BOOST_CHECK_EQUAL(*rnd.calls, rnd.draws.size());
}

BOOST_AUTO_TEST_CASE(reconnect_jitter_is_added_to_each_backoff_step) {
  scripted_random rnd{{0.5}};
  auto opts = options();
  opts.reconnect_jitter_ms = 1000;
  opts.random = rnd.source();
  start(std::move(opts));
  connect();
  std::vector<int64_t> gaps;
  for (int i = 0; i < 5; ++i)
    gaps.push_back(ms_until_reconnect(*this));
  // The default steps 1, 2, 5, 10, 10 s, each plus 500 ms.
  std::vector<int64_t> want = {1500, 2500, 5500, 10500, 10500};
  BOOST_CHECK_EQUAL_COLLECTIONS(gaps.begin(), gaps.end(), want.begin(), want.end());
}

BOOST_AUTO_TEST_CASE(reconnect_jitter_of_the_built_in_source_stays_inside_its_window) {
  auto opts = options();
  opts.reconnect_after_ms = [](uint32_t) -> int64_t { return 1000; };
  opts.reconnect_jitter_ms = 500;
  start(std::move(opts));
  connect();
  std::set<int64_t> seen;
  for (int i = 0; i < 20; ++i) {
    auto gap = ms_until_reconnect(*this);
    BOOST_CHECK_GE(gap, 1000);
    BOOST_CHECK_LT(gap, 1500);
    seen.insert(gap);
  }
  // 20 draws of 500 values all alike would mean no jitter at all (odds 500^-19).
  BOOST_CHECK_GT(seen.size(), 1u);
}

BOOST_AUTO_TEST_CASE(a_random_source_outside_zero_to_one_never_leaves_the_window) {
  scripted_random rnd{{1.0, 7.5, -0.5, std::numeric_limits<double>::quiet_NaN()}};
  auto opts = options();
  opts.reconnect_after_ms = [](uint32_t) -> int64_t { return 1000; };
  opts.reconnect_jitter_ms = 400;
  opts.random = rnd.source();
  start(std::move(opts));
  connect();
  std::vector<int64_t> gaps;
  for (size_t i = 0; i < rnd.draws.size(); ++i)
    gaps.push_back(ms_until_reconnect(*this));
  // At most the window's last millisecond; below zero or NaN: no jitter.
  std::vector<int64_t> want = {1399, 1399, 1000, 1000};
  BOOST_CHECK_EQUAL_COLLECTIONS(gaps.begin(), gaps.end(), want.begin(), want.end());
}

BOOST_AUTO_TEST_CASE(no_reconnect_window_means_the_exact_steps_and_no_draw) {
  scripted_random rnd{{0.9}};
  auto opts = options();
  opts.random = rnd.source();
  start(std::move(opts));
  connect();
  std::vector<int64_t> gaps;
  for (int i = 0; i < 3; ++i)
    gaps.push_back(ms_until_reconnect(*this));
  std::vector<int64_t> want = {1000, 2000, 5000};
  BOOST_CHECK_EQUAL_COLLECTIONS(gaps.begin(), gaps.end(), want.begin(), want.end());
  BOOST_CHECK_EQUAL(*rnd.calls, 0u);
}

// -- rejoin ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(rejoins_after_the_step_plus_the_window_times_options_random) {
  scripted_random rnd{{0.1, 0.5, 0.9}};
  auto opts = quiet(options());
  opts.rejoin_after_ms = [](uint32_t) -> int64_t { return 1000; };
  opts.rejoin_jitter_ms = 300;
  opts.random = rnd.source();
  start(std::move(opts));
  connect_and_open();
  join_then_error(*this, channel("room:a"));
  std::vector<int64_t> gaps;
  for (size_t i = 0; i < rnd.draws.size(); ++i)
    gaps.push_back(ms_until_rejoin(*this));
  // 1000 + floor(300 * u) for u = 0.1, 0.5, 0.9.
  std::vector<int64_t> want = {1030, 1150, 1270};
  BOOST_CHECK_EQUAL_COLLECTIONS(gaps.begin(), gaps.end(), want.begin(), want.end());
  // One draw per rejoin scheduled: the last refusal scheduled a fourth.
  BOOST_CHECK_EQUAL(*rnd.calls, rnd.draws.size() + 1);
}

BOOST_AUTO_TEST_CASE(rejoin_jitter_is_added_to_each_backoff_step) {
  scripted_random rnd{{0.25}};
  auto opts = quiet(options());
  opts.rejoin_jitter_ms = 800;
  opts.random = rnd.source();
  start(std::move(opts));
  connect_and_open();
  join_then_error(*this, channel("room:a"));
  std::vector<int64_t> gaps;
  for (int i = 0; i < 4; ++i)
    gaps.push_back(ms_until_rejoin(*this));
  // The default steps 1, 2, 5, 10 s, each plus 200 ms.
  std::vector<int64_t> want = {1200, 2200, 5200, 10200};
  BOOST_CHECK_EQUAL_COLLECTIONS(gaps.begin(), gaps.end(), want.begin(), want.end());
}

BOOST_AUTO_TEST_CASE(rejoin_jitter_of_the_built_in_source_stays_inside_its_window) {
  auto opts = quiet(options());
  opts.rejoin_after_ms = [](uint32_t) -> int64_t { return 1000; };
  opts.rejoin_jitter_ms = 500;
  start(std::move(opts));
  connect_and_open();
  join_then_error(*this, channel("room:a"));
  std::set<int64_t> seen;
  for (int i = 0; i < 20; ++i) {
    auto gap = ms_until_rejoin(*this);
    BOOST_CHECK_GE(gap, 1000);
    BOOST_CHECK_LT(gap, 1500);
    seen.insert(gap);
  }
  // 20 draws of 500 values all alike would mean no jitter at all (odds 500^-19).
  BOOST_CHECK_GT(seen.size(), 1u);
}

BOOST_AUTO_TEST_CASE(no_rejoin_window_means_the_exact_steps_and_no_draw) {
  scripted_random rnd{{0.9}};
  auto opts = quiet(options());
  opts.random = rnd.source();
  start(std::move(opts));
  connect_and_open();
  join_then_error(*this, channel("room:a"));
  std::vector<int64_t> gaps;
  for (int i = 0; i < 3; ++i)
    gaps.push_back(ms_until_rejoin(*this));
  std::vector<int64_t> want = {1000, 2000, 5000};
  BOOST_CHECK_EQUAL_COLLECTIONS(gaps.begin(), gaps.end(), want.begin(), want.end());
  BOOST_CHECK_EQUAL(*rnd.calls, 0u);
}

BOOST_AUTO_TEST_SUITE_END()
