// The TRANSPORT against a real WebSocket server on 127.0.0.1: reports and
// their order, close codes, failures, abort, owner death, queued frames.
#include "fixture.hpp"

#include <iostream>
#include <sstream>

#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

using namespace phx_test;

namespace {

frame text(std::string s) {
  return frame{frame_type::text, std::move(s)};
}

frame binary(std::string s) {
  return frame{frame_type::binary, std::move(s)};
}


} // namespace

BOOST_FIXTURE_TEST_SUITE(transport, transport_fixture)

BOOST_AUTO_TEST_CASE(opens_then_round_trips_text_and_binary_frames_in_order) {
  raw_server srv{options([](auto& o) { o.echo = true; })};
  auto t = spawn(7, request(srv.url()));
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::opened, r);
  BOOST_TEST(r.gen == 7u);
  std::string bytes{"\x00\x01\xfe\xff", 4};
  send(t, tr::frame_atom::value, text("one"));
  send(t, tr::frame_atom::value, binary(bytes));
  send(t, tr::frame_atom::value,
             std::vector<frame>{text("three"), binary("four"), text("fünf")});
  std::vector<frame> expected{text("one"), binary(bytes), text("three"),
                              binary("four"), text("fünf")};
  for (auto& want : expected) {
    auto got = next();
    BOOST_TEST_REQUIRE(got.kind == report::data, got);
    BOOST_TEST(got.gen == 7u);
    BOOST_TEST((got.f.type == want.type));
    BOOST_TEST(got.f.data == want.data);
  }
  // The server saw them in the same order, with the same opcodes.
  for (auto& want : expected) {
    auto m = srv.wait_message(max_wait);
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST(m->binary == (want.type == frame_type::binary));
    BOOST_TEST(m->data == want.data);
  }
  // A large frame crosses several reads of the 4 KiB read buffer intact.
  std::string big(300 * 1024, 'x');
  for (size_t i = 0; i < big.size(); i += 4099)
    big[i] = static_cast<char>('a' + i % 26);
  send(t, tr::frame_atom::value, text(big));
  // A wider bound than max_wait: this echo once took over 10 s under TSan on a loaded machine.
  auto got = next(std::chrono::seconds{60});
  BOOST_TEST_REQUIRE(got.kind == report::data, got);
  BOOST_TEST((got.f.data == big));
}

BOOST_AUTO_TEST_CASE(sends_extra_headers_and_the_subprotocol_header_verbatim) {
  raw_server srv{options([](auto& o) { o.echo_first_subprotocol = true; })};
  auto req = request(srv.url("/socket/websocket?vsn=2.0.0"));
  req.headers = {{"X-Api-Key", "k3y/with+plus=="}, {"X-Trace", "abc"}};
  // Standard base64 carries '+' and '/', which add_subprotocol() would reject.
  req.subprotocols = "phoenix, base64url.bearer.phx.dG9r+/w";
  spawn(1, req);
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::opened, r);
  auto up = srv.wait_request(max_wait);
  BOOST_TEST_REQUIRE(up.has_value());
  BOOST_TEST(up->resource == "/socket/websocket?vsn=2.0.0");
  BOOST_TEST(up->header("X-Api-Key") == "k3y/with+plus==");
  BOOST_TEST(up->header("X-Trace") == "abc");
  BOOST_TEST(up->header("Sec-WebSocket-Protocol")
             == "phoenix, base64url.bearer.phx.dG9r+/w");
}

BOOST_AUTO_TEST_CASE(client_close_reports_code_and_reason_once_then_quits) {
  raw_server srv{options([](auto& o) { o.echo = true; })};
  auto t = spawn(3, request(srv.url()));
  self->monitor(t);
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  auto id = srv.wait_open(max_wait);
  BOOST_TEST_REQUIRE(id.has_value());
  send(t, tr::close_atom::value, uint16_t{4001}, std::string{"bye now"});
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::closed, r);
  BOOST_TEST(r.gen == 3u);
  BOOST_TEST(r.code == 4001);
  BOOST_TEST(r.reason == "bye now");
  BOOST_TEST(wait_down(t.address()));
  auto rec = srv.wait_closed(*id, max_wait);
  BOOST_TEST_REQUIRE(rec.has_value());
  BOOST_TEST(rec->close_frame);
  BOOST_TEST(rec->code == 4001);
  BOOST_TEST(rec->reason == "bye now");
  auto extra = next(300ms);
  BOOST_TEST(extra.kind == report::timeout, "a second report: " << extra);
  BOOST_TEST(wait_no_connections());
}

BOOST_AUTO_TEST_CASE(server_close_reports_the_server_code_and_reason) {
  raw_server srv;
  auto t = spawn(4, request(srv.url()));
  self->monitor(t);
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  auto id = srv.wait_open(max_wait);
  BOOST_TEST_REQUIRE(id.has_value());
  srv.close(*id, 4002, "server says bye");
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::closed, r);
  BOOST_TEST(r.gen == 4u);
  BOOST_TEST(r.code == 4002);
  BOOST_TEST(r.reason == "server says bye");
  BOOST_TEST(wait_down(t.address()));
  BOOST_TEST(next(300ms).kind == report::timeout);
}

BOOST_AUTO_TEST_CASE(link_cut_without_close_frame_reports_1006) {
  raw_server srv;
  auto t = spawn(5, request(srv.url()));
  self->monitor(t);
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  auto id = srv.wait_open(max_wait);
  BOOST_TEST_REQUIRE(id.has_value());
  srv.cut(*id);
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::closed, r);
  BOOST_TEST(r.gen == 5u);
  BOOST_TEST(r.code == 1006);
  BOOST_TEST(!r.reason.empty());
  BOOST_TEST(wait_down(t.address()));
  BOOST_TEST(wait_no_connections());
}

BOOST_AUTO_TEST_CASE(refused_upgrade_fails_with_the_http_status) {
  raw_server srv{options([](auto& o) { o.refuse_status = 403; })};
  auto t = spawn(6, request(srv.url()));
  self->monitor(t);
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::failed, r);
  BOOST_TEST(r.gen == 6u);
  BOOST_TEST(r.failure.http_status == 403);
  BOOST_TEST(r.failure.reason == "upgrade refused with HTTP 403");
  BOOST_TEST(wait_down(t.address()));
  BOOST_TEST(wait_no_connections());
}

BOOST_AUTO_TEST_CASE(connection_refused_fails_with_a_clear_reason) {
  auto port = closed_port();
  auto t = spawn(8, request("ws://127.0.0.1:" + std::to_string(port) + "/socket/websocket"));
  self->monitor(t);
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::failed, r);
  BOOST_TEST(r.gen == 8u);
  BOOST_TEST(r.failure.reason == "connection refused");
  BOOST_TEST(r.failure.http_status == 0);
  BOOST_TEST(wait_down(t.address()));
  BOOST_TEST(wait_no_connections());
}

BOOST_AUTO_TEST_CASE(unanswered_upgrade_fails_after_the_open_timeout) {
  // Listening but never accepting: TCP connects, the upgrade gets no answer.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acc{ioc, {boost::asio::ip::address_v4::loopback(), 0}};
  auto req = request("ws://127.0.0.1:" + std::to_string(acc.local_endpoint().port())
                     + "/socket/websocket");
  req.open_timeout_ms = 300;
  auto start = std::chrono::steady_clock::now();
  auto t = spawn(23, req);
  self->monitor(t);
  auto r = next();
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_REQUIRE(r.kind == report::failed, r);
  BOOST_TEST(r.gen == 23u);
  BOOST_TEST(r.failure.reason == "open handshake timed out");
  BOOST_TEST(took >= 250);
  BOOST_TEST(took < 3000);
  BOOST_TEST(wait_down(t.address()));
  BOOST_TEST(wait_no_connections());
}

BOOST_AUTO_TEST_CASE(an_attempt_ended_during_the_tcp_connect_frees_its_connection_at_once) {
  // A full accept queue (backlog 0, one connection waiting) leaves the next
  // TCP connect pending: the SYN goes unanswered, as with a black hole.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acc{ioc};
  boost::asio::ip::tcp::endpoint at{boost::asio::ip::address_v4::loopback(), 0};
  acc.open(at.protocol());
  acc.bind(at);
  acc.listen(0);
  boost::asio::ip::tcp::socket filler{ioc};
  filler.connect(acc.local_endpoint());
  auto url = "ws://127.0.0.1:" + std::to_string(acc.local_endpoint().port()) + "/socket/websocket";
  for (auto how : {"open timeout", "close", "abort"}) {
    BOOST_TEST_CONTEXT(how) {
      auto req = request(url);
      req.open_timeout_ms = std::string{how} == "open timeout" ? 200 : 5000;
      auto t = spawn(24, req);
      self->monitor(t);
      if (std::string{how} == "close")
        send(t, tr::close_atom::value, uint16_t{1000}, std::string{});
      else if (std::string{how} == "abort")
        send(t, tr::abort_atom::value);
      auto r = next();
      BOOST_TEST_REQUIRE(r.kind == report::failed, r);
      BOOST_TEST(wait_down(t.address()));
      // websocketpp keeps the abandoned attempt until its 30 s connect timer
      // fires; the transport's own state must not wait for that.
      BOOST_TEST(wait_no_connections(2s));
    }
  }
}

BOOST_AUTO_TEST_CASE(invalid_requests_fail_without_crashing) {
  spawn(9, request("ws://"));
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::failed, r);
  BOOST_TEST(r.failure.reason == "invalid URL");
  auto req = request("ws://127.0.0.1:1/x");
  req.headers = {{"X-Evil", "a\r\nInjected: yes"}};
  spawn(10, req);
  r = next();
  BOOST_TEST_REQUIRE(r.kind == report::failed, r);
  BOOST_TEST(r.gen == 10u);
  BOOST_TEST(r.failure.reason == "invalid value of header X-Evil");
  spawn(11, request("ftp://127.0.0.1:1/x"));
  r = next();
  BOOST_TEST_REQUIRE(r.kind == report::failed, r);
  BOOST_TEST(r.gen == 11u);
  req = request("ws://127.0.0.1:1/x");
  req.headers = {{"Bad Name", "x"}};
  spawn(12, req);
  r = next();
  BOOST_TEST_REQUIRE(r.kind == report::failed, r);
  BOOST_TEST(r.failure.reason == "invalid header name");
  BOOST_TEST(wait_no_connections());
}

BOOST_AUTO_TEST_CASE(oversized_inbound_frame_closes_with_1009) {
  raw_server srv;
  auto req = request(srv.url());
  req.max_frame_size = 1024;
  auto t = spawn(12, req);
  self->monitor(t);
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  auto id = srv.wait_open(max_wait);
  BOOST_TEST_REQUIRE(id.has_value());
  srv.send_binary(*id, std::string(1024, 'a')); // at the limit: delivered
  srv.send_binary(*id, std::string(1025, 'b'));
  auto ok = next();
  BOOST_TEST_REQUIRE(ok.kind == report::data, ok);
  BOOST_TEST(ok.f.data.size() == 1024u);
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::closed, r);
  BOOST_TEST(r.gen == 12u);
  BOOST_TEST(r.code == 1009);
  auto rec = srv.wait_closed(*id, max_wait);
  BOOST_TEST_REQUIRE(rec.has_value());
  BOOST_TEST(rec->close_frame);
  BOOST_TEST(rec->code == 1009);
  BOOST_TEST(wait_down(t.address()));
}

BOOST_AUTO_TEST_CASE(a_64_mib_frame_is_refused_with_1009_from_its_header) {
  raw_server srv;
  spawn(24, request(srv.url())); // default limit: 16 MiB
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  auto id = srv.wait_open(max_wait);
  BOOST_TEST_REQUIRE(id.has_value());
  srv.send_binary(*id, std::string(64u << 20, 'x'));
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::closed, r);
  BOOST_TEST(r.code == 1009);
}

BOOST_AUTO_TEST_CASE(invalid_utf8_in_a_text_frame_closes_with_1007) {
  raw_server srv;
  spawn(25, request(srv.url()));
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  auto id = srv.wait_open(max_wait);
  BOOST_TEST_REQUIRE(id.has_value());
  srv.send_raw(*id, raw_server::encode_frame(1, "ok"));
  srv.send_raw(*id, raw_server::encode_frame(1, std::string{"\xc3\x28\xff", 3}));
  auto ok = next();
  BOOST_TEST_REQUIRE(ok.kind == report::data, ok);
  BOOST_TEST(ok.f.data == "ok");
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::closed, r);
  BOOST_TEST(r.gen == 25u);
  BOOST_TEST(r.code == 1007);
}

BOOST_AUTO_TEST_CASE(outbound_text_with_invalid_utf8_is_dropped_and_logged) {
  raw_server srv{options([](auto& o) { o.echo = true; })};
  log_capture logs;
  auto t = spawn(26, request(srv.url()), logs.sink());
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  send(t, tr::frame_atom::value, text(std::string{"\xff", 1}));
  send(t, tr::frame_atom::value, text("valid"));
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::data, r);
  BOOST_TEST(r.f.data == "valid");
  BOOST_TEST(logs.contains("invalid UTF-8", phx::protocol::log_level::warning));
}

BOOST_AUTO_TEST_CASE(abort_drops_a_half_open_link_at_once) {
  raw_server srv{options([](auto& o) { o.pause_reading_on_open = true; })};
  auto req = request(srv.url());
  req.close_timeout_ms = 5000;
  auto t = spawn(13, req);
  self->monitor(t);
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  auto id = srv.wait_open(max_wait);
  BOOST_TEST_REQUIRE(id.has_value());
  auto start = std::chrono::steady_clock::now();
  send(t, tr::abort_atom::value);
  auto r = next();
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_REQUIRE(r.kind == report::closed, r);
  BOOST_TEST(r.gen == 13u);
  BOOST_TEST(r.code == 1006);
  BOOST_TEST(r.reason == "aborted");
  // A close handshake would have waited close_timeout_ms (5 s).
  BOOST_TEST(took < 1000);
  BOOST_TEST(wait_down(t.address()));
  // The server, reading again, finds the link gone without a close frame.
  srv.resume_reading(*id);
  auto rec = srv.wait_closed(*id, max_wait);
  BOOST_TEST_REQUIRE(rec.has_value());
  BOOST_TEST(!rec->close_frame);
  BOOST_TEST(wait_no_connections());
}

BOOST_AUTO_TEST_CASE(close_on_a_half_open_link_gives_up_after_the_close_timeout) {
  raw_server srv{options([](auto& o) { o.pause_reading_on_open = true; })};
  auto req = request(srv.url());
  req.close_timeout_ms = 300;
  auto t = spawn(14, req);
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  auto start = std::chrono::steady_clock::now();
  send(t, tr::close_atom::value, uint16_t{1000}, std::string{});
  auto r = next();
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - start).count();
  BOOST_TEST_REQUIRE(r.kind == report::closed, r);
  BOOST_TEST(r.code == 1006);
  BOOST_TEST(r.reason.find("close handshake timed out") != std::string::npos, r.reason);
  BOOST_TEST(took >= 250);
  BOOST_TEST(took < 3000);
}

BOOST_AUTO_TEST_CASE(frames_sent_before_open_go_out_after_open_in_order) {
  raw_server srv{options([](auto& o) { o.echo = true; })};
  auto t = spawn(15, request(srv.url()));
  // Sent right away: the connection is still being set up.
  send(t, tr::frame_atom::value, text("1"));
  send(t, tr::frame_atom::value, std::vector<frame>{binary("2"), text("3")});
  send(t, tr::frame_atom::value, text("4"));
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::opened, "opened must come first: " << r);
  for (auto want : {"1", "2", "3", "4"}) {
    auto m = srv.wait_message(max_wait);
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST(m->data == want);
    auto echo = next();
    BOOST_TEST_REQUIRE(echo.kind == report::data, echo);
    BOOST_TEST(echo.f.data == want);
    BOOST_TEST(echo.gen == 15u);
  }
}

BOOST_AUTO_TEST_CASE(close_before_open_fails_the_attempt_once) {
  raw_server srv;
  auto t = spawn(16, request(srv.url()));
  self->monitor(t);
  send(t, tr::close_atom::value, uint16_t{1000}, std::string{"never mind"});
  auto r = next();
  // The connection may have opened before the close arrived on the io thread.
  if (r.kind == report::opened) {
    r = next();
    BOOST_TEST_REQUIRE(r.kind == report::closed, r);
  } else {
    BOOST_TEST_REQUIRE(r.kind == report::failed, r);
    BOOST_TEST(r.failure.reason == "closed by the client before the connection opened");
  }
  BOOST_TEST(r.gen == 16u);
  BOOST_TEST(wait_down(t.address()));
  BOOST_TEST(next(300ms).kind == report::timeout);
  BOOST_TEST(wait_no_connections());
}

BOOST_AUTO_TEST_CASE(every_report_carries_its_generation) {
  raw_server srv{options([](auto& o) { o.echo = true; })};
  auto a = spawn(100, request(srv.url()));
  auto b = spawn(200, request(srv.url()));
  int opened = 0;
  for (int i = 0; i < 2; ++i) {
    auto r = next();
    BOOST_TEST_REQUIRE(r.kind == report::opened, r);
    BOOST_TEST((r.gen == 100u || r.gen == 200u));
    ++opened;
  }
  send(a, tr::frame_atom::value, text("for a"));
  send(b, tr::frame_atom::value, text("for b"));
  for (int i = 0; i < 2; ++i) {
    auto r = next();
    BOOST_TEST_REQUIRE(r.kind == report::data, r);
    BOOST_TEST(r.f.data == (r.gen == 100u ? "for a" : "for b"));
  }
  send(a, tr::abort_atom::value);
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::closed, r);
  BOOST_TEST(r.gen == 100u);
  send(b, tr::close_atom::value, uint16_t{1000}, std::string{});
  r = next();
  BOOST_TEST_REQUIRE(r.kind == report::closed, r);
  BOOST_TEST(r.gen == 200u);
  BOOST_TEST(opened == 2);
}

BOOST_AUTO_TEST_CASE(a_dead_listener_is_tolerated_and_ends_the_connection) {
  // The server floods frames; the listener dies in the middle.
  raw_server srv{options([](auto& o) {
    o.on_open = [](raw_server& s, conn_id id) {
      for (int i = 0; i < 2000; ++i)
        s.send_text(id, "flood " + std::to_string(i));
    };
  })};
  auto counter = std::make_shared<std::atomic<int>>(0);
  // Spawn arguments instead of captures: CAF 0.17 binds a null argument
  // tuple for argument-less functions (UBSan flags it).
  auto dead = sys.spawn([](tr::listener_actor::pointer,
                           std::shared_ptr<std::atomic<int>> counter)
                          -> tr::listener_actor::behavior_type {
    return {
      [](tr::opened_atom, tr::generation, tr::transport_kind) {},
      [counter](tr::frame_atom, tr::generation, std::vector<frame>& fs, tr::flow_ticket&) {
        *counter += static_cast<int>(fs.size());
      },
      [](tr::closed_atom, tr::generation, uint16_t, std::string&) {},
      [](tr::failed_atom, tr::generation, tr::connect_failure&) {},
    };
  }, counter);
  auto t = spawn_for(dead, 17, request(srv.url()));
  self->monitor(t);
  auto id = srv.wait_open(max_wait);
  BOOST_TEST_REQUIRE(id.has_value());
  // Dies while frames are still arriving.
  auto deadline = std::chrono::steady_clock::now() + max_wait;
  while (counter->load() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  BOOST_TEST_REQUIRE(counter->load() > 0);
  caf::anon_send_exit(dead, caf::exit_reason::user_shutdown);
  BOOST_TEST(wait_down(t.address()));
  auto rec = srv.wait_closed(*id, max_wait);
  BOOST_TEST_REQUIRE(rec.has_value());
  BOOST_TEST(!rec->close_frame);
  BOOST_TEST(wait_no_connections());
  BOOST_TEST_MESSAGE("frames the listener got before it died: " << counter->load());
}

BOOST_AUTO_TEST_CASE(a_transport_whose_owner_quits_drops_its_connection) {
  raw_server srv;
  auto listener_hdl = listener();
  auto url = srv.url();
  // The owner (the SOCKET's role) links the transport and then quits
  // normally, which CAF alone would not propagate.
  auto owner = sys.spawn([](caf::event_based_actor* o, tr::listener_actor l,
                            std::string u) -> caf::behavior {
    auto t = tr::spawn_transport(o->system(), l, 18, request(u));
    o->link_to(t);
    return {[o](caf::ok_atom) { o->quit(); }};
  }, listener_hdl, url);
  auto opened = next();
  BOOST_TEST_REQUIRE(opened.kind == report::opened, opened);
  auto id = srv.wait_open(max_wait);
  BOOST_TEST_REQUIRE(id.has_value());
  self->send(owner, caf::ok_atom::value);
  auto rec = srv.wait_closed(*id, max_wait);
  BOOST_TEST_REQUIRE(rec.has_value());
  BOOST_TEST(!rec->close_frame);
  // The listener (still alive) got the one terminal report.
  auto r = next();
  BOOST_TEST_REQUIRE(r.kind == report::closed, r);
  BOOST_TEST(r.gen == 18u);
  BOOST_TEST(r.code == 1006);
  BOOST_TEST(wait_no_connections());
}

BOOST_AUTO_TEST_CASE(a_killed_transport_drops_its_connection) {
  raw_server srv;
  auto t = spawn(19, request(srv.url()));
  self->monitor(t);
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  auto id = srv.wait_open(max_wait);
  BOOST_TEST_REQUIRE(id.has_value());
  caf::anon_send_exit(t, caf::exit_reason::kill);
  BOOST_TEST(wait_down(t.address()));
  auto rec = srv.wait_closed(*id, max_wait);
  BOOST_TEST_REQUIRE(rec.has_value());
  BOOST_TEST(!rec->close_frame);
  BOOST_TEST(wait_no_connections());
}

BOOST_AUTO_TEST_CASE(frames_after_the_end_are_dropped_without_harm) {
  raw_server srv;
  auto t = spawn(20, request(srv.url()));
  BOOST_TEST_REQUIRE(next().kind == report::opened);
  auto id = srv.wait_open(max_wait);
  BOOST_TEST_REQUIRE(id.has_value());
  srv.cut(*id);
  BOOST_TEST_REQUIRE(next().kind == report::closed);
  // The transport may already be gone; either way nothing else is reported.
  send(t, tr::frame_atom::value, text("late"));
  send(t, tr::close_atom::value, uint16_t{1000}, std::string{});
  send(t, tr::abort_atom::value);
  BOOST_TEST(next(300ms).kind == report::timeout);
}

BOOST_AUTO_TEST_CASE(websocketpp_writes_nothing_to_stdout_or_stderr) {
  std::ostringstream out;
  std::ostringstream err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  {
    raw_server srv{options([](auto& o) { o.refuse_status = 403; })};
    spawn(21, request(srv.url()));
    auto r = next();
    spawn(22, request("ws://127.0.0.1:" + std::to_string(closed_port()) + "/x"));
    auto r2 = next();
    std::cout.rdbuf(old_out);
    std::cerr.rdbuf(old_err);
    BOOST_TEST(r.kind == report::failed);
    BOOST_TEST(r2.kind == report::failed);
  }
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  BOOST_TEST(out.str().empty(), out.str());
  BOOST_TEST(err.str().empty(), err.str());
}

BOOST_AUTO_TEST_CASE(runtime_is_one_process_wide_instance) {
  auto again = tr::io_runtime::instance(4);
  BOOST_TEST(again.get() == runtime.get());
  // Made with 2 by the global fixture; later sizes do not change it.
  BOOST_TEST(runtime->threads() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
