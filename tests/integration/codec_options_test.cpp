// The facade's `encode` and `decode` options (phx::socket::options) against a
// real phx-server: a custom pair is what goes on the wire both ways, and what
// it refuses is reported while the socket goes on.
#define BOOST_TEST_MODULE phx_codec_options
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>

#include "phx/phx.hpp"
#include "phx/protocol/serializer.hpp"
#include "phx_test/recorder.hpp"
#include "phx_test/require.hpp"
#include "phx_test/server_process.hpp"

using namespace std::chrono_literals;
using phx::protocol::errc;
using phx::protocol::frame;
using phx::protocol::frame_type;
using phx::protocol::message;
using phx::protocol::result;

namespace {

/// A copy of the JSON object `p` with `key: true` added.
phx::payload flagged(const phx::payload& p, const char* key) {
  auto doc = phx::protocol::copy_json(p.json());
  doc.AddMember(rapidjson::StringRef(key), true, doc.GetAllocator());
  return phx::payload{std::move(doc)};
}

/// A custom codec over V2 JSON that counts its calls and leaves a mark on what
/// it handles: "encoded" on every `echo` push it writes, "decoded" on every
/// reply of room:codec it reads. It refuses to write the event `unwritable`
/// and to read a frame holding "unreadable", and throws on one holding "explosive".
struct marking_codec {
  std::shared_ptr<phx::protocol::v2_serializer> v2
    = std::make_shared<phx::protocol::v2_serializer>(phx::protocol::role::client);
  std::shared_ptr<std::atomic<int>> encodes = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<std::atomic<int>> decodes = std::make_shared<std::atomic<int>>(0);

  phx::protocol::encode_fn encode() const {
    return [v2 = v2, n = encodes](const message& m) -> result<frame> {
      ++*n;
      if (m.event == "unwritable")
        return phx::protocol::error{errc::wrong_shape, "the custom encode refuses unwritable"};
      if (m.event != "echo")
        return v2->encode(m);
      auto marked = m;
      marked.payload = flagged(m.payload, "encoded");
      return v2->encode(marked);
    };
  }

  phx::protocol::decode_fn decode() const {
    return [v2 = v2, n = decodes](frame_type type, std::string&& data) -> result<message> {
      ++*n;
      if (data.find("unreadable") != std::string::npos)
        return phx::protocol::error{errc::wrong_shape, "the custom decode refuses this frame"};
      if (data.find("explosive") != std::string::npos)
        throw std::runtime_error{"the custom decode throws"};
      auto m = v2->decode(type, std::move(data));
      if (m && m->is_reply() && m->topic == "room:codec" && m->payload.is_json()
          && m->payload.json().IsObject())
        m->payload = flagged(m->payload, "decoded");
      return m;
    };
  }

  /// Socket options with this codec (and no log lines).
  phx::socket::options options() const {
    phx::socket::options opts;
    opts.encode = encode();
    opts.decode = decode();
    opts.log_level = phx::log_level::off;
    return opts;
  }
};

/// A socket on `server` with the codec, its opens and errors recorded in `log`.
phx::socket make_socket(const phx_test::server_process& server, const marking_codec& codec,
                        phx_test::recorder& log) {
  phx::socket s{server.url(), codec.options()};
  s.on_open([&log] { log.add("open"); });
  s.on_error([&log](const std::string& reason, int) { log.add("error " + reason); });
  s.connect();
  return s;
}

/// Whether some recorded line contains `needle`.
bool logged(phx_test::recorder& log, const std::string& needle) {
  return log.wait([&](const phx_test::recorder::lines& ls) {
    for (auto& l : ls)
      if (l.find(needle) != std::string::npos)
        return true;
    return false;
  });
}

} // namespace

BOOST_AUTO_TEST_CASE(a_custom_encode_and_decode_are_used_on_the_wire_both_ways) {
  phx_test::server_process server;
  marking_codec codec;
  phx_test::recorder log;
  auto s = make_socket(server, codec, log);
  auto ch = s.channel("room:codec");
  BOOST_REQUIRE_EQUAL(PHX_REQUIRE_VALUE(ch.join().wait_for(10s)).status, "ok");
  auto encodes_before = codec.encodes->load();
  auto decodes_before = codec.decodes->load();
  auto out = PHX_REQUIRE_VALUE(ch.push("echo", phx::object({{"n", 1}})).wait_for(10s));
  BOOST_CHECK_EQUAL(out.status, "ok");
  // The server echoed what the custom encode wrote; the custom decode marked the reply.
  BOOST_CHECK_EQUAL(out.response.to_string(), R"({"n":1,"encoded":true,"decoded":true})");
  BOOST_CHECK_GE(codec.encodes->load() - encodes_before, 1);
  BOOST_CHECK_GE(codec.decodes->load() - decodes_before, 1);
  // Neither direction fell back to the built-in serializer for the join either.
  BOOST_CHECK_GE(encodes_before, 1);
  BOOST_CHECK_GE(decodes_before, 1);
}

BOOST_AUTO_TEST_CASE(a_frame_the_custom_decode_refuses_is_reported_and_the_socket_goes_on) {
  phx_test::server_process server;
  marking_codec codec;
  phx_test::recorder log;
  auto s = make_socket(server, codec, log);
  auto ch = s.channel("room:codec");
  BOOST_REQUIRE_EQUAL(PHX_REQUIRE_VALUE(ch.join().wait_for(10s)).status, "ok");
  // The echo of this push is a frame the custom decode refuses: no reply ever arrives.
  auto lost = PHX_REQUIRE_VALUE(
    ch.push("echo", phx::object({{"text", "unreadable"}}), 500ms).wait_for(10s));
  BOOST_CHECK_EQUAL(lost.status, "timeout");
  BOOST_CHECK_MESSAGE(logged(log, "the custom decode refuses this frame"), log.dump());
  BOOST_CHECK_EQUAL(s.stats().decode_errors, 1u);
  // The same connection serves on: no reconnect, and the next echo comes back.
  auto after = PHX_REQUIRE_VALUE(ch.push("echo", phx::object({{"n", 2}})).wait_for(10s));
  BOOST_CHECK_EQUAL(after.status, "ok");
  BOOST_CHECK_EQUAL(log.count("open"), 1u);
  BOOST_CHECK(s.connected());
}

BOOST_AUTO_TEST_CASE(a_message_the_custom_encode_refuses_fails_its_push_at_once) {
  phx_test::server_process server;
  marking_codec codec;
  phx_test::recorder log;
  auto s = make_socket(server, codec, log);
  auto ch = s.channel("room:codec");
  BOOST_REQUIRE_EQUAL(PHX_REQUIRE_VALUE(ch.join().wait_for(10s)).status, "ok");
  auto refused = PHX_REQUIRE_VALUE(ch.push("unwritable", phx::payload{}).wait_for(10s));
  BOOST_CHECK_EQUAL(refused.status, "failed");
  BOOST_CHECK(refused.error == phx::ec::encode_failed);
  auto after = PHX_REQUIRE_VALUE(ch.push("echo", phx::object({{"n", 3}})).wait_for(10s));
  BOOST_CHECK_EQUAL(after.status, "ok");
  BOOST_CHECK_EQUAL(log.count("open"), 1u);
}

BOOST_AUTO_TEST_CASE(a_custom_decode_that_throws_is_reported_and_the_socket_goes_on) {
  phx_test::server_process server;
  marking_codec codec;
  phx_test::recorder log;
  auto s = make_socket(server, codec, log);
  auto ch = s.channel("room:codec");
  BOOST_REQUIRE_EQUAL(PHX_REQUIRE_VALUE(ch.join().wait_for(10s)).status, "ok");
  // The custom decode throws on this push's echo: its reply is lost, nothing else.
  auto lost = PHX_REQUIRE_VALUE(
    ch.push("echo", phx::object({{"text", "explosive"}}), 500ms).wait_for(10s));
  BOOST_CHECK_EQUAL(lost.status, "timeout");
  BOOST_CHECK_MESSAGE(logged(log, "the custom decode throws"), log.dump());
  auto after = PHX_REQUIRE_VALUE(ch.push("echo", phx::object({{"n", 4}})).wait_for(10s));
  BOOST_CHECK_EQUAL(after.status, "ok");
  BOOST_CHECK_EQUAL(log.count("open"), 1u);
  BOOST_CHECK(s.connected());
}
