// phx-server through phx_test::server_process: start on an ephemeral port,
// plain-HTTP admin endpoints, graceful stop, restart on the same port.

#define BOOST_TEST_MODULE server_test
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <string>
#include <sys/wait.h>

#include "phx_test/server_process.hpp"

using phx_test::server_process;

namespace {

// Runs phx-server with `args` to completion (it must not start listening).
int run_to_exit(const std::string& args) {
  auto cmd = server_process::binary() + " " + args + " >/dev/null 2>&1";
  auto status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

} // namespace

BOOST_AUTO_TEST_CASE(starts_on_an_ephemeral_loopback_port) {
  server_process server;
  BOOST_TEST(server.port() != 0);
  BOOST_TEST(server.url() == "ws://127.0.0.1:" + std::to_string(server.port()) + "/socket");
  BOOST_TEST(server.running());
}

BOOST_AUTO_TEST_CASE(health_answers_ok) {
  server_process server;
  auto res = server.admin("/health");
  BOOST_TEST(res.status == 200);
  BOOST_TEST(res.body == "ok");
}

BOOST_AUTO_TEST_CASE(stats_list_no_transports_before_any_socket) {
  server_process server;
  auto res = server.admin("/admin/stats");
  BOOST_TEST(res.status == 200);
  BOOST_TEST(res.body == R"({"transports":0,"user_ids":[]})");
}

BOOST_AUTO_TEST_CASE(unknown_paths_and_bad_admin_params_are_refused) {
  server_process server;
  BOOST_TEST(server.admin("/nowhere").status == 404);
  BOOST_TEST(server.admin("/admin/stall?ms=-1").status == 400);
  BOOST_TEST(server.admin("/admin/broadcast?topic=t").status == 400);
  BOOST_TEST(server.admin("/socket/websocket").status == 400);
}

BOOST_AUTO_TEST_CASE(terminate_drains_and_exits_zero) {
  server_process server;
  BOOST_TEST(server.terminate() == 0);
  BOOST_TEST(!server.running());
}

BOOST_AUTO_TEST_CASE(restart_listens_on_the_same_port) {
  server_process server{{"--max-channels", "5"}};
  auto port = server.port();
  server.kill();
  BOOST_TEST(!server.running());
  server.restart();
  BOOST_TEST(server.port() == port);
  BOOST_TEST(server.admin("/health").body == "ok");
  BOOST_TEST(server.terminate() == 0);
}

BOOST_AUTO_TEST_CASE(bad_usage_exits_2) {
  BOOST_TEST(run_to_exit("--bogus") == 2);
  BOOST_TEST(run_to_exit("--port 70000") == 2);
  BOOST_TEST(run_to_exit("--port") == 2);
  BOOST_TEST(run_to_exit("--tls-cert only.pem") == 2);
  BOOST_TEST(run_to_exit("--log-level loud") == 2);
  BOOST_TEST(run_to_exit("--help") == 0);
}

BOOST_AUTO_TEST_CASE(unreadable_tls_files_exit_1) {
  BOOST_TEST(run_to_exit("--port 0 --tls-cert /nonexistent.pem --tls-key /nonexistent.key") == 1);
}
