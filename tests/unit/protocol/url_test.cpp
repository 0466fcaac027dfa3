#include <boost/test/unit_test.hpp>

#include "phx/protocol/url.hpp"

using namespace phx::protocol;

namespace {

json_document params(const char* text) {
  json_document d;
  d.Parse(text);
  BOOST_REQUIRE(!d.HasParseError());
  return d;
}

std::string url_of(const char* endpoint, const char* params_json = nullptr,
                   std::string_view vsn = "2.0.0") {
  auto ep = parse_endpoint(endpoint);
  BOOST_REQUIRE_MESSAGE(ep, (ep ? "" : ep.error().to_string()));
  if (params_json == nullptr)
    return websocket_url(*ep, nullptr, vsn);
  auto p = params(params_json);
  return websocket_url(*ep, &p, vsn);
}

} // namespace

BOOST_AUTO_TEST_SUITE(url)

BOOST_AUTO_TEST_CASE(appends_websocket_and_vsn_like_phoenix_js) {
  BOOST_CHECK_EQUAL(url_of("wss://example.org/chat"),
                    "wss://example.org:443/chat/websocket?vsn=2.0.0");
  BOOST_CHECK_EQUAL(url_of("ws://example.com/socket"),
                    "ws://example.com:80/socket/websocket?vsn=2.0.0");
  BOOST_CHECK_EQUAL(url_of("http://localhost:4000/socket/"),
                    "ws://localhost:4000/socket/websocket?vsn=2.0.0");
  BOOST_CHECK_EQUAL(url_of("https://[::1]:4443/socket"),
                    "wss://[::1]:4443/socket/websocket?vsn=2.0.0");
}

BOOST_AUTO_TEST_CASE(encodes_params_with_vsn_last_and_winning) {
  BOOST_CHECK_EQUAL(url_of("ws://h:1/socket", R"({"token":"a b&c","vsn":"9.9.9","n":3})"),
                    "ws://h:1/socket/websocket?token=a%20b%26c&n=3&vsn=2.0.0");
  BOOST_CHECK_EQUAL(url_of("ws://h:1/socket", R"({"user":"u1"})", "1.0.0"),
                    "ws://h:1/socket/websocket?user=u1&vsn=1.0.0");
}

BOOST_AUTO_TEST_CASE(flattens_nested_params_as_parent_key) {
  auto p = params(R"({"user":{"id":7,"name":"é"},"tags":["a","b"],"ok":true,"skip":null})");
  // Keys are URL-encoded whole, as encodeURIComponent("user[id]") does.
  BOOST_CHECK_EQUAL(encode_params(p),
                    "user%5Bid%5D=7&user%5Bname%5D=%C3%A9&tags%5B0%5D=a&tags%5B1%5D=b&ok=true");
  // Decoding gives the nested structure back (what the server sees).
  auto back = parse_query(encode_params(p));
  BOOST_REQUIRE(back);
  BOOST_CHECK_EQUAL(std::string((*back)["user"]["id"].GetString()), "7");
  BOOST_CHECK_EQUAL(std::string((*back)["user"]["name"].GetString()), "é");
  BOOST_CHECK_EQUAL(std::string((*back)["tags"]["1"].GetString()), "b");
}

BOOST_AUTO_TEST_CASE(keeps_a_query_already_in_the_endpoint) {
  BOOST_CHECK_EQUAL(url_of("ws://h:1/socket?x=1", R"({"y":"2"})"),
                    "ws://h:1/socket/websocket?x=1&y=2&vsn=2.0.0");
}

BOOST_AUTO_TEST_CASE(url_encoding_matches_encode_uri_component) {
  BOOST_CHECK_EQUAL(url_encode_component("AZaz09-_.!~*'()"), "AZaz09-_.!~*'()");
  BOOST_CHECK_EQUAL(url_encode_component(" /?#[]@&=+$,;:%\""),
                    "%20%2F%3F%23%5B%5D%40%26%3D%2B%24%2C%3B%3A%25%22");
  BOOST_CHECK_EQUAL(url_encode_component("🚀"), "%F0%9F%9A%80");
  auto d = url_decode_component("%F0%9F%9A%80+x");
  BOOST_REQUIRE(d);
  BOOST_CHECK_EQUAL(*d, "🚀 x");
  BOOST_CHECK(!url_decode_component("%"));
  BOOST_CHECK(!url_decode_component("%4"));
  BOOST_CHECK(!url_decode_component("%zz"));
}

BOOST_AUTO_TEST_CASE(missing_host_or_path_is_an_error_at_construction) {
  for (auto bad : {"ws://", "ws:///socket", "ws://host", "ws://host:4000",
                   "ftp://host/socket", "host/socket", "ws://host:0/s",
                   "ws://host:70000/s", "ws://host:x/s", "ws://u:p@host/s",
                   "ws://host/s#frag", "ws://[::1/s", "ws://ho st/s", "ws://host:/s"}) {
    auto ep = parse_endpoint(bad);
    BOOST_CHECK_MESSAGE(!ep, bad);
    if (!ep)
      BOOST_CHECK(ep.error().code == errc::invalid_url);
  }
  auto root = parse_endpoint("ws://host/");
  BOOST_REQUIRE(root);
  BOOST_CHECK_EQUAL(websocket_url(*root, nullptr, "2.0.0"),
                    "ws://host:80/websocket?vsn=2.0.0");
}

BOOST_AUTO_TEST_CASE(builds_from_host_path_port_and_tls) {
  auto ep = make_endpoint("localhost", "/socket", 4000, false);
  BOOST_REQUIRE(ep);
  BOOST_CHECK_EQUAL(ep->to_string(), "ws://localhost:4000/socket");
  auto tls = make_endpoint("example.org", "socket", std::nullopt, true);
  BOOST_REQUIRE(tls);
  BOOST_CHECK_EQUAL(tls->to_string(), "wss://example.org:443/socket");
  BOOST_CHECK(!make_endpoint("", "/socket", 1, false));
  BOOST_CHECK(!make_endpoint("h", "", 1, false));
  BOOST_CHECK(!make_endpoint("h", "/a?b", 1, false));
}

BOOST_AUTO_TEST_CASE(redacts_every_query_value_but_vsn) {
  BOOST_CHECK_EQUAL(redact_url("ws://h:1/socket/websocket?token=s3cret&user=u&vsn=2.0.0"),
                    "ws://h:1/socket/websocket?token=REDACTED&user=REDACTED&vsn=2.0.0");
  BOOST_CHECK_EQUAL(redact_url("ws://h:1/socket/websocket"), "ws://h:1/socket/websocket");
}

BOOST_AUTO_TEST_CASE(auth_token_is_standard_base64_without_padding) {
  BOOST_CHECK_EQUAL(auth_token_protocols("1234"), "phoenix, base64url.bearer.phx.MTIzNA");
  // Standard alphabet: '+' and '/' are kept, which add_subprotocol would refuse.
  BOOST_CHECK_EQUAL(base64_encode("\xfb\xff", false), "+/8");
  auto token = parse_auth_token_protocols("phoenix, base64url.bearer.phx.MTIzNA");
  BOOST_REQUIRE(token);
  BOOST_REQUIRE(token->has_value());
  BOOST_CHECK_EQUAL(**token, "1234");
  auto none = parse_auth_token_protocols("phoenix");
  BOOST_REQUIRE(none);
  BOOST_CHECK(!none->has_value());
  BOOST_CHECK(!parse_auth_token_protocols("phoenix, base64url.bearer.phx.*bad*"));
}

BOOST_AUTO_TEST_CASE(base64_round_trips_every_length) {
  std::string data;
  for (int i = 0; i < 64; ++i) {
    for (bool pad : {true, false}) {
      auto back = base64_decode(base64_encode(data, pad));
      BOOST_REQUIRE(back);
      BOOST_CHECK(*back == data);
    }
    data.push_back(static_cast<char>(i * 37));
  }
  BOOST_CHECK_EQUAL(base64_encode("f"), "Zg==");
  BOOST_CHECK_EQUAL(base64_encode("fo"), "Zm8=");
  BOOST_CHECK_EQUAL(base64_encode("foo"), "Zm9v");
  BOOST_CHECK(!base64_decode("Z"));
  BOOST_CHECK(!base64_decode("Zm9v!"));
}

BOOST_AUTO_TEST_CASE(parses_connect_params_from_a_query) {
  auto q = parse_query("user=u1&token=bad&vsn=2.0.0&user=u2&empty=&flag");
  BOOST_REQUIRE(q);
  BOOST_CHECK_EQUAL(std::string((*q)["user"].GetString()), "u2");
  BOOST_CHECK_EQUAL(std::string((*q)["vsn"].GetString()), "2.0.0");
  BOOST_CHECK_EQUAL(std::string((*q)["empty"].GetString()), "");
  BOOST_CHECK(q->HasMember("flag"));
  BOOST_CHECK(!parse_query("a=%ff"));
}

BOOST_AUTO_TEST_SUITE_END()
