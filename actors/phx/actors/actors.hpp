#pragma once

// The typed actor interfaces of phx and every message type they exchange, in
// one header and one type ID block (also what a remote CAF node needs).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_control_block.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/sec.hpp>
#include <caf/timespan.hpp>
#include <caf/type_id.hpp>
#include <caf/typed_actor.hpp>

#include "phx/actors/error.hpp"
#include "phx/protocol/message.hpp"
#include "phx/transport/io_scheduler.hpp"
#include "phx/transport/transport.hpp"

namespace phx {

// -- value types ---------------------------------------------------------------

/// The state of a channel, as phoenix.js names them.
enum class channel_state : uint8_t { closed, errored, joined, joining, leaving };

/// Returns `"closed"`, `"errored"`, `"joined"`, `"joining"` or `"leaving"`.
std::string to_string(channel_state x);

/// The state of a socket's connection, as the WebSocket readyState names them.
enum class connection_state : uint8_t { connecting, open, closing, closed };

/// Returns `"connecting"`, `"open"`, `"closing"` or `"closed"`.
std::string to_string(connection_state x);

/// A server reply to a push or a join: status `"ok"` or `"error"` and the
/// response (JSON or bytes). A join outcome delivered to subscribers may also
/// carry status `"timeout"` with an empty response.
struct reply {
  /// The reply status: "ok" or "error" ("timeout" for a join outcome).
  std::string status;
  /// The response: JSON or bytes.
  protocol::payload response;

  /// True when the status is "ok".
  bool ok() const noexcept { return status == "ok"; }
  /// Equal status and response.
  friend bool operator==(const reply& a, const reply& b) {
    return a.status == b.status && a.response == b.response;
  }
};

/// Counters of a socket, for tests, tools and monitoring.
struct socket_stats {
  /// Current connection generation (number of connection attempts).
  uint64_t generation = 0;
  /// Times the connection opened.
  uint64_t opens = 0;
  /// Reconnect attempts started by the reconnect supervisor.
  uint64_t reconnects = 0;
  /// Channels routed by this socket.
  uint64_t channels = 0;
  /// Frames and bytes waiting in the send buffer.
  uint64_t buffered_frames = 0;
  /// Bytes of the frames in the send buffer.
  uint64_t buffered_bytes = 0;
  /// Frames refused because the send buffer was full.
  uint64_t buffer_overflows = 0;
  /// Frames received and sent since the socket started.
  uint64_t frames_in = 0;
  /// Frames sent since the socket started.
  uint64_t frames_out = 0;
  /// Inbound frames that could not be decoded (each reported once).
  uint64_t decode_errors = 0;
  /// Inbound messages for a topic no channel is routed for.
  uint64_t unrouted = 0;
  /// Heartbeats that timed out.
  uint64_t heartbeat_timeouts = 0;
  /// Times reading paused because channels were behind (backpressure).
  uint64_t inbound_pauses = 0;
  /// Messages not delivered to a subscriber whose queue was full.
  uint64_t subscriber_overflows = 0;
  /// `phoenix` replies matching no pending heartbeat or ping (late, duplicate, unknown).
  uint64_t unmatched_replies = 0;
  /// Pushes refused because the connection's outbound budget was used up
  /// (`ec::outbound_full`), and frames and payload bytes handed to the current
  /// connection and not yet written to the network.
  uint64_t outbound_refusals = 0;
  /// Frames handed to the current connection and not yet written.
  uint64_t outbound_frames = 0;
  /// Payload bytes handed to the current connection and not yet written.
  uint64_t outbound_bytes = 0;
  /// Internal messages refused because their sender was not entitled to
  /// send them (another node, a user actor; each logged).
  uint64_t not_entitled = 0;
  /// The transport of the current connection or attempt (the last one's while closed).
  transport::transport_kind transport = transport::transport_kind::websocket;
  /// Times the socket fell back from WebSocket to long-poll (0 or 1: the
  /// fallback is kept for the socket's life).
  uint64_t fallbacks = 0;
};

/// Counters of a channel, for tests, tools and monitoring.
struct channel_stats {
  /// The channel's state.
  channel_state state = channel_state::closed;
  /// Join attempts sent (first join and rejoins).
  uint64_t joins = 0;
  /// Pushes waiting for a reply, and pushes waiting in the push buffer.
  uint64_t pending = 0;
  /// Pushes waiting in the push buffer for a join.
  uint64_t buffered = 0;
  /// Messages dropped because they carried a stale join_ref.
  uint64_t stale_dropped = 0;
  /// Replies whose ref matched no pending push (late, duplicate or unknown).
  uint64_t unmatched_replies = 0;
  /// Events dropped because a subscriber's queue was full.
  uint64_t subscriber_overflows = 0;
  /// PUSH actors idle in the channel's pool, waiting for the next pushes.
  uint64_t idle_pushes = 0;
  /// Internal messages refused because their sender was not entitled to
  /// send them (another node, a user actor; each logged).
  uint64_t not_entitled = 0;
};

struct channel_options;
struct channel_spec;
struct socket_context;
class push_hooks;
class push_guard;

} // namespace phx

// Facade-only and supervision messages carry callbacks and specs: local,
// never serialized.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(phx::channel_options)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<phx::push_hooks>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<phx::push_guard>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<phx::channel_spec>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<phx::socket_context>)

// -- inspection (serialization for remote nodes, to_string) ------------------------

namespace phx::protocol {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, payload& x) {
  uint8_t binary = x.is_binary() ? 1 : 0;
  std::string data = x.is_binary() ? std::string{x.binary_view()} : x.to_string();
  auto load = caf::meta::load_callback([&]() -> caf::error {
    if (binary != 0) {
      x = payload::binary(data);
      return caf::none;
    }
    auto parsed = payload::parse(data);
    if (!parsed)
      return caf::make_error(phx::ec::decode_failed, parsed.error().to_string());
    x = std::move(*parsed);
    return caf::none;
  });
  return f(caf::meta::type_name("phx::payload"), binary, data, load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message& x) {
  // std::optional is not inspectable in CAF 0.17: carry flag + text.
  uint8_t has_join_ref = x.join_ref ? 1 : 0;
  uint8_t has_ref = x.ref ? 1 : 0;
  std::string join_ref = x.join_ref.value_or(std::string{});
  std::string ref = x.ref.value_or(std::string{});
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x.join_ref = has_join_ref ? std::optional<std::string>{join_ref} : std::nullopt;
    x.ref = has_ref ? std::optional<std::string>{ref} : std::nullopt;
    return caf::none;
  });
  return f(caf::meta::type_name("phx::message"), has_join_ref, join_ref,
           has_ref, ref, x.topic, x.event, x.status, x.payload, load);
}

} // namespace phx::protocol

namespace phx {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reply& x) {
  return f(caf::meta::type_name("phx::reply"), x.status, x.response);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, socket_stats& x) {
  return f(caf::meta::type_name("phx::socket_stats"), x.generation, x.opens,
           x.reconnects, x.channels, x.buffered_frames, x.buffered_bytes,
           x.buffer_overflows, x.frames_in, x.frames_out, x.decode_errors,
           x.unrouted, x.heartbeat_timeouts, x.inbound_pauses, x.subscriber_overflows,
           x.unmatched_replies, x.outbound_refusals, x.outbound_frames, x.outbound_bytes,
           x.not_entitled, x.transport, x.fallbacks);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, channel_stats& x) {
  return f(caf::meta::type_name("phx::channel_stats"), x.state, x.joins,
           x.pending, x.buffered, x.stale_dropped, x.unmatched_replies,
           x.subscriber_overflows, x.idle_pushes, x.not_entitled);
}

// -- atoms -------------------------------------------------------------------------

using caf::connect_atom;
using caf::join_atom;
using caf::leave_atom;
using caf::ping_atom;
using caf::subscribe_atom;
using caf::unsubscribe_atom;
using transport::closed_atom;
using transport::flow_ticket;
using transport::failed_atom;
using transport::frame_atom;
using transport::opened_atom;

/// Push an event to a channel.
using push_atom = caf::atom_constant<caf::atom("push")>;
/// Disconnect a socket.
using disconnect_atom = caf::atom_constant<caf::atom("disconnect")>;
/// Create a channel on a socket.
using channel_atom = caf::atom_constant<caf::atom("channel")>;
/// Remove a channel from its socket.
using remove_atom = caf::atom_constant<caf::atom("remove")>;
/// Query a state.
using state_atom = caf::atom_constant<caf::atom("state")>;
/// Query counters.
using stats_atom = caf::atom_constant<caf::atom("stats")>;
/// A channel event delivered to a subscriber.
using event_atom = caf::atom_constant<caf::atom("event")>;
/// The one outcome of a push.
using outcome_atom = caf::atom_constant<caf::atom("outcome")>;
/// A decoded message (socket to channel and subscribers).
using message_atom = caf::atom_constant<caf::atom("message")>;
/// A transport error or loss reported to channels and subscribers.
using error_atom = caf::atom_constant<caf::atom("error")>;
/// INTERNAL: send a message through the socket.
using send_atom = caf::atom_constant<caf::atom("send")>;
/// INTERNAL: a send was refused.
using refused_atom = caf::atom_constant<caf::atom("refused")>;
/// INTERNAL: heartbeat timer and heartbeat timeout timer.
using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;
using hb_timeout_atom = caf::atom_constant<caf::atom("hbtimeout")>;
/// INTERNAL: reconnect timer.
using reconnect_atom = caf::atom_constant<caf::atom("reconnect")>;
/// INTERNAL: rejoin timer.
using rejoin_atom = caf::atom_constant<caf::atom("rejoin")>;
/// INTERNAL: join, leave and push timeout timers.
using join_timeout_atom = caf::atom_constant<caf::atom("jtimeout")>;
using leave_timeout_atom = caf::atom_constant<caf::atom("ltimeout")>;
using push_timeout_atom = caf::atom_constant<caf::atom("ptimeout")>;
/// INTERNAL: the WebSocket's time to open, or to pass its first heartbeat,
/// is up: fall back to long-poll (`long_poll_fallback_ms`).
using fallback_atom = caf::atom_constant<caf::atom("fallback")>;
/// INTERNAL: teardown of a closing connection.
using teardown_atom = caf::atom_constant<caf::atom("teardown")>;
/// INTERNAL: leave because another channel joins the same topic.
using duplicate_atom = caf::atom_constant<caf::atom("duplicate")>;
/// INTERNAL: user code threw under `callback_failure::restart`: restart in place.
using crash_atom = caf::atom_constant<caf::atom("crash")>;
/// INTERNAL (supervisor): a channel whose socket was restarted joins the new one.
using attach_atom = caf::atom_constant<caf::atom("attach")>;
/// INTERNAL (supervisor): the socket stops for good.
using halt_atom = caf::atom_constant<caf::atom("halt")>;
/// INTERNAL (supervisor): watch a socket or a channel.
using watch_atom = caf::atom_constant<caf::atom("watch")>;
/// INTERNAL (supervisor): an actor restarted in place (counts against the
/// restart intensity).
using restarted_atom = caf::atom_constant<caf::atom("restarted")>;

// -- actor interfaces ----------------------------------------------------------------

/// An actor receiving the events of a channel (subscribe it with
/// `subscribe_atom`). Any actor can implement this interface.
using channel_subscriber_actor = caf::typed_actor<
  // An inbound event (broadcast, push, presence, phx_error, phx_close); the
  // second argument is the channel's current join_ref ("" if none), which
  // presence tracking needs for broadcasts that carry none. The ticket holds
  // one place of the subscriber's bounded queue until the message holding it
  // is destroyed: events beyond the bound are dropped and counted.
  caf::reacts_to<event_atom, protocol::message, std::string, flow_ticket>,
  // The channel changed state: topic and new state.
  caf::reacts_to<state_atom, std::string, channel_state>,
  // A join attempt ended (first join and each rejoin): topic and outcome.
  caf::reacts_to<join_atom, std::string, reply>>;

/// The PUSH actor interface: the actor of one pending push at a time, which
/// delivers that push's one outcome (reply, timeout or refusal). Only its
/// CHANNEL talks to it; idle PUSH actors wait in their CHANNEL's pool.
using push_actor = caf::typed_actor<
  // The outcome of a push requested through the actor API, sent as its
  // requester's request (delegated): the PUSH answers the requester.
  caf::replies_to<outcome_atom, reply>::with<reply>,
  caf::replies_to<outcome_atom, caf::error>::with<reply>,
  // The outcome of a facade push: the PUSH runs its callbacks.
  caf::reacts_to<outcome_atom, reply, std::shared_ptr<push_hooks>>,
  caf::reacts_to<outcome_atom, caf::error, std::shared_ptr<push_hooks>>>;

/// The CHANNEL actor interface: one topic on one socket.
using channel_actor = caf::typed_actor<
  // Join (once); yields the first join reply, or an error (timeout, joined twice).
  caf::replies_to<join_atom>::with<reply>,
  caf::replies_to<join_atom, caf::timespan>::with<reply>,
  // Push an event with the channel's timeout or an explicit one; yields the
  // server's reply, or an error (ec::push_timeout, ec::not_joined, ...).
  caf::replies_to<push_atom, std::string, protocol::payload>::with<reply>,
  caf::replies_to<push_atom, std::string, protocol::payload, caf::timespan>::with<reply>,
  // Facade: push whose outcome goes to callbacks instead of a requester
  // (the guard gives it its outcome if the message dies unread).
  caf::reacts_to<push_atom, std::string, protocol::payload, caf::timespan,
                 std::shared_ptr<push_guard>>,
  // Facade: join whose outcomes go to the channel's join callback.
  caf::reacts_to<join_atom, caf::timespan, std::shared_ptr<push_guard>>,
  // Leave; yields once the channel is closed (leave reply or timeout).
  caf::replies_to<leave_atom>::with<channel_state>,
  caf::replies_to<leave_atom, caf::timespan>::with<channel_state>,
  // Facade: leave whose outcome goes to callbacks.
  caf::reacts_to<leave_atom, caf::timespan, std::shared_ptr<push_guard>>,
  // Subscribe or unsubscribe an actor to the channel's events.
  caf::reacts_to<subscribe_atom, channel_subscriber_actor>,
  caf::reacts_to<unsubscribe_atom, channel_subscriber_actor>,
  // The current state and counters.
  caf::replies_to<state_atom>::with<channel_state>,
  caf::replies_to<stats_atom>::with<channel_stats>,
  // INTERNAL: decoded messages for this topic (one inbound batch, in order),
  // routed by the socket, with the ticket that holds the connection's
  // inbound credit until they are consumed.
  caf::reacts_to<message_atom, std::vector<protocol::message>, flow_ticket>,
  // INTERNAL: the socket opened.
  caf::reacts_to<opened_atom>,
  // INTERNAL: the socket lost its connection (reason: connection_closed,
  // connection_error, heartbeat_timeout).
  caf::reacts_to<error_atom, std::string>,
  // INTERNAL: another channel joins this topic with this ref: leave if
  // joined or joining with an older join.
  caf::reacts_to<duplicate_atom, std::string>,
  // INTERNAL: the socket refused to send the message with this ref.
  caf::reacts_to<refused_atom, std::string, caf::error>,
  // INTERNAL: user code threw under the restart policy (from itself).
  caf::reacts_to<crash_atom, std::string>,
  // INTERNAL: the supervisor restarted the socket; this is the new one.
  caf::reacts_to<attach_atom, caf::actor>,
  // INTERNAL: timers, tagged with an epoch or a push id.
  caf::reacts_to<rejoin_atom, uint64_t>,
  caf::reacts_to<join_timeout_atom, uint64_t>,
  caf::reacts_to<leave_timeout_atom, uint64_t>,
  caf::reacts_to<push_timeout_atom, uint64_t>>;

/// An actor receiving the events of a socket (subscribe it with `subscribe_atom`).
using socket_subscriber_actor = caf::typed_actor<
  // The connection opened.
  caf::reacts_to<opened_atom>,
  // The connection closed: code and reason.
  caf::reacts_to<closed_atom, uint16_t, std::string>,
  // A transport error: reason and HTTP status of a refused upgrade (0 if none).
  caf::reacts_to<error_atom, std::string, int>,
  // Every decoded inbound message, with the ticket of the subscriber's
  // bounded queue (see channel_subscriber_actor).
  caf::reacts_to<message_atom, protocol::message, flow_ticket>>;

/// The SOCKET actor interface: one Phoenix socket multiplexing channels over
/// one connection; its reconnect supervisor role spawns a TRANSPORT per
/// connection attempt.
using socket_actor = caf::typed_actor<
  // Connect (idempotent while connecting or open).
  caf::reacts_to<connect_atom>,
  // Disconnect with code and reason; yields once torn down. No reconnect after.
  caf::replies_to<disconnect_atom, uint16_t, std::string>::with<connection_state>,
  // Create a channel for a topic with join params.
  caf::replies_to<channel_atom, std::string, protocol::payload>::with<channel_actor>,
  // Route a channel spawned by the caller (the facade) for a topic.
  caf::reacts_to<channel_atom, channel_actor, std::string>,
  // Remove a channel (by identity) and its subscriptions.
  caf::reacts_to<remove_atom, channel_actor>,
  // The connection state and counters.
  caf::replies_to<state_atom>::with<connection_state>,
  caf::replies_to<stats_atom>::with<socket_stats>,
  // Round trip time of a heartbeat; ec::not_connected if not open.
  caf::replies_to<ping_atom>::with<caf::timespan>,
  // Subscribe or unsubscribe an actor to the socket's events.
  caf::reacts_to<subscribe_atom, socket_subscriber_actor>,
  caf::reacts_to<unsubscribe_atom, socket_subscriber_actor>,
  // INTERNAL: a channel sends a message (encoded, then sent or buffered).
  caf::reacts_to<send_atom, protocol::message>,
  // INTERNAL: a channel closed and leaves the routing table.
  caf::reacts_to<remove_atom, channel_actor, closed_atom>,
  // INTERNAL: sends the frames queued for the transport.
  caf::reacts_to<caf::flush_atom>,
  // INTERNAL: user code threw under the restart policy (from itself).
  caf::reacts_to<crash_atom, std::string>,
  // INTERNAL: the supervisor stops the socket for good (restart intensity).
  caf::reacts_to<halt_atom, caf::error>,
  // INTERNAL: timers, tagged with an epoch or generation.
  caf::reacts_to<heartbeat_atom, uint64_t>,
  caf::reacts_to<hb_timeout_atom, uint64_t>,
  caf::reacts_to<reconnect_atom, uint64_t>,
  caf::reacts_to<teardown_atom, uint64_t>,
  caf::reacts_to<fallback_atom, uint64_t>>
  ::extend_with<transport::listener_actor>;

/// The SUPERVISOR actor interface: one per actor system (hidden, started on
/// first use). It watches every SOCKET and CHANNEL, restarts one that dies
/// abnormally from its spec, counts every restart (in place or not) against
/// its socket's intensity (`max_restarts` in `restart_window`), and past it
/// stops the socket for good. Local only: its messages carry specs.
using supervisor_actor = caf::typed_actor<
  // Watch a socket; its context is its spec.
  caf::reacts_to<watch_atom, socket_actor, std::shared_ptr<socket_context>>,
  // Watch a channel of a socket; restart it from this spec if it dies.
  caf::reacts_to<watch_atom, channel_actor, std::shared_ptr<channel_spec>>,
  // The actor of the socket with this address restarted in place (why).
  caf::reacts_to<restarted_atom, caf::actor_addr, std::string>>;

/// True if the message `self` handles now was sent by `expected`: the check
/// that keeps an internal message (frames, timers, transport reports) from
/// anyone but the one actor entitled to send it, whatever the types allowed
/// (a remote node can bypass static types).
template <class Self>
bool sent_by(Self* self, const caf::actor_addr& expected) {
  auto& sender = self->current_sender();
  return sender && expected
         && sender.get() == caf::actor_cast<caf::actor_control_block*>(expected);
}

/// Names the sender of a refused internal message for the log: "actor ID on
/// node NODE", or "an anonymous sender".
std::string describe_sender(const caf::strong_actor_ptr& sender);

/// Registers the message types and the error category of phx with a config.
/// Needed by every actor system that exchanges phx messages with another node.
void add_message_types(caf::actor_system_config& cfg);

/// Sets CAF's scheduler up for a client: `workers` worker threads instead of
/// CAF's default of one per core and at least 4. A socket's actors hand each
/// message on to the next, and one worker does that without waking another
/// thread each time: about 25 % less CPU per echo round trip and 35 % less
/// per inbound event than CAF's defaults here (docs/benchmarks.md). With one
/// worker, an idle worker blocks until the next job instead of polling with
/// 50 us sleeps (CAF's moderate polling): about 10 % less CPU and 20-30 %
/// less latency per request at low rates. Give more workers to callbacks that compute
/// (they keep CAF's polling, so idle workers steal). For a system that runs
/// little besides phx, `use_io_scheduler` is cheaper still.
void tune_scheduler(caf::actor_system_config& cfg, size_t workers = 1);

/// Runs the actors of the system made from `cfg` on phx's io threads instead
/// of CAF's workers (`transport::use_io_scheduler`): a socket's actors and
/// its connection share one thread and hand messages on without waking
/// another one, about a fifth less CPU per echo round trip through the facade,
/// a third less through the actor API and about a third less per inbound
/// event than `tune_scheduler` (docs/benchmarks.md). Every actor of that
/// system, and every callback, must then not block: it would stall the io of
/// the connections on its thread, as a blocking callback stalls phoenix.js's
/// event loop. The facade's own actor system uses it.
using transport::use_io_scheduler;

} // namespace phx

// -- type ID block: every message type of phx, one block ---------------------------

CAF_BEGIN_TYPE_ID_BLOCK(phx, caf::first_custom_type_id)
  CAF_ADD_TYPE_ID(phx, (phx::protocol::payload))
  CAF_ADD_TYPE_ID(phx, (phx::protocol::message))
  CAF_ADD_TYPE_ID(phx, (std::vector<phx::protocol::message>))
  CAF_ADD_TYPE_ID(phx, (phx::protocol::frame))
  CAF_ADD_TYPE_ID(phx, (std::vector<phx::protocol::frame>))
  CAF_ADD_TYPE_ID(phx, (phx::reply))
  CAF_ADD_TYPE_ID(phx, (phx::channel_state))
  CAF_ADD_TYPE_ID(phx, (phx::connection_state))
  CAF_ADD_TYPE_ID(phx, (phx::socket_stats))
  CAF_ADD_TYPE_ID(phx, (phx::channel_stats))
  CAF_ADD_TYPE_ID(phx, (phx::transport::transport_kind))
  CAF_ADD_TYPE_ID(phx, (phx::transport::connect_request))
  CAF_ADD_TYPE_ID(phx, (phx::transport::connect_failure))
  CAF_ADD_TYPE_ID(phx, (phx::transport::flow_ticket))
  CAF_ADD_TYPE_ID(phx, (phx::channel_actor))
  CAF_ADD_TYPE_ID(phx, (phx::push_actor))
  CAF_ADD_TYPE_ID(phx, (phx::socket_actor))
  CAF_ADD_TYPE_ID(phx, (phx::channel_subscriber_actor))
  CAF_ADD_TYPE_ID(phx, (phx::socket_subscriber_actor))
  CAF_ADD_TYPE_ID(phx, (phx::transport::transport_actor))
  CAF_ADD_TYPE_ID(phx, (phx::transport::listener_actor))
CAF_END_TYPE_ID_BLOCK(phx)
