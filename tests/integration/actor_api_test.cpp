// The actor interface against a real phx-server: CAF actors drive channels
// with request(...).then(...), subscribe to events as typed messages, and use
// a channel from another CAF node through the middleman on loopback.
#define BOOST_TEST_MODULE phx_actor_api_integration
#include <boost/test/unit_test.hpp>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "phx/actors/channel.hpp"
#include "phx/actors/socket.hpp"
#include "phx/phx.hpp"
#include "phx_test/recorder.hpp"
#include "phx_test/scheduler.hpp"
#include "phx_test/server_process.hpp"
#include "phx_test/transport.hpp"

using namespace std::chrono_literals;
using phx_test::recorder;
using phx_test::server_process;

namespace {

struct node_config : caf::actor_system_config {
  node_config() {
    load<caf::io::middleman>();
    phx::add_message_types(*this);
    phx_test::apply_test_scheduler(*this);
    set("logger.verbosity", caf::atom("quiet"));
  }
};

phx::socket_actor spawn_connected_socket(caf::actor_system& sys, const std::string& url) {
  phx::socket_options opts;
  opts.endpoint = *phx::protocol::parse_endpoint(url);
  opts.reconnect_after_ms = [](uint32_t) -> int64_t { return 100; };
  phx_test::with_test_transport(opts);
  auto ctx = phx::make_socket_context(std::move(opts));
  BOOST_REQUIRE(ctx);
  auto sock = phx::spawn_socket(sys, *ctx);
  caf::anon_send(sock, phx::connect_atom::value);
  return sock;
}

/// A subscriber that logs what it gets: "state <s>", "join <status>", "event <e> <payload>".
phx::channel_subscriber_actor spawn_logging_subscriber(caf::actor_system& sys, recorder& log) {
  return sys.spawn([&log]() -> phx::channel_subscriber_actor::behavior_type {
    return {
      [&log](phx::event_atom, phx::protocol::message& m, std::string&, phx::flow_ticket&) {
        log.add("event " + m.event + " " + m.payload.to_string());
      },
      [&log](phx::state_atom, std::string&, phx::channel_state s) {
        log.add("state " + phx::to_string(s));
      },
      [&log](phx::join_atom, std::string&, phx::reply& r) { log.add("join " + r.status); },
    };
  });
}

/// Node A owns a connected socket and publishes one of its channels through
/// the middleman on 127.0.0.1; node B holds a remote handle to that channel.
struct two_nodes {
  server_process server;
  node_config cfg_a;
  caf::actor_system node_a{cfg_a};
  phx::socket_actor sock = spawn_connected_socket(node_a, server.url());
  node_config cfg_b;
  caf::actor_system node_b{cfg_b};
  phx::channel_actor remote;

  explicit two_nodes(const std::string& topic) {
    caf::scoped_actor self_a{node_a};
    phx::channel_actor ch;
    self_a->request(sock, 10s, phx::channel_atom::value, topic, phx::payload{})
      .receive([&](phx::channel_actor& c) { ch = c; }, [](caf::error&) {});
    BOOST_REQUIRE(ch);
    auto port = node_a.middleman().publish(ch, 0, "127.0.0.1");
    BOOST_REQUIRE_MESSAGE(port, (port ? std::string{} : to_string(port.error())));
    auto found = node_b.middleman().remote_actor<phx::channel_actor>("127.0.0.1", *port);
    BOOST_REQUIRE_MESSAGE(found, (found ? std::string{} : to_string(found.error())));
    remote = *found;
  }

  ~two_nodes() { caf::anon_send_exit(sock, caf::exit_reason::user_shutdown); }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_caf_actor_joins_and_pushes_with_request_then) {
  server_process server;
  node_config cfg;
  caf::actor_system sys{cfg};
  auto sock = spawn_connected_socket(sys, server.url());
  caf::scoped_actor self{sys};
  phx::channel_actor ch;
  self->request(sock, 10s, phx::channel_atom::value, std::string{"room:actors"},
                phx::payload{})
    .receive([&](phx::channel_actor& c) { ch = c; },
             [&](caf::error& e) { BOOST_FAIL(to_string(e)); });
  BOOST_REQUIRE(ch);
  self->request(ch, 10s, phx::join_atom::value)
    .receive([&](phx::reply& r) { BOOST_CHECK_EQUAL(r.status, "ok"); },
             [&](caf::error& e) { BOOST_FAIL(to_string(e)); });
  // A user's own actor composes with the channel: request(...).then(...).
  recorder log;
  auto worker = sys.spawn([&](caf::event_based_actor* me) {
    me->request(ch, 10s, phx::push_atom::value, std::string{"echo"},
                phx::object({{"from", "worker"}}))
      .then([&](phx::reply& r) { log.add(r.status + " " + r.response.to_string()); },
            [&](caf::error& e) { log.add("error " + to_string(e)); });
    me->request(ch, 10s, phx::push_atom::value, std::string{"noreply"}, phx::payload{},
                caf::timespan{200ms})
      .then([&](phx::reply&) { log.add("unexpected reply"); },
            [&](caf::error& e) {
              log.add(e == phx::ec::push_timeout ? "timeout" : "error " + to_string(e));
            });
  });
  BOOST_CHECK(log.wait_for(R"(ok {"from":"worker"})"));
  BOOST_CHECK(log.wait_for("timeout"));
  caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(sock, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(subscribers_receive_events_as_typed_messages) {
  server_process server;
  node_config cfg;
  caf::actor_system sys{cfg};
  auto sock = spawn_connected_socket(sys, server.url());
  caf::scoped_actor self{sys};
  phx::channel_actor ch;
  self->request(sock, 10s, phx::channel_atom::value, std::string{"room:subs"}, phx::payload{})
    .receive([&](phx::channel_actor& c) { ch = c; }, [&](caf::error&) {});
  BOOST_REQUIRE(ch);
  recorder log;
  auto sub = spawn_logging_subscriber(sys, log);
  self->send(ch, phx::subscribe_atom::value, sub);
  self->request(ch, 10s, phx::join_atom::value).receive([](phx::reply&) {}, [](caf::error&) {});
  BOOST_CHECK(log.wait_for("join ok"));
  self->request(ch, 10s, phx::push_atom::value, std::string{"shout"}, phx::object({{"x", 1}}))
    .receive([](phx::reply&) {}, [](caf::error&) {});
  BOOST_CHECK(log.wait_for(R"(event shout {"x":1})"));
  BOOST_CHECK(log.count("state joined") == 1);
  caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(sock, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(a_channel_is_used_from_another_caf_node) {
  // Node B drives node A's channel with typed requests over the wire.
  two_nodes nodes{"room:remote"};
  caf::scoped_actor self_b{nodes.node_b};
  self_b->request(nodes.remote, 10s, phx::join_atom::value)
    .receive([&](phx::reply& r) { BOOST_CHECK_EQUAL(r.status, "ok"); },
             [&](caf::error& e) { BOOST_FAIL(to_string(e)); });
  self_b->request(nodes.remote, 10s, phx::push_atom::value, std::string{"echo"},
                  phx::object({{"over", "the wire"}, {"n", 42}}))
    .receive(
      [&](phx::reply& r) {
        BOOST_CHECK_EQUAL(r.status, "ok");
        BOOST_CHECK_EQUAL(r.response.to_string(), R"({"over":"the wire","n":42})");
      },
      [&](caf::error& e) { BOOST_FAIL(to_string(e)); });
  // Binary payloads cross the wire too (WebSocket only: a poll answer is JSON text).
  if (!phx_test::longpoll_run())
    self_b->request(nodes.remote, 10s, phx::push_atom::value, std::string{"bin"},
                    phx::binary(std::string("\x00\xff", 2)))
      .receive(
        [&](phx::reply& r) {
          BOOST_CHECK(r.response.is_binary());
          BOOST_CHECK(r.response.binary_view() == std::string("\x00\xff", 2));
        },
        [&](caf::error& e) { BOOST_FAIL(to_string(e)); });
  self_b->request(nodes.remote, 10s, phx::state_atom::value)
    .receive([&](phx::channel_state s) { BOOST_CHECK(s == phx::channel_state::joined); },
             [&](caf::error& e) { BOOST_FAIL(to_string(e)); });
}

BOOST_AUTO_TEST_CASE(remote_subscribers_and_typed_errors_cross_the_wire) {
  two_nodes nodes{"room:remote_subs"};
  caf::scoped_actor self_b{nodes.node_b};
  // A push before the join: the typed error arrives on node B as phx::ec.
  self_b->request(nodes.remote, 10s, phx::push_atom::value, std::string{"echo"}, phx::payload{})
    .receive([&](phx::reply& r) { BOOST_FAIL("a reply before joining: " << r.status); },
             [&](caf::error& e) { BOOST_CHECK(e == phx::ec::not_joined); });
  // A subscriber living on node B gets states, the join outcome and events.
  recorder log;
  auto sub = spawn_logging_subscriber(nodes.node_b, log);
  self_b->send(nodes.remote, phx::subscribe_atom::value, sub);
  self_b->request(nodes.remote, 10s, phx::join_atom::value)
    .receive([&](phx::reply& r) { BOOST_CHECK_EQUAL(r.status, "ok"); },
             [&](caf::error& e) { BOOST_FAIL(to_string(e)); });
  BOOST_CHECK(log.wait_for("join ok"));
  BOOST_CHECK(log.wait_for("state joined"));
  self_b->request(nodes.remote, 10s, phx::push_atom::value, std::string{"shout"},
                  phx::object({{"from", "node b"}}))
    .receive([](phx::reply&) {}, [&](caf::error& e) { BOOST_FAIL(to_string(e)); });
  BOOST_CHECK(log.wait_for(R"(event shout {"from":"node b"})"));
  // A push without a reply times out on node A; node B gets the timeout.
  self_b->request(nodes.remote, 10s, phx::push_atom::value, std::string{"noreply"}, phx::payload{},
                  caf::timespan{200ms})
    .receive([&](phx::reply& r) { BOOST_FAIL("unexpected reply " << r.status); },
             [&](caf::error& e) { BOOST_CHECK(e == phx::ec::push_timeout); });
  caf::anon_send_exit(sub, caf::exit_reason::user_shutdown);
}
