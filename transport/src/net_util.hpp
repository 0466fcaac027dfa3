// Private: checks and texts shared by the WebSocket and long-poll connections.
#pragma once

#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace phx::transport::detail {

/// A failure text for an error code of asio, Beast or websocketpp, without
/// secrets (codes carry none). Boost codes convert with `static_cast`.
std::string describe(const std::error_code& ec);

/// An HTTP token (RFC 7230): what a header name may be.
bool valid_header_name(std::string_view name);

/// A header value that cannot smuggle another header or line.
bool clean_header_text(std::string_view text);

/// Why `headers` cannot go on a request ("invalid header name", "invalid
/// value of header NAME"); empty when every one can.
std::string header_problem(const std::vector<std::pair<std::string, std::string>>& headers);

} // namespace phx::transport::detail
