// The long-poll TRANSPORT against a scripted Phoenix long-poll server on
// 127.0.0.1 (longpoll_server.hpp): the same reports and ordering as the
// WebSocket, phoenix.js's statuses and close codes, batched ndjson POSTs.
#include "fixture.hpp"
#include "longpoll_server.hpp"
#include "phx_test/server_process.hpp"
#include "../tls/pki.hpp"

#include <ctime>
#include <iostream>

using namespace phx_test;

namespace {

frame text(std::string s) {
  return frame{frame_type::text, std::move(s)};
}

frame binary(std::string s) {
  return frame{frame_type::binary, std::move(s)};
}

/// A long-poll request for `url` with short timeouts fit for loopback tests.
tr::connect_request lp_request_for(std::string url) {
  auto req = transport_fixture::request(std::move(url));
  req.kind = tr::transport_kind::longpoll;
  req.long_poll_timeout_ms = 5000;
  return req;
}

/// A reply with a JSON body.
lp_reply json(std::string body, int http = 200) {
  lp_reply r;
  r.http = http;
  r.body = std::move(body);
  return r;
}

lp_reply hang() {
  lp_reply r;
  r.hang = true;
  return r;
}

/// Requests of `method` in `reqs`.
size_t count(const std::vector<lp_request>& reqs, const std::string& method) {
  size_t n = 0;
  for (auto& r : reqs)
    n += r.method == method;
  return n;
}

struct longpoll_fixture : transport_fixture {
  /// Expects `opened` for `gen` and checks that it says long-poll.
  void expect_opened(tr::generation gen) {
    bool got = false;
    tr::transport_kind kind = tr::transport_kind::websocket;
    // The first report: nothing is batched before it.
    BOOST_TEST_REQUIRE(batched_.empty());
    self->receive(
      [&](tr::opened_atom, tr::generation g, tr::transport_kind k) {
        got = g == gen;
        kind = k;
      },
      [&](tr::failed_atom, tr::generation, tr::connect_failure& f) {
        BOOST_FAIL("failed instead of opened: " << f.reason);
      },
      caf::after(max_wait) >> [] { BOOST_FAIL("no opened report"); });
    BOOST_TEST_REQUIRE(got);
    BOOST_TEST((kind == tr::transport_kind::longpoll));
  }

  /// Expects a closed report with `code`; returns its reason.
  std::string expect_closed(uint16_t code, tr::generation gen = 1) {
    auto r = next();
    BOOST_TEST_REQUIRE(r.kind == report::closed, r);
    BOOST_TEST(r.gen == gen);
    BOOST_TEST(r.code == code, r);
    return r.reason;
  }

  /// Expects a failed report; returns it.
  tr::connect_failure expect_failed() {
    auto r = next();
    BOOST_TEST_REQUIRE(r.kind == report::failed, r);
    return r.failure;
  }

  /// After the terminal report: the TRANSPORT quits, nothing else comes,
  /// the io side is gone.
  void expect_end(const tr::transport_actor& t) {
    BOOST_TEST(wait_down(t.address()));
    auto extra = next(200ms);
    BOOST_TEST(extra.kind == report::timeout, "a report after the end: " << extra);
    BOOST_TEST(wait_no_connections());
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(longpoll, longpoll_fixture)

BOOST_AUTO_TEST_CASE(opens_a_session_then_round_trips_frames_in_order) {
  lp_server srv;
  auto req = lp_request_for(srv.url("vsn=2.0.0&user=ann"));
  req.headers = {{"X-Phoenix-AuthToken", "s3cr3t/+="}};
  auto out = std::make_shared<tr::credit>(1000, 1 << 20);
  req.outbound = out;
  auto t = spawn(1, req);
  self->monitor(t);
  // Sent before the open: waits and goes out right after it.
  std::vector<frame> early{text(R"(["1","1","room:a","phx_join",{}])"),
                           text(R"(["1","2","room:a","ping",{"n":1}])")};
  for (auto& f : early)
    out->take(f.data.size());
  send(t, tr::frame_atom::value, early);
  expect_opened(1);
  for (auto& want : early) {
    auto got = next();
    BOOST_TEST_REQUIRE(got.kind == report::data, got);
    BOOST_TEST((got.f.type == frame_type::text));
    BOOST_TEST(got.f.data == want.data);
  }
  // More frames, one message each: they go out in order and come back in order.
  std::vector<frame> later;
  for (int i = 0; i < 5; ++i)
    later.push_back(text(R"(["1",")" + std::to_string(10 + i) + R"(","room:a","n",{}])"));
  for (auto& f : later) {
    out->take(f.data.size());
    send(t, tr::frame_atom::value, f);
  }
  for (auto& want : later) {
    auto got = next();
    BOOST_TEST_REQUIRE(got.kind == report::data, got);
    BOOST_TEST(got.f.data == want.data);
  }
  // Every unit of the outbound credit came back once the POSTs were answered.
  for (int i = 0; i < 100 && out->units() != 0; ++i)
    std::this_thread::sleep_for(10ms);
  BOOST_TEST(out->units() == 0u);
  BOOST_TEST(out->bytes() == 0u);
  auto reqs = srv.requests();
  BOOST_TEST_REQUIRE(reqs.size() >= 3u);
  // The first poll: GET, JSON, the socket's params, the auth header, no token.
  BOOST_TEST(reqs[0].method == "GET");
  BOOST_TEST(reqs[0].target == "/socket/longpoll?vsn=2.0.0&user=ann");
  BOOST_TEST(reqs[0].header("accept") == "application/json");
  BOOST_TEST(reqs[0].header("x-phoenix-authtoken") == "s3cr3t/+=");
  BOOST_TEST(reqs[0].token().empty());
  size_t posts = 0;
  for (size_t i = 1; i < reqs.size(); ++i) {
    // Every later request carries the session token and the auth header.
    BOOST_TEST(reqs[i].token() == "SFMyNTY.g2gDaAJhAXQ/1");
    BOOST_TEST(reqs[i].header("x-phoenix-authtoken") == "s3cr3t/+=");
    if (reqs[i].method == "POST") {
      ++posts;
      BOOST_TEST(reqs[i].header("content-type") == "application/x-ndjson");
    }
  }
  // The early pair shared one POST.
  auto first_post = std::find_if(reqs.begin(), reqs.end(),
                                 [](auto& r) { return r.method == "POST"; });
  BOOST_TEST_REQUIRE((first_post != reqs.end()));
  BOOST_TEST(first_post->body == early[0].data + "\n" + early[1].data);
  BOOST_TEST(posts <= 6u);
  // The server got all frames, in order.
  auto got = srv.frames();
  BOOST_TEST_REQUIRE(got.size() == early.size() + later.size());
  for (size_t i = 0; i < got.size(); ++i)
    BOOST_TEST(got[i].data == (i < 2 ? early[i] : later[i - 2]).data);
  // Keep-alive: one connection for the polls, one for the sends.
  BOOST_TEST(srv.connections() <= 2u);
  send(t, tr::close_atom::value, uint16_t{1000}, std::string{"bye"});
  BOOST_TEST(expect_closed(1000) == "bye");
  expect_end(t);
}

BOOST_AUTO_TEST_CASE(sends_made_while_a_post_is_in_flight_wait_and_go_in_one_post) {
  auto gate = std::make_shared<lp_gate>();
  std::atomic<int> posts{0};
  lp_server srv{[gate, &posts](const lp_request& r) -> std::optional<lp_reply> {
    // The first POST is answered only when the test says so.
    if (r.method == "POST" && posts++ == 0) {
      lp_reply held = json(R"({"status":200})");
      held.hold = gate;
      return held;
    }
    return std::nullopt;
  }};
  auto t = spawn(1, lp_request_for(srv.url()));
  expect_opened(1);
  send(t, tr::frame_atom::value, text(R"(["1","1","a","b",{}])"));
  BOOST_TEST_REQUIRE(srv.wait_for([](auto& reqs) { return count(reqs, "POST") == 1; },
                                  max_wait));
  for (int i = 2; i <= 4; ++i)
    send(t, tr::frame_atom::value, text(R"(["1",")" + std::to_string(i) + R"(","a","b",{}])"));
  // Nothing more goes out while the first POST waits for its answer.
  BOOST_TEST(!srv.wait_for([](auto& reqs) { return count(reqs, "POST") > 1; }, 300ms));
  gate->open();
  // The held POST's frame is not recorded (the script answered it).
  BOOST_TEST_REQUIRE(srv.wait_frames(3, max_wait));
  auto reqs = srv.requests();
  std::vector<std::string> bodies;
  for (auto& r : reqs)
    if (r.method == "POST")
      bodies.push_back(r.body);
  // They went out after the answer, in order; together in one POST unless
  // the machine was too loaded to deliver them within the 300 ms above.
  BOOST_TEST_REQUIRE(bodies.size() >= 2u);
  BOOST_WARN_EQUAL(bodies.size(), 2u);
  std::string rest;
  for (size_t i = 1; i < bodies.size(); ++i)
    rest += (i > 1 ? "\n" : "") + bodies[i];
  BOOST_TEST(rest == R"(["1","2","a","b",{}])" "\n" R"(["1","3","a","b",{}])" "\n"
                     R"(["1","4","a","b",{}])");
}

BOOST_AUTO_TEST_CASE(binary_frames_go_as_base64_lines_and_odd_text_goes_alone) {
  lp_server srv{{}, [] {
                  lp_server::options o;
                  o.echo = false;
                  return o;
                }()};
  auto t = spawn(1, lp_request_for(srv.url()));
  expect_opened(1);
  std::string bytes{"\x00\x01\xfe\xff\n", 5};
  // A text frame that is no V2 array: Phoenix would read it as base64 in
  // ndjson, so it goes alone as application/json; so does one with a newline.
  send(t, tr::frame_atom::value,
       std::vector<frame>{text(R"(["1","1","a","b",{}])"), binary(bytes),
                          text(R"({"v1":"map"})"), text("[\"x\",\n1]"),
                          text(R"(["1","2","a","b",{}])")});
  BOOST_TEST_REQUIRE(srv.wait_frames(5, max_wait));
  auto got = srv.frames();
  BOOST_TEST_REQUIRE(got.size() == 5u);
  BOOST_TEST(!got[0].binary);
  BOOST_TEST(got[1].binary);
  BOOST_TEST(got[1].data == bytes);
  BOOST_TEST(got[2].data == R"({"v1":"map"})");
  BOOST_TEST(got[3].data == "[\"x\",\n1]");
  BOOST_TEST(got[4].data == R"(["1","2","a","b",{}])");
  std::vector<std::string> types;
  for (auto& r : srv.requests())
    if (r.method == "POST")
      types.push_back(r.header("content-type"));
  BOOST_TEST_REQUIRE(types.size() == 4u);
  BOOST_TEST(types[0] == "application/x-ndjson");
  BOOST_TEST(types[1] == "application/json");
  BOOST_TEST(types[2] == "application/json");
  BOOST_TEST(types[3] == "application/x-ndjson");
}

BOOST_AUTO_TEST_CASE(a_later_410_closes_with_3410_session_gone) {
  lp_server srv;
  auto t = spawn(2, lp_request_for(srv.url()));
  self->monitor(t);
  expect_opened(2);
  srv.push(R"([null,null,"room:a","hello",{}])");
  auto got = next();
  BOOST_TEST_REQUIRE(got.kind == report::data, got);
  BOOST_TEST(got.f.data == R"([null,null,"room:a","hello",{}])");
  srv.end_session();
  BOOST_TEST(expect_closed(3410, 2) == "session_gone");
  expect_end(t);
}

BOOST_AUTO_TEST_CASE(status_403_refuses_before_the_open_and_closes_1008_after) {
  {
    lp_server srv{[](const lp_request&) { return json(R"({"status":403})"); }};
    auto t = spawn(1, lp_request_for(srv.url()));
    self->monitor(t);
    auto f = expect_failed();
    BOOST_TEST(f.http_status == 403);
    BOOST_TEST(f.reason.find("403") != std::string::npos, f.reason);
    expect_end(t);
  }
  {
    std::atomic<int> gets{0};
    lp_server srv{[&gets](const lp_request& r) -> std::optional<lp_reply> {
      if (r.method == "GET" && gets++ == 1)
        return json(R"({"status":403})");
      return std::nullopt;
    }};
    auto t = spawn(1, lp_request_for(srv.url()));
    self->monitor(t);
    expect_opened(1);
    BOOST_TEST(expect_closed(1008) == "forbidden");
    expect_end(t);
  }
}

BOOST_AUTO_TEST_CASE(http_errors_fail_before_the_open_and_close_1011_after) {
  {
    lp_server srv{[](const lp_request&) { return json("<h1>oops</h1>", 500); }};
    auto t = spawn(1, lp_request_for(srv.url()));
    self->monitor(t);
    auto f = expect_failed();
    BOOST_TEST(f.http_status == 500);
    BOOST_TEST(f.reason == "long-poll poll refused with HTTP 500");
    expect_end(t);
  }
  {
    std::atomic<int> gets{0};
    lp_server srv{[&gets](const lp_request& r) -> std::optional<lp_reply> {
      if (r.method == "GET" && gets++ == 1)
        return json("not json at all");
      return std::nullopt;
    }};
    auto t = spawn(1, lp_request_for(srv.url()));
    self->monitor(t);
    expect_opened(1);
    auto reason = expect_closed(1011);
    BOOST_TEST(reason.find("internal server error") == 0u, reason);
    expect_end(t);
  }
  {
    // A POST answered with HTTP 500.
    lp_server srv{[](const lp_request& r) -> std::optional<lp_reply> {
      if (r.method == "POST")
        return json("", 500);
      return std::nullopt;
    }};
    auto out = std::make_shared<tr::credit>(100, 1 << 20);
    auto req = lp_request_for(srv.url());
    req.outbound = out;
    auto t = spawn(1, req);
    self->monitor(t);
    expect_opened(1);
    frame f = text(R"(["1","1","a","b",{}])");
    out->take(f.data.size());
    send(t, tr::frame_atom::value, f);
    BOOST_TEST(expect_closed(1011) == "internal server error: HTTP 500");
    expect_end(t);
    BOOST_TEST(out->units() == 0u);
  }
}

BOOST_AUTO_TEST_CASE(a_refused_connection_fails_like_the_websocket) {
  auto t = spawn(1, lp_request_for("http://127.0.0.1:" + std::to_string(closed_port())
                                   + "/socket/longpoll?vsn=2.0.0"));
  self->monitor(t);
  auto f = expect_failed();
  BOOST_TEST(f.reason == "connection refused");
  BOOST_TEST(f.http_status == 0);
  expect_end(t);
}

BOOST_AUTO_TEST_CASE(bad_urls_and_headers_fail_at_once) {
  auto a = spawn(1, lp_request_for("ws://127.0.0.1:1/socket/longpoll"));
  BOOST_TEST(expect_failed().reason == "URL scheme does not match the transport");
  auto b = spawn(2, lp_request_for("http://"));
  BOOST_TEST(expect_failed().reason == "invalid URL");
  auto req = lp_request_for("http://127.0.0.1:1/socket/longpoll");
  req.headers = {{"X-Evil", "a\r\nInjected: yes"}};
  auto c = spawn(3, req);
  BOOST_TEST(expect_failed().reason == "invalid value of header X-Evil");
  BOOST_TEST(wait_no_connections());
}

BOOST_AUTO_TEST_CASE(a_hanging_first_poll_fails_at_the_open_timeout) {
  lp_server srv{[](const lp_request&) { return hang(); }};
  auto req = lp_request_for(srv.url());
  req.open_timeout_ms = 300;
  auto t = spawn(1, req);
  self->monitor(t);
  auto start = std::chrono::steady_clock::now();
  auto f = expect_failed();
  BOOST_TEST(f.reason == "open handshake timed out");
  BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
  expect_end(t);
}

BOOST_AUTO_TEST_CASE(a_hanging_poll_after_the_open_closes_1005_timeout) {
  std::atomic<int> gets{0};
  lp_server srv{[&gets](const lp_request& r) -> std::optional<lp_reply> {
    if (r.method == "GET" && gets++ == 1)
      return hang();
    return std::nullopt;
  }};
  auto req = lp_request_for(srv.url());
  req.long_poll_timeout_ms = 300;
  auto t = spawn(1, req);
  self->monitor(t);
  expect_opened(1);
  BOOST_TEST(expect_closed(1005) == "timeout");
  expect_end(t);
}

BOOST_AUTO_TEST_CASE(an_oversized_message_closes_1009) {
  lp_server srv;
  auto req = lp_request_for(srv.url());
  req.max_frame_size = 1000;
  auto t = spawn(1, req);
  self->monitor(t);
  expect_opened(1);
  srv.push(R"(["small"])");
  auto got = next();
  BOOST_TEST_REQUIRE(got.kind == report::data, got);
  srv.push("[\"" + std::string(1200, 'x') + "\"]");
  auto reason = expect_closed(1009);
  BOOST_TEST(reason.find("message too big") == 0u, reason);
  expect_end(t);
}

BOOST_AUTO_TEST_CASE(an_oversized_answer_body_closes_1009) {
  std::atomic<int> gets{0};
  lp_server srv{[&gets](const lp_request& r) -> std::optional<lp_reply> {
    // Many small messages, together far over the answer limit.
    if (r.method == "GET" && gets++ == 1) {
      std::string list;
      for (int i = 0; i < 2000; ++i)
        list += std::string{i ? "," : ""} + "\"[" + std::string(90, 'y') + "]\"";
      return json(R"({"status":200,"token":"t","messages":[)" + list + "]}");
    }
    return std::nullopt;
  }};
  auto req = lp_request_for(srv.url());
  req.max_frame_size = 1000;
  auto t = spawn(1, req);
  self->monitor(t);
  expect_opened(1);
  auto reason = expect_closed(1009);
  BOOST_TEST(reason.find("message too big") == 0u, reason);
  expect_end(t);
}

BOOST_AUTO_TEST_CASE(close_before_the_open_fails_and_abort_after_reports_1006) {
  {
    lp_server srv{[](const lp_request&) { return hang(); }};
    auto t = spawn(1, lp_request_for(srv.url()));
    self->monitor(t);
    BOOST_TEST_REQUIRE(srv.wait_for([](auto& reqs) { return !reqs.empty(); }, max_wait));
    send(t, tr::close_atom::value, uint16_t{1000}, std::string{"never mind"});
    BOOST_TEST(expect_failed().reason == "closed by the client before the connection opened");
    expect_end(t);
  }
  {
    lp_server srv;
    auto t = spawn(1, lp_request_for(srv.url()));
    self->monitor(t);
    expect_opened(1);
    send(t, tr::abort_atom::value);
    BOOST_TEST(expect_closed(1006) == "aborted");
    expect_end(t);
  }
}

BOOST_AUTO_TEST_CASE(polls_survive_a_server_that_closes_every_connection) {
  lp_server::options o;
  o.close_each = true;
  o.window = std::chrono::milliseconds{50};
  lp_server srv{{}, o};
  auto t = spawn(1, lp_request_for(srv.url()));
  self->monitor(t);
  expect_opened(1);
  // Several empty polls (204), each on a new connection.
  BOOST_TEST_REQUIRE(srv.wait_for([](auto& reqs) { return count(reqs, "GET") >= 5; },
                                  max_wait));
  send(t, tr::frame_atom::value, text(R"(["1","1","a","b",{}])"));
  auto got = next();
  BOOST_TEST_REQUIRE(got.kind == report::data, got);
  BOOST_TEST(got.f.data == R"(["1","1","a","b",{}])");
  BOOST_TEST(srv.connections() >= 5u);
  send(t, tr::close_atom::value, uint16_t{4000}, std::string{"done"});
  BOOST_TEST(expect_closed(4000) == "done");
  expect_end(t);
}

BOOST_AUTO_TEST_CASE(close_with_a_post_in_flight_gives_its_credit_back) {
  lp_server srv{[](const lp_request& r) -> std::optional<lp_reply> {
    if (r.method == "POST")
      return hang();
    return std::nullopt;
  }};
  auto out = std::make_shared<tr::credit>(100, 1 << 20);
  auto req = lp_request_for(srv.url());
  req.outbound = out;
  auto t = spawn(1, req);
  self->monitor(t);
  expect_opened(1);
  std::vector<frame> fs{text(R"(["1","1","a","b",{}])"), text(R"(["1","2","a","b",{}])")};
  for (auto& f : fs)
    out->take(f.data.size());
  send(t, tr::frame_atom::value, fs[0]);
  BOOST_TEST_REQUIRE(srv.wait_for([](auto& reqs) { return count(reqs, "POST") == 1; },
                                  max_wait));
  // The second waits behind the POST that never answers.
  send(t, tr::frame_atom::value, fs[1]);
  send(t, tr::close_atom::value, uint16_t{4100}, std::string{"leaving"});
  BOOST_TEST(expect_closed(4100) == "leaving");
  expect_end(t);
  BOOST_TEST(out->units() == 0u);
  BOOST_TEST(out->bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_request_on_a_connection_the_server_dropped_is_sent_again) {
  lp_server::options o;
  o.drop_each = true;
  o.window = std::chrono::milliseconds{50};
  lp_server srv{{}, o};
  auto t = spawn(1, lp_request_for(srv.url()));
  self->monitor(t);
  expect_opened(1);
  BOOST_TEST_REQUIRE(srv.wait_for([](auto& reqs) { return count(reqs, "GET") >= 4; },
                                  max_wait));
  for (int i = 1; i <= 3; ++i) {
    auto f = text(R"(["1",")" + std::to_string(i) + R"(","a","b",{}])");
    send(t, tr::frame_atom::value, f);
    auto got = next();
    BOOST_TEST_REQUIRE(got.kind == report::data, got);
    BOOST_TEST(got.f.data == f.data);
  }
  send(t, tr::close_atom::value, uint16_t{1000}, std::string{});
  BOOST_TEST(expect_closed(1000) == "");
  expect_end(t);
}

BOOST_AUTO_TEST_CASE(logs_hold_no_token) {
  lp_server srv;
  log_capture logs;
  auto req = lp_request_for(srv.url("vsn=2.0.0&api_key=k3y"));
  req.headers = {{"X-Phoenix-AuthToken", "s3cr3t"}};
  auto t = spawn(1, req, logs.sink());
  self->monitor(t);
  expect_opened(1);
  srv.end_session();
  expect_closed(3410);
  expect_end(t);
  BOOST_TEST(logs.contains("connected to"));
  for (auto* secret : {"k3y", "s3cr3t", "SFMyNTY"})
    BOOST_TEST(!logs.contains(secret), secret);
}

BOOST_AUTO_TEST_CASE(a_slow_listener_pauses_the_polls_without_loss) {
  lp_server srv;
  auto req = lp_request_for(srv.url());
  // Two frames reach the bound: polling pauses until they are consumed.
  auto in = std::make_shared<tr::credit>(2, 1 << 20);
  req.inbound = in;
  auto t = spawn(1, req);
  expect_opened(1);
  srv.push(R"(["m1"])");
  srv.push(R"(["m2"])");
  // Held, not consumed: the tickets keep their credit (one poll may bring
  // m1 alone, the next m2).
  std::vector<frame> held;
  std::vector<tr::flow_ticket> tickets;
  for (int i = 0; i < 2 && held.size() < 2; ++i)
    self->receive(
      [&](tr::frame_atom, tr::generation, std::vector<frame>& fs, tr::flow_ticket& tk) {
        for (auto& f : fs)
          held.push_back(std::move(f));
        tickets.push_back(std::move(tk));
      },
      caf::after(max_wait) >> [] { BOOST_FAIL("no frames"); });
  BOOST_TEST_REQUIRE(held.size() == 2u);
  BOOST_TEST(in->paused());
  auto gets = count(srv.requests(), "GET");
  srv.push(R"(["m3"])");
  // No new poll while paused.
  BOOST_TEST(!srv.wait_for([gets](auto& reqs) { return count(reqs, "GET") > gets; }, 300ms));
  tickets.clear();
  auto got = next();
  BOOST_TEST_REQUIRE(got.kind == report::data, got);
  BOOST_TEST(got.f.data == R"(["m3"])");
}

BOOST_AUTO_TEST_SUITE_END()

// -- against phx-server's /socket/longpoll --------------------------------------------

namespace {

/// phx-server's long-poll URL for `server` (ws -> http, wss -> https).
std::string longpoll_url(const server_process& server, const std::string& query) {
  auto url = server.url();
  url.replace(0, url.find("://"), url.rfind("wss", 0) == 0 ? "https" : "http");
  return url + "/longpoll?" + query;
}

/// A short poll window: a poll answers 204 within a second.
server_process phx_server(std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"--longpoll-window-ms", "1000", "--log-level", "error"};
  args.insert(args.end(), extra.begin(), extra.end());
  return server_process{args};
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(longpoll_phx_server, longpoll_fixture)

BOOST_AUTO_TEST_CASE(joins_a_channel_and_gets_replies_then_survives_an_empty_poll) {
  auto server = phx_server();
  auto req = lp_request_for(longpoll_url(server, "vsn=2.0.0&user=lp"));
  auto t = spawn(1, req);
  self->monitor(t);
  expect_opened(1);
  send(t, tr::frame_atom::value,
       std::vector<frame>{text(R"(["1","1","room:lp","phx_join",{}])"),
                          text(R"(["1","2","room:lp","echo",{"n":1}])")});
  auto join = next();
  BOOST_TEST_REQUIRE(join.kind == report::data, join);
  BOOST_TEST(join.f.data
             == R"(["1","1","room:lp","phx_reply",{"status":"ok","response":{"joined":"room:lp"}}])");
  auto echo = next();
  BOOST_TEST_REQUIRE(echo.kind == report::data, echo);
  BOOST_TEST(echo.f.data == R"(["1","2","room:lp","phx_reply",{"status":"ok","response":{"n":1}}])");
  // A poll window (1 s) passes empty (204) and brings nothing; the next push
  // still comes back.
  auto quiet = next(1500ms);
  BOOST_TEST(quiet.kind == report::timeout, quiet);
  send(t, tr::frame_atom::value, text(R"(["1","3","room:lp","echo",{"n":3}])"));
  echo = next();
  BOOST_TEST_REQUIRE(echo.kind == report::data, echo);
  BOOST_TEST(echo.f.data == R"(["1","3","room:lp","phx_reply",{"status":"ok","response":{"n":3}}])");
  send(t, tr::close_atom::value, uint16_t{1000}, std::string{"bye"});
  BOOST_TEST(expect_closed(1000) == "bye");
  expect_end(t);
}

BOOST_AUTO_TEST_CASE(a_session_ended_on_the_server_closes_3410) {
  auto server = phx_server();
  auto t = spawn(1, lp_request_for(longpoll_url(server, "vsn=2.0.0&user=gone")));
  self->monitor(t);
  expect_opened(1);
  send(t, tr::frame_atom::value, text(R"(["1","1","room:x","phx_join",{}])"));
  BOOST_TEST_REQUIRE(next().kind == report::data);
  BOOST_TEST(server.admin("/admin/kill_longpoll?user=gone").status == 200);
  BOOST_TEST(expect_closed(3410) == "session_gone");
  expect_end(t);
}

BOOST_AUTO_TEST_CASE(a_refused_connect_fails_with_403) {
  auto server = phx_server();
  auto t = spawn(1, lp_request_for(longpoll_url(server, "vsn=2.0.0&token=bad")));
  self->monitor(t);
  auto f = expect_failed();
  BOOST_TEST(f.http_status == 403);
  expect_end(t);
}

BOOST_AUTO_TEST_CASE(https_verifies_the_server_as_wss_does) {
  auto& pki = phx_tls::pki();
  auto server = phx_server({"--tls-cert", pki.cert("good"), "--tls-key", pki.key("good")});
  auto url = longpoll_url(server, "vsn=2.0.0");
  BOOST_TEST_REQUIRE(url.rfind("https://", 0) == 0u, url);
  {
    // The system's trust store does not know the test CA.
    auto t = spawn(1, lp_request_for(url));
    self->monitor(t);
    auto f = expect_failed();
    BOOST_TEST(f.reason.find("certificate verify failed") == 0u, f.reason);
    expect_end(t);
  }
  {
    auto req = lp_request_for(url);
    req.tls.ca_file = pki.ca_file();
    auto t = spawn(2, req);
    self->monitor(t);
    expect_opened(2);
    send(t, tr::frame_atom::value, text(R"(["1","1","room:tls","phx_join",{}])"));
    auto join = next();
    BOOST_TEST_REQUIRE(join.kind == report::data, join);
    BOOST_TEST(join.f.data.find(R"("joined":"room:tls")") != std::string::npos, join.f.data);
    send(t, tr::close_atom::value, uint16_t{1000}, std::string{});
    expect_closed(1000, 2);
    expect_end(t);
  }
  {
    auto wrong = phx_server({"--tls-cert", pki.cert("wrong_host"), "--tls-key",
                             pki.key("wrong_host")});
    auto req = lp_request_for(longpoll_url(wrong, "vsn=2.0.0"));
    req.tls.ca_file = pki.ca_file();
    auto t = spawn(3, req);
    self->monitor(t);
    auto f = expect_failed();
    BOOST_TEST(f.reason.find("host name mismatch") == 0u, f.reason);
    expect_end(t);
  }
}

// Run by hand (disabled in ctest): the cost of one push round trip through the
// TRANSPORT over each transport against phx-server, e.g.
//   longpoll_test --run_test=longpoll_phx_server/round_trip_cost_by_hand
BOOST_AUTO_TEST_CASE(round_trip_cost_by_hand, *boost::unit_test::disabled()) {
  auto server = phx_server();
  constexpr int rounds = 500;
  for (auto kind : {tr::transport_kind::websocket, tr::transport_kind::longpoll}) {
    auto req = kind == tr::transport_kind::longpoll
                 ? lp_request_for(longpoll_url(server, "vsn=2.0.0"))
                 : request(server.url() + "/websocket?vsn=2.0.0");
    auto gen = static_cast<tr::generation>(kind) + 1;
    auto t = spawn(gen, req);
    BOOST_TEST_REQUIRE(next().kind == report::opened);
    send(t, tr::frame_atom::value, text(R"(["1","1","room:rt","phx_join",{}])"));
    BOOST_TEST_REQUIRE(next().kind == report::data);
    auto cpu0 = std::clock();
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < rounds; ++i) {
      send(t, tr::frame_atom::value,
           text(R"(["1",")" + std::to_string(i + 2) + R"(","room:rt","echo",{"i":1}])"));
      auto r = next();
      BOOST_TEST_REQUIRE(r.kind == report::data, r);
    }
    auto wall = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start);
    auto cpu = 1e6 * static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
    std::cout << to_string(kind) << ": " << rounds << " round trips, "
              << wall.count() / rounds << " us wall and " << cpu / rounds
              << " us client CPU per round trip\n";
    send(t, tr::close_atom::value, uint16_t{1000}, std::string{});
    BOOST_TEST(next().kind == report::closed);
  }
}

BOOST_AUTO_TEST_SUITE_END()
