// The outbound budget while connected (issue 16, item 4): frames handed to the
// connection and not yet written are bounded; a push beyond the bound fails at
// once with `outbound_full`, control frames are never refused, and the budget
// comes back as the io side writes. In virtual time, with the fake transport.
#include "fixture.hpp"

#include <map>

using namespace phx_test;

namespace {

/// The fixture plus the io side's half of the budget: `drain` gives back the
/// frames the fake transport received, as websocketpp's completed writes do.
struct outbound_fixture : fixture {
  std::map<const transport_log*, size_t> drained;

  /// Every frame the current transport got so far has been written.
  void drain() {
    auto t = current();
    BOOST_REQUIRE(t->req.outbound);
    auto& done = drained[t.get()];
    for (; done < t->frames.size(); ++done)
      t->req.outbound->give(t->frames[done].data.size());
  }

  /// Units of the current connection's budget in use.
  size_t in_flight() { return current()->req.outbound->units(); }

  /// A push with a payload of `n` bytes of text.
  std::shared_ptr<phx::push_hooks> push_bytes(const std::shared_ptr<chan>& c, size_t n) {
    auto text = "{\"data\":\"" + std::string(n, 'x') + "\"}";
    return push(c, "flood", json(text.c_str()));
  }

  /// Connects, joins `topic` and writes the join: an empty budget.
  std::shared_ptr<chan> joined(const std::string& topic) {
    connect_and_open();
    auto c = channel(topic);
    join_ok(c);
    drain();
    BOOST_REQUIRE_EQUAL(in_flight(), 0u);
    return c;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(outbound_budget, outbound_fixture)

BOOST_AUTO_TEST_CASE(each_connection_gets_a_fresh_budget_with_the_configured_bounds) {
  auto opts = options();
  opts.max_outbound_frames = 7;
  opts.max_outbound_bytes = 1000;
  start(std::move(opts));
  connect();
  auto first = current()->req.outbound;
  BOOST_REQUIRE(first);
  close(1006);
  advance_until([&] { return transports.size() == 2; });
  BOOST_REQUIRE_EQUAL(transports.size(), 2u);
  BOOST_REQUIRE(current()->req.outbound);
  // Frames stuck in a dead link never hold the next connection back.
  BOOST_CHECK(current()->req.outbound != first);
}

BOOST_AUTO_TEST_CASE(a_push_beyond_the_frame_budget_fails_at_once_and_pushes_go_again_once_written) {
  auto opts = options();
  opts.max_outbound_frames = 3;
  start(std::move(opts));
  auto c = joined("room:a");
  std::vector<std::shared_ptr<phx::push_hooks>> accepted;
  for (int i = 0; i < 3; ++i)
    accepted.push_back(push(c, "evt"));
  BOOST_CHECK_EQUAL(in_flight(), 3u);
  auto refused = push(c, "evt");
  // At once: no virtual time passed, no timeout involved.
  BOOST_REQUIRE(refused->outcome());
  BOOST_CHECK_EQUAL(refused->outcome()->status, "failed");
  BOOST_CHECK(refused->outcome()->error == phx::ec::outbound_full);
  BOOST_CHECK_EQUAL(sock_state().stats.outbound_refusals, 1u);
  BOOST_CHECK(logged("outbound budget is used up"));
  // The refused push never reached the wire; the accepted ones wait for replies.
  BOOST_CHECK_EQUAL(sent_events("evt").size(), 3u);
  for (auto& h : accepted)
    BOOST_CHECK(!h->outcome());
  BOOST_CHECK_EQUAL(deref<phx::channel_actor_state>(c->hdl).pushes.size(), 3u);
  // The io side writes them: the budget comes back and the next push goes.
  drain();
  BOOST_CHECK_EQUAL(in_flight(), 0u);
  auto next = push(c, "evt");
  BOOST_CHECK(!next->outcome());
  BOOST_CHECK_EQUAL(sent_events("evt").size(), 4u);
  auto last = last_sent();
  reply(last.join_ref, *last.ref, "room:a", "ok");
  BOOST_REQUIRE(next->outcome());
  BOOST_CHECK_EQUAL(next->outcome()->status, "ok");
  BOOST_CHECK_EQUAL(sock_state().stats.outbound_refusals, 1u);
}

BOOST_AUTO_TEST_CASE(a_push_beyond_the_byte_budget_fails_and_a_smaller_one_still_fits) {
  auto opts = options();
  opts.max_outbound_bytes = 600;
  start(std::move(opts));
  auto c = joined("room:a");
  auto first = push_bytes(c, 400);
  BOOST_CHECK(!first->outcome());
  auto second = push_bytes(c, 400);
  BOOST_REQUIRE(second->outcome());
  BOOST_CHECK(second->outcome()->error == phx::ec::outbound_full);
  // Bytes, not frames, ran out: a push that fits in what is left still goes.
  auto small = push_bytes(c, 10);
  BOOST_CHECK(!small->outcome());
  BOOST_CHECK_EQUAL(sent_events("flood").size(), 2u);
  BOOST_CHECK_LE(current()->req.outbound->bytes(), 600u);
}

BOOST_AUTO_TEST_CASE(a_push_larger_than_the_whole_budget_fails_and_says_so) {
  auto opts = options();
  opts.max_outbound_bytes = 100;
  start(std::move(opts));
  auto c = joined("room:a");
  auto h = push_bytes(c, 200);
  BOOST_REQUIRE(h->outcome());
  BOOST_CHECK_EQUAL(h->outcome()->status, "failed");
  BOOST_CHECK(h->outcome()->error == phx::ec::outbound_full);
  BOOST_CHECK(logged("larger than the connection's whole outbound budget"));
  BOOST_CHECK_EQUAL(in_flight(), 0u);
}

BOOST_AUTO_TEST_CASE(the_actor_api_gets_outbound_full_as_the_push_error) {
  auto opts = options();
  opts.max_outbound_frames = 1;
  start(std::move(opts));
  auto c = joined("room:a");
  push(c, "evt");
  caf::error err;
  bool replied = false;
  spawn([&](caf::event_based_actor* me) {
    me->request(c->hdl, caf::infinite, phx::push_atom::value, std::string{"evt"}, payload{},
                caf::timespan{10s})
      .then([&](phx::reply&) { replied = true; }, [&](caf::error& e) { err = e; });
  });
  run();
  BOOST_CHECK(!replied);
  BOOST_CHECK(err == phx::ec::outbound_full);
}

BOOST_AUTO_TEST_CASE(heartbeats_joins_and_leaves_go_out_while_the_budget_is_used_up) {
  auto opts = options();
  opts.max_outbound_frames = 2;
  opts.heartbeat_interval = 1s;
  start(std::move(opts));
  auto a = joined("room:a");
  push(a, "evt");
  push(a, "evt");
  BOOST_REQUIRE(push(a, "evt")->outcome());
  // Control frames are charged (they use the budget) but never refused.
  advance(1s);
  BOOST_CHECK_EQUAL(sent_events("heartbeat").size(), 1u);
  auto b = channel("room:b");
  join_ok(b);
  BOOST_CHECK_EQUAL(sent_events("phx_join").size(), 2u);
  caf::anon_send(a->hdl, phx::leave_atom::value);
  run();
  BOOST_CHECK_EQUAL(sent_events("phx_leave").size(), 1u);
  BOOST_CHECK_EQUAL(in_flight(), 5u);
  // Pushes stay refused until the link drains.
  BOOST_REQUIRE(push(b, "evt")->outcome());
  BOOST_CHECK_EQUAL(sock_state().stats.outbound_refusals, 2u);
}

BOOST_AUTO_TEST_CASE(flushing_the_send_buffer_on_open_refuses_what_exceeds_the_budget) {
  auto opts = options();
  opts.max_outbound_frames = 2;
  opts.max_send_buffer_frames = 10;
  start(std::move(opts));
  auto c = joined("room:a");
  // The channel still sees the connection open; the socket handles the close
  // first, so the pushes wait in the send buffer.
  std::vector<std::shared_ptr<phx::push_hooks>> hs;
  for (int i = 0; i < 4; ++i) {
    hs.push_back(std::make_shared<phx::push_hooks>(hooks->gate));
    caf::anon_send(c->hdl, phx::push_atom::value, std::string{"evt"}, payload{},
                   caf::timespan{10s}, guard(hs.back()));
  }
  report(current()->gen, phx::closed_atom::value, current()->gen, uint16_t{1006},
                 std::string{});
  run();
  BOOST_REQUIRE_EQUAL(sock_state().send_buffer.size(), 4u);
  advance_until([&] { return transports.size() == 2; });
  BOOST_REQUIRE_EQUAL(transports.size(), 2u);
  open();
  // Two fit into the fresh budget; the other two are refused, not dropped.
  BOOST_CHECK_EQUAL(sent_events("evt").size(), 2u);
  size_t refused = 0;
  for (auto& h : hs)
    if (auto o = h->outcome()) {
      BOOST_CHECK_EQUAL(o->status, "failed");
      BOOST_CHECK(o->error == phx::ec::outbound_full);
      ++refused;
    }
  BOOST_CHECK_EQUAL(refused, 2u);
  BOOST_CHECK_EQUAL(sock_state().stats.outbound_refusals, 2u);
  BOOST_CHECK(sock_state().send_buffer.empty());
  // The first two are the ones sent, in order.
  BOOST_CHECK(!hs[0]->outcome());
  BOOST_CHECK(!hs[1]->outcome());
  // The rejoin is a control frame: it goes out all the same.
  advance_until([&] { return !sent_events("phx_join").empty(); }, 10s);
  BOOST_CHECK_EQUAL(sent_events("phx_join").size(), 1u);
  BOOST_CHECK_GT(in_flight(), 2u);
}

BOOST_AUTO_TEST_CASE(every_push_of_a_flood_has_one_outcome_and_the_budget_is_never_exceeded) {
  auto opts = options();
  opts.max_outbound_frames = 50;
  opts.max_outbound_bytes = 8 * 1024;
  start(std::move(opts));
  auto c = joined("room:a");
  std::vector<std::shared_ptr<phx::push_hooks>> hs;
  size_t peak = 0;
  for (int i = 0; i < 500; ++i) {
    hs.push_back(push_bytes(c, 100 + (i % 7) * 50));
    peak = std::max(peak, current()->req.outbound->bytes());
    // Now and then the link writes a little.
    if (i % 97 == 0)
      drain();
  }
  BOOST_CHECK_LE(peak, 8u * 1024u);
  BOOST_CHECK_LE(in_flight(), 50u);
  // The accepted pushes get no reply: they time out (the fixture's 10 s).
  advance(11s);
  size_t ok = 0, failed = 0, timeout = 0;
  for (auto& h : hs) {
    BOOST_REQUIRE(h->outcome());
    auto s = h->outcome()->status;
    ok += s == "ok";
    failed += s == "failed";
    timeout += s == "timeout";
  }
  BOOST_CHECK_EQUAL(ok + failed + timeout, hs.size());
  BOOST_CHECK_EQUAL(failed, sock_state().stats.outbound_refusals);
  BOOST_CHECK_EQUAL(timeout, sent_events("flood").size());
  BOOST_CHECK_GT(failed, 0u);
}

BOOST_AUTO_TEST_SUITE_END()
