#pragma once

// The pure parts of the `phx` command-line tool: its arguments, its input
// commands (JSON lines and the interactive short commands), its output lines
// and their rendering for a person. No socket here, so that every rule of the
// tool's language is unit-tested without a server.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "phx/actors/options.hpp"
#include "phx/protocol/log.hpp"
#include "phx/protocol/payload.hpp"

namespace phx::cli {

// -- arguments -------------------------------------------------------------------

/// How the tool was invoked. Holds secrets (params, header values, the auth
/// token): nothing of it is ever printed.
struct options {
  /// The socket endpoint, e.g. `ws://127.0.0.1:4000/socket`.
  std::string url;
  /// `--param K=V`: connect params (string values), in order.
  std::vector<std::pair<std::string, std::string>> params;
  /// `--header K:V`: extra HTTP headers of the upgrade request.
  std::vector<std::pair<std::string, std::string>> headers;
  /// `--auth-token T`: sent in `Sec-WebSocket-Protocol` (Phoenix 1.8 `auth_token`).
  std::optional<std::string> auth_token;
  /// `--vsn V`: "2.0.0" (default) or "1.0.0".
  std::string vsn = "2.0.0";
  /// `--join TOPIC`: topics joined at start, in order.
  std::vector<std::string> joins;
  /// `--join-params JSON`: join params of the `--join` topics (a JSON object).
  protocol::payload join_params;
  /// `--timeout-ms N`: default timeout of pushes, joins and leaves.
  uint32_t timeout_ms = 10000;
  /// `--heartbeat-ms N`: heartbeat interval; 0 disables heartbeats.
  uint32_t heartbeat_ms = 30000;
  /// `--ca-file F`: PEM file of trusted CAs for `wss`.
  std::string ca_file;
  /// `--insecure`: do not verify the server's certificate (logged by the library).
  bool insecure = false;
  /// `--transport T`: websocket (default), longpoll, or auto (WebSocket with
  /// the fallback to long-poll).
  transport_choice transport = transport_choice::websocket;
  /// `--long-poll-fallback-ms N`: phoenix.js's `longPollFallbackMs` (with
  /// websocket it turns the fallback on); none: 2,500 ms with auto.
  std::optional<uint32_t> long_poll_fallback_ms;
  /// `--compress`: offer permessage-deflate in the WebSocket upgrade.
  bool compress = false;
  /// `--log-level L`: the library's log lines on stderr at L and above.
  protocol::log_level log_level = protocol::log_level::warning;
  /// `--strict`: any push outcome other than "ok" (or a refused input line) exits 1.
  bool strict = false;
  /// `--max-reconnects N`: give up after N reconnect attempts in a row fail
  /// (the count restarts when the connection opens); none: never give up.
  std::optional<uint32_t> max_reconnects;
  /// `--open-deadline-ms N`: give up when the first open has not happened N ms
  /// after start; none: no deadline (each attempt keeps its own open timeout).
  std::optional<uint32_t> open_deadline_ms;
  /// `--json`: JSON lines even when stdin and stdout are a terminal.
  bool json = false;
  /// `--help`: print the usage and exit 0.
  bool help = false;
  /// `--version`: print the version and exit 0.
  bool version = false;
};

/// The exit codes of `phx`.
enum exit_code : int {
  /// The connection opened, every join joined at its latest attempt (and,
  /// with `--strict`, every push ended "ok").
  exit_ok = 0,
  /// The connection never opened, a join failed or never happened, phx gave
  /// up, an outcome never came, or (`--strict`) a push did not end "ok".
  exit_failure = 1,
  /// Bad usage.
  exit_usage = 2,
};

/// Bad usage: a one-line message for stderr; the tool exits 2.
struct usage_error {
  std::string message;
};

/// Parses the arguments (without the program name). Messages never repeat a
/// value given on the command line (values may be secrets).
std::variant<options, usage_error> parse_args(const std::vector<std::string>& args);

/// The usage text printed by `phx --help` (also the source of the man page).
std::string usage();

/// The version line printed by `phx --version`.
std::string version_text();

// -- input commands ------------------------------------------------------------------

/// `{"join":T,"params":{...}}`
struct join_command {
  std::string topic;
  protocol::payload params;
};

/// `{"push":EVENT,"topic":T,"payload":{...}|"payload_base64":B64,"id":ID,"timeout_ms":N}`
struct push_command {
  std::string event;
  std::string topic;
  /// JSON object, or bytes from `payload_base64`.
  protocol::payload payload;
  /// The compact JSON text of `id`, echoed in the reply line; empty: use a counter.
  std::string id_json;
  /// Overrides the default timeout.
  std::optional<uint32_t> timeout_ms;
};

/// `{"leave":T}`
struct leave_command {
  std::string topic;
};

/// `{"sleep_ms":N}`: holds the input for N ms (events keep coming).
struct sleep_command {
  uint32_t ms = 0;
};

/// `{"disconnect":true}`
struct disconnect_command {};

/// `{"connect":true}`
struct connect_command {};

/// One input line's command.
using command = std::variant<join_command, push_command, leave_command, sleep_command,
                             disconnect_command, connect_command>;

/// Why an input line was refused (the line is skipped, never fatal).
struct line_error {
  std::string reason;
};

/// The longest `sleep_ms` accepted: one hour.
constexpr uint32_t max_sleep_ms = 3'600'000;

/// True for a line holding only whitespace (skipped silently).
bool is_blank(std::string_view line) noexcept;

/// Parses one input line into a command, or names what is wrong with it
/// (not JSON, not an object, unknown command or field, wrong types).
std::variant<command, line_error> parse_command(std::string_view line);

// -- output lines ----------------------------------------------------------------------

/// `{"type":"open"}`
std::string open_line();

/// `{"type":"close","code":N,"reason":S}`
std::string close_line(uint16_t code, std::string_view reason);

/// `{"type":"error","reason":S}`
std::string error_line(std::string_view reason);

/// `{"type":"state","topic":T,"state":S}`
std::string state_line(std::string_view topic, std::string_view state);

/// `{"type":"join","topic":T,"status":S,"response":{...}}` (`response_base64` for bytes),
/// plus `"reason":R` when `reason` is not empty.
std::string join_line(std::string_view topic, std::string_view status,
                      const protocol::payload& response, std::string_view reason = {});

/// `{"type":"reply","id":ID,"topic":T,"event":E,"status":S,"response":{...}}`
/// (`response_base64` for bytes), plus `"reason":R` when `reason` is not empty.
/// `id_json` is spliced in as is (compact JSON text).
std::string reply_line(std::string_view id_json, std::string_view topic,
                       std::string_view event, std::string_view status,
                       const protocol::payload& response, std::string_view reason = {});

/// `{"type":"event","topic":T,"event":E,"payload":{...}}` (`payload_base64` for bytes).
std::string event_line(std::string_view topic, std::string_view event,
                       const protocol::payload& payload);

/// `{"type":"presence","topic":T,"list":{...}}`
std::string presence_line(std::string_view topic, const protocol::payload& list);

// -- streams -----------------------------------------------------------------------------

/// Where output lines go: stdout as JSON lines, or the interactive prompt.
class output {
public:
  virtual ~output() = default;

  /// Writes one output line (compact JSON, no newline); any thread may call it.
  virtual void write(const std::string& line) = 0;
};

/// Writes output lines one at a time, each flushed at once: the input thread
/// and the socket's callbacks share it, and lines never interleave.
class line_writer : public output {
public:
  /// Writes to `out` (kept by reference: it must outlive the writer).
  explicit line_writer(std::ostream& out) : out_(out) {}

  /// Writes `line` and a newline, then flushes.
  void write(const std::string& line) override;

private:
  std::mutex mutex_;
  std::ostream& out_;
};

/// Splits input bytes into lines of bounded length: a longer line is skipped
/// (up to its newline) and reported, so that no input makes memory grow
/// without bound.
class line_splitter {
public:
  /// The default bound of a line: the socket's largest frame, 16 MiB.
  static constexpr size_t default_max_line = 16 * 1024 * 1024;

  /// What a call of the handler carries.
  enum class status { line, too_long };

  /// Called once per line (without its newline and a trailing `\r`).
  using handler = std::function<void(status, std::string& line)>;

  /// Lines of at most `max_line` bytes.
  explicit line_splitter(size_t max_line = default_max_line) : max_line_(max_line) {}

  /// Feeds `bytes`; calls `f` for every line they complete.
  void feed(std::string_view bytes, const handler& f);

  /// End of input: calls `f` for a last line without a newline, if any.
  void end(const handler& f);

private:
  void emit(const handler& f);

  size_t max_line_;
  std::string line_;
  bool any_ = false;
  bool too_long_ = false;
};

} // namespace phx::cli
