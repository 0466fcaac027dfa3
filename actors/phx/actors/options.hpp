#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include "phx/actors/actors.hpp"
#include "phx/actors/hooks.hpp"
#include "phx/actors/logger.hpp"
#include "phx/protocol/backoff.hpp"
#include "phx/protocol/serializer.hpp"
#include "phx/protocol/url.hpp"
#include "phx/transport/transport.hpp"

namespace phx {

/// phoenix.cr's defaults.
constexpr std::chrono::milliseconds default_timeout{10000};
constexpr std::chrono::milliseconds default_heartbeat_interval{30000};

/// A seed for the jitter of one socket or channel: distinct for every call
/// in a process, unpredictable across processes (thread-safe).
uint64_t fresh_jitter_seed() noexcept;

/// Which transport a socket connects with (phoenix.js's `transport` option).
enum class transport_choice : uint8_t {
  /// WebSocket (the default); with `long_poll_fallback` set it falls back to
  /// long-poll as `automatic` does, as phoenix.js with `longPollFallbackMs`.
  websocket,
  /// Long-poll only (phoenix.js `transport: LongPoll`): no heartbeat, and
  /// custom encode/decode are not used.
  longpoll,
  /// WebSocket with the fallback to long-poll after `long_poll_fallback`
  /// (2,500 ms unless set), kept for the socket's life.
  automatic,
};

/// `"websocket"`, `"longpoll"` or `"auto"`.
std::string to_string(transport_choice c);

/// Parses `"websocket"`, `"longpoll"` or `"auto"`; empty for anything else.
std::optional<transport_choice> parse_transport_choice(std::string_view text);

/// phoenix.js's suggested `longPollFallbackMs`: the fallback window of `automatic`.
constexpr std::chrono::milliseconds default_long_poll_fallback{2500};

/// phoenix.js's `longpollerTimeout`: the time one long-poll request may take.
constexpr std::chrono::milliseconds default_longpoller_timeout{20000};

/// Remembers, per endpoint, that a socket had to fall back to long-poll, so
/// that later sockets to it start with long-poll (phoenix.js keeps the key
/// `phx:fallback:LongPoll` in `sessionStorage`). Implement it to keep the
/// choice elsewhere (a file, a database). Called from the socket's actor:
/// it must not block for long; an exception is caught and reported.
class transport_memory {
public:
  virtual ~transport_memory() = default;
  /// True if a socket to `endpoint` (`ws[s]://host:port/path`, no query) fell
  /// back before.
  virtual bool fell_back(const std::string& endpoint) = 0;
  /// Remembers that a socket to `endpoint` fell back to long-poll and never
  /// got a WebSocket through.
  virtual void remember_fallback(const std::string& endpoint) = 0;
};

/// A `transport_memory` in memory, thread-safe; it forgets at process exit
/// (as `sessionStorage` does when its tab closes).
class in_memory_transport_memory final : public transport_memory {
public:
  /// True if `remember_fallback` was called for `endpoint`.
  bool fell_back(const std::string& endpoint) override;
  /// Remembers `endpoint` (a bounded set: the oldest are forgotten past 1024).
  void remember_fallback(const std::string& endpoint) override;
  /// Forgets every endpoint.
  void clear();

private:
  std::mutex mutex_;
  std::vector<std::string> endpoints_;
};

/// The process-wide in-memory store, used by sockets that remember their
/// fallback (`remember_fallback`) without a store of their own.
std::shared_ptr<transport_memory> process_transport_memory();

/// Makes the TRANSPORT of one connection attempt. The default spawns the real
/// websocketpp transport; deterministic tests plug in a fake.
using transport_factory = std::function<transport::transport_actor(
  caf::actor_system&, transport::listener_actor, transport::generation,
  transport::connect_request)>;

/// Everything a SOCKET actor needs; fixed at spawn.
struct socket_options {
  /// Where to connect (`parse_endpoint` / `make_endpoint`).
  protocol::endpoint endpoint;
  /// Connect params, evaluated at every (re)connect (fresh tokens). Must
  /// return a JSON object (or null for none).
  std::function<protocol::json_document()> params;
  /// Extra HTTP headers of the upgrade request (values never logged).
  std::vector<std::pair<std::string, std::string>> headers;
  /// Auth token, evaluated at every connect; sent as the
  /// `Sec-WebSocket-Protocol` `phoenix, base64url.bearer.phx.BASE64`.
  std::function<std::optional<std::string>()> auth_token;
  /// Wire protocol version ("2.0.0" or "1.0.0").
  std::string vsn{protocol::vsn_2};
  /// Replaces the serializer chosen by `vsn` (custom encode/decode).
  std::shared_ptr<const protocol::serializer> serializer;
  /// Default timeout of joins, pushes and leaves.
  caf::timespan timeout = default_timeout;
  /// Heartbeat interval; the heartbeat timeout is the same. Zero disables.
  caf::timespan heartbeat_interval = default_heartbeat_interval;
  /// Reconnect backoff (ms by tries from 1) and its jitter window in ms.
  protocol::backoff_fn reconnect_after_ms = protocol::default_reconnect_after_ms;
  /// Jitter window of each reconnect step, in ms.
  int64_t reconnect_jitter_ms = 0;
  /// Rejoin backoff (ms by tries from 1) and its jitter window in ms.
  protocol::backoff_fn rejoin_after_ms = protocol::default_rejoin_after_ms;
  /// Jitter window of each rejoin step, in ms.
  int64_t rejoin_jitter_ms = 0;
  /// Bounds of the send buffer (frames waiting for a connection).
  size_t max_send_buffer_frames = 10000;
  /// Bytes of the frames in the send buffer at most.
  size_t max_send_buffer_bytes = 16 * 1024 * 1024;
  /// Bound of each channel's push buffer (pushes waiting for a join).
  size_t max_push_buffer = 10000;
  /// Bound of events queued per subscriber actor; beyond it events are
  /// dropped and counted (`subscriber_overflows`), never queued without bound.
  size_t max_subscriber_queue = 10000;
  /// Bound of inbound frames (and bytes) decoded and not yet consumed by the
  /// channels and callbacks; reading from the network pauses while it is
  /// reached (backpressure: a slow consumer slows the sender, nothing is lost).
  size_t max_inbound_frames = 4096;
  /// Bytes of those inbound frames at most.
  size_t max_inbound_bytes = 64 * 1024 * 1024;
  /// Outbound budget of each connection: frames (and payload bytes) handed to
  /// the connection and not yet written to the network. A push beyond it
  /// fails at once with `ec::outbound_full` (status "failed"); heartbeats,
  /// pings, joins and leaves are counted but never refused (a handful per
  /// channel). At least 1 each; a push larger than the byte budget always fails.
  size_t max_outbound_frames = 10000;
  /// Payload bytes of that outbound budget.
  size_t max_outbound_bytes = 16 * 1024 * 1024;
  /// Largest inbound frame accepted (a larger one closes with 1009).
  uint64_t max_frame_size = 16 * 1024 * 1024;
  /// TLS settings for wss.
  transport::tls_options tls;
  /// Which transport connects: WebSocket (default), long-poll, or WebSocket
  /// with the fallback to long-poll.
  transport_choice transport = transport_choice::websocket;
  /// phoenix.js's `longPollFallbackMs`: if the WebSocket has not opened
  /// within it, fails before it opened, or opens but its first heartbeat gets
  /// no reply within it, the socket switches to long-poll at once and keeps
  /// it. Unset: 2,500 ms with `automatic`, no fallback with `websocket`.
  std::optional<caf::timespan> long_poll_fallback;
  /// phoenix.js's `longpollerTimeout`: time one long-poll request may take.
  caf::timespan longpoller_timeout = default_longpoller_timeout;
  /// Offer permessage-deflate in the WebSocket upgrade (Phoenix's `compress`).
  bool compress = false;
  /// Remember a fallback per endpoint in `transport_memory`, and start with
  /// long-poll where one is remembered (phoenix.js's `sessionStorage`).
  bool remember_fallback = false;
  /// Where a fallback is remembered; null: `process_transport_memory()`.
  std::shared_ptr<phx::transport_memory> transport_memory;
  /// Time allowed to open a connection.
  caf::timespan open_timeout = std::chrono::seconds{10};
  /// Time a `disconnect` waits for the close handshake before dropping the link.
  caf::timespan close_timeout = std::chrono::milliseconds{1500};
  /// Where log lines go.
  phx::logger logger;
  /// Callbacks (facade); may be null.
  std::shared_ptr<socket_hooks> hooks;
  /// Source of the uniform random numbers in [0, 1) used for jitter.
  std::function<double()> random;
  /// Makes the transport of each connection attempt (null: the real one).
  phx::transport_factory transport_factory;
  /// What happens when user code throws (callbacks and user functions alike).
  phx::callback_failure callback_failure = phx::callback_failure::report;
  /// Restart intensity, as OTP's: more than `max_restarts` restarts of the
  /// socket's actors (in place or not) within `restart_window` stop the
  /// socket for good, with `ec::socket_stopped` to `on_error` and subscribers.
  uint32_t max_restarts = 5;
  /// The window of the restart intensity.
  caf::timespan restart_window = std::chrono::seconds{30};
};

/// A channel as a facade creates it: join params (a function evaluated at
/// every join) and callbacks. Local only (holds functions).
struct channel_options {
  /// The channel's topic.
  std::string topic;
  /// The join params, evaluated at every join.
  std::function<protocol::payload()> params;
  /// The channel's callbacks.
  std::shared_ptr<channel_hooks> hooks;
};

/// What a CHANNEL is restarted from, shared by the channel and its
/// supervisor (local only): the spec's fixed part, and what changes over the
/// channel's life under a lock (subscribers, whether join was called, whether
/// it ended for good).
struct channel_spec {
  /// What the channel's socket shares with it.
  std::shared_ptr<socket_context> ctx;
  /// The channel's topic.
  std::string topic;
  /// The join params, evaluated at every join.
  std::function<protocol::payload()> params;
  /// The channel's callbacks.
  std::shared_ptr<channel_hooks> hooks;

  /// Takes the mutable part of the spec.
  struct live_part {
    /// Subscribers of the channel, kept for a restarted channel.
    std::vector<channel_subscriber_actor> subscribers;
    /// Join was called (with this timeout): a restarted channel rejoins.
    bool joined = false;
    /// The timeout `join` was called with.
    caf::timespan timeout{};
    /// Closed, left or removed: never restarted.
    bool closed = false;
  };
  /// Guards `live`.
  std::mutex mutex;
  /// What changes over the channel's life.
  live_part live;
};

/// What a socket and its channels share: the options, the serializer, the
/// ref counter (one per socket, never reused) and the connection flag that
/// phoenix.js's `canPush` and "rejoin if connected" read synchronously. It is
/// also the socket's spec for its supervisor.
struct socket_context {
  /// The socket's options.
  socket_options options;
  /// The serializer of every frame of the socket.
  std::shared_ptr<const protocol::serializer> serializer;
  /// The last ref made (refs are never reused).
  std::atomic<uint64_t> last_ref{0};
  /// True while the connection is open.
  std::atomic<bool> connected{false};
  /// The user asked to connect (and not to disconnect since): a restarted
  /// socket connects again.
  std::atomic<bool> wants_connection{false};
  /// The transport of the current connection (of the last one while closed).
  std::atomic<transport::transport_kind> transport{transport::transport_kind::websocket};
  /// The socket fell back to long-poll: it stays there, restarts included.
  std::atomic<bool> fell_back{false};
  /// A WebSocket of this socket answered its first heartbeat (phoenix.js's
  /// `primaryPassedHealthCheck`): no fallback anymore.
  std::atomic<bool> websocket_passed{false};
  /// Subscribers of the socket, kept for a restarted socket.
  std::mutex spec_mutex;
  /// Subscribers of the socket.
  std::vector<socket_subscriber_actor> subscribers;

  /// The next ref: "1", "2", ...
  std::string make_ref() { return std::to_string(++last_ref); }
};

/// Validates the options and builds the shared context (an error for an
/// unsupported vsn or params that are not an object).
caf::expected<std::shared_ptr<socket_context>> make_socket_context(socket_options opts);

} // namespace phx
