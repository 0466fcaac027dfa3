// The phx tool's pure parts: argument parsing, input line parsing, output
// lines and the bounded line reader. No server, no sockets.
#define BOOST_TEST_MODULE phx_cli_unit
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "cli.hpp"
#include "human.hpp"
#include "session.hpp"

using namespace phx::cli;

namespace {

options parse_ok(const std::vector<std::string>& args) {
  auto r = parse_args(args);
  if (auto err = std::get_if<usage_error>(&r))
    BOOST_FAIL("unexpected usage error: " + err->message);
  return std::get<options>(std::move(r));
}

std::string parse_bad(const std::vector<std::string>& args) {
  auto r = parse_args(args);
  BOOST_REQUIRE_MESSAGE(std::holds_alternative<usage_error>(r), "expected a usage error");
  return std::get<usage_error>(r).message;
}

command command_ok(std::string_view line) {
  auto r = parse_command(line);
  if (auto err = std::get_if<line_error>(&r))
    BOOST_FAIL("unexpected line error: " + err->reason);
  return std::get<command>(std::move(r));
}

std::string command_bad(std::string_view line) {
  auto r = parse_command(line);
  BOOST_REQUIRE_MESSAGE(std::holds_alternative<line_error>(r),
                        "expected a line error for " + std::string{line});
  return std::get<line_error>(r).reason;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

// -- arguments ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(every_flag_is_parsed_in_both_spellings) {
  auto o = parse_ok({"ws://127.0.0.1:4000/socket", "--param", "user=ann", "--param=token=a=b",
                     "--header", "X-Key: v 1", "--auth-token", "tok", "--vsn=1.0.0", "--join",
                     "room:a", "--join", "room:b", "--join-params", R"({"k":"v"})",
                     "--timeout-ms", "250", "--heartbeat-ms=0", "--insecure", "--log-level",
                     "debug"});
  BOOST_CHECK_EQUAL(o.url, "ws://127.0.0.1:4000/socket");
  BOOST_REQUIRE_EQUAL(o.params.size(), 2u);
  BOOST_CHECK_EQUAL(o.params[0].first, "user");
  BOOST_CHECK_EQUAL(o.params[0].second, "ann");
  // Only the first '=' splits: values may hold '='.
  BOOST_CHECK_EQUAL(o.params[1].first, "token");
  BOOST_CHECK_EQUAL(o.params[1].second, "a=b");
  BOOST_REQUIRE_EQUAL(o.headers.size(), 1u);
  BOOST_CHECK_EQUAL(o.headers[0].first, "X-Key");
  BOOST_CHECK_EQUAL(o.headers[0].second, "v 1");
  BOOST_CHECK_EQUAL(o.auth_token.value_or(""), "tok");
  BOOST_CHECK_EQUAL(o.vsn, "1.0.0");
  BOOST_REQUIRE_EQUAL(o.joins.size(), 2u);
  BOOST_CHECK_EQUAL(o.joins[1], "room:b");
  BOOST_CHECK_EQUAL(o.join_params.to_string(), R"({"k":"v"})");
  BOOST_CHECK_EQUAL(o.timeout_ms, 250u);
  BOOST_CHECK_EQUAL(o.heartbeat_ms, 0u);
  BOOST_CHECK(o.insecure);
  BOOST_CHECK(o.log_level == phx::protocol::log_level::debug);
}

BOOST_AUTO_TEST_CASE(defaults_follow_the_library) {
  auto o = parse_ok({"wss://example.com/socket"});
  BOOST_CHECK_EQUAL(o.vsn, "2.0.0");
  BOOST_CHECK_EQUAL(o.timeout_ms, 10000u);
  BOOST_CHECK_EQUAL(o.heartbeat_ms, 30000u);
  BOOST_CHECK(!o.insecure);
  BOOST_CHECK(!o.auth_token);
  BOOST_CHECK(o.joins.empty());
  BOOST_CHECK_EQUAL(o.join_params.to_string(), "{}");
  BOOST_CHECK(o.log_level == phx::protocol::log_level::warning);
}

BOOST_AUTO_TEST_CASE(help_needs_no_url) {
  BOOST_CHECK(parse_ok({"--help"}).help);
  BOOST_CHECK(parse_ok({"-h"}).help);
  BOOST_CHECK(contains(usage(), "usage: phx URL"));
}

BOOST_AUTO_TEST_CASE(bad_usage_is_named_without_repeating_values) {
  const std::string url = "ws://127.0.0.1:4000/socket";
  BOOST_CHECK(contains(parse_bad({}), "missing URL"));
  BOOST_CHECK(contains(parse_bad({"--join", "room:a"}), "missing URL"));
  BOOST_CHECK(contains(parse_bad({url, "--nope"}), "unknown option --nope"));
  auto unknown = parse_bad({url, "--nope=secret"});
  BOOST_CHECK(contains(unknown, "--nope") && !contains(unknown, "secret"));
  BOOST_CHECK(contains(parse_bad({"http//host/socket"}), "invalid URL"));
  BOOST_CHECK(contains(parse_bad({"ws://host"}), "invalid URL"));
  BOOST_CHECK(contains(parse_bad({url, url}), "unexpected extra argument"));
  BOOST_CHECK(contains(parse_bad({url, "--param"}), "--param needs a value"));
  auto param = parse_bad({url, "--param", "secret"});
  BOOST_CHECK(contains(param, "KEY=VALUE") && !contains(param, "secret"));
  BOOST_CHECK(contains(parse_bad({url, "--param", "=v"}), "KEY=VALUE"));
  auto header = parse_bad({url, "--header", "secret"});
  BOOST_CHECK(contains(header, "NAME:VALUE") && !contains(header, "secret"));
  BOOST_CHECK(contains(parse_bad({url, "--header", "Bad Name: v"}), "header name"));
  auto injected = parse_bad({url, "--header", "X-Key: secret\r\nEvil: 1"});
  BOOST_CHECK(contains(injected, "control characters") && !contains(injected, "secret"));
  BOOST_CHECK(contains(parse_bad({url, "--auth-token", ""}), "--auth-token"));
  auto json = parse_bad({url, "--join-params", R"({"token":"secret")"});
  BOOST_CHECK(contains(json, "not valid JSON") && !contains(json, "secret"));
  BOOST_CHECK(contains(parse_bad({url, "--join-params", "[]"}), "must be a JSON object"));
  BOOST_CHECK(contains(parse_bad({url, "--vsn", "3.0.0"}), "--vsn"));
  BOOST_CHECK(contains(parse_bad({url, "--timeout-ms", "0"}), "--timeout-ms"));
  BOOST_CHECK(contains(parse_bad({url, "--timeout-ms", "12x"}), "--timeout-ms"));
  BOOST_CHECK(contains(parse_bad({url, "--timeout-ms", "99999999999"}), "--timeout-ms"));
  BOOST_CHECK(contains(parse_bad({url, "--heartbeat-ms", "-1"}), "--heartbeat-ms"));
  BOOST_CHECK(contains(parse_bad({url, "--log-level", "loud"}), "--log-level"));
  BOOST_CHECK(contains(parse_bad({url, "--ca-file", "/nonexistent/x.pem"}), "cannot read"));
  BOOST_CHECK(contains(parse_bad({url, "--insecure=yes"}), "--insecure"));
  BOOST_CHECK(contains(parse_bad({url, "--join", ""}), "--join needs a topic"));
}

BOOST_AUTO_TEST_CASE(double_dash_ends_the_options) {
  auto o = parse_ok({"--join", "room:a", "--", "ws://h/socket"});
  BOOST_CHECK_EQUAL(o.url, "ws://h/socket");
}

// -- input commands ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(every_command_is_parsed) {
  auto join = std::get<join_command>(command_ok(R"({"join":"room:a","params":{"x":1}})"));
  BOOST_CHECK_EQUAL(join.topic, "room:a");
  BOOST_CHECK_EQUAL(join.params.to_string(), R"({"x":1})");
  auto bare_join = std::get<join_command>(command_ok(R"({"join":"room:a"})"));
  BOOST_CHECK_EQUAL(bare_join.params.to_string(), "{}");

  auto push = std::get<push_command>(command_ok(
    R"({"push":"echo","topic":"room:a","payload":{"b":[1,2]},"id":{"x":"y"},"timeout_ms":250})"));
  BOOST_CHECK_EQUAL(push.event, "echo");
  BOOST_CHECK_EQUAL(push.topic, "room:a");
  BOOST_CHECK(push.payload.is_json());
  BOOST_CHECK_EQUAL(push.payload.to_string(), R"({"b":[1,2]})");
  BOOST_CHECK_EQUAL(push.id_json, R"({"x":"y"})");
  BOOST_CHECK_EQUAL(push.timeout_ms.value_or(0), 250u);

  auto bare = std::get<push_command>(command_ok(R"({"push":"echo","topic":"room:a"})"));
  BOOST_CHECK_EQUAL(bare.payload.to_string(), "{}");
  BOOST_CHECK(bare.id_json.empty());
  BOOST_CHECK(!bare.timeout_ms);

  auto bin = std::get<push_command>(
    command_ok(R"({"push":"bin","topic":"room:a","payload_base64":"AAEC/w=="})"));
  BOOST_REQUIRE(bin.payload.is_binary());
  BOOST_CHECK_EQUAL(bin.payload.binary_view(), std::string("\x00\x01\x02\xff", 4));

  BOOST_CHECK_EQUAL(std::get<leave_command>(command_ok(R"({"leave":"room:a"})")).topic,
                    "room:a");
  BOOST_CHECK_EQUAL(std::get<sleep_command>(command_ok(R"({"sleep_ms":0})")).ms, 0u);
  BOOST_CHECK_EQUAL(std::get<sleep_command>(command_ok(R"({"sleep_ms":3600000})")).ms,
                    3600000u);
  BOOST_CHECK(std::holds_alternative<disconnect_command>(command_ok(R"({"disconnect":true})")));
  BOOST_CHECK(std::holds_alternative<connect_command>(command_ok(R"({"connect":true})")));
  // Surrounding whitespace is JSON whitespace.
  BOOST_CHECK(std::holds_alternative<connect_command>(command_ok(" {\"connect\" : true}\t")));
}

BOOST_AUTO_TEST_CASE(malformed_lines_name_the_problem) {
  BOOST_CHECK(contains(command_bad("nope"), "not JSON"));
  BOOST_CHECK(contains(command_bad(R"({"join":"a")"), "not JSON"));
  BOOST_CHECK(contains(command_bad("\"join\""), "must be a JSON object"));
  BOOST_CHECK(contains(command_bad("[]"), "must be a JSON object"));
  BOOST_CHECK(contains(command_bad("{}"), "unknown command"));
  BOOST_CHECK(contains(command_bad(R"({"jion":"a"})"), "unknown command"));
  BOOST_CHECK(contains(command_bad(R"({"join":"a","leave":"a"})"), "one command"));
  BOOST_CHECK(contains(command_bad(R"({"join":""})"), R"("join" must be a non-empty string)"));
  BOOST_CHECK(contains(command_bad(R"({"join":1})"), R"("join" must be a non-empty string)"));
  BOOST_CHECK(contains(command_bad(R"({"join":"a","params":[]})"), R"("params" must be a JSON object)"));
  BOOST_CHECK(contains(command_bad(R"({"join":"a","extra":1})"), R"(unknown field "extra")"));
  BOOST_CHECK(contains(command_bad(R"({"push":"e"})"), R"(missing "topic")"));
  BOOST_CHECK(contains(command_bad(R"({"push":"e","topic":null})"), R"("topic" must be)"));
  BOOST_CHECK(contains(command_bad(R"({"push":"e","topic":"t","payload":"x"})"),
                       R"("payload" must be a JSON object)"));
  BOOST_CHECK(contains(command_bad(R"({"push":"e","topic":"t","payload":{},"payload_base64":""})"),
                       "not both"));
  BOOST_CHECK(contains(command_bad(R"({"push":"e","topic":"t","payload_base64":5})"),
                       "must be a string of base64"));
  BOOST_CHECK(contains(command_bad(R"({"push":"e","topic":"t","payload_base64":"a"})"),
                       "not base64"));
  BOOST_CHECK(contains(command_bad(R"({"push":"e","topic":"t","timeout_ms":0})"), "timeout_ms"));
  BOOST_CHECK(contains(command_bad(R"({"push":"e","topic":"t","timeout_ms":1.5})"), "timeout_ms"));
  BOOST_CHECK(contains(command_bad(R"({"push":"e","topic":"t","timeout_ms":"9"})"), "timeout_ms"));
  BOOST_CHECK(contains(command_bad(R"({"leave":["a"]})"), R"("leave" must be)"));
  BOOST_CHECK(contains(command_bad(R"({"sleep_ms":-5})"), "sleep_ms"));
  BOOST_CHECK(contains(command_bad(R"({"sleep_ms":3600001})"), "sleep_ms"));
  BOOST_CHECK(contains(command_bad(R"({"disconnect":1})"), R"("disconnect" must be true)"));
  BOOST_CHECK(contains(command_bad(R"({"connect":false})"), R"("connect" must be true)"));
  BOOST_CHECK(contains(command_bad(R"({"connect":true,"now":1})"), R"(unknown field "now")"));
  // Invalid UTF-8 is refused by the JSON parser, not echoed.
  BOOST_CHECK(contains(command_bad("{\"join\":\"\xff\"}"), "not JSON"));
}

BOOST_AUTO_TEST_CASE(blank_lines_are_recognized) {
  BOOST_CHECK(is_blank(""));
  BOOST_CHECK(is_blank(" \t\r"));
  BOOST_CHECK(!is_blank(" {}"));
}

// -- output lines --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(output_lines_have_their_documented_shape) {
  auto obj = *phx::protocol::payload::parse(R"({"a":[1,"x"]})");
  auto bytes = phx::protocol::payload::binary(std::string("\x00\xff", 2));
  BOOST_CHECK_EQUAL(open_line(), R"({"type":"open"})");
  BOOST_CHECK_EQUAL(close_line(1006, "lost \"it\""),
                    R"({"type":"close","code":1006,"reason":"lost \"it\""})");
  BOOST_CHECK_EQUAL(error_line("bad\nline"), R"({"type":"error","reason":"bad\nline"})");
  BOOST_CHECK_EQUAL(state_line("room:a", "joined"),
                    R"({"type":"state","topic":"room:a","state":"joined"})");
  BOOST_CHECK_EQUAL(join_line("room:a", "ok", obj),
                    R"({"type":"join","topic":"room:a","status":"ok","response":{"a":[1,"x"]}})");
  BOOST_CHECK_EQUAL(reply_line("7", "room:a", "echo", "ok", obj),
                    R"({"type":"reply","id":7,"topic":"room:a","event":"echo","status":"ok","response":{"a":[1,"x"]}})");
  BOOST_CHECK_EQUAL(reply_line(R"("x")", "room:a", "bin", "ok", bytes),
                    R"({"type":"reply","id":"x","topic":"room:a","event":"bin","status":"ok","response_base64":"AP8="})");
  BOOST_CHECK_EQUAL(reply_line("1", "t", "e", "failed", phx::protocol::payload{}, "why"),
                    R"({"type":"reply","id":1,"topic":"t","event":"e","status":"failed","response":{},"reason":"why"})");
  BOOST_CHECK_EQUAL(event_line("room:a", "shout", obj),
                    R"({"type":"event","topic":"room:a","event":"shout","payload":{"a":[1,"x"]}})");
  BOOST_CHECK_EQUAL(event_line("room:a", "bin", bytes),
                    R"({"type":"event","topic":"room:a","event":"bin","payload_base64":"AP8="})");
  BOOST_CHECK_EQUAL(presence_line("presence:a", *phx::protocol::payload::parse(R"({"u":{"metas":[]}})")),
                    R"({"type":"presence","topic":"presence:a","list":{"u":{"metas":[]}}})");
}

BOOST_AUTO_TEST_CASE(the_writer_writes_whole_lines) {
  std::ostringstream out;
  line_writer w{out};
  w.write(open_line());
  w.write(error_line("x"));
  BOOST_CHECK_EQUAL(out.str(), "{\"type\":\"open\"}\n{\"type\":\"error\",\"reason\":\"x\"}\n");
}

// -- line splitter -------------------------------------------------------------------------

namespace {

// Every (status, line) the splitter reports for `chunks` fed one after another.
std::vector<std::pair<line_splitter::status, std::string>>
split(const std::vector<std::string>& chunks, size_t max_line = line_splitter::default_max_line) {
  std::vector<std::pair<line_splitter::status, std::string>> out;
  line_splitter s{max_line};
  auto f = [&](line_splitter::status st, std::string& line) { out.emplace_back(st, line); };
  for (auto& c : chunks)
    s.feed(c, f);
  s.end(f);
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(the_splitter_splits_lines_across_chunks_and_strips_carriage_returns) {
  auto lines = split({"a\r", "\nb", "b\n\nla", "st"});
  BOOST_REQUIRE_EQUAL(lines.size(), 4u);
  BOOST_CHECK_EQUAL(lines[0].second, "a");
  BOOST_CHECK_EQUAL(lines[1].second, "bb");
  BOOST_CHECK_EQUAL(lines[2].second, "");
  BOOST_CHECK_EQUAL(lines[3].second, "last");
  for (auto& [st, line] : lines)
    BOOST_CHECK(st == line_splitter::status::line);
  BOOST_CHECK(split({}).empty());
  BOOST_CHECK_EQUAL(split({"x\n"}).size(), 1u);
}

BOOST_AUTO_TEST_CASE(the_splitter_skips_an_overlong_line_and_goes_on) {
  auto lines = split({"12345\n" + std::string(60, 'x'), std::string(40, 'x') + "\nok\n"}, 10);
  BOOST_REQUIRE_EQUAL(lines.size(), 3u);
  BOOST_CHECK(lines[0].first == line_splitter::status::line);
  BOOST_CHECK_EQUAL(lines[0].second, "12345");
  BOOST_CHECK(lines[1].first == line_splitter::status::too_long);
  BOOST_CHECK(lines[1].second.empty());
  BOOST_CHECK(lines[2].first == line_splitter::status::line);
  BOOST_CHECK_EQUAL(lines[2].second, "ok");
}

// -- exit-code flags -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(strict_max_reconnects_open_deadline_and_json_are_parsed) {
  auto o = parse_ok({"ws://127.0.0.1:4000/socket", "--strict", "--max-reconnects", "0",
                     "--open-deadline-ms=250", "--json"});
  BOOST_CHECK(o.strict);
  BOOST_REQUIRE(o.max_reconnects);
  BOOST_CHECK_EQUAL(*o.max_reconnects, 0u);
  BOOST_REQUIRE(o.open_deadline_ms);
  BOOST_CHECK_EQUAL(*o.open_deadline_ms, 250u);
  BOOST_CHECK(o.json);
  auto d = parse_ok({"ws://127.0.0.1:4000/socket"});
  BOOST_CHECK(!d.strict && !d.max_reconnects && !d.open_deadline_ms && !d.json);
  const std::string url = "ws://127.0.0.1:4000/socket";
  BOOST_CHECK(contains(parse_bad({url, "--max-reconnects", "-1"}), "--max-reconnects"));
  BOOST_CHECK(contains(parse_bad({url, "--open-deadline-ms", "0"}), "--open-deadline-ms"));
  BOOST_CHECK(contains(parse_bad({url, "--strict=yes"}), "--strict takes no value"));
  BOOST_CHECK(contains(parse_bad({url, "--json=1"}), "--json takes no value"));
  BOOST_CHECK(parse_ok({"--version"}).version);
  BOOST_CHECK(contains(version_text(), "phx "));
}

BOOST_AUTO_TEST_CASE(the_usage_documents_the_exit_codes_and_the_new_flags) {
  auto text = usage();
  for (auto part : {"--strict", "--max-reconnects N", "--open-deadline-ms N", "--json",
                    "exit status:", "  0  ", "  1  ", "  2  bad usage", "not sent: ...",
                    "interactive commands"})
    BOOST_CHECK_MESSAGE(contains(text, part), part);
}

BOOST_AUTO_TEST_CASE(transport_fallback_and_compress_are_parsed) {
  const std::string url = "ws://127.0.0.1:4000/socket";
  auto d = parse_ok({url});
  BOOST_CHECK(d.transport == phx::transport_choice::websocket);
  BOOST_CHECK(!d.long_poll_fallback_ms && !d.compress);
  auto a = parse_ok({url, "--transport", "auto", "--long-poll-fallback-ms=1500", "--compress"});
  BOOST_CHECK(a.transport == phx::transport_choice::automatic);
  BOOST_REQUIRE(a.long_poll_fallback_ms);
  BOOST_CHECK_EQUAL(*a.long_poll_fallback_ms, 1500u);
  BOOST_CHECK(a.compress);
  BOOST_CHECK(parse_ok({url, "--transport=longpoll"}).transport
              == phx::transport_choice::longpoll);
  // As phoenix.js: the fallback time with the WebSocket transport turns the fallback on.
  auto w = parse_ok({url, "--long-poll-fallback-ms", "800"});
  BOOST_CHECK(w.transport == phx::transport_choice::websocket);
  BOOST_CHECK_EQUAL(w.long_poll_fallback_ms.value_or(0), 800u);
  BOOST_CHECK(contains(parse_bad({url, "--transport", "LongPoll"}),
                       "--transport must be websocket, longpoll or auto"));
  BOOST_CHECK(contains(parse_bad({url, "--transport"}), "--transport needs a value"));
  BOOST_CHECK(contains(parse_bad({url, "--long-poll-fallback-ms", "0"}),
                       "--long-poll-fallback-ms expects"));
  BOOST_CHECK(contains(parse_bad({url, "--long-poll-fallback-ms", "soon"}),
                       "--long-poll-fallback-ms expects"));
  BOOST_CHECK(contains(parse_bad({url, "--compress=yes"}), "--compress takes no value"));
  BOOST_CHECK(contains(parse_bad({url, "--transport", "longpoll", "--long-poll-fallback-ms", "9"}),
                       "--long-poll-fallback-ms needs --transport websocket or auto"));
  BOOST_CHECK(contains(parse_bad({url, "--compress", "--transport", "longpoll"}),
                       "--compress applies to WebSocket frames"));
  for (auto part : {"--transport T", "--long-poll-fallback-ms N", "--compress",
                    "X-Phoenix-AuthToken"})
    BOOST_CHECK_MESSAGE(contains(usage(), part), part);
}

BOOST_AUTO_TEST_CASE(the_session_hands_the_transport_options_to_the_socket) {
  auto o = parse_ok({"ws://127.0.0.1:4000/socket", "--transport", "auto",
                     "--long-poll-fallback-ms", "1200", "--compress"});
  auto so = socket_options_of(o);
  BOOST_CHECK(so.transport == phx::transport_choice::automatic);
  BOOST_CHECK_EQUAL(so.long_poll_fallback_ms.value_or(0), 1200u);
  BOOST_CHECK(so.compress);
}

BOOST_AUTO_TEST_CASE(a_join_line_carries_a_reason_only_when_given) {
  phx::protocol::payload none;
  BOOST_CHECK_EQUAL(join_line("room:a", "timeout", none, "not sent: x"),
                    R"({"type":"join","topic":"room:a","status":"timeout","response":{},"reason":"not sent: x"})");
  BOOST_CHECK_EQUAL(join_line("room:a", "ok", none),
                    R"({"type":"join","topic":"room:a","status":"ok","response":{}})");
}

// -- interactive commands ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(short_commands_become_the_commands_of_json_lines) {
  auto join = parse_interactive(R"(join room:lobby {"p":1})");
  auto* j = std::get_if<join_command>(&std::get<command>(join));
  BOOST_REQUIRE(j);
  BOOST_CHECK_EQUAL(j->topic, "room:lobby");
  BOOST_CHECK_EQUAL(j->params.to_string(), R"({"p":1})");
  auto push = parse_interactive(R"(  push room:lobby echo   {"body":"hi there"} )");
  auto* p = std::get_if<push_command>(&std::get<command>(push));
  BOOST_REQUIRE(p);
  BOOST_CHECK_EQUAL(p->topic, "room:lobby");
  BOOST_CHECK_EQUAL(p->event, "echo");
  BOOST_CHECK_EQUAL(p->payload.to_string(), R"({"body":"hi there"})");
  auto bare = parse_interactive("push room:lobby ping");
  BOOST_CHECK_EQUAL(std::get<push_command>(std::get<command>(bare)).payload.to_string(), "{}");
  auto leave = parse_interactive("leave room:lobby");
  BOOST_CHECK_EQUAL(std::get<leave_command>(std::get<command>(leave)).topic, "room:lobby");
  BOOST_CHECK(std::holds_alternative<connect_command>(std::get<command>(parse_interactive("connect"))));
  BOOST_CHECK(std::holds_alternative<disconnect_command>(
    std::get<command>(parse_interactive("disconnect"))));
  BOOST_CHECK(std::holds_alternative<help_request>(parse_interactive("help")));
  BOOST_CHECK(std::holds_alternative<quit_request>(parse_interactive("quit")));
  BOOST_CHECK(std::holds_alternative<quit_request>(parse_interactive("exit")));
  auto json = parse_interactive(R"({"push":"echo","topic":"t","id":"x"})");
  BOOST_CHECK_EQUAL(std::get<push_command>(std::get<command>(json)).id_json, R"("x")");
}

BOOST_AUTO_TEST_CASE(bad_short_commands_say_how_to_write_them) {
  auto reason = [](std::string_view line) {
    auto r = parse_interactive(line);
    BOOST_REQUIRE_MESSAGE(std::holds_alternative<line_error>(r), std::string{line});
    return std::get<line_error>(r).reason;
  };
  BOOST_CHECK(contains(reason("join"), "usage: join TOPIC"));
  BOOST_CHECK(contains(reason("push room:lobby"), "usage: push TOPIC EVENT"));
  BOOST_CHECK(contains(reason("push room:lobby echo {nope"), "not valid JSON"));
  BOOST_CHECK(contains(reason("push room:lobby echo [1]"), "must be a JSON object"));
  BOOST_CHECK(contains(reason("leave"), "usage: leave TOPIC"));
  BOOST_CHECK(contains(reason("leave a b"), "usage: leave TOPIC"));
  BOOST_CHECK(contains(reason("connect now"), "takes no argument"));
  BOOST_CHECK(contains(reason("shout"), "unknown command \"shout\" (type help)"));
  BOOST_CHECK(contains(reason(R"({"nope":1})"), "unknown command"));
  for (auto word : {"join TOPIC", "push TOPIC EVENT", "leave TOPIC", "quit"})
    BOOST_CHECK_MESSAGE(contains(interactive_help(), word), word);
}

// -- for a person --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(events_are_shown_as_time_topic_event_and_compact_payload) {
  auto obj = *phx::protocol::payload::parse(R"({"body": "hi"})");
  const std::string t = "12:34:56.789";
  BOOST_CHECK_EQUAL(human_line(event_line("room:lobby", "shout", obj), t, false),
                    R"(12:34:56.789 room:lobby shout {"body":"hi"})");
  BOOST_CHECK_EQUAL(human_line(reply_line("3", "room:lobby", "echo", "ok", obj), t, false),
                    R"(12:34:56.789 room:lobby reply #3 echo ok {"body":"hi"})");
  BOOST_CHECK_EQUAL(human_line(reply_line("3", "r", "e", "timeout", {}, "not sent: x"), t, false),
                    "12:34:56.789 r reply #3 e timeout {} (not sent: x)");
  BOOST_CHECK_EQUAL(human_line(join_line("room:a", "ok", obj), t, false),
                    R"(12:34:56.789 room:a join ok {"body":"hi"})");
  BOOST_CHECK_EQUAL(human_line(open_line(), t, false), "12:34:56.789 connected");
  BOOST_CHECK_EQUAL(human_line(close_line(1000, ""), t, false), "12:34:56.789 closed 1000");
  BOOST_CHECK_EQUAL(human_line(error_line("connection refused"), t, false),
                    "12:34:56.789 error: connection refused");
  BOOST_CHECK_EQUAL(human_line(state_line("room:a", "joined"), t, false),
                    "12:34:56.789 room:a is joined");
  auto list = *phx::protocol::payload::parse(R"({"ann":{"metas":[]},"bob":{"metas":[]}})");
  BOOST_CHECK_EQUAL(human_line(presence_line("presence:a", list), t, false),
                    "12:34:56.789 presence:a present: ann, bob");
  BOOST_CHECK_EQUAL(human_line(event_line("b", "bin", phx::protocol::payload::binary("\x01")), t,
                               false),
                    "12:34:56.789 b bin <binary, base64 AQ==>");
  BOOST_CHECK_EQUAL(human_line("not ours", t, false), "not ours");
  // Colour: the same words inside ANSI sequences.
  auto coloured = human_line(event_line("room:lobby", "shout", obj), t, true);
  BOOST_CHECK(contains(coloured, "\x1b[36mshout\x1b[0m"));
  BOOST_CHECK(contains(coloured, R"({"body":"hi"})"));
  BOOST_CHECK(contains(human_line(error_line("x"), t, true), "\x1b[31m"));
}

BOOST_AUTO_TEST_CASE(long_payloads_are_cut_on_the_screen) {
  auto big = *phx::protocol::payload::parse("{\"k\":\"" + std::string(5000, 'a') + "\"}");
  auto shown = human_line(event_line("t", "e", big), "t0", false);
  BOOST_CHECK(shown.size() < 2200);
  BOOST_CHECK(contains(shown, "... (5008 bytes)"));
}

BOOST_AUTO_TEST_CASE(colour_follows_term_and_no_color) {
  BOOST_CHECK(wants_colour("xterm-256color", nullptr));
  BOOST_CHECK(wants_colour("screen", ""));
  BOOST_CHECK(!wants_colour("xterm", "1"));
  BOOST_CHECK(!wants_colour("dumb", nullptr));
  BOOST_CHECK(!wants_colour(nullptr, nullptr));
  BOOST_CHECK(!wants_colour("", nullptr));
}

BOOST_AUTO_TEST_CASE(clock_time_has_milliseconds) {
  auto t = clock_time(std::chrono::system_clock::now());
  BOOST_REQUIRE_EQUAL(t.size(), 12u);
  BOOST_CHECK(t[2] == ':' && t[5] == ':' && t[8] == '.');
}

// -- the ledger behind the exit code ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_ledger_counts_each_topic_by_its_latest_join_attempt) {
  ledger l;
  auto a = l.add_join("room:a");
  l.on_channel_state(*a, phx::channel_state::joining);
  l.opened();
  BOOST_CHECK_EQUAL(l.join_outcome(*a, "error", ""), "");
  // The rejoin joined: its latest attempt counts.
  l.on_channel_state(*a, phx::channel_state::joining);
  l.join_outcome(*a, "ok", "");
  BOOST_CHECK(l.failures(false).empty());
  // A new join of a topic replaces the earlier one: only the new one counts.
  auto b = l.add_join("room:b");
  l.join_outcome(*b, "error", "");
  auto b2 = l.add_join("room:b");
  l.join_outcome(*b2, "ok", "");
  BOOST_CHECK(l.failures(false).empty());
  auto c = l.add_join("room:c");
  auto f = l.failures(false);
  BOOST_REQUIRE_EQUAL(f.size(), 1u);
  BOOST_CHECK_EQUAL(f[0], R"(the join of "room:c" never happened)");
  l.join_outcome(*c, "error", "");
  BOOST_CHECK_EQUAL(l.failures(false).at(0), R"(the join of "room:c" ended error)");
}

BOOST_AUTO_TEST_CASE(the_ledger_says_not_sent_only_for_what_was_never_sent) {
  ledger l;
  auto a = l.add_join("room:a");
  l.on_channel_state(*a, phx::channel_state::joining);
  // A push made while the channel waits for its join.
  auto waiting = l.mark_push(a);
  BOOST_CHECK_EQUAL(l.push_outcome(waiting, "timeout", "push_timeout: no reply in time"),
                    "not sent: the connection never opened");
  l.opened();
  l.on_channel_state(*a, phx::channel_state::joined);
  // Made before the join but flushed by it: sent, the library's reason stands.
  auto flushed = l.mark_push(a);
  l.on_channel_state(*a, phx::channel_state::errored);
  l.on_channel_state(*a, phx::channel_state::joining);
  auto buffered = l.mark_push(a);
  BOOST_CHECK_EQUAL(l.push_outcome(flushed, "timeout", "push_timeout: no reply in time"),
                    "push_timeout: no reply in time");
  BOOST_CHECK_EQUAL(l.push_outcome(buffered, "timeout", "x"), "not sent: the channel was not joined");
  // "failed" is refused locally by definition: the library's reason names why.
  BOOST_CHECK_EQUAL(l.push_outcome(buffered, "failed", "encode_failed: y"), "encode_failed: y");
  l.lost();
  l.on_channel_state(*a, phx::channel_state::joining);
  l.closing("phx closed");
  BOOST_CHECK_EQUAL(l.join_outcome(*a, "timeout", "channel_closed: z"),
                    "not sent: phx closed while the connection was not open");
  BOOST_CHECK(l.give_up("why"));
  BOOST_CHECK(!l.give_up("again"));
  BOOST_CHECK_EQUAL(l.push_outcome(l.mark_push(a), "timeout", ""),
                    "not sent: phx gave up before the channel joined");
}

BOOST_AUTO_TEST_CASE(the_ledger_names_every_reason_for_exit_1) {
  ledger l;
  auto f = l.failures(false);
  BOOST_REQUIRE_EQUAL(f.size(), 1u);
  BOOST_CHECK_EQUAL(f[0], "the connection never opened");
  l.opened();
  auto a = l.add_join("room:a");
  l.on_channel_state(*a, phx::channel_state::joining);
  l.join_outcome(*a, "ok", "");
  l.on_channel_state(*a, phx::channel_state::joined);
  l.push_outcome(l.mark_push(a), "error", "");
  l.refused_line();
  BOOST_CHECK(l.failures(false).empty());
  auto strict = l.failures(true);
  BOOST_REQUIRE_EQUAL(strict.size(), 2u);
  BOOST_CHECK_EQUAL(strict[0], "1 push(es) did not end ok (--strict)");
  BOOST_CHECK_EQUAL(strict[1], "1 input line(s) refused (--strict)");
  l.missing_outcomes(2, "push(es)");
  l.give_up("the connection did not open within 5 ms (--open-deadline-ms)");
  f = l.failures(false);
  BOOST_REQUIRE_EQUAL(f.size(), 2u);
  BOOST_CHECK_EQUAL(f[0], "gave up: the connection did not open within 5 ms (--open-deadline-ms)");
  BOOST_CHECK_EQUAL(f[1], "2 push(es) got no outcome in time");
}
