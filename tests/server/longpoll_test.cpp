// phx-server's long-poll endpoint (Phoenix.Transports.LongPoll) driven over
// raw HTTP: sessions, polls, POSTs, the window, expiry, the admin kill, and
// the same channels as a WebSocket (a broadcast crosses transports).

#define BOOST_TEST_MODULE server_longpoll_test
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include "phx/protocol/json.hpp"
#include "phx/protocol/url.hpp"
#include "phx_test/server_process.hpp"

using phx_test::http_response;
using phx_test::server_process;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

const std::string lp_path = "/socket/longpoll?vsn=2.0.0";
const std::string ndjson = "Content-Type: application/x-ndjson\r\n";

// The JSON body of a long-poll answer (HTTP 200 always, as Phoenix answers).
struct lp_answer {
  int status = 0;
  std::string token;
  std::vector<std::string> messages;
};

lp_answer parse(const http_response& res) {
  BOOST_REQUIRE_EQUAL(res.status, 200);
  auto doc = phx::protocol::parse_json(res.body);
  BOOST_REQUIRE_MESSAGE(doc && (*doc)->IsObject(), "not a JSON object: " << res.body);
  const auto& root = **doc;
  lp_answer out;
  BOOST_REQUIRE(root.HasMember("status") && root["status"].IsInt());
  out.status = root["status"].GetInt();
  if (root.HasMember("token") && root["token"].IsString())
    out.token = root["token"].GetString();
  if (root.HasMember("messages") && root["messages"].IsArray())
    for (const auto& m : root["messages"].GetArray())
      out.messages.emplace_back(m.GetString(), m.GetStringLength());
  return out;
}

std::string with_token(const std::string& path, const std::string& token) {
  return path + "&token=" + token;
}

lp_answer get(const server_process& srv, const std::string& path,
              milliseconds timeout = milliseconds{15000}) {
  return parse(srv.http("GET", path, {}, {}, timeout));
}

lp_answer post(const server_process& srv, const std::string& path, const std::string& body,
               const std::string& headers = ndjson) {
  return parse(srv.http("POST", path, body, headers));
}

// Opens a session; returns its token.
std::string open_session(const server_process& srv, const std::string& path = lp_path) {
  auto a = get(srv, path);
  BOOST_REQUIRE_EQUAL(a.status, 410);
  BOOST_REQUIRE(!a.token.empty());
  BOOST_TEST(a.messages.empty());
  return a.token;
}

// Polls until `count` messages came (bounded: 20 polls).
std::vector<std::string> collect(const server_process& srv, const std::string& path,
                                 size_t count) {
  std::vector<std::string> out;
  for (int i = 0; i < 20 && out.size() < count; ++i) {
    auto a = get(srv, path);
    BOOST_REQUIRE_MESSAGE(a.status == 200 || a.status == 204, "poll status " << a.status);
    out.insert(out.end(), a.messages.begin(), a.messages.end());
  }
  BOOST_REQUIRE_EQUAL(out.size(), count);
  return out;
}

size_t transports(const server_process& srv) {
  auto doc = phx::protocol::parse_json(srv.admin("/admin/stats").body);
  BOOST_REQUIRE(doc && (*doc)->IsObject());
  return (**doc)["transports"].GetUint64();
}

} // namespace

BOOST_AUTO_TEST_CASE(a_poll_without_token_opens_a_session_with_410_and_a_signed_token) {
  server_process srv;
  auto res = srv.http("GET", lp_path + "&user=lp", {}, {});
  BOOST_TEST(res.head.find("Access-Control-Allow-Origin: *") != std::string::npos);
  BOOST_TEST(res.head.find("application/json") != std::string::npos);
  auto a = parse(res);
  BOOST_TEST(a.status == 410);
  BOOST_TEST(a.token.find('.') != std::string::npos);
  BOOST_TEST(a.messages.empty());
  BOOST_TEST(srv.admin("/admin/stats").body == R"({"transports":1,"user_ids":["lp"]})");
}

BOOST_AUTO_TEST_CASE(a_join_posted_as_ndjson_is_answered_in_the_next_poll) {
  server_process srv;
  auto path = with_token(lp_path, open_session(srv));
  auto ack = post(srv, path,
                  R"(["1","1","room:lp","phx_join",{}])" "\n"
                  R"(["1","2","room:lp","echo",{"n":1}])");
  BOOST_TEST(ack.status == 200);
  auto msgs = collect(srv, path, 2);
  BOOST_TEST(msgs[0] == R"(["1","1","room:lp","phx_reply",{"status":"ok","response":{"joined":"room:lp"}}])");
  BOOST_TEST(msgs[1] == R"(["1","2","room:lp","phx_reply",{"status":"ok","response":{"n":1}}])");
}

BOOST_AUTO_TEST_CASE(a_single_json_post_is_one_message) {
  server_process srv;
  auto path = with_token(lp_path, open_session(srv));
  auto ack = post(srv, path, R"(["1","1","room:one","phx_join",{}])",
                  "Content-Type: application/json\r\n");
  BOOST_TEST(ack.status == 200);
  auto msgs = collect(srv, path, 1);
  BOOST_TEST(msgs[0].find(R"("joined":"room:one")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_ndjson_batch_is_handled_in_order) {
  server_process srv;
  auto path = with_token(lp_path, open_session(srv));
  std::string body = R"(["1","1","room:order","phx_join",{}])";
  const int n = 100 - 1; // Phoenix's batch limit is 100 lines
  for (int i = 0; i < n; ++i)
    body += "\n[\"1\",\"" + std::to_string(i + 2) + R"(","room:order","echo",{"i":)"
            + std::to_string(i) + "}]";
  BOOST_TEST(post(srv, path, body).status == 200);
  auto msgs = collect(srv, path, n + 1);
  for (int i = 0; i < n; ++i)
    BOOST_TEST(msgs[i + 1].find(R"({"i":)" + std::to_string(i) + "}") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_empty_poll_ends_with_204_at_the_window) {
  server_process srv{{"--longpoll-window-ms", "300"}};
  auto token = open_session(srv);
  auto start = steady_clock::now();
  auto a = get(srv, with_token(lp_path, token));
  auto took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start).count();
  BOOST_TEST(a.status == 204);
  BOOST_TEST(a.token == token);
  BOOST_TEST(took >= 250);
  BOOST_TEST(took < 5000);
}

BOOST_AUTO_TEST_CASE(a_held_poll_is_answered_as_soon_as_a_message_comes) {
  server_process srv{{"--longpoll-window-ms", "10000"}};
  auto path = with_token(lp_path, open_session(srv));
  post(srv, path, R"(["1","1","room:held","phx_join",{}])");
  collect(srv, path, 1);
  auto start = steady_clock::now();
  auto held = std::async(std::launch::async, [&] { return get(srv, path); });
  // The broadcast may come before the poll is held: either way it is answered.
  BOOST_TEST(srv.admin("/admin/broadcast?topic=room:held&event=hi").status == 200);
  auto a = held.get();
  BOOST_TEST(a.status == 200);
  BOOST_REQUIRE_EQUAL(a.messages.size(), 1u);
  BOOST_TEST(a.messages[0] == R"([null,null,"room:held","hi",{}])");
  BOOST_TEST((steady_clock::now() - start < milliseconds{5000}));
}

BOOST_AUTO_TEST_CASE(an_unknown_or_forged_token_gets_410) {
  server_process srv;
  auto token = open_session(srv);
  auto forged = token.substr(0, token.find('.') + 1) + "AAAA" + token.substr(token.find('.') + 5);
  auto a = get(srv, with_token(lp_path, forged));
  BOOST_TEST(a.status == 410);
  BOOST_TEST(a.token != token); // a new session, as Phoenix opens one
  BOOST_TEST(post(srv, with_token(lp_path, forged), R"(["1","1","room:x","phx_join",{}])")
               .status
             == 410);
  BOOST_TEST(post(srv, with_token(lp_path, "nonsense"), "[]").status == 410);
  // The token also travels in Phoenix 1.8's header.
  auto h = parse(srv.http("POST", lp_path, R"(["1","1","room:h","phx_join",{}])",
                          ndjson + "x-phoenix-longpoll-token: " + token + "\r\n"));
  BOOST_TEST(h.status == 200);
}

BOOST_AUTO_TEST_CASE(connect_rules_are_the_websocket_ones) {
  server_process srv;
  BOOST_TEST(get(srv, lp_path + "&token=bad").status == 403);
  BOOST_TEST(get(srv, "/socket/longpoll?vsn=9.0.0").status == 403);
  BOOST_TEST(srv.http("GET", "/socket/longpoll?%zz", {}, {}).status == 400);
  BOOST_TEST(srv.http("PUT", lp_path, {}, {}).status == 400);
  // The CORS pre-flight, as Phoenix answers it.
  auto pre = srv.http("OPTIONS", lp_path, {}, "Access-Control-Request-Headers: content-type\r\n");
  BOOST_TEST(pre.status == 200);
  BOOST_TEST(pre.head.find("Access-Control-Allow-Methods: get, post, options") != std::string::npos);
  BOOST_TEST(pre.head.find("Access-Control-Allow-Headers: content-type") != std::string::npos);
  // The auth token comes in a header; connect sees it as on a WebSocket.
  auto path = with_token(lp_path, [&] {
    auto a = parse(srv.http("GET", lp_path, {}, "x-phoenix-authtoken: s3cret\r\n"));
    BOOST_REQUIRE_EQUAL(a.status, 410);
    return a.token;
  }());
  post(srv, path, R"(["1","1","room:auth","phx_join",{}])" "\n"
                  R"(["1","2","room:auth","info",{}])");
  auto msgs = collect(srv, path, 2);
  BOOST_TEST(msgs[1].find(R"("auth_token":"s3cret")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(nows_refuses_the_upgrade_but_serves_longpoll) {
  server_process srv;
  auto res = srv.http("GET", "/nows/socket/websocket?vsn=2.0.0", {},
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
  BOOST_TEST(res.status == 403);
  auto path = with_token("/nows/socket/longpoll?vsn=2.0.0",
                         open_session(srv, "/nows/socket/longpoll?vsn=2.0.0"));
  post(srv, path, R"(["1","1","room:nows","phx_join",{}])");
  BOOST_TEST(collect(srv, path, 1)[0].find(R"("joined":"room:nows")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_session_without_polls_expires) {
  server_process srv{{"--longpoll-window-ms", "200", "--longpoll-timeout-ms", "300"}};
  auto token = open_session(srv);
  BOOST_TEST(transports(srv) == 1u);
  size_t left = 1;
  for (int i = 0; i < 100 && left != 0; ++i) {
    std::this_thread::sleep_for(milliseconds{50});
    left = transports(srv);
  }
  BOOST_TEST(left == 0u);
  auto a = get(srv, with_token(lp_path, token));
  BOOST_TEST(a.status == 410);
  BOOST_TEST(a.token != token);
}

BOOST_AUTO_TEST_CASE(killing_a_session_answers_the_held_poll_with_410) {
  server_process srv{{"--longpoll-window-ms", "10000"}};
  auto token = open_session(srv, lp_path + "&user=victim");
  auto other = open_session(srv, lp_path + "&user=bystander");
  auto path = with_token(lp_path + "&user=victim", token);
  post(srv, path, R"(["1","1","room:kill","phx_join",{}])");
  collect(srv, path, 1);
  auto start = steady_clock::now();
  auto held = std::async(std::launch::async, [&] { return get(srv, path); });
  // The kill may come before the poll is held: then that poll gets 410 (new session).
  BOOST_TEST(srv.admin("/admin/kill_longpoll?user=victim").status == 200);
  auto a = held.get();
  BOOST_TEST(a.status == 410);
  BOOST_TEST((steady_clock::now() - start < milliseconds{5000}));
  auto next = get(srv, path);
  BOOST_TEST(next.status == 410);
  BOOST_TEST(next.token != token);
  // The other user's session lives on.
  BOOST_TEST(post(srv, with_token(lp_path, other), R"(["1","1","room:k","phx_join",{}])")
               .status
             == 200);
}

BOOST_AUTO_TEST_CASE(kill_all_cuts_the_held_poll_and_ends_the_session) {
  server_process srv{{"--longpoll-window-ms", "10000"}};
  auto token = open_session(srv);
  auto path = with_token(lp_path, token);
  auto held = std::async(std::launch::async, [&] {
    try {
      return srv.http("GET", path, {}, {}).status;
    } catch (const std::exception&) {
      return -1; // cut
    }
  });
  BOOST_TEST(srv.admin("/admin/kill_all").status == 200);
  auto status = held.get();
  // Cut before it was held: the session is gone and the poll opens a new one.
  BOOST_TEST((status == -1 || status == 200));
  BOOST_TEST(get(srv, path).status == 410);
}

BOOST_AUTO_TEST_CASE(binary_frames_are_dropped_and_text_goes_on) {
  server_process srv;
  auto path = with_token(lp_path, open_session(srv));
  // V2 binary push: kind 0, sizes of join_ref, ref, topic, event, then them.
  std::string frame{'\0', '\1', '\1', '\7', '\3'};
  frame += "12room:bibin";
  frame += std::string{"\x01\x02\x03", 3};
  std::string body = R"(["1","1","room:bi","phx_join",{}])" "\n"
                     + phx::protocol::base64_encode(frame) + "\n"
                     + R"(["1","3","room:bi","echo",{"after":true}])";
  BOOST_TEST(post(srv, path, body).status == 200);
  auto msgs = collect(srv, path, 2);
  BOOST_TEST(msgs[0].find(R"("joined":"room:bi")") != std::string::npos);
  BOOST_TEST(msgs[1].find(R"({"after":true})") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_websocket_clients_broadcast_reaches_a_longpoll_client) {
  server_process srv;
  auto path = with_token(lp_path, open_session(srv));
  post(srv, path, R"(["1","1","room:mix","phx_join",{}])");
  collect(srv, path, 1);

  namespace beast = boost::beast;
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver{io};
  beast::websocket::stream<boost::asio::ip::tcp::socket> ws{io};
  boost::asio::connect(ws.next_layer(), resolver.resolve("127.0.0.1", std::to_string(srv.port())));
  // Every blocking read of this test ends within 5 s.
  timeval tv{5, 0};
  ::setsockopt(ws.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ws.handshake("127.0.0.1", "/socket/websocket?vsn=2.0.0");
  beast::flat_buffer buf;
  ws.write(boost::asio::buffer(std::string{R"(["5","5","room:mix","phx_join",{}])"}));
  ws.read(buf);
  BOOST_TEST(beast::buffers_to_string(buf.data()).find(R"("joined")") != std::string::npos);
  buf.clear();
  ws.write(boost::asio::buffer(std::string{R"(["5","6","room:mix","shout",{"from":"ws"}])"}));

  auto msgs = collect(srv, path, 1);
  BOOST_TEST(msgs[0] == R"([null,null,"room:mix","shout",{"from":"ws"}])");
  // And back: the long-poll client shouts, the WebSocket client hears it.
  post(srv, path, R"(["1","2","room:mix","shout",{"from":"lp"}])");
  bool heard = false;
  for (int i = 0; i < 5 && !heard; ++i) {
    ws.read(buf);
    heard = beast::buffers_to_string(buf.data()).find(R"({"from":"lp"})") != std::string::npos;
    buf.clear();
  }
  BOOST_TEST(heard);
}
