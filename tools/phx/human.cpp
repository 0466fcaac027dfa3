#include "human.hpp"

#include <ctime>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "phx/protocol/json.hpp"

namespace phx::cli {

namespace {

// -- the short commands ----------------------------------------------------------------

std::string_view skip_space(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  return s;
}

// The next whitespace-delimited word of `rest` (consumed from it).
std::string_view next_word(std::string_view& rest) {
  rest = skip_space(rest);
  size_t n = 0;
  while (n < rest.size() && rest[n] != ' ' && rest[n] != '\t')
    ++n;
  auto word = rest.substr(0, n);
  rest = skip_space(rest.substr(n));
  return word;
}

// The optional JSON object ending a short command (empty: an empty payload).
std::variant<protocol::payload, line_error> json_argument(std::string_view text,
                                                          std::string_view what) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  if (text.empty())
    return protocol::payload{};
  auto parsed = protocol::payload::parse(text);
  if (!parsed)
    return line_error{std::string{what} + " is not valid JSON: " + parsed.error().what};
  if (!parsed->json().IsObject())
    return line_error{std::string{what} + " must be a JSON object, e.g. {\"body\":\"hi\"}"};
  return std::move(*parsed);
}

// -- rendering -----------------------------------------------------------------------------

/// ANSI SGR sequences, or nothing without colour.
struct palette {
  bool on;
  std::string_view dim() const { return on ? "\x1b[2m" : ""; }
  std::string_view red() const { return on ? "\x1b[31m" : ""; }
  std::string_view green() const { return on ? "\x1b[32m" : ""; }
  std::string_view yellow() const { return on ? "\x1b[33m" : ""; }
  std::string_view cyan() const { return on ? "\x1b[36m" : ""; }
  std::string_view bold() const { return on ? "\x1b[1m" : ""; }
  std::string_view reset() const { return on ? "\x1b[0m" : ""; }
};

/// Payloads longer than this are cut for the screen (the JSON lines keep them whole).
constexpr size_t max_shown_payload = 2048;

std::string str(const rapidjson::Value& obj, const char* name) {
  auto i = obj.FindMember(name);
  if (i == obj.MemberEnd())
    return {};
  if (i->value.IsString())
    return {i->value.GetString(), i->value.GetStringLength()};
  auto text = protocol::to_json_string(i->value);
  return text ? *text : std::string{};
}

// The payload member `name` (or `name_base64`) as compact JSON, cut when long.
std::string shown_payload(const rapidjson::Value& obj, const std::string& name) {
  auto b64 = obj.FindMember((name + "_base64").c_str());
  if (b64 != obj.MemberEnd() && b64->value.IsString()) {
    auto len = b64->value.GetStringLength();
    return "<binary, base64 " + std::string{b64->value.GetString(), len} + ">";
  }
  auto i = obj.FindMember(name.c_str());
  if (i == obj.MemberEnd())
    return {};
  auto text = protocol::to_json_string(i->value);
  if (!text)
    return {};
  if (text->size() > max_shown_payload) {
    auto total = text->size();
    text->resize(max_shown_payload);
    *text += "... (" + std::to_string(total) + " bytes)";
  }
  return *text;
}

// `ann, bob` from a presence list (its keys), `nobody` when empty.
std::string presence_names(const rapidjson::Value& obj) {
  auto i = obj.FindMember("list");
  if (i == obj.MemberEnd() || !i->value.IsObject() || i->value.MemberCount() == 0)
    return "nobody";
  std::string out;
  for (auto& m : i->value.GetObject()) {
    if (!out.empty())
      out += ", ";
    out.append(m.name.GetString(), m.name.GetStringLength());
  }
  return out;
}

} // namespace

interactive_input parse_interactive(std::string_view line) {
  auto rest = skip_space(line);
  if (!rest.empty() && rest.front() == '{') {
    auto parsed = parse_command(rest);
    if (auto err = std::get_if<line_error>(&parsed))
      return *err;
    return std::get<command>(std::move(parsed));
  }
  auto verb = next_word(rest);
  if (verb == "help" || verb == "?")
    return help_request{};
  if (verb == "quit" || verb == "exit")
    return quit_request{};
  if (verb == "connect" || verb == "disconnect") {
    if (!rest.empty())
      return line_error{std::string{verb} + " takes no argument"};
    if (verb == "connect")
      return command{connect_command{}};
    return command{disconnect_command{}};
  }
  if (verb == "join") {
    auto topic = next_word(rest);
    if (topic.empty())
      return line_error{"usage: join TOPIC [JSON params]"};
    auto params = json_argument(rest, "the join params");
    if (auto err = std::get_if<line_error>(&params))
      return *err;
    return command{join_command{std::string{topic}, std::get<protocol::payload>(params)}};
  }
  if (verb == "push") {
    auto topic = next_word(rest);
    auto event = next_word(rest);
    if (topic.empty() || event.empty())
      return line_error{"usage: push TOPIC EVENT [JSON payload]"};
    auto payload = json_argument(rest, "the payload");
    if (auto err = std::get_if<line_error>(&payload))
      return *err;
    push_command cmd;
    cmd.topic = std::string{topic};
    cmd.event = std::string{event};
    cmd.payload = std::get<protocol::payload>(std::move(payload));
    return command{std::move(cmd)};
  }
  if (verb == "leave") {
    auto topic = next_word(rest);
    if (topic.empty() || !rest.empty())
      return line_error{"usage: leave TOPIC"};
    return command{leave_command{std::string{topic}}};
  }
  return line_error{"unknown command \"" + std::string{verb} + "\" (type help)"};
}

std::string interactive_help() {
  return R"(commands:
  join TOPIC [JSON]          join a topic, e.g. join room:lobby {"user":"ann"}
  push TOPIC EVENT [JSON]    push an event, e.g. push room:lobby echo {"body":"hi"}
  leave TOPIC                leave a topic
  disconnect                 close the connection (no reconnect)
  connect                    connect again (channels rejoin)
  {"push":...}               any JSON command line of phx's JSON-lines mode
  help                       this text
  quit                       leave every topic, disconnect and exit (also Ctrl-D)
)";
}

std::string clock_time(std::chrono::system_clock::time_point t) {
  auto secs = std::chrono::system_clock::to_time_t(t);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count()
            % 1000;
  std::tm local{};
  ::localtime_r(&secs, &local);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%03d", local.tm_hour, local.tm_min,
                local.tm_sec, static_cast<int>(ms < 0 ? ms + 1000 : ms));
  return buf;
}

std::string human_line(const std::string& json_line, std::string_view time, bool colour) {
  rapidjson::Document doc;
  doc.Parse(json_line.c_str(), json_line.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("type"))
    return json_line;
  palette p{colour};
  auto type = str(doc, "type");
  auto topic = str(doc, "topic");
  std::string out;
  out += p.dim();
  out += time;
  out += p.reset();
  out += ' ';
  auto status_colour = [&](const std::string& status) {
    return status == "ok" ? p.green() : p.red();
  };
  auto with_reason = [&](std::string text) {
    auto reason = str(doc, "reason");
    if (!reason.empty())
      text += " (" + reason + ")";
    return text;
  };
  if (type == "open") {
    out += p.green();
    out += "connected";
    out += p.reset();
  } else if (type == "close") {
    out += p.yellow();
    out += "closed " + str(doc, "code");
    auto reason = str(doc, "reason");
    if (!reason.empty())
      out += " " + reason;
    out += p.reset();
  } else if (type == "error") {
    out += p.red();
    out += "error: " + str(doc, "reason");
    out += p.reset();
  } else if (type == "state") {
    out += p.dim();
    out += topic + " is " + str(doc, "state");
    out += p.reset();
  } else if (type == "join") {
    auto status = str(doc, "status");
    out += p.bold();
    out += topic;
    out += p.reset();
    out += " join ";
    out += status_colour(status);
    out += status;
    out += p.reset();
    out += with_reason(" " + shown_payload(doc, "response"));
  } else if (type == "reply") {
    auto status = str(doc, "status");
    out += p.bold();
    out += topic;
    out += p.reset();
    out += " reply #" + str(doc, "id") + " " + str(doc, "event") + " ";
    out += status_colour(status);
    out += status;
    out += p.reset();
    out += with_reason(" " + shown_payload(doc, "response"));
  } else if (type == "event") {
    out += p.bold();
    out += topic;
    out += p.reset();
    out += ' ';
    out += p.cyan();
    out += str(doc, "event");
    out += p.reset();
    out += " " + shown_payload(doc, "payload");
  } else if (type == "presence") {
    out += p.bold();
    out += topic;
    out += p.reset();
    out += " present: " + presence_names(doc);
  } else {
    return json_line;
  }
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

bool wants_colour(const char* term, const char* no_color) noexcept {
  if (no_color != nullptr && *no_color != '\0')
    return false;
  return term != nullptr && *term != '\0' && std::string_view{term} != "dumb";
}

} // namespace phx::cli
