// The client against a hostile or broken server (a scripted raw WebSocket
// server, not phx-server): garbage of every kind arrives on a connection where
// two channels are joined. For each: nothing crashes, each problem is reported
// exactly once (on_error and one log line, or a counter and one debug line),
// the other channel keeps getting its events and replies, and memory stays
// bounded.
#define BOOST_TEST_MODULE phx_hostile
#include <boost/test/unit_test.hpp>

#include <malloc.h>

#include <thread>

#include <caf/actor_registry.hpp>

#include "client.hpp"
#include "phx/actors/channel.hpp"

using namespace phx_hostile;
using phx::log_level;
namespace utf = boost::unit_test;

namespace {

/// A V2 text frame; `"null"` stands for a JSON null join_ref or ref.
std::string frame_of(const std::string& join_ref, const std::string& ref,
                     const std::string& topic, const std::string& event,
                     const std::string& payload) {
  auto quoted = [](const std::string& s) { return s == "null" ? s : "\"" + s + "\""; };
  return "[" + quoted(join_ref) + "," + quoted(ref) + ",\"" + topic + "\",\"" + event + "\","
         + payload + "]";
}

/// `[[...]]`, `depth` levels deep.
std::string nested_arrays(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

/// The warning line of a frame that cannot be decoded.
const std::string decode_line = "dropping a frame that cannot be decoded";

/// Sends each frame, probes, and checks that each was reported exactly once:
/// one on_error whose reason names what is wrong and one warning line.
void expect_reported_once_each(client& c,
                               const std::vector<std::pair<std::string, std::string>>& cases,
                               bool binary = false) {
  auto errors = c.errors();
  auto warnings = c.logs->count(log_level::warning, decode_line);
  auto decode_errors = c.stats().decode_errors;
  auto reasons_before = c.error_reasons().size();
  for (auto& [frame, why] : cases) {
    if (binary)
      c.server.send_binary(frame);
    else
      c.server.send_text(frame);
  }
  c.probe();
  BOOST_TEST(c.errors() - errors == cases.size());
  BOOST_TEST(c.logs->count(log_level::warning, decode_line) - warnings == cases.size());
  BOOST_TEST(c.stats().decode_errors - decode_errors == cases.size());
  auto reasons = c.error_reasons();
  BOOST_REQUIRE_EQUAL(reasons.size() - reasons_before, cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    auto& reason = reasons[reasons_before + i];
    BOOST_TEST_MESSAGE("reported: " << reason.substr(0, 200));
    BOOST_TEST(reason.find(cases[i].second) != std::string::npos,
               "frame " << i << ": reason \"" << reason << "\" does not say \""
                        << cases[i].second << "\"");
  }
  BOOST_TEST(c.closes() == 0u, "the socket closed:\n" << c.events.dump());
}

} // namespace

BOOST_AUTO_TEST_SUITE(garbage)

BOOST_AUTO_TEST_CASE(non_json_text_is_reported_once_each) {
  mini_phoenix server;
  client c{server};
  expect_reported_once_each(c, {{"hello", "invalid_json: Invalid value"},
                                {"{", "invalid_json: Missing a name"},
                                {R"([null,null,"room:a","evt",{})", "Missing a comma"},
                                {"", "the frame is empty"},
                                {"nul", "invalid_json: Invalid value"},
                                {R"([null,null,"room:a","evt",{}]])", "must not be followed"}});
}

BOOST_AUTO_TEST_CASE(json_of_the_wrong_shape_or_types_is_reported_once_each) {
  mini_phoenix server;
  client c{server};
  auto& jr = c.jr_a;
  expect_reported_once_each(
    c, {{R"({"topic":"room:a","event":"evt","payload":{},"ref":null})", "JSON array"},
        {"\"room:a\"", "JSON array"},
        {"42", "JSON array"},
        {"null", "JSON array"},
        {"[]", "this one has 0"},
        {R"(["1","2","room:a"])", "this one has 3"},
        {R"([1,2,"room:a","evt",{}])", "join_ref is neither a string nor null"},
        {R"([null,7,"room:a","evt",{}])", "ref is neither a string nor null"},
        {R"([null,null,"room:a",5,{}])", "event is not a string"},
        {R"([null,null,["room:a"],"evt",{}])", "topic is not a string"},
        {frame_of(jr, "990", "room:a", "phx_reply", R"({"response":{}})"),
         "has no string \"status\""},
        {frame_of(jr, "991", "room:a", "phx_reply", R"({"status":1,"response":{}})"),
         "has no string \"status\""},
        {frame_of(jr, "992", "room:a", "phx_reply", "[1]"), "payload is not an object"},
        {frame_of(jr, "993", "room:a", "phx_reply", "\"ok\""), "payload is not an object"}});
}

BOOST_AUTO_TEST_CASE(an_event_payload_that_is_not_an_object_reaches_its_binding_as_is) {
  // Phoenix sends objects, but an event's payload is the application's: the
  // client passes it on (as phoenix.js does) and reports nothing.
  mini_phoenix server;
  client c{server};
  auto errors = c.errors();
  c.send_text_and_probe(R"([null,null,"room:a","evt",[1,2]])");
  c.send_text_and_probe(R"([null,null,"room:a","evt","text"])");
  BOOST_TEST(c.events.count("room:a evt [1,2]") == 1u);
  BOOST_TEST(c.events.count("room:a evt \"text\"") == 1u);
  BOOST_TEST(c.errors() == errors);
}

BOOST_AUTO_TEST_CASE(replies_to_unknown_refs_topics_and_stale_joins_are_counted_once_each) {
  mini_phoenix server;
  client c{server};
  auto before = c.stats(*c.a);
  auto unrouted = c.stats().unrouted;
  auto errors = c.errors();
  c.send_text_and_probe(frame_of(c.jr_a, "987654", "room:a", "phx_reply",
                                 R"({"status":"ok","response":{}})"));
  c.send_text_and_probe(frame_of("null", "987655", "room:nobody", "phx_reply",
                                 R"({"status":"ok","response":{}})"));
  c.send_text_and_probe(frame_of("999999", "987656", "room:a", "phx_reply",
                                 R"({"status":"ok","response":{}})"));
  auto after = c.stats(*c.a);
  BOOST_TEST(after.unmatched_replies - before.unmatched_replies == 1u);
  BOOST_TEST(c.logs->count(log_level::debug, "no pending push for reply room:a phx_reply ("
                                               + c.jr_a + ", 987654)")
             == 1u);
  BOOST_TEST(c.stats().unrouted - unrouted == 1u);
  BOOST_TEST(c.logs->count(log_level::debug, "no channel for room:nobody phx_reply (null, 987655)")
             == 1u);
  BOOST_TEST(after.stale_dropped - before.stale_dropped == 1u);
  BOOST_TEST(c.logs->count(log_level::debug, "dropping outdated message room:a phx_reply "
                                               "(999999, 987656)")
             == 1u);
  // Not transport errors: nothing for on_error.
  BOOST_TEST(c.errors() == errors);
}

// A reply without a ref is counted in the channel's unmatched_replies and
// logged (actors/src/channel.cpp, on_reply); a `phoenix` reply that answers no
// pending heartbeat or ping is counted in the socket's unmatched_replies and
// logged (actors/src/socket.cpp, on_message).
BOOST_AUTO_TEST_CASE(replies_without_a_ref_or_to_an_unknown_heartbeat_are_logged_once) {
  mini_phoenix server;
  client c{server};
  auto before = c.stats(*c.a);
  auto sock_before = c.stats();
  auto errors = c.errors();
  c.send_text_and_probe(frame_of(c.jr_a, "null", "room:a", "phx_reply",
                                 R"({"status":"ok","response":{}})"));
  c.send_text_and_probe(frame_of("null", "55555", "phoenix", "phx_reply",
                                 R"({"status":"ok","response":{}})"));
  BOOST_TEST(c.stats(*c.a).unmatched_replies - before.unmatched_replies == 1u);
  BOOST_TEST(c.stats().unmatched_replies - sock_before.unmatched_replies == 1u);
  BOOST_TEST(c.errors() == errors);
  BOOST_TEST(c.logs->count(log_level::debug, "room:a phx_reply (" + c.jr_a + ", null)") == 1u);
  BOOST_TEST(c.logs->count(log_level::debug, "phoenix phx_reply (null, 55555)") == 1u);
}

BOOST_AUTO_TEST_CASE(a_reply_after_the_timeout_makes_no_second_outcome) {
  mini_phoenix server;
  client c{server};
  outcome_count out;
  auto p = c.counted_push(*c.a, "noreply", phx::object({{"n", 1}}), 150ms, out);
  auto first = p.wait_for(max_wait);
  BOOST_REQUIRE(first);
  BOOST_TEST(first->status == "timeout");
  auto seen = server.wait_push("noreply", max_wait);
  BOOST_REQUIRE(seen);
  auto unmatched = c.stats(*c.a).unmatched_replies;
  server.reply("room:a", *seen->msg.ref, "ok", phx::object({{"late", true}}));
  c.probe();
  BOOST_TEST(out.total() == 1);
  BOOST_TEST(out.timeout == 1);
  BOOST_TEST(c.stats(*c.a).unmatched_replies - unmatched == 1u);
  BOOST_TEST(c.logs->count(log_level::debug, "(" + c.jr_a + ", " + *seen->msg.ref + ") ok")
             == 1u);
  BOOST_TEST(c.stats(*c.a).pending == 0u);
}

BOOST_AUTO_TEST_CASE(a_duplicate_reply_resolves_the_push_once) {
  mini_phoenix server;
  client c{server};
  outcome_count out;
  auto unmatched = c.stats(*c.a).unmatched_replies;
  auto p = c.counted_push(*c.a, "echo_twice", phx::object({{"n", 2}}), max_wait, out);
  auto first = p.wait_for(max_wait);
  BOOST_REQUIRE(first);
  BOOST_TEST(first->status == "ok");
  BOOST_TEST(first->response.to_string() == R"({"n":2})");
  auto seen = server.wait_push("echo_twice", max_wait);
  BOOST_REQUIRE(seen);
  c.probe();
  BOOST_TEST(out.total() == 1);
  BOOST_TEST(out.ok == 1);
  BOOST_TEST(c.stats(*c.a).unmatched_replies - unmatched == 1u);
  BOOST_TEST(c.logs->count(log_level::debug, "(" + c.jr_a + ", " + *seen->msg.ref + ") ok")
             == 1u);
}

BOOST_AUTO_TEST_CASE(binary_frames_with_bad_lengths_or_unknown_kinds_are_reported_once_each) {
  mini_phoenix server;
  client c{server};
  using namespace std::string_literals;
  expect_reported_once_each(
    c,
    {{""s, "the frame is empty"},
     {"\x01\x05\x01\x06\x02"s + "abc", "declared join_ref length 5 runs past the end"},
     {"\x00\x02\x06\x03"s + "1", "declared join_ref length 2 runs past the end"},
     {"\x02\x06"s, "the binary header needs 3 bytes, the frame has 2"},
     {"\x02\x06\xff"s + "room:aev", "declared event length 255 runs past the end"},
     {"\x07"s + "abc", "unknown binary kind 7"},
     {"\xff"s, "unknown binary kind 255"},
     {"\x02\x06\x03"s + "room:a\xff\xfe\xfd" + "data", "event is not valid UTF-8"}},
    true);
  // A valid broadcast right after still arrives, as bytes.
  server.send_binary(std::string{"\x02\x06\x03"} + "room:aevt" + "raw bytes");
  c.probe();
  BOOST_TEST(c.events.count("room:a evt " + phx::binary("raw bytes").to_string()) == 1u);
}

BOOST_AUTO_TEST_CASE(a_lone_surrogate_in_json_text_is_reported_once) {
  mini_phoenix server;
  client c{server};
  expect_reported_once_each(c, {{R"([null,null,"room:a","evt",{"x":"\ud800"}])", "surrogate"}});
}

BOOST_AUTO_TEST_CASE(a_frame_nested_past_the_depth_limit_is_reported_once) {
  mini_phoenix server;
  client c{server};
  std::string deep_object;
  for (int i = 0; i < 100000; ++i)
    deep_object += "{\"a\":";
  deep_object += "1" + std::string(100000, '}');
  expect_reported_once_each(
    c, {{frame_of("null", "null", "room:a", "evt", nested_arrays(100000)), "deeper than 512"},
        {frame_of("null", "null", "room:a", "evt", deep_object), "deeper than 512"},
        {frame_of(c.jr_a, "77", "room:a", "phx_reply",
                  R"({"status":"ok","response":)" + nested_arrays(600) + "}"),
         "deeper than 512"}});
  // Deep but within the limit: delivered.
  c.send_text_and_probe(frame_of("null", "null", "room:a", "evt", nested_arrays(400)));
  BOOST_TEST(c.events.count("room:a evt " + nested_arrays(400)) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// -- the link itself ----------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(connection)

BOOST_AUTO_TEST_CASE(invalid_utf8_in_a_text_frame_closes_with_1007_and_the_socket_recovers) {
  mini_phoenix server;
  client c{server};
  auto errors = c.errors();
  server.send_raw(phx_test::raw_server::encode_frame(
    1, "[null,null,\"room:a\",\"evt\",{\"x\":\"\xc3\x28\"}]"));
  BOOST_REQUIRE_MESSAGE(c.events.wait_for("close 1007", max_wait), c.events.dump());
  BOOST_REQUIRE(c.events.wait_count("open", 2, max_wait));
  c.wait_rejoined(2);
  c.probe();
  BOOST_TEST(c.events.count("close 1007") == 1u);
  BOOST_TEST(c.events.count("close reason Invalid UTF8 encoding") == 1u, c.events.dump());
  BOOST_TEST(c.closes() == 1u);
  BOOST_TEST(c.logs->count(log_level::info, "connection closed with code 1007") == 1u);
  BOOST_TEST(c.errors() == errors);
  BOOST_TEST(c.events.count("room:a evt {\"x\":\"\xc3\x28\"}") == 0u);
  auto st = c.stats();
  BOOST_TEST(st.opens == 2u);
}

BOOST_AUTO_TEST_CASE(a_64_mib_frame_is_refused_with_1009_then_the_socket_reconnects) {
  mini_phoenix server;
  client c{server}; // max_frame_size: the default, 16 MiB
  auto frames_in = c.stats().frames_in;
  server.send_binary(std::string(64u << 20, 'x'));
  BOOST_REQUIRE_MESSAGE(c.events.wait_for("close 1009", max_wait), c.events.dump());
  BOOST_REQUIRE(c.events.wait_count("open", 2, max_wait));
  c.wait_rejoined(2);
  c.probe();
  BOOST_TEST(c.closes() == 1u);
  BOOST_TEST(c.logs->count(log_level::info, "connection closed with code 1009") == 1u);
  auto st = c.stats();
  BOOST_TEST(st.opens == 2u);
  BOOST_TEST(c.events.count("close reason A message was too large") == 1u, c.events.dump());
  // The refused frame never reached the socket: only the probes' frames did.
  BOOST_TEST(st.frames_in - frames_in <= 8u);
}

BOOST_AUTO_TEST_CASE(max_frame_size_is_the_limit_the_client_applies) {
  mini_phoenix server;
  constexpr size_t limit = 64 * 1024;
  client c{server, [](phx::socket::options& o) { o.max_frame_size = limit; }};
  // Just under the limit: delivered.
  auto fits = std::string(limit - 100, 'y');
  c.send_text_and_probe(frame_of("null", "null", "room:a", "evt", "{\"s\":\"" + fits + "\"}"));
  BOOST_TEST(c.events.count("room:a evt {\"s\":\"" + fits + "\"}") == 1u);
  // One byte over: the connection closes with 1009 and comes back.
  server.send_text(frame_of("null", "null", "room:a", "evt",
                            "{\"s\":\"" + std::string(limit, 'z') + "\"}"));
  BOOST_REQUIRE_MESSAGE(c.events.wait_for("close 1009", max_wait), c.events.dump());
  c.wait_rejoined(2);
  c.probe();
  BOOST_TEST(c.closes() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// -- presence -----------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(presence)

namespace {

/// `key:ref,...;` for every presence, in order.
std::string keys_of(const phx::presence& pr) {
  std::string out;
  for (auto& [key, p] : pr.list()) {
    out += key + ":";
    for (auto& meta : p.metas)
      out += std::string{phx::protocol::phx_ref_of(*meta)} + ",";
    out += ";";
  }
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(diffs_for_unknown_keys_change_only_what_they_name) {
  mini_phoenix server;
  client c{server};
  phx::presence pr{*c.a};
  pr.on_sync([&c] { c.events.add("sync"); });
  server.push("room:a", "presence_state", phx::json(R"({"u1":{"metas":[{"phx_ref":"r1"}]}})"));
  BOOST_REQUIRE(c.events.wait_count("sync", 1, max_wait));
  auto errors = c.errors();
  auto warnings = c.logs->at_least(log_level::warning);
  // Leaves of a key nobody knows, and of an unknown meta of a known key.
  server.push("room:a", "presence_diff",
              phx::json(R"({"joins":{},"leaves":{"ghost":{"metas":[{"phx_ref":"g1"}]}}})"));
  server.push("room:a", "presence_diff",
              phx::json(R"({"joins":{},"leaves":{"u1":{"metas":[{"phx_ref":"zz"}]}}})"));
  // A join of a new key is applied after the existing ones.
  server.push("room:a", "presence_diff",
              phx::json(R"({"joins":{"u2":{"metas":[{"phx_ref":"r2"}]}},"leaves":{}})"));
  BOOST_REQUIRE(c.events.wait_count("sync", 4, max_wait));
  c.probe();
  BOOST_TEST(keys_of(pr) == "u1:r1,;u2:r2,;");
  BOOST_TEST(c.errors() == errors);
  BOOST_TEST(c.logs->at_least(log_level::warning) == warnings);
}

namespace {

/// Presence events whose payload Phoenix would never send.
const std::vector<std::pair<std::string, std::string>> malformed_presence = {
  {"presence_state", R"("x")"},
  {"presence_state", "[1]"},
  {"presence_state", R"({"u2":{"metas":5}})"},
  {"presence_state", R"({"u2":{"metas":[{"no_ref":1}]}})"},
  {"presence_diff", "5"},
  {"presence_diff", R"({"joins":[1]})"},
  {"presence_diff", R"({"leaves":{"u1":5}})"},
  {"presence_diff", R"({"joins":{"u3":{"metas":[7]}}})"},
};

} // namespace

BOOST_AUTO_TEST_CASE(malformed_presence_payloads_leave_the_state_as_it_was) {
  mini_phoenix server;
  client c{server};
  phx::presence pr{*c.a};
  pr.on_sync([&c] { c.events.add("sync"); });
  server.push("room:a", "presence_state", phx::json(R"({"u1":{"metas":[{"phx_ref":"r1"}]}})"));
  BOOST_REQUIRE(c.events.wait_count("sync", 1, max_wait));
  for (auto& [event, body] : malformed_presence) {
    server.push("room:a", event, phx::json(body));
    c.probe();
    BOOST_TEST(keys_of(pr) == "u1:r1,;", event << " " << body);
  }
  // Bytes where presence expects JSON.
  server.send_binary(std::string{"\x02\x06\x0e"} + "room:apresence_state" + "bytes");
  c.probe();
  BOOST_TEST(keys_of(pr) == "u1:r1,;");
  BOOST_TEST(c.events.count("sync") == 1u);
  BOOST_TEST(pr.pending_diffs() == 0u);
}

// The facade (actors/src/presence.cpp, presence::impl::handle) reports the
// error that presence_tracker::handle_state/handle_diff returns: one warning
// line in the socket's logger per malformed payload, no on_error.
BOOST_AUTO_TEST_CASE(malformed_presence_payloads_are_reported_once_each) {
  mini_phoenix server;
  client c{server};
  phx::presence pr{*c.a};
  pr.on_sync([&c] { c.events.add("sync"); });
  server.push("room:a", "presence_state", phx::json(R"({"u1":{"metas":[{"phx_ref":"r1"}]}})"));
  BOOST_REQUIRE(c.events.wait_count("sync", 1, max_wait));
  auto reports = c.errors() + c.logs->at_least(log_level::warning);
  for (auto& [event, body] : malformed_presence)
    server.push("room:a", event, phx::json(body));
  c.probe();
  auto now = c.errors() + c.logs->at_least(log_level::warning);
  BOOST_TEST(now - reports == malformed_presence.size());
  BOOST_TEST(c.logs->count(log_level::warning, "dropping a malformed presence_")
               == malformed_presence.size(),
             c.logs->dump());
}

BOOST_AUTO_TEST_SUITE_END()

// -- memory -------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(memory, *utf::enable_if<!sanitized>())

BOOST_AUTO_TEST_CASE(bursts_of_garbage_leave_memory_and_counters_bounded) {
  mini_phoenix server;
  client c{server, [](phx::socket::options& o) {
    // The debug lines of a burst would only fill the capture.
    o.log_level = log_level::warning;
  }};
  using namespace std::string_literals;
  // One of each kind of garbage that leaves the connection open.
  std::vector<std::pair<std::string, bool>> kinds = {
    {"not json at all", false},
    {R"(["1","2","room:a"])", false},
    {R"([1,2,"room:a","evt",{}])", false},
    {frame_of(c.jr_a, "990", "room:a", "phx_reply", R"({"response":{}})"), false},
    {frame_of("null", "null", "room:a", "evt", nested_arrays(600)), false},
    {"\x01\x05\x01\x06\x02"s + "abc", true},
    {"\x09"s + "xyz", true},
  };
  // Not decode errors: an unknown ref and an unknown topic.
  std::vector<std::string> counted = {
    frame_of(c.jr_a, "424242", "room:a", "phx_reply", R"({"status":"ok","response":{}})"),
    frame_of("null", "null", "room:nobody", "evt", "{}"),
  };
  constexpr size_t rounds = 1500; // per burst: 1500 * 9 frames
  auto burst = [&] {
    for (size_t i = 0; i < rounds; ++i) {
      for (auto& [frame, binary] : kinds)
        binary ? server.send_binary(frame) : server.send_text(frame);
      for (auto& frame : counted)
        server.send_text(frame);
    }
    c.probe();
  };
  auto errors0 = c.errors();
  auto stats0 = c.stats();
  auto chan0 = c.stats(*c.a);
  // The first bursts warm up the allocator arenas of every thread involved.
  constexpr int warm_up = 3;
  constexpr int measured = 3;
  for (int i = 0; i < warm_up; ++i)
    burst();
  auto rss_before = rss_kib();
  auto heap_before = mallinfo2().uordblks;
  for (int i = 0; i < measured; ++i)
    burst();
  auto rss_after = rss_kib();
  auto heap_after = mallinfo2().uordblks;
  auto st = c.stats();
  auto chan = c.stats(*c.a);
  constexpr size_t bursts = warm_up + measured;
  constexpr size_t frames = measured * rounds * 9;
  BOOST_TEST_MESSAGE("RSS after " << warm_up << " bursts: " << rss_before << " KiB, after "
                                  << measured << " more (" << frames << " frames): "
                                  << rss_after << " KiB; heap in use "
                                  << heap_before / 1024 << " -> " << heap_after / 1024 << " KiB");
  BOOST_TEST(c.errors() - errors0 == bursts * rounds * kinds.size());
  BOOST_TEST(st.decode_errors - stats0.decode_errors == bursts * rounds * kinds.size());
  BOOST_TEST(st.unrouted - stats0.unrouted == bursts * rounds);
  BOOST_TEST(chan.unmatched_replies - chan0.unmatched_replies == bursts * rounds);
  BOOST_TEST(c.logs->count(log_level::warning, decode_line) > 0u);
  BOOST_TEST(chan.pending == 0u);
  BOOST_TEST(chan.buffered == 0u);
  BOOST_TEST(st.buffered_frames == 0u);
  BOOST_TEST(c.closes() == 0u);
  // Heap in use, not RSS: a burst queued faster than it is read (a loaded
  // machine) leaves freed pages resident, not allocated. A leak of 8 bytes
  // per frame would fail this bound.
  BOOST_TEST(heap_after <= heap_before + 320 * 1024,
             "heap in use grew from " << heap_before / 1024 << " to " << heap_after / 1024
                                      << " KiB");
}

BOOST_AUTO_TEST_SUITE_END()

// -- leaks ----------------------------------------------------------------------------
// Bytes held by the allocator (all arenas): what stays allocated, without the
// noise of RSS. Each case warms up, then checks that many more operations of
// one kind leave (almost) nothing behind.

BOOST_AUTO_TEST_SUITE(leaks, *utf::enable_if<!sanitized>())

namespace {

/// Bytes the allocator holds for the process.
size_t heap_in_use() {
  return mallinfo2().uordblks;
}

/// Waits (bounded) until at most `n` actors run in `sys`: the actors of
/// finished connections, and PUSH actors that leave a channel's pool, quit
/// right after their last message.
void wait_running_at_most(caf::actor_system& sys, size_t n) {
  for (int i = 0; i < 500 && sys.registry().running() > n; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  BOOST_TEST(sys.registry().running() <= n);
}

/// Forgets what `srv` recorded of its connections (requests, opens, closes):
/// the test's own server lives in this process and must not count.
void forget_connections(phx_test::raw_server& srv) {
  for (int i = 0; i < 100000 && srv.wait_request(std::chrono::milliseconds{0}); ++i)
    continue;
  for (int i = 0; i < 100000 && srv.wait_open(std::chrono::milliseconds{0}); ++i)
    continue;
  auto last = srv.opened_total() + 100;
  for (phx_test::conn_id id = 1; id <= last; ++id)
    srv.wait_closed(id, std::chrono::milliseconds{0});
}

/// The timeout of the pushes below: each arms a timer that CAF 0.17 cannot
/// cancel, so their memory is held that long whatever the outcome.
constexpr auto push_timeout = std::chrono::milliseconds{1000};

/// `n` echo pushes on `ch`, in batches, each with its one outcome checked;
/// returns once their timers expired too.
void echo_pushes(phx::channel& ch, int n) {
  constexpr int batch = 250;
  for (int done = 0; done < n; done += batch) {
    std::vector<phx::push> pushes;
    for (int i = 0; i < batch; ++i)
      pushes.push_back(ch.push("echo", phx::object({{"i", done + i}}), push_timeout));
    for (auto& p : pushes) {
      auto out = p.wait_for(max_wait);
      BOOST_REQUIRE(out);
      BOOST_REQUIRE_EQUAL(out->status, "ok");
    }
  }
  // Not a timing rule under test: the timers must be gone before measuring.
  std::this_thread::sleep_for(push_timeout + std::chrono::milliseconds{200});
}

} // namespace

// CAF 0.17.6 keeps the attachable of a monitor on the MONITORED actor until
// that actor ends, and with it the memory of a quit monitoring actor. Up to
// commit 8faa4a5 every PUSH actor monitored its CHANNEL and never demonitored
// (actors/src/push.cpp:55): about 1.2 KiB per push stayed allocated for the
// channel's whole life. This case guards against that coming back.
BOOST_AUTO_TEST_CASE(pushes_on_a_long_lived_channel_leave_nothing_allocated) {
  mini_phoenix server;
  client c{server, [](phx::socket::options& o) { o.log_level = log_level::warning; }};
  auto& sys = c.sock->system();
  auto running = sys.registry().running();
  echo_pushes(*c.b, 1000);
  // The channel keeps a bounded pool of idle PUSH actors, trimmed by now.
  auto idle = c.stats(*c.b).idle_pushes;
  BOOST_TEST(idle <= phx::channel_actor_state::kept_idle_pushes);
  wait_running_at_most(sys, running + idle);
  auto before = heap_in_use();
  constexpr int pushes = 4000;
  echo_pushes(*c.b, pushes);
  BOOST_TEST(c.stats(*c.b).idle_pushes == idle);
  wait_running_at_most(sys, running + idle);
  c.probe();
  auto after = heap_in_use();
  BOOST_TEST_MESSAGE("heap in use: " << before / 1024 << " KiB, after " << pushes
                                     << " pushes: " << after / 1024 << " KiB");
  BOOST_TEST(c.stats(*c.b).pending == 0u);
  // 64 bytes per push at most: nothing that grows with the pushes.
  BOOST_TEST(after <= before + pushes * 64,
             "the heap grew by " << (after - before) / pushes << " bytes per push");
}

// The same CAF 0.17.6 behaviour: every TRANSPORT monitors its listener (the
// SOCKET); without a `demonitor` before it quits (transport/src/transport.cpp),
// each quit TRANSPORT's memory stayed on the SOCKET for the socket's whole
// life (about 1.1 KiB per connection attempt). This case guards against that.
BOOST_AUTO_TEST_CASE(reconnects_leave_nothing_allocated) {
  phx_test::raw_server_options ro;
  ro.record_messages = false;
  // Every connection is closed by the server as soon as it opens.
  ro.on_open = [](phx_test::raw_server& srv, phx_test::conn_id id) {
    srv.close(id, 1000, "go away");
  };
  phx_test::raw_server srv{ro};
  phx::socket::options opts;
  opts.reconnect_after_ms = [](uint32_t) { return 1u; };
  // Each open arms a heartbeat timer that CAF 0.17 cannot cancel: none here.
  opts.heartbeat_interval_ms = 0;
  opts.log_level = log_level::off;
  phx::socket sock{srv.url("/socket"), opts};
  phx_test::recorder events;
  auto opens = std::make_shared<std::atomic<size_t>>(0);
  sock.on_open([opens, &events] {
    if (++*opens % 100 == 0)
      events.add("opens " + std::to_string(opens->load()));
  });
  auto& sys = sock.system();
  auto running = sys.registry().running() + 1; // + the transport of the moment
  sock.connect();
  BOOST_REQUIRE(events.wait_for("opens 300", std::chrono::seconds{30}));
  forget_connections(srv);
  auto before = heap_in_use();
  constexpr size_t reconnects = 1000;
  BOOST_REQUIRE(events.wait_for("opens 1300", std::chrono::seconds{60}));
  sock.disconnect_and_wait();
  wait_running_at_most(sys, running);
  forget_connections(srv);
  auto after = heap_in_use();
  BOOST_TEST_MESSAGE("heap in use: " << before / 1024 << " KiB, after " << reconnects
                                     << " more reconnects: " << after / 1024 << " KiB");
  // 200 bytes per connection at most: nothing that grows with the reconnects.
  BOOST_TEST(after <= before + reconnects * 200,
             "the heap grew by " << (after - before) / reconnects << " bytes per reconnect");
}

BOOST_AUTO_TEST_SUITE_END()
