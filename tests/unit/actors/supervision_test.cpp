// Issue 16: user code fenced, actors restarted (in place or by the
// supervisor), restart intensity, exactly one outcome for every push. In
// virtual time.
#include "fixture.hpp"

#include <algorithm>
#include <stdexcept>

#include "phx/actors/supervisor.hpp"

using namespace phx_test;
using phx::channel_state;

namespace {

/// Counts every outcome a push's hooks see, whatever its status.
std::shared_ptr<int> count_outcomes(const std::shared_ptr<phx::push_hooks>& h) {
  auto n = std::make_shared<int>(0);
  for (auto status : {"ok", "error", "timeout", "failed"})
    h->receive(status, [n](const payload&) { ++*n; });
  return n;
}

/// A fixture that records what reaches the socket's on_error callbacks.
struct sup_fixture : fixture {
  std::vector<std::string> errors;

  sup_fixture() {
    hooks->on_error.add(hooks->make_ref(),
                        [this](const std::string& why, int) { errors.push_back(why); });
  }

  phx::socket_options restart_options(uint32_t max_restarts = 5) {
    auto opts = options();
    opts.callback_failure = phx::callback_failure::restart;
    opts.max_restarts = max_restarts;
    return opts;
  }

  /// True once the socket actor has terminated.
  bool sock_dead() {
    auto ptr = caf::actor_cast<caf::abstract_actor*>(socket);
    return ptr == nullptr || ptr->getf(caf::abstract_actor::is_terminated_flag);
  }

  size_t errors_with(const std::string& needle) const {
    return static_cast<size_t>(std::count_if(errors.begin(), errors.end(), [&](auto& e) {
      return e.find(needle) != std::string::npos;
    }));
  }

  void shout(const std::string& topic) {
    receive_text(R"([null,null,")" + topic + R"(","shout",{}])");
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(supervision, sup_fixture)

// -- report (the default) --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_throwing_binding_is_reported_once_and_the_channel_goes_on) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  auto jr = join_ok(c);
  c->hooks->on("shout", [](const message&, const std::string&) {
    throw std::runtime_error{"boom"};
  });
  shout("room:a");
  BOOST_CHECK_EQUAL(errors_with("callback 'on(\"shout\")' threw: boom"), 1u);
  BOOST_CHECK(logged("callback 'on(\"shout\")' threw: boom"));
  // The other binding of the event still ran, and the channel serves on.
  BOOST_CHECK_EQUAL(c->events.size(), 1u);
  BOOST_CHECK(state_of(c) == channel_state::joined);
  auto h = push(c, "echo");
  reply(jr, *last_sent().ref, "room:a", "ok");
  BOOST_REQUIRE(h->outcome());
  BOOST_CHECK_EQUAL(h->outcome()->status, "ok");
}

BOOST_AUTO_TEST_CASE(every_kind_of_channel_callback_is_fenced) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  c->hooks->set_on_state([](channel_state) { throw std::runtime_error{"state"}; });
  c->hooks->set_transform([](const message&) -> payload { throw std::runtime_error{"xf"}; });
  auto jr = join_ok(c);
  BOOST_CHECK(errors_with("'on_state' threw: state") >= 1u);
  BOOST_CHECK(errors_with("'on_message' threw: xf") >= 1u);
  // A transform that throws leaves the payload as it came.
  receive_text(R"([null,null,"room:a","evt",{"k":1}])");
  BOOST_REQUIRE_EQUAL(c->events.size(), 1u);
  BOOST_CHECK_EQUAL(c->events.back().payload.to_string(), R"({"k":1})");
  // A push's and a leave's receive callbacks.
  auto h = push(c, "echo");
  h->receive("ok", [](const payload&) { throw std::runtime_error{"push cb"}; });
  reply(jr, *last_sent().ref, "room:a", "ok");
  BOOST_CHECK_EQUAL(errors_with("'receive(\"ok\")' threw: push cb"), 1u);
  auto lh = std::make_shared<phx::push_hooks>(hooks->gate);
  lh->receive("ok", [](const payload&) { throw std::runtime_error{"leave cb"}; });
  caf::anon_send(c->hdl, phx::leave_atom::value, caf::timespan{10s}, guard(lh));
  run();
  reply(jr, *last_sent().ref, "room:a", "ok");
  BOOST_CHECK_EQUAL(errors_with("'receive(\"ok\")' threw: leave cb"), 1u);
  BOOST_CHECK(state_of(c) == channel_state::closed);
}

BOOST_AUTO_TEST_CASE(socket_callbacks_that_throw_are_reported_and_the_socket_goes_on) {
  start(options());
  hooks->on_open.add(hooks->make_ref(), [] { throw std::runtime_error{"open"}; });
  hooks->on_close.add(hooks->make_ref(),
                      [](uint16_t, const std::string&) { throw std::runtime_error{"close"}; });
  hooks->on_message.add(hooks->make_ref(),
                        [](const message&) { throw std::runtime_error{"msg"}; });
  connect_and_open();
  BOOST_CHECK_EQUAL(errors_with("'on_open' threw: open"), 1u);
  receive_text(R"([null,null,"room:x","evt",{}])");
  BOOST_CHECK_EQUAL(errors_with("'on_message' threw: msg"), 1u);
  close(1000);
  BOOST_CHECK_EQUAL(errors_with("'on_close' threw: close"), 1u);
  // The reconnect supervisor role goes on: a new attempt after 1 s.
  advance(1s);
  BOOST_CHECK_EQUAL(transports.size(), 2u);
}

BOOST_AUTO_TEST_CASE(an_on_error_callback_that_throws_is_only_logged) {
  start(options());
  hooks->on_error.add(hooks->make_ref(),
                      [](const std::string&, int) { throw std::runtime_error{"in on_error"}; });
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  c->hooks->on("shout", [](const message&, const std::string&) {
    throw std::runtime_error{"boom"};
  });
  shout("room:a");
  // Reported once to on_error; on_error's own fault went to the log only.
  BOOST_CHECK_EQUAL(errors_with("threw: boom"), 1u);
  BOOST_CHECK_EQUAL(errors_with("in on_error"), 0u);
  BOOST_CHECK(logged("callback 'on_error' threw: in on_error"));
  BOOST_CHECK(state_of(c) == channel_state::joined);
}

BOOST_AUTO_TEST_CASE(user_functions_that_throw_are_reported_and_stood_in_for) {
  auto opts = options();
  int calls = 0;
  opts.params = [&calls]() -> phx::protocol::json_document {
    if (++calls == 1)
      throw std::runtime_error{"no token yet"};
    return phx::protocol::json_document{};
  };
  opts.reconnect_after_ms = [](uint32_t) -> int64_t { throw std::runtime_error{"backoff"}; };
  opts.rejoin_after_ms = [](uint32_t) -> int64_t { throw std::runtime_error{"rejoin"}; };
  start(std::move(opts));
  connect();
  // The first attempt fails on its params (reported) and backs off with
  // the default table, the backoff function having thrown too.
  BOOST_CHECK(transports.empty());
  BOOST_CHECK_EQUAL(errors_with("'params' threw: no token yet"), 1u);
  BOOST_CHECK_EQUAL(errors_with("'reconnect_after_ms' threw: backoff"), 1u);
  advance(999ms);
  BOOST_CHECK(transports.empty());
  advance(1ms);
  BOOST_REQUIRE_EQUAL(transports.size(), 1u);
  open();
  // Join params that throw: the join goes without them.
  auto c = channel("room:a", []() -> payload { throw std::runtime_error{"jp"}; });
  join(c);
  auto j = last_sent();
  BOOST_CHECK_EQUAL(j.event, "phx_join");
  BOOST_CHECK_EQUAL(errors_with("'params(\"room:a\")' threw: jp"), 1u);
  reply(j.join_ref, *j.ref, "room:a", "error");
  BOOST_CHECK_EQUAL(errors_with("'rejoin_after_ms' threw: rejoin"), 1u);
  advance(1s);
  BOOST_CHECK_EQUAL(last_sent().event, "phx_join");
}

// -- restart in place ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(under_restart_a_throwing_binding_restarts_the_channel_in_place) {
  start(restart_options());
  connect_and_open();
  auto c = channel("room:a");
  auto jr = join_ok(c);
  auto pending = push(c, "echo");
  auto n = count_outcomes(pending);
  auto hdl = c->hdl;
  c->hooks->on("shout", [](const message&, const std::string&) {
    throw std::runtime_error{"boom"};
  });
  shout("room:a");
  BOOST_CHECK_EQUAL(errors_with("threw: boom"), 1u);
  // The pending push ended with channel_crashed; the same actor goes on.
  BOOST_REQUIRE(pending->outcome());
  BOOST_CHECK_EQUAL(pending->outcome()->status, "timeout");
  BOOST_CHECK(pending->outcome()->error == phx::ec::channel_crashed);
  BOOST_CHECK_EQUAL(*n, 1);
  BOOST_CHECK(c->hdl == hdl);
  BOOST_CHECK(state_of(c) == channel_state::errored);
  // Rejoined with the rejoin backoff, not at once.
  auto joins_before = sent_events("phx_join").size();
  advance(999ms);
  BOOST_CHECK_EQUAL(sent_events("phx_join").size(), joins_before);
  advance(1ms);
  BOOST_REQUIRE_EQUAL(sent_events("phx_join").size(), joins_before + 1);
  auto j = last_sent();
  BOOST_CHECK(j.join_ref != jr);
  reply(j.join_ref, *j.ref, "room:a", "ok");
  BOOST_CHECK(state_of(c) == channel_state::joined);
  auto next = push(c, "echo");
  reply(j.join_ref, *last_sent().ref, "room:a", "ok");
  BOOST_REQUIRE(next->outcome());
  BOOST_CHECK_EQUAL(next->outcome()->status, "ok");
  // The late reply of the crashed push finds nothing: still one outcome.
  advance(60s);
  BOOST_CHECK_EQUAL(*n, 1);
}

BOOST_AUTO_TEST_CASE(under_restart_a_throwing_socket_callback_restarts_the_socket_in_place) {
  start(restart_options());
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  auto first = current();
  hooks->on_message.add(hooks->make_ref(), [](const message& m) {
    if (m.event == "shout")
      throw std::runtime_error{"socket cb"};
  });
  shout("room:a");
  BOOST_CHECK_EQUAL(errors_with("'on_message' threw: socket cb"), 1u);
  // The link was dropped at once, the channel errored, and the reconnect
  // backoff (1 s) brings a new connection on which the channel rejoins.
  BOOST_CHECK_EQUAL(first->aborts, 1);
  BOOST_CHECK(sock_state().conn == phx::connection_state::closed);
  BOOST_CHECK(state_of(c) == channel_state::errored);
  advance(1s);
  BOOST_REQUIRE_EQUAL(transports.size(), 2u);
  open();
  auto j = last_sent();
  BOOST_CHECK_EQUAL(j.event, "phx_join");
  reply(j.join_ref, *j.ref, "room:a", "ok");
  BOOST_CHECK(state_of(c) == channel_state::joined);
}

BOOST_AUTO_TEST_CASE(past_the_restart_intensity_the_socket_stops_for_good) {
  start(restart_options(2));
  connect_and_open();
  auto c = channel("room:a");
  auto jr = join_ok(c);
  c->hooks->on("shout", [](const message&, const std::string&) {
    throw std::runtime_error{"again"};
  });
  // Two restarts fit in the window; each rejoins after the backoff.
  for (int i = 0; i < 2; ++i) {
    shout("room:a");
    advance(1s);
    auto j = last_sent();
    BOOST_REQUIRE_EQUAL(j.event, "phx_join");
    reply(j.join_ref, *j.ref, "room:a", "ok");
    jr = *j.join_ref;
  }
  auto pending = push(c, "echo");
  shout("room:a");
  // The third within 30 s: stopped for good, and everyone hears it once.
  BOOST_CHECK_EQUAL(errors_with("stopped for good"), 1u);
  // It was pending in the channel that crashed: that is its outcome.
  BOOST_REQUIRE(pending->outcome());
  BOOST_CHECK(pending->outcome()->error == phx::ec::channel_crashed);
  BOOST_CHECK_EQUAL(current()->aborts, 1);
  BOOST_CHECK(!caf::actor_cast<caf::strong_actor_ptr>(socket) || sock_dead());
  // A push sent afterwards to the dead channel still gets its one outcome.
  auto late = std::make_shared<phx::push_hooks>(hooks->gate);
  caf::anon_send(c->hdl, phx::push_atom::value, std::string{"echo"}, payload{},
                 caf::timespan{10s}, std::make_shared<phx::push_guard>(late, c->hooks));
  run();
  BOOST_REQUIRE(late->outcome());
  BOOST_CHECK_EQUAL(late->outcome()->status, "timeout");
  BOOST_CHECK(late->outcome()->error == phx::ec::socket_stopped);
}

// -- the supervisor: actors that really die ----------------------------------------------

BOOST_AUTO_TEST_CASE(a_killed_channel_is_restarted_from_its_spec_and_rejoins) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  std::vector<message> seen;
  auto sub = spawn([&](phx::channel_subscriber_actor::pointer) -> phx::channel_subscriber_actor::behavior_type {
    return {
      [&](phx::event_atom, message& m, std::string&, phx::flow_ticket&) { seen.push_back(m); },
      [](phx::state_atom, std::string&, channel_state) {},
      [](phx::join_atom, std::string&, phx::reply&) {},
    };
  });
  caf::anon_send(c->hdl, phx::subscribe_atom::value,
                 caf::actor_cast<phx::channel_subscriber_actor>(sub));
  run();
  join_ok(c);
  phx::channel_actor replaced;
  c->hooks->set_on_replaced([&](const phx::channel_actor& h) { replaced = h; });
  auto pending = push(c, "echo");
  caf::anon_send_exit(c->hdl, caf::exit_reason::kill);
  run();
  BOOST_REQUIRE(pending->outcome());
  BOOST_CHECK(pending->outcome()->error == phx::ec::channel_crashed);
  BOOST_REQUIRE(replaced);
  BOOST_CHECK(replaced != c->hdl);
  auto& st = deref<phx::channel_actor_state>(replaced);
  BOOST_CHECK(st.state == channel_state::errored);
  advance(1s);
  auto j = last_sent();
  BOOST_REQUIRE_EQUAL(j.event, "phx_join");
  reply(j.join_ref, *j.ref, "room:a", "ok");
  BOOST_CHECK(st.state == channel_state::joined);
  // Its bindings and subscribers are its spec: both still hear events.
  auto before = c->events.size();
  receive_text(R"([null,null,"room:a","evt",{}])");
  BOOST_CHECK_EQUAL(c->events.size(), before + 1);
  BOOST_CHECK_EQUAL(seen.size(), 1u);
  // An actor-API request to the dead handle gets a clear error.
  caf::error err;
  spawn([&, dead = c->hdl](caf::event_based_actor* me) {
    me->request(dead, caf::infinite, phx::state_atom::value)
      .then([](channel_state) {}, [&](caf::error& e) { err = e; });
  });
  run();
  BOOST_CHECK(err == caf::sec::request_receiver_down);
  c->hdl = replaced; // the fixture stops it
}

BOOST_AUTO_TEST_CASE(a_killed_socket_is_restarted_with_its_channels) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  phx::socket_actor replaced;
  hooks->on_replaced = [&](const phx::socket_actor& h) { replaced = h; };
  auto pending = push(c, "echo");
  caf::anon_send_exit(socket, caf::exit_reason::kill);
  run();
  BOOST_REQUIRE(pending->outcome());
  BOOST_CHECK(pending->outcome()->error == phx::ec::socket_crashed);
  BOOST_REQUIRE(replaced);
  // The new socket connects (the user had asked to) and the channel, the
  // same actor, rejoins on it.
  BOOST_REQUIRE_EQUAL(transports.size(), 2u);
  socket = replaced;
  open();
  advance(1s);
  auto j = last_sent();
  BOOST_REQUIRE_EQUAL(j.event, "phx_join");
  reply(j.join_ref, *j.ref, "room:a", "ok");
  BOOST_CHECK(state_of(c) == channel_state::joined);
  auto next = push(c, "echo");
  reply(j.join_ref, *last_sent().ref, "room:a", "ok");
  BOOST_REQUIRE(next->outcome());
  BOOST_CHECK_EQUAL(next->outcome()->status, "ok");
}

BOOST_AUTO_TEST_CASE(a_transport_that_dies_abnormally_is_a_lost_connection) {
  start(options());
  std::vector<uint16_t> closes;
  hooks->on_close.add(hooks->make_ref(),
                      [&](uint16_t code, const std::string&) { closes.push_back(code); });
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  // What an exception escaping a handler does to an actor (a kill would
  // take the linked socket with it, as CAF makes kills fatal over links).
  caf::anon_send(caf::actor_cast<caf::actor>(transport_handles.back()),
                 caf::exit_msg{caf::actor_addr{}, caf::make_error(caf::sec::runtime_error)});
  run();
  BOOST_REQUIRE_EQUAL(closes.size(), 1u);
  BOOST_CHECK_EQUAL(closes[0], 1006);
  BOOST_CHECK(logged("transport failed"));
  BOOST_CHECK(state_of(c) == channel_state::errored);
  advance(1s);
  BOOST_CHECK_EQUAL(transports.size(), 2u);
}

BOOST_AUTO_TEST_CASE(a_push_sent_to_a_stopped_channel_gets_its_outcome_from_the_guard) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  caf::anon_send_exit(c->hdl, caf::exit_reason::user_shutdown);
  run();
  auto h = std::make_shared<phx::push_hooks>(hooks->gate);
  auto n = count_outcomes(h);
  caf::anon_send(c->hdl, phx::push_atom::value, std::string{"echo"}, payload{},
                 caf::timespan{10s}, std::make_shared<phx::push_guard>(h, c->hooks));
  run();
  BOOST_REQUIRE(h->outcome());
  BOOST_CHECK_EQUAL(h->outcome()->status, "timeout");
  BOOST_CHECK(h->outcome()->error == phx::ec::push_timeout);
  advance(60s);
  BOOST_CHECK_EQUAL(*n, 1);
}

BOOST_AUTO_TEST_SUITE_END()
