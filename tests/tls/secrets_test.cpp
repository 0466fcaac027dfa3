// Secrets at the socket level: a token in the connect params, header values
// and the auth token never appear in a log line (socket logger at trace,
// websocketpp's own lines), an on_error or on_close reason, or the printed
// form of any message the actors hand out (socket and channel subscribers,
// stats, the TRANSPORT's connect request), across open, refusal (403 with
// token=bad), cut and reconnect. The secrets did reach the server: phx-server
// shows the params and the auth token in its `info` reply, and a raw server
// shows the header values.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <map>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "capture.hpp"
#include "phx/actors/socket.hpp"
#include "phx/phx.hpp"
#include "phx_test/raw_server.hpp"
#include "phx_test/recorder.hpp"
#include "phx_test/server_process.hpp"

using namespace std::chrono_literals;
using phx::log_level;
using phx_tls::text_capture;

namespace {

constexpr auto max_wait = std::chrono::milliseconds{10000};

const std::string param_secret = "PrmS3cretFirstValue";
const std::string fresh_param_secret = "PrmS3cretFreshValue";
const std::string header_secret = "HdrS3cretBearerValue";
const std::string api_key_secret = "KeyS3cretApiValue";
// Standard base64 of it holds '+' and '/', as the subprotocol carries it.
const std::string token_secret = "Tok>>>S3cret???Value";

/// The auth token as the subprotocol carries it (standard base64, no padding).
std::string token_b64() {
  return phx::protocol::base64_encode(token_secret, false);
}

/// Every text that must never be shown.
std::vector<std::string> all_secrets() {
  return {param_secret, fresh_param_secret, header_secret, api_key_secret,
          token_secret, token_b64(), "token=bad"};
}

/// Which token the params carry at the next connect: 0 first, 1 bad, 2 fresh.
using token_choice = std::shared_ptr<std::atomic<int>>;

/// Options carrying every secret, with the socket's log lines in `texts`.
phx::socket::options secret_options(const token_choice& which,
                                    const std::shared_ptr<text_capture>& texts) {
  phx::socket::options opts;
  opts.params_fn = [which] {
    auto n = which->load();
    return phx::object({{"user", "sec"},
                        {"token", n == 0 ? param_secret : n == 1 ? "bad" : fresh_param_secret}});
  };
  opts.headers = {{"Authorization", "Bearer " + header_secret}, {"X-Api-Key", api_key_secret}};
  opts.auth_token = [] { return std::optional<std::string>{token_secret}; };
  opts.reconnect_after_ms = [](uint32_t) { return 50u; };
  opts.rejoin_after_ms = [](uint32_t) { return 50u; };
  opts.log_level = log_level::trace;
  opts.logger = text_capture::sink(texts, "log");
  return opts;
}

/// Prints every socket event a subscriber gets, as CAF prints values.
phx::socket_subscriber_actor::behavior_type socket_spy(std::shared_ptr<text_capture> out) {
  auto put = [out](const std::string& text) {
    // The `info` replies carry the secrets on purpose: the proof they arrived.
    if (text.find("connect_params") != std::string::npos)
      out->add("info reply", log_level::off, "(skipped)");
    else
      out->add("socket message", log_level::off, text);
  };
  return {
    [put](phx::opened_atom) { put("opened"); },
    [put](phx::closed_atom, uint16_t code, std::string& reason) {
      put("closed " + caf::deep_to_string(code) + " " + caf::deep_to_string(reason));
    },
    [put](phx::error_atom, std::string& reason, int status) {
      put("error " + caf::deep_to_string(reason) + " " + caf::deep_to_string(status));
    },
    [put](phx::message_atom, phx::protocol::message& msg, phx::flow_ticket&) {
      put(caf::deep_to_string(msg));
    },
  };
}

/// Prints every channel event a subscriber gets.
phx::channel_subscriber_actor::behavior_type channel_spy(std::shared_ptr<text_capture> out) {
  return {
    [out](phx::event_atom, phx::protocol::message& msg, std::string& join_ref,
          phx::flow_ticket&) {
      out->add("channel message", log_level::off,
               caf::deep_to_string(msg) + " " + caf::deep_to_string(join_ref));
    },
    [out](phx::state_atom, std::string& topic, phx::channel_state st) {
      out->add("channel message", log_level::off, topic + " " + phx::to_string(st));
    },
    [out](phx::join_atom, std::string& topic, phx::reply& r) {
      out->add("channel message", log_level::off, topic + " " + caf::deep_to_string(r));
    },
  };
}

/// Routes websocketpp's own lines (and the runtime's) into a capture for its life.
struct runtime_sink_guard {
  explicit runtime_sink_guard(const std::shared_ptr<text_capture>& texts) {
    phx::transport::io_runtime::instance()->set_log_sink(text_capture::sink(texts, "runtime"));
  }
  ~runtime_sink_guard() {
    phx::transport::io_runtime::instance()->set_log_sink({});
  }
};

/// A string member of an object member of a payload ("" if absent).
std::string string_at(const phx::payload& p, const char* object, const char* member) {
  auto& doc = p.json();
  if (!doc.IsObject())
    return {};
  auto o = doc.FindMember(object);
  if (o == doc.MemberEnd() || !o->value.IsObject())
    return {};
  auto m = o->value.FindMember(member);
  if (m == o->value.MemberEnd() || !m->value.IsString())
    return {};
  return m->value.GetString();
}

/// No captured text holds a secret (and none was dropped unchecked).
void check_no_leak(const text_capture& texts) {
  std::map<std::string, size_t> by_source;
  for (auto& line : texts.lines())
    ++by_source[line.source];
  for (auto& [source, n] : by_source)
    BOOST_TEST_MESSAGE("checked " << n << " line(s) from " << source);
  for (auto& line : texts.lines())
    BOOST_TEST(phx_tls::leaked(line.text, all_secrets()).empty(),
               line.source << " leaks a secret: " << line.text);
  BOOST_TEST(texts.dropped() == 0u);
}

} // namespace

BOOST_AUTO_TEST_SUITE(secrets)

BOOST_AUTO_TEST_CASE(no_secret_in_logs_reasons_or_messages_across_open_refusal_cut_and_reconnect) {
  phx_test::server_process server{{"--log-level", "error"}};
  auto texts = std::make_shared<text_capture>();
  runtime_sink_guard runtime_logs{texts};
  auto which = std::make_shared<std::atomic<int>>(0);
  phx_test::recorder events;
  phx::socket sock{server.url(), secret_options(which, texts)};
  sock.on_open([&] { events.add("open"); });
  sock.on_error([&](const std::string& reason, int status) {
    texts->add("on_error", log_level::off, reason);
    events.add("error " + std::to_string(status) + " " + reason);
  });
  sock.on_close([&](uint16_t code, const std::string& reason) {
    texts->add("on_close", log_level::off, reason);
    events.add("close " + std::to_string(code));
  });
  auto spy = sock.system().spawn(socket_spy, texts);
  caf::anon_send(sock.actor(), phx::subscribe_atom::value, spy);
  auto ch = sock.channel("room:secrets");
  auto ch_spy = sock.system().spawn(channel_spy, texts);
  caf::anon_send(ch.actor(), phx::subscribe_atom::value, ch_spy);
  ch.join().receive("ok", [&](const phx::payload&) { events.add("joined"); });
  sock.connect();
  // Open: the params and the auth token reached phx-server.
  BOOST_REQUIRE_MESSAGE(events.wait_for("joined", max_wait), events.dump() << texts->dump());
  auto info = ch.push("info").wait_for(max_wait);
  BOOST_REQUIRE(info);
  BOOST_REQUIRE_EQUAL(info->status, "ok");
  BOOST_TEST(string_at(info->response, "connect_params", "token") == param_secret);
  BOOST_TEST(string_at(info->response, "connect_info", "auth_token") == token_secret);
  // Cut, then a refused reconnect (token=bad is HTTP 403).
  which->store(1);
  server.admin("/admin/kill_all");
  BOOST_REQUIRE(events.wait_for("close 1006", max_wait));
  BOOST_REQUIRE_MESSAGE(events.wait_for("error 403 upgrade refused with HTTP 403", max_wait),
                        events.dump());
  // Then a reconnect with a fresh token: the channel rejoins.
  which->store(2);
  BOOST_REQUIRE(events.wait_count("open", 2, max_wait));
  BOOST_REQUIRE(events.wait_count("joined", 2, max_wait));
  info = ch.push("info").wait_for(max_wait);
  BOOST_REQUIRE(info);
  BOOST_REQUIRE_EQUAL(info->status, "ok");
  BOOST_TEST(string_at(info->response, "connect_params", "token") == fresh_param_secret);
  BOOST_TEST(string_at(info->response, "connect_info", "auth_token") == token_secret);
  // A server-side close, then the end.
  server.admin("/admin/disconnect_all");
  BOOST_REQUIRE(events.wait_count("open", 3, max_wait));
  BOOST_REQUIRE(events.wait_count("joined", 3, max_wait));
  sock.disconnect_and_wait();
  // What the actors hand out when asked, printed.
  texts->add("stats", log_level::off, caf::deep_to_string(sock.stats()));
  {
    caf::scoped_actor self{sock.system()};
    self->request(ch.actor(), 5s, phx::stats_atom::value)
      .receive([&](phx::channel_stats s) { texts->add("stats", log_level::off,
                                                      caf::deep_to_string(s)); },
               [&](caf::error& err) { BOOST_FAIL(to_string(err)); });
  }
  caf::anon_send_exit(spy, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(ch_spy, caf::exit_reason::user_shutdown);
  // The test is not vacuous: trace lines were written, the URL was logged
  // redacted, every kind of event was printed.
  BOOST_TEST(texts->count(log_level::trace, "") + texts->count(log_level::debug, "") > 0u);
  BOOST_TEST(texts->count(log_level::off, "token=REDACTED") > 0u, texts->dump());
  BOOST_TEST(texts->count(log_level::off, "closed 1006") > 0u);
  BOOST_TEST(texts->count(log_level::off, "upgrade refused with HTTP 403") >= 2u);
  BOOST_TEST(texts->count(log_level::off, "(skipped)") == 2u);
  check_no_leak(*texts);
}

BOOST_AUTO_TEST_CASE(the_connect_request_for_the_transport_prints_without_secrets) {
  // The SOCKET builds this for every attempt and hands it to the TRANSPORT.
  phx::socket_options so;
  auto ep = phx::protocol::parse_endpoint("ws://127.0.0.1:4000/socket");
  BOOST_REQUIRE(ep);
  so.endpoint = std::move(*ep);
  so.params = [] {
    return phx::protocol::copy_json(phx::object({{"token", param_secret}}).json());
  };
  so.headers = {{"Authorization", "Bearer " + header_secret}, {"X-Api-Key", api_key_secret}};
  so.auth_token = [] { return std::optional<std::string>{token_secret}; };
  auto ctx = phx::make_socket_context(std::move(so));
  BOOST_REQUIRE(ctx);
  auto req = phx::make_connect_request(**ctx);
  // The token's base64 has the characters websocketpp's add_subprotocol refuses.
  BOOST_TEST(token_b64().find('+') != std::string::npos);
  BOOST_TEST(token_b64().find('/') != std::string::npos);
  // The secrets are in it...
  BOOST_TEST(req.url.find(param_secret) != std::string::npos);
  BOOST_TEST(req.subprotocols.find(token_b64()) != std::string::npos);
  // ...and not in its printed form.
  auto text = caf::deep_to_string(req);
  BOOST_TEST(phx_tls::leaked(text, all_secrets()).empty(), text);
}

BOOST_AUTO_TEST_CASE(the_secrets_reach_the_server_in_query_headers_and_subprotocol) {
  auto texts = std::make_shared<text_capture>();
  runtime_sink_guard runtime_logs{texts};
  phx_test::raw_server_options ro;
  ro.echo_first_subprotocol = true;
  phx_test::raw_server srv{ro};
  auto which = std::make_shared<std::atomic<int>>(0);
  phx_test::recorder events;
  {
    phx::socket sock{srv.url("/socket"), secret_options(which, texts)};
    sock.on_open([&] { events.add("open"); });
    sock.on_error([&](const std::string& reason, int) {
      texts->add("on_error", log_level::off, reason);
    });
    sock.on_close([&](uint16_t, const std::string& reason) {
      texts->add("on_close", log_level::off, reason);
    });
    sock.connect();
    for (int attempt = 1; attempt <= 2; ++attempt) {
      auto up = srv.wait_request(max_wait);
      BOOST_REQUIRE(up);
      BOOST_TEST(up->resource.find("token=" + (attempt == 1 ? param_secret : fresh_param_secret))
                 != std::string::npos);
      BOOST_TEST(up->header("Authorization") == "Bearer " + header_secret);
      BOOST_TEST(up->header("X-Api-Key") == api_key_secret);
      BOOST_TEST(up->header("Sec-WebSocket-Protocol")
                 == "phoenix, base64url.bearer.phx." + token_b64());
      auto id = srv.wait_open(max_wait);
      BOOST_REQUIRE(id);
      BOOST_REQUIRE(events.wait_count("open", static_cast<size_t>(attempt), max_wait));
      if (attempt == 1) {
        which->store(2);
        srv.cut(*id); // the reconnect evaluates the params again
      }
    }
    sock.disconnect_and_wait();
  }
  BOOST_TEST(texts->count(log_level::off, "token=REDACTED") > 0u, texts->dump());
  check_no_leak(*texts);
}

BOOST_AUTO_TEST_SUITE_END()
