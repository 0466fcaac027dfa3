#pragma once

#include <string>
#include <string_view>

namespace phx_server {

class context;

/// An HTTP response of the plain-HTTP endpoints.
struct http_reply {
  /// HTTP status code.
  int status = 200;
  /// Content type of `body`.
  std::string content_type = "text/plain";
  /// The body.
  std::string body;
};

/// Serves a plain HTTP request (not an upgrade) for `resource` (path and
/// query): `/health` and the loopback `/admin/...` endpoints of SCENARIOS.md.
http_reply handle_http(context& ctx, std::string_view method, std::string_view resource);

} // namespace phx_server
