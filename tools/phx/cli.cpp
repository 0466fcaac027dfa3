#include "cli.hpp"

#include <unistd.h>

#include <cctype>
#include <charconv>
#include <ctime>
#include <cstring>
#include <ostream>

#include "phx/protocol/json.hpp"
#include "phx/protocol/url.hpp"

namespace phx::cli {

namespace {

using protocol::json_ptr;
using protocol::json_value;

// -- arguments ---------------------------------------------------------------------

/// Flags that take a value (as `--flag value` or `--flag=value`).
constexpr std::string_view valued_flags[] = {
  "--param", "--header",       "--auth-token", "--vsn",     "--join",
  "--join-params", "--timeout-ms", "--heartbeat-ms", "--ca-file", "--log-level",
  "--max-reconnects", "--open-deadline-ms", "--transport", "--long-poll-fallback-ms",
};

/// Flags that take no value.
constexpr std::string_view switch_flags[] = {"--insecure", "--strict", "--json",
                                             "--compress"};

bool takes_value(std::string_view flag) {
  for (auto f : valued_flags)
    if (f == flag)
      return true;
  return false;
}

std::optional<uint32_t> parse_uint32(std::string_view text) {
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
    return std::nullopt;
  return value;
}

// RFC 7230 `token`: what a header name may hold.
bool is_token(std::string_view s) {
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  for (unsigned char c : s)
    if (!std::isalnum(c) && extra.find(static_cast<char>(c)) == std::string_view::npos)
      return false;
  return !s.empty();
}

// A header value must not smuggle in another header (CR, LF) or a NUL.
bool is_clean_value(std::string_view s) {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Applies one flag and its value; an error message if it is unusable. Messages
// name the flag, never the value (values may be secrets).
std::optional<std::string> apply(options& opts, std::string_view flag, const std::string& value) {
  if (flag == "--param") {
    auto eq = value.find('=');
    if (eq == std::string::npos || eq == 0)
      return "--param expects KEY=VALUE";
    opts.params.emplace_back(value.substr(0, eq), value.substr(eq + 1));
  } else if (flag == "--header") {
    auto colon = value.find(':');
    auto name = trim(std::string_view{value}.substr(0, colon == std::string::npos ? 0 : colon));
    if (colon == std::string::npos || name.empty())
      return "--header expects NAME:VALUE";
    auto text = trim(std::string_view{value}.substr(colon + 1));
    if (!is_token(name))
      return "--header: the header name holds characters a name cannot have";
    if (!is_clean_value(text))
      return "--header: the header value holds control characters";
    opts.headers.emplace_back(std::string{name}, std::string{text});
  } else if (flag == "--auth-token") {
    if (value.empty())
      return "--auth-token needs a non-empty token";
    opts.auth_token = value;
  } else if (flag == "--vsn") {
    if (value != "2.0.0" && value != "1.0.0")
      return "--vsn must be 2.0.0 or 1.0.0";
    opts.vsn = value;
  } else if (flag == "--join") {
    if (value.empty())
      return "--join needs a topic";
    opts.joins.push_back(value);
  } else if (flag == "--join-params") {
    auto parsed = protocol::payload::parse(value);
    if (!parsed)
      return "--join-params is not valid JSON: " + parsed.error().what;
    if (!parsed->json().IsObject())
      return "--join-params must be a JSON object";
    opts.join_params = std::move(*parsed);
  } else if (flag == "--timeout-ms") {
    auto n = parse_uint32(value);
    if (!n || *n == 0)
      return "--timeout-ms expects a positive number of milliseconds";
    opts.timeout_ms = *n;
  } else if (flag == "--heartbeat-ms") {
    auto n = parse_uint32(value);
    if (!n)
      return "--heartbeat-ms expects a number of milliseconds (0 disables heartbeats)";
    opts.heartbeat_ms = *n;
  } else if (flag == "--ca-file") {
    if (value.empty() || ::access(value.c_str(), R_OK) != 0)
      return "--ca-file: cannot read " + value;
    opts.ca_file = value;
  } else if (flag == "--log-level") {
    auto level = protocol::parse_log_level(value);
    if (!level)
      return "--log-level must be one of trace, debug, info, warning, error, off";
    opts.log_level = *level;
  } else if (flag == "--max-reconnects") {
    auto n = parse_uint32(value);
    if (!n)
      return "--max-reconnects expects a number of reconnect attempts (0: never reconnect)";
    opts.max_reconnects = *n;
  } else if (flag == "--open-deadline-ms") {
    auto n = parse_uint32(value);
    if (!n || *n == 0)
      return "--open-deadline-ms expects a positive number of milliseconds";
    opts.open_deadline_ms = *n;
  } else if (flag == "--transport") {
    auto choice = parse_transport_choice(value);
    if (!choice)
      return "--transport must be websocket, longpoll or auto";
    opts.transport = *choice;
  } else if (flag == "--long-poll-fallback-ms") {
    auto n = parse_uint32(value);
    if (!n || *n == 0)
      return "--long-poll-fallback-ms expects a positive number of milliseconds";
    opts.long_poll_fallback_ms = *n;
  }
  return std::nullopt;
}

bool is_switch(std::string_view flag) {
  for (auto f : switch_flags)
    if (f == flag)
      return true;
  return false;
}

// -- input commands --------------------------------------------------------------------

using member_list = std::initializer_list<std::string_view>;

// The first member of `obj` not in `allowed`, if any.
std::optional<std::string> unknown_member(const json_value& obj, member_list allowed) {
  for (auto& m : obj.GetObject()) {
    std::string_view name{m.name.GetString(), m.name.GetStringLength()};
    bool known = false;
    for (auto a : allowed)
      known = known || a == name;
    if (!known)
      return std::string{name};
  }
  return std::nullopt;
}

const json_value* member(const json_value& obj, std::string_view name) {
  auto i = obj.FindMember(json_value{rapidjson::StringRef(name.data(),
                                                          static_cast<rapidjson::SizeType>(
                                                            name.size()))});
  return i == obj.MemberEnd() ? nullptr : &i->value;
}

std::string quoted(std::string_view s) {
  std::string out;
  protocol::append_json_string(out, s);
  return out;
}

// A required non-empty string member.
std::variant<std::string, line_error> string_member(const json_value& obj,
                                                    std::string_view name) {
  auto v = member(obj, name);
  if (v == nullptr)
    return line_error{"missing \"" + std::string{name} + "\""};
  if (!v->IsString() || v->GetStringLength() == 0)
    return line_error{"\"" + std::string{name} + "\" must be a non-empty string"};
  return std::string{v->GetString(), v->GetStringLength()};
}

// An optional object member, shared with the parsed line (no copy).
std::variant<protocol::payload, line_error> object_member(const json_ptr& root,
                                                          std::string_view name) {
  auto v = member(*root, name);
  if (v == nullptr)
    return protocol::payload{};
  if (!v->IsObject())
    return line_error{"\"" + std::string{name} + "\" must be a JSON object"};
  return protocol::payload{json_ptr{root, v}};
}

// An optional integer member in [min, max].
std::variant<std::optional<uint32_t>, line_error>
uint_member(const json_value& obj, std::string_view name, uint32_t min, uint32_t max) {
  auto v = member(obj, name);
  if (v == nullptr)
    return std::optional<uint32_t>{};
  if (!v->IsUint64() || v->GetUint64() < min || v->GetUint64() > max)
    return line_error{"\"" + std::string{name} + "\" must be an integer from "
                      + std::to_string(min) + " to " + std::to_string(max)};
  return std::optional<uint32_t>{static_cast<uint32_t>(v->GetUint64())};
}

std::variant<command, line_error> parse_join(const json_ptr& root) {
  auto& obj = *root;
  if (auto u = unknown_member(obj, {"join", "params"}))
    return line_error{"unknown field " + quoted(*u) + " in a join command"};
  auto topic = string_member(obj, "join");
  if (auto e = std::get_if<line_error>(&topic))
    return *e;
  auto params = object_member(root, "params");
  if (auto e = std::get_if<line_error>(&params))
    return *e;
  return join_command{std::get<std::string>(std::move(topic)),
                      std::get<protocol::payload>(std::move(params))};
}

std::variant<command, line_error> parse_push(const json_ptr& root) {
  auto& obj = *root;
  if (auto u = unknown_member(obj, {"push", "topic", "payload", "payload_base64", "id",
                                    "timeout_ms"}))
    return line_error{"unknown field " + quoted(*u) + " in a push command"};
  push_command cmd;
  auto event = string_member(obj, "push");
  if (auto e = std::get_if<line_error>(&event))
    return *e;
  cmd.event = std::get<std::string>(std::move(event));
  auto topic = string_member(obj, "topic");
  if (auto e = std::get_if<line_error>(&topic))
    return *e;
  cmd.topic = std::get<std::string>(std::move(topic));
  auto b64 = member(obj, "payload_base64");
  if (b64 != nullptr) {
    if (member(obj, "payload") != nullptr)
      return line_error{"a push has \"payload\" or \"payload_base64\", not both"};
    if (!b64->IsString())
      return line_error{"\"payload_base64\" must be a string of base64"};
    auto bytes = protocol::base64_decode({b64->GetString(), b64->GetStringLength()});
    if (!bytes)
      return line_error{"\"payload_base64\" is not base64: " + bytes.error().what};
    cmd.payload = protocol::payload::binary(*bytes);
  } else {
    auto payload = object_member(root, "payload");
    if (auto e = std::get_if<line_error>(&payload))
      return *e;
    cmd.payload = std::get<protocol::payload>(std::move(payload));
  }
  if (auto id = member(obj, "id")) {
    auto text = protocol::to_json_string(*id);
    if (!text)
      return line_error{"\"id\" cannot be echoed: " + text.error().what};
    cmd.id_json = std::move(*text);
  }
  auto timeout = uint_member(obj, "timeout_ms", 1, UINT32_MAX);
  if (auto e = std::get_if<line_error>(&timeout))
    return *e;
  cmd.timeout_ms = std::get<std::optional<uint32_t>>(timeout);
  return cmd;
}

std::variant<command, line_error> parse_leave(const json_ptr& root) {
  if (auto u = unknown_member(*root, {"leave"}))
    return line_error{"unknown field " + quoted(*u) + " in a leave command"};
  auto topic = string_member(*root, "leave");
  if (auto e = std::get_if<line_error>(&topic))
    return *e;
  return leave_command{std::get<std::string>(std::move(topic))};
}

std::variant<command, line_error> parse_sleep(const json_ptr& root) {
  if (auto u = unknown_member(*root, {"sleep_ms"}))
    return line_error{"unknown field " + quoted(*u) + " in a sleep_ms command"};
  auto ms = uint_member(*root, "sleep_ms", 0, max_sleep_ms);
  if (auto e = std::get_if<line_error>(&ms))
    return *e;
  return sleep_command{*std::get<std::optional<uint32_t>>(ms)};
}

// `{"disconnect":true}` and `{"connect":true}`.
std::optional<line_error> check_flag_command(const json_value& obj, std::string_view name) {
  if (auto u = unknown_member(obj, {name}))
    return line_error{"unknown field " + quoted(*u) + " in a " + std::string{name}
                      + " command"};
  auto v = member(obj, name);
  if (!v->IsTrue())
    return line_error{"\"" + std::string{name} + "\" must be true"};
  return std::nullopt;
}

// -- output lines ------------------------------------------------------------------------

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += ',';
  protocol::append_json_string(out, name);
  out += ':';
  protocol::append_json_string(out, value);
}

// `"name":{json}` or `"name_base64":"..."` for bytes.
void append_payload(std::string& out, std::string_view name, const protocol::payload& p) {
  out += ',';
  if (p.is_binary()) {
    protocol::append_json_string(out, std::string{name} + "_base64");
    out += ':';
    protocol::append_json_string(out, protocol::base64_encode(p.binary_view()));
    return;
  }
  protocol::append_json_string(out, name);
  out += ':';
  // Decoded payloads are valid UTF-8; null marks the impossible rest.
  if (!protocol::append_json(out, p.json()))
    out += "null";
}

std::string typed(std::string_view type) {
  std::string out = "{\"type\":";
  protocol::append_json_string(out, type);
  return out;
}

} // namespace

std::variant<options, usage_error> parse_args(const std::vector<std::string>& args) {
  options opts;
  bool have_url = false;
  bool only_positional = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (only_positional || arg.size() < 2 || arg[0] != '-') {
      if (have_url)
        return usage_error{"unexpected extra argument (the URL was already given)"};
      auto ep = protocol::parse_endpoint(arg);
      if (!ep)
        return usage_error{"invalid URL: " + ep.error().what};
      opts.url = arg;
      have_url = true;
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      opts.help = true;
      continue;
    }
    if (arg == "--version") {
      opts.version = true;
      continue;
    }
    auto eq = arg.find('=');
    std::string_view flag = std::string_view{arg}.substr(0, eq);
    if (is_switch(flag)) {
      if (eq != std::string::npos)
        return usage_error{std::string{flag} + " takes no value"};
      if (flag == "--insecure")
        opts.insecure = true;
      else if (flag == "--strict")
        opts.strict = true;
      else if (flag == "--compress")
        opts.compress = true;
      else
        opts.json = true;
      continue;
    }
    if (!takes_value(flag))
      return usage_error{"unknown option " + std::string{flag}};
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return usage_error{std::string{flag} + " needs a value"};
    }
    if (auto err = apply(opts, flag, value))
      return usage_error{std::move(*err)};
  }
  if (!have_url && !opts.help && !opts.version)
    return usage_error{"missing URL (e.g. phx ws://127.0.0.1:4000/socket)"};
  // Options of the WebSocket that a long-poll-only socket would silently ignore.
  if (opts.transport == transport_choice::longpoll && opts.long_poll_fallback_ms)
    return usage_error{"--long-poll-fallback-ms needs --transport websocket or auto"};
  if (opts.transport == transport_choice::longpoll && opts.compress)
    return usage_error{"--compress applies to WebSocket frames; --transport longpoll has none"};
  return opts;
}

std::string usage() {
  return R"(usage: phx URL [options]
A Phoenix Channels client. At a terminal it is interactive: type commands, read
events. Otherwise (or with --json) it speaks JSON lines: commands on stdin,
events on stdout.

options:
  --param K=V             connect param (repeatable; sent in the URL query)
  --header K:V            HTTP header of the upgrade request (repeatable)
  --auth-token T          auth token (Sec-WebSocket-Protocol, Phoenix 1.8; the
                          X-Phoenix-AuthToken header over long-poll)
  --vsn V                 protocol version: 2.0.0 (default) or 1.0.0
  --join TOPIC            join TOPIC at start (repeatable)
  --join-params JSON      join params of the --join topics (a JSON object)
  --timeout-ms N          timeout of pushes, joins and leaves (default 10000)
  --heartbeat-ms N        heartbeat interval, 0 disables (default 30000; none
                          over long-poll)
  --transport T           websocket (default), longpoll (HTTP long-polling), or
                          auto: WebSocket, falling back to long-poll for the
                          rest of the run when it does not open, or answer its
                          first heartbeat, within the fallback time
  --long-poll-fallback-ms N
                          the fallback time (default 2500 with auto; with
                          websocket it turns the fallback on, as phoenix.js)
  --compress              offer permessage-deflate (compressed WebSocket frames)
  --max-reconnects N      give up after N reconnect attempts in a row fail
                          (the count restarts at each open; 0: never reconnect)
  --open-deadline-ms N    give up when the connection has not opened N ms after
                          start (each attempt also has its own 10 s open timeout)
  --strict                exit 1 also when a push ends other than "ok" or an
                          input line is refused
  --json                  JSON lines even at a terminal
  --ca-file F             trusted CAs (PEM) for wss
  --insecure              do not verify the server's certificate
  --log-level L           trace, debug, info, warning (default), error, off
  -h, --help              this text
  --version               the version

input lines (one JSON object each):
  join         {"join":T,"params":{}}
  push         {"push":EVENT,"topic":T,"payload":{},"id":ID,"timeout_ms":N}
  push bytes   {"push":EVENT,"topic":T,"payload_base64":B64}
  leave        {"leave":T}
  sleep        {"sleep_ms":N}
  disconnect   {"disconnect":true}
  connect      {"connect":true}

output lines (one JSON object each), by type:
  open, close, error, state, join, reply, event, presence
A join or reply line whose status is timeout or failed has a reason; one that
was never sent (no open connection, channel not joined, or phx closing first)
says "not sent: ...".

interactive commands (stdin and stdout a terminal, no --json):
  join TOPIC [JSON]        join a topic with params
  push TOPIC EVENT [JSON]  push an event with a payload
  leave TOPIC              leave a topic
  connect, disconnect      open or close the connection
  help                     the commands
  quit                     leave, disconnect and exit (also Ctrl-D, Ctrl-C)
Events are shown as time, topic, event and compact payload, in colour when the
terminal has it (NO_COLOR turns it off). History is kept in memory only.

At end of input (or quit, SIGINT, SIGTERM) phx waits for every push's outcome,
leaves, disconnects and exits.

exit status:
  0  the connection opened and every join joined at its latest attempt (with
     --strict: and every push ended "ok")
  1  the connection never opened, a join failed or never happened, phx gave up
     (--max-reconnects, --open-deadline-ms), an outcome never came, or with
     --strict a push did not end "ok"; the reasons go to stderr
  2  bad usage

Secrets (params, header values, tokens) are never printed.
)";
}

std::string version_text() {
  return std::string{"phx "} + PHX_VERSION + "\n";
}

bool is_blank(std::string_view line) noexcept {
  for (char c : line)
    if (c != ' ' && c != '\t' && c != '\r')
      return false;
  return true;
}

std::variant<command, line_error> parse_command(std::string_view line) {
  auto parsed = protocol::parse_json(line);
  if (!parsed)
    return line_error{"not JSON: " + parsed.error().what};
  auto root = std::move(*parsed);
  if (!root->IsObject())
    return line_error{"a command must be a JSON object"};
  static constexpr std::string_view commands[] = {"join",     "push",       "leave",
                                                  "sleep_ms", "disconnect", "connect"};
  std::string_view found;
  for (auto name : commands) {
    if (member(*root, name) == nullptr)
      continue;
    if (!found.empty())
      return line_error{"a line holds one command, got \"" + std::string{found} + "\" and \""
                        + std::string{name} + "\""};
    found = name;
  }
  if (found.empty())
    return line_error{"unknown command (expected one of join, push, leave, sleep_ms, "
                      "disconnect, connect)"};
  if (found == "join")
    return parse_join(root);
  if (found == "push")
    return parse_push(root);
  if (found == "leave")
    return parse_leave(root);
  if (found == "sleep_ms")
    return parse_sleep(root);
  if (auto err = check_flag_command(*root, found))
    return *err;
  if (found == "disconnect")
    return disconnect_command{};
  return connect_command{};
}

std::string open_line() {
  return typed("open") + "}";
}

std::string close_line(uint16_t code, std::string_view reason) {
  auto out = typed("close");
  out += ",\"code\":";
  out += std::to_string(code);
  append_field(out, "reason", reason);
  out += '}';
  return out;
}

std::string error_line(std::string_view reason) {
  auto out = typed("error");
  append_field(out, "reason", reason);
  out += '}';
  return out;
}

std::string state_line(std::string_view topic, std::string_view state) {
  auto out = typed("state");
  append_field(out, "topic", topic);
  append_field(out, "state", state);
  out += '}';
  return out;
}

std::string join_line(std::string_view topic, std::string_view status,
                      const protocol::payload& response, std::string_view reason) {
  auto out = typed("join");
  append_field(out, "topic", topic);
  append_field(out, "status", status);
  append_payload(out, "response", response);
  if (!reason.empty())
    append_field(out, "reason", reason);
  out += '}';
  return out;
}

std::string reply_line(std::string_view id_json, std::string_view topic,
                       std::string_view event, std::string_view status,
                       const protocol::payload& response, std::string_view reason) {
  auto out = typed("reply");
  out += ",\"id\":";
  out += id_json.empty() ? std::string_view{"null"} : id_json;
  append_field(out, "topic", topic);
  append_field(out, "event", event);
  append_field(out, "status", status);
  append_payload(out, "response", response);
  if (!reason.empty())
    append_field(out, "reason", reason);
  out += '}';
  return out;
}

std::string event_line(std::string_view topic, std::string_view event,
                       const protocol::payload& payload) {
  auto out = typed("event");
  append_field(out, "topic", topic);
  append_field(out, "event", event);
  append_payload(out, "payload", payload);
  out += '}';
  return out;
}

std::string presence_line(std::string_view topic, const protocol::payload& list) {
  auto out = typed("presence");
  append_field(out, "topic", topic);
  append_payload(out, "list", list);
  out += '}';
  return out;
}

void line_writer::write(const std::string& line) {
  std::lock_guard<std::mutex> guard{mutex_};
  out_ << line << '\n';
  out_.flush();
}

void line_splitter::feed(std::string_view bytes, const handler& f) {
  for (char c : bytes) {
    any_ = true;
    if (c == '\n') {
      emit(f);
      continue;
    }
    if (too_long_)
      continue;
    if (line_.size() >= max_line_) {
      // Drop what was kept: the rest of this line is read and discarded.
      too_long_ = true;
      std::string{}.swap(line_);
      continue;
    }
    line_.push_back(c);
  }
}

void line_splitter::end(const handler& f) {
  if (any_)
    emit(f);
}

void line_splitter::emit(const handler& f) {
  if (too_long_) {
    std::string none;
    f(status::too_long, none);
  } else {
    if (!line_.empty() && line_.back() == '\r')
      line_.pop_back();
    f(status::line, line_);
  }
  line_.clear();
  any_ = false;
  too_long_ = false;
}

} // namespace phx::cli
