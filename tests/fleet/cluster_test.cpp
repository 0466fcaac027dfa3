// phx-fleet over several processes (docs/fleet.md, "Running across processes
// and machines"): a coordinator and worker processes of this build against a
// phx-server child, all on 127.0.0.1. A run over 2 workers whose merged
// figures equal the workers' own histograms added by hand; a worker killed
// (SIGKILL) and one frozen (SIGSTOP) mid-run, their users re-spawned on the
// other; a coordinator killed and its workers stopping their load; a worker of
// another protocol version refused; too few workers (exit 3); TLS links with
// a test CA, and nodes without a trusted certificate refused.

#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>

#include "fleet_process.hpp"
#include "node_pki.hpp"
#include "phx_test/server_process.hpp"

using fleet_test::fleet_child;
using fleet_test::scratch_dir;
using fleet_test::slurp;
using fleet_test::write_file;

namespace {

rapidjson::Document read_json(const std::string& path) {
  rapidjson::Document doc;
  auto text = slurp(path);
  doc.Parse(text.c_str());
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError() && doc.IsObject(),
                        path << " is not a JSON object: " << text);
  return doc;
}

// `users` users join and push an echo twice a second; `extra` adds top-level fields.
std::string scenario(const std::string& url, int users, double duration_s,
                     const std::string& extra = "") {
  return R"({"name": "cluster", "seed": 5, "duration_s": )" + std::to_string(duration_s)
         + R"(, "targets": [")" + url + R"("],
    "socket": {"params": {"user": "u{{i}}", "token": "SECRET-TOKEN-{{i}}"}, "reconnect_ms": [200]},
    "population": [{"users": )" + std::to_string(users) + R"(,
      "phases": [{"ramp": {"to": )" + std::to_string(users) + R"(, "over_s": 1}}],
      "steps": [{"join": "room:cluster"}, {"push": "echo", "payload": {"x": 1}, "rate": 2, "forever": true}]}])"
         + extra + "}";
}

const std::vector<std::string> insecure{"--insecure-links"};

// Fast loss detection for the tests: heartbeats every 300 ms, lost after 1.5 s of silence.
const std::vector<std::string> fast_links{"--insecure-links", "--link-heartbeat-ms", "300",
                                          "--link-timeout-ms", "1500"};

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Starts a coordinator on a free port; returns its "127.0.0.1:PORT" once it listens.
std::string listening(fleet_child& c) {
  BOOST_REQUIRE_MESSAGE(c.wait_output("listening on ", 20),
                        "the coordinator did not listen; stderr: " << c.err());
  std::smatch m;
  auto out = c.out();
  static const std::regex re{R"(listening on ([0-9.]+:[0-9]+))"};
  BOOST_REQUIRE(std::regex_search(out, m, re));
  return m[1].str();
}

// Rows of a CSV file without its header.
std::vector<std::vector<std::string>> csv_rows(const std::string& path) {
  std::istringstream in{slurp(path)};
  std::string line;
  std::getline(in, line);
  std::vector<std::vector<std::string>> rows;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream ls{line};
    while (std::getline(ls, cell, ','))
      cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

// users_joined (column 3) of the last row of series.csv.
long joined_at_end(const std::string& dir) {
  auto rows = csv_rows(dir + "/series.csv");
  BOOST_REQUIRE(!rows.empty());
  return std::stol(rows.back().at(3));
}

const rapidjson::Value& worker(const rapidjson::Document& s, size_t i) {
  BOOST_REQUIRE(s.HasMember("workers") && s["workers"].IsArray() && s["workers"].Size() > i);
  return s["workers"][static_cast<rapidjson::SizeType>(i)];
}

// Waits (bounded) until the summary of a worker being lost shows in the coordinator's output.
void require_no_token(const std::string& text, const std::string& where) {
  BOOST_TEST(text.find("SECRET-TOKEN") == std::string::npos, where << " shows a scenario token");
}

} // namespace

BOOST_AUTO_TEST_SUITE(fleet_cluster)

// Transports a phx-server holds now (its /admin/stats).
int64_t transports(phx_test::server_process& srv) {
  rapidjson::Document d;
  auto body = srv.admin("/admin/stats").body;
  d.Parse(body.c_str());
  return d.IsObject() && d.HasMember("transports") ? d["transports"].GetInt64() : -1;
}

BOOST_AUTO_TEST_CASE(two_workers_run_one_scenario_and_merge_exactly) {
  // Two targets: users spread over them by index, whichever worker runs them.
  phx_test::server_process srv;
  phx_test::server_process srv2;
  auto dir = scratch_dir("cluster_two");
  write_file(dir + "/s.json", scenario(srv.url() + R"(", ")" + srv2.url(), 40, 4));
  fleet_child coord(cat({"coordinator", "--listen", "127.0.0.1:0", "--workers", "2",
                         dir + "/s.json", "--report", dir + "/report", "--join-timeout", "20",
                         "--events", dir + "/events.ndjson"},
                        insecure),
                    dir, "coordinator");
  auto at = listening(coord);
  fleet_child w1(cat({"worker", "--coordinator", at, "--histograms-out", dir + "/w1.json"}, insecure),
                 dir, "w1");
  fleet_child w2(cat({"worker", "--coordinator", at, "--weight", "3", "--histograms-out",
                      dir + "/w2.json"},
                     insecure),
                 dir, "w2");
  BOOST_REQUIRE(coord.wait_output("t=2s", 25));
  BOOST_TEST(transports(srv) == 20);
  BOOST_TEST(transports(srv2) == 20);
  BOOST_TEST(coord.wait(40) == 0, "coordinator: " << coord.out() << coord.err());
  BOOST_TEST(w1.wait(15) == 0, "w1: " << w1.err());
  BOOST_TEST(w2.wait(15) == 0, "w2: " << w2.err());

  auto s = read_json(dir + "/report/summary.json");
  BOOST_TEST(s["respawned_users"].GetUint64() == 0u);
  uint64_t users = 0;
  for (size_t i = 0; i < 2; ++i) {
    BOOST_TEST(worker(s, i)["lost_at"].IsNull());
    users += worker(s, i)["users"].GetUint64();
  }
  BOOST_TEST(users == 40u);
  // Weights 1 and 3 over 40 users: 10 and 30 (each joined in its own order).
  std::map<double, uint64_t> by_weight;
  for (size_t i = 0; i < 2; ++i)
    by_weight[worker(s, i)["weight"].GetDouble()] = worker(s, i)["users"].GetUint64();
  BOOST_TEST(by_weight[1] == 10u);
  BOOST_TEST(by_weight[3] == 30u);
  BOOST_TEST(s["users"]["joined_end"].GetInt64() == 40);

  // Merged figures equal the workers' own histograms added by hand.
  std::map<std::string, uint64_t> sum_buckets;
  uint64_t pushes = 0, push_ok = 0, push_count = 0, join_count = 0;
  for (auto name : {"w1", "w2"}) {
    auto h = read_json(dir + "/" + name + ".json");
    pushes += h["pushes_sent"].GetUint64();
    push_ok += h["push_ok"].GetUint64();
    push_count += h["counts"]["push"].GetUint64();
    join_count += h["counts"]["join"].GetUint64();
    for (auto& b : h["push_histogram"].GetArray())
      sum_buckets[std::to_string(b[0].GetDouble())] += b[1].GetUint64();
  }
  std::map<std::string, uint64_t> merged;
  for (auto& b : s["push_histogram"].GetArray())
    merged[std::to_string(b[0].GetDouble())] += b[1].GetUint64();
  BOOST_TEST(pushes > 100u);
  BOOST_TEST((merged == sum_buckets));
  BOOST_TEST(s["latency_ms"]["push"]["count"].GetUint64() == push_count);
  BOOST_TEST(s["latency_ms"]["join"]["count"].GetUint64() == join_count);
  BOOST_TEST(s["outcomes"]["push"]["ok"].GetUint64() == push_ok);
  BOOST_TEST(join_count == 40u);

  // Per-worker seconds, and progress that names the workers.
  auto rows = csv_rows(dir + "/report/workers.csv");
  BOOST_TEST(rows.size() == 4u); // one row a second of the 4 s run
  auto events = slurp(dir + "/events.ndjson");
  BOOST_TEST(events.find("\"type\":\"workers\"") != std::string::npos);
  size_t seconds = 0;
  for (auto at = events.find("\"type\":\"second\""); at != std::string::npos;
       at = events.find("\"type\":\"second\"", at + 1))
    ++seconds;
  BOOST_TEST(seconds == 4u); // the last one too, taken once the workers' last reports came
  // `phx-fleet report DIR` draws the report again, worker charts included.
  std::remove((dir + "/report/report.html").c_str());
  auto again = fleet_test::run_fleet({"report", dir + "/report"}, dir, 30);
  BOOST_TEST(again.exit_code == 0, again.err);
  BOOST_TEST(slurp(dir + "/report/report.html").find("workers_series") != std::string::npos);
  for (auto f : {"/report/summary.json", "/report/series.csv", "/events.ndjson", "/coordinator.out",
                 "/coordinator.err", "/w1.out", "/w1.err", "/w2.out", "/w2.err"})
    require_no_token(slurp(dir + f), f);
}

BOOST_AUTO_TEST_CASE(killed_worker_users_are_respawned_on_the_other) {
  phx_test::server_process srv;
  auto dir = scratch_dir("cluster_kill");
  write_file(dir + "/s.json",
             scenario(srv.url(), 40, 9, R"(, "workers": {"respawn": true, "recovery_s": 2})"));
  fleet_child coord(cat({"coordinator", "--listen", "127.0.0.1:0", "--workers", "2",
                         dir + "/s.json", "--report", dir + "/report", "--join-timeout", "20"},
                        fast_links),
                    dir, "coordinator");
  auto at = listening(coord);
  fleet_child w1(cat({"worker", "--coordinator", at}, fast_links), dir, "w1");
  BOOST_REQUIRE(w1.wait_output("joined the coordinator", 20));
  fleet_child w2(cat({"worker", "--coordinator", at}, fast_links), dir, "w2");
  BOOST_REQUIRE(w2.wait_output("joined the coordinator", 20));
  // Both run their 20 users: kill the second 3 s into the run.
  BOOST_REQUIRE(coord.wait_output("t=3s", 20));
  w2.signal(SIGKILL);
  BOOST_TEST(coord.wait(40) == 0, "coordinator: " << coord.out() << coord.err());
  BOOST_TEST(w1.wait(15) == 0);
  BOOST_TEST(coord.out().find("worker w2") != std::string::npos);

  auto s = read_json(dir + "/report/summary.json");
  BOOST_TEST(worker(s, 0)["lost_at"].IsNull());
  BOOST_REQUIRE(worker(s, 1)["lost_at"].IsNumber());
  auto lost_at = worker(s, 1)["lost_at"].GetDouble();
  BOOST_TEST(lost_at > 2.5);
  BOOST_TEST(lost_at < 7.0); // killed once the coordinator printed its third second
  BOOST_TEST(s["respawned_users"].GetUint64() == 20u);
  BOOST_TEST(worker(s, 1)["respawned"].GetUint64() == 20u);
  BOOST_TEST(worker(s, 0)["users"].GetUint64() == 40u);
  // The population is back to its size.
  BOOST_TEST(joined_at_end(dir + "/report") == 40);
  BOOST_TEST(s["users"]["joined_end"].GetInt64() == 40);
}

BOOST_AUTO_TEST_CASE(frozen_worker_is_detected_and_treated_as_lost) {
  phx_test::server_process srv;
  auto dir = scratch_dir("cluster_freeze");
  write_file(dir + "/s.json",
             scenario(srv.url(), 30, 10, R"(, "workers": {"respawn": true, "recovery_s": 2})"));
  fleet_child coord(cat({"coordinator", "--listen", "127.0.0.1:0", "--workers", "2",
                         dir + "/s.json", "--report", dir + "/report", "--join-timeout", "20"},
                        fast_links),
                    dir, "coordinator");
  auto at = listening(coord);
  fleet_child w1(cat({"worker", "--coordinator", at}, fast_links), dir, "w1");
  BOOST_REQUIRE(w1.wait_output("joined the coordinator", 20));
  fleet_child w2(cat({"worker", "--coordinator", at}, fast_links), dir, "w2");
  BOOST_REQUIRE(w2.wait_output("joined the coordinator", 20));
  BOOST_REQUIRE(coord.wait_output("t=2s", 20));
  w2.signal(SIGSTOP);
  BOOST_TEST(coord.wait(40) == 0, "coordinator: " << coord.out() << coord.err());
  w2.signal(SIGCONT);
  w2.signal(SIGKILL);
  w2.wait(10);
  BOOST_TEST(w1.wait(15) == 0);

  auto s = read_json(dir + "/report/summary.json");
  BOOST_REQUIRE(worker(s, 1)["lost_at"].IsNumber());
  // Heartbeats every 300 ms, lost after 1.5 s of silence: detected within seconds.
  auto lost_at = worker(s, 1)["lost_at"].GetDouble();
  BOOST_TEST(lost_at > 2.0);
  BOOST_TEST(lost_at < 7.5); // frozen at about 2.5 s; CAF's default would be never
  BOOST_TEST(s["respawned_users"].GetUint64() == 15u);
  BOOST_TEST(joined_at_end(dir + "/report") == 30);
}

BOOST_AUTO_TEST_CASE(late_worker_takes_new_arrivals) {
  phx_test::server_process srv;
  auto dir = scratch_dir("cluster_late");
  // 30 users arrive over 6 s: the second worker joins 2 s in and takes most of the rest.
  write_file(dir + "/s.json", R"({"name": "late", "seed": 5, "duration_s": 7, "targets": [")"
                                + srv.url() + R"("],
    "population": [{"users": 30, "phases": [{"ramp": {"to": 30, "over_s": 6}}],
      "steps": [{"join": "room:late"}]}]})");
  fleet_child coord(cat({"coordinator", "--listen", "127.0.0.1:0", "--workers", "1",
                         dir + "/s.json", "--report", dir + "/report", "--join-timeout", "20"},
                        insecure),
                    dir, "coordinator");
  auto at = listening(coord);
  fleet_child w1(cat({"worker", "--coordinator", at}, insecure), dir, "w1");
  BOOST_REQUIRE(coord.wait_output("t=2s", 20));
  fleet_child w2(cat({"worker", "--coordinator", at}, insecure), dir, "w2");
  BOOST_TEST(coord.wait(30) == 0, "coordinator: " << coord.out() << coord.err());
  BOOST_TEST(w1.wait(15) == 0);
  BOOST_TEST(w2.wait(15) == 0);
  BOOST_TEST(coord.out().find("late: it takes new arrivals") != std::string::npos);
  auto s = read_json(dir + "/report/summary.json");
  BOOST_TEST(worker(s, 1)["joined_at"].GetDouble() > 1.5);
  auto first = worker(s, 0)["users"].GetUint64();
  auto late = worker(s, 1)["users"].GetUint64();
  BOOST_TEST(first + late == 30u);
  // Live users are not migrated: the late one only took arrivals after it
  // joined (first those that even the load out), and the first never lost any.
  BOOST_TEST(late > 5u);
  BOOST_TEST(late <= first);
  long before = 0;
  for (auto& row : csv_rows(dir + "/report/workers.csv")) {
    auto now = std::stol(row.at(1));
    BOOST_TEST(now >= before);
    before = now;
  }
  BOOST_TEST(s["users"]["joined_end"].GetInt64() == 30);
}

BOOST_AUTO_TEST_CASE(lost_coordinator_makes_workers_stop_their_load) {
  phx_test::server_process srv;
  auto dir = scratch_dir("cluster_coord_lost");
  write_file(dir + "/s.json", scenario(srv.url(), 30, 60));
  fleet_child coord(cat({"coordinator", "--listen", "127.0.0.1:0", "--workers", "2",
                         dir + "/s.json", "--join-timeout", "20"},
                        fast_links),
                    dir, "coordinator");
  auto at = listening(coord);
  fleet_child w1(cat({"worker", "--coordinator", at, "--grace", "5"}, fast_links), dir, "w1");
  fleet_child w2(cat({"worker", "--coordinator", at, "--grace", "5"}, fast_links), dir, "w2");
  BOOST_REQUIRE(coord.wait_output("t=3s", 25));
  BOOST_TEST(transports(srv) == 30);
  coord.signal(SIGKILL);
  coord.wait(5);
  BOOST_TEST(w1.wait(15) == 3, "w1: " << w1.err());
  BOOST_TEST(w2.wait(15) == 3, "w2: " << w2.err());
  BOOST_TEST(w1.err().find("coordinator") != std::string::npos);
  // The server sees their sockets go.
  int64_t left = -1;
  for (int i = 0; i < 100; ++i) {
    left = transports(srv);
    if (left == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  BOOST_TEST(left == 0);
}

BOOST_AUTO_TEST_CASE(worker_of_another_protocol_version_is_refused) {
  phx_test::server_process srv;
  auto dir = scratch_dir("cluster_version");
  write_file(dir + "/s.json", scenario(srv.url(), 4, 2));
  fleet_child coord(cat({"coordinator", "--listen", "127.0.0.1:0", "--workers", "1",
                         dir + "/s.json", "--join-timeout", "4"},
                        insecure),
                    dir, "coordinator");
  auto at = listening(coord);
  fleet_child w(cat({"worker", "--coordinator", at, "--fake-protocol-version", "99"}, insecure),
                dir, "w");
  BOOST_TEST(w.wait(15) == 2);
  BOOST_TEST(w.err().find("refused by the coordinator") != std::string::npos, w.err());
  BOOST_TEST(w.err().find("protocol version 99") != std::string::npos, w.err());
  // Fewer workers than --workers within the join timeout: exit 3, said clearly.
  BOOST_TEST(coord.wait(20) == 3);
  BOOST_TEST(coord.out().find("refused a worker") != std::string::npos, coord.out());
  BOOST_TEST(coord.err().find("only 0 of 1 workers joined") != std::string::npos, coord.err());
}

BOOST_AUTO_TEST_CASE(tls_links_with_a_test_ca_and_untrusted_nodes_refused) {
  fleet_test::node_pki pki;
  phx_test::server_process srv;
  auto dir = scratch_dir("cluster_tls");
  write_file(dir + "/s.json", scenario(srv.url(), 10, 3));
  auto tls = [&](const std::string& node, const std::string& ca = "ca") {
    return std::vector<std::string>{"--link-cert", pki.path(node + ".pem"), "--link-key",
                                    pki.path(node + ".key"), "--link-ca", pki.path(ca + ".pem")};
  };
  fleet_child coord(cat({"coordinator", "--listen", "127.0.0.1:0", "--workers", "1",
                         dir + "/s.json", "--report", dir + "/report", "--join-timeout", "25"},
                        tls("node1")),
                    dir, "coordinator");
  auto at = listening(coord);
  BOOST_TEST(coord.out().find("mutual TLS") != std::string::npos);
  // A plain node, and a node whose certificate another CA signed (and which
  // trusts that CA, so that it gets as far as the handshake): refused.
  fleet_child plain({"worker", "--coordinator", at, "--insecure-links", "--connect-timeout", "2"},
                    dir, "plain");
  fleet_child rogue(cat({"worker", "--coordinator", at, "--connect-timeout", "2"}, tls("rogue", "ca2")),
                    dir, "rogue");
  // Without a certificate a worker does not even try (mutual TLS needs one).
  fleet_child none({"worker", "--coordinator", at}, dir, "none");
  BOOST_TEST(plain.wait(20) == 2, plain.err());
  BOOST_TEST(rogue.wait(20) == 2, rogue.err());
  BOOST_TEST(none.wait(10) == 2, none.err());
  BOOST_TEST(plain.err().find("cannot join the coordinator") != std::string::npos, plain.err());
  BOOST_TEST(rogue.err().find("cannot join the coordinator") != std::string::npos, rogue.err());
  BOOST_TEST(none.err().find("--link-cert") != std::string::npos, none.err());
  // A node of the fleet's CA joins and the run completes.
  fleet_child good(cat({"worker", "--coordinator", at}, tls("node2")), dir, "good");
  BOOST_TEST(coord.wait(40) == 0, "coordinator: " << coord.out() << coord.err());
  BOOST_TEST(good.wait(15) == 0, good.err());
  BOOST_TEST(good.out().find("TLS link") != std::string::npos);
  auto s = read_json(dir + "/report/summary.json");
  BOOST_TEST(worker(s, 0)["users"].GetUint64() == 10u);
  BOOST_TEST(s["users"]["joined_end"].GetInt64() == 10);
}

BOOST_AUTO_TEST_SUITE_END()
