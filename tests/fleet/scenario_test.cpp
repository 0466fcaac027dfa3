// Scenario parsing: valid scenarios parse, every wrong field is named by its
// path, and --users scales populations in proportion.

#include <boost/test/unit_test.hpp>

#include <string>

#include "scenario/scenario.hpp"
#include "scenario/template.hpp"

using namespace phx::fleet;

namespace {

const std::string valid = R"({
  "name": "chat",
  "seed": 7,
  "targets": ["ws://127.0.0.1:4000/socket"],
  "socket": {"params": {"user": "u{{i}}"}, "heartbeat_ms": 5000, "reconnect_ms": [100, 500]},
  "population": [{
    "name": "chatters", "users": 10,
    "phases": [{"ramp": {"to": 10, "over_s": 2}}, {"hold": {"for_s": 3}}],
    "steps": [
      {"join": "room:lobby", "params": {"n": "{{i}}"}},
      {"push": "echo", "payload": {"hi": 1}, "rate": 2, "count": 4},
      {"loop": 3, "steps": [{"push": "shout", "template": {"from": "{{i}}"}}, {"think": [10, 20]}]},
      {"wait": "shout", "timeout_ms": 100},
      {"rejoin": "room:lobby"},
      {"leave": "room:lobby"}
    ]
  }],
  "faults": [{"at_s": 2, "kind": "kill_all"}],
  "thresholds": {"push_p99_ms": 50, "error_rate": {"limit": 0.01, "abort_on_fail": true}}
})";

// Replaces the first occurrence of `from` in the valid scenario.
std::string with(const std::string& from, const std::string& to) {
  auto s = valid;
  auto pos = s.find(from);
  BOOST_REQUIRE_MESSAGE(pos != std::string::npos, "test bug: '" << from << "' not in scenario");
  return s.replace(pos, from.size(), to);
}

std::string error_of(const std::string& json) {
  auto [sc, err] = parse_scenario(json);
  BOOST_REQUIRE_MESSAGE(!sc, "expected a rejection of: " << json);
  return err.text();
}

} // namespace

BOOST_AUTO_TEST_SUITE(fleet_scenario)

BOOST_AUTO_TEST_CASE(valid_scenario_parses_every_field) {
  auto [sc, err] = parse_scenario(valid);
  BOOST_REQUIRE_MESSAGE(sc, err.text());
  BOOST_CHECK_EQUAL(sc->name, "chat");
  BOOST_CHECK_EQUAL(*sc->seed, 7u);
  BOOST_CHECK_EQUAL(sc->targets[0].admin, "http://127.0.0.1:4000");
  BOOST_CHECK_EQUAL(sc->socket.heartbeat_ms, 5000u);
  auto& pop = sc->populations.at(0);
  BOOST_CHECK_EQUAL(pop.users, 10u);
  BOOST_REQUIRE_EQUAL(pop.steps.size(), 6u);
  BOOST_CHECK(pop.steps[1].what == step::kind::push);
  BOOST_CHECK_EQUAL(pop.steps[1].topic, "room:lobby"); // taken from the join above
  BOOST_CHECK_EQUAL(pop.steps[1].rate, 2.0);
  BOOST_CHECK_EQUAL(pop.steps[2].steps.size(), 2u);
  BOOST_CHECK_EQUAL(pop.steps[2].steps[1].max_ms, 20u);
  BOOST_CHECK_EQUAL(sc->length_s(), 5.0);
  BOOST_REQUIRE_EQUAL(sc->thresholds.size(), 2u);
  BOOST_CHECK(sc->thresholds[1].abort_on_fail);
}

BOOST_AUTO_TEST_CASE(wrong_fields_are_named_by_their_path) {
  BOOST_CHECK_EQUAL(error_of(with(R"("rate": 2)", R"("rate": "fast")")),
                    "population[0].steps[1].rate: expected a number");
  BOOST_CHECK_EQUAL(error_of(with(R"("users": 10)", R"("users": -1)")),
                    "population[0].users: expected a number in [0, 1e+07], got -1");
  BOOST_CHECK_EQUAL(error_of(with(R"({"think": [10, 20]})", R"({"think": [20, 10]})")),
                    "population[0].steps[2].steps[1].think: expected milliseconds, or [min_ms, max_ms] with min <= max");
  BOOST_CHECK_EQUAL(error_of(with(R"("kind": "kill_all")", R"("kind": "reboot")")),
                    "faults[0].kind: expected disconnect_all, kill_all, disconnect, stall or broadcast");
  BOOST_CHECK_EQUAL(error_of(with(R"("push_p99_ms": 50)", R"("push_p99.9_ms": 50)")).substr(0, 33),
                    "thresholds.push_p99.9_ms: unknown");
  BOOST_CHECK_EQUAL(error_of(with(R"("heartbeat_ms")", R"("heartbeat")")).substr(0, 31),
                    "socket.heartbeat: unknown field");
  BOOST_CHECK_EQUAL(error_of(with(R"({"ramp": {"to": 10, "over_s": 2}})",
                                  R"({"ramp": {"to": 11, "over_s": 2}})")),
                    "population[0].phases[0].ramp.to: expected at most the population's users (10)");
  BOOST_CHECK_EQUAL(error_of(with(R"("ws://127.0.0.1:4000/socket")", R"("localhost")")),
                    "targets[0]: expected a ws://, wss://, http:// or https:// URL with a host, got 'localhost'");
  BOOST_CHECK_EQUAL(error_of(with(R"({"leave": "room:lobby"})", R"({"leave": "room:lobby", "join": "x"})")),
                    "population[0].steps[5]: one step per object: both join and leave");
  BOOST_CHECK_EQUAL(error_of(valid + "x").substr(0, 19),
                    "not valid JSON at l");
}

BOOST_AUTO_TEST_CASE(workers_section_says_what_happens_to_a_lost_workers_users) {
  auto [sc, err] = parse_scenario(valid);
  BOOST_REQUIRE(sc);
  BOOST_CHECK(sc->workers.respawn); // by default a lost worker's users come back
  BOOST_CHECK_EQUAL(sc->workers.recovery_s, 10.0);
  auto off = with(R"("seed": 7,)", R"("seed": 7, "workers": {"respawn": false, "recovery_s": 3},)");
  auto [sc2, err2] = parse_scenario(off);
  BOOST_REQUIRE_MESSAGE(sc2, err2.text());
  BOOST_CHECK(!sc2->workers.respawn);
  BOOST_CHECK_EQUAL(sc2->workers.recovery_s, 3.0);
  BOOST_CHECK_EQUAL(error_of(with(R"("seed": 7,)", R"("seed": 7, "workers": {"respawn": 1},)")),
                    "workers.respawn: expected true or false");
  BOOST_CHECK_EQUAL(error_of(with(R"("seed": 7,)", R"("seed": 7, "workers": {"recovery_s": -1},)"))
                      .substr(0, 30),
                    "workers.recovery_s: expected a");
  BOOST_CHECK_EQUAL(error_of(with(R"("seed": 7,)", R"("seed": 7, "workers": {"respawn_s": 1},)"))
                      .substr(0, 35),
                    "workers.respawn_s: unknown field (k");
  BOOST_CHECK_EQUAL(error_of(with(R"("seed": 7,)", R"("seed": 7, "workers": true,)")),
                    "workers: expected an object");
}

BOOST_AUTO_TEST_CASE(missing_sections_are_named) {
  BOOST_CHECK_EQUAL(error_of(R"({"population": []})"), "targets: missing (expected an array of URLs)");
  BOOST_CHECK_EQUAL(error_of(R"({"targets": ["ws://h/socket"]})"),
                    "population: missing (expected an array of populations)");
  BOOST_CHECK_EQUAL(error_of(R"({"targets": ["ws://h/socket"], "population": [{"users": 1, "steps": [{"push": "echo"}]}]})"),
                    "population[0].steps[0].topic: missing (no join before this step to take it from)");
}

BOOST_AUTO_TEST_CASE(users_override_scales_populations_in_proportion) {
  auto [sc, err] = parse_scenario(valid);
  BOOST_REQUIRE(sc);
  sc->scale_users(500);
  BOOST_CHECK_EQUAL(sc->total_users(), 500u);
  BOOST_CHECK_EQUAL(sc->populations[0].phases[0].to, 500.0);
}

BOOST_AUTO_TEST_CASE(templates_expand_index_counter_and_seeded_random) {
  template_vars v;
  v.i = 42;
  v.n = 3;
  v.pop = "p";
  rng a{1}, b{1};
  BOOST_CHECK_EQUAL(expand("u{{i}}-{{n}}-{{pop}}-{{x}}", v, a), "u42-3-p-{{x}}");
  // The same seed gives the same {{rand}}: runs are reproducible.
  BOOST_CHECK_EQUAL(expand("{{rand}}", v, a), expand("{{rand}}", v, b));
}

BOOST_AUTO_TEST_CASE(shipped_examples_are_valid_scenarios) {
  for (const char* name : {"chat", "fanin", "storm"}) {
    auto [sc, err] = load_scenario(std::string{PHX_SOURCE_DIR} + "/examples/fleet/" + name + ".json");
    BOOST_CHECK_MESSAGE(sc, name << ": " << err.text());
  }
}

BOOST_AUTO_TEST_SUITE_END()
