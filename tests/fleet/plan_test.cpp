// The arrival plan and the thresholds: ramps, holds, ramp downs and arrival
// phases at their intended times; thresholds judged on whole-run counts.

#include <boost/test/unit_test.hpp>

#include <sys/resource.h>

#include <cmath>

#include "run/plan.hpp"
#include "run/preflight.hpp"
#include "run/results.hpp"

using namespace phx::fleet;

namespace {

scenario parse(const std::string& phases, uint64_t users = 10) {
  auto [sc, err] = parse_scenario(R"({"targets": ["ws://127.0.0.1:1/socket"], "population": [{"users": )"
                                  + std::to_string(users) + R"(, "phases": )" + phases
                                  + R"(, "steps": [{"join": "room:a"}]}]})");
  BOOST_REQUIRE_MESSAGE(sc, err.text());
  return *sc;
}

} // namespace

BOOST_AUTO_TEST_SUITE(fleet_plan)

BOOST_AUTO_TEST_CASE(ramp_spreads_starts_and_ramp_down_stops_the_latest) {
  auto sc = parse(R"([{"ramp": {"to": 10, "over_s": 2}}, {"hold": {"for_s": 1}},
                      {"ramp_down": {"to": 5, "over_s": 1}}])");
  auto p = make_plan(sc, sc.length_s());
  BOOST_REQUIRE_EQUAL(p.events.size(), 15u);
  BOOST_CHECK_EQUAL(p.events[0].at_ns, 0);
  BOOST_CHECK_EQUAL(p.events[1].at_ns, 200000000);
  BOOST_CHECK(p.events[9].start);
  BOOST_CHECK(!p.events[10].start);
  BOOST_CHECK_EQUAL(p.events[10].user, 9u); // the last started stops first
  BOOST_CHECK_EQUAL(p.users_max, 10u);
  BOOST_CHECK_EQUAL(p.phase_at(2.5), "pop0: hold 10");
}

BOOST_AUTO_TEST_CASE(arrival_phase_starts_sessions_at_a_constant_rate) {
  auto sc = parse(R"([{"arrivals": {"per_s": 4, "for_s": 2}}])");
  auto p = make_plan(sc, sc.length_s());
  BOOST_REQUIRE_EQUAL(p.events.size(), 8u);
  BOOST_CHECK_EQUAL(p.events[3].at_ns, 750000000);
  BOOST_CHECK(p.events[3].session);
}

BOOST_AUTO_TEST_CASE(events_past_the_run_length_are_dropped) {
  auto sc = parse(R"([{"ramp": {"to": 10, "over_s": 10}}])");
  auto p = make_plan(sc, 5);
  BOOST_CHECK_EQUAL(p.events.size(), 5u);
}

BOOST_AUTO_TEST_CASE(thresholds_are_upper_bounds_except_min_ones) {
  metrics m;
  m.latency(latency_kind::push, 10000000); // 10 ms
  m.outcome(op_kind::push, outcome_kind::ok);
  m.outcome(op_kind::push, outcome_kind::timeout);
  m.error("push_timeout");
  m.add_joined(3);
  auto t = m.snapshot();
  std::vector<threshold> ths(4);
  ths[0].name = "push_p99_ms";
  ths[0].limit = 20;
  ths[1].name = "error_rate";
  ths[1].limit = 0.1;
  ths[2].name = "min_joined_peak";
  ths[2].limit = 3;
  ths[3].name = "join_p99_ms"; // no sample: not met
  ths[3].limit = 100;
  auto r = evaluate(ths, t, 3);
  BOOST_CHECK(r[0].met);
  BOOST_CHECK_CLOSE(r[0].value, 10.0, 1.0);
  BOOST_CHECK(!r[1].met);
  BOOST_CHECK_CLOSE(r[1].value, 0.5, 1e-9);
  BOOST_CHECK(r[2].met);
  BOOST_CHECK(!r[3].met);
  BOOST_CHECK(std::isnan(r[3].value));
}

BOOST_AUTO_TEST_CASE(preflight_refuses_what_the_machine_cannot_hold_and_says_what_to_change) {
  auto sc = parse(R"([{"ramp": {"to": 10, "over_s": 1}}])");
  auto small = preflight(sc, 10);
  BOOST_CHECK(small.ok);
  // A million users on one destination: more sockets than ports and files.
  auto big = preflight(sc, 1000000);
  BOOST_REQUIRE(!big.ok);
  std::string all;
  for (auto& p : big.problems)
    all += p + "\n";
  BOOST_CHECK_NE(all.find("ephemeral port range"), std::string::npos);
  BOOST_CHECK_NE(all.find("more targets"), std::string::npos);
  // The open-file check depends on this machine's hard limit (20,000 here).
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < 1000000)
    BOOST_CHECK_NE(all.find("open files"), std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
