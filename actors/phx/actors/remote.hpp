#pragma once

// Remote spawn: phx's actor types registered with CAF by name, so that a
// node spawns a SOCKET on another node (`middleman().remote_spawn`) from a
// wire-safe options struct, then drives it and its channels through the
// public typed handles (docs/guide.md, "Spawning sockets on other nodes").

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/node_id.hpp>
#include <caf/timespan.hpp>

#include "phx/actors/actors.hpp"
#include "phx/actors/options.hpp"

namespace phx {

/// The name under which `add_actor_types` registers the SOCKET actor:
/// `remote_spawn<socket_actor>(node, "phx.socket", make_message(remote_socket_options{...}))`.
constexpr const char* socket_actor_type = "phx.socket";

/// Everything a SOCKET spawned on another node needs, as data only (no
/// functions, no pointers), so that it crosses the wire. Converted with
/// `to_socket_options` on the node that runs the socket. Times are in ms.
struct remote_socket_options {
  /// Where to connect, e.g. `ws://127.0.0.1:4000/socket` (`parse_endpoint`).
  std::string url;
  /// Connect params: a JSON object as text, sent at every (re)connect; empty: none.
  std::string params;
  /// Extra HTTP headers of the upgrade request (values never logged).
  std::vector<std::pair<std::string, std::string>> headers;
  /// Auth token sent as the `Sec-WebSocket-Protocol` bearer; empty: none.
  std::string auth_token;
  /// Wire protocol version ("2.0.0" or "1.0.0").
  std::string vsn{"2.0.0"};
  /// Default timeout of joins, pushes and leaves.
  int64_t timeout_ms = 10000;
  /// Heartbeat interval (and timeout); 0 disables.
  int64_t heartbeat_interval_ms = 30000;
  /// Reconnect delays by try, as phoenix.js's `reconnectAfterMs` array:
  /// try n waits entry n-1, tries past the end wait the last entry; empty:
  /// phx's default (1 s, 2 s, 5 s, 10 s).
  std::vector<int64_t> reconnect_after_ms;
  /// Jitter window added to each reconnect delay.
  int64_t reconnect_jitter_ms = 0;
  /// Rejoin delays by try, as `reconnect_after_ms`; empty: phx's default.
  std::vector<int64_t> rejoin_after_ms;
  /// Jitter window added to each rejoin delay.
  int64_t rejoin_jitter_ms = 0;
  /// TLS settings for wss; the files are read on the node that runs the socket.
  transport::tls_options tls;
  /// "websocket", "longpoll" or "auto" (`parse_transport_choice`).
  std::string transport{"websocket"};
  /// phoenix.js's `longPollFallbackMs`; negative: unset.
  int64_t long_poll_fallback_ms = -1;
  /// Time one long-poll request may take.
  int64_t longpoller_timeout_ms = 20000;
  /// Offer permessage-deflate.
  bool compress = false;
  /// Remember a fallback to long-poll per endpoint (in the running node's process memory).
  bool remember_fallback = false;
  /// Time allowed to open a connection.
  int64_t open_timeout_ms = 10000;
  /// Time a disconnect waits for the close handshake.
  int64_t close_timeout_ms = 1500;
  /// Bound of the send buffer, in frames.
  uint64_t max_send_buffer_frames = 10000;
  /// Bound of the send buffer, in bytes.
  uint64_t max_send_buffer_bytes = 16 * 1024 * 1024;
  /// Bound of each channel's push buffer.
  uint64_t max_push_buffer = 10000;
  /// Bound of events queued per subscriber actor.
  uint64_t max_subscriber_queue = 10000;
  /// Bound of inbound frames not yet consumed (backpressure).
  uint64_t max_inbound_frames = 4096;
  /// Bound of inbound bytes not yet consumed.
  uint64_t max_inbound_bytes = 64 * 1024 * 1024;
  /// Outbound budget in frames.
  uint64_t max_outbound_frames = 10000;
  /// Outbound budget in payload bytes.
  uint64_t max_outbound_bytes = 16 * 1024 * 1024;
  /// Largest inbound frame accepted.
  uint64_t max_frame_size = 16 * 1024 * 1024;
  /// Restart intensity: restarts allowed within `restart_window_ms`.
  uint32_t max_restarts = 5;
  /// The window of the restart intensity.
  int64_t restart_window_ms = 30000;
  /// Log level on the running node ("trace" ... "error", "off"); lines go to its stderr.
  std::string log_level{"off"};
  /// If set, the socket stops (user_shutdown, no restart) when this actor goes
  /// down, its node's link included: no orphan socket outlives its owner.
  caf::actor owner;
};

/// Serialization of `remote_socket_options` (the auth token and header values
/// are omitted from `to_string`).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_socket_options& x) {
  return f(caf::meta::type_name("phx::remote_socket_options"), x.url, caf::meta::omittable(),
           x.params, caf::meta::omittable(), x.headers, caf::meta::omittable(), x.auth_token,
           x.vsn, x.timeout_ms, x.heartbeat_interval_ms, x.reconnect_after_ms,
           x.reconnect_jitter_ms, x.rejoin_after_ms, x.rejoin_jitter_ms, x.tls, x.transport,
           x.long_poll_fallback_ms, x.longpoller_timeout_ms, x.compress, x.remember_fallback,
           x.open_timeout_ms, x.close_timeout_ms, x.max_send_buffer_frames,
           x.max_send_buffer_bytes, x.max_push_buffer, x.max_subscriber_queue,
           x.max_inbound_frames, x.max_inbound_bytes, x.max_outbound_frames,
           x.max_outbound_bytes, x.max_frame_size, x.max_restarts, x.restart_window_ms,
           x.log_level, x.owner);
}

/// A backoff function from a table of delays (ms by try from 1; past the end,
/// the last entry), as phoenix.js's `reconnectAfterMs` arrays. Empty: nullptr.
protocol::backoff_fn backoff_table(std::vector<int64_t> steps_ms);

/// Converts wire options into `socket_options`; else an `ec::invalid_argument`
/// error naming the first bad field (URL, params not a JSON object, vsn,
/// transport, log level, a negative time or table entry).
caf::expected<socket_options> to_socket_options(const remote_socket_options& opts);

/// Registers phx's message types (`add_message_types`), `remote_socket_options`,
/// and the actor type "phx.socket" (a SOCKET made from one `remote_socket_options`)
/// with `cfg`. Call it on every node that spawns or runs remote sockets.
void add_actor_types(caf::actor_system_config& cfg);

/// Checks `opts` here, then spawns a SOCKET on `node` over the middleman
/// (which must be loaded): a clear error for bad options before anything is
/// sent, `sec::cannot_spawn_actor_from_arguments` if the node refuses them,
/// `sec::unknown_type` if it has not called `add_actor_types`.
caf::expected<socket_actor> remote_spawn_socket(caf::actor_system& sys, const caf::node_id& node,
                                                const remote_socket_options& opts,
                                                caf::timespan timeout = std::chrono::seconds{10});

} // namespace phx
