// Bounded memory under a flood: inbound backpressure (reads pause while the
// channels are behind; nothing is lost) and bounded subscriber queues
// (a slow subscriber loses messages, counted and logged, never silently).
#include "fixture.hpp"

using namespace phx_test;

BOOST_FIXTURE_TEST_SUITE(flow_control, fixture)

BOOST_AUTO_TEST_CASE(reads_pause_at_the_inbound_bound_and_resume_when_consumed) {
  auto opts = options();
  opts.max_inbound_frames = 4;
  start(std::move(opts));
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  auto credit = current()->req.inbound;
  BOOST_REQUIRE(credit);
  int resumed = 0;
  credit->on_resume([&] { ++resumed; });
  // Frames pile up while nothing runs: the fourth reaches the bound.
  for (int i = 0; i < 6; ++i)
    send_frame({phx::protocol::frame_type::text, R"([null,null,"room:a","evt",{}])"});
  BOOST_CHECK(credit->paused());
  BOOST_CHECK_EQUAL(credit->units(), 6u);
  BOOST_CHECK_EQUAL(credit->pauses(), 1u);
  run();
  // Consumed: the credit is back and reading resumed; nothing was dropped.
  BOOST_CHECK(!credit->paused());
  BOOST_CHECK_EQUAL(credit->units(), 0u);
  BOOST_CHECK_EQUAL(resumed, 1);
  BOOST_CHECK_EQUAL(c->events.size(), 6u);
}

BOOST_AUTO_TEST_CASE(a_paused_connection_does_not_time_out_its_heartbeat) {
  auto opts = options();
  opts.max_inbound_frames = 2;
  start(std::move(opts));
  connect_and_open();
  auto credit = current()->req.inbound;
  // Hold two tickets: the consumer is "behind", reads are paused.
  credit->take(1);
  phx::flow_ticket a{credit, 1};
  credit->take(1);
  phx::flow_ticket b{credit, 1};
  BOOST_REQUIRE(credit->paused());
  advance(30s); // heartbeat sent
  advance(30s); // its timeout would fire now, but the reply may wait behind unread frames
  BOOST_CHECK_EQUAL(current()->aborts, 0);
  BOOST_CHECK(sock_state().conn == phx::connection_state::open);
  // Caught up: the reply was still missing, so the next check times out.
  a = phx::flow_ticket{};
  b = phx::flow_ticket{};
  BOOST_CHECK(!credit->paused());
  advance(30s);
  BOOST_CHECK_EQUAL(current()->aborts, 1);
}

BOOST_AUTO_TEST_CASE(a_slow_subscriber_loses_messages_counted_and_logged) {
  auto opts = options();
  opts.max_subscriber_queue = 3;
  start(std::move(opts));
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  // A subscriber that keeps every ticket: its queue fills and stays full.
  std::vector<phx::flow_ticket> held;
  std::vector<std::string> got;
  auto sub = spawn([&]() -> phx::channel_subscriber_actor::behavior_type {
    return {
      [&](phx::event_atom, message& m, std::string&, phx::flow_ticket& t) {
        got.push_back(m.event);
        held.push_back(std::move(t));
      },
      [](phx::state_atom, std::string&, phx::channel_state) {},
      [](phx::join_atom, std::string&, phx::reply&) {},
    };
  });
  caf::anon_send(c->hdl, phx::subscribe_atom::value, sub);
  run();
  for (int i = 0; i < 10; ++i)
    receive_text(R"([null,null,"room:a","evt",{}])");
  BOOST_CHECK_EQUAL(got.size(), 3u);
  BOOST_CHECK_EQUAL(deref<phx::channel_actor_state>(c->hdl).stats.subscriber_overflows, 7u);
  BOOST_CHECK(logged("a subscriber is behind"));
  // The channel's own callbacks lost nothing.
  BOOST_CHECK_EQUAL(c->events.size(), 10u);
  // Once it lets go, it gets messages again.
  held.clear();
  receive_text(R"([null,null,"room:a","evt",{}])");
  BOOST_CHECK_EQUAL(got.size(), 4u);
}

BOOST_AUTO_TEST_CASE(a_slow_socket_subscriber_is_bounded_too) {
  auto opts = options();
  opts.max_subscriber_queue = 2;
  start(std::move(opts));
  connect_and_open();
  std::vector<phx::flow_ticket> held;
  auto sub = spawn([&]() -> phx::socket_subscriber_actor::behavior_type {
    return {
      [](phx::opened_atom) {},
      [](phx::closed_atom, uint16_t, std::string&) {},
      [](phx::error_atom, std::string&, int) {},
      [&](phx::message_atom, message&, phx::flow_ticket& t) { held.push_back(std::move(t)); },
    };
  });
  caf::anon_send(socket, phx::subscribe_atom::value, sub);
  run();
  for (int i = 0; i < 5; ++i)
    receive_text(R"([null,null,"room:x","evt",{}])");
  BOOST_CHECK_EQUAL(held.size(), 2u);
  BOOST_CHECK_EQUAL(sock_state().stats.subscriber_overflows, 3u);
}

BOOST_AUTO_TEST_SUITE_END()
