#pragma once

// A scriptable raw WebSocket server for tests: a websocketpp server on its own
// thread, plain or TLS, listening on 127.0.0.1 with an ephemeral port. It
// knows nothing of Phoenix: it refuses or accepts upgrades, records what the
// client sent, sends whatever the test says (text, binary, raw bytes that no
// correct server would send), echoes, closes, cuts the link or stops reading.
// Every wait is bounded. The websocketpp types stay in raw_server.cpp.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace phx_test {

/// Identifies one accepted connection of a raw_server (1, 2, ...).
using conn_id = uint64_t;

/// An upgrade request as the server received it (refused ones included).
struct upgrade_request {
  /// The connection it arrived on.
  conn_id id = 0;
  /// Path and query, e.g. `/socket/websocket?token=x&vsn=2.0.0`.
  std::string resource;
  /// Every request header, names as sent.
  std::vector<std::pair<std::string, std::string>> headers;

  /// The value of a header (case-insensitive name); empty if absent.
  std::string header(std::string_view name) const;
  /// True if the header is present.
  bool has_header(std::string_view name) const;
};

/// One data message the server received.
struct ws_message {
  conn_id id = 0;
  bool binary = false;
  std::string data;
};

/// How a connection ended, seen from the server.
struct close_record {
  conn_id id = 0;
  /// True if the client sent a close frame (a close handshake).
  bool close_frame = false;
  /// The client's close code (1006 when it sent none).
  uint16_t code = 1006;
  /// The client's close reason.
  std::string reason;
};

class raw_server;

/// How a raw_server behaves; fixed when it starts.
struct raw_server_options {
  /// Serve `wss` with `cert_file` (PEM chain) and `key_file` (PEM key).
  bool tls = false;
  std::string cert_file;
  std::string key_file;
  /// TLS: non-empty requires a client certificate issued by this CA (PEM).
  std::string client_ca_file;
  /// Non-zero: refuse every upgrade with this HTTP status (e.g. 403).
  int refuse_status = 0;
  /// Value of the response's `Sec-WebSocket-Protocol`; empty: none.
  std::string subprotocol_response;
  /// Answer with the first token the client offered in `Sec-WebSocket-Protocol`.
  bool echo_first_subprotocol = false;
  /// Send every data message back as it came.
  bool echo = false;
  /// Keep received messages for wait_message (off for floods: they pile up).
  bool record_messages = true;
  /// Stop reading right after the handshake (a half-open link).
  bool pause_reading_on_open = false;
  /// Largest message the server accepts.
  uint64_t max_message_size = 256ull * 1024 * 1024;
  /// Runs on the server thread after each open (a script).
  std::function<void(raw_server&, conn_id)> on_open;
  /// Runs on the server thread for each data message (a script).
  std::function<void(raw_server&, const ws_message&)> on_message;
};

/// The scriptable server; see the file comment.
class raw_server {
public:
  /// Starts listening at once; throws `std::runtime_error` if it cannot.
  explicit raw_server(raw_server_options opts = {});

  /// Stops the server thread and drops every connection.
  ~raw_server();

  raw_server(const raw_server&) = delete;
  raw_server& operator=(const raw_server&) = delete;

  /// The listening port.
  uint16_t port() const noexcept;

  /// `ws://127.0.0.1:<port><path_and_query>` (or `wss://`).
  std::string url(std::string_view path_and_query = "/socket/websocket") const;

  // -- actions (thread-safe; carried out on the server thread, in order) ----

  /// Sends a text frame (websocketpp checks its UTF-8; use send_raw to lie).
  void send_text(conn_id id, std::string data);
  /// Sends a binary frame.
  void send_binary(conn_id id, std::string data);
  /// Writes raw bytes to the link (any frame, valid or not): see encode_frame.
  void send_raw(conn_id id, std::string bytes);
  /// Starts a close handshake with this code and reason.
  void close(conn_id id, uint16_t code, std::string reason);
  /// Cuts the TCP link without a close frame.
  void cut(conn_id id);
  /// Stops reading (the client's frames and close frame go unanswered). A
  /// read already in flight still completes: for a link that is half-open
  /// from the first frame, use `raw_server_options::pause_reading_on_open`.
  void pause_reading(conn_id id);
  /// Reads again.
  void resume_reading(conn_id id);

  /// An unmasked server frame: FIN flag, opcode (1 text, 2 binary, 8 close,
  /// 9 ping, 0 continuation), payload; nothing is validated.
  static std::string encode_frame(uint8_t opcode, std::string_view payload,
                                  bool fin = true);

  // -- observations (bounded waits; each event is returned once) -----------

  /// The next upgrade request (accepted or refused).
  std::optional<upgrade_request> wait_request(std::chrono::milliseconds timeout);
  /// The next connection that completed the handshake.
  std::optional<conn_id> wait_open(std::chrono::milliseconds timeout);
  /// The next data message from any client.
  std::optional<ws_message> wait_message(std::chrono::milliseconds timeout);
  /// How connection `id` ended; empty if it has not within `timeout`.
  std::optional<close_record> wait_closed(conn_id id,
                                          std::chrono::milliseconds timeout);
  /// Waits until exactly `n` connections are open; false on timeout.
  bool wait_open_count(size_t n, std::chrono::milliseconds timeout);

  /// Connections open right now.
  size_t open_count() const;
  /// Connections that completed the handshake since start.
  size_t opened_total() const;

  class impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace phx_test
