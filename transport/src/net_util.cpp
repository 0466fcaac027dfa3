#include "net_util.hpp"

#include <cctype>

#include "wspp.hpp"

namespace phx::transport::detail {

std::string describe(const std::error_code& ec) {
  namespace we = websocketpp::error;
  namespace te = websocketpp::transport::error;
  namespace se = websocketpp::transport::asio::socket;
  if (!ec)
    return "no error";
  if (ec == std::errc::connection_refused)
    return "connection refused";
  if (ec == std::errc::connection_reset)
    return "connection reset by peer";
  if (ec == std::errc::connection_aborted)
    return "connection aborted";
  if (ec == std::errc::timed_out)
    return "connection timed out";
  if (ec == std::errc::network_unreachable)
    return "network unreachable";
  if (ec == std::errc::host_unreachable)
    return "host unreachable";
  if (ec == std::errc::broken_pipe)
    return "broken pipe";
  if (ec == we::make_error_code(we::open_handshake_timeout))
    return "open handshake timed out";
  if (ec == we::make_error_code(we::close_handshake_timeout))
    return "close handshake timed out";
  if (ec == te::make_error_code(te::timeout))
    return "timed out";
  if (ec == te::make_error_code(te::eof))
    return "end of stream";
  if (ec == te::make_error_code(te::tls_short_read))
    return "TLS stream truncated";
  if (ec == se::make_error_code(se::error::tls_handshake_failed))
    return "TLS handshake failed";
  if (ec == se::make_error_code(se::error::tls_handshake_timeout))
    return "TLS handshake timed out";
  return ec.message();
}

bool valid_header_name(std::string_view name) {
  if (name.empty())
    return false;
  for (auto c : name) {
    auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || std::string_view{"!#$%&'*+-.^_`|~"}.find(c)
                               != std::string_view::npos))
      return false;
  }
  return true;
}

bool clean_header_text(std::string_view text) {
  for (auto c : text)
    if (c == '\r' || c == '\n' || c == '\0')
      return false;
  return true;
}

std::string header_problem(const std::vector<std::pair<std::string, std::string>>& headers) {
  for (auto& [name, value] : headers) {
    if (!valid_header_name(name))
      return "invalid header name";
    if (!clean_header_text(value))
      return "invalid value of header " + name;
  }
  return {};
}

} // namespace phx::transport::detail
