// The fallback from WebSocket to long-poll (issue 19) against a real
// phx-server on loopback: its `/nows/socket` refuses the WebSocket upgrade
// with 403 and serves long-poll, as behind a proxy that breaks WebSockets.
#define BOOST_TEST_MODULE phx_fallback_integration
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "phx/phx.hpp"
#include "phx_test/recorder.hpp"
#include "phx_test/server_process.hpp"

using namespace std::chrono_literals;
using phx::transport::transport_kind;
using phx_test::recorder;
using phx_test::server_process;
using steady = std::chrono::steady_clock;

namespace {

constexpr uint32_t window_ms = 2000;

phx::socket::options fallback_options() {
  phx::socket::options opts;
  opts.transport = phx::transport_choice::automatic;
  opts.long_poll_fallback_ms = window_ms;
  opts.reconnect_after_ms = [](uint32_t) { return 100u; };
  opts.rejoin_after_ms = [](uint32_t) { return 100u; };
  opts.log_level = phx::log_level::error;
  return opts;
}

// The server's `/socket` endpoint moved to `/nows/socket`.
std::string websocket_refused_url(const server_process& server) {
  auto url = server.url();
  auto at = url.rfind("/socket");
  BOOST_REQUIRE(at != std::string::npos);
  return url.substr(0, at) + "/nows/socket";
}

// Records the opens (the first one's time), errors and closes of a socket.
struct watched {
  recorder log;
  std::mutex mutex;
  std::optional<steady::time_point> opened;

  void watch(phx::socket& s) {
    s.on_open([this] {
      {
        std::lock_guard<std::mutex> guard{mutex};
        if (!opened)
          opened = steady::now();
      }
      log.add("open");
    });
    s.on_error([this](const std::string&, int status) {
      log.add("error " + std::to_string(status));
    });
    s.on_close([this](uint16_t code, const std::string&) {
      log.add("close " + std::to_string(code));
    });
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_refused_websocket_falls_back_within_the_window_and_loses_nothing) {
  server_process server;
  watched w;
  phx::socket s{websocket_refused_url(server), fallback_options()};
  w.watch(s);
  // Everything made before the first open: the join and 50 pushes.
  auto ch = s.channel("room:lobby");
  auto join = ch.join();
  constexpr int n = 50;
  std::vector<phx::push> pushes;
  for (int i = 0; i < n; ++i)
    pushes.push_back(ch.push("echo", phx::object({{"n", i}}), std::chrono::milliseconds{15000}));
  auto start = steady::now();
  s.connect();
  auto joined = join.wait_for(15s);
  BOOST_REQUIRE_MESSAGE(joined, "no join outcome; " + w.log.dump());
  BOOST_CHECK_EQUAL(joined->status, "ok");
  for (int i = 0; i < n; ++i) {
    auto out = pushes[i].wait_for(15s);
    BOOST_REQUIRE_MESSAGE(out, "push " << i << " has no outcome");
    BOOST_CHECK_EQUAL(out->status, "ok");
    BOOST_CHECK_EQUAL(out->response.to_string(), "{\"n\":" + std::to_string(i) + "}");
  }
  std::optional<steady::time_point> opened;
  {
    std::lock_guard<std::mutex> guard{w.mutex};
    opened = w.opened;
  }
  BOOST_REQUIRE(opened);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(*opened - start);
  BOOST_TEST_MESSAGE("long-poll opened " << took.count() << " ms after connect");
  BOOST_CHECK_LT(took.count(), window_ms);
  BOOST_CHECK(s.transport() == transport_kind::longpoll);
  auto stats = s.stats();
  BOOST_CHECK(stats.transport == transport_kind::longpoll);
  BOOST_CHECK_EQUAL(stats.fallbacks, 1u);
  BOOST_CHECK_EQUAL(stats.opens, 1u);
  // The WebSocket's refusal was reported once, as any failed connect is.
  BOOST_CHECK_EQUAL(w.log.count("error 403"), 1u);
  s.disconnect_and_wait();
}

BOOST_AUTO_TEST_CASE(a_remembered_fallback_starts_the_next_socket_with_long_poll) {
  server_process server;
  auto memory = std::make_shared<phx::in_memory_transport_memory>();
  auto opts = fallback_options();
  opts.remember_fallback = true;
  opts.transport_memory = memory;
  {
    watched w;
    phx::socket first{websocket_refused_url(server), opts};
    w.watch(first);
    first.connect();
    BOOST_REQUIRE_MESSAGE(w.log.wait_for("open", 15s), w.log.dump());
    first.disconnect_and_wait();
  }
  watched w;
  phx::socket second{websocket_refused_url(server), opts};
  w.watch(second);
  second.connect();
  BOOST_REQUIRE_MESSAGE(w.log.wait_for("open", 15s), w.log.dump());
  BOOST_CHECK(second.transport() == transport_kind::longpoll);
  // No WebSocket attempt at all: nothing was refused.
  BOOST_CHECK_EQUAL(w.log.count("error 403"), 0u);
  second.disconnect_and_wait();
}

BOOST_AUTO_TEST_CASE(a_websocket_that_answers_its_first_heartbeat_is_kept) {
  server_process server;
  watched w;
  auto opts = fallback_options();
  opts.long_poll_fallback_ms = 300;
  phx::socket s{server.url(), opts};
  w.watch(s);
  s.connect();
  BOOST_REQUIRE_MESSAGE(w.log.wait_for("open", 15s), w.log.dump());
  // Past the window and its health check: still the WebSocket (bounded wait
  // for a fallback that must not come).
  BOOST_CHECK(!w.log.wait_for("close 1006", 1s));
  BOOST_CHECK(s.transport() == transport_kind::websocket);
  auto stats = s.stats();
  BOOST_CHECK_EQUAL(stats.fallbacks, 0u);
  BOOST_CHECK_EQUAL(stats.opens, 1u);
  s.disconnect_and_wait();
}
