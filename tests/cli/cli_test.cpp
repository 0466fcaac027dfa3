// The phx tool against a real phx-server on loopback: every command and
// every output line type, end of input, bad usage, malformed lines, secrets,
// and the exit codes with honest outcomes (open, refused, unreachable, a
// hanging upgrade, HTTP 403, join failed, strict push failure, giving up).
#define BOOST_TEST_MODULE phx_cli
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "phx_test/server_process.hpp"

using namespace std::chrono_literals;
using phx_cli_test::child_process;
using phx_cli_test::count_if;
using phx_cli_test::field;
using phx_cli_test::phx_process;
using phx_cli_test::where;
using phx_test::server_process;

namespace {

// The index of the first line equal to `line`, or npos.
size_t index_of(const std::vector<std::string>& lines, const std::string& line) {
  for (size_t i = 0; i < lines.size(); ++i)
    if (lines[i] == line)
      return i;
  return std::string::npos;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// A CA and a certificate for 127.0.0.1 it signed, made with the openssl CLI
/// in a temporary directory (removed with the object).
class test_ca {
public:
  test_ca() {
    char pattern[] = "/tmp/phx-cli-tls-XXXXXX";
    if (::mkdtemp(pattern) == nullptr)
      throw std::runtime_error("cannot create a temporary directory");
    dir_ = pattern;
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    run("openssl req -x509 " + ec + " -keyout ca.key -out ca.pem -days 2 -subj '/CN=phx cli CA'");
    run("openssl req " + ec + " -keyout server.key -out server.csr -subj '/CN=127.0.0.1'");
    std::ofstream{dir_ / "ip.ext"} << "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n";
    run("openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
        " -out server.pem -days 2 -extfile ip.ext");
  }

  ~test_ca() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  /// Path of a file in the directory (ca.pem, server.pem, server.key).
  std::string path(const std::string& name) const {
    return (dir_ / name).string();
  }

private:
  void run(const std::string& cmd) {
    auto full = "cd '" + dir_.string() + "' && " + cmd + " >> openssl.log 2>&1";
    if (std::system(full.c_str()) != 0)
      throw std::runtime_error("openssl failed: " + cmd);
  }

  std::filesystem::path dir_;
};

} // namespace

BOOST_AUTO_TEST_CASE(join_ok_and_denied_are_reported_with_their_responses) {
  server_process server;
  phx_process phx{server.url(), {"--join", "room:lobby"}};
  phx.expect(where("open"), "open");
  phx.expect(where("join", {{"topic", "room:lobby"}}), "join room:lobby");
  phx.send(R"({"join":"room:denied","params":{"fail":true}})");
  phx.expect(where("join", {{"topic", "room:denied"}}), "join room:denied");
  // A join that failed at its latest attempt: exit 1, and stderr says which.
  BOOST_CHECK_EQUAL(phx.finish(), 1);
  bool named = false;
  for (auto& l : phx.err_lines())
    named = named || contains(l, R"(phx: exit 1: the join of "room:denied" ended)");
  BOOST_CHECK_MESSAGE(named, phx.transcript());
  auto& lines = phx.lines();
  auto joining = index_of(lines, R"({"type":"state","topic":"room:lobby","state":"joining"})");
  auto joined = index_of(lines, R"({"type":"state","topic":"room:lobby","state":"joined"})");
  auto ok = index_of(lines, R"({"type":"join","topic":"room:lobby","status":"ok","response":{"joined":"room:lobby"}})");
  BOOST_CHECK_MESSAGE(joining < joined && joined < ok && ok != std::string::npos,
                      phx.transcript());
  BOOST_CHECK_MESSAGE(index_of(lines, R"({"type":"join","topic":"room:denied","status":"error","response":{"reason":"denied"}})")
                        != std::string::npos,
                      phx.transcript());
  BOOST_CHECK(index_of(lines, R"({"type":"state","topic":"room:denied","state":"errored"})")
              != std::string::npos);
  // End of input left both channels and closed the socket normally.
  BOOST_CHECK(index_of(lines, R"({"type":"state","topic":"room:lobby","state":"closed"})")
              != std::string::npos);
  BOOST_CHECK_EQUAL(lines.back(), R"({"type":"close","code":1000,"reason":""})");
}

BOOST_AUTO_TEST_CASE(pushes_end_ok_error_timeout_or_failed) {
  server_process server;
  phx_process phx{server.url(), {"--join", "room:lobby"}};
  // Sent before the join reply: buffered by the channel, sent once joined.
  phx.send(R"({"push":"echo","topic":"room:lobby","payload":{"a":1},"id":"first"})");
  phx.send(R"({"push":"echo_error","topic":"room:lobby","payload":{"why":"x"}})");
  phx.send(R"({"push":"noreply","topic":"room:lobby","timeout_ms":200,"id":{"n":[1,2]}})");
  // A binary push whose event exceeds a binary frame's 255-byte field: refused locally.
  phx.send(R"({"push":")" + std::string(300, 'e')
           + R"(","topic":"room:lobby","payload_base64":"AAE="})");
  BOOST_CHECK_EQUAL(phx.finish(), 0);
  auto& lines = phx.lines();
  BOOST_CHECK_MESSAGE(index_of(lines, R"({"type":"reply","id":"first","topic":"room:lobby","event":"echo","status":"ok","response":{"a":1}})")
                        != std::string::npos,
                      phx.transcript());
  // Without an id, the push's sequence number (second push line).
  BOOST_CHECK_MESSAGE(index_of(lines, R"({"type":"reply","id":2,"topic":"room:lobby","event":"echo_error","status":"error","response":{"why":"x"}})")
                        != std::string::npos,
                      phx.transcript());
  auto timeout = count_if(lines, where("reply", {{"id", R"({"n":[1,2]})"},
                                                 {"status", "timeout"}, {"response", "{}"}}));
  BOOST_CHECK_EQUAL(timeout, 1u);
  for (auto& l : lines)
    if (field(l, "status") == "timeout")
      BOOST_CHECK(contains(field(l, "reason"), "push_timeout"));
  auto failed = count_if(lines, where("reply", {{"id", "4"}, {"status", "failed"}}));
  BOOST_CHECK_EQUAL(failed, 1u);
  for (auto& l : lines)
    if (field(l, "status") == "failed")
      BOOST_CHECK_MESSAGE(contains(field(l, "reason"), "encode_failed"), l);
  // Exactly one reply line per push.
  BOOST_CHECK_EQUAL(count_if(lines, where("reply")), 4u);
}

BOOST_AUTO_TEST_CASE(binary_pushes_replies_and_events_use_base64) {
  server_process server;
  phx_process phx{server.url(), {"--join", "room:bin"}};
  // 0x00 0x01 0x02 0xff
  phx.send(R"({"push":"bin","topic":"room:bin","payload_base64":"AAEC/w==","id":1})");
  phx.send(R"({"push":"bin_push","topic":"room:bin","payload_base64":"AAEC/w==","id":2})");
  phx.expect(where("reply", {{"id", "2"}}), "reply to bin_push");
  BOOST_CHECK_EQUAL(phx.finish(), 0);
  auto& lines = phx.lines();
  BOOST_CHECK_MESSAGE(index_of(lines, R"({"type":"reply","id":1,"topic":"room:bin","event":"bin","status":"ok","response_base64":"AAEC/w=="})")
                        != std::string::npos,
                      phx.transcript());
  BOOST_CHECK_MESSAGE(index_of(lines, R"({"type":"event","topic":"room:bin","event":"bin_push","payload_base64":"AAEC/w=="})")
                        != std::string::npos,
                      phx.transcript());
  BOOST_CHECK(index_of(lines, R"({"type":"reply","id":2,"topic":"room:bin","event":"bin_push","status":"ok","response":{}})")
              != std::string::npos);
}

BOOST_AUTO_TEST_CASE(shouts_and_broadcasts_are_event_lines) {
  server_process server;
  phx_process phx{server.url(), {"--join", "room:lobby"}};
  phx.expect(where("join", {{"status", "ok"}}), "join ok");
  phx.send(R"({"push":"shout","topic":"room:lobby","payload":{"body":"hi"}})");
  phx.expect(where("event", {{"event", "shout"}}), "shout event");
  auto res = server.admin("/admin/broadcast?topic=room:lobby&event=news&payload=%7B%22n%22%3A7%7D");
  BOOST_REQUIRE_EQUAL(res.status, 200);
  phx.expect(where("event", {{"event", "news"}}), "news event");
  BOOST_CHECK_EQUAL(phx.finish(), 0);
  auto& lines = phx.lines();
  BOOST_CHECK(index_of(lines, R"({"type":"event","topic":"room:lobby","event":"shout","payload":{"body":"hi"}})")
              != std::string::npos);
  BOOST_CHECK(index_of(lines, R"({"type":"event","topic":"room:lobby","event":"news","payload":{"n":7}})")
              != std::string::npos);
  BOOST_CHECK(index_of(lines, R"({"type":"reply","id":1,"topic":"room:lobby","event":"shout","status":"ok","response":{}})")
              != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_crash_gives_phx_error_and_the_rejoin_a_second_join_line) {
  server_process server;
  phx_process phx{server.url(), {"--join", "room:crash"}};
  phx.expect(where("join", {{"status", "ok"}}), "join ok");
  // The crashed channel never replies: the push times out.
  phx.send(R"({"push":"crash","topic":"room:crash","timeout_ms":300})");
  auto err = phx.expect(where("event", {{"event", "phx_error"}}), "phx_error event");
  phx.expect(where("state", {{"state", "errored"}}), "errored state");
  // Rejoined after the first rejoin step (1 s).
  auto rejoined = phx.expect(where("join", {{"status", "ok"}}), "the rejoin's join line", 15s,
                             err);
  BOOST_CHECK(rejoined > err);
  phx.send(R"({"push":"echo","topic":"room:crash","payload":{"after":"crash"}})");
  phx.expect(where("reply", {{"event", "echo"}}), "echo after the rejoin");
  BOOST_CHECK_EQUAL(phx.finish(), 0);
  auto& lines = phx.lines();
  BOOST_CHECK_EQUAL(count_if(lines, where("join", {{"status", "ok"}})), 2u);
  BOOST_CHECK_EQUAL(count_if(lines, where("reply", {{"event", "crash"}, {"status", "timeout"}})),
                    1u);
  BOOST_CHECK_EQUAL(count_if(lines, where("reply", {{"event", "echo"}, {"status", "ok"}})), 1u);
  BOOST_CHECK_EQUAL(count_if(lines, where("state", {{"state", "joined"}})), 2u);
}

BOOST_AUTO_TEST_CASE(a_kick_gives_phx_close_and_a_join_line_joins_again) {
  server_process server;
  phx_process phx{server.url(), {"--join", "room:kick"}};
  phx.expect(where("join", {{"status", "ok"}}), "join ok");
  phx.send(R"({"push":"kick","topic":"room:kick"})");
  phx.expect(where("event", {{"event", "phx_close"}}), "phx_close event");
  phx.expect(where("state", {{"state", "closed"}}), "closed state");
  phx.send(R"({"join":"room:kick"})");
  phx.expect(where("join", {{"status", "ok"}}), "second join", 15s,
             index_of(phx.lines(), R"({"type":"state","topic":"room:kick","state":"closed"})"));
  phx.send(R"({"push":"echo","topic":"room:kick","payload":{"back":true}})");
  phx.expect(where("reply", {{"event", "echo"}}), "echo after the new join");
  BOOST_CHECK_EQUAL(phx.finish(), 0);
  auto& lines = phx.lines();
  BOOST_CHECK(index_of(lines, R"({"type":"reply","id":1,"topic":"room:kick","event":"kick","status":"ok","response":{"kicked":true}})")
              != std::string::npos);
  BOOST_CHECK(index_of(lines, R"({"type":"reply","id":2,"topic":"room:kick","event":"echo","status":"ok","response":{"back":true}})")
              != std::string::npos);
}

BOOST_AUTO_TEST_CASE(presence_lines_list_the_users_of_two_processes) {
  server_process server;
  phx_process ann{server.url(), {"--param", "user=ann", "--join", "presence:lobby"}};
  auto ann_only = [](const std::string& l) {
    auto list = field(l, "list");
    return field(l, "type") == "presence" && contains(list, "\"ann\"")
           && !contains(list, "\"bob\"");
  };
  auto both = [](const std::string& l) {
    auto list = field(l, "list");
    return field(l, "type") == "presence" && contains(list, "\"ann\"")
           && contains(list, "\"bob\"");
  };
  ann.expect(ann_only, "presence with ann");
  phx_process bob{server.url(), {"--param", "user=bob", "--join", "presence:lobby"}};
  bob.expect(both, "bob's presence with ann and bob");
  auto seen_both = ann.expect(both, "ann's presence with ann and bob");
  BOOST_CHECK_EQUAL(bob.finish(), 0);
  // Bob left: ann's next presence line lists ann alone.
  ann.expect(ann_only, "presence after bob left", 15s, seen_both + 1);
  BOOST_CHECK_EQUAL(ann.finish(), 0);
  // The presence_state and presence_diff events themselves are event lines too.
  BOOST_CHECK(count_if(ann.lines(), where("event", {{"event", "presence_state"}})) >= 1);
  BOOST_CHECK(count_if(ann.lines(), where("event", {{"event", "presence_diff"}})) >= 1);
  // One meta per user, each with its phx_ref.
  for (auto& l : ann.lines()) {
    if (!both(l))
      continue;
    rapidjson::Document doc;
    doc.Parse(l.c_str());
    auto& list = doc["list"];
    BOOST_CHECK_EQUAL(list["ann"]["metas"].Size(), 1u);
    BOOST_CHECK_EQUAL(list["bob"]["metas"].Size(), 1u);
    BOOST_CHECK(list["bob"]["metas"][0].HasMember("phx_ref"));
  }
}

BOOST_AUTO_TEST_CASE(leave_closes_the_channel_and_a_push_after_it_is_an_error_line) {
  server_process server;
  phx_process phx{server.url(), {"--join", "room:lobby"}};
  phx.expect(where("join", {{"status", "ok"}}), "join ok");
  phx.send(R"({"leave":"room:lobby"})");
  auto leaving = phx.expect(where("state", {{"state", "leaving"}}), "leaving");
  phx.expect(where("state", {{"state", "closed"}}), "closed", 15s, leaving);
  phx.send(R"({"push":"echo","topic":"room:lobby"})");
  phx.send(R"({"leave":"room:lobby"})");
  phx.expect(where("error", {{"reason", R"(line 3: leave of "room:lobby", which is not joined)"}}),
             "error for the second leave");
  BOOST_CHECK_EQUAL(phx.finish(), 0);
  auto& lines = phx.lines();
  BOOST_CHECK(index_of(lines, R"x({"type":"error","reason":"line 2: push to \"room:lobby\", which is not joined (send a join line first)"})x")
              != std::string::npos);
  BOOST_CHECK_EQUAL(count_if(lines, where("reply")), 0u);
}

BOOST_AUTO_TEST_CASE(disconnect_and_connect_close_and_reopen_and_rejoin) {
  server_process server;
  phx_process phx{server.url(), {"--join", "room:lobby"}};
  phx.expect(where("join", {{"status", "ok"}}), "join ok");
  phx.send(R"({"disconnect":true})");
  auto closed = phx.expect(where("close", {{"code", "1000"}}), "close line");
  auto errored = phx.expect(where("state", {{"state", "errored"}}), "errored");
  phx.send(R"({"connect":true})");
  phx.expect(where("open"), "second open", 15s, closed);
  phx.expect(where("join", {{"status", "ok"}}), "rejoin", 15s, errored);
  phx.send(R"({"push":"echo","topic":"room:lobby","payload":{"again":1}})");
  phx.expect(where("reply", {{"status", "ok"}}), "echo reply");
  BOOST_CHECK_EQUAL(phx.finish(), 0);
  auto& lines = phx.lines();
  BOOST_CHECK_EQUAL(count_if(lines, where("open")), 2u);
  BOOST_CHECK_EQUAL(count_if(lines, where("close")), 2u);
  // The connection loss reached the channel as phx_error.
  BOOST_CHECK_EQUAL(count_if(lines, where("event", {{"event", "phx_error"}})), 1u);
}

BOOST_AUTO_TEST_CASE(a_cut_link_gives_close_1006_then_reconnect_and_rejoin) {
  server_process server;
  phx_process phx{server.url(), {"--join", "room:lobby"}};
  phx.expect(where("join", {{"status", "ok"}}), "join ok");
  BOOST_REQUIRE_EQUAL(server.admin("/admin/kill_all").status, 200);
  auto closed = phx.expect(where("close", {{"code", "1006"}}), "close 1006");
  // The reconnect supervisor's first step is 1 s; then the channel rejoins.
  phx.expect(where("open"), "reopen", 15s, closed);
  phx.expect(where("join", {{"status", "ok"}}), "rejoin", 15s, closed);
  phx.send(R"({"push":"echo","topic":"room:lobby","payload":{"n":1}})");
  phx.expect(where("reply", {{"status", "ok"}}), "echo after the reconnect");
  BOOST_CHECK_EQUAL(phx.finish(), 0);
  BOOST_CHECK_EQUAL(count_if(phx.lines(), where("event", {{"event", "phx_error"}})), 1u);
}

BOOST_AUTO_TEST_CASE(sleep_keeps_the_session_reading_events) {
  server_process server;
  phx_process phx{server.url(), {"--join", "room:lobby"}};
  phx.expect(where("join", {{"status", "ok"}}), "join ok");
  auto start = std::chrono::steady_clock::now();
  // The event comes 50 ms after the reply; without the sleep, end of input
  // would have left the channel before it.
  phx.send(R"({"push":"push_later","topic":"room:lobby","payload":{"ms":50,"event":"later","payload":{"k":"v"}}})");
  phx.send(R"({"sleep_ms":1500})");
  BOOST_CHECK_EQUAL(phx.finish(), 0);
  auto elapsed = std::chrono::steady_clock::now() - start;
  BOOST_CHECK(elapsed >= 1500ms);
  auto& lines = phx.lines();
  auto later = index_of(lines, R"({"type":"event","topic":"room:lobby","event":"later","payload":{"k":"v"}})");
  auto leaving = index_of(lines, R"({"type":"state","topic":"room:lobby","state":"leaving"})");
  BOOST_CHECK_MESSAGE(later < leaving && leaving != std::string::npos, phx.transcript());
}

BOOST_AUTO_TEST_CASE(end_of_input_waits_for_outcomes_then_leaves_and_disconnects) {
  server_process server;
  phx_process phx{server.url(), {"--join", "room:a", "--join", "room:b"}};
  phx.send(R"({"push":"delay","topic":"room:a","payload":{"ms":300}})");
  phx.send(R"({"push":"noreply","topic":"room:b","timeout_ms":400})");
  BOOST_CHECK_EQUAL(phx.finish(), 0);
  auto& lines = phx.lines();
  auto delayed = index_of(lines, R"({"type":"reply","id":1,"topic":"room:a","event":"delay","status":"ok","response":{"ms":300}})");
  auto timed_out = lines.size();
  for (size_t i = 0; i < lines.size(); ++i)
    if (where("reply", {{"id", "2"}, {"status", "timeout"}})(lines[i]))
      timed_out = i;
  auto leaving = index_of(lines, R"({"type":"state","topic":"room:a","state":"leaving"})");
  auto closed_a = index_of(lines, R"({"type":"state","topic":"room:a","state":"closed"})");
  auto closed_b = index_of(lines, R"({"type":"state","topic":"room:b","state":"closed"})");
  BOOST_REQUIRE_MESSAGE(delayed != std::string::npos && timed_out < lines.size()
                          && closed_a != std::string::npos && closed_b != std::string::npos,
                        phx.transcript());
  // Outcomes first, then the leaves, then the close, last.
  BOOST_CHECK(delayed < leaving && timed_out < leaving && leaving < closed_a);
  BOOST_CHECK_EQUAL(lines.back(), R"({"type":"close","code":1000,"reason":""})");
}

BOOST_AUTO_TEST_CASE(bad_usage_exits_2_with_one_line_on_stderr) {
  server_process server;
  const std::string secret = "S3CRET-VALUE";
  std::vector<std::vector<std::string>> cases = {
    {},
    {"--join", "room:lobby"},
    {server.url(), "--bogus"},
    {server.url(), "--bogus=" + secret},
    {server.url(), "--join-params", "{\"a\":" + secret},
    {server.url(), "--join-params", "[1]"},
    {"not-a-url"},
    {"ftp://127.0.0.1/socket"},
    {"ws://127.0.0.1:4000"},
    {server.url(), "--timeout-ms", "soon"},
    {server.url(), "--param", secret},
    {server.url(), "--header", secret},
    {server.url(), "--vsn", "3.0.0"},
    {server.url(), "--log-level", "loud"},
    {server.url(), "--ca-file", "/nonexistent/ca.pem"},
    {server.url(), server.url()},
    {server.url(), "--join"},
  };
  for (auto& args : cases) {
    std::vector<std::string> argv{phx_cli_test::phx_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    child_process proc{argv};
    proc.close_stdin();
    auto status = proc.wait_exit(10s);
    std::string what = "phx";
    for (auto& a : args)
      what += " " + a;
    BOOST_REQUIRE_MESSAGE(status, what + ": no exit");
    BOOST_CHECK_MESSAGE(*status == 2, what + ": exit " + std::to_string(*status));
    BOOST_CHECK_MESSAGE(proc.out_lines().empty(), what + ": " + proc.transcript());
    BOOST_REQUIRE_MESSAGE(proc.err_lines().size() == 1, what + ": " + proc.transcript());
    auto& line = proc.err_lines().front();
    BOOST_CHECK_MESSAGE(line.rfind("phx: ", 0) == 0, what + ": " + line);
    BOOST_CHECK_MESSAGE(!contains(line, secret), what + ": " + line);
  }
  // --help is not bad usage.
  child_process help{{phx_cli_test::phx_binary(), "--help"}};
  BOOST_CHECK_EQUAL(help.wait_exit(10s).value_or(-1), 0);
  BOOST_CHECK(!help.out_lines().empty() && help.out_lines().front().rfind("usage: phx", 0) == 0);
}

BOOST_AUTO_TEST_CASE(malformed_lines_are_error_lines_and_processing_goes_on) {
  server_process server;
  phx_process phx{server.url(), {"--join", "room:lobby"}};
  std::vector<std::pair<std::string, std::string>> bad = {
    {"not json", "not JSON"},
    {"[1,2]", "must be a JSON object"},
    {R"({"hello":1})", "unknown command"},
    {R"({"push":"echo"})", R"(missing "topic")"},
    {R"({"push":5,"topic":"room:lobby"})", R"("push" must be a non-empty string)"},
    {R"({"join":"room:x","push":"y"})", "one command"},
    {R"({"sleep_ms":-1})", "sleep_ms"},
    {R"({"disconnect":false})", R"("disconnect" must be true)"},
    {R"({"push":"echo","topic":"room:lobby","payload":[1]})", R"("payload" must be a JSON object)"},
    {R"({"push":"echo","topic":"room:lobby","payload_base64":"!!"})", "not base64"},
    {R"({"push":"echo","topic":"room:lobby","timeout_ms":0})", "timeout_ms"},
    {R"({"push":"echo","topic":"room:nope"})", "not joined"},
    {R"({"push":"echo","topic":"room:lobby","paylod":{}})", R"(unknown field "paylod")"},
    {R"({"join":"room:lobby"})", "already joined"},
  };
  for (auto& [line, why] : bad)
    phx.send(line);
  phx.send("   ");
  phx.send(R"({"push":"echo","topic":"room:lobby","payload":{"still":"alive"},"id":"ok"})");
  phx.expect(where("reply", {{"id", "ok"}}), "the reply after the bad lines");
  BOOST_CHECK_EQUAL(phx.finish(), 0);
  auto& lines = phx.lines();
  BOOST_CHECK_EQUAL(count_if(lines, where("error")), bad.size());
  for (size_t i = 0; i < bad.size(); ++i) {
    auto prefix = "line " + std::to_string(i + 1) + ": ";
    bool found = false;
    for (auto& l : lines) {
      auto reason = field(l, "reason");
      if (field(l, "type") == "error" && reason.rfind(prefix, 0) == 0) {
        found = true;
        BOOST_CHECK_MESSAGE(contains(reason, bad[i].second),
                            reason + " should name " + bad[i].second);
      }
    }
    BOOST_CHECK_MESSAGE(found, "no error line for line " + std::to_string(i + 1) + "\n"
                                 + phx.transcript());
  }
  BOOST_CHECK(index_of(lines, R"({"type":"reply","id":"ok","topic":"room:lobby","event":"echo","status":"ok","response":{"still":"alive"}})")
              != std::string::npos);
}

BOOST_AUTO_TEST_CASE(transport_errors_are_error_lines) {
  std::string url;
  {
    server_process gone;
    url = gone.url();
  }
  phx_process phx{url, {"--join", "room:lobby"}};
  auto err = phx.expect(where("error"), "error line for the refused connection");
  BOOST_CHECK(!field(phx.lines()[err], "reason").empty());
  BOOST_CHECK_EQUAL(phx.finish(), 1);
  BOOST_CHECK_EQUAL(count_if(phx.lines(), where("open")), 0u);
}

BOOST_AUTO_TEST_CASE(secrets_are_never_printed) {
  server_process server;
  const std::vector<std::string> secrets = {"S3CRET-PARAM", "S3CRET-HEADER", "S3CRET-TOKEN"};
  phx_process phx{server.url(),
                  {"--param", "user=sam", "--param", "token=S3CRET-PARAM", "--header",
                   "x-api-key: S3CRET-HEADER", "--auth-token", "S3CRET-TOKEN", "--log-level",
                   "trace", "--join", "room:lobby"}};
  phx.send(R"({"push":"info","topic":"room:lobby","id":"info"})");
  auto info = phx.expect(where("reply", {{"id", "info"}}), "info reply");
  BOOST_CHECK_EQUAL(phx.finish(), 0);
  // The secrets did reach the server: its info reply echoes them back.
  auto response = field(phx.lines()[info], "response");
  BOOST_CHECK_MESSAGE(contains(response, R"("token":"S3CRET-PARAM")"), response);
  BOOST_CHECK_MESSAGE(contains(response, R"("auth_token":"S3CRET-TOKEN")"), response);
  // Nothing the tool wrote itself holds one.
  for (size_t i = 0; i < phx.lines().size(); ++i)
    for (auto& s : secrets)
      if (i != info)
        BOOST_CHECK_MESSAGE(!contains(phx.lines()[i], s), phx.lines()[i]);
  BOOST_CHECK(!phx.err_lines().empty()); // trace logging did write
  for (auto& l : phx.err_lines())
    for (auto& s : secrets)
      BOOST_CHECK_MESSAGE(!contains(l, s), l);
}

BOOST_AUTO_TEST_CASE(vsn_1_speaks_the_v1_serializer) {
  server_process server;
  phx_process phx{server.url(), {"--vsn", "1.0.0", "--join", "room:v1"}};
  phx.send(R"({"push":"info","topic":"room:v1","id":"info"})");
  auto info = phx.expect(where("reply", {{"id", "info"}}), "info reply");
  BOOST_CHECK_EQUAL(phx.finish(), 0);
  BOOST_CHECK(contains(field(phx.lines()[info], "response"), "Phoenix.Socket.V1.JSONSerializer"));
}

BOOST_AUTO_TEST_CASE(wss_is_verified_with_ca_file_and_insecure_is_explicit) {
  test_ca ca;
  server_process server{{"--tls-cert", ca.path("server.pem"), "--tls-key", ca.path("server.key")}};
  BOOST_REQUIRE(server.url().rfind("wss://", 0) == 0);
  const std::string echo = R"({"push":"echo","topic":"room:tls","payload":{"secure":true}})";
  // Trusted through --ca-file: a verified connection.
  {
    phx_process phx{server.url(), {"--ca-file", ca.path("ca.pem"), "--join", "room:tls"}};
    phx.send(echo);
    phx.expect(where("reply", {{"status", "ok"}, {"response", R"({"secure":true})"}}),
               "echo over wss");
    BOOST_CHECK_EQUAL(phx.finish(), 0);
  }
  // Not trusted (the system's CAs do not know this one): an error line, never open.
  {
    phx_process phx{server.url(), {"--join", "room:tls"}};
    auto err = phx.expect(where("error"), "certificate error");
    BOOST_CHECK_MESSAGE(contains(field(phx.lines()[err], "reason"), "certificate"),
                        phx.lines()[err]);
    BOOST_CHECK_EQUAL(phx.finish(), 1);
    BOOST_CHECK_EQUAL(count_if(phx.lines(), where("open")), 0u);
  }
  // --insecure connects without verification, and says so on stderr.
  {
    phx_process phx{server.url(), {"--insecure", "--join", "room:tls"}};
    phx.send(echo);
    phx.expect(where("reply", {{"status", "ok"}}), "echo over unverified wss");
    BOOST_CHECK_EQUAL(phx.finish(), 0);
    bool warned = false;
    for (auto& l : phx.err_lines())
      warned = warned || contains(l, "verification is DISABLED");
    BOOST_CHECK_MESSAGE(warned, phx.transcript());
  }
}

// -- exit codes and honest outcomes -----------------------------------------------------

namespace {

// A URL where nothing listens: a server's port, the server gone.
std::string refused_url() {
  server_process gone;
  return gone.url();
}

// True when some stderr line of `phx` holds `part`.
bool said_on_stderr(const phx_process& phx, const std::string& part) {
  for (auto& l : phx.err_lines())
    if (contains(l, part))
      return true;
  return false;
}

} // namespace

BOOST_AUTO_TEST_CASE(exit_0_when_opened_and_every_join_joined_even_strict) {
  server_process server;
  phx_process phx{server.url(), {"--strict", "--join", "room:a"}};
  phx.send(R"({"join":"room:b"})");
  phx.send(R"({"push":"echo","topic":"room:a","payload":{"x":1}})");
  phx.send(R"({"push":"echo","topic":"room:b","payload":{"x":2}})");
  BOOST_CHECK_EQUAL(phx.finish(), 0);
  BOOST_CHECK_EQUAL(count_if(phx.lines(), where("reply", {{"status", "ok"}})), 2u);
  BOOST_CHECK_MESSAGE(phx.err_lines().empty(), phx.transcript());
}

BOOST_AUTO_TEST_CASE(refused_exits_1_and_what_was_never_sent_says_so) {
  phx_process phx{refused_url(), {"--join", "room:lobby", "--timeout-ms", "400"}};
  phx.send(R"({"push":"echo","topic":"room:lobby","payload":{"a":1}})");
  phx.expect(where("error", {{"reason", "connection refused"}}), "connection refused");
  BOOST_CHECK_EQUAL(phx.finish(), 1);
  auto& lines = phx.lines();
  BOOST_CHECK_EQUAL(count_if(lines, where("open")), 0u);
  // The push timed out in the buffer: never sent, and its reason says so.
  BOOST_CHECK_MESSAGE(count_if(lines, where("reply", {{"status", "timeout"},
                                                      {"reason", "not sent: the connection never opened"}}))
                        == 1,
                      phx.transcript());
  // The join ended when phx closed, before anything was sent.
  BOOST_CHECK_MESSAGE(count_if(lines, where("join", {{"status", "timeout"},
                                                     {"reason", "not sent: phx closed before the connection ever opened"}}))
                        >= 1,
                      phx.transcript());
  BOOST_CHECK(said_on_stderr(phx, "phx: exit 1: the connection never opened"));
}

BOOST_AUTO_TEST_CASE(open_deadline_gives_up_on_a_refused_connection_without_end_of_input) {
  auto start = std::chrono::steady_clock::now();
  // stdin stays open: giving up ends the session by itself.
  phx_process phx{refused_url(), {"--open-deadline-ms", "300", "--join", "room:lobby"}};
  phx.send(R"({"push":"echo","topic":"room:lobby"})");
  phx.expect(where("error", {{"reason", "giving up: the connection did not open within 300 ms (--open-deadline-ms)"}}),
             "giving up");
  auto status = phx.process().wait_exit(15s);
  BOOST_REQUIRE_MESSAGE(status, "phx did not exit after giving up\n" + phx.transcript());
  BOOST_CHECK_EQUAL(*status, 1);
  // Well before the push's own 10 s timeout.
  BOOST_CHECK(std::chrono::steady_clock::now() - start < 8s);
  BOOST_CHECK_MESSAGE(count_if(phx.lines(), where("reply", {{"status", "timeout"}})) == 1,
                      phx.transcript());
  for (auto& l : phx.lines())
    if (field(l, "type") == "reply" || field(l, "type") == "join")
      BOOST_CHECK_MESSAGE(contains(field(l, "reason"), "not sent: phx gave up before the connection ever opened"),
                          l);
  BOOST_CHECK(said_on_stderr(phx, "gave up: the connection did not open within 300 ms"));
}

BOOST_AUTO_TEST_CASE(unreachable_host_exits_1_at_the_open_deadline) {
  // TEST-NET-1 (RFC 5737): never routed; the attempt hangs or fails at once.
  auto start = std::chrono::steady_clock::now();
  phx_process phx{"ws://192.0.2.1:4000/socket", {"--open-deadline-ms", "500", "--join", "room:lobby"}};
  auto status = phx.process().wait_exit(15s);
  BOOST_REQUIRE_MESSAGE(status, "phx did not exit\n" + phx.transcript());
  BOOST_CHECK_EQUAL(*status, 1);
  BOOST_CHECK(std::chrono::steady_clock::now() - start < 8s);
  BOOST_CHECK_EQUAL(count_if(phx.lines(), where("open")), 0u);
  BOOST_CHECK_MESSAGE(count_if(phx.lines(), where("error", {{"reason", "giving up: the connection did not open within 500 ms (--open-deadline-ms)"}}))
                        == 1,
                      phx.transcript());
  BOOST_CHECK(said_on_stderr(phx, "phx: exit 1: the connection never opened"));
}

BOOST_AUTO_TEST_CASE(http_403_upgrade_refused_exits_1_with_max_reconnects_0) {
  server_process server;
  // phx-server refuses token=bad with HTTP 403.
  phx_process phx{server.url(), {"--param", "token=bad", "--max-reconnects", "0", "--join",
                                 "room:lobby"}};
  auto err = phx.expect(where("error"), "the refused upgrade");
  BOOST_CHECK_MESSAGE(contains(field(phx.lines()[err], "reason"), "403"), phx.lines()[err]);
  phx.expect(where("error", {{"reason", "giving up: the connection failed and --max-reconnects is 0"}}),
             "giving up");
  auto status = phx.process().wait_exit(15s);
  BOOST_REQUIRE_MESSAGE(status, "phx did not exit after giving up\n" + phx.transcript());
  BOOST_CHECK_EQUAL(*status, 1);
  BOOST_CHECK_EQUAL(count_if(phx.lines(), where("open")), 0u);
  // One attempt only: no reconnect.
  size_t refused = 0;
  for (auto& l : phx.lines())
    refused += field(l, "type") == "error" && contains(field(l, "reason"), "403") ? 1 : 0;
  BOOST_CHECK_MESSAGE(refused == 1, phx.transcript());
}

BOOST_AUTO_TEST_CASE(max_reconnects_gives_up_after_the_connection_is_lost) {
  server_process server;
  phx_process phx{server.url(), {"--max-reconnects", "1", "--join", "room:lobby"}};
  phx.expect(where("join", {{"status", "ok"}}), "join ok");
  server.kill();
  phx.expect(where("error", {{"reason", "giving up: 1 reconnect attempt(s) in a row failed (--max-reconnects)"}}),
             "giving up", 20s);
  auto status = phx.process().wait_exit(15s);
  BOOST_REQUIRE_MESSAGE(status, "phx did not exit after giving up\n" + phx.transcript());
  // It had opened and joined, but gave up: 1.
  BOOST_CHECK_EQUAL(*status, 1);
  BOOST_CHECK(said_on_stderr(phx, "phx: exit 1: gave up: 1 reconnect attempt(s) in a row failed"));
}

BOOST_AUTO_TEST_CASE(join_failed_exits_1) {
  server_process server;
  phx_process phx{server.url(), {"--join", "room:denied", "--join-params", R"({"fail":true})"}};
  phx.expect(where("join", {{"status", "error"}, {"response", R"({"reason":"denied"})"}}),
             "the denied join");
  BOOST_CHECK_EQUAL(phx.finish(), 1);
  BOOST_CHECK_EQUAL(count_if(phx.lines(), where("open")), 1u);
  BOOST_CHECK(said_on_stderr(phx, R"(phx: exit 1: the join of "room:denied" ended error)"));
}

BOOST_AUTO_TEST_CASE(a_join_that_never_happened_exits_1) {
  server_process server;
  // The server answers the join after 3 s; end of input leaves it before that.
  phx_process phx{server.url(), {"--join", "room:slow", "--join-params", R"({"sleep_ms":3000})"}};
  phx.expect(where("open"), "open");
  BOOST_CHECK_EQUAL(phx.finish(), 1);
  BOOST_CHECK_MESSAGE(said_on_stderr(phx, R"(phx: exit 1: the join of "room:slow" ended timeout)"),
                      phx.transcript());
}

BOOST_AUTO_TEST_CASE(strict_exits_1_on_a_push_that_did_not_end_ok) {
  server_process server;
  const std::vector<std::string> lines = {
    R"({"push":"echo","topic":"room:lobby","payload":{"fine":true}})",
    R"({"push":"echo_error","topic":"room:lobby","payload":{"why":"x"}})",
  };
  {
    phx_process phx{server.url(), {"--strict", "--join", "room:lobby"}};
    for (auto& l : lines)
      phx.send(l);
    BOOST_CHECK_EQUAL(phx.finish(), 1);
    BOOST_CHECK_EQUAL(count_if(phx.lines(), where("reply", {{"status", "error"}})), 1u);
    BOOST_CHECK(said_on_stderr(phx, "phx: exit 1: 1 push(es) did not end ok (--strict)"));
  }
  // Without --strict the same session exits 0.
  {
    phx_process phx{server.url(), {"--join", "room:lobby"}};
    for (auto& l : lines)
      phx.send(l);
    BOOST_CHECK_EQUAL(phx.finish(), 0);
  }
  // --strict also counts a push to a topic not joined (refused, never a push).
  {
    phx_process phx{server.url(), {"--strict", "--join", "room:lobby"}};
    phx.send(R"({"push":"echo","topic":"room:other"})");
    BOOST_CHECK_EQUAL(phx.finish(), 1);
    BOOST_CHECK(said_on_stderr(phx, "1 input line(s) refused (--strict)"));
  }
}

BOOST_AUTO_TEST_CASE(sigterm_ends_the_input_like_end_of_file) {
  server_process server;
  phx_process phx{server.url(), {"--join", "room:lobby"}};
  phx.expect(where("join", {{"status", "ok"}}), "join ok");
  // stdin stays open: the signal alone ends the session, with a leave and a clean close.
  ::kill(phx.process().pid(), SIGTERM);
  auto status = phx.process().wait_exit(15s);
  BOOST_REQUIRE_MESSAGE(status, "phx did not exit on SIGTERM\n" + phx.transcript());
  BOOST_CHECK_EQUAL(*status, 0);
  BOOST_CHECK(count_if(phx.lines(), where("state", {{"state", "closed"}})) == 1);
  BOOST_CHECK_EQUAL(phx.lines().back(), R"({"type":"close","code":1000,"reason":""})");
}

BOOST_AUTO_TEST_CASE(a_server_that_never_answers_the_upgrade_gives_up_at_the_open_deadline) {
  // A listener that never accepts: the kernel completes the TCP handshake, the
  // upgrade request is never answered, the attempt hangs.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE_EQUAL(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  BOOST_REQUIRE_EQUAL(::listen(fd, 4), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto url = "ws://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/socket";
  auto start = std::chrono::steady_clock::now();
  phx_process phx{url, {"--open-deadline-ms", "300", "--join", "room:lobby"}};
  auto status = phx.process().wait_exit(15s);
  ::close(fd);
  BOOST_REQUIRE_MESSAGE(status, "phx did not exit\n" + phx.transcript());
  BOOST_CHECK_EQUAL(*status, 1);
  // The deadline, a leave and an aborted attempt: well within the 10 s open timeout.
  BOOST_CHECK(std::chrono::steady_clock::now() - start < 6s);
  BOOST_CHECK_EQUAL(count_if(phx.lines(), where("open")), 0u);
  BOOST_CHECK_MESSAGE(count_if(phx.lines(), where("join", {{"status", "timeout"},
                                                           {"reason", "not sent: phx gave up before the connection ever opened"}}))
                        == 1,
                      phx.transcript());
}

BOOST_AUTO_TEST_CASE(transport_auto_falls_back_to_long_poll_where_websockets_are_refused) {
  server_process server;
  // phx-server's /nows/socket refuses the WebSocket upgrade (403), serves long-poll.
  auto url = server.url();
  url = url.substr(0, url.rfind("/socket")) + "/nows/socket";
  phx_process phx{url, {"--transport", "auto", "--long-poll-fallback-ms", "2000", "--join",
                        "room:lobby", "--strict", "--log-level", "info"}};
  // Sent before any open: goes out over long-poll once joined.
  phx.send(R"({"push":"echo","topic":"room:lobby","payload":{"a":1},"id":"lp"})");
  phx.expect(where("reply", {{"id", "lp"}, {"status", "ok"}}), "echo over long-poll");
  BOOST_CHECK_EQUAL(phx.finish(), 0);
  bool fell_back = false;
  bool over_longpoll = false;
  for (auto& l : phx.err_lines()) {
    fell_back = fell_back || contains(l, "falling back to long-poll");
    over_longpoll = over_longpoll || contains(l, "connected over longpoll");
  }
  BOOST_CHECK_MESSAGE(fell_back && over_longpoll, phx.transcript());
  BOOST_CHECK_EQUAL(count_if(phx.lines(), where("open")), 1u);
}
