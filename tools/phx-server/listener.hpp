#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace phx_server {

class context;

/// The websocketpp endpoint of the server (plain or TLS): accepts
/// connections, decides upgrades, serves plain HTTP and wires each accepted
/// connection to a session.
class listener {
public:
  virtual ~listener();

  /// Binds `ctx.opts.host:port` and starts accepting; returns the bound
  /// port, or 0 with `error` set.
  virtual uint16_t listen(std::string& error) = 0;

  /// Stops accepting new connections (open ones are untouched).
  virtual void stop_listening() = 0;
};

/// A listener for `ctx.opts` (TLS when a certificate is given); null with
/// `error` set if the certificate or key cannot be loaded.
std::unique_ptr<listener> make_listener(context& ctx, std::string& error);

} // namespace phx_server
