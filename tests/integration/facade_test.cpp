// The facade against a real phx-server process on loopback: every scenario
// of SCENARIOS.md a client meets, through phx::socket / channel / push /
// presence.
#define BOOST_TEST_MODULE phx_facade_integration
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include <caf/all.hpp>

#include "phx/phx.hpp"
#include "phx_test/recorder.hpp"
#include "phx_test/require.hpp"
#include "phx_test/server_process.hpp"
#include "phx_test/transport.hpp"

using namespace std::chrono_literals;
using phx_test::recorder;
using phx_test::server_process;

namespace {

// Fast steps so that reconnects and rejoins happen within a test's deadline.
phx::socket::options fast_options() {
  phx::socket::options opts;
  opts.reconnect_after_ms = [](uint32_t) { return 100u; };
  opts.rejoin_after_ms = [](uint32_t) { return 100u; };
  opts.log_level = phx::log_level::error;
  // WebSocket, or long-poll in the `_longpoll` run (phx_test/transport.hpp).
  return phx_test::with_test_transport(opts);
}

std::string str(const phx::payload& p) {
  return p.to_string();
}

struct session {
  server_process server;
  recorder log;

  explicit session(std::vector<std::string> args = {}) : server(std::move(args)) {}

  phx::socket make_socket(phx::socket::options opts = fast_options(),
                          const std::string& query = "") {
    phx::socket s{server.url() + query, std::move(opts)};
    s.on_open([this] { log.add("open"); });
    s.on_close([this](uint16_t code, const std::string&) {
      log.add("close " + std::to_string(code));
    });
    s.on_error([this](const std::string&, int status) {
      log.add("error " + std::to_string(status));
    });
    return s;
  }

  phx::channel joined(phx::socket& s, const std::string& topic,
                      phx::payload params = phx::payload{}) {
    auto ch = s.channel(topic, params);
    ch.on_state([this, topic](phx::channel_state st) {
      log.add(topic + " " + phx::to_string(st));
    });
    ch.join().receive("ok", [this, topic](const phx::payload&) { log.add(topic + " join ok"); });
    BOOST_REQUIRE_MESSAGE(log.wait_for(topic + " join ok"), log.dump());
    return ch;
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_join_that_outlasts_its_timeout_times_out_and_the_channel_errors) {
  session t;
  auto s = t.make_socket();
  s.connect();
  BOOST_REQUIRE(t.log.wait_for("open"));
  // phx-server delays this join's reply by 3 s; the join waits 300 ms.
  auto slow = s.channel("room:slow", phx::object({{"sleep_ms", 3000}}));
  auto out = slow.join(std::chrono::milliseconds{300}).wait_for(10s);
  BOOST_REQUIRE(out);
  BOOST_CHECK_EQUAL(out->status, "timeout");
  BOOST_CHECK(out->error == phx::ec::join_timeout);
  BOOST_CHECK(slow.state() == phx::channel_state::errored);
}

BOOST_AUTO_TEST_CASE(join_ok_and_denied) {
  session t;
  auto s = t.make_socket();
  s.connect();
  BOOST_REQUIRE(t.log.wait_for("open"));
  BOOST_CHECK(s.connected());
  BOOST_CHECK_EQUAL(s.connection_state_name(), "open");
  auto ok = s.channel("room:lobby");
  auto out = ok.join().wait_for(10s);
  BOOST_REQUIRE(out);
  BOOST_CHECK_EQUAL(out->status, "ok");
  BOOST_CHECK_EQUAL(str(out->response), R"({"joined":"room:lobby"})");
  BOOST_CHECK(ok.state() == phx::channel_state::joined);
  auto denied = s.channel("room:denied", phx::object({{"fail", true}}));
  auto refused = denied.join().wait_for(10s);
  BOOST_REQUIRE(refused);
  BOOST_CHECK_EQUAL(refused->status, "error");
  BOOST_CHECK_EQUAL(str(refused->response), R"({"reason":"denied"})");
  BOOST_CHECK(denied.state() == phx::channel_state::errored);
  // Joining twice is a local failure.
  auto again = ok.join().wait_for(1s);
  BOOST_REQUIRE(again);
  BOOST_CHECK_EQUAL(again->status, "failed");
  BOOST_CHECK(again->error == phx::ec::already_joined);
}

BOOST_AUTO_TEST_CASE(echo_echo_error_and_noreply_timeout) {
  session t;
  auto s = t.make_socket();
  s.connect();
  auto ch = t.joined(s, "room:echo");
  auto ok = ch.push("echo", phx::object({{"body", "hi"}, {"n", 3}})).wait_for(10s);
  BOOST_REQUIRE(ok);
  BOOST_CHECK_EQUAL(ok->status, "ok");
  BOOST_CHECK_EQUAL(str(ok->response), R"({"body":"hi","n":3})");
  auto err = ch.push("echo_error", phx::json(R"({"why":"x"})")).wait_for(10s);
  BOOST_REQUIRE(err);
  BOOST_CHECK_EQUAL(err->status, "error");
  BOOST_CHECK_EQUAL(str(err->response), R"({"why":"x"})");
  auto none = ch.push("noreply", phx::payload{}, 300ms).wait_for(10s);
  BOOST_REQUIRE(none);
  BOOST_CHECK_EQUAL(none->status, "timeout");
  auto unknown = ch.push("what", phx::payload{}).wait_for(10s);
  BOOST_REQUIRE(unknown);
  BOOST_CHECK_EQUAL(unknown->status, "error");
  BOOST_CHECK(unknown->response == phx::json(R"({"reason":"unknown event","event":"what"})"));
}

BOOST_AUTO_TEST_CASE(a_push_before_the_join_reply_is_sent_after_it) {
  session t;
  auto s = t.make_socket();
  s.connect();
  auto ch = s.channel("room:slow", phx::object({{"sleep_ms", 200}}));
  auto join = ch.join();
  auto p = ch.push("echo", phx::object({{"early", true}}));
  auto out = p.wait_for(10s);
  BOOST_REQUIRE(out);
  BOOST_CHECK_EQUAL(out->status, "ok");
  BOOST_CHECK_EQUAL(PHX_REQUIRE_VALUE(join.outcome()).status, "ok");
}

BOOST_AUTO_TEST_CASE(broadcasts_reach_every_member_and_shout_others_skips_the_sender) {
  session t;
  auto a = t.make_socket(fast_options(), "?user=a");
  auto b = t.make_socket(fast_options(), "?user=b");
  a.connect();
  b.connect();
  auto ca = t.joined(a, "room:shout");
  auto cb = t.joined(b, "room:shout");
  // Both joined (the log lines of the two sockets read alike).
  BOOST_REQUIRE(t.log.wait_count("room:shout join ok", 2));
  ca.on("shout", [&](const phx::payload& p) { t.log.add("a got " + str(p)); });
  cb.on("shout", [&](const phx::payload& p) { t.log.add("b got " + str(p)); });
  BOOST_REQUIRE_EQUAL(
    PHX_REQUIRE_VALUE(ca.push("shout", phx::object({{"n", 1}})).wait_for(10s)).status, "ok");
  BOOST_CHECK(t.log.wait_for(R"(a got {"n":1})"));
  BOOST_CHECK(t.log.wait_for(R"(b got {"n":1})"));
  BOOST_REQUIRE_EQUAL(
    PHX_REQUIRE_VALUE(ca.push("shout_others", phx::object({{"n", 2}})).wait_for(10s)).status, "ok");
  BOOST_CHECK(t.log.wait_for(R"(b got {"n":2})"));
  // The sender does not get its own shout_others (the broadcast ordered
  // before the reply, so it would have arrived).
  BOOST_CHECK_EQUAL(t.log.count(R"(a got {"n":2})"), 0u);
}

BOOST_AUTO_TEST_CASE(a_crashed_channel_is_rejoined_automatically) {
  session t;
  auto s = t.make_socket();
  s.connect();
  auto ch = t.joined(s, "room:crash");
  ch.on_error([&](const phx::payload& p) { t.log.add("phx_error " + str(p)); });
  auto crash = ch.push("crash", phx::payload{}, 500ms);
  BOOST_REQUIRE(t.log.wait_for(R"(phx_error {"reason":"channel_crash"})"));
  BOOST_REQUIRE(t.log.wait_count("room:crash join ok", 2));
  BOOST_CHECK(ch.state() == phx::channel_state::joined);
  // The crashed push got no reply.
  BOOST_CHECK_EQUAL(PHX_REQUIRE_VALUE(crash.wait_for(10s)).status, "timeout");
  BOOST_CHECK_EQUAL(
    PHX_REQUIRE_VALUE(ch.push("echo", phx::object({{"after", "crash"}})).wait_for(10s))
      .status,
    "ok");
}

BOOST_AUTO_TEST_CASE(kick_and_kick_noreply_close_the_channel_for_good) {
  session t;
  auto s = t.make_socket();
  s.connect();
  for (auto event : {"kick", "kick_noreply"}) {
    auto topic = std::string{"room:"} + event;
    auto ch = t.joined(s, topic);
    ch.on_close([&, topic](const phx::payload&) { t.log.add(topic + " closed"); });
    ch.push(event, phx::payload{}, 1s);
    BOOST_REQUIRE_MESSAGE(t.log.wait_for(topic + " closed"), t.log.dump());
    BOOST_CHECK(ch.state() == phx::channel_state::closed);
  }
  // The socket still serves others (no rejoin after a close is pinned in
  // virtual time by the unit tests).
  BOOST_CHECK_EQUAL(
    PHX_REQUIRE_VALUE(t.joined(s, "room:after").push("echo").wait_for(10s)).status, "ok");
}

BOOST_AUTO_TEST_CASE(flood_arrives_in_order) {
  session t;
  auto s = t.make_socket();
  s.connect();
  auto ch = t.joined(s, "room:flood");
  std::atomic<int> last{0};
  std::atomic<bool> ordered{true};
  ch.on("flood", [&](const phx::payload& p) {
    int i = p.json()["i"].GetInt();
    if (i != last + 1)
      ordered = false;
    last = i;
  });
  auto out = ch.push("flood", phx::object({{"n", 5000}})).wait_for(20s);
  BOOST_REQUIRE(out);
  BOOST_CHECK_EQUAL(str(out->response), R"({"n":5000})");
  BOOST_CHECK(t.log.wait([&](auto&) { return last.load() == 5000; }, 10s));
  BOOST_CHECK(ordered);
}

BOOST_AUTO_TEST_CASE(push_later_and_info) {
  session t;
  auto s = t.make_socket(fast_options(), "?user=alice&token=t1");
  s.connect();
  auto ch = t.joined(s, "room:info", phx::object({{"x", 1}}));
  ch.on("later", [&](const phx::payload& p) { t.log.add("later " + str(p)); });
  auto ok = ch.push("push_later", phx::object({{"ms", 50}, {"payload", phx::object({{"k", "v"}})}}))
              .wait_for(10s);
  BOOST_REQUIRE(ok);
  BOOST_CHECK_EQUAL(ok->status, "ok");
  BOOST_CHECK(t.log.wait_for(R"(later {"k":"v"})"));
  auto info = ch.push("info").wait_for(10s);
  BOOST_REQUIRE(info);
  auto& r = info->response.json();
  BOOST_CHECK_EQUAL(std::string(r["user_id"].GetString()), "alice");
  BOOST_CHECK_EQUAL(std::string(r["topic"].GetString()), "room:info");
  BOOST_CHECK_EQUAL(std::string(r["serializer"].GetString()), "Phoenix.Socket.V2.JSONSerializer");
  BOOST_CHECK_EQUAL(std::string(r["connect_params"]["vsn"].GetString()), "2.0.0");
  BOOST_CHECK_EQUAL(std::string(r["connect_params"]["token"].GetString()), "t1");
  BOOST_CHECK_EQUAL(r["join_params"]["x"].GetInt(), 1);
}

BOOST_AUTO_TEST_CASE(binary_push_reply_and_broadcast,
                     *phx_test::websocket_only("binary frames (long-poll carries JSON text)")) {
  session t;
  auto s = t.make_socket();
  s.connect();
  auto ch = t.joined(s, "room:bin");
  std::string data("\x00\x01\x02\xff", 4);
  ch.on("bin_push", [&](const phx::payload& p) {
    t.log.add(p.is_binary() && p.binary_view() == data ? "bin_push bytes" : "bin_push other");
  });
  ch.on("bin_shout", [&](const phx::payload& p) {
    t.log.add(p.is_binary() && p.binary_view() == data ? "bin_shout bytes" : "bin_shout other");
  });
  auto echo = ch.push("bin", phx::binary(data)).wait_for(10s);
  BOOST_REQUIRE(echo);
  BOOST_CHECK_EQUAL(echo->status, "ok");
  BOOST_CHECK(echo->response.is_binary());
  BOOST_CHECK(echo->response.binary_view() == data);
  BOOST_CHECK_EQUAL(
    PHX_REQUIRE_VALUE(ch.push("bin_push", phx::binary(data)).wait_for(10s)).status, "ok");
  BOOST_CHECK(t.log.wait_for("bin_push bytes"));
  BOOST_CHECK_EQUAL(
    PHX_REQUIRE_VALUE(ch.push("bin_shout", phx::binary(data)).wait_for(10s)).status, "ok");
  BOOST_CHECK(t.log.wait_for("bin_shout bytes"));
}

BOOST_AUTO_TEST_CASE(presence_between_two_sockets) {
  session t;
  auto a = t.make_socket(fast_options(), "?user=ann");
  auto b = t.make_socket(fast_options(), "?user=bob");
  a.connect();
  b.connect();
  auto ca = a.channel("presence:lobby");
  phx::presence pa{ca};
  pa.on_join([&](const std::string& key, const phx::presence_entry* current,
                 const phx::presence_entry&) {
    t.log.add("join " + key + (current ? " again" : ""));
  });
  pa.on_leave([&](const std::string& key, const phx::presence_entry& current,
                  const phx::presence_entry&) {
    t.log.add("leave " + key + " left " + std::to_string(current.metas.size()));
  });
  pa.on_sync([&] { t.log.add("sync " + std::to_string(pa.list().size())); });
  BOOST_REQUIRE_EQUAL(PHX_REQUIRE_VALUE(ca.join().wait_for(10s)).status, "ok");
  BOOST_REQUIRE(t.log.wait_for("join ann"));
  auto cb = b.channel("presence:lobby", phx::object({{"meta", phx::object({{"status", "away"}})}}));
  BOOST_REQUIRE_EQUAL(PHX_REQUIRE_VALUE(cb.join().wait_for(10s)).status, "ok");
  BOOST_REQUIRE(t.log.wait_for("join bob"));
  BOOST_REQUIRE(t.log.wait_for("sync 2"));
  auto keys = pa.list([](const std::string& k, const phx::presence_entry&) { return k; });
  BOOST_REQUIRE_EQUAL(keys.size(), 2u);
  BOOST_CHECK_EQUAL(keys[0], "ann");
  BOOST_CHECK_EQUAL(keys[1], "bob");
  // update_meta arrives as a leave plus a join replacing bob's meta.
  BOOST_REQUIRE_EQUAL(
    PHX_REQUIRE_VALUE(cb.push("update_meta", phx::object({{"status", "busy"}})).wait_for(10s))
      .status,
    "ok");
  BOOST_REQUIRE(t.log.wait_for("join bob again"));
  BOOST_CHECK(t.log.wait([&](auto&) {
    for (auto& [key, p] : pa.list())
      if (key == "bob" && p.metas.size() == 1
          && std::string((*p.metas[0])["status"].GetString()) == "busy")
        return true;
    return false;
  }));
  BOOST_REQUIRE_EQUAL(PHX_REQUIRE_VALUE(cb.leave().wait_for(10s)).status, "ok");
  BOOST_REQUIRE(t.log.wait_for("leave bob left 0"));
  BOOST_CHECK(t.log.wait([&](auto&) { return pa.list().size() == 1; }));
}

BOOST_AUTO_TEST_CASE(disconnect_all_kill_all_and_restart_lead_to_reconnect_and_rejoin) {
  session t;
  auto s = t.make_socket();
  s.connect();
  auto ch = t.joined(s, "room:resilient");
  auto expect_recovery = [&](size_t opens, const char* what) {
    BOOST_REQUIRE_MESSAGE(t.log.wait_count("open", opens, 15s), what << "\n" << t.log.dump());
    BOOST_REQUIRE_MESSAGE(t.log.wait_count("room:resilient join ok", opens, 15s),
                          what << "\n" << t.log.dump());
    auto out = ch.push("echo", phx::object({{"after", what}})).wait_for(10s);
    BOOST_REQUIRE(out);
    BOOST_CHECK_EQUAL(out->status, "ok");
  };
  BOOST_REQUIRE_EQUAL(t.server.admin("/admin/disconnect_all").status, 200);
  expect_recovery(2, "disconnect_all");
  BOOST_REQUIRE_EQUAL(t.server.admin("/admin/kill_all").status, 200);
  expect_recovery(3, "kill_all");
  // Over long-poll the held poll is cut (1011), or the next poll finds the session gone (3410).
  if (phx_test::longpoll_run())
    BOOST_CHECK(t.log.count("close 1011") + t.log.count("close 3410") >= 1);
  else
    BOOST_CHECK(t.log.count("close 1006") >= 1);
  t.server.restart();
  expect_recovery(4, "restart");
}

BOOST_AUTO_TEST_CASE(a_stalled_server_is_detected_by_the_heartbeat_and_recovered,
                     *phx_test::websocket_only("no heartbeat over long-poll")) {
  session t;
  auto opts = fast_options();
  opts.heartbeat_interval_ms = 200;
  auto s = t.make_socket(std::move(opts));
  s.connect();
  auto ch = t.joined(s, "room:stall");
  ch.on_error([&](const phx::payload& p) { t.log.add("phx_error " + str(p)); });
  BOOST_REQUIRE_EQUAL(t.server.admin("/admin/stall?ms=1000").status, 200);
  BOOST_REQUIRE_MESSAGE(
    t.log.wait_for(R"(phx_error {"source":"transport","reason":"heartbeat_timeout"})", 10s),
    t.log.dump());
  BOOST_REQUIRE(t.log.wait_count("room:stall join ok", 2, 15s));
  BOOST_CHECK_EQUAL(PHX_REQUIRE_VALUE(ch.push("echo").wait_for(10s)).status, "ok");
}

// Long-poll in both runs: the server ends the session as if its process died.
BOOST_AUTO_TEST_CASE(a_killed_long_poll_session_is_replaced_and_its_channels_rejoin) {
  session t;
  auto opts = fast_options();
  opts.transport = phx::transport_choice::longpoll;
  auto s = t.make_socket(std::move(opts), "?user=lpkill");
  s.connect();
  auto ch = t.joined(s, "room:lpkill");
  BOOST_REQUIRE_EQUAL(t.server.admin("/admin/kill_longpoll?user=lpkill").status, 200);
  // phoenix.js: a 410 on a session it had is "session gone", closed with 3410.
  BOOST_REQUIRE_MESSAGE(t.log.wait_for("close 3410", 10s), t.log.dump());
  BOOST_REQUIRE_MESSAGE(t.log.wait_count("open", 2, 15s), t.log.dump());
  BOOST_REQUIRE_MESSAGE(t.log.wait_count("room:lpkill join ok", 2, 15s), t.log.dump());
  BOOST_CHECK_EQUAL(PHX_REQUIRE_VALUE(ch.push("echo").wait_for(10s)).status, "ok");
  BOOST_CHECK(s.transport() == phx::transport::transport_kind::longpoll);
}

BOOST_AUTO_TEST_CASE(a_refused_connect_reports_403_and_keeps_retrying) {
  session t;
  auto s = t.make_socket(fast_options(), "?token=bad");
  s.connect();
  BOOST_REQUIRE(t.log.wait_count("error 403", 3, 10s));
  BOOST_CHECK(!s.connected());
  BOOST_CHECK_EQUAL(t.log.count("open"), 0u);
}

BOOST_AUTO_TEST_CASE(vsn_1_0_0_speaks_the_v1_serializer) {
  session t;
  auto opts = fast_options();
  opts.vsn = "1.0.0";
  auto s = t.make_socket(std::move(opts));
  s.connect();
  auto ch = t.joined(s, "room:v1");
  auto info = ch.push("info").wait_for(10s);
  BOOST_REQUIRE(info);
  BOOST_CHECK_EQUAL(std::string(info->response.json()["serializer"].GetString()),
                    "Phoenix.Socket.V1.JSONSerializer");
  auto bin = ch.push("bin", phx::binary("x")).wait_for(10s);
  BOOST_REQUIRE(bin);
  BOOST_CHECK_EQUAL(bin->status, "failed"); // V1 has no binary frames
}

BOOST_AUTO_TEST_CASE(disconnect_runs_its_callback_once_and_connect_rejoins) {
  session t;
  auto s = t.make_socket();
  s.connect();
  auto ch = t.joined(s, "room:dc");
  std::atomic<int> done{0};
  s.disconnect([&] {
    ++done;
    t.log.add("disconnected");
  });
  BOOST_REQUIRE(t.log.wait_for("disconnected"));
  BOOST_CHECK(!s.connected());
  s.connect();
  BOOST_REQUIRE(t.log.wait_count("room:dc join ok", 2));
  BOOST_CHECK_EQUAL(done.load(), 1);
  BOOST_CHECK_EQUAL(PHX_REQUIRE_VALUE(ch.push("echo").wait_for(10s)).status, "ok");
}

BOOST_AUTO_TEST_CASE(ping_measures_a_round_trip) {
  session t;
  auto s = t.make_socket();
  BOOST_CHECK(!s.ping([](std::chrono::milliseconds) {}));
  s.connect();
  BOOST_REQUIRE(t.log.wait_for("open"));
  BOOST_CHECK(s.ping([&](std::chrono::milliseconds rtt) {
    t.log.add(rtt.count() < 5000 ? "pong" : "slow pong");
  }));
  BOOST_CHECK(t.log.wait_for("pong"));
}

BOOST_AUTO_TEST_CASE(a_missing_host_or_path_is_an_error_at_construction) {
  BOOST_CHECK_THROW(phx::socket{"ws://localhost:4000"}, phx::error);
  BOOST_CHECK_THROW(phx::socket{"localhost/socket"}, phx::error);
  BOOST_CHECK_THROW((phx::socket{"", "/socket", 4000, false}), phx::error);
  BOOST_CHECK_NO_THROW((phx::socket{"localhost", "/socket", 4000, false}));
}

// -- socket callbacks, remove, channel bindings, state, presence rejoin ------------

BOOST_AUTO_TEST_CASE(socket_off_removes_callbacks_that_then_miss_a_reconnect) {
  session t;
  auto s = t.make_socket();
  auto gone_open = s.on_open([&] { t.log.add("removed open"); });
  s.on_open([&] { t.log.add("kept open"); });
  auto gone_message = s.on_message([&](const phx::message& m) {
    if (m.topic == "room:off")
      t.log.add("removed message " + m.event);
  });
  s.on_message([&](const phx::message& m) {
    if (m.topic == "room:off")
      t.log.add("kept message " + m.event);
  });
  s.connect();
  auto ch = t.joined(s, "room:off");
  // The socket's on_message runs before the message reaches the channel.
  BOOST_REQUIRE_EQUAL(t.log.count("removed message phx_reply"), 1u);
  BOOST_REQUIRE_EQUAL(t.log.count("kept message phx_reply"), 1u);
  BOOST_REQUIRE_EQUAL(t.log.count("removed open"), 1u);
  s.off({gone_open, gone_message});
  BOOST_REQUIRE_EQUAL(t.server.admin("/admin/disconnect_all").status, 200);
  BOOST_REQUIRE_MESSAGE(t.log.wait_count("open", 2, 15s), t.log.dump());
  BOOST_REQUIRE_MESSAGE(t.log.wait_count("room:off join ok", 2, 15s), t.log.dump());
  BOOST_CHECK_EQUAL(PHX_REQUIRE_VALUE(ch.push("echo").wait_for(10s)).status, "ok");
  // The kept ones saw the reconnect, the rejoin reply and the echo reply.
  BOOST_CHECK_EQUAL(t.log.count("kept open"), 2u);
  BOOST_CHECK_EQUAL(t.log.count("kept message phx_reply"), 3u);
  BOOST_CHECK_EQUAL(t.log.count("removed open"), 1u);
  BOOST_CHECK_EQUAL(t.log.count("removed message phx_reply"), 1u);
  // Removing a ref twice, or one that never was, is harmless.
  s.off({gone_open, gone_message, 9999});
}

BOOST_AUTO_TEST_CASE(socket_on_message_gets_every_decoded_message,
                     *phx_test::websocket_only("binary frames and heartbeats")) {
  session t;
  auto opts = fast_options();
  opts.heartbeat_interval_ms = 100;
  auto s = t.make_socket(std::move(opts));
  s.on_message([&](const phx::message& m) {
    if (m.topic == "phoenix") {
      if (m.is_reply() && !m.join_ref)
        t.log.add("heartbeat reply " + m.status);
      return;
    }
    std::string line = "message " + m.topic + " " + m.event;
    if (m.is_reply())
      line += " " + m.status;
    line += m.payload.is_binary() ? " bytes" : " " + str(m.payload);
    line += m.join_ref ? " with join_ref" : " without join_ref";
    t.log.add(line);
  });
  s.connect();
  auto ch = t.joined(s, "room:all");
  BOOST_CHECK_EQUAL(
    t.log.count(R"(message room:all phx_reply ok {"joined":"room:all"} with join_ref)"), 1u);
  // Replies, pushes, binary frames and broadcasts, in the order they came.
  BOOST_REQUIRE_EQUAL(
    PHX_REQUIRE_VALUE(ch.push("echo", phx::object({{"x", 1}})).wait_for(10s)).status, "ok");
  BOOST_REQUIRE_EQUAL(
    PHX_REQUIRE_VALUE(ch.push("flood", phx::object({{"n", 3}})).wait_for(10s)).status, "ok");
  BOOST_REQUIRE_EQUAL(
    PHX_REQUIRE_VALUE(ch.push("bin_push", phx::binary("\x01\x02")).wait_for(10s)).status, "ok");
  BOOST_REQUIRE_EQUAL(t.server.admin("/admin/broadcast?topic=room:all&event=news").status, 200);
  BOOST_REQUIRE(t.log.wait_for("message room:all news {} without join_ref"));
  std::vector<std::string> expected{
    R"(message room:all phx_reply ok {"joined":"room:all"} with join_ref)",
    R"(message room:all phx_reply ok {"x":1} with join_ref)",
    R"(message room:all flood {"i":1} with join_ref)",
    R"(message room:all flood {"i":2} with join_ref)",
    R"(message room:all flood {"i":3} with join_ref)",
    R"(message room:all phx_reply ok {"n":3} with join_ref)",
    R"(message room:all bin_push bytes with join_ref)",
    R"(message room:all phx_reply ok {} with join_ref)",
    R"(message room:all news {} without join_ref)",
  };
  std::vector<std::string> seen;
  for (auto& line : t.log.all())
    if (line.rfind("message ", 0) == 0)
      seen.push_back(line);
  BOOST_CHECK_EQUAL_COLLECTIONS(seen.begin(), seen.end(), expected.begin(), expected.end());
  // Heartbeat replies (topic "phoenix") are decoded messages too.
  BOOST_CHECK(t.log.wait_for("heartbeat reply ok"));
}

BOOST_AUTO_TEST_CASE(socket_remove_stops_only_that_channels_events) {
  session t;
  auto s = t.make_socket();
  s.connect();
  auto removed = t.joined(s, "room:remove");
  // A second channel of the same topic, never joined: broadcasts carry no
  // join_ref, so they reach every channel of the topic.
  auto kept = s.channel("room:remove");
  removed.on("news", [&](const phx::payload&) { t.log.add("removed got news"); });
  kept.on("news", [&](const phx::payload&) { t.log.add("kept got news"); });
  BOOST_REQUIRE_EQUAL(t.server.admin("/admin/broadcast?topic=room:remove&event=news").status,
                      200);
  BOOST_REQUIRE_MESSAGE(t.log.wait_for("removed got news"), t.log.dump());
  BOOST_REQUIRE_MESSAGE(t.log.wait_for("kept got news"), t.log.dump());
  s.remove(removed);
  // stats() is a round trip to the socket actor: the remove was handled.
  s.stats();
  // The server still has the subscription: the socket gets the broadcasts.
  BOOST_REQUIRE_EQUAL(t.server.admin("/admin/broadcast?topic=room:remove&event=news").status,
                      200);
  BOOST_REQUIRE_MESSAGE(t.log.wait_count("kept got news", 2), t.log.dump());
  BOOST_REQUIRE_EQUAL(t.server.admin("/admin/broadcast?topic=room:remove&event=news").status,
                      200);
  BOOST_REQUIRE_MESSAGE(t.log.wait_count("kept got news", 3), t.log.dump());
  // Bounded: the removed channel would have got them along with the kept one.
  BOOST_CHECK(!t.log.wait_count("removed got news", 2, 300ms));
  BOOST_CHECK_EQUAL(t.log.count("removed got news"), 1u);
}

BOOST_AUTO_TEST_CASE(channel_off_event_removes_every_binding_of_that_event) {
  session t;
  auto s = t.make_socket();
  s.connect();
  auto ch = t.joined(s, "room:off_event");
  ch.on("shout", [&](const phx::payload& p) { t.log.add("first " + str(p)); });
  ch.on("shout", [&](const phx::message& m) { t.log.add("second " + str(m.payload)); });
  ch.on("later", [&](const phx::payload&) { t.log.add("later"); });
  BOOST_REQUIRE_EQUAL(
    PHX_REQUIRE_VALUE(ch.push("shout", phx::object({{"n", 1}})).wait_for(10s)).status, "ok");
  BOOST_REQUIRE(t.log.wait_for(R"(first {"n":1})"));
  BOOST_REQUIRE(t.log.wait_for(R"(second {"n":1})"));
  ch.off("shout");
  // The broadcast comes before the reply on the wire, and a channel
  // dispatches in order: had a binding been left, it would have run.
  BOOST_REQUIRE_EQUAL(
    PHX_REQUIRE_VALUE(ch.push("shout", phx::object({{"n", 2}})).wait_for(10s)).status, "ok");
  BOOST_CHECK_EQUAL(t.log.count(R"(first {"n":2})"), 0u);
  BOOST_CHECK_EQUAL(t.log.count(R"(second {"n":2})"), 0u);
  // Other events keep their bindings.
  BOOST_REQUIRE_EQUAL(
    PHX_REQUIRE_VALUE(ch.push("push_later", phx::object({{"ms", 0}})).wait_for(10s)).status, "ok");
  BOOST_CHECK(t.log.wait_for("later"));
}

BOOST_AUTO_TEST_CASE(channel_off_event_and_ref_removes_only_that_binding) {
  session t;
  auto s = t.make_socket();
  s.connect();
  auto ch = t.joined(s, "room:off_ref");
  auto first = ch.on("shout", [&](const phx::payload& p) { t.log.add("first " + str(p)); });
  auto second = ch.on("shout", [&](const phx::payload& p) { t.log.add("second " + str(p)); });
  BOOST_CHECK(first != second);
  // A ref of another event removes nothing.
  ch.off("other", second);
  BOOST_REQUIRE_EQUAL(
    PHX_REQUIRE_VALUE(ch.push("shout", phx::object({{"n", 1}})).wait_for(10s)).status, "ok");
  BOOST_REQUIRE(t.log.wait_for(R"(first {"n":1})"));
  BOOST_REQUIRE(t.log.wait_for(R"(second {"n":1})"));
  ch.off("shout", first);
  BOOST_REQUIRE_EQUAL(
    PHX_REQUIRE_VALUE(ch.push("shout", phx::object({{"n", 2}})).wait_for(10s)).status, "ok");
  BOOST_REQUIRE(t.log.wait_for(R"(second {"n":2})"));
  BOOST_CHECK_EQUAL(t.log.count(R"(first {"n":2})"), 0u);
}

BOOST_AUTO_TEST_CASE(channel_off_during_dispatch_still_runs_that_event_once) {
  session t;
  auto s = t.make_socket();
  s.connect();
  auto ch = t.joined(s, "room:off_dispatch");
  auto second = std::make_shared<std::atomic<uint64_t>>(0);
  // The first binding removes the second one while the event is dispatched.
  ch.on("shout", [&t, ch, second](const phx::payload& p) mutable {
    t.log.add("first " + str(p));
    ch.off("shout", second->load());
  });
  second->store(ch.on("shout", [&](const phx::payload& p) { t.log.add("second " + str(p)); }));
  BOOST_REQUIRE_EQUAL(
    PHX_REQUIRE_VALUE(ch.push("shout", phx::object({{"n", 1}})).wait_for(10s)).status, "ok");
  BOOST_REQUIRE(t.log.wait_for(R"(first {"n":1})"));
  BOOST_CHECK(t.log.wait_for(R"(second {"n":1})"));
  BOOST_REQUIRE_EQUAL(
    PHX_REQUIRE_VALUE(ch.push("shout", phx::object({{"n", 2}})).wait_for(10s)).status, "ok");
  BOOST_REQUIRE(t.log.wait_for(R"(first {"n":2})"));
  BOOST_CHECK_EQUAL(t.log.count(R"(second {"n":2})"), 0u);
}

BOOST_AUTO_TEST_CASE(channel_on_message_hook_transforms_payloads_before_the_bindings) {
  session t;
  auto s = t.make_socket();
  s.connect();
  auto ch = t.joined(s, "room:hook");
  ch.on_message([&](const phx::message& m) -> phx::payload {
    if (m.event != "shout")
      return m.payload;
    t.log.add("hook saw " + str(m.payload));
    return phx::object({{"event", m.event}, {"wrapped", m.payload}});
  });
  ch.on("shout", [&](const phx::payload& p) { t.log.add("binding got " + str(p)); });
  ch.on("shout", [&](const phx::message& m) { t.log.add("message binding got " + str(m.payload)); });
  ch.on("later", [&](const phx::payload& p) { t.log.add("later " + str(p)); });
  BOOST_REQUIRE_EQUAL(
    PHX_REQUIRE_VALUE(ch.push("shout", phx::object({{"n", 1}})).wait_for(10s)).status, "ok");
  const std::string wrapped = R"({"event":"shout","wrapped":{"n":1}})";
  BOOST_REQUIRE_MESSAGE(t.log.wait_for("binding got " + wrapped), t.log.dump());
  BOOST_REQUIRE_MESSAGE(t.log.wait_for("message binding got " + wrapped), t.log.dump());
  auto lines = t.log.all();
  auto hook = std::find(lines.begin(), lines.end(), R"(hook saw {"n":1})");
  auto binding = std::find(lines.begin(), lines.end(), "binding got " + wrapped);
  BOOST_REQUIRE(hook != lines.end());
  BOOST_CHECK(hook < binding);
  // The hook ran once per message, not once per binding.
  BOOST_CHECK_EQUAL(t.log.count(R"(hook saw {"n":1})"), 1u);
  // What it returns unchanged reaches the bindings unchanged.
  BOOST_REQUIRE_EQUAL(
    PHX_REQUIRE_VALUE(
      ch.push("push_later", phx::object({{"ms", 0}, {"payload", phx::object({{"k", "v"}})}}))
        .wait_for(10s))
      .status,
    "ok");
  BOOST_CHECK(t.log.wait_for(R"(later {"k":"v"})"));
}

BOOST_AUTO_TEST_CASE(channel_on_message_hook_transforms_replies_before_their_push) {
  session t;
  auto s = t.make_socket();
  s.connect();
  auto ch = t.joined(s, "room:hook");
  ch.on_message([&](const phx::message& m) -> phx::payload {
    if (m.event != "phx_reply")
      return m.payload;
    t.log.add("hook saw " + m.status + " " + str(m.payload));
    return phx::object({{"status", m.status}, {"wrapped", m.payload}});
  });
  auto out = ch.push("echo", phx::object({{"n", 2}})).wait_for(10s);
  BOOST_REQUIRE(out);
  BOOST_CHECK_EQUAL(out->status, "ok");
  BOOST_CHECK_EQUAL(str(out->response), R"({"status":"ok","wrapped":{"n":2}})");
  BOOST_CHECK_EQUAL(t.log.count(R"(hook saw ok {"n":2})"), 1u);
}

BOOST_AUTO_TEST_CASE(connection_state_follows_open_and_closed) {
  session t;
  auto s = t.make_socket();
  BOOST_CHECK(s.connection_state() == phx::connection_state::closed);
  BOOST_CHECK_EQUAL(s.connection_state_name(), "closed");
  // Read inside the callbacks: the state is set before they run.
  s.on_open([&] { t.log.add("state at open " + phx::to_string(s.connection_state())); });
  s.on_close([&](uint16_t, const std::string&) {
    t.log.add("state at close " + phx::to_string(s.connection_state()));
  });
  s.connect();
  BOOST_REQUIRE(t.log.wait_for("open"));
  BOOST_CHECK(s.connection_state() == phx::connection_state::open);
  BOOST_CHECK(s.connection_state() == s.state());
  BOOST_CHECK(s.connected());
  // The transport of this run (phx_test/transport.hpp) is the one in use.
  BOOST_CHECK(s.transport()
              == (phx_test::longpoll_run() ? phx::transport::transport_kind::longpoll
                                           : phx::transport::transport_kind::websocket));
  // Ours runs after the session's "open" callback: wait for it.
  BOOST_CHECK(t.log.wait_for("state at open open"));
  // A close by the server: closed, then open again after the reconnect.
  BOOST_REQUIRE_EQUAL(t.server.admin("/admin/disconnect_all").status, 200);
  BOOST_REQUIRE_MESSAGE(t.log.wait_for("state at close closed"), t.log.dump());
  BOOST_REQUIRE_MESSAGE(t.log.wait_count("state at open open", 2, 15s), t.log.dump());
  BOOST_CHECK(s.connection_state() == phx::connection_state::open);
  // A disconnect: closed when its callback runs, and no more callbacks after it.
  s.disconnect([&] { t.log.add("disconnected"); });
  BOOST_REQUIRE(t.log.wait_for("disconnected"));
  BOOST_CHECK(s.connection_state() == phx::connection_state::closed);
  BOOST_CHECK(!s.connected());
  BOOST_CHECK_EQUAL(s.connection_state_name(), "closed");
  BOOST_CHECK_EQUAL(t.log.count("state at close closed"), 2u);
}

namespace {

// "key/metas/status" for each presence, in order ("-" without a status).
std::string summary(const phx::presence& p) {
  std::string out;
  for (auto& [key, entry] : p.list()) {
    if (!out.empty())
      out += ' ';
    std::string status = "-";
    if (!entry.metas.empty() && entry.metas[0]->HasMember("status"))
      status = (*entry.metas[0])["status"].GetString();
    out += key + "/" + std::to_string(entry.metas.size()) + "/" + status;
  }
  return out;
}

std::string phx_ref_of(const phx::presence& p, const std::string& key) {
  for (auto& [k, entry] : p.list())
    if (k == key && !entry.metas.empty())
      return (*entry.metas[0])["phx_ref"].GetString();
  return {};
}

} // namespace

BOOST_AUTO_TEST_CASE(presence_is_correct_again_after_a_rejoin) {
  session t;
  // While set, ann's rejoins are refused: bob changes meanwhile, unseen by ann.
  std::atomic<bool> refuse{false};
  auto a = t.make_socket(fast_options(), "?user=ann");
  auto b = t.make_socket(fast_options(), "?user=bob");
  a.connect();
  b.connect();
  auto ca = a.channel("presence:rejoin", std::function<phx::payload()>{[&refuse] {
                        return refuse.load() ? phx::object({{"fail", true}}) : phx::payload{};
                      }});
  ca.on_error([&](const phx::payload&) { t.log.add("ann phx_error"); });
  phx::presence pa{ca};
  pa.on_sync([&] { t.log.add("ann sync " + summary(pa)); });
  auto join = ca.join();
  join.receive("ok", [&](const phx::payload&) { t.log.add("ann join ok"); });
  join.receive("error", [&](const phx::payload&) { t.log.add("ann join refused"); });
  BOOST_REQUIRE_MESSAGE(t.log.wait_for("ann sync ann/1/-"), t.log.dump());
  auto cb = b.channel("presence:rejoin", phx::object({{"meta", phx::object({{"status", "away"}})}}));
  BOOST_REQUIRE_EQUAL(PHX_REQUIRE_VALUE(cb.join().wait_for(10s)).status, "ok");
  BOOST_REQUIRE_MESSAGE(t.log.wait_for("ann sync ann/1/- bob/1/away"), t.log.dump());
  auto old_ref = phx_ref_of(pa, "ann");
  BOOST_REQUIRE(!old_ref.empty());

  refuse = true;
  ca.push("crash", phx::payload{}, 500ms);
  BOOST_REQUIRE_MESSAGE(t.log.wait_for("ann phx_error"), t.log.dump());
  BOOST_REQUIRE_MESSAGE(t.log.wait_for("ann join refused"), t.log.dump());
  BOOST_REQUIRE(ca.state() != phx::channel_state::joined);
  // ann's server channel is gone: this change never reaches ann.
  BOOST_REQUIRE_EQUAL(
    PHX_REQUIRE_VALUE(cb.push("update_meta", phx::object({{"status", "busy"}})).wait_for(10s))
      .status,
    "ok");
  auto syncs_before = t.log.all().size();
  refuse = false;
  BOOST_REQUIRE_MESSAGE(t.log.wait_count("ann join ok", 2, 15s), t.log.dump());
  // The new presence_state replaces the stale list: bob busy, ann with her new meta only.
  BOOST_REQUIRE_MESSAGE(t.log.wait_for("ann sync ann/1/- bob/1/busy"), t.log.dump());
  // ann's own join arrives as a diff after the state: applied, not duplicated.
  BOOST_REQUIRE_MESSAGE(t.log.wait_count("ann sync ann/1/- bob/1/busy", 2), t.log.dump());
  auto lines = t.log.all();
  for (size_t i = syncs_before; i < lines.size(); ++i)
    if (lines[i].rfind("ann sync ", 0) == 0)
      BOOST_CHECK_EQUAL(lines[i], "ann sync ann/1/- bob/1/busy");
  auto new_ref = phx_ref_of(pa, "ann");
  BOOST_CHECK(!new_ref.empty());
  BOOST_CHECK_NE(new_ref, old_ref);
  BOOST_CHECK_EQUAL(pa.pending_diffs(), 0u);
  // And the list stays live: bob's next change arrives as a diff.
  BOOST_REQUIRE_EQUAL(
    PHX_REQUIRE_VALUE(cb.push("update_meta", phx::object({{"status", "back"}})).wait_for(10s))
      .status,
    "ok");
  BOOST_CHECK_MESSAGE(t.log.wait_for("ann sync ann/1/- bob/1/back"), t.log.dump());
}

namespace {

// Polls /admin/stats until the server holds no transport; false after 10 s.
bool server_has_no_transport(server_process& server) {
  for (int i = 0; i < 200; ++i) {
    if (server.admin("/admin/stats").body.find("\"transports\":0") != std::string::npos)
      return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

} // namespace

BOOST_AUTO_TEST_CASE(the_last_handle_released_in_a_callback_shuts_the_socket_down) {
  session t;
  // The only handle of the socket lives here; a callback of that very socket
  // drops it: its actor system must go down elsewhere, not wait for itself.
  auto holder = std::make_shared<std::optional<phx::socket>>(t.make_socket());
  (*holder)->connect();
  auto ch = t.joined(**holder, "room:lobby");
  ch.push("echo", phx::object({{"n", 1}})).receive("ok", [holder, &t](const phx::payload&) {
    holder->reset();
    t.log.add("released");
  });
  holder.reset();
  BOOST_REQUIRE_MESSAGE(t.log.wait_for("released"), t.log.dump());
  BOOST_CHECK(server_has_no_transport(t.server));
  // The channel handle outlives its socket: inert, its pushes fail.
  auto out = ch.push("echo", phx::object({{"n", 2}})).wait_for(5s);
  BOOST_REQUIRE(out);
  BOOST_CHECK_EQUAL(out->status, "failed");
}

BOOST_AUTO_TEST_CASE(the_last_handle_released_on_an_io_thread_shuts_the_socket_down) {
  session t;
  auto holder = std::make_shared<std::optional<phx::socket>>(t.make_socket());
  (*holder)->connect();
  t.joined(**holder, "room:lobby");
  // An actor of another system on the io threads drops the last handle, outside
  // any callback: the socket's own system needs that thread to shut down.
  caf::actor_system_config cfg;
  phx::add_message_types(cfg);
  phx::use_io_scheduler(cfg);
  caf::actor_system sys{cfg};
  auto dropper = sys.spawn([holder, &t](caf::event_based_actor*) -> caf::behavior {
    return {[holder, &t](caf::ok_atom) {
      bool on_io = phx::transport::io_runtime::on_io_thread();
      holder->reset();
      t.log.add(on_io ? "released" : "released off the io thread");
    }};
  });
  holder.reset();
  caf::anon_send(dropper, caf::ok_atom::value);
  BOOST_REQUIRE_MESSAGE(t.log.wait_for("released"), t.log.dump());
  BOOST_CHECK(server_has_no_transport(t.server));
  caf::anon_send_exit(dropper, caf::exit_reason::user_shutdown);
}
