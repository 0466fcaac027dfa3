#pragma once

#include <chrono>
#include <optional>
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
  /// True on `/deflate/socket`: permessage-deflate is accepted when offered
  /// (every other path declines it).
  bool deflate = false;
};

/// Decides an upgrade of `resource` (path and query) that offered the
/// `Sec-WebSocket-Protocol` value `protocols`, as Phoenix's websocket
/// transport and the reference app's `connect/3` would: unknown path 404,
/// unsupported vsn or `token=bad` 403, malformed query or auth token 400.
handshake_decision decide_handshake(const options& opts, std::string_view resource,
                                    std::string_view protocols);

/// The socket's `connect/3` for `query` (the connect params), shared by both
/// transports: unsupported vsn or `token=bad` 403, malformed query 400. The
/// accepted socket gets `idle_timeout` (zero: none) and `auth_token`.
handshake_decision decide_connect(std::string_view query,
                                  std::chrono::milliseconds idle_timeout,
                                  std::optional<std::string> auth_token);

} // namespace phx_server
