// phx's interactive mode on a real pseudo-terminal against a real phx-server:
// short commands, events printed while the prompt waits (the line being typed
// kept), line editing, history, colour, --json, quit and Ctrl-D.
#define BOOST_TEST_MODULE phx_cli_terminal
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "phx_test/paths.hpp"
#include "phx_test/server_process.hpp"
#include "pty_process.hpp"

using namespace std::chrono_literals;
using phx_cli_test::pty_process;
using phx_test::server_process;

namespace {

const std::string enter = "\r";
const std::string up = "\x1b[A";
const std::string backspace = "\x7f";
const std::string ctrl_d = "\x04";

/// `phx URL args...` on a terminal of type `term`, NO_COLOR as given.
pty_process start_phx(const std::string& url, std::vector<std::string> args,
                      const std::string& term, const std::string& no_color = "") {
  std::vector<std::string> argv{phx_test::bin_dir() + "/phx", url};
  argv.insert(argv.end(), args.begin(), args.end());
  return pty_process{argv, {{"TERM", term}, {"NO_COLOR", no_color}, {"HOME", "/nonexistent"}}};
}

/// Waits for `text` after `from`; fails the test with the screen otherwise.
size_t expect(pty_process& p, const std::string& text, size_t from = 0,
              std::chrono::milliseconds timeout = 15s) {
  auto at = p.wait_for(text, timeout, from);
  BOOST_REQUIRE_MESSAGE(at, "the terminal never showed \"" + text + "\"\n--- screen\n"
                              + p.plain());
  return *at;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_CASE(short_commands_join_push_and_leave_with_replies_for_a_person) {
  server_process server;
  auto phx = start_phx(server.url(), {}, "xterm-256color", "1");
  auto at = expect(phx, "phx> ");
  at = expect(phx, "connected", at);
  phx.type(R"(join room:lobby {"p":1})" + enter);
  at = expect(phx, R"(room:lobby join ok {"joined":"room:lobby"})", at);
  phx.type(R"(push room:lobby echo {"body":"hi"})" + enter);
  at = expect(phx, R"(room:lobby reply #1 echo ok {"body":"hi"})", at);
  phx.type("help" + enter);
  at = expect(phx, "push TOPIC EVENT [JSON]", at);
  phx.type("shout" + enter);
  at = expect(phx, R"(error: line 4: unknown command "shout" (type help))", at);
  phx.type("leave room:lobby" + enter);
  at = expect(phx, "room:lobby is closed", at);
  phx.type("quit" + enter);
  auto rc = phx.wait_exit(20s);
  BOOST_REQUIRE_MESSAGE(rc, "phx did not exit\n" + phx.plain());
  // Opened and the join joined at its latest attempt.
  BOOST_CHECK_EQUAL(*rc, 0);
  BOOST_CHECK(contains(phx.plain(), "closed 1000"));
  // Every event line starts with a time, HH:MM:SS.mmm.
  auto screen = phx.plain();
  auto reply = screen.find("room:lobby reply #1");
  BOOST_REQUIRE(reply != std::string::npos && reply >= 13);
  BOOST_CHECK_EQUAL(screen[reply - 1], ' ');
  BOOST_CHECK_EQUAL(screen[reply - 5], '.');
  BOOST_CHECK_EQUAL(screen[reply - 8], ':');
}

BOOST_AUTO_TEST_CASE(an_event_is_printed_above_the_prompt_and_the_typed_line_is_kept) {
  server_process server;
  auto phx = start_phx(server.url(), {"--join", "room:lobby"}, "xterm-256color", "1");
  auto at = expect(phx, "room:lobby join ok");
  // Half a command typed, not entered, when the broadcast comes.
  phx.type("push room:lobby ec");
  at = expect(phx, "push room:lobby ec", at);
  auto res = server.admin("/admin/broadcast?topic=room:lobby&event=news&payload=%7B%22n%22%3A7%7D");
  BOOST_REQUIRE_EQUAL(res.status, 200);
  at = expect(phx, R"(room:lobby news {"n":7})", at);
  // The prompt is drawn again below the event, with what was typed.
  at = expect(phx, "phx> push room:lobby ec", at);
  phx.type(R"(ho {"after":"event"})" + enter);
  at = expect(phx, R"(room:lobby reply #1 echo ok {"after":"event"})", at);
  phx.type(ctrl_d);
  auto rc = phx.wait_exit(20s);
  BOOST_REQUIRE_MESSAGE(rc, "phx did not exit\n" + phx.plain());
  BOOST_CHECK_EQUAL(*rc, 0);
}

BOOST_AUTO_TEST_CASE(line_editing_and_history_recall_a_command) {
  server_process server;
  auto phx = start_phx(server.url(), {"--join", "room:lobby"}, "xterm-256color", "1");
  auto at = expect(phx, "room:lobby join ok");
  // A typo erased with backspace before Enter.
  phx.type(R"(push room:lobby echo {"n":1}X)" + backspace + enter);
  at = expect(phx, R"(room:lobby reply #1 echo ok {"n":1})", at);
  // Up recalls the last command; Enter sends it again.
  phx.type(up);
  at = expect(phx, R"(push room:lobby echo {"n":1})", at);
  phx.type(enter);
  at = expect(phx, R"(room:lobby reply #2 echo ok {"n":1})", at);
  phx.type("quit" + enter);
  auto rc = phx.wait_exit(20s);
  BOOST_REQUIRE_MESSAGE(rc, "phx did not exit\n" + phx.plain());
  BOOST_CHECK_EQUAL(*rc, 0);
}

BOOST_AUTO_TEST_CASE(colour_when_the_terminal_has_it_and_not_with_no_color_or_dumb) {
  server_process server;
  auto run = [&](const std::string& term, const std::string& no_color) {
    auto phx = start_phx(server.url(), {"--join", "room:lobby"}, term, no_color);
    expect(phx, "join");
    expect(phx, "ok");
    phx.type("quit" + enter);
    auto rc = phx.wait_exit(20s);
    BOOST_REQUIRE_MESSAGE(rc, "phx did not exit\n" + phx.plain());
    BOOST_CHECK_EQUAL(*rc, 0);
    return phx.output();
  };
  // Green "ok" of the join line.
  BOOST_CHECK(contains(run("xterm-256color", ""), "\x1b[32mok"));
  BOOST_CHECK(!contains(run("xterm-256color", "1"), "\x1b[32m"));
  BOOST_CHECK(!contains(run("dumb", ""), "\x1b[32m"));
}

BOOST_AUTO_TEST_CASE(json_forces_json_lines_at_a_terminal) {
  server_process server;
  auto phx = start_phx(server.url(), {"--json", "--join", "room:lobby"}, "xterm-256color");
  expect(phx, R"({"type":"join","topic":"room:lobby","status":"ok")");
  phx.type(R"({"push":"echo","topic":"room:lobby","payload":{"j":1},"id":"j"})" + enter);
  expect(phx, R"({"type":"reply","id":"j","topic":"room:lobby","event":"echo","status":"ok","response":{"j":1}})");
  BOOST_CHECK(!contains(phx.output(), "phx> "));
  phx.type(ctrl_d);
  auto rc = phx.wait_exit(20s);
  BOOST_REQUIRE_MESSAGE(rc, "phx did not exit\n" + phx.plain());
  BOOST_CHECK_EQUAL(*rc, 0);
}

BOOST_AUTO_TEST_CASE(a_refused_connection_at_the_prompt_exits_1_at_the_open_deadline) {
  std::string url;
  {
    server_process gone;
    url = gone.url();
  }
  auto phx = start_phx(url, {"--open-deadline-ms", "300", "--join", "room:lobby"}, "dumb");
  expect(phx, "error: giving up: the connection did not open within 300 ms");
  auto rc = phx.wait_exit(20s);
  BOOST_REQUIRE_MESSAGE(rc, "phx did not exit\n" + phx.plain());
  BOOST_CHECK_EQUAL(*rc, 1);
  BOOST_CHECK_MESSAGE(contains(phx.plain(), "room:lobby join timeout {} (not sent: phx gave up"),
                      phx.plain());
}

BOOST_AUTO_TEST_CASE(ctrl_c_leaves_disconnects_and_exits) {
  server_process server;
  auto phx = start_phx(server.url(), {"--join", "room:lobby"}, "dumb");
  auto at = expect(phx, "room:lobby join ok");
  phx.type("push room:lobby ec"); // half typed: Ctrl-C ends the session anyway
  phx.type("\x03");
  at = expect(phx, "room:lobby is leaving", at);
  expect(phx, "closed 1000", at);
  auto rc = phx.wait_exit(20s);
  BOOST_REQUIRE_MESSAGE(rc, "phx did not exit\n" + phx.plain());
  BOOST_CHECK_EQUAL(*rc, 0);
}
