// Issue 16 against a real phx-server: user code that throws from every kind
// of callback and user function leaves the socket and its channels
// answering; pushes made while a channel crashes and while it is dead each
// get exactly one outcome; a user thread inside a callback never stalls the
// io thread or other sockets.
#define BOOST_TEST_MODULE phx_supervision_integration
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "phx/phx.hpp"
#include "phx/actors/socket.hpp"
#include "phx/protocol/serializer.hpp"
#include "phx_test/recorder.hpp"
#include "phx_test/require.hpp"
#include "phx_test/server_process.hpp"
#include "phx_test/transport.hpp"

using namespace std::chrono_literals;
using phx_test::recorder;
using phx_test::server_process;

namespace {

phx::socket::options fast_options() {
  phx::socket::options opts;
  opts.reconnect_after_ms = [](uint32_t) { return 100u; };
  opts.rejoin_after_ms = [](uint32_t) { return 100u; };
  opts.log_level = phx::log_level::error;
  return phx_test::with_test_transport(opts);
}

/// Counts the outcomes of every push made, whatever their status.
struct outcome_counter {
  std::mutex mutex;
  std::vector<std::shared_ptr<std::atomic<int>>> counts;
  recorder log;

  phx::push track(phx::push p) {
    auto n = std::make_shared<std::atomic<int>>(0);
    {
      std::lock_guard<std::mutex> guard{mutex};
      counts.push_back(n);
    }
    for (auto status : {"ok", "error", "timeout", "failed"})
      p.receive(status, [this, n](const phx::payload&) {
        ++*n;
        log.add("outcome");
      });
    return p;
  }

  /// Waits until every push made has an outcome; then checks none has two.
  void require_exactly_one_each() {
    size_t total;
    {
      std::lock_guard<std::mutex> guard{mutex};
      total = counts.size();
    }
    BOOST_REQUIRE_MESSAGE(log.wait_count("outcome", total, 30s),
                          "outcomes: " << log.count("outcome") << " of " << total);
    std::lock_guard<std::mutex> guard{mutex};
    for (auto& n : counts)
      BOOST_CHECK_EQUAL(n->load(), 1);
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(user_code_throwing_from_every_kind_of_callback_leaves_socket_and_channel_answering,
                     *phx_test::websocket_only("custom encode/decode apply to WebSocket only, as in phoenix.js")) {
  server_process server;
  recorder log;
  outcome_counter pushes;
  auto opts = fast_options();
  std::atomic<int> params_calls{0};
  opts.params_fn = [&]() -> phx::payload {
    if (++params_calls == 1)
      throw std::runtime_error{"params not ready"};
    return phx::object({{"user", "fenced"}});
  };
  std::atomic<int> token_calls{0};
  opts.auth_token = [&]() -> std::optional<std::string> {
    if (++token_calls == 1)
      throw std::runtime_error{"token not ready"};
    return std::nullopt;
  };
  auto v2 = phx::protocol::make_serializer("2.0.0", phx::protocol::role::client);
  BOOST_REQUIRE(v2);
  auto base = *v2;
  opts.encode = [base](const phx::message& m) {
    if (m.event == "unencodable")
      throw std::runtime_error{"cannot encode that"};
    return base->encode(m);
  };
  opts.decode = [base](phx::protocol::frame_type type, std::string&& data) {
    if (data.find("poison") != std::string::npos)
      throw std::runtime_error{"cannot decode that"};
    return base->decode(type, std::move(data));
  };
  phx::socket s{server.url(), opts};
  s.on_error([&](const std::string& why, int) { log.add("error: " + why); });
  s.on_error([](const std::string&, int) { throw std::runtime_error{"on_error itself"}; });
  s.on_open([&] {
    log.add("open");
    throw std::runtime_error{"on_open"};
  });
  s.on_message([](const phx::message& m) {
    if (m.event == "shout")
      throw std::runtime_error{"on_message"};
  });
  s.connect();
  BOOST_REQUIRE_MESSAGE(log.wait_for("open"), log.dump());
  auto ch = s.channel("room:fence");
  ch.on("shout", [](const phx::payload&) { throw std::runtime_error{"binding"}; });
  ch.on("shout", [&](const phx::payload&) { log.add("shout seen"); });
  ch.on_state([](phx::channel_state) { throw std::runtime_error{"on_state"}; });
  ch.on_message([](const phx::message& m) -> phx::payload {
    if (m.event == "later")
      throw std::runtime_error{"transform"};
    return m.payload;
  });
  auto join = ch.join();
  join.receive("ok", [&](const phx::payload&) {
    log.add("joined");
    throw std::runtime_error{"join receive"};
  });
  BOOST_REQUIRE_MESSAGE(log.wait_for("joined"), log.dump());
  auto thrower = pushes.track(ch.push("echo", phx::object({{"n", 1}})));
  thrower.receive("ok", [](const phx::payload&) { throw std::runtime_error{"push receive"}; });
  pushes.track(ch.push("shout", phx::object({{"body", "hi"}})));
  BOOST_REQUIRE_MESSAGE(log.wait_for("shout seen"), log.dump());
  pushes.track(ch.push("push_later", phx::object({{"ms", 1}})));
  pushes.track(ch.push("unencodable", phx::object({})));
  // A broadcast the custom decode refuses: dropped and reported.
  pushes.track(ch.push("shout", phx::object({{"body", "poison"}})));
  auto bad = PHX_REQUIRE_VALUE(ch.push("unencodable", phx::object({})).wait_for(10s));
  BOOST_CHECK_EQUAL(bad.status, "failed");
  pushes.require_exactly_one_each();
  for (auto what : {"'params' threw: params not ready", "'auth_token' threw: token not ready",
                    "'on_open' threw: on_open",
                    "'on_message' threw: on_message", "'on(\"shout\")' threw: binding",
                    "'on_state' threw: on_state", "'on_message' threw: transform",
                    "'receive(\"ok\")' threw: join receive",
                    "'receive(\"ok\")' threw: push receive", "'encode' threw: cannot encode",
                    "'decode' threw: cannot decode"})
    BOOST_CHECK_MESSAGE(log.wait([&](const recorder::lines& ls) {
      for (auto& l : ls)
        if (l.find(what) != std::string::npos)
          return true;
      return false;
    }, 10s), "not reported: " << what << "\n" << log.dump());
  // on_error's own fault is only logged, never reported through on_error.
  BOOST_CHECK_EQUAL(log.count("error: callback 'on_error' threw: on_error itself"), 0u);
  // Afterwards the channel and the socket still answer.
  auto echo = PHX_REQUIRE_VALUE(ch.push("echo", phx::object({{"n", 2}})).wait_for(10s));
  BOOST_CHECK_EQUAL(echo.status, "ok");
  BOOST_CHECK(s.connected());
  BOOST_CHECK(ch.state() == phx::channel_state::joined);
  // The leave's receive throws too; the channel still closes.
  ch.leave().receive("ok", [&](const phx::payload&) {
    log.add("left");
    throw std::runtime_error{"leave receive"};
  });
  BOOST_REQUIRE_MESSAGE(log.wait_for("left"), log.dump());
  s.disconnect_and_wait();
}

BOOST_AUTO_TEST_CASE(pushes_made_while_a_channel_crashes_and_while_it_is_dead_each_get_one_outcome) {
  server_process server;
  recorder log;
  outcome_counter pushes;
  auto opts = fast_options();
  opts.callback_failure = phx::callback_failure::restart;
  opts.max_restarts = 2;
  phx::socket s{server.url(), opts};
  s.on_error([&](const std::string& why, int) { log.add("error: " + why); });
  s.on_open([&] { log.add("open"); });
  s.connect();
  BOOST_REQUIRE_MESSAGE(log.wait_for("open"), log.dump());
  auto ch = s.channel("room:crashy");
  ch.on("shout", [](const phx::payload&) { throw std::runtime_error{"crash me"}; });
  ch.join().receive("ok", [&](const phx::payload&) { log.add("joined"); });
  BOOST_REQUIRE_MESSAGE(log.wait_for("joined"), log.dump());
  auto actor = ch.actor();
  caf::scoped_actor self{s.system()};
  // Two crashes fit the intensity: pushes around each get one outcome, the
  // channel (the same actor) rejoins and answers again.
  for (size_t round = 1; round <= 2; ++round) {
    for (int i = 0; i < 20; ++i)
      pushes.track(ch.push("echo", phx::object({{"i", i}})));
    pushes.track(ch.push("shout", phx::object({})));
    for (int i = 0; i < 20; ++i)
      pushes.track(ch.push("delay", phx::object({{"ms", 50}})));
    BOOST_REQUIRE_MESSAGE(log.wait_count("joined", round + 1, 10s), log.dump());
    auto echo = PHX_REQUIRE_VALUE(ch.push("echo", phx::object({})).wait_for(10s));
    BOOST_CHECK_EQUAL(echo.status, "ok");
    BOOST_CHECK(ch.actor() == actor);
  }
  pushes.require_exactly_one_each();
  // The actor API sees the same: a pending request ends with channel_crashed.
  caf::error crashed;
  // No reply ever comes to "noreply": only the crash can end it.
  auto pending = self->request(actor, 10s, phx::push_atom::value, std::string{"noreply"},
                               phx::object({}));
  pushes.track(ch.push("shout", phx::object({})));
  pending.receive([](phx::reply&) {}, [&](caf::error& e) { crashed = e; });
  BOOST_CHECK(crashed == phx::ec::channel_crashed);
  // That third crash within 30 s stops the socket for good.
  BOOST_REQUIRE_MESSAGE(log.wait([](const recorder::lines& ls) {
    for (auto& l : ls)
      if (l.find("stopped for good") != std::string::npos)
        return true;
    return false;
  }), log.dump());
  // Pushes sent to the dead channel, through the facade and the actor API.
  for (int i = 0; i < 10; ++i)
    pushes.track(ch.push("echo", phx::object({})));
  auto late = PHX_REQUIRE_VALUE(ch.push("echo", phx::object({})).wait_for(10s));
  BOOST_CHECK_EQUAL(late.status, "timeout");
  BOOST_CHECK(late.error == phx::ec::socket_stopped);
  caf::error dead;
  self->request(actor, 10s, phx::push_atom::value, std::string{"echo"}, phx::object({}))
    .receive([](phx::reply&) {}, [&](caf::error& e) { dead = e; });
  BOOST_CHECK(dead == caf::sec::request_receiver_down);
  pushes.require_exactly_one_each();
  BOOST_CHECK(!s.connected());
}

BOOST_AUTO_TEST_CASE(a_user_thread_inside_a_callback_stalls_neither_the_io_thread_nor_other_sockets) {
  server_process server;
  recorder log;
  auto open_joined = [&](const std::string& name) {
    auto s = std::make_unique<phx::socket>(server.url(), fast_options());
    s->on_open([&log, name] { log.add(name + " open"); });
    s->connect();
    BOOST_REQUIRE(log.wait_for(name + " open"));
    auto ch = s->channel("room:" + name);
    ch.join().receive("ok", [&log, name](const phx::payload&) { log.add(name + " joined"); });
    BOOST_REQUIRE(log.wait_for(name + " joined"));
    return std::make_pair(std::move(s), ch);
  };
  auto [a, a_ch] = open_joined("a");
  auto [b, b_ch] = open_joined("b");
  auto done = a_ch.push("echo", phx::object({}));
  BOOST_REQUIRE(done.wait_for(10s));
  // A user thread adds a hook to the finished push: it runs at once, on that
  // thread, and stays inside it until the test lets it go (10 s at most).
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> inside{false};
  std::thread user([&] {
    done.receive("ok", [&](const phx::payload&) {
      inside = true;
      log.add("user inside");
      std::unique_lock<std::mutex> guard{mutex};
      cv.wait_for(guard, 10s, [&] { return release; });
      inside = false;
    });
  });
  BOOST_REQUIRE(log.wait_for("user inside"));
  // Meanwhile both sockets' callbacks run on the io thread: 50 echo round
  // trips each, counted in their callbacks, all while the user thread is inside.
  for (auto* ch : {&a_ch, &b_ch})
    for (int i = 0; i < 50; ++i)
      ch->push("echo", phx::object({{"i", i}}))
        .receive("ok", [&](const phx::payload&) {
          log.add(inside ? "echo while inside" : "echo after");
        });
  bool all = log.wait_count("echo while inside", 100, 10s);
  {
    std::lock_guard<std::mutex> guard{mutex};
    release = true;
  }
  cv.notify_all();
  user.join();
  BOOST_CHECK_MESSAGE(all, "echo callbacks while the user thread was inside: "
                             << log.count("echo while inside") << " of 100");
  BOOST_CHECK_EQUAL(log.count("echo after"), 0u);
}

namespace {

struct node_config : caf::actor_system_config {
  node_config() {
    load<caf::io::middleman>();
    phx::add_message_types(*this);
    set("logger.verbosity", caf::atom("quiet"));
  }
};

/// A channel's or socket's counters, asked through its public interface.
template <class Stats, class Handle>
Stats stats_of(caf::scoped_actor& self, const Handle& hdl) {
  Stats out;
  self->request(hdl, 10s, phx::stats_atom::value)
    .receive([&](Stats& s) { out = s; }, [](caf::error& e) { BOOST_FAIL(to_string(e)); });
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(internal_messages_from_another_node_are_refused_and_reported) {
  server_process server;
  node_config cfg_a;
  caf::actor_system node_a{cfg_a};
  recorder log;
  phx::socket_options opts;
  opts.endpoint = *phx::protocol::parse_endpoint(server.url());
  opts.logger = phx::logger{phx::log_level::warning,
                            [&](phx::log_level, std::string_view, std::string_view text) {
                              log.add(std::string{text});
                            }};
  auto ctx = phx::make_socket_context(std::move(opts));
  BOOST_REQUIRE(ctx);
  auto sock = phx::spawn_socket(node_a, *ctx);
  // Stopped however the test ends: node A's system waits for it.
  std::shared_ptr<void> stop_sock{nullptr, [sock](void*) {
                                    caf::anon_send_exit(sock, caf::exit_reason::user_shutdown);
                                  }};
  caf::anon_send(sock, phx::connect_atom::value);
  caf::scoped_actor self_a{node_a};
  phx::channel_actor ch;
  self_a->request(sock, 10s, phx::channel_atom::value, std::string{"room:private"},
                  phx::payload{})
    .receive([&](phx::channel_actor& c) { ch = c; }, [](caf::error&) {});
  BOOST_REQUIRE(ch);
  auto ch_port = node_a.middleman().publish(ch, 0, "127.0.0.1");
  auto sock_port = node_a.middleman().publish(sock, 0, "127.0.0.1");
  BOOST_REQUIRE(ch_port && sock_port);
  node_config cfg_b;
  caf::actor_system node_b{cfg_b};
  auto remote_ch = node_b.middleman().remote_actor<phx::channel_actor>("127.0.0.1", *ch_port);
  auto remote_sock = node_b.middleman().remote_actor<phx::socket_actor>("127.0.0.1", *sock_port);
  BOOST_REQUIRE(remote_ch && remote_sock);
  caf::scoped_actor self_b{node_b};
  // The public side works from node B.
  self_b->request(*remote_ch, 10s, phx::join_atom::value)
    .receive([&](phx::reply& r) { BOOST_CHECK_EQUAL(r.status, "ok"); },
             [&](caf::error& e) { BOOST_FAIL(to_string(e)); });
  // A push that never gets a reply: forged replies for every ref near it
  // must not resolve it.
  auto pending = self_b->request(*remote_ch, 10s, phx::push_atom::value,
                                 std::string{"noreply"}, phx::object({}), caf::timespan{1s});
  std::vector<phx::message> forged;
  for (int ref = 1; ref <= 20; ++ref)
    forged.push_back(phx::message::reply(std::nullopt, std::to_string(ref), "room:private",
                                         "ok", phx::object({{"forged", true}})));
  auto to_ch = *remote_ch;
  self_b->send(to_ch, phx::opened_atom::value);
  self_b->send(to_ch, phx::message_atom::value, forged, phx::flow_ticket{});
  self_b->send(to_ch, phx::error_atom::value, std::string{"connection_closed"});
  self_b->send(to_ch, phx::duplicate_atom::value, std::string{"999999"});
  self_b->send(to_ch, phx::refused_atom::value, std::string{"1"},
               caf::make_error(phx::ec::encode_failed));
  self_b->send(to_ch, phx::crash_atom::value, std::string{"forged"});
  self_b->send(to_ch, phx::attach_atom::value, caf::actor{});
  self_b->send(to_ch, phx::rejoin_atom::value, uint64_t{1});
  self_b->send(to_ch, phx::join_timeout_atom::value, uint64_t{1});
  self_b->send(to_ch, phx::leave_timeout_atom::value, uint64_t{1});
  self_b->send(to_ch, phx::push_timeout_atom::value, uint64_t{1});
  const uint64_t to_channel = 11;
  auto to_sock = *remote_sock;
  auto fake = phx::protocol::message{};
  fake.topic = "room:private";
  fake.event = "phx_leave";
  fake.ref = "424242";
  self_b->send(to_sock, phx::send_atom::value, fake);
  // Routing a topic to an actor of node B would let it eavesdrop.
  auto spy = node_b.spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](caf::message&) {}};
  });
  std::shared_ptr<void> stop_spy{nullptr, [spy](void*) {
                                   caf::anon_send_exit(spy, caf::exit_reason::user_shutdown);
                                 }};
  self_b->send(to_sock, phx::channel_atom::value, caf::actor_cast<phx::channel_actor>(spy),
               std::string{"room:private"});
  self_b->send(to_sock, phx::remove_atom::value, to_ch, phx::closed_atom::value);
  self_b->send(to_sock, caf::flush_atom::value);
  self_b->send(to_sock, phx::heartbeat_atom::value, uint64_t{1});
  self_b->send(to_sock, phx::hb_timeout_atom::value, uint64_t{1});
  self_b->send(to_sock, phx::reconnect_atom::value, uint64_t{1});
  self_b->send(to_sock, phx::teardown_atom::value, uint64_t{1});
  self_b->send(to_sock, phx::crash_atom::value, std::string{"forged"});
  self_b->send(to_sock, phx::halt_atom::value, caf::make_error(phx::ec::socket_stopped));
  self_b->send(to_sock, phx::opened_atom::value, phx::transport::generation{1},
               phx::transport::transport_kind::websocket);
  self_b->send(to_sock, phx::closed_atom::value, phx::transport::generation{1}, uint16_t{1000},
               std::string{"forged"});
  self_b->send(to_sock, phx::failed_atom::value, phx::transport::generation{1},
               phx::transport::connect_failure{"forged", 0});
  const uint64_t to_socket = 13;
  // Every one of them refused, counted and logged (bounded wait).
  caf::scoped_actor probe{node_a};
  BOOST_REQUIRE_MESSAGE(log.wait([&](const recorder::lines& ls) {
    return std::count_if(ls.begin(), ls.end(), [](auto& l) {
             return l.find("refusing internal message") != std::string::npos;
           }) >= static_cast<long>(to_channel + to_socket);
  }, 10s), "refusals logged:\n" << log.dump());
  BOOST_CHECK_EQUAL(stats_of<phx::channel_stats>(probe, ch).not_entitled, to_channel);
  BOOST_CHECK_EQUAL(stats_of<phx::socket_stats>(probe, sock).not_entitled, to_socket);
  // The forged replies resolved nothing: the push times out as it must.
  caf::error outcome;
  pending.receive([](phx::reply&) {}, [&](caf::error& e) { outcome = e; });
  BOOST_CHECK(outcome == phx::ec::push_timeout);
  // The channel and the socket are unharmed: joined, open, answering.
  self_b->request(*remote_ch, 10s, phx::state_atom::value)
    .receive([](phx::channel_state s) { BOOST_CHECK(s == phx::channel_state::joined); },
             [](caf::error& e) { BOOST_FAIL(to_string(e)); });
  self_b->request(*remote_ch, 10s, phx::push_atom::value, std::string{"echo"},
                  phx::object({{"still", "here"}}))
    .receive([](phx::reply& r) { BOOST_CHECK_EQUAL(r.status, "ok"); },
             [](caf::error& e) { BOOST_FAIL(to_string(e)); });
  self_a->request(sock, 10s, phx::state_atom::value)
    .receive([](phx::connection_state s) { BOOST_CHECK(s == phx::connection_state::open); },
             [](caf::error& e) { BOOST_FAIL(to_string(e)); });
}
