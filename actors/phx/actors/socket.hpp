#pragma once

#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "phx/actors/actors.hpp"
#include "phx/actors/options.hpp"
#include "phx/actors/subscriber.hpp"

namespace phx {

/// The state of a SOCKET actor. The socket owns the connection (through one
/// TRANSPORT per attempt), the send buffer, the heartbeat, the routing of
/// messages to channels and the socket callbacks; its RECONNECT SUPERVISOR
/// role restarts the connection with backoff after every close the user did
/// not ask for. Exposed for deterministic tests.
struct socket_state {
  static inline const char* name = "phx.socket";

  /// A frame waiting for a connection.
  struct buffered_frame {
    protocol::frame frame;
    std::optional<std::string> ref;
    caf::strong_actor_ptr sender;
    /// A join or leave: never refused by the outbound budget when flushed.
    bool control = false;
  };

  /// A connection being closed by `disconnect`: who waits for it.
  struct teardown {
    transport::transport_actor transport;
    uint16_t code = 1000;
    std::string reason;
    std::vector<caf::typed_response_promise<connection_state>> waiters;
  };

  /// A `ping` waiting for its heartbeat reply.
  struct pending_ping {
    caf::actor_clock::time_point sent;
    caf::typed_response_promise<caf::timespan> promise;
  };

  std::shared_ptr<socket_context> ctx;
  /// The supervisor of the system, kept alive by the actors it watches.
  supervisor_actor supervisor;

  // -- connection and reconnect supervisor ----------------------------------------

  connection_state conn = connection_state::closed;
  transport::generation gen = 0;
  transport::transport_actor transport;
  /// True after `disconnect` (and before the first `connect`): no reconnect.
  bool manual_disconnect = true;
  uint32_t reconnect_tries = 0;
  uint64_t reconnect_epoch = 0;
  std::map<transport::generation, teardown> closing;

  // -- transport choice and fallback ------------------------------------------------

  /// The transport kind of the current (or last) connection attempt.
  transport::transport_kind kind = transport::transport_kind::websocket;
  /// Tags the fallback timer: bumped to cancel it.
  uint64_t fallback_epoch = 0;
  /// Ref of the first heartbeat that tests a fresh WebSocket (phoenix.js's
  /// fallback `ping`); empty when none is pending.
  std::optional<std::string> health_check;
  /// The fallback was written to the transport memory (once per socket).
  bool fallback_remembered = false;

  // -- heartbeat -------------------------------------------------------------------

  std::optional<std::string> pending_heartbeat;
  uint64_t heartbeat_epoch = 0;
  std::unordered_map<std::string, pending_ping> pings;

  // -- send buffer -----------------------------------------------------------------

  std::vector<buffered_frame> send_buffer;
  size_t buffered_bytes = 0;

  /// Frames for the transport, sent together at the next flush.
  std::vector<protocol::frame> out;
  bool flush_pending = false;
  /// Frames in the last flush: the next batch reserves that much at once.
  size_t last_flush = 0;

  // -- routing and subscribers -------------------------------------------------------

  std::unordered_map<std::string, std::vector<channel_actor>> routes;
  std::vector<subscriber<socket_subscriber_actor>> subscribers;
  /// Inbound credit of the current connection (backpressure towards the server).
  std::shared_ptr<transport::credit> inbound;
  /// Outbound budget of the current connection: frames handed to it and not
  /// yet written (`max_outbound_*`); the io side gives a frame back once written.
  std::shared_ptr<transport::credit> outbound;
  /// True since a push was refused for the budget: only the first refusal of
  /// a run is logged as a warning, the others at debug level.
  bool outbound_refusing = false;

  socket_stats stats;
  /// Jitter of the reconnect backoff.
  protocol::jitter_random rng{fresh_jitter_seed()};

  socket_state() = default;
  socket_state(const socket_state&) = delete;
  socket_state& operator=(const socket_state&) = delete;

  /// A dead socket is not connected: its channels must not think otherwise.
  ~socket_state() {
    if (ctx)
      ctx->connected.store(false);
  }
};

/// The SOCKET behavior (for `spawn` and deterministic tests).
socket_actor::behavior_type
socket_impl(socket_actor::stateful_pointer<socket_state> self,
            std::shared_ptr<socket_context> ctx);

/// Spawns a SOCKET for a context (see `make_socket_context`). It does not
/// connect until it receives `connect_atom`.
socket_actor spawn_socket(caf::actor_system& sys, std::shared_ptr<socket_context> ctx);

/// Thrown by `make_connect_request` when the params or auth token function
/// threw; the fault is recorded for the calling thread (`take_faults`).
struct user_function_failed : std::exception {
  /// "a user function threw".
  const char* what() const noexcept override { return "a user function threw"; }
};

/// Builds the connect request of the next attempt over `kind`: URL with
/// fresh params (`/websocket` or `/longpoll`), headers, the auth token (a
/// WebSocket subprotocol, or the `X-Phoenix-AuthToken` header over
/// long-poll), TLS and limits. Throws `user_function_failed` if the params or
/// auth token function threw.
transport::connect_request
make_connect_request(const socket_context& ctx,
                     transport::transport_kind kind = transport::transport_kind::websocket);

} // namespace phx
