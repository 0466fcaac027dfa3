#pragma once

#include <string>
#include <string_view>

#include "options.hpp"
#include "session.hpp"

namespace phx_server {

/// The answer to a WebSocket upgrade request.
struct handshake_decision {
  /// 0 to accept; otherwise the HTTP status of the refusal.
  int status = 0;
  /// Body of a refusal (one line saying why).
  std::string body;
  /// What the accepted socket is (serializer, params, user, idle timeout).
  connect_info info;
  /// True if the client offered the `phoenix` subprotocol (it is selected).
  bool select_phoenix = false;
};

/// Decides an upgrade of `resource` (path and query) that offered the
/// `Sec-WebSocket-Protocol` value `protocols`, as Phoenix's websocket
/// transport and the reference app's `connect/3` would: unknown path 404,
/// unsupported vsn or `token=bad` 403, malformed query or auth token 400.
handshake_decision decide_handshake(const options& opts, std::string_view resource,
                                    std::string_view protocols);

} // namespace phx_server
