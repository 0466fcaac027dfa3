#pragma once

// The transport the integration tests run over (issue 19). Every integration
// binary runs over WebSocket; ctest registers it a second time as
// `<name>_longpoll` with PHX_TEST_TRANSPORT=longpoll, and the same test code
// then connects over long-poll. WebSocket-only cases (heartbeat, idle
// timeout, stall, binary frames, ...) carry `websocket_only("why")`, which
// skips them visibly in the long-poll run. Include after
// <boost/test/unit_test.hpp>.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include <boost/test/unit_test.hpp>

namespace phx_test {

/// True in the long-poll run (`PHX_TEST_TRANSPORT=longpoll`); false for
/// `websocket` or unset. Any other value aborts the run with a clear message.
inline bool longpoll_run() {
  static const bool value = [] {
    const char* env = std::getenv("PHX_TEST_TRANSPORT");
    std::string_view v = env ? env : "";
    if (v.empty() || v == "websocket")
      return false;
    if (v == "longpoll")
      return true;
    std::fprintf(stderr, "PHX_TEST_TRANSPORT must be websocket or longpoll, got '%s'\n", env);
    std::abort();
  }();
  return value;
}

/// `"longpoll"` or `"websocket"`: the transport of this run.
inline const char* transport_name() {
  return longpoll_run() ? "longpoll" : "websocket";
}

/// Sets `opts.transport` to this run's transport (phx::socket::options and
/// phx::actors::socket_options alike); returns `opts`.
template <class Options>
Options& with_test_transport(Options& opts) {
  if (longpoll_run())
    opts.transport = decltype(opts.transport)::longpoll;
  return opts;
}

/// The close code the client reports when the server ends its connection
/// with `websocket_code`: over long-poll the session is gone (3410, as
/// phoenix.js reports it).
inline uint16_t server_close_code(uint16_t websocket_code) {
  return longpoll_run() ? uint16_t{3410} : websocket_code;
}

/// A Boost.Test precondition that skips a WebSocket-only case in the
/// long-poll run, saying why (on stdout and in Boost.Test's skip reason).
struct websocket_only_condition {
  /// Why the case holds over WebSocket only.
  std::string why;

  /// Boost.Test's precondition call: false (skip) in the long-poll run.
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id id) const {
    if (!longpoll_run())
      return true;
    const auto& name = boost::unit_test::framework::get(id, boost::unit_test::TUT_ANY).p_name;
    std::printf("SKIPPED over long-poll: %s (WebSocket-only: %s)\n", name.get().c_str(),
                why.c_str());
    std::fflush(stdout);
    boost::test_tools::assertion_result r{false};
    r.message() << "WebSocket-only: " << why;
    return r;
  }
};

/// Decorator of a WebSocket-only case:
/// `BOOST_AUTO_TEST_CASE(name, *phx_test::websocket_only("heartbeat"))`.
inline boost::unit_test::decorator::precondition websocket_only(std::string why) {
  return boost::unit_test::decorator::precondition{websocket_only_condition{std::move(why)}};
}

} // namespace phx_test
