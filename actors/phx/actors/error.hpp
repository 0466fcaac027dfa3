#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>

namespace phx {

/// The errors of the actor layer, carried by `caf::error` in category "phx".
/// Each is a value a request or a push outcome can yield; none is thrown.
enum class ec : uint8_t {
  /// Not an error.
  none = 0,
  /// The push got no reply within its timeout (or its channel or socket went
  /// away before a reply could arrive).
  push_timeout,
  /// The join got no reply within its timeout.
  join_timeout,
  /// `join` was called a second time on the same channel.
  already_joined,
  /// `push` was called before `join` on that channel.
  not_joined,
  /// The channel is closed (left, kicked, duplicate join): it accepts no pushes.
  channel_closed,
  /// The socket's send buffer (frames waiting for a connection) is full; the
  /// frame was refused, never queued.
  send_buffer_full,
  /// The channel's push buffer (pushes waiting for a join) is full.
  push_buffer_full,
  /// The message cannot be encoded (e.g. a binary field over 255 bytes).
  encode_failed,
  /// A frame from the server cannot be decoded.
  decode_failed,
  /// The socket is not connected (e.g. `ping` while disconnected).
  not_connected,
  /// The endpoint or an option is invalid.
  invalid_argument,
  /// The socket was disconnected by the user.
  disconnected,
  /// A bounded queue overflowed and dropped messages (counted and reported).
  overflow,
  // Appended after the codes above: their values stay stable between nodes.
  /// The channel crashed (user code threw under `callback_failure::restart`,
  /// or the actor died) before this push or join had its outcome; the
  /// channel was restarted from its spec and rejoins with the rejoin backoff.
  channel_crashed,
  /// The socket crashed before this push or join had its outcome; it was
  /// restarted and reconnects with the reconnect backoff.
  socket_crashed,
  /// The socket stopped for good: its restarts exceeded `max_restarts` within
  /// `restart_window_ms`. Nothing it held will get a reply.
  socket_stopped,
  /// A user callback or user function threw (reported through `on_error`
  /// and the logger with the callback's name).
  callback_failed,
  /// The connection's outbound budget (frames and bytes handed to the
  /// connection and not yet written to the network) is used up: the push
  /// was refused at once, never queued. Retry when the link drains.
  outbound_full,
  /// An internal message came from an actor not entitled to send it (another
  /// node, a user actor): refused and reported, never handled.
  not_entitled,
};

/// Returns the name of an error code, e.g. `"push_timeout"`.
const char* to_string(ec code) noexcept;

/// Describes an error for people: its code's name and, if it carries one,
/// its text, e.g. `"socket_stopped: more than 5 restarts within 30000 ms"`.
std::string describe(const caf::error& err);

} // namespace phx

CAF_ERROR_CODE_ENUM(phx::ec, "phx")
