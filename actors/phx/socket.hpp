#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/fwd.hpp>

#include "phx/actors/actors.hpp"
#include "phx/actors/logger.hpp"
#include "phx/actors/options.hpp"
#include "phx/channel.hpp"
#include "phx/json.hpp"
#include "phx/protocol/serializer.hpp"
#include "phx/protocol/url.hpp"
#include "phx/transport/transport.hpp"

namespace phx {

using transport::tls_options;

/// A Phoenix socket (phoenix.cr's `Phoenix::Socket`): one connection to a
/// Phoenix endpoint multiplexing channels, reconnecting with backoff and
/// rejoining its channels. Underneath it is a SOCKET actor (see `actor()`).
/// Copies are handles to the same socket; the last one to go disconnects and
/// stops the actors (and the actor system, if the socket owns it).
/// Thread-safe: call it from any thread. Callbacks run in actor context, one
/// at a time per socket, and must not block.
class socket {
public:
  // -- phoenix.cr's constants ----------------------------------------------------

  /// Wire protocol version.
  static constexpr const char* VSN = "2.0.0";
  /// Default timeout of pushes, joins and leaves, in milliseconds.
  static constexpr uint32_t DEFAULT_TIMEOUT = 10000;
  /// Default heartbeat interval in milliseconds.
  static constexpr uint32_t DEFAULT_HEARTBEAT_INTERVAL_MS = 30000;
  /// Default reconnect backoff: 1 s, 2 s, 5 s, 10 s, then 10 s (tries from 1).
  static uint32_t DEFAULT_RECONNECT_AFTER_MS(uint32_t tries);
  /// Default rejoin backoff: 1 s, 2 s, 5 s, then 10 s (tries from 1).
  static uint32_t DEFAULT_REJOIN_AFTER_MS(uint32_t tries);

  /// The socket's options: phoenix.cr's fields first, then the rest.
  struct options {
    /// Extra HTTP headers of the upgrade request (values are never logged).
    std::vector<std::pair<std::string, std::string>> headers;
    /// Timeout of pushes, joins and leaves in milliseconds.
    uint32_t timeout = DEFAULT_TIMEOUT;
    /// Replaces the serializer's encoding of outgoing messages.
    protocol::encode_fn encode;
    /// Replaces the serializer's decoding of incoming frames.
    protocol::decode_fn decode;
    /// Heartbeat interval (and heartbeat timeout) in milliseconds; 0 disables.
    uint32_t heartbeat_interval_ms = DEFAULT_HEARTBEAT_INTERVAL_MS;
    /// Reconnect backoff in milliseconds by attempt (from 1).
    std::function<uint32_t(uint32_t)> reconnect_after_ms = DEFAULT_RECONNECT_AFTER_MS;
    /// Where log lines go: level, component, text (never secrets). Default: stderr.
    log_sink logger = phx::logger::stderr_sink();
    /// Lines below this level are dropped.
    phx::log_level log_level = phx::log_level::warning;
    /// Connect params (a JSON object), sent in the URL query.
    payload params;
    /// Connect params evaluated at every (re)connect (fresh tokens); wins over `params`.
    std::function<payload()> params_fn;

    // -- beyond phoenix.cr ---------------------------------------------------------

    /// Rejoin backoff in milliseconds by attempt (from 1).
    std::function<uint32_t(uint32_t)> rejoin_after_ms = DEFAULT_REJOIN_AFTER_MS;
    /// Extra random delay in [0, jitter) ms added to each reconnect/rejoin
    /// step, so that a fleet does not reconnect in the same millisecond.
    uint32_t reconnect_jitter_ms = 0;
    /// The same for each rejoin step.
    uint32_t rejoin_jitter_ms = 0;
    /// Auth token sent in `Sec-WebSocket-Protocol` (Phoenix 1.8 `auth_token`),
    /// evaluated at every connect; empty for none.
    std::function<std::optional<std::string>()> auth_token;
    /// TLS for wss: verification (on by default), CA file/dir, client certificate.
    tls_options tls;
    /// Bounds of the send buffer (frames waiting for a connection).
    size_t max_send_buffer_frames = 10000;
    /// Bytes of the frames in the send buffer at most.
    size_t max_send_buffer_bytes = 16 * 1024 * 1024;
    /// Bound of each channel's push buffer (pushes waiting for a join).
    size_t max_push_buffer = 10000;
    /// Largest inbound frame accepted.
    uint64_t max_frame_size = 16 * 1024 * 1024;
    /// Inbound frames (and bytes) decoded but not yet consumed by channels and
    /// callbacks; reading pauses while reached (backpressure, nothing lost).
    size_t max_inbound_frames = 4096;
    /// Bytes of those frames at most.
    size_t max_inbound_bytes = 64 * 1024 * 1024;
    /// Frames (and payload bytes) handed to the connection and not yet written
    /// to the network. Beyond it a push fails at once with status "failed"
    /// (`ec::outbound_full`); heartbeats, joins and leaves are never refused.
    size_t max_outbound_frames = 10000;
    /// Payload bytes of those frames at most.
    size_t max_outbound_bytes = 16 * 1024 * 1024;
    /// Events queued per subscriber actor; beyond it they are dropped and counted.
    size_t max_subscriber_queue = 10000;
    /// Wire protocol version: "2.0.0" or "1.0.0".
    std::string vsn = VSN;
    /// Time allowed to open a connection, and for a close handshake, in ms.
    uint32_t open_timeout_ms = 10000;
    /// Time allowed for a close handshake, in ms.
    uint32_t close_timeout_ms = 1500;
    /// When a callback or user function throws: `report` (the default)
    /// catches it, reports it once through `on_error` and the logger with
    /// the callback's name, and goes on; `restart` also restarts the channel
    /// (or socket) that ran it, whose pending pushes end with status
    /// "timeout" (`ec::channel_crashed` / `ec::socket_crashed`).
    phx::callback_failure callback_failure = phx::callback_failure::report;
    /// Transport (phoenix.js `transport`): `websocket` (the default),
    /// `longpoll`, or `automatic`: WebSocket with the fallback to long-poll.
    transport_choice transport = transport_choice::websocket;
    /// phoenix.js `longPollFallbackMs`: a WebSocket that has not opened within
    /// it, fails before it opened, or does not answer its first heartbeat
    /// within it, is replaced by long-poll at once, for the socket's life.
    /// Unset: 2,500 ms with `automatic`; no fallback with `websocket`.
    std::optional<uint32_t> long_poll_fallback_ms;
    /// phoenix.js `longpollerTimeout`: time one long-poll request may take, in ms.
    uint32_t longpoller_timeout_ms = 20000;
    /// Offer permessage-deflate (compressed frames) in the WebSocket upgrade.
    bool compress = false;
    /// Remember a fallback per endpoint (in `transport_memory`) and start
    /// later sockets to it with long-poll, as phoenix.js's `sessionStorage`.
    bool remember_fallback = false;
    /// Where fallbacks are remembered; null: an in-memory store of the process.
    std::shared_ptr<phx::transport_memory> transport_memory;
    /// Restart intensity: more than `max_restarts` restarts within
    /// `restart_window_ms` stop the socket for good (`ec::socket_stopped`).
    uint32_t max_restarts = 5;
    /// The window of that restart intensity, in ms.
    uint32_t restart_window_ms = 30000;
  };

  /// A socket for an endpoint such as `ws://localhost:4000/socket` (also
  /// `wss`, `http`, `https`); throws `phx::error` if host or path is missing.
  /// It owns an actor system.
  socket(std::string_view endpoint, options opts);
  /// The same with the default options.
  explicit socket(std::string_view endpoint);

  /// The same from host, path, port and tls (phoenix.cr's second constructor).
  socket(const std::string& host, const std::string& path, std::optional<uint16_t> port,
         bool tls, options opts);
  /// The same with the default options.
  socket(const std::string& host, const std::string& path, std::optional<uint16_t> port,
         bool tls);

  /// A socket running in the caller's actor system (which must outlive it
  /// and must have `phx::add_message_types` applied to its config).
  socket(caf::actor_system& sys, std::string_view endpoint, options opts);
  /// The same with the default options.
  socket(caf::actor_system& sys, std::string_view endpoint);

  ~socket();
  /// Another handle to the same socket.
  socket(const socket&) = default;
  /// Makes this a handle to the same socket as `other`.
  socket& operator=(const socket&) = default;
  /// Takes over the handle.
  socket(socket&&) noexcept = default;
  /// Takes over the handle.
  socket& operator=(socket&&) noexcept = default;

  /// Connects; does nothing while connecting or connected.
  void connect();

  /// Disconnects with `code` and `reason`: stops reconnecting and all timers,
  /// runs `callback` exactly once when closed. A later `connect` works.
  void disconnect(std::function<void()> callback = {}, uint16_t code = 1000,
                  std::string reason = {});

  /// Blocks until the socket is disconnected (never call it from a callback).
  void disconnect_and_wait(uint16_t code = 1000, std::string reason = {});

  /// True when the connection is open (phoenix.cr's `connected?`).
  bool connected() const;

  /// connecting, open, closing or closed.
  phx::connection_state state() const;

  /// The connection state: connecting, open, closing or closed (the same as
  /// `state()`; phoenix.js `connectionState`, as the enum).
  phx::connection_state connection_state() const;

  /// `"connecting"`, `"open"`, `"closing"` or `"closed"` (phoenix.js `connectionState`).
  std::string connection_state_name() const;

  /// The transport of the current connection or attempt (the last one's
  /// while closed): `longpoll` after a fallback.
  transport::transport_kind transport() const;

  /// A new channel for `topic` with join params.
  phx::channel channel(const std::string& topic, payload params = payload{});

  /// A new channel whose join params are evaluated at every join.
  phx::channel channel(const std::string& topic, std::function<payload()> params);

  /// Removes exactly that channel from the socket.
  void remove(const phx::channel& ch);

  /// Callbacks; each returns a ref for `off`.
  uint64_t on_open(std::function<void()> callback);
  /// The connection closed: its close code and reason.
  uint64_t on_close(std::function<void(uint16_t code, const std::string& reason)> callback);
  /// A transport error: its reason, and the HTTP status of a refused upgrade (else 0).
  uint64_t on_error(std::function<void(const std::string& reason, int http_status)> callback);
  /// Every inbound message, before routing to channels.
  uint64_t on_message(std::function<void(const message&)> callback);

  /// Removes callbacks by ref.
  void off(const std::vector<uint64_t>& refs);

  /// Measures a round trip with a heartbeat; false if not connected.
  bool ping(std::function<void(std::chrono::milliseconds rtt)> callback);

  /// Counters (blocks for a round trip to the actor; not from a callback).
  socket_stats stats() const;

  /// The SOCKET actor.
  socket_actor actor() const;

  /// The actor system the socket runs in.
  caf::actor_system& system() const;

  /// The endpoint's WebSocket URL, without the connect params (never logged
  /// or shown: they may hold secrets).
  std::string endpoint_url() const;

private:
  void init(caf::actor_system* sys, protocol::endpoint ep, options opts);
  std::shared_ptr<detail::socket_core> core_;
};

} // namespace phx
