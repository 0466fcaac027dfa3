// Private: what `wss` (websocketpp) and long-poll `https` (Beast) share about
// TLS streams, so that both verify the server the same way.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

namespace phx::transport::detail {

/// A TLS client stream as both transports use it.
using tls_stream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

/// What a certificate check found wrong, written by the verify callback and
/// read by the failure handler (both on the connection's io thread).
struct tls_verdict {
  /// Empty while nothing failed.
  std::string reason;
};

/// Sets the peer verification of one client stream: with `verify_peer`, the
/// chain (against the context's trust store) and `host` (name or address) are
/// checked and the first failure is written into `verdict`; without it, none.
/// The trust store and client certificate come from the stream's context
/// (`io_runtime_impl::tls_context`).
void configure_tls_stream(tls_stream& stream, bool verify_peer, const std::string& host,
                          std::shared_ptr<tls_verdict> verdict);

/// The warning logged at every use of a connection without verification.
std::string insecure_tls_warning(std::string_view url_for_log);

} // namespace phx::transport::detail
