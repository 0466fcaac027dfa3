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
};

/// Returns the name of an error code, e.g. `"push_timeout"`.
const char* to_string(ec code) noexcept;

} // namespace phx

CAF_ERROR_CODE_ENUM(phx::ec, "phx")
