// Transports and fallback (issue 19): the connect request per transport, the
// fallback from WebSocket to long-poll as phoenix.js 1.8's
// `connectWithFallback`, its memory, and no heartbeat over long-poll; in
// virtual time with fake transports.
#include "fixture.hpp"

#include <stdexcept>

using namespace phx_test;
using phx::connection_state;
using phx::transport_choice;
using phx::transport::transport_kind;

namespace {

/// A transport memory whose every call throws (user code, fenced).
struct throwing_memory final : phx::transport_memory {
  int calls = 0;
  bool fell_back(const std::string&) override {
    ++calls;
    throw std::runtime_error("store offline");
  }
  void remember_fallback(const std::string&) override {
    ++calls;
    throw std::runtime_error("store offline");
  }
};

struct choice_fixture : fixture {
  std::vector<std::string> errors;
  std::vector<std::pair<uint16_t, std::string>> closes;

  choice_fixture() {
    hooks->on_error.add(hooks->make_ref(), [this](const std::string& why, int) {
      errors.push_back(why);
    });
    hooks->on_close.add(hooks->make_ref(), [this](uint16_t code, const std::string& why) {
      closes.emplace_back(code, why);
    });
  }

  phx::socket_options with(transport_choice choice,
                           std::optional<caf::timespan> window = std::nullopt) {
    auto opts = options();
    opts.transport = choice;
    opts.long_poll_fallback = window;
    return opts;
  }

  bool errored_with(const std::string& needle) const {
    for (auto& e : errors)
      if (e.find(needle) != std::string::npos)
        return true;
    return false;
  }

  /// The health-check heartbeat sent over the current transport.
  std::optional<message> health_check() {
    auto hbs = sent_events("heartbeat");
    if (hbs.empty())
      return std::nullopt;
    return hbs.front();
  }

  /// The server answers the current transport's first heartbeat.
  void answer_health_check() {
    auto hb = health_check();
    BOOST_REQUIRE_MESSAGE(hb, "no first heartbeat was sent");
    reply(std::nullopt, *hb->ref, "phoenix", "ok");
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(transport_choice_rules, choice_fixture)

// -- the connect request per transport ---------------------------------------------------

BOOST_AUTO_TEST_CASE(longpoll_url_shares_the_websocket_query) {
  auto ep = *phx::protocol::parse_endpoint("wss://example.com/socket?tenant=a");
  phx::protocol::json_document params;
  params.Parse(R"({"token":"t 1","vsn":"9"})");
  BOOST_CHECK_EQUAL(phx::protocol::websocket_url(ep, &params, "2.0.0"),
                    "wss://example.com:443/socket/websocket?tenant=a&token=t%201&vsn=2.0.0");
  BOOST_CHECK_EQUAL(phx::protocol::longpoll_url(ep, &params, "2.0.0"),
                    "https://example.com:443/socket/longpoll?tenant=a&token=t%201&vsn=2.0.0");
  auto plain = *phx::protocol::parse_endpoint("ws://localhost:4000/socket");
  BOOST_CHECK_EQUAL(phx::protocol::longpoll_url(plain, nullptr, "1.0.0"),
                    "http://localhost:4000/socket/longpoll?vsn=1.0.0");
}

BOOST_AUTO_TEST_CASE(websocket_request_carries_token_as_subprotocol_and_compress) {
  auto opts = options();
  opts.auth_token = [] { return std::optional<std::string>{"1234"}; };
  opts.compress = true;
  start(std::move(opts));
  connect();
  auto& req = current()->req;
  BOOST_CHECK(req.kind == transport_kind::websocket);
  BOOST_CHECK_EQUAL(req.url, "ws://localhost:4000/socket/websocket?vsn=2.0.0");
  BOOST_CHECK_EQUAL(req.subprotocols, "phoenix, base64url.bearer.phx.MTIzNA");
  BOOST_CHECK(req.headers.empty());
  BOOST_CHECK(req.compress);
  BOOST_CHECK_EQUAL(req.long_poll_timeout_ms, 20000u);
}

BOOST_AUTO_TEST_CASE(longpoll_request_carries_token_as_header_and_timeout) {
  auto opts = with(transport_choice::longpoll);
  opts.endpoint = *phx::protocol::parse_endpoint("wss://example.com:8443/socket");
  opts.tls.verify_peer = false;
  opts.tls.ca_file = "/etc/ca.pem";
  opts.headers = {{"X-Tenant", "a"}};
  opts.params = [] {
    phx::protocol::json_document d;
    d.Parse(R"({"user":"u1"})");
    return d;
  };
  opts.auth_token = [] { return std::optional<std::string>{"1234"}; };
  opts.compress = true; // WebSocket only
  opts.longpoller_timeout = 7s;
  start(std::move(opts));
  connect();
  auto& req = current()->req;
  BOOST_CHECK(req.kind == transport_kind::longpoll);
  BOOST_CHECK_EQUAL(req.url, "https://example.com:8443/socket/longpoll?user=u1&vsn=2.0.0");
  BOOST_CHECK(req.subprotocols.empty());
  BOOST_REQUIRE_EQUAL(req.headers.size(), 2u);
  BOOST_CHECK_EQUAL(req.headers[0].first, "X-Tenant");
  BOOST_CHECK_EQUAL(req.headers[1].first, "X-Phoenix-AuthToken");
  BOOST_CHECK_EQUAL(req.headers[1].second, "1234");
  BOOST_CHECK(!req.compress);
  BOOST_CHECK_EQUAL(req.long_poll_timeout_ms, 7000u);
  // The same TLS settings as wss.
  BOOST_CHECK(!req.tls.verify_peer);
  BOOST_CHECK_EQUAL(req.tls.ca_file, "/etc/ca.pem");
  BOOST_CHECK(!logged("1234"));
}

BOOST_AUTO_TEST_CASE(bad_transport_options_are_refused) {
  auto zero = with(transport_choice::automatic, caf::timespan{0});
  BOOST_CHECK(!phx::make_socket_context(std::move(zero)));
  auto opts = options();
  opts.longpoller_timeout = caf::timespan{0};
  BOOST_CHECK(!phx::make_socket_context(std::move(opts)));
  for (auto c : {transport_choice::websocket, transport_choice::longpoll,
                 transport_choice::automatic})
    BOOST_CHECK(phx::parse_transport_choice(phx::to_string(c)) == c);
  BOOST_CHECK_EQUAL(phx::to_string(transport_choice::automatic), "auto");
  BOOST_CHECK(!phx::parse_transport_choice("LongPoll"));
}

BOOST_AUTO_TEST_CASE(custom_encode_is_not_used_over_longpoll_only_sockets) {
  // phoenix.js: custom encode/decode with a WebSocket only (kept after a fallback).
  auto base = phx::protocol::make_serializer("2.0.0", phx::protocol::role::client);
  BOOST_REQUIRE(base);
  auto custom = std::make_shared<phx::protocol::custom_serializer>(
    *base, [](const message&) -> phx::protocol::result<phx::protocol::frame> {
      return phx::protocol::frame{phx::protocol::frame_type::text, "custom"};
    },
    phx::protocol::decode_fn{});
  auto lp = with(transport_choice::longpoll);
  lp.serializer = custom;
  auto lp_ctx = phx::make_socket_context(std::move(lp));
  BOOST_REQUIRE(lp_ctx);
  BOOST_CHECK(dynamic_cast<const phx::protocol::custom_serializer*>(
                (*lp_ctx)->serializer.get())
              == nullptr);
  auto fb = with(transport_choice::automatic);
  fb.serializer = custom;
  auto fb_ctx = phx::make_socket_context(std::move(fb));
  BOOST_REQUIRE(fb_ctx);
  BOOST_CHECK((*fb_ctx)->serializer == custom);
}

// -- the fallback -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(no_fallback_without_a_window) {
  start(options());
  connect();
  advance(30s);
  fail("connection refused");
  advance(10s);
  BOOST_REQUIRE_GE(transports.size(), 2u);
  for (auto& t : transports)
    BOOST_CHECK(t->req.kind == transport_kind::websocket);
  BOOST_CHECK_EQUAL(sock_state().stats.fallbacks, 0u);
}

BOOST_AUTO_TEST_CASE(falls_back_when_the_websocket_does_not_open_in_time) {
  start(with(transport_choice::automatic)); // 2,500 ms unless set
  auto c = channel("room:a");
  join(c); // waits in the send buffer: must not be lost by the fallback
  connect();
  advance(2499ms);
  BOOST_CHECK_EQUAL(transports.size(), 1u);
  advance(1ms);
  BOOST_REQUIRE_EQUAL(transports.size(), 2u);
  BOOST_CHECK_EQUAL(transports[0]->aborts, 1);
  BOOST_CHECK(transports[1]->req.kind == transport_kind::longpoll);
  BOOST_CHECK(transports[1]->req.url.find("http://localhost:4000/socket/longpoll?") == 0);
  BOOST_CHECK(errored_with("did not open within 2500 ms"));
  BOOST_CHECK(logged("falling back to long-poll"));
  BOOST_CHECK_EQUAL(sock_state().stats.fallbacks, 1u);
  open();
  BOOST_CHECK(sock_state().conn == connection_state::open);
  BOOST_CHECK(sock_state().stats.transport == transport_kind::longpoll);
  BOOST_CHECK(ctx->transport.load() == transport_kind::longpoll);
  // The join made before any open goes out over long-poll.
  BOOST_CHECK_GE(sent_events("phx_join").size(), 1u);
  BOOST_CHECK(transports[0]->frames.empty());
}

BOOST_AUTO_TEST_CASE(falls_back_at_once_when_the_websocket_fails_before_opening) {
  // phoenix.js: longPollFallbackMs with the WebSocket transport enables the fallback.
  auto opts = with(transport_choice::websocket, 10s);
  opts.reconnect_after_ms = [](uint32_t) -> int64_t { return 60000; };
  start(std::move(opts));
  connect();
  fail("upgrade refused with HTTP 400", 400);
  // At once, not after a reconnect backoff step.
  BOOST_REQUIRE_EQUAL(transports.size(), 2u);
  BOOST_CHECK(transports[1]->req.kind == transport_kind::longpoll);
  BOOST_CHECK(sock_state().conn == connection_state::connecting);
  BOOST_CHECK_EQUAL(sock_state().stats.reconnects, 0u);
  // The failure itself is reported as usual.
  BOOST_CHECK(errored_with("upgrade refused"));
  // The old window no longer runs: nothing more happens after it.
  advance(20s);
  BOOST_CHECK_EQUAL(transports.size(), 2u);
}

BOOST_AUTO_TEST_CASE(falls_back_when_the_first_heartbeat_gets_no_reply) {
  start(with(transport_choice::automatic, 1s));
  auto c = channel("room:a");
  connect_and_open();
  join_ok(c);
  BOOST_REQUIRE(health_check());
  BOOST_CHECK(ctx->transport.load() == transport_kind::websocket);
  advance(999ms);
  BOOST_CHECK_EQUAL(transports.size(), 1u);
  advance(1ms);
  BOOST_REQUIRE_EQUAL(transports.size(), 2u);
  BOOST_CHECK_EQUAL(transports[0]->aborts, 1);
  BOOST_CHECK(transports[1]->req.kind == transport_kind::longpoll);
  BOOST_REQUIRE_EQUAL(closes.size(), 1u);
  BOOST_CHECK_EQUAL(closes[0].first, 1006);
  BOOST_CHECK(closes[0].second.find("first heartbeat") != std::string::npos);
  // The channel rejoins over long-poll once it opens.
  open();
  advance(2s);
  BOOST_CHECK_GE(sent_events("phx_join").size(), 1u);
}

BOOST_AUTO_TEST_CASE(falls_back_when_the_websocket_closes_before_its_first_reply) {
  auto opts = with(transport_choice::automatic);
  opts.reconnect_after_ms = [](uint32_t) -> int64_t { return 60000; };
  start(std::move(opts));
  connect_and_open();
  close(1011, "internal error");
  BOOST_REQUIRE_EQUAL(transports.size(), 2u);
  BOOST_CHECK(transports[1]->req.kind == transport_kind::longpoll);
}

BOOST_AUTO_TEST_CASE(no_fallback_once_the_websocket_passed) {
  auto opts = with(transport_choice::automatic);
  start(std::move(opts));
  connect_and_open();
  answer_health_check();
  BOOST_CHECK(ctx->websocket_passed.load());
  advance(10s);
  BOOST_CHECK_EQUAL(transports.size(), 1u);
  // A later loss reconnects with the backoff, over WebSocket again.
  close(1006);
  BOOST_CHECK_EQUAL(transports.size(), 1u);
  advance(1s);
  BOOST_REQUIRE_EQUAL(transports.size(), 2u);
  BOOST_CHECK(transports[1]->req.kind == transport_kind::websocket);
  // Even a reconnect that fails before opening: the network lets WebSockets through.
  fail("connection refused");
  advance(5s);
  BOOST_REQUIRE_GE(transports.size(), 3u);
  for (auto& t : transports)
    BOOST_CHECK(t->req.kind == transport_kind::websocket);
  BOOST_CHECK_EQUAL(sock_state().stats.fallbacks, 0u);
  open();
  // The health check is not repeated: only the regular heartbeat.
  BOOST_CHECK(sent_events("heartbeat").empty());
}

BOOST_AUTO_TEST_CASE(the_fallback_is_kept_for_the_socket_life) {
  start(with(transport_choice::automatic));
  connect();
  fail("connection refused");
  open();
  close(1006);
  advance(1s);
  BOOST_REQUIRE_EQUAL(transports.size(), 3u);
  BOOST_CHECK(transports[2]->req.kind == transport_kind::longpoll);
  open();
  // A disconnect and a new connect keep it too.
  caf::anon_send(socket, phx::disconnect_atom::value, uint16_t{1000}, std::string{});
  run();
  close(1000);
  connect();
  BOOST_REQUIRE_EQUAL(transports.size(), 4u);
  BOOST_CHECK(transports[3]->req.kind == transport_kind::longpoll);
  BOOST_CHECK_EQUAL(sock_state().stats.fallbacks, 1u);
}

// -- heartbeat and state ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(no_heartbeat_over_longpoll) {
  auto opts = with(transport_choice::longpoll);
  opts.heartbeat_interval = 1s;
  start(std::move(opts));
  connect_and_open();
  advance(120s);
  BOOST_CHECK(sock_state().conn == connection_state::open);
  BOOST_CHECK(sent_events("heartbeat").empty());
  BOOST_CHECK_EQUAL(sock_state().stats.heartbeat_timeouts, 0u);
  BOOST_CHECK_EQUAL(transports.size(), 1u);
}

BOOST_AUTO_TEST_CASE(the_state_names_the_transport) {
  start(with(transport_choice::longpoll));
  BOOST_CHECK(sock_state().stats.transport == transport_kind::websocket);
  connect();
  // The attempt already names its transport.
  BOOST_CHECK(sock_state().stats.transport == transport_kind::longpoll);
  open();
  // The actor API's stats query names it.
  auto got = std::make_shared<std::optional<phx::socket_stats>>();
  spawn([sock = socket, got](caf::event_based_actor* self) {
    self->request(sock, caf::infinite, phx::stats_atom::value)
      .then([got](phx::socket_stats s) { *got = s; });
  });
  run();
  BOOST_REQUIRE_MESSAGE(*got, "no stats reply");
  BOOST_CHECK((*got)->transport == transport_kind::longpoll);
  BOOST_CHECK(ctx->transport.load() == transport_kind::longpoll);
  BOOST_CHECK(logged("connected over longpoll"));
}

// -- the transport memory ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_fallback_is_remembered_and_consulted) {
  auto memory = std::make_shared<phx::in_memory_transport_memory>();
  auto opts = with(transport_choice::automatic);
  opts.remember_fallback = true;
  opts.transport_memory = memory;
  start(std::move(opts));
  connect();
  BOOST_CHECK(transports[0]->req.kind == transport_kind::websocket);
  fail("connection refused");
  BOOST_CHECK(!memory->fell_back("ws://localhost:4000/socket")); // not before long-poll opened
  open();
  BOOST_CHECK(memory->fell_back("ws://localhost:4000/socket"));
  BOOST_CHECK(!memory->fell_back("ws://localhost:4001/socket"));
}

BOOST_AUTO_TEST_CASE(a_remembered_fallback_skips_the_websocket) {
  auto memory = std::make_shared<phx::in_memory_transport_memory>();
  memory->remember_fallback("ws://localhost:4000/socket");
  auto opts = with(transport_choice::automatic);
  opts.remember_fallback = true;
  opts.transport_memory = memory;
  start(std::move(opts));
  connect();
  BOOST_REQUIRE_EQUAL(transports.size(), 1u);
  BOOST_CHECK(transports[0]->req.kind == transport_kind::longpoll);
  BOOST_CHECK(logged("remembered for this endpoint"));
  BOOST_CHECK_EQUAL(sock_state().stats.fallbacks, 1u);
}

BOOST_AUTO_TEST_CASE(the_memory_is_consulted_only_when_asked) {
  auto memory = std::make_shared<phx::in_memory_transport_memory>();
  memory->remember_fallback("ws://localhost:4000/socket");
  auto opts = with(transport_choice::automatic);
  opts.transport_memory = memory; // remember_fallback is off
  start(std::move(opts));
  connect();
  BOOST_CHECK(transports[0]->req.kind == transport_kind::websocket);
}

BOOST_AUTO_TEST_CASE(the_process_memory_is_the_default) {
  auto opts = with(transport_choice::automatic);
  opts.endpoint = *phx::protocol::parse_endpoint("ws://process-memory.test:4000/socket");
  opts.remember_fallback = true;
  start(std::move(opts));
  connect();
  fail("connection refused");
  open();
  BOOST_CHECK(phx::process_transport_memory()->fell_back("ws://process-memory.test:4000/socket"));
  std::dynamic_pointer_cast<phx::in_memory_transport_memory>(phx::process_transport_memory())
    ->clear();
}

BOOST_AUTO_TEST_CASE(a_throwing_memory_is_fenced) {
  auto memory = std::make_shared<throwing_memory>();
  auto opts = with(transport_choice::automatic);
  opts.remember_fallback = true;
  opts.transport_memory = memory;
  start(std::move(opts));
  connect();
  // It counts as "no fallback remembered": the WebSocket is tried.
  BOOST_REQUIRE_EQUAL(transports.size(), 1u);
  BOOST_CHECK(transports[0]->req.kind == transport_kind::websocket);
  BOOST_CHECK(errored_with("transport_memory"));
  BOOST_CHECK(errored_with("store offline"));
  fail("connection refused");
  open();
  // Remembering throws too: the long-poll connection stands all the same.
  BOOST_CHECK_EQUAL(memory->calls, 2);
  BOOST_CHECK(sock_state().conn == connection_state::open);
  BOOST_CHECK(sock_state().stats.transport == transport_kind::longpoll);
}

BOOST_AUTO_TEST_SUITE_END()
