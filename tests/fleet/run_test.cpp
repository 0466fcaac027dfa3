// Whole runs of phx-fleet against a phx-server child on 127.0.0.1: ~500 users
// in one process, a server restart mid-run, every exit code, a crashing user.

#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <sstream>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "fleet_process.hpp"
#include "phx_test/server_process.hpp"

using fleet_test::run_fleet;
using fleet_test::scratch_dir;
using fleet_test::slurp;
using fleet_test::write_file;

namespace {

rapidjson::Document read_json(const std::string& path) {
  rapidjson::Document doc;
  auto text = slurp(path);
  doc.Parse(text.c_str());
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError() && doc.IsObject(), path << " is not a JSON object: " << text);
  return doc;
}

std::vector<std::vector<std::string>> read_csv(const std::string& path, std::string& header) {
  std::istringstream in{slurp(path)};
  std::getline(in, header);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream ls{line};
    while (std::getline(ls, cell, ','))
      cells.push_back(cell);
    if (!line.empty() && line.back() == ',')
      cells.emplace_back();
    rows.push_back(cells);
  }
  return rows;
}

const char* const contract_header =
  "t_s,users_connecting,users_open,users_joined,pushes_sent,replies_ok,replies_error,timeouts,"
  "failed,errors,push_p50_ms,push_p90_ms,push_p99_ms,push_max_ms,join_p99_ms,lag_p99_ms";

// A small scenario against `url`: `users` users join and push echo at 2/s.
std::string small_scenario(const std::string& url, int users, const std::string& thresholds,
                           double duration_s = 2) {
  return R"({"name": "small", "seed": 3, "duration_s": )" + std::to_string(duration_s)
         + R"(, "targets": [")" + url + R"("],
    "socket": {"params": {"user": "u{{i}}"}, "reconnect_ms": [200]},
    "population": [{"users": )" + std::to_string(users) + R"(,
      "steps": [{"join": "room:small"}, {"push": "echo", "payload": {"x": 1}, "rate": 2, "forever": true}]}],
    "thresholds": )" + thresholds + "}";
}

} // namespace

BOOST_AUTO_TEST_SUITE(fleet_run)

BOOST_AUTO_TEST_CASE(five_hundred_users_join_push_and_meet_thresholds) {
  phx_test::server_process srv;
  auto dir = scratch_dir("five_hundred");
  write_file(dir + "/scenario.json", R"({
    "name": "five-hundred", "seed": 11, "duration_s": 7,
    "targets": [")" + srv.url() + R"("],
    "socket": {"params": {"user": "u{{i}}"}, "reconnect_jitter_ms": 200},
    "population": [
      {"name": "echo", "users": 490,
       "phases": [{"ramp": {"to": 490, "over_s": 2}}, {"hold": {"for_s": 5}}],
       "steps": [{"join": "room:fleet"},
                 {"push": "echo", "template": {"i": "{{i}}", "n": "{{n}}"}, "rate": 1, "forever": true}]},
      {"name": "presence", "users": 10,
       "steps": [{"join": "presence:fleet"}, {"think": 100}, {"push": "echo", "count": 3}]}
    ],
    "thresholds": {"min_joined_peak": 500, "min_joined_end": 500, "error_rate": 0.001,
                   "push_p99_ms": 5000, "join_p99_ms": 5000}
  })");
  auto r = run_fleet({"run", dir + "/scenario.json", "--report", dir + "/report", "--events",
                      dir + "/events.ndjson"}, dir, 120);
  BOOST_TEST_MESSAGE(r.out);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "exit " << r.exit_code << "\n" << r.out << r.err);
  auto s = read_json(dir + "/report/summary.json");
  BOOST_CHECK_EQUAL(s["scenario"].GetString(), std::string{"five-hundred"});
  BOOST_CHECK_EQUAL(s["seed"].GetUint64(), 11u);
  BOOST_CHECK_EQUAL(s["users"]["target"].GetInt(), 500);
  BOOST_CHECK_EQUAL(s["users"]["joined_peak"].GetInt(), 500);
  BOOST_CHECK_EQUAL(s["users"]["joined_end"].GetInt(), 500);
  BOOST_CHECK_EQUAL(s["outcomes"]["join"]["ok"].GetInt(), 500);
  BOOST_CHECK_EQUAL(s["outcomes"]["connect"]["ok"].GetInt(), 500);
  // About 490 users x 1 push/s over 5 s or more, and 30 closed-loop pushes.
  BOOST_CHECK_GT(s["outcomes"]["push"]["ok"].GetInt(), 2000);
  BOOST_CHECK_EQUAL(s["latency_ms"]["push"]["count"].GetInt(), s["outcomes"]["push"]["ok"].GetInt());
  BOOST_CHECK_GT(s["generator_lag_ms"]["count"].GetInt(), 2000);
  BOOST_CHECK(s["push_histogram"].IsArray() && s["push_histogram"].Size() > 0);
  BOOST_CHECK_EQUAL(s["exit_code"].GetInt(), 0);
  BOOST_REQUIRE_EQUAL(s["thresholds"].Size(), 5u);
  for (auto& t : s["thresholds"].GetArray())
    BOOST_CHECK_MESSAGE(t["met"].GetBool(), t["name"].GetString() << " missed");
  std::string header;
  auto rows = read_csv(dir + "/report/series.csv", header);
  BOOST_CHECK_EQUAL(header, contract_header);
  BOOST_REQUIRE_GE(rows.size(), 6u);
  BOOST_CHECK_EQUAL(rows.back().size(), 16u);
  BOOST_CHECK_EQUAL(rows.back()[3], "500");
  // NDJSON: a row a second, and presence seen by the presence population.
  auto events = slurp(dir + "/events.ndjson");
  BOOST_CHECK_NE(events.find("\"type\":\"second\""), std::string::npos);
  BOOST_CHECK_NE(events.find("\"presence\":10"), std::string::npos);
  BOOST_CHECK_NE(events.find("\"type\":\"end\""), std::string::npos);
}

BOOST_AUTO_TEST_CASE(server_restart_mid_run_shows_loss_and_recovery_in_series) {
  phx_test::server_process srv;
  auto dir = scratch_dir("restart");
  write_file(dir + "/scenario.json", R"({
    "name": "restart", "seed": 5, "duration_s": 9,
    "targets": [")" + srv.url() + R"("],
    "socket": {"params": {"user": "u{{i}}"}, "reconnect_ms": [100, 200, 300],
               "rejoin_ms": [100, 200], "reconnect_jitter_ms": 100},
    "population": [{"users": 40, "steps": [{"join": "room:restart"},
                                          {"push": "echo", "rate": 2, "forever": true}]}],
    "thresholds": {"min_joined_end": 40}
  })");
  bool killed = false, restarted = false;
  auto r = run_fleet({"run", dir + "/scenario.json", "--report", dir + "/report"}, dir, 120,
                     [&](pid_t, double t) {
                       // Down for 1.5 s, so that at least one second's row sees it.
                       if (!killed && t > 3.0) {
                         srv.kill();
                         killed = true;
                       } else if (killed && !restarted && t > 4.5) {
                         srv.restart();
                         restarted = true;
                       }
                     });
  BOOST_REQUIRE(restarted);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "exit " << r.exit_code << "\n" << r.out << r.err);
  std::string header;
  auto rows = read_csv(dir + "/report/series.csv", header);
  // Joined 40, then fewer while the server is down, then 40 again.
  size_t full = rows.size(), dip = rows.size(), back = rows.size();
  for (size_t i = 0; i < rows.size(); ++i) {
    auto joined = std::stoi(rows[i][3]);
    if (full == rows.size() && joined == 40)
      full = i;
    else if (full < i && dip == rows.size() && joined < 40)
      dip = i;
    else if (dip < i && back == rows.size() && joined == 40)
      back = i;
  }
  BOOST_CHECK_MESSAGE(full < dip && dip < back, "series.csv:\n" << slurp(dir + "/report/series.csv"));
  auto s = read_json(dir + "/report/summary.json");
  BOOST_CHECK_GE(s["latency_ms"]["recover"]["count"].GetInt(), 40);
  BOOST_CHECK(s["errors"].HasMember("close_1006"));
  BOOST_CHECK_GT(s["outcomes"]["join"]["ok"].GetInt(), 40); // rejoins after the restart
}

BOOST_AUTO_TEST_CASE(thresholds_give_exit_code_zero_when_met_and_one_when_missed) {
  phx_test::server_process srv;
  auto dir = scratch_dir("exit01");
  write_file(dir + "/met.json", small_scenario(srv.url(), 5, R"({"push_p99_ms": 60000})"));
  write_file(dir + "/missed.json", small_scenario(srv.url(), 5, R"({"push_p99_ms": 0.000001})"));
  auto met = run_fleet({"run", dir + "/met.json", "--report", dir + "/met"}, dir, 60);
  BOOST_CHECK_MESSAGE(met.exit_code == 0, met.out << met.err);
  auto missed = run_fleet({"run", dir + "/missed.json", "--report", dir + "/missed"}, dir, 60);
  BOOST_CHECK_MESSAGE(missed.exit_code == 1, missed.out << missed.err);
  auto s = read_json(dir + "/missed/summary.json");
  BOOST_CHECK_EQUAL(s["exit_code"].GetInt(), 1);
  BOOST_CHECK(!s["thresholds"][0]["met"].GetBool());
}

BOOST_AUTO_TEST_CASE(bad_scenario_and_bad_usage_give_exit_code_two) {
  auto dir = scratch_dir("exit2");
  auto bad = small_scenario("ws://127.0.0.1:1/socket", 5, "{}");
  bad.replace(bad.find("\"rate\": 2"), 9, "\"rate\": \"x\"");
  write_file(dir + "/bad.json", bad);
  auto r = run_fleet({"run", dir + "/bad.json"}, dir, 30);
  BOOST_CHECK_EQUAL(r.exit_code, 2);
  BOOST_CHECK_NE(r.err.find("population[0].steps[1].rate: expected a number"), std::string::npos);
  auto usage = run_fleet({"run", dir + "/bad.json", "--users", "many"}, dir, 30);
  BOOST_CHECK_EQUAL(usage.exit_code, 2);
  BOOST_CHECK_NE(usage.err.find("--users"), std::string::npos);
  auto missing = run_fleet({"run", dir + "/nothing.json"}, dir, 30);
  BOOST_CHECK_EQUAL(missing.exit_code, 2);
}

BOOST_AUTO_TEST_CASE(abort_on_fail_threshold_and_signal_give_exit_code_three) {
  uint16_t dead_port = 0;
  {
    phx_test::server_process srv; // its port, once it is gone, refuses connections
    dead_port = srv.port();
  }
  auto dir = scratch_dir("exit3");
  auto url = "ws://127.0.0.1:" + std::to_string(dead_port) + "/socket";
  write_file(dir + "/refused.json",
             small_scenario(url, 5, R"({"error_rate": {"limit": 0.5, "abort_on_fail": true, "delay_s": 1}})", 30));
  auto r = run_fleet({"run", dir + "/refused.json", "--report", dir + "/refused"}, dir, 60);
  BOOST_CHECK_MESSAGE(r.exit_code == 3, r.out << r.err);
  auto s = read_json(dir + "/refused/summary.json");
  BOOST_CHECK_EQUAL(s["exit_code"].GetInt(), 3);
  BOOST_CHECK_LT(s["duration_s"].GetDouble(), 10.0);
  BOOST_CHECK(s["errors"].HasMember("connect_refused (ECONNREFUSED)"));

  phx_test::server_process srv;
  write_file(dir + "/long.json", small_scenario(srv.url(), 5, "{}", 60));
  bool sent = false;
  auto sig = run_fleet({"run", dir + "/long.json"}, dir, 60, [&](pid_t pid, double t) {
    if (!sent && t > 1.5) {
      ::kill(pid, SIGINT);
      sent = true;
    }
  });
  BOOST_CHECK_MESSAGE(sig.exit_code == 3, sig.out << sig.err);
}

BOOST_AUTO_TEST_CASE(crashing_user_is_restarted_and_the_fleet_goes_on) {
  phx_test::server_process srv;
  auto dir = scratch_dir("crash");
  write_file(dir + "/scenario.json", R"({
    "name": "crash", "duration_s": 4, "targets": [")" + srv.url() + R"("],
    "population": [
      {"name": "steady", "users": 5, "steps": [{"join": "room:c"}]},
      {"name": "crashing", "users": 2, "steps": [{"join": "room:c"}, {"think": 200}, {"crash": true}]}
    ],
    "thresholds": {"min_joined_end": 5}
  })");
  auto r = run_fleet({"run", dir + "/scenario.json", "--report", dir + "/report"}, dir, 60);
  BOOST_CHECK_MESSAGE(r.exit_code == 0, r.out << r.err);
  auto s = read_json(dir + "/report/summary.json");
  BOOST_REQUIRE(s["errors"].HasMember("user_restart"));
  BOOST_CHECK_GE(s["errors"]["user_restart"].GetInt(), 4);
}

BOOST_AUTO_TEST_CASE(phoenix_steps_meet_their_expectations) {
  phx_test::server_process srv;
  auto dir = scratch_dir("steps");
  write_file(dir + "/scenario.json", R"({
    "name": "steps", "duration_s": 4, "targets": [")" + srv.url() + R"("],
    "population": [{"users": 5, "steps": [
      {"join": "room:s"},
      {"push": "shout", "template": {"from": "{{i}}"}},
      {"wait": "shout", "timeout_ms": 2000},
      {"rejoin": "room:s"},
      {"push": "echo_error", "expect": "error"},
      {"leave": "room:s"},
      {"join": "room:refused", "params": {"fail": true}, "expect": "error"},
      {"join": "presence:s"},
      {"loop": 2, "steps": [{"think": [5, 10]}, {"push": "echo", "random_size": {"min_bytes": 10, "max_bytes": 100}}]}
    ]}],
    "thresholds": {"error_rate": 0, "min_joined_end": 5}
  })");
  auto r = run_fleet({"run", dir + "/scenario.json", "--report", dir + "/report"}, dir, 60);
  BOOST_CHECK_MESSAGE(r.exit_code == 0, r.out << r.err);
  auto s = read_json(dir + "/report/summary.json");
  BOOST_CHECK_EQUAL(s["outcomes"]["join"]["ok"].GetInt(), 15);   // join, rejoin, presence
  BOOST_CHECK_EQUAL(s["outcomes"]["join"]["error"].GetInt(), 5); // refused as expected
  BOOST_CHECK_EQUAL(s["outcomes"]["push"]["ok"].GetInt(), 15);   // shout, 2 echoes
  BOOST_CHECK_EQUAL(s["outcomes"]["push"]["error"].GetInt(), 5); // echo_error as expected
  BOOST_CHECK_EQUAL(s["errors"].MemberCount(), 0u);
}

BOOST_AUTO_TEST_CASE(admin_fault_and_churn_are_recorded_and_users_recover) {
  phx_test::server_process srv;
  auto dir = scratch_dir("fault");
  write_file(dir + "/scenario.json", R"({
    "name": "fault", "seed": 9, "duration_s": 5, "targets": [")" + srv.url() + R"("],
    "socket": {"reconnect_ms": [100], "rejoin_ms": [100]},
    "population": [
      {"name": "steady", "users": 10, "steps": [{"join": "room:f"}]},
      {"name": "churning", "users": 5, "churn": {"per_min": 60, "down_ms": 200},
       "steps": [{"join": "room:f"}]}
    ],
    "faults": [{"at_s": 1.5, "kind": "disconnect_all"}]
  })");
  auto r = run_fleet({"run", dir + "/scenario.json", "--report", dir + "/report"}, dir, 60);
  BOOST_CHECK_MESSAGE(r.exit_code == 0, r.out << r.err);
  auto s = read_json(dir + "/report/summary.json");
  BOOST_REQUIRE_EQUAL(s["faults"].Size(), 1u);
  BOOST_CHECK_EQUAL(s["faults"][0]["kind"].GetString(), std::string{"disconnect_all"});
  BOOST_CHECK_NE(std::string{s["faults"][0]["detail"].GetString()}.find("-> 200"), std::string::npos);
  BOOST_CHECK(s["errors"].HasMember("close_1000"));
  // First connects are 15; churn returns are timed as connects too.
  BOOST_CHECK_GT(s["latency_ms"]["connect"]["count"].GetInt(), 15);
  BOOST_CHECK_GE(s["latency_ms"]["recover"]["count"].GetInt(), 10);
  BOOST_CHECK_EQUAL(s["users"]["joined_end"].GetInt() >= 10, true);
}

BOOST_AUTO_TEST_SUITE_END()
