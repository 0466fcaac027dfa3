// Tokens in the URL query, header values and the subprotocol never reach a
// log line (the transport's own or websocketpp's) nor a failure reason.
#include "fixture.hpp"

using namespace phx_test;

namespace {

const std::string query_secret = "Qs3cr3tQueryValue";
const std::string header_secret = "Hs3cr3tHeaderValue";
const std::string agent_secret = "As3cr3tAgentValue";
// Standard base64 with '+' and '/', as the auth token subprotocol carries it.
const std::string token_secret = "VG9rZW4+c2VjcmV0/w";

tr::connect_request secret_request(std::string base_url) {
  auto req = transport_fixture::request(std::move(base_url) + "/socket/websocket?token="
                                        + query_secret + "&vsn=2.0.0");
  req.headers = {{"Authorization", "Bearer " + header_secret},
                 {"User-Agent", agent_secret}};
  req.subprotocols = "phoenix, base64url.bearer.phx." + token_secret;
  return req;
}

bool leaks(std::string_view text) {
  for (auto* secret : {&query_secret, &header_secret, &agent_secret, &token_secret})
    if (text.find(*secret) != std::string_view::npos)
      return true;
  return false;
}

/// `ws://127.0.0.1:<port>` of a server.
std::string base(const raw_server& srv) {
  return srv.url("");
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(secrets, transport_fixture)

BOOST_AUTO_TEST_CASE(no_secret_reaches_a_log_line_or_a_failure_reason) {
  log_capture runtime_logs;
  log_capture transport_logs;
  runtime->set_log_sink(runtime_logs.sink());
  std::vector<std::string> reasons;
  {
    // Open, exchange, close.
    raw_server srv{options([](auto& o) { o.echo = true; })};
    auto t = spawn(1, secret_request(base(srv)), transport_logs.sink());
    auto r = next();
    BOOST_TEST_REQUIRE(r.kind == report::opened, r);
    // The secrets did reach the server (the test is not vacuous).
    auto up = srv.wait_request(max_wait);
    BOOST_TEST_REQUIRE(up.has_value());
    BOOST_TEST(up->resource.find(query_secret) != std::string::npos);
    BOOST_TEST(up->header("Authorization") == "Bearer " + header_secret);
    BOOST_TEST(up->header("Sec-WebSocket-Protocol").find(token_secret) != std::string::npos);
    send(t, tr::close_atom::value, uint16_t{1000}, std::string{});
    BOOST_TEST_REQUIRE(next().kind == report::closed);
  }
  {
    // Refused upgrade; this one logs through the runtime's sink.
    raw_server srv{options([](auto& o) { o.refuse_status = 403; })};
    spawn(2, secret_request(base(srv)));
    auto r = next();
    BOOST_TEST_REQUIRE(r.kind == report::failed, r);
    reasons.push_back(r.failure.reason);
  }
  {
    // Connection refused.
    spawn(3, secret_request("ws://127.0.0.1:" + std::to_string(closed_port())),
          transport_logs.sink());
    auto r = next();
    BOOST_TEST_REQUIRE(r.kind == report::failed, r);
    reasons.push_back(r.failure.reason);
  }
  {
    // Link cut after open.
    raw_server srv;
    spawn(4, secret_request(base(srv)), transport_logs.sink());
    BOOST_TEST_REQUIRE(next().kind == report::opened);
    auto id = srv.wait_open(max_wait);
    BOOST_TEST_REQUIRE(id.has_value());
    srv.cut(*id);
    auto r = next();
    BOOST_TEST_REQUIRE(r.kind == report::closed, r);
    reasons.push_back(r.reason);
  }
  {
    // Invalid header value: named, never shown.
    auto req = secret_request("ws://127.0.0.1:1");
    req.headers.emplace_back("X-Bad", header_secret + "\r\nX: y");
    spawn(5, req, transport_logs.sink());
    auto r = next();
    BOOST_TEST_REQUIRE(r.kind == report::failed, r);
    reasons.push_back(r.failure.reason);
  }
  runtime->set_log_sink({});
  for (auto& reason : reasons)
    BOOST_TEST(!leaks(reason), "leaking reason: " << reason);
  size_t wspp_lines = 0;
  bool redacted_seen = false;
  for (auto* logs : {&runtime_logs, &transport_logs})
    for (auto& line : logs->snapshot()) {
      BOOST_TEST(!leaks(line.text), "leaking line: " << line.text);
      if (line.component == "websocketpp")
        ++wspp_lines;
      if (line.text.find("token=REDACTED") != std::string::npos)
        redacted_seen = true;
    }
  // websocketpp's own lines did go through the sink, with the query redacted.
  BOOST_TEST(wspp_lines > 0u);
  BOOST_TEST(redacted_seen);
}

BOOST_AUTO_TEST_CASE(connect_request_prints_without_its_secrets) {
  auto req = secret_request("ws://127.0.0.1:1");
  auto text = caf::deep_to_string(req);
  BOOST_TEST(!leaks(text), text);
}

BOOST_AUTO_TEST_SUITE_END()
