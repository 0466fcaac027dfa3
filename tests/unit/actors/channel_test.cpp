// CLIENT.md, sections Channel and Push: one test per rule, in virtual time.
#include "fixture.hpp"

#include <algorithm>

using namespace phx_test;
using phx::channel_state;

namespace {

size_t count(const std::vector<message>& ms, const std::string& event) {
  size_t n = 0;
  for (auto& m : ms)
    if (m.event == event)
      ++n;
  return n;
}

int64_t millis(caf::timespan t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t).count();
}

/// Counts every outcome a push's hooks see, whatever its status.
std::shared_ptr<int> count_outcomes(const std::shared_ptr<phx::push_hooks>& h) {
  auto n = std::make_shared<int>(0);
  for (auto status : {"ok", "error", "timeout", "failed"})
    h->receive(status, [n](const payload&) { ++*n; });
  return n;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(channel_rules, fixture)

BOOST_AUTO_TEST_CASE(join_twice_is_an_error) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  caf::error second;
  join(c);
  spawn([&](caf::event_based_actor* me) {
    me->request(c->hdl, caf::infinite, phx::join_atom::value)
      .then([](phx::reply&) {}, [&](caf::error& e) { second = e; });
  });
  run();
  BOOST_CHECK(second == phx::ec::already_joined);
  BOOST_CHECK_EQUAL(count(sent(), "phx_join"), 1u);
}

BOOST_AUTO_TEST_CASE(join_sends_phx_join_whose_join_ref_is_its_ref) {
  start(options());
  connect_and_open();
  auto c = channel("room:a", [] { return json(R"({"user":"u1"})"); });
  join(c);
  BOOST_CHECK(state_of(c) == channel_state::joining);
  auto j = last_sent();
  BOOST_CHECK_EQUAL(j.event, "phx_join");
  BOOST_CHECK_EQUAL(j.topic, "room:a");
  BOOST_REQUIRE(j.join_ref && j.ref);
  BOOST_CHECK_EQUAL(*j.join_ref, *j.ref);
  BOOST_CHECK(j.payload == json(R"({"user":"u1"})"));
}

BOOST_AUTO_TEST_CASE(join_ok_joins_and_sends_buffered_pushes_with_new_refs) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join(c);
  auto j = last_sent();
  auto p1 = push(c, "one");
  auto p2 = push(c, "two");
  BOOST_CHECK_EQUAL(count(sent(), "one"), 0u);
  advance(5s);
  reply(j.join_ref, *j.ref, "room:a", "ok", json(R"({"joined":"room:a"})"));
  BOOST_CHECK(state_of(c) == channel_state::joined);
  auto all = sent();
  BOOST_REQUIRE_EQUAL(all.size(), 3u);
  BOOST_CHECK_EQUAL(all[1].event, "one");
  BOOST_CHECK_EQUAL(all[2].event, "two");
  BOOST_CHECK(*all[1].ref != *j.ref && *all[2].ref != *all[1].ref);
  BOOST_CHECK_EQUAL(*all[1].join_ref, *j.join_ref);
  // Sending restarted the timeout: 10 s from the flush, not from the push.
  advance(9999ms);
  BOOST_CHECK(!p1->outcome());
  advance(1ms);
  BOOST_REQUIRE(p1->outcome());
  BOOST_CHECK_EQUAL(p1->outcome()->status, "timeout");
  BOOST_CHECK_EQUAL(p2->outcome()->status, "timeout");
  BOOST_REQUIRE_EQUAL(c->joins.size(), 1u);
  BOOST_CHECK_EQUAL(c->joins[0], "ok");
}

BOOST_AUTO_TEST_CASE(a_buffered_push_that_timed_out_is_never_sent) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join(c, 30s);
  auto j = last_sent();
  auto p = push(c, "late", payload{}, 2s);
  advance(2s);
  BOOST_REQUIRE(p->outcome());
  BOOST_CHECK_EQUAL(p->outcome()->status, "timeout");
  reply(j.join_ref, *j.ref, "room:a", "ok");
  BOOST_CHECK_EQUAL(count(sent(), "late"), 0u);
  BOOST_CHECK(deref<phx::channel_actor_state>(c->hdl).pushes.empty());
}

BOOST_AUTO_TEST_CASE(join_error_errors_and_rejoins_with_backoff_keeping_buffered_pushes) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join(c);
  auto p = push(c, "kept", payload{}, 60s);
  auto j = last_sent();
  j = sent_events("phx_join").back();
  reply(j.join_ref, *j.ref, "room:a", "error", json(R"({"reason":"denied"})"));
  BOOST_CHECK(state_of(c) == channel_state::errored);
  BOOST_CHECK_EQUAL(count(sent(), "kept"), 0u);
  BOOST_CHECK_EQUAL(c->joins.back(), "error");
  advance(999ms);
  BOOST_CHECK_EQUAL(count(sent(), "phx_join"), 1u);
  advance(1ms);
  BOOST_CHECK_EQUAL(count(sent(), "phx_join"), 2u);
  auto j2 = sent_events("phx_join").back();
  reply(j2.join_ref, *j2.ref, "room:a", "ok");
  BOOST_CHECK_EQUAL(count(sent(), "kept"), 1u);
  BOOST_CHECK(!p->outcome());
}

BOOST_AUTO_TEST_CASE(join_timeout_sends_leave_and_rejoins_after_1_2_5_10_seconds) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join(c);
  std::vector<int64_t> join_times;
  caf::timespan now{0};
  auto joins = [&] { return count(sent(), "phx_join"); };
  for (int i = 0; i < 4; ++i) {
    auto before = joins();
    // The join times out after 10 s ...
    advance(10s);
    now += 10s;
    BOOST_CHECK(state_of(c) == channel_state::errored);
    BOOST_CHECK_EQUAL(count(sent(), "phx_leave"), static_cast<size_t>(i + 1));
    // ... and the rejoin follows after the backoff step.
    auto waited = advance_until([&] { return joins() > before; }, 20s);
    now += waited;
    join_times.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(waited).count());
  }
  std::vector<int64_t> want = {1000, 2000, 5000, 10000};
  BOOST_CHECK_EQUAL_COLLECTIONS(join_times.begin(), join_times.end(), want.begin(), want.end());
  // A late ok for the current attempt joins.
  auto j = sent_events("phx_join").back();
  reply(j.join_ref, *j.ref, "room:a", "ok");
  BOOST_CHECK(state_of(c) == channel_state::joined);
  // The leave after a timeout carried the timed-out join's join_ref.
  auto leaves = sent_events("phx_leave");
  auto first_join = sent_events("phx_join").front();
  BOOST_CHECK_EQUAL(*leaves[0].join_ref, *first_join.join_ref);
}

BOOST_AUTO_TEST_CASE(rejoins_after_phx_error_with_1_2_5_10_second_backoff) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  auto jr = join_ok(c);
  receive_text("[\"" + jr + "\",\"" + jr + "\",\"room:a\",\"phx_error\",{\"reason\":\"channel_crash\"}]");
  BOOST_CHECK(state_of(c) == channel_state::errored);
  BOOST_REQUIRE(!c->events.empty());
  BOOST_CHECK_EQUAL(std::string(c->events.back().payload.json()["reason"].GetString()),
                    "channel_crash");
  std::vector<int64_t> gaps;
  for (int i = 0; i < 4; ++i) {
    auto before = count(sent(), "phx_join");
    auto waited = advance_until([&] { return count(sent(), "phx_join") > before; }, 20s);
    gaps.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(waited).count());
    auto j = sent_events("phx_join").back();
    reply(j.join_ref, *j.ref, "room:a", "error");
  }
  std::vector<int64_t> want = {1000, 2000, 5000, 10000};
  BOOST_CHECK_EQUAL_COLLECTIONS(gaps.begin(), gaps.end(), want.begin(), want.end());
}

BOOST_AUTO_TEST_CASE(an_errored_channel_rejoins_at_once_when_the_socket_opens) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  close(1006);
  BOOST_CHECK(state_of(c) == channel_state::errored);
  advance(1s);
  BOOST_REQUIRE_EQUAL(transports.size(), 2u);
  BOOST_CHECK(current()->frames.empty());
  open();
  auto joins = sent_events("phx_join");
  BOOST_REQUIRE_EQUAL(joins.size(), 1u);
  BOOST_CHECK(state_of(c) == channel_state::joining);
  // The join times out after 10 s and is retried 1 s later (virtual time
  // jumps, so advance step by step).
  advance(10s);
  BOOST_CHECK_EQUAL(count(sent(), "phx_join"), 1u);
  advance(1s);
  BOOST_CHECK_EQUAL(count(sent(), "phx_join"), 2u);
}

BOOST_AUTO_TEST_CASE(phx_error_while_joining_forgets_the_join_push) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join(c);
  auto j = last_sent();
  receive_text("[\"" + *j.join_ref + "\",\"" + *j.ref + "\",\"room:a\",\"phx_error\",{}]");
  BOOST_CHECK(state_of(c) == channel_state::errored);
  // The late reply of the forgotten join is ignored.
  reply(j.join_ref, *j.ref, "room:a", "ok");
  BOOST_CHECK(state_of(c) == channel_state::errored);
}

BOOST_AUTO_TEST_CASE(phx_close_closes_without_rejoin_and_removes_the_channel) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  auto jr = join_ok(c);
  auto p = push(c, "pending");
  receive_text("[\"" + jr + "\",\"" + jr + "\",\"room:a\",\"phx_close\",{}]");
  BOOST_CHECK(state_of(c) == channel_state::closed);
  BOOST_CHECK_EQUAL(c->events.back().event, "phx_close");
  BOOST_CHECK_EQUAL(sock_state().stats.channels, 0u);
  // A pending push ends at once: no reply can reach a removed channel.
  BOOST_REQUIRE(p->outcome());
  BOOST_CHECK_EQUAL(p->outcome()->status, "timeout");
  advance(60s);
  BOOST_CHECK_EQUAL(count(sent(), "phx_join"), 1u);
}

BOOST_AUTO_TEST_CASE(no_rejoin_while_leaving_or_after_closing) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  auto jr = join_ok(c);
  caf::anon_send(c->hdl, phx::leave_atom::value, caf::timespan{10s});
  run();
  BOOST_CHECK(state_of(c) == channel_state::leaving);
  receive_text("[\"" + jr + "\",\"" + jr + "\",\"room:a\",\"phx_error\",{}]");
  advance(1s);
  advance(3s);
  BOOST_CHECK_EQUAL(count(sent(), "phx_join"), 1u);
}

BOOST_AUTO_TEST_CASE(joining_a_duplicate_topic_leaves_the_other_channel) {
  start(options());
  connect_and_open();
  auto first = channel("room:a");
  join_ok(first);
  auto second = channel("room:a");
  join(second);
  BOOST_CHECK(state_of(first) == channel_state::leaving);
  BOOST_CHECK_EQUAL(count(sent(), "phx_leave"), 1u);
  BOOST_CHECK(logged("leaving duplicate topic"));
}

BOOST_AUTO_TEST_CASE(leave_sends_phx_leave_and_closes_on_its_ok) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  auto jr = join_ok(c);
  auto h = std::make_shared<phx::push_hooks>(hooks->gate);
  caf::anon_send(c->hdl, phx::leave_atom::value, caf::timespan{10s}, guard(h));
  run();
  auto l = last_sent();
  BOOST_CHECK_EQUAL(l.event, "phx_leave");
  BOOST_CHECK_EQUAL(*l.join_ref, jr);
  BOOST_CHECK(l.payload.json().ObjectEmpty());
  BOOST_CHECK(!h->outcome());
  reply(l.join_ref, *l.ref, "room:a", "ok");
  BOOST_CHECK(state_of(c) == channel_state::closed);
  BOOST_REQUIRE(h->outcome());
  BOOST_CHECK_EQUAL(h->outcome()->status, "ok");
  BOOST_CHECK_EQUAL(sock_state().stats.channels, 0u);
}

BOOST_AUTO_TEST_CASE(leave_closes_on_its_timeout) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  caf::anon_send(c->hdl, phx::leave_atom::value, caf::timespan{3s});
  run();
  advance(2999ms);
  BOOST_CHECK(state_of(c) == channel_state::leaving);
  advance(1ms);
  BOOST_CHECK(state_of(c) == channel_state::closed);
}

BOOST_AUTO_TEST_CASE(push_before_join_is_an_error) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  auto h = push(c, "early");
  BOOST_REQUIRE(h->outcome());
  BOOST_CHECK_EQUAL(h->outcome()->status, "failed");
  BOOST_CHECK(h->outcome()->error == phx::ec::not_joined);
  BOOST_CHECK(current()->frames.empty());
}

BOOST_AUTO_TEST_CASE(a_joined_push_goes_out_at_once_and_resolves_with_the_reply) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  auto jr = join_ok(c);
  auto ok = push(c, "echo", json(R"({"x":1})"));
  auto m = last_sent();
  BOOST_CHECK_EQUAL(m.event, "echo");
  BOOST_CHECK_EQUAL(*m.join_ref, jr);
  BOOST_CHECK(m.payload == json(R"({"x":1})"));
  reply(jr, *m.ref, "room:a", "ok", json(R"({"x":1})"));
  BOOST_REQUIRE(ok->outcome());
  BOOST_CHECK_EQUAL(ok->outcome()->status, "ok");
  BOOST_CHECK(ok->outcome()->response == json(R"({"x":1})"));
  auto err = push(c, "echo_error");
  reply(jr, *last_sent().ref, "room:a", "error", json(R"({"reason":"no"})"));
  BOOST_CHECK_EQUAL(err->outcome()->status, "error");
  // No timeout after the reply, and the reply binding is gone.
  advance(11s);
  BOOST_CHECK_EQUAL(ok->outcome()->status, "ok");
  BOOST_CHECK(deref<phx::channel_actor_state>(c->hdl).pushes.empty());
  BOOST_CHECK(deref<phx::channel_actor_state>(c->hdl).by_ref.empty());
}

BOOST_AUTO_TEST_CASE(pushes_and_a_leave_queued_together_go_out_in_their_order) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  auto jr = join_ok(c);
  auto before = sent().size();
  // Queued before the channel runs: one mailbox run handles all of them.
  std::vector<std::shared_ptr<phx::push_hooks>> hs;
  for (int i = 0; i < 5; ++i) {
    hs.push_back(std::make_shared<phx::push_hooks>(hooks->gate));
    caf::anon_send(c->hdl, phx::push_atom::value, "p" + std::to_string(i), payload{},
                   caf::timespan{10s}, guard(hs.back()));
  }
  auto lh = std::make_shared<phx::push_hooks>(hooks->gate);
  caf::anon_send(c->hdl, phx::leave_atom::value, caf::timespan{10s}, guard(lh));
  run();
  auto all = sent();
  BOOST_REQUIRE_EQUAL(all.size(), before + 6);
  std::vector<message> out(all.begin() + static_cast<std::ptrdiff_t>(before), all.end());
  for (int i = 0; i < 5; ++i)
    BOOST_CHECK_EQUAL(out[i].event, "p" + std::to_string(i));
  BOOST_CHECK_EQUAL(out[5].event, "phx_leave");
  // Replies still match their pushes; the leave's ok closes and removes the channel.
  for (int i = 0; i < 5; ++i)
    reply(jr, *out[i].ref, "room:a", "ok");
  for (auto& h : hs) {
    BOOST_REQUIRE(h->outcome());
    BOOST_CHECK_EQUAL(h->outcome()->status, "ok");
  }
  reply(jr, *out[5].ref, "room:a", "ok");
  BOOST_CHECK(state_of(c) == channel_state::closed);
  BOOST_CHECK_EQUAL(sock_state().stats.channels, 0u);
}

BOOST_AUTO_TEST_CASE(a_push_without_reply_times_out_with_the_default_or_its_own_timeout) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  auto dflt = push(c, "noreply");
  auto own = push(c, "noreply", payload{}, 2s);
  advance(2s);
  BOOST_CHECK(!dflt->outcome());
  BOOST_REQUIRE(own->outcome());
  BOOST_CHECK_EQUAL(own->outcome()->status, "timeout");
  advance(8s);
  BOOST_REQUIRE(dflt->outcome());
  BOOST_CHECK_EQUAL(dflt->outcome()->status, "timeout");
}

BOOST_AUTO_TEST_CASE(exactly_one_outcome_late_and_duplicate_replies_are_ignored) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  auto jr = join_ok(c);
  int oks = 0, timeouts = 0;
  auto h = push(c, "echo", payload{}, 1s);
  h->receive("ok", [&](const payload&) { ++oks; });
  h->receive("timeout", [&](const payload&) { ++timeouts; });
  auto ref = *last_sent().ref;
  advance(1s);
  reply(jr, ref, "room:a", "ok");
  reply(jr, ref, "room:a", "ok");
  BOOST_CHECK_EQUAL(oks, 0);
  BOOST_CHECK_EQUAL(timeouts, 1);
  BOOST_CHECK_EQUAL(deref<phx::channel_actor_state>(c->hdl).stats.unmatched_replies, 2u);
  // A hook registered after the outcome runs at once.
  int late = 0;
  h->receive("timeout", [&](const payload&) { ++late; });
  BOOST_CHECK_EQUAL(late, 1);
}

BOOST_AUTO_TEST_CASE(bindings_have_consecutive_refs_and_off_during_dispatch_still_runs_all) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  std::vector<int> calls;
  uint64_t r1 = 0, r2 = 0, r3 = 0;
  r1 = c->hooks->on("x", [&](const message&, const std::string&) {
    calls.push_back(1);
    c->hooks->off("x", r2);
  });
  r2 = c->hooks->on("x", [&](const message&, const std::string&) { calls.push_back(2); });
  r3 = c->hooks->on("x", [&](const message&, const std::string&) { calls.push_back(3); });
  BOOST_CHECK_EQUAL(r2, r1 + 1);
  BOOST_CHECK_EQUAL(r3, r2 + 1);
  receive_text(R"([null,null,"room:a","x",{}])");
  std::vector<int> want = {1, 2, 3};
  BOOST_CHECK_EQUAL_COLLECTIONS(calls.begin(), calls.end(), want.begin(), want.end());
  calls.clear();
  receive_text(R"([null,null,"room:a","x",{}])");
  want = {1, 3};
  BOOST_CHECK_EQUAL_COLLECTIONS(calls.begin(), calls.end(), want.begin(), want.end());
  c->hooks->off("x");
  calls.clear();
  receive_text(R"([null,null,"room:a","x",{}])");
  BOOST_CHECK(calls.empty());
}

BOOST_AUTO_TEST_CASE(the_on_message_hook_transforms_payloads_before_dispatch) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  c->hooks->set_transform([](const message& m) {
    return m.event == "evt" ? json(R"({"changed":true})") : m.payload;
  });
  join_ok(c);
  receive_text(R"([null,null,"room:a","evt",{"changed":false}])");
  BOOST_REQUIRE_EQUAL(c->events.size(), 1u);
  BOOST_CHECK(c->events[0].payload == json(R"({"changed":true})"));
}

BOOST_AUTO_TEST_CASE(join_params_are_evaluated_at_every_join) {
  start(options());
  connect_and_open();
  auto n = std::make_shared<int>(0);
  auto c = channel("room:a", [n] {
    return json(("{\"last_seen\":" + std::to_string(++*n) + "}").c_str());
  });
  join_ok(c);
  close(1006);
  advance(1s);
  open();
  auto j = last_sent();
  BOOST_CHECK_EQUAL(j.event, "phx_join");
  BOOST_CHECK_EQUAL(j.payload.json()["last_seen"].GetInt(), 2);
}

BOOST_AUTO_TEST_CASE(the_request_api_yields_the_reply_or_a_typed_error) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  auto jr = join_ok(c);
  std::optional<phx::reply> got;
  caf::error err;
  spawn([&](caf::event_based_actor* me) {
    me->request(c->hdl, caf::infinite, phx::push_atom::value, std::string{"echo"},
                json(R"({"v":7})"))
      .then([&](phx::reply& r) { got = r; });
    me->request(c->hdl, caf::infinite, phx::push_atom::value, std::string{"noreply"},
                payload{}, caf::timespan{1s})
      .then([](phx::reply&) {}, [&](caf::error& e) { err = e; });
  });
  run();
  auto echo = sent_events("echo");
  BOOST_REQUIRE_EQUAL(echo.size(), 1u);
  reply(jr, *echo[0].ref, "room:a", "ok", json(R"({"v":7})"));
  BOOST_REQUIRE(got);
  BOOST_CHECK_EQUAL(got->status, "ok");
  BOOST_CHECK(got->response == json(R"({"v":7})"));
  advance(1s);
  BOOST_CHECK(err == phx::ec::push_timeout);
}

BOOST_AUTO_TEST_CASE(a_requester_hears_once_when_the_buffer_is_full_or_the_channel_dies) {
  auto opts = options();
  opts.max_push_buffer = 1;
  start(std::move(opts));
  connect_and_open();
  auto c = channel("room:a");
  join(c);
  std::vector<caf::error> errs;
  int replies = 0;
  spawn([&](caf::event_based_actor* me) {
    for (auto event : {"buffered", "refused"})
      me->request(c->hdl, caf::infinite, phx::push_atom::value, std::string{event}, payload{})
        .then([&](phx::reply&) { ++replies; }, [&](caf::error& e) { errs.push_back(e); });
  });
  run();
  BOOST_REQUIRE_EQUAL(errs.size(), 1u);
  BOOST_CHECK(errs[0] == phx::ec::push_buffer_full);
  // Killed, the channel answers the buffered push's requester from its
  // state's destructor, naming why: it crashed.
  caf::anon_send_exit(c->hdl, caf::exit_reason::kill);
  run();
  BOOST_REQUIRE_EQUAL(errs.size(), 2u);
  BOOST_CHECK(errs[1] == phx::ec::channel_crashed);
  BOOST_CHECK_EQUAL(replies, 0);
}

BOOST_AUTO_TEST_CASE(push_actors_are_reused_bounded_in_number_and_trimmed_after_a_burst) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  auto jr = join_ok(c);
  auto& st = deref<phx::channel_actor_state>(c->hdl);
  auto running = sys.registry().running();
  // One push after the other: one PUSH actor serves them all.
  for (int i = 0; i < 3; ++i) {
    auto h = push(c, "echo");
    reply(jr, *last_sent().ref, "room:a", "ok");
    BOOST_REQUIRE(h->outcome());
    BOOST_CHECK_EQUAL(h->outcome()->status, "ok");
    BOOST_CHECK_EQUAL(st.idle_pushes.size(), 1u);
  }
  BOOST_CHECK_EQUAL(sys.registry().running(), running + 1);
  // A burst larger than the pool: every push has its own PUSH actor while
  // pending, and at most max_idle_pushes stay idle after it.
  constexpr size_t burst = phx::channel_actor_state::max_idle_pushes + 72;
  std::vector<std::shared_ptr<phx::push_hooks>> hs;
  for (size_t i = 0; i < burst; ++i)
    hs.push_back(push(c, "echo"));
  BOOST_CHECK(st.idle_pushes.empty());
  BOOST_CHECK_EQUAL(sys.registry().running(), running + burst);
  for (auto& m : sent_events("echo"))
    if (st.by_ref.count(*m.ref))
      reply(jr, *m.ref, "room:a", "ok");
  for (auto& h : hs) {
    BOOST_REQUIRE(h->outcome());
    BOOST_CHECK_EQUAL(h->outcome()->status, "ok");
  }
  BOOST_CHECK_EQUAL(st.idle_pushes.size(), phx::channel_actor_state::max_idle_pushes);
  BOOST_CHECK_EQUAL(sys.registry().running(),
                    running + phx::channel_actor_state::max_idle_pushes);
  // The push timer armed for the burst fires: the pool shrinks and the
  // PUSH actors it drops quit, even one still referenced elsewhere (as a
  // remote node's proxy would).
  auto held = st.idle_pushes.back();
  advance(10s);
  BOOST_CHECK_EQUAL(st.idle_pushes.size(), phx::channel_actor_state::kept_idle_pushes);
  BOOST_CHECK_EQUAL(sys.registry().running(),
                    running + phx::channel_actor_state::kept_idle_pushes);
}

BOOST_AUTO_TEST_CASE(a_push_callback_that_throws_is_logged_and_its_push_actor_serves_on) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  auto jr = join_ok(c);
  auto thrower = push(c, "echo");
  thrower->receive("ok", [](const payload&) { throw std::runtime_error{"boom"}; });
  reply(jr, *last_sent().ref, "room:a", "ok");
  BOOST_CHECK(std::count(log_lines.begin(), log_lines.end(),
                         "callback: callback 'receive(\"ok\")' threw: boom") == 1);
  auto next = push(c, "echo");
  auto n = count_outcomes(next);
  reply(jr, *last_sent().ref, "room:a", "ok");
  BOOST_CHECK_EQUAL(*n, 1);
  BOOST_CHECK_EQUAL(deref<phx::channel_actor_state>(c->hdl).idle_pushes.size(), 1u);
}

BOOST_AUTO_TEST_CASE(subscribers_get_events_states_and_join_outcomes_as_typed_messages) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  std::vector<std::string> seen;
  auto sub = spawn([&]() -> phx::channel_subscriber_actor::behavior_type {
    return {
      [&](phx::event_atom, message& m, std::string&, phx::flow_ticket&) {
        seen.push_back("event " + m.event);
      },
      [&](phx::state_atom, std::string&, phx::channel_state s) {
        seen.push_back("state " + phx::to_string(s));
      },
      [&](phx::join_atom, std::string&, phx::reply& r) { seen.push_back("join " + r.status); },
    };
  });
  caf::anon_send(c->hdl, phx::subscribe_atom::value, sub);
  run();
  join_ok(c);
  receive_text(R"([null,null,"room:a","shout",{}])");
  std::vector<std::string> want = {"state joining", "state joined", "join ok", "event shout"};
  BOOST_CHECK_EQUAL_COLLECTIONS(seen.begin(), seen.end(), want.begin(), want.end());
}

BOOST_AUTO_TEST_CASE(every_subscriber_gets_the_whole_event) {
  // The last subscriber is handed the message itself, the others copies:
  // each must see the same topic, event, payload and join_ref.
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  std::vector<std::string> seen;
  auto spawn_sub = [&](std::string name) {
    return spawn([&seen, name]() -> phx::channel_subscriber_actor::behavior_type {
      return {
        [&seen, name](phx::event_atom, message& m, std::string& join_ref, phx::flow_ticket&) {
          seen.push_back(name + " " + m.topic + " " + m.event + " " + m.payload.to_string()
                         + " " + join_ref);
        },
        [](phx::state_atom, std::string&, phx::channel_state) {},
        [](phx::join_atom, std::string&, phx::reply&) {},
      };
    });
  };
  for (auto name : {"first", "second", "third"})
    caf::anon_send(c->hdl, phx::subscribe_atom::value, spawn_sub(name));
  run();
  auto jr = join_ok(c);
  receive_text(R"([null,null,"room:a","shout",{"n":[1,2]}])");
  std::vector<std::string> want;
  for (auto name : {"first", "second", "third"})
    want.push_back(std::string{name} + " room:a shout {\"n\":[1,2]} " + jr);
  BOOST_CHECK_EQUAL_COLLECTIONS(seen.begin(), seen.end(), want.begin(), want.end());
}

BOOST_AUTO_TEST_CASE(the_push_buffer_is_bounded) {
  auto opts = options();
  opts.max_push_buffer = 2;
  start(std::move(opts));
  connect_and_open();
  auto c = channel("room:a");
  join(c);
  auto a = push(c, "a");
  auto b = push(c, "b");
  auto full = push(c, "c");
  BOOST_CHECK(!a->outcome());
  BOOST_REQUIRE(full->outcome());
  BOOST_CHECK_EQUAL(full->outcome()->status, "failed");
  BOOST_CHECK(full->outcome()->error == phx::ec::push_buffer_full);
}

BOOST_AUTO_TEST_CASE(a_push_whose_channel_dies_times_out_at_once) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  auto h = push(c, "echo");
  caf::anon_send_exit(c->hdl, caf::exit_reason::kill);
  run();
  BOOST_REQUIRE(h->outcome());
  BOOST_CHECK_EQUAL(h->outcome()->status, "timeout");
  BOOST_CHECK(h->outcome()->error == phx::ec::channel_crashed);
}

BOOST_AUTO_TEST_CASE(join_ok_resets_the_rejoin_tries) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  auto jr = join_ok(c);
  auto next_join = [&] {
    auto before = count(sent(), "phx_join");
    return millis(advance_until([&] { return count(sent(), "phx_join") > before; }, 20s));
  };
  auto crash = [&](const std::string& join_ref) {
    receive_text("[\"" + join_ref + "\",\"" + join_ref
                 + "\",\"room:a\",\"phx_error\",{\"reason\":\"crash\"}]");
    BOOST_REQUIRE(state_of(c) == channel_state::errored);
  };
  std::vector<int64_t> gaps;
  crash(jr);
  gaps.push_back(next_join());
  auto j = sent_events("phx_join").back();
  reply(j.join_ref, *j.ref, "room:a", "error");
  gaps.push_back(next_join());
  j = sent_events("phx_join").back();
  reply(j.join_ref, *j.ref, "room:a", "ok");
  BOOST_REQUIRE(state_of(c) == channel_state::joined);
  crash(*j.join_ref);
  gaps.push_back(next_join());
  std::vector<int64_t> want = {1000, 2000, 1000};
  BOOST_CHECK_EQUAL_COLLECTIONS(gaps.begin(), gaps.end(), want.begin(), want.end());
}

BOOST_AUTO_TEST_CASE(leave_while_joining_stops_the_join_timeout_and_no_join_follows) {
  auto opts = options();
  opts.heartbeat_interval = caf::timespan{0}; // only the channel's timers run
  start(std::move(opts));
  connect_and_open();
  auto c = channel("room:a");
  join(c);
  caf::anon_send(c->hdl, phx::leave_atom::value, caf::timespan{10s});
  run();
  BOOST_CHECK(state_of(c) == channel_state::leaving);
  for (int i = 0; i < 120; ++i)
    advance(1s);
  BOOST_CHECK(state_of(c) == channel_state::closed);
  BOOST_CHECK_EQUAL(count(sent(), "phx_join"), 1u);
  // The leave's own; a join timeout would have sent another.
  BOOST_CHECK_EQUAL(count(sent(), "phx_leave"), 1u);
}

BOOST_AUTO_TEST_CASE(leave_while_errored_stops_the_rejoin_timer) {
  auto opts = options();
  opts.heartbeat_interval = caf::timespan{0};
  start(std::move(opts));
  connect_and_open();
  auto c = channel("room:a");
  join(c);
  auto j = last_sent();
  reply(j.join_ref, *j.ref, "room:a", "error"); // a rejoin is due in 1 s
  BOOST_REQUIRE(state_of(c) == channel_state::errored);
  caf::anon_send(c->hdl, phx::leave_atom::value, caf::timespan{10s});
  run();
  for (int i = 0; i < 120; ++i)
    advance(1s);
  BOOST_CHECK(state_of(c) == channel_state::closed);
  BOOST_CHECK_EQUAL(count(sent(), "phx_join"), 1u);
}

BOOST_AUTO_TEST_CASE(joining_a_duplicate_topic_leaves_the_other_channel_while_it_is_joining) {
  start(options());
  connect_and_open();
  auto first = channel("room:a");
  join(first);
  auto fj = last_sent();
  auto second = channel("room:a");
  join(second);
  BOOST_CHECK(state_of(first) == channel_state::leaving);
  BOOST_CHECK(state_of(second) == channel_state::joining);
  auto leaves = sent_events("phx_leave");
  BOOST_REQUIRE_EQUAL(leaves.size(), 1u);
  BOOST_CHECK_EQUAL(*leaves[0].join_ref, *fj.join_ref);
}

BOOST_AUTO_TEST_CASE(a_rejoin_leaves_the_other_channel_of_the_same_topic) {
  start(options());
  connect_and_open();
  auto a = channel("room:a");
  join(a);
  auto aj = last_sent();
  reply(aj.join_ref, *aj.ref, "room:a", "error"); // a rejoins in 1 s
  auto b = channel("room:a");
  auto bj = join_ok(b); // a is errored: not left
  BOOST_CHECK(state_of(a) == channel_state::errored);
  BOOST_CHECK_EQUAL(count(sent(), "phx_leave"), 0u);
  advance(1s);
  BOOST_CHECK(state_of(a) == channel_state::joining);
  BOOST_CHECK(state_of(b) == channel_state::leaving);
  auto leaves = sent_events("phx_leave");
  BOOST_REQUIRE_EQUAL(leaves.size(), 1u);
  BOOST_CHECK_EQUAL(*leaves[0].join_ref, bj);
}

BOOST_AUTO_TEST_CASE(when_two_channels_of_a_topic_rejoin_on_reopen_the_last_one_stays) {
  start(options());
  connect_and_open();
  auto a = channel("room:a");
  join(a);
  auto aj = last_sent();
  reply(aj.join_ref, *aj.ref, "room:a", "error");
  auto b = channel("room:a");
  join_ok(b);
  close(1006); // both errored
  advance(1s);
  open();
  // Both rejoin, a first: as in phoenix.js, b's rejoin leaves a, and a's
  // (older) rejoin does not leave b.
  auto joins = sent_events("phx_join");
  BOOST_REQUIRE_EQUAL(joins.size(), 2u);
  BOOST_CHECK(state_of(a) == channel_state::leaving);
  BOOST_CHECK(state_of(b) == channel_state::joining);
  auto leaves = sent_events("phx_leave");
  BOOST_REQUIRE_EQUAL(leaves.size(), 1u);
  BOOST_CHECK_EQUAL(*leaves[0].join_ref, *joins[0].join_ref);
}

BOOST_AUTO_TEST_CASE(every_join_push_has_a_new_ref_equal_to_its_join_ref) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  auto joins = [&] { return count(sent(), "phx_join"); };
  join(c); // 1: the join
  auto j = last_sent();
  reply(j.join_ref, *j.ref, "room:a", "error");
  advance_until([&] { return joins() == 2; }, 20s); // 2: rejoin after an error
  advance_until([&] { return joins() == 3; }, 20s); // 3: rejoin after a join timeout
  j = sent_events("phx_join").back();
  reply(j.join_ref, *j.ref, "room:a", "ok");
  close(1006);
  advance(1s);
  BOOST_REQUIRE_EQUAL(transports.size(), 2u);
  open(); // 4: rejoin on reopen
  std::vector<message> all;
  for (size_t i = 0; i < transports.size(); ++i)
    for (auto& m : sent(i))
      if (m.event == "phx_join")
        all.push_back(m);
  BOOST_REQUIRE_EQUAL(all.size(), 4u);
  std::vector<std::string> refs;
  for (auto& m : all) {
    BOOST_REQUIRE(m.join_ref && m.ref);
    BOOST_CHECK_EQUAL(*m.join_ref, *m.ref);
    BOOST_CHECK(std::find(refs.begin(), refs.end(), *m.ref) == refs.end());
    refs.push_back(*m.ref);
  }
}

BOOST_AUTO_TEST_CASE(every_pending_push_times_out_once_when_the_socket_goes_away) {
  start(options());
  connect_and_open();
  auto joined = channel("room:a");
  join_ok(joined);
  auto in_flight = push(joined, "echo");
  auto joining = channel("room:b");
  join(joining);
  auto buffered = push(joining, "early");
  auto n_in_flight = count_outcomes(in_flight);
  auto n_buffered = count_outcomes(buffered);
  caf::anon_send_exit(socket, caf::exit_reason::kill);
  run();
  // The socket crashed (the supervisor restarts it): each push names why.
  for (auto& h : {in_flight, buffered}) {
    BOOST_REQUIRE(h->outcome());
    BOOST_CHECK_EQUAL(h->outcome()->status, "timeout");
    BOOST_CHECK(h->outcome()->error == phx::ec::socket_crashed);
  }
  advance(60s);
  BOOST_CHECK_EQUAL(*n_in_flight, 1);
  BOOST_CHECK_EQUAL(*n_buffered, 1);
}

BOOST_AUTO_TEST_CASE(every_pending_push_times_out_once_after_disconnect) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  auto in_flight = push(c, "echo", payload{}, 5s);
  auto n_in_flight = count_outcomes(in_flight);
  caf::anon_send(socket, phx::disconnect_atom::value, uint16_t{1000}, std::string{});
  run();
  close(1000);
  BOOST_REQUIRE(state_of(c) == channel_state::errored);
  // Pushed after the disconnect: waits in the channel's buffer.
  auto buffered = push(c, "later", payload{}, 5s);
  auto n_buffered = count_outcomes(buffered);
  // The disconnect itself ends no push: each runs to its own timeout.
  advance(4999ms);
  BOOST_CHECK(!in_flight->outcome());
  BOOST_CHECK(!buffered->outcome());
  advance(1ms);
  for (auto& h : {in_flight, buffered}) {
    BOOST_REQUIRE(h->outcome());
    BOOST_CHECK_EQUAL(h->outcome()->status, "timeout");
    BOOST_CHECK(h->outcome()->error == phx::ec::push_timeout);
  }
  advance(60s);
  BOOST_CHECK_EQUAL(*n_in_flight, 1);
  BOOST_CHECK_EQUAL(*n_buffered, 1);
  BOOST_CHECK_EQUAL(count(sent(), "later"), 0u);
  BOOST_CHECK(deref<phx::channel_actor_state>(c->hdl).pushes.empty());
}

BOOST_AUTO_TEST_SUITE_END()

// The ref index of pending pushes, alone (no actors).
BOOST_AUTO_TEST_SUITE(ref_index_rules)

BOOST_AUTO_TEST_CASE(refs_are_found_until_erased_in_any_order) {
  phx::ref_index idx;
  for (uint64_t r = 1; r <= 10; ++r)
    idx.add(std::to_string(r), r * 100);
  BOOST_CHECK_EQUAL(idx.size(), 10u);
  BOOST_CHECK_EQUAL(idx.find("7").value_or(0), 700u);
  idx.erase("7");
  idx.erase("1");
  BOOST_CHECK(!idx.find("7"));
  BOOST_CHECK(!idx.find("1"));
  BOOST_CHECK_EQUAL(idx.find("2").value_or(0), 200u);
  BOOST_CHECK_EQUAL(idx.find("10").value_or(0), 1000u);
  BOOST_CHECK(!idx.find("11"));
  idx.erase("7"); // twice: nothing
  BOOST_CHECK_EQUAL(idx.size(), 8u);
  for (uint64_t r = 2; r <= 10; ++r)
    idx.erase(std::to_string(r));
  BOOST_CHECK(idx.empty());
  BOOST_CHECK_EQUAL(idx.held(), 0u);
}

BOOST_AUTO_TEST_CASE(a_ref_is_matched_only_in_its_own_spelling) {
  phx::ref_index idx;
  idx.add("7", 1);
  BOOST_CHECK(!idx.find("07"));
  BOOST_CHECK(!idx.find("7 "));
  BOOST_CHECK(!idx.find(""));
  BOOST_CHECK(!idx.find("99999999999999999999999"));
  // A ref this client never makes is still kept and found.
  idx.add("abc", 2);
  idx.add("07", 3);
  BOOST_CHECK_EQUAL(idx.find("abc").value_or(0), 2u);
  BOOST_CHECK_EQUAL(idx.find("07").value_or(0), 3u);
  BOOST_CHECK_EQUAL(idx.find("7").value_or(0), 1u);
  idx.erase("abc");
  idx.erase("07");
  idx.erase("7");
  BOOST_CHECK(idx.empty());
}

BOOST_AUTO_TEST_CASE(refs_added_out_of_order_are_found) {
  phx::ref_index idx;
  idx.add("5", 50);
  idx.add("3", 30);
  idx.add("9", 90);
  idx.add("4", 40);
  for (auto [r, id] : {std::pair{"3", 30u}, {"4", 40u}, {"5", 50u}, {"9", 90u}})
    BOOST_CHECK_EQUAL(idx.find(r).value_or(0), id);
  BOOST_CHECK_EQUAL(idx.size(), 4u);
}

BOOST_AUTO_TEST_CASE(finished_refs_behind_a_slow_push_do_not_pile_up) {
  phx::ref_index idx;
  idx.add("1", 1); // the slow push, pending throughout
  constexpr uint64_t n = 100000;
  size_t most = 0;
  for (uint64_t r = 2; r <= n; ++r) {
    idx.add(std::to_string(r), r);
    if (r % 4 == 0) {
      // Four in flight at a time, replied in order.
      for (uint64_t k = r - 3; k <= r; ++k)
        if (k >= 2)
          idx.erase(std::to_string(k));
    }
    most = std::max(most, idx.held());
  }
  BOOST_CHECK_EQUAL(idx.find("1").value_or(0), 1u);
  BOOST_CHECK_LE(idx.size(), 4u);
  BOOST_CHECK_LE(most, 2 * 5 + 64 + 1u);
  idx.erase("1");
  for (uint64_t r = 2; r <= n; ++r)
    idx.erase(std::to_string(r));
  BOOST_CHECK(idx.empty());
  BOOST_CHECK_EQUAL(idx.held(), 0u);
}

BOOST_AUTO_TEST_SUITE_END()
