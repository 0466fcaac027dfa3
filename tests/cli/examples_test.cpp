// The examples run against a real phx-server on loopback, their output checked.
#define BOOST_TEST_MODULE phx_examples
#include <boost/test/unit_test.hpp>

#include <regex>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "phx_test/server_process.hpp"

using namespace std::chrono_literals;
using phx_cli_test::child_process;
using phx_test::server_process;

namespace {

std::string example(const std::string& name) {
  return std::string{PHX_EXAMPLES_DIR} + "/" + name;
}

child_process::predicate equals(std::string expected) {
  return [expected = std::move(expected)](const std::string& line) { return line == expected; };
}

bool has(const std::string& line, const std::string& part) {
  return line.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_CASE(chat_users_hear_each_others_shouts) {
  server_process server;
  child_process bob{{example("chat"), server.url(), "bob"}};
  BOOST_REQUIRE_MESSAGE(bob.wait_err_line(equals("joined room:lobby as bob"), 15s),
                        bob.transcript());
  child_process ann{{example("chat"), server.url(), "ann"}};
  ann.write("hello\nhow are you?\n");
  ann.close_stdin();
  // Ann exits once her shouts are acknowledged; the server broadcast each
  // one before acknowledging it, so she heard both herself.
  auto ann_status = ann.wait_exit(20s);
  BOOST_REQUIRE_MESSAGE(ann_status, ann.transcript());
  BOOST_CHECK_EQUAL(*ann_status, 0);
  BOOST_CHECK_EQUAL(ann.out_lines().size(), 2u);
  BOOST_CHECK_MESSAGE(ann.out_lines() == (std::vector<std::string>{"ann: hello",
                                                                    "ann: how are you?"}),
                      ann.transcript());
  // Bob heard them, in order.
  auto first = bob.wait_line(equals("ann: hello"), 15s);
  BOOST_REQUIRE_MESSAGE(first, bob.transcript());
  BOOST_CHECK_MESSAGE(bob.wait_line(equals("ann: how are you?"), 15s, *first + 1),
                      bob.transcript());
  bob.write("bye\n");
  bob.close_stdin();
  auto bob_status = bob.wait_exit(20s);
  BOOST_REQUIRE_MESSAGE(bob_status, bob.transcript());
  BOOST_CHECK_EQUAL(*bob_status, 0);
  BOOST_CHECK_EQUAL(bob.out_lines().back(), "bob: bye");
}

BOOST_AUTO_TEST_CASE(presence_watcher_prints_the_list_at_every_sync) {
  server_process server;
  child_process watcher{{example("presence_watcher"), server.url(), "watcher", "--seconds", "4"}};
  auto alone = watcher.wait_line(
    [](const std::string& l) { return has(l, "watcher (1 metas)") && !has(l, "visitor"); }, 15s);
  BOOST_REQUIRE_MESSAGE(alone, watcher.transcript());
  // A visitor joins, prints its first sync and leaves.
  child_process visitor{
    {example("presence_watcher"), server.url(), "visitor", "--syncs", "1", "--seconds", "10"}};
  auto visitor_status = visitor.wait_exit(20s);
  BOOST_REQUIRE_MESSAGE(visitor_status, visitor.transcript());
  BOOST_CHECK_EQUAL(*visitor_status, 0);
  BOOST_REQUIRE_EQUAL(visitor.out_lines().size(), 1u);
  BOOST_CHECK_MESSAGE(std::regex_match(visitor.out_lines()[0],
                                       std::regex{R"(sync 1:( \w+ \(\d+ metas\))+)"}),
                      visitor.out_lines()[0]);
  BOOST_CHECK(has(visitor.out_lines()[0], "visitor (1 metas)"));
  // The watcher saw the visitor come and go.
  auto both = watcher.wait_line(
    [](const std::string& l) {
      return has(l, "watcher (1 metas)") && has(l, "visitor (1 metas)");
    },
    15s, *alone + 1);
  BOOST_REQUIRE_MESSAGE(both, watcher.transcript());
  BOOST_CHECK_MESSAGE(watcher.wait_line(
                        [](const std::string& l) {
                          return has(l, "watcher (1 metas)") && !has(l, "visitor");
                        },
                        15s, *both + 1),
                      watcher.transcript());
  // It stops by itself after its --seconds.
  auto status = watcher.wait_exit(20s);
  BOOST_REQUIRE_MESSAGE(status, watcher.transcript());
  BOOST_CHECK_EQUAL(*status, 0);
  // Syncs are numbered from 1, one line each.
  for (size_t i = 0; i < watcher.out_lines().size(); ++i)
    BOOST_CHECK(watcher.out_lines()[i].rfind("sync " + std::to_string(i + 1) + ":", 0) == 0);
}

BOOST_AUTO_TEST_CASE(actor_composition_times_its_echo_round_trips) {
  server_process server;
  child_process pinger{{example("actor_composition"), server.url(), "25"}};
  auto status = pinger.wait_exit(30s);
  BOOST_REQUIRE_MESSAGE(status, pinger.transcript());
  BOOST_CHECK_EQUAL(*status, 0);
  BOOST_REQUIRE_MESSAGE(pinger.out_lines().size() == 1, pinger.transcript());
  BOOST_CHECK_MESSAGE(
    std::regex_match(pinger.out_lines()[0],
                     std::regex{R"(25 echo round trips: min [0-9.]+ ms, median [0-9.]+ ms, )"
                                R"(max [0-9.]+ ms, mean [0-9.]+ ms)"}),
    pinger.out_lines()[0]);
}

BOOST_AUTO_TEST_CASE(examples_refuse_bad_usage_with_exit_2) {
  for (auto argv : std::vector<std::vector<std::string>>{
         {example("chat"), "ws://127.0.0.1:9/socket"},
         {example("presence_watcher"), "ws://127.0.0.1:9/socket", "w", "--syncs", "0"},
         {example("actor_composition"), "ws://127.0.0.1:9/socket", "0"}}) {
    child_process bad{argv};
    auto status = bad.wait_exit(10s);
    BOOST_REQUIRE_MESSAGE(status, bad.transcript());
    BOOST_CHECK_EQUAL(*status, 2);
    BOOST_CHECK_EQUAL(bad.err_lines().size(), 1u);
  }
}
