// Remote spawn (issue 18, item 5): node A spawns a SOCKET on node B by name
// ("phx.socket", `phx::add_actor_types`) from wire-safe options, over CAF's
// middleman on 127.0.0.1, and drives it and its channel through the public
// typed handles against a real phx-server: join, push and reply, a broadcast
// to a subscriber on node A, connect params and auth token that crossed the
// wire. Bad options are refused with a clear error; a socket stops with its owner.
#define BOOST_TEST_MODULE phx_remote_spawn
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "phx/actors/remote.hpp"
#include "phx/phx.hpp"
#include "phx_test/server_process.hpp"

using namespace std::chrono_literals;
using phx_test::server_process;

namespace {

// Why `x` failed, or "" (Boost evaluates a message even when its check passes).
template <class T>
std::string why(caf::actor_system& sys, const caf::expected<T>& x) {
  return x ? std::string{} : sys.render(x.error());
}

struct node_config : caf::actor_system_config {
  node_config() {
    load<caf::io::middleman>();
    phx::add_actor_types(*this);
    set("logger.verbosity", caf::atom("quiet"));
  }
};

// Node A (the spawner) and node B (runs the sockets), linked over 127.0.0.1.
struct two_nodes {
  node_config cfg_a;
  node_config cfg_b;
  caf::actor_system a{cfg_a};
  caf::actor_system b{cfg_b};
  caf::node_id node_b;

  two_nodes() {
    auto port = b.middleman().open(0, "127.0.0.1");
    BOOST_REQUIRE_MESSAGE(port, "node B cannot open a port: " << why(b, port));
    auto nid = a.middleman().connect("127.0.0.1", *port);
    BOOST_REQUIRE_MESSAGE(nid, "node A cannot reach node B: " << why(a, nid));
    node_b = *nid;
    BOOST_REQUIRE((node_b != a.node()));
  }
};

phx::remote_socket_options options_for(const server_process& server) {
  phx::remote_socket_options o;
  o.url = server.url();
  o.params = R"({"user":"remote-user"})";
  o.auth_token = "remote-secret";
  o.reconnect_after_ms = {100, 200};
  o.rejoin_after_ms = {100};
  o.log_level = "error";
  return o;
}

// Requests `args` from `hdl` and returns the one answer of type T (a test failure otherwise).
template <class T, class Handle, class... Ts>
T ask(caf::scoped_actor& self, const Handle& hdl, Ts&&... args) {
  T out{};
  self->request(hdl, 10s, std::forward<Ts>(args)...)
    .receive([&](T& x) { out = std::move(x); },
             [&](caf::error& e) { BOOST_FAIL("request failed: " << phx::describe(e)); });
  return out;
}

std::string member(const phx::payload& p, const char* a, const char* b = nullptr) {
  if (!p.is_json() || !p.json().IsObject() || !p.json().HasMember(a))
    return "<missing " + std::string{a} + ">";
  auto& v = p.json()[a];
  if (b) {
    if (!v.IsObject() || !v.HasMember(b))
      return "<missing " + std::string{b} + ">";
    return v[b].IsString() ? v[b].GetString() : "<not a string>";
  }
  return v.IsString() ? v.GetString() : "<not a string>";
}

} // namespace

BOOST_AUTO_TEST_CASE(a_socket_spawned_on_another_node_joins_pushes_and_receives) {
  server_process server;
  two_nodes nodes;
  caf::scoped_actor self{nodes.a};
  auto opts = options_for(server);
  // The documented call: by name, with CAF's own remote_spawn.
  auto sock = nodes.a.middleman().remote_spawn<phx::socket_actor>(
    nodes.node_b, phx::socket_actor_type, caf::make_message(opts), 10s);
  BOOST_REQUIRE_MESSAGE(sock, "remote spawn failed: " << why(nodes.a, sock));
  BOOST_TEST((sock->node() == nodes.node_b));
  // Stopped however the test ends: node B's system waits for it.
  std::shared_ptr<void> stop{nullptr, [s = *sock](void*) {
                               caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
                             }};
  self->send(*sock, phx::connect_atom::value);
  auto ch = ask<phx::channel_actor>(self, *sock, phx::channel_atom::value,
                                    std::string{"room:remote"}, phx::object({{"from", "A"}}));
  BOOST_REQUIRE(ch);
  BOOST_TEST((ch.node() == nodes.node_b));
  // Node A's own actor as the channel's subscriber: events cross back over the link.
  self->send(ch, phx::subscribe_atom::value, caf::actor_cast<phx::channel_subscriber_actor>(self));
  auto joined = ask<phx::reply>(self, ch, phx::join_atom::value);
  BOOST_TEST(joined.status == "ok");
  auto echo = ask<phx::reply>(self, ch, phx::push_atom::value, std::string{"echo"},
                              phx::object({{"body", "over the middleman"}}));
  BOOST_TEST(echo.status == "ok");
  BOOST_TEST(member(echo.response, "body") == "over the middleman");
  // The params and token were data on the wire, and reached the server from node B.
  auto info = ask<phx::reply>(self, ch, phx::push_atom::value, std::string{"info"},
                              phx::object({}));
  BOOST_TEST(info.status == "ok");
  BOOST_TEST(member(info.response, "connect_params", "user") == "remote-user");
  BOOST_TEST(member(info.response, "connect_info", "auth_token") == "remote-secret");
  // A broadcast from the server reaches the subscriber on node A.
  auto res = server.admin("/admin/broadcast?topic=room:remote&event=news&payload=%7B%22n%22%3A7%7D");
  BOOST_REQUIRE_EQUAL(res.status, 200);
  bool got_news = false;
  std::string seen;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (int i = 0; i < 50 && !got_news && std::chrono::steady_clock::now() < deadline; ++i)
    self->receive(
      [&](phx::event_atom, phx::protocol::message& m, std::string&, phx::flow_ticket&) {
        seen += m.event + " ";
        got_news = m.event == "news" && m.topic == "room:remote";
      },
      [&](phx::state_atom, std::string&, phx::channel_state) {},
      [&](phx::join_atom, std::string&, phx::reply&) {},
      caf::after(1s) >> [] {});
  BOOST_TEST(got_news, "events seen on node A: " << seen);
  auto stats = ask<phx::socket_stats>(self, *sock, phx::stats_atom::value);
  BOOST_TEST(stats.opens == 1u);
  auto closed = ask<phx::connection_state>(self, *sock, phx::disconnect_atom::value,
                                           uint16_t{1000}, std::string{"done"});
  BOOST_TEST(phx::to_string(closed) == "closed");
}

BOOST_AUTO_TEST_CASE(bad_options_are_refused_with_a_clear_error) {
  server_process server;
  two_nodes nodes;
  auto expect_refusal = [&](phx::remote_socket_options o, const std::string& part) {
    auto sock = phx::remote_spawn_socket(nodes.a, nodes.node_b, o);
    BOOST_REQUIRE(!sock);
    auto text = phx::describe(sock.error());
    BOOST_TEST((sock.error() == phx::ec::invalid_argument), text);
    BOOST_TEST(text.find(part) != std::string::npos, text << " should name " << part);
  };
  auto o = options_for(server);
  o.url = "gopher://127.0.0.1/socket";
  expect_refusal(o, "url");
  o = options_for(server);
  o.params = "[1, 2]";
  expect_refusal(o, "params must be a JSON object");
  o.params = "{not json";
  expect_refusal(o, "params are not JSON");
  o = options_for(server);
  o.transport = "pigeon";
  expect_refusal(o, "transport");
  o = options_for(server);
  o.reconnect_after_ms = {100, -1};
  expect_refusal(o, "reconnect_after_ms");
  o = options_for(server);
  o.log_level = "loud";
  expect_refusal(o, "log_level");
  o = options_for(server);
  o.vsn = "9.9.9";
  expect_refusal(o, "9.9.9");
  // Past the local check, node B refuses by itself: bad options, wrong arguments, no such type.
  o = options_for(server);
  o.url = "not a url";
  o.log_level = "off";
  auto raw = nodes.a.middleman().remote_spawn<phx::socket_actor>(
    nodes.node_b, phx::socket_actor_type, caf::make_message(o), 10s);
  BOOST_REQUIRE(!raw);
  BOOST_TEST((raw.error() == caf::sec::cannot_spawn_actor_from_arguments),
             nodes.a.render(raw.error()));
  auto wrong = nodes.a.middleman().remote_spawn<phx::socket_actor>(
    nodes.node_b, phx::socket_actor_type, caf::make_message(server.url()), 10s);
  BOOST_REQUIRE(!wrong);
  BOOST_TEST((wrong.error() == caf::sec::cannot_spawn_actor_from_arguments),
             nodes.a.render(wrong.error()));
  auto unknown = nodes.a.middleman().remote_spawn<phx::socket_actor>(
    nodes.node_b, "phx.nope", caf::make_message(options_for(server)), 10s);
  BOOST_REQUIRE(!unknown);
  BOOST_TEST((unknown.error() == caf::sec::unknown_type), nodes.a.render(unknown.error()));
}

BOOST_AUTO_TEST_CASE(a_remote_socket_stops_with_its_owner) {
  server_process server;
  two_nodes nodes;
  caf::scoped_actor self{nodes.a};
  auto owner = nodes.a.spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](phx::ping_atom) {}};
  });
  auto opts = options_for(server);
  opts.owner = owner;
  auto sock = phx::remote_spawn_socket(nodes.a, nodes.node_b, opts);
  BOOST_REQUIRE_MESSAGE(sock, "remote spawn failed: " << why(nodes.a, sock));
  std::shared_ptr<void> stop{nullptr, [s = *sock](void*) {
                               caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
                             }};
  self->send(*sock, phx::connect_atom::value);
  BOOST_TEST(phx::to_string(ask<phx::connection_state>(self, *sock, phx::state_atom::value))
             != "");
  self->monitor(*sock);
  caf::anon_send_exit(owner, caf::exit_reason::user_shutdown);
  bool down = false;
  self->receive([&](caf::down_msg& d) { down = d.source == sock->address(); },
                caf::after(10s) >> [] {});
  BOOST_TEST(down, "the socket on node B outlived its owner on node A");
}

BOOST_AUTO_TEST_CASE(wire_options_convert_to_socket_options) {
  phx::remote_socket_options o;
  o.url = "ws://127.0.0.1:4000/socket";
  o.reconnect_after_ms = {10, 50, 100};
  o.transport = "auto";
  o.long_poll_fallback_ms = 1200;
  o.headers = {{"X-Test", "1"}};
  auto so = phx::to_socket_options(o);
  BOOST_REQUIRE(so);
  BOOST_TEST(so->endpoint.port == 4000);
  BOOST_TEST(so->reconnect_after_ms(1) == 10);
  BOOST_TEST(so->reconnect_after_ms(3) == 100);
  BOOST_TEST(so->reconnect_after_ms(9) == 100); // the last entry repeats
  BOOST_TEST(so->rejoin_after_ms(1) == phx::protocol::default_rejoin_after_ms(1));
  BOOST_TEST(!so->params);
  BOOST_TEST(!so->auth_token);
  BOOST_TEST(so->headers.size() == 1u);
  BOOST_TEST(phx::to_string(so->transport) == "auto");
  BOOST_REQUIRE(so->long_poll_fallback);
  BOOST_TEST(so->long_poll_fallback->count() == caf::timespan{1200ms}.count());
  BOOST_TEST(so->timeout.count() == caf::timespan{10s}.count());
  // Secrets stay out of the printed form.
  o.auth_token = "top-secret";
  o.headers = {{"Authorization", "Bearer top-secret"}};
  auto printed = caf::deep_to_string(o);
  BOOST_TEST(printed.find("top-secret") == std::string::npos, printed);
}
