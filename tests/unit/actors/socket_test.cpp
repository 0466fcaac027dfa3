// CLIENT.md, section Socket: one test per rule, in virtual time.
#include "fixture.hpp"

#include "phx/socket.hpp"

using namespace phx_test;
using phx::connection_state;

BOOST_FIXTURE_TEST_SUITE(socket_rules, fixture)

BOOST_AUTO_TEST_CASE(url_is_endpoint_websocket_params_then_vsn) {
  auto opts = options();
  opts.params = [] {
    phx::protocol::json_document d;
    d.Parse(R"({"token":"s3cret","vsn":"9.9.9"})");
    return d;
  };
  start(std::move(opts));
  connect();
  BOOST_CHECK_EQUAL(current()->req.url,
                    "ws://localhost:4000/socket/websocket?token=s3cret&vsn=2.0.0");
  // The URL is logged redacted, never with the token.
  BOOST_CHECK(logged("token=REDACTED"));
  BOOST_CHECK(!logged("s3cret"));
}

BOOST_AUTO_TEST_CASE(params_are_evaluated_at_every_connect) {
  auto opts = options();
  auto calls = std::make_shared<int>(0);
  opts.params = [calls] {
    phx::protocol::json_document d;
    d.SetObject();
    auto tok = "t" + std::to_string(++*calls);
    d.AddMember("token", phx::protocol::json_value{tok.c_str(), d.GetAllocator()},
                d.GetAllocator());
    return d;
  };
  start(std::move(opts));
  connect_and_open();
  close(1006);
  advance(1s);
  BOOST_REQUIRE_EQUAL(transports.size(), 2u);
  BOOST_CHECK(transports[0]->req.url.find("token=t1&") != std::string::npos);
  BOOST_CHECK(transports[1]->req.url.find("token=t2&") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(auth_token_goes_in_the_subprotocol_header) {
  auto opts = options();
  opts.auth_token = [] { return std::optional<std::string>{"1234"}; };
  start(std::move(opts));
  connect();
  BOOST_CHECK_EQUAL(current()->req.subprotocols, "phoenix, base64url.bearer.phx.MTIzNA");
  BOOST_CHECK(!logged("MTIzNA"));
  BOOST_CHECK(!logged("1234"));
}

BOOST_AUTO_TEST_CASE(connect_is_idempotent) {
  start(options());
  connect();
  connect();
  open();
  connect();
  BOOST_CHECK_EQUAL(transports.size(), 1u);
  BOOST_CHECK(sock_state().conn == connection_state::open);
}

BOOST_AUTO_TEST_CASE(refs_come_from_one_counter_and_are_never_reused) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  push(c, "echo");
  advance(30s); // heartbeat
  std::vector<std::string> refs;
  for (auto& m : sent())
    refs.push_back(*m.ref);
  std::vector<std::string> want = {"1", "2", "3"};
  BOOST_CHECK_EQUAL_COLLECTIONS(refs.begin(), refs.end(), want.begin(), want.end());
}

BOOST_AUTO_TEST_CASE(heartbeat_is_sent_after_the_interval_and_times_out_after_another) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  advance(29999ms);
  BOOST_CHECK(sent_events("heartbeat").empty());
  advance(1ms);
  auto hb = sent_events("heartbeat");
  BOOST_REQUIRE_EQUAL(hb.size(), 1u);
  BOOST_CHECK(!hb[0].join_ref);
  BOOST_CHECK_EQUAL(hb[0].topic, "phoenix");
  BOOST_CHECK(hb[0].payload.json().IsObject() && hb[0].payload.json().ObjectEmpty());
  // The exact frame of the protocol.
  BOOST_CHECK_EQUAL(current()->frames.back().data, "[null,\"" + *hb[0].ref
                                                      + "\",\"phoenix\",\"heartbeat\",{}]");
  advance(29999ms);
  BOOST_CHECK_EQUAL(current()->aborts, 0);
  advance(1ms);
  // Timed out at 60 s: the link is dropped at once, no close handshake.
  BOOST_CHECK_EQUAL(current()->aborts, 1);
  BOOST_CHECK_EQUAL(current()->closes, 0);
  BOOST_CHECK(sock_state().conn == connection_state::closed);
  BOOST_REQUIRE(!c->events.empty());
  auto& err = c->events.back();
  BOOST_CHECK_EQUAL(err.event, "phx_error");
  BOOST_CHECK_EQUAL(std::string(err.payload.json()["reason"].GetString()), "heartbeat_timeout");
  BOOST_CHECK(state_of(c) == phx::channel_state::errored);
  // Reconnect after the first backoff step.
  advance(999ms);
  BOOST_CHECK_EQUAL(transports.size(), 1u);
  advance(1ms);
  BOOST_CHECK_EQUAL(transports.size(), 2u);
}

BOOST_AUTO_TEST_CASE(heartbeat_reply_schedules_the_next_one_from_the_reply) {
  start(options());
  connect_and_open();
  advance(30s);
  auto hb = sent_events("heartbeat");
  BOOST_REQUIRE_EQUAL(hb.size(), 1u);
  advance(5s);
  reply(std::nullopt, *hb[0].ref, "phoenix", "ok");
  advance(29999ms);
  BOOST_CHECK_EQUAL(sent_events("heartbeat").size(), 1u);
  advance(1ms);
  BOOST_CHECK_EQUAL(sent_events("heartbeat").size(), 2u);
  BOOST_CHECK_EQUAL(current()->aborts, 0);
}

BOOST_AUTO_TEST_CASE(no_heartbeat_while_disconnected_or_after_disconnect) {
  start(options());
  connect(); // connecting, never opened
  advance(65s);
  BOOST_CHECK(current()->frames.empty());
  open();
  caf::anon_send(socket, phx::disconnect_atom::value, uint16_t{1000}, std::string{});
  run();
  close(1000);
  advance(65s);
  BOOST_CHECK(sent_events("heartbeat").empty());
  BOOST_CHECK_EQUAL(current()->aborts, 0);
  BOOST_CHECK_EQUAL(transports.size(), 1u);
}

BOOST_AUTO_TEST_CASE(reconnects_after_1_2_5_10_then_10_seconds) {
  start(options());
  connect();
  std::vector<int64_t> gaps;
  for (int attempt = 0; attempt < 5; ++attempt) {
    fail("connection refused");
    auto before = transports.size();
    auto waited = advance_until([&] { return transports.size() > before; }, 20s);
    gaps.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(waited).count());
  }
  std::vector<int64_t> want = {1000, 2000, 5000, 10000, 10000};
  BOOST_CHECK_EQUAL_COLLECTIONS(gaps.begin(), gaps.end(), want.begin(), want.end());
}

BOOST_AUTO_TEST_CASE(an_open_resets_the_reconnect_tries) {
  start(options());
  connect();
  fail("refused");
  advance(1s);
  fail("refused");
  advance(2s);
  open();
  close(1006);
  advance(999ms);
  BOOST_CHECK_EQUAL(transports.size(), 3u);
  advance(1ms);
  BOOST_CHECK_EQUAL(transports.size(), 4u);
}

BOOST_AUTO_TEST_CASE(reconnects_after_any_close_the_user_did_not_ask_for) {
  for (uint16_t code : {1000, 1001, 1006, 1011, 1012}) {
    fixture f;
    f.start(f.options());
    f.connect_and_open();
    f.close(code);
    f.advance(1s);
    BOOST_CHECK_MESSAGE(f.transports.size() == 2u, "no reconnect after close " << code);
  }
}

BOOST_AUTO_TEST_CASE(reconnects_after_a_refused_upgrade_403) {
  std::vector<std::pair<std::string, int>> errors;
  hooks->on_error.add(hooks->make_ref(), [&](const std::string& r, int status) {
    errors.emplace_back(r, status);
  });
  start(options());
  connect();
  fail("upgrade refused with HTTP 403", 403);
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_CHECK_EQUAL(errors[0].second, 403);
  advance(1s);
  BOOST_CHECK_EQUAL(transports.size(), 2u);
}

BOOST_AUTO_TEST_CASE(disconnect_stops_everything_and_runs_its_callback_once) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  int done = 0;
  spawn([&](caf::event_based_actor* me) {
    me->request(socket, caf::infinite, phx::disconnect_atom::value, uint16_t{4000},
                std::string{"bye"})
      .then([&](phx::connection_state s) {
        ++done;
        BOOST_CHECK(s == connection_state::closed);
      });
  });
  run();
  BOOST_CHECK_EQUAL(current()->closes, 1);
  BOOST_CHECK_EQUAL(current()->close_code, 4000);
  BOOST_CHECK_EQUAL(current()->close_reason, "bye");
  BOOST_CHECK_EQUAL(done, 0);
  close(4000, "bye");
  BOOST_CHECK_EQUAL(done, 1);
  advance(70s);
  BOOST_CHECK_EQUAL(done, 1);
  BOOST_CHECK_EQUAL(transports.size(), 1u);
  BOOST_CHECK(sent_events("heartbeat").empty());
  // Channels saw the close and wait, errored, for a later connect.
  BOOST_CHECK(state_of(c) == phx::channel_state::errored);
  connect();
  BOOST_REQUIRE_EQUAL(transports.size(), 2u);
  open();
  auto joins = sent_events("phx_join");
  BOOST_REQUIRE_EQUAL(joins.size(), 1u);
  BOOST_CHECK_EQUAL(joins[0].topic, "room:a");
}

BOOST_AUTO_TEST_CASE(disconnect_drops_a_half_open_link_after_the_close_timeout) {
  auto opts = options();
  opts.close_timeout = 1500ms;
  start(std::move(opts));
  connect_and_open();
  std::vector<uint16_t> closes;
  hooks->on_close.add(hooks->make_ref(),
                      [&](uint16_t code, const std::string&) { closes.push_back(code); });
  caf::anon_send(socket, phx::disconnect_atom::value, uint16_t{1000}, std::string{});
  run();
  advance(1499ms);
  BOOST_CHECK_EQUAL(current()->aborts, 0);
  BOOST_CHECK(sock_state().conn == connection_state::closing);
  advance(1ms);
  BOOST_CHECK_EQUAL(current()->aborts, 1);
  BOOST_CHECK(sock_state().conn == connection_state::closed);
  BOOST_REQUIRE_EQUAL(closes.size(), 1u);
  BOOST_CHECK_EQUAL(closes[0], 1000);
}

BOOST_AUTO_TEST_CASE(connect_during_teardown_leaves_one_connection_and_both_callbacks_fire) {
  start(options());
  connect_and_open();
  int done = 0;
  auto requester = [&](caf::event_based_actor* me) {
    me->request(socket, caf::infinite, phx::disconnect_atom::value, uint16_t{1000},
                std::string{})
      .then([&](phx::connection_state) { ++done; });
  };
  spawn(requester);
  spawn(requester);
  run();
  auto old = transports.back();
  connect();
  BOOST_REQUIRE_EQUAL(transports.size(), 2u);
  open();
  // The old connection's close arrives late: it ends the teardown only.
  report(old->gen, phx::closed_atom::value, old->gen, uint16_t{1000}, std::string{});
  run();
  BOOST_CHECK_EQUAL(done, 2);
  BOOST_CHECK(sock_state().conn == connection_state::open);
  BOOST_CHECK(sock_state().transport != nullptr);
}

BOOST_AUTO_TEST_CASE(the_send_buffer_is_flushed_in_order_on_open) {
  start(options());
  connect();
  auto a = channel("room:a");
  auto b = channel("room:b");
  join(a);
  join(b);
  BOOST_CHECK(current()->frames.empty());
  open();
  auto all = sent();
  BOOST_REQUIRE_EQUAL(all.size(), 2u);
  BOOST_CHECK_EQUAL(all[0].topic, "room:a");
  BOOST_CHECK_EQUAL(all[1].topic, "room:b");
}

BOOST_AUTO_TEST_CASE(the_send_buffer_is_bounded_and_a_refused_frame_fails_clearly) {
  auto opts = options();
  opts.max_send_buffer_frames = 2;
  start(std::move(opts));
  connect();
  std::vector<std::shared_ptr<fixture::chan>> chans;
  for (int i = 0; i < 3; ++i) {
    chans.push_back(channel("room:" + std::to_string(i)));
    join(chans.back());
  }
  // The third join did not fit: it failed at once, not as a server reply.
  BOOST_CHECK_EQUAL(sock_state().send_buffer.size(), 2u);
  BOOST_CHECK_EQUAL(sock_state().stats.buffer_overflows, 1u);
  BOOST_REQUIRE_EQUAL(chans[2]->joins.size(), 1u);
  BOOST_CHECK_EQUAL(chans[2]->joins[0], "failed");
  BOOST_CHECK(logged("send buffer full"));
  BOOST_CHECK(state_of(chans[2]) == phx::channel_state::errored);
}

BOOST_AUTO_TEST_CASE(callbacks_return_refs_and_off_removes_them) {
  start(options());
  int opens = 0, closes = 0;
  auto r1 = hooks->make_ref();
  hooks->on_open.add(r1, [&] { ++opens; });
  auto r2 = hooks->make_ref();
  hooks->on_close.add(r2, [&](uint16_t, const std::string&) { ++closes; });
  BOOST_CHECK_NE(r1, r2);
  connect_and_open();
  close(1006);
  BOOST_CHECK_EQUAL(opens, 1);
  BOOST_CHECK_EQUAL(closes, 1);
  BOOST_CHECK(hooks->on_open.remove(r1));
  BOOST_CHECK(!hooks->on_open.remove(r1));
  advance(1s);
  open();
  BOOST_CHECK_EQUAL(opens, 1);
}

BOOST_AUTO_TEST_CASE(on_message_gets_every_decoded_message) {
  start(options());
  std::vector<message> seen;
  hooks->on_message.add(hooks->make_ref(), [&](const message& m) { seen.push_back(m); });
  connect_and_open();
  receive_text(R"([null,null,"room:x","evt",{"a":1}])");
  BOOST_REQUIRE_EQUAL(seen.size(), 1u);
  BOOST_CHECK_EQUAL(seen[0].topic, "room:x");
  BOOST_CHECK_EQUAL(seen[0].event, "evt");
  BOOST_CHECK(!seen[0].join_ref);
  BOOST_CHECK_EQUAL(seen[0].payload.json()["a"].GetInt(), 1);
}

BOOST_AUTO_TEST_CASE(routes_by_topic_and_drops_stale_join_refs_for_all_events) {
  start(options());
  connect_and_open();
  auto a = channel("room:a");
  auto b = channel("room:b");
  auto jr = join_ok(a);
  join_ok(b);
  receive_text(R"([null,null,"room:a","evt",{"n":1}])");
  receive_text(R"(["999",null,"room:a","evt",{"n":2}])");    // stale push
  receive_text(R"(["999",null,"room:a","shout",{"n":3}])");  // stale, any event
  receive_text("[\"" + jr + "\",null,\"room:a\",\"evt\",{\"n\":4}]");
  std::vector<int> got;
  for (auto& m : a->events)
    got.push_back(m.payload.json()["n"].GetInt());
  std::vector<int> want = {1, 4};
  BOOST_CHECK_EQUAL_COLLECTIONS(got.begin(), got.end(), want.begin(), want.end());
  BOOST_CHECK(b->events.empty());
  BOOST_CHECK_EQUAL(deref<phx::channel_actor_state>(a->hdl).stats.stale_dropped, 2u);
  BOOST_CHECK(logged("dropping outdated message"));
}

BOOST_AUTO_TEST_CASE(a_close_errors_joined_and_joining_channels_only) {
  start(options());
  connect_and_open();
  auto joined = channel("room:joined");
  auto joining = channel("room:joining");
  auto left = channel("room:left");
  auto never = channel("room:never");
  join_ok(joined);
  join(joining);
  join_ok(left);
  caf::anon_send(left->hdl, phx::leave_atom::value, caf::timespan{10s});
  run();
  auto l = last_sent();
  reply(l.join_ref, *l.ref, "room:left", "ok");
  BOOST_REQUIRE(state_of(left) == phx::channel_state::closed);
  close(1006);
  auto errors = [](const std::shared_ptr<fixture::chan>& c) {
    size_t n = 0;
    for (auto& m : c->events)
      if (m.event == "phx_error")
        ++n;
    return n;
  };
  BOOST_CHECK_EQUAL(errors(joined), 1u);
  BOOST_CHECK_EQUAL(errors(joining), 1u);
  BOOST_CHECK_EQUAL(errors(left), 0u);
  BOOST_CHECK_EQUAL(errors(never), 0u);
  auto& p = joined->events.back().payload.json();
  BOOST_CHECK_EQUAL(std::string(p["reason"].GetString()), "connection_closed");
  BOOST_CHECK_EQUAL(std::string(p["source"].GetString()), "transport");
}

BOOST_AUTO_TEST_CASE(a_transport_error_runs_on_error_and_errors_channels) {
  start(options());
  std::vector<std::string> errors;
  hooks->on_error.add(hooks->make_ref(),
                      [&](const std::string& r, int) { errors.push_back(r); });
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  close(1006);
  advance(1s);
  fail("connection refused");
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_CHECK_EQUAL(errors[0], "connection refused");
}

BOOST_AUTO_TEST_CASE(ping_measures_a_round_trip_in_virtual_time) {
  start(options());
  connect_and_open();
  caf::timespan rtt{0};
  bool refused = false;
  spawn([&](caf::event_based_actor* me) {
    me->request(socket, caf::infinite, phx::ping_atom::value)
      .then([&](caf::timespan t) { rtt = t; }, [&](caf::error&) { refused = true; });
  });
  run();
  auto hb = last_sent();
  BOOST_CHECK_EQUAL(hb.event, "heartbeat");
  advance(42ms);
  reply(std::nullopt, *hb.ref, "phoenix", "ok");
  BOOST_CHECK(!refused);
  BOOST_CHECK(rtt == std::chrono::milliseconds{42});
}

BOOST_AUTO_TEST_CASE(ping_is_refused_when_not_connected) {
  start(options());
  caf::error err;
  spawn([&](caf::event_based_actor* me) {
    me->request(socket, caf::infinite, phx::ping_atom::value)
      .then([](caf::timespan) {}, [&](caf::error& e) { err = e; });
  });
  run();
  BOOST_CHECK(err == phx::ec::not_connected);
}

BOOST_AUTO_TEST_CASE(binary_payloads_go_as_binary_frames_and_come_back_as_bytes) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  auto jr = join_ok(c);
  auto h = push(c, "bin", payload::binary(std::string("\x00\x01\xff", 3)));
  auto& f = current()->frames.back();
  BOOST_CHECK(f.type == phx::protocol::frame_type::binary);
  auto m = last_sent();
  BOOST_CHECK_EQUAL(m.payload.binary_view(), std::string("\x00\x01\xff", 3));
  reply(jr, *m.ref, "room:a", "ok", payload::binary("back"));
  auto out = h->outcome();
  BOOST_REQUIRE(out);
  BOOST_CHECK_EQUAL(out->status, "ok");
  BOOST_CHECK(out->response.is_binary());
  BOOST_CHECK_EQUAL(out->response.binary_view(), "back");
}

BOOST_AUTO_TEST_CASE(an_undecodable_frame_is_reported_once_and_the_rest_still_flows) {
  start(options());
  std::vector<std::string> errors;
  hooks->on_error.add(hooks->make_ref(),
                      [&](const std::string& r, int) { errors.push_back(r); });
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  receive_text("not json");
  receive_text(R"(["1",null,"room:a"])");
  receive_text(R"([null,null,"room:a","evt",{"n":1}])");
  BOOST_CHECK_EQUAL(errors.size(), 2u);
  BOOST_CHECK_EQUAL(sock_state().stats.decode_errors, 2u);
  BOOST_CHECK_EQUAL(c->events.size(), 1u);
  BOOST_CHECK(sock_state().conn == connection_state::open);
}

BOOST_AUTO_TEST_CASE(remove_stops_routing_to_that_channel_only) {
  start(options());
  connect_and_open();
  auto a1 = channel("room:a");
  auto a2 = channel("room:a");
  caf::anon_send(socket, phx::remove_atom::value, a1->hdl);
  run();
  receive_text(R"([null,null,"room:a","evt",{}])");
  BOOST_CHECK(a1->events.empty());
  BOOST_CHECK_EQUAL(a2->events.size(), 1u);
  BOOST_CHECK_EQUAL(sock_state().stats.channels, 1u);
}

BOOST_AUTO_TEST_CASE(a_crashing_channel_takes_down_neither_socket_nor_others) {
  start(options());
  connect_and_open();
  auto a = channel("room:a");
  auto b = channel("room:b");
  join_ok(b);
  caf::anon_send_exit(a->hdl, caf::exit_reason::kill);
  run();
  receive_text(R"([null,null,"room:b","evt",{}])");
  BOOST_CHECK_EQUAL(b->events.size(), 1u);
  BOOST_CHECK(sock_state().conn == connection_state::open);
  // The supervisor routed a new room:a in the dead one's place.
  BOOST_CHECK_EQUAL(sock_state().stats.channels, 2u);
  BOOST_CHECK(sock_state().routes.at("room:a").front() != a->hdl);
}

BOOST_AUTO_TEST_CASE(a_custom_serializer_replaces_the_built_in_one_both_ways) {
  // The custom wire format wraps V2 text in "<" and ">": the built-in
  // serializer can neither produce nor read it.
  auto v2 = std::make_shared<phx::protocol::v2_serializer>(phx::protocol::role::client);
  phx::protocol::encode_fn enc = [v2](const message& m) {
    auto f = v2->encode(m);
    if (f)
      f->data = "<" + f->data + ">";
    return f;
  };
  phx::protocol::decode_fn dec = [v2](phx::protocol::frame_type t, std::string&& d)
    -> phx::protocol::result<message> {
    if (d.size() < 2 || d.front() != '<' || d.back() != '>')
      return phx::protocol::error{phx::protocol::errc::wrong_shape, "not wrapped"};
    return v2->decode(t, d.substr(1, d.size() - 2));
  };
  auto opts = options();
  opts.serializer = std::make_shared<phx::protocol::custom_serializer>(v2, enc, dec);
  start(std::move(opts));
  connect_and_open();
  // A custom encoder may not check UTF-8: the transport is asked to.
  BOOST_CHECK(current()->req.validate_outbound_utf8);
  auto c = channel("room:a");
  join(c);
  BOOST_REQUIRE_EQUAL(current()->frames.size(), 1u);
  auto out = current()->frames.back().data;
  BOOST_REQUIRE(out.size() > 2 && out.front() == '<' && out.back() == '>');
  auto j = server.decode(phx::protocol::frame_type::text,
                         std::string_view{out}.substr(1, out.size() - 2));
  BOOST_REQUIRE(j);
  BOOST_CHECK_EQUAL(j->event, "phx_join");
  auto r = server.encode(message::reply(j->join_ref, *j->ref, "room:a", "ok", payload{}));
  BOOST_REQUIRE(r);
  // A built-in frame is refused by the custom decoder ...
  receive_text(r->data);
  BOOST_CHECK_EQUAL(sock_state().stats.decode_errors, 1u);
  BOOST_CHECK(state_of(c) == phx::channel_state::joining);
  // ... and the custom one gets through.
  receive_text("<" + r->data + ">");
  BOOST_CHECK(state_of(c) == phx::channel_state::joined);
  BOOST_CHECK_EQUAL(sock_state().stats.decode_errors, 1u);
}

BOOST_AUTO_TEST_CASE(a_transport_error_sends_connection_error_to_joining_and_joined_channels) {
  start(options());
  std::vector<std::string> errors;
  hooks->on_error.add(hooks->make_ref(),
                      [&](const std::string& r, int) { errors.push_back(r); });
  connect_and_open();
  auto joined = channel("room:joined");
  auto joining = channel("room:joining");
  join_ok(joined);
  join(joining);
  fail("connection reset by peer");
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_CHECK_EQUAL(errors[0], "connection reset by peer");
  for (auto& c : {joined, joining}) {
    BOOST_REQUIRE_EQUAL(c->events.size(), 1u);
    BOOST_CHECK_EQUAL(c->events[0].event, "phx_error");
    auto& p = c->events[0].payload.json();
    BOOST_CHECK_EQUAL(std::string(p["reason"].GetString()), "connection_error");
    BOOST_CHECK_EQUAL(std::string(p["source"].GetString()), "transport");
    BOOST_CHECK(state_of(c) == phx::channel_state::errored);
  }
}

BOOST_AUTO_TEST_CASE(the_send_buffer_is_bounded_in_bytes_and_a_refused_join_fails_with_send_buffer_full) {
  auto opts = options();
  // Each join frame, e.g. ["1","1","room:0","phx_join",{}], is 32 bytes: two fit, not three.
  opts.max_send_buffer_bytes = 70;
  start(std::move(opts));
  connect();
  auto a = channel("room:0");
  auto b = channel("room:1");
  join(a);
  join(b);
  BOOST_REQUIRE_EQUAL(sock_state().send_buffer.size(), 2u);
  size_t bytes = 0;
  for (auto& f : sock_state().send_buffer)
    bytes += f.frame.data.size();
  BOOST_CHECK_EQUAL(sock_state().buffered_bytes, bytes);
  BOOST_CHECK_EQUAL(bytes, 64u);
  auto c = channel("room:2");
  caf::error err;
  bool replied = false;
  spawn([&](caf::event_based_actor* me) {
    me->request(c->hdl, caf::infinite, phx::join_atom::value, caf::timespan{10s})
      .then([&](phx::reply&) { replied = true; }, [&](caf::error& e) { err = e; });
  });
  run();
  // Refused by bytes (far below the frame bound), at once, with its own error.
  BOOST_CHECK(!replied);
  BOOST_CHECK(err == phx::ec::send_buffer_full);
  BOOST_CHECK_EQUAL(sock_state().send_buffer.size(), 2u);
  BOOST_CHECK_EQUAL(sock_state().buffered_bytes, 64u);
  BOOST_CHECK_EQUAL(sock_state().stats.buffer_overflows, 1u);
  BOOST_REQUIRE_EQUAL(c->joins.size(), 1u);
  BOOST_CHECK_EQUAL(c->joins[0], "failed");
}

BOOST_AUTO_TEST_CASE(a_push_refused_by_the_send_buffer_fails_with_send_buffer_full) {
  auto opts = options();
  opts.max_send_buffer_bytes = 100;
  start(std::move(opts));
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  // The channel sends the push while it still sees the connection open; the
  // socket handles the close first, so the frame must wait in the send
  // buffer, and it is larger than the buffer's byte bound.
  auto h = std::make_shared<phx::push_hooks>(hooks->gate);
  auto big = "{\"data\":\"" + std::string(200, 'x') + "\"}";
  caf::anon_send(c->hdl, phx::push_atom::value, std::string{"big"}, json(big.c_str()),
                 caf::timespan{10s}, guard(h));
  report(current()->gen, phx::closed_atom::value, current()->gen, uint16_t{1006},
                 std::string{});
  run();
  BOOST_REQUIRE(h->outcome());
  BOOST_CHECK_EQUAL(h->outcome()->status, "failed");
  BOOST_CHECK(h->outcome()->error == phx::ec::send_buffer_full);
  BOOST_CHECK(sock_state().send_buffer.empty());
  BOOST_CHECK_EQUAL(sock_state().stats.buffer_overflows, 1u);
  BOOST_CHECK(deref<phx::channel_actor_state>(c->hdl).pushes.empty());
}

BOOST_AUTO_TEST_CASE(disconnect_cancels_an_armed_reconnect_timer) {
  start(options());
  connect_and_open();
  close(1006); // the reconnect is due in 1 s
  advance(500ms);
  std::optional<connection_state> done;
  spawn([&](caf::event_based_actor* me) {
    me->request(socket, caf::infinite, phx::disconnect_atom::value, uint16_t{1000},
                std::string{})
      .then([&](connection_state s) { done = s; });
  });
  run();
  BOOST_REQUIRE(done);
  BOOST_CHECK(*done == connection_state::closed);
  for (int i = 0; i < 70; ++i)
    advance(1s);
  BOOST_CHECK_EQUAL(transports.size(), 1u);
  BOOST_CHECK(sock_state().conn == connection_state::closed);
}

BOOST_AUTO_TEST_CASE(the_facade_disconnect_closes_with_code_1000_by_default) {
  // The actor API takes the code explicitly; phx::socket::disconnect() has the default.
  phx::socket::options o;
  o.logger = [](phx::log_level, std::string_view, std::string_view) {};
  phx::socket s{sys, "ws://localhost:4000/socket", o};
  // No network in unit tests: give its SOCKET actor a fake connection.
  auto log = std::make_shared<transport_log>();
  auto t = sys.spawn(fake_transport, log);
  transport_handles.push_back(t);
  deref<phx::socket_state>(s.actor()).transport = t;
  s.disconnect();
  run();
  BOOST_CHECK_EQUAL(log->closes, 1);
  BOOST_CHECK_EQUAL(log->close_code, 1000);
}

BOOST_AUTO_TEST_CASE(a_heartbeat_timeout_errors_a_joining_channel_too) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join(c, 120s); // still joining when the heartbeat times out
  advance(30s);
  advance(30s);
  BOOST_CHECK_EQUAL(current()->aborts, 1);
  BOOST_REQUIRE_EQUAL(c->events.size(), 1u);
  BOOST_CHECK_EQUAL(c->events[0].event, "phx_error");
  BOOST_CHECK_EQUAL(std::string(c->events[0].payload.json()["reason"].GetString()),
                    "heartbeat_timeout");
  BOOST_CHECK(state_of(c) == phx::channel_state::errored);
}

BOOST_AUTO_TEST_CASE(drops_stale_join_refs_for_phx_error_phx_close_and_phx_reply_too) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  auto jr = join_ok(c);
  auto h = push(c, "echo");
  auto ref = *last_sent().ref;
  receive_text(R"(["999","999","room:a","phx_error",{"reason":"stale"}])");
  receive_text(R"(["999","999","room:a","phx_close",{}])");
  reply(std::string{"999"}, ref, "room:a", "ok");
  BOOST_CHECK(state_of(c) == phx::channel_state::joined);
  BOOST_CHECK(c->events.empty());
  BOOST_CHECK(!h->outcome());
  BOOST_CHECK_EQUAL(deref<phx::channel_actor_state>(c->hdl).stats.stale_dropped, 3u);
  // The same reply with the current join_ref resolves the push.
  reply(jr, ref, "room:a", "ok");
  BOOST_REQUIRE(h->outcome());
  BOOST_CHECK_EQUAL(h->outcome()->status, "ok");
}

// The second connection opened: rejoin, push, and check that every ref sent
// on both connections is greater than the one before.
template <class Channel>
void rejoin_push_and_check_refs(fixture& f, const Channel& c) {
  f.open();
  auto j = f.last_sent();
  BOOST_REQUIRE_EQUAL(j.event, "phx_join");
  f.reply(j.join_ref, *j.ref, "room:a", "ok");
  f.push(c, "echo");
  std::vector<uint64_t> refs;
  for (size_t i = 0; i < f.transports.size(); ++i)
    for (auto& m : f.sent(i))
      refs.push_back(std::stoull(*m.ref));
  BOOST_REQUIRE_EQUAL(refs.size(), 4u);
  for (size_t i = 1; i < refs.size(); ++i)
    BOOST_CHECK_MESSAGE(refs[i] > refs[i - 1], "ref " << refs[i] << " after " << refs[i - 1]);
}

BOOST_AUTO_TEST_CASE(refs_are_never_reused_across_a_reconnect) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  push(c, "echo");
  close(1006);
  advance(1s);
  BOOST_REQUIRE_EQUAL(transports.size(), 2u);
  rejoin_push_and_check_refs(*this, c);
}

BOOST_AUTO_TEST_CASE(refs_are_never_reused_across_disconnect_and_connect) {
  start(options());
  connect_and_open();
  auto c = channel("room:a");
  join_ok(c);
  push(c, "echo");
  caf::anon_send(socket, phx::disconnect_atom::value, uint16_t{1000}, std::string{});
  run();
  close(1000);
  connect();
  BOOST_REQUIRE_EQUAL(transports.size(), 2u);
  rejoin_push_and_check_refs(*this, c);
}

BOOST_AUTO_TEST_CASE(tune_scheduler_gives_one_worker_unless_asked_for_more) {
  caf::actor_system_config cfg;
  phx::tune_scheduler(cfg);
  BOOST_CHECK_EQUAL(caf::get_or(cfg, "scheduler.max-threads", size_t{0}), 1u);
  phx::tune_scheduler(cfg, 0);
  BOOST_CHECK_EQUAL(caf::get_or(cfg, "scheduler.max-threads", size_t{0}), 1u);
  phx::tune_scheduler(cfg, 3);
  BOOST_CHECK_EQUAL(caf::get_or(cfg, "scheduler.max-threads", size_t{0}), 3u);
  // The setting reaches the scheduler: a system made from it has that many workers.
  phx::tune_scheduler(cfg);
  caf::actor_system sys{cfg};
  BOOST_CHECK_EQUAL(sys.scheduler().num_workers(), 1u);
}

BOOST_AUTO_TEST_CASE(tune_scheduler_lets_a_lone_worker_block_instead_of_polling) {
  constexpr auto key = "work-stealing.moderate-poll-attempts";
  caf::actor_system_config one;
  phx::tune_scheduler(one);
  BOOST_CHECK_EQUAL(caf::get_or(one, key, size_t{500}), 0u);
  // Several workers keep CAF's moderate polling: idle workers steal work.
  caf::actor_system_config three;
  phx::tune_scheduler(three, 3);
  BOOST_CHECK(!caf::get_if<size_t>(&three, key));
}

BOOST_AUTO_TEST_SUITE_END()
