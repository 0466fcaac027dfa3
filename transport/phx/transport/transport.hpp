#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/meta/omittable.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "phx/protocol/log.hpp"
#include "phx/transport/flow.hpp"
#include "phx/protocol/serializer.hpp"

namespace phx::transport {

// -- value types ---------------------------------------------------------------

/// Connection generation: the SOCKET numbers its connection attempts; every
/// report carries the generation it belongs to so that late events of an
/// older connection are recognized and dropped.
using generation = uint64_t;

/// TLS settings of a `wss` connection. The peer certificate and host name are
/// verified unless `verify_peer` is false (an explicit, logged choice).
struct tls_options {
  /// Verify the certificate chain and the host name (default).
  bool verify_peer = true;
  /// PEM file of trusted CAs; empty: the system's default trust store.
  std::string ca_file;
  /// Directory of trusted CAs (hashed names, as `c_rehash` makes them).
  std::string ca_dir;
  /// PEM client certificate (chain) for mutual TLS; empty: none.
  std::string cert_file;
  /// PEM private key of the client certificate.
  std::string key_file;
};

/// The kind of connection a TRANSPORT makes: phoenix.js's two transports.
enum class transport_kind : uint8_t {
  /// One WebSocket (`ws://`, `wss://`): the default.
  websocket,
  /// HTTP long-polling (`http://`, `https://`): phoenix.js's `LongPoll`, for
  /// networks that break WebSockets. No heartbeat: the poll window does it.
  longpoll,
};

/// `"websocket"` or `"longpoll"`.
inline std::string to_string(transport_kind k) {
  return k == transport_kind::longpoll ? "longpoll" : "websocket";
}

/// Everything one connection attempt needs.
struct connect_request {
  /// Which transport makes the connection; `url` is of its kind (ws/wss for
  /// a WebSocket, http/https for long-poll).
  transport_kind kind = transport_kind::websocket;
  /// Full URL: WebSocket (`ws://` or `wss://`, path, query) or long-poll
  /// (`http://` or `https://`, `.../longpoll?...`). Holds secrets: log only
  /// through `phx::protocol::redact_url`.
  std::string url;
  /// Extra HTTP headers of the upgrade request (long-poll: of every request).
  /// Values may be secrets: never logged.
  std::vector<std::pair<std::string, std::string>> headers;
  /// Value of `Sec-WebSocket-Protocol`, empty for none (holds the auth token).
  /// Ignored by long-poll (its auth token goes in `X-Phoenix-AuthToken`).
  std::string subprotocols;
  /// TLS settings for `wss` and `https`.
  tls_options tls;
  /// Largest inbound message accepted; a larger one closes with 1009
  /// (long-poll: also a poll answer over twice this plus 64 KiB).
  uint64_t max_frame_size = 16 * 1024 * 1024;
  /// Time allowed for DNS + TCP + TLS + upgrade (long-poll: the first poll,
  /// which opens the session), in milliseconds; 0: no overall limit (each
  /// step still gives up after 30 s; a long-poll request after its timeout).
  uint32_t open_timeout_ms = 10000;
  /// Time allowed for a close handshake before the link is dropped, in ms;
  /// 0: send the close frame and drop the link without waiting. Long-poll
  /// has no close handshake.
  uint32_t close_timeout_ms = 5000;
  /// Offer permessage-deflate (RFC 7692) in the WebSocket upgrade and use it
  /// when the server accepts; inflated messages stay capped by
  /// `max_frame_size`. Ignored by long-poll.
  bool compress = false;
  /// Long-poll only: time allowed for one poll or send request, in ms
  /// (phoenix.js's `longpollerTimeout`).
  uint32_t long_poll_timeout_ms = 20000;
  /// Validate the UTF-8 of outbound text frames (drop and log invalid ones).
  /// Off when the frames come from a serializer that already refuses it.
  bool validate_outbound_utf8 = true;
  /// Bound on inbound frames handed to the listener and not yet consumed:
  /// each frame comes with a ticket of this credit, and reading from the
  /// network pauses while the bound is reached (backpressure, no loss). Null:
  /// unbounded. Local only (not serialized).
  std::shared_ptr<credit> inbound;
  /// Bound on outbound frames handed to this connection and not yet written
  /// to the network. The sender takes a unit of the frame's payload size
  /// before it sends a frame; the io side gives it back once websocketpp's
  /// write of that frame completed (long-poll: once the POST carrying it was
  /// answered or failed), or the frame was dropped. Null:
  /// unbounded. Local only (not serialized).
  std::shared_ptr<credit> outbound;
};

/// Why a connection attempt failed before it opened.
struct connect_failure {
  /// What went wrong, without secrets (e.g. "connection refused",
  /// "certificate verify failed: certificate has expired", "host name
  /// mismatch: ...", "upgrade refused with HTTP 403", "open handshake timed out").
  std::string reason;
  /// HTTP status of a refused upgrade (e.g. 403), or long-poll's refusing
  /// status (403 in the answer's body, or the HTTP status of a failed first
  /// poll); 0 when there was none.
  int http_status = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tls_options& x) {
  return f(caf::meta::type_name("phx::transport::tls_options"), x.verify_peer,
           x.ca_file, x.ca_dir, x.cert_file, x.key_file);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connect_request& x) {
  // URL, headers and subprotocols can hold secrets: to_string() omits them.
  return f(caf::meta::type_name("phx::transport::connect_request"), x.kind,
           caf::meta::omittable(), x.url, caf::meta::omittable(), x.headers,
           caf::meta::omittable(), x.subprotocols, x.tls, x.max_frame_size,
           x.open_timeout_ms, x.close_timeout_ms, x.compress,
           x.long_poll_timeout_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connect_failure& x) {
  return f(caf::meta::type_name("phx::transport::connect_failure"), x.reason,
           x.http_status);
}

// -- atoms -----------------------------------------------------------------------

/// A frame to send (TRANSPORT) or a frame received (listener).
using frame_atom = caf::atom_constant<caf::atom("frame")>;
/// The connection is open (listener).
using opened_atom = caf::atom_constant<caf::atom("opened")>;
/// The connection closed after it had opened (listener).
using closed_atom = caf::atom_constant<caf::atom("closed")>;
/// The connection attempt failed before it opened (listener).
using failed_atom = caf::atom_constant<caf::atom("failed")>;
/// Close with a close handshake (TRANSPORT).
using close_atom = caf::close_atom;
/// Drop the link at once, without a close handshake (TRANSPORT).
using abort_atom = caf::atom_constant<caf::atom("abort")>;

// -- actor interfaces --------------------------------------------------------------

/// The interface a TRANSPORT reports to (implemented by the SOCKET). Every
/// message carries the generation of its connection; per generation the
/// reports are ordered: `opened` first, then `frame`s, then exactly one of
/// `closed` (after `opened`) or `failed` (instead of `opened`). All of them
/// come from the connection's io thread (`anon_send`, no sender) through a
/// weak reference: a listener that died simply misses them. The TRANSPORT
/// quits after the terminal report, so its down or exit message arrives after it.
using listener_actor = caf::typed_actor<
  // The connection opened, over the transport kind named.
  caf::reacts_to<opened_atom, generation, transport_kind>,
  // Inbound data frames (text or binary) in arrival order, moved, never
  // copied: everything one read from the network brought, in one message.
  // The ticket holds their units of the request's `inbound` credit: keep it
  // (copies share it) until they are consumed.
  caf::reacts_to<frame_atom, generation, std::vector<protocol::frame>, flow_ticket>,
  // The connection closed: close code and reason. The server's code (or its
  // echo of ours) when a close frame came; the code WE closed with for a
  // protocol error (1009 oversized frame, 1002, 1007); else 1006 ("aborted"
  // after abort, "connection lost without a close frame: ..." otherwise).
  // Long-poll uses phoenix.js's codes: 3410 "session_gone", 1008
  // "forbidden", 1011 "internal server error: ..." (HTTP or network error),
  // 1005 "timeout" (a request timed out), 1009 (oversized), 1006 "aborted".
  caf::reacts_to<closed_atom, generation, uint16_t, std::string>,
  // The attempt failed before opening (reason and HTTP status: see connect_failure).
  caf::reacts_to<failed_atom, generation, connect_failure>>;

/// The TRANSPORT actor interface: owns ONE connection (one generation) on
/// the shared io runtime, a websocketpp WebSocket or a long-poll session (two
/// keep-alive HTTP connections on Boost.Beast) as `connect_request::kind`
/// says, with the same reports either way, reports to its listener, and quits
/// once that connection has ended and been reported. It lives that long even
/// if nobody holds its handle. It ends its connection at once (no close
/// handshake, terminal report still sent) when it is killed, when a linked
/// actor exits (a normal exit included) or when its listener terminates.
using transport_actor = caf::typed_actor<
  // Send one frame; frames go out in the order received. Frames sent before
  // the open wait and go out right after it; after the end they are dropped.
  // Each frame's unit of the request's `outbound` credit (its payload size) is
  // given back once its write completed or it was dropped.
  caf::reacts_to<frame_atom, protocol::frame>,
  // Send several frames in order (a flushed buffer).
  caf::reacts_to<frame_atom, std::vector<protocol::frame>>,
  // Close with a close handshake: code (one a close frame may carry, else
  // 1000) and reason. Before the open it cancels the attempt (`failed`).
  // Long-poll: polling stops at once, requests in flight are dropped, and
  // `closed` reports the code given.
  caf::reacts_to<close_atom, uint16_t, std::string>,
  // Drop the link at once, no close handshake (half-open links never finish
  // one); reports closed(1006, "aborted") or failed("aborted").
  caf::reacts_to<abort_atom>>;

// -- io runtime ------------------------------------------------------------------

class io_runtime_impl;

/// A small fixed pool of io threads with one websocketpp client endpoint per
/// kind (ws, wss) and thread, shared by every TRANSPORT of the process
/// (long-poll connections run on the same threads and io contexts); the
/// number of threads never grows with the number of sockets. Only its io
/// threads touch websocketpp objects.
class io_runtime {
public:
  /// The process-wide runtime, started on first use with `threads` io
  /// threads (later calls return the same runtime) and joined at exit.
  static std::shared_ptr<io_runtime> instance(size_t threads = 1);

  /// Number of io threads.
  size_t threads() const noexcept;

  /// True on an io thread of the runtime. Nothing may wait there for an
  /// actor: with `use_io_scheduler` the actors run on these threads.
  static bool on_io_thread() noexcept;

  /// Where websocketpp's own log lines (query strings and quoted texts
  /// redacted), runtime events and the lines of transports spawned without
  /// their own sink go (default: none). Called on io threads.
  void set_log_sink(protocol::log_sink sink);

  /// Number of connections currently owned by the runtime.
  size_t connections() const noexcept;

  /// The implementation (websocketpp endpoints); for the transport's sources.
  io_runtime_impl& impl() noexcept { return *impl_; }

  /// Stops and joins the io threads (at process exit).
  ~io_runtime();
  io_runtime(const io_runtime&) = delete;
  io_runtime& operator=(const io_runtime&) = delete;

private:
  explicit io_runtime(size_t threads);
  std::unique_ptr<io_runtime_impl> impl_;
};

/// Spawns a TRANSPORT that starts connecting at once and reports every event
/// of that connection, tagged with `gen`, to `listener`. `log` receives the
/// transport's own log lines (never a secret), on an io thread; empty: the
/// runtime's sink. The TRANSPORT holds only a weak reference to the listener
/// (it monitors it); link it to its owner.
transport_actor spawn_transport(caf::actor_system& sys, listener_actor listener,
                                generation gen, connect_request req,
                                protocol::log_sink log = {},
                                std::shared_ptr<io_runtime> runtime = nullptr);

} // namespace phx::transport

namespace phx::protocol {

/// `"text"` or `"binary"`.
inline std::string to_string(frame_type t) {
  return t == frame_type::text ? "text" : "binary";
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, frame& x) {
  return f(caf::meta::type_name("phx::protocol::frame"), x.type, x.data);
}

} // namespace phx::protocol
