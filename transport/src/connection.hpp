// Private: the io side of one connection and the TRANSPORT's internal message.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>
#include <caf/atom.hpp>

#include "phx/protocol/log.hpp"
#include "phx/protocol/serializer.hpp"
#include "phx/transport/transport.hpp"

namespace phx::transport {

class io_runtime_impl;

namespace detail {

/// INTERNAL: the io side tells its TRANSPORT that the terminal report is out.
using done_atom = caf::atom_constant<caf::atom("tdone")>;

/// The TRANSPORT's implementation type: its interface plus the internal message.
using transport_impl_actor = transport_actor::extend<caf::reacts_to<done_atom>>;

/// Everything the io side of one connection needs.
struct connection_params {
  /// Tags every report.
  generation gen = 0;
  /// Where reports go; weak: a dead listener drops them.
  caf::actor_addr listener;
  /// The TRANSPORT actor, told `done` after the terminal report. Strong until
  /// then: the connection keeps its actor alive while it runs.
  transport_impl_actor transport;
  /// The connection attempt.
  connect_request req;
  /// The transport's own log lines; empty: the runtime's sink.
  protocol::log_sink log;
};

/// Where the io side of one connection reports and logs, for both kinds of
/// connection: to the listener (weakly) as the TRANSPORT, then `done`.
class reporter {
public:
  /// Takes the listener, the TRANSPORT and the log sink out of `params`.
  reporter(io_runtime_impl& rt, connection_params& params);

  /// Sends one report to the listener, if it still lives.
  template <class... Ts>
  void report(Ts&&... xs) {
    // Promoted per report: the listener may die at any time.
    auto listener = caf::actor_cast<listener_actor>(listener_);
    if (!listener)
      return;
    // As the TRANSPORT: a listener accepts reports only from its transports.
    if (transport_)
      caf::send_as(sender_, listener, std::forward<Ts>(xs)...);
    else
      caf::anon_send(listener, std::forward<Ts>(xs)...);
  }

  /// A line of the transport's own log (the runtime's sink when none was given).
  void log(protocol::log_level level, std::string_view text) const;

  /// After the terminal report: tells the TRANSPORT and drops the hold on it.
  void done();

private:
  io_runtime_impl& rt_;
  caf::actor_addr listener_;
  transport_impl_actor transport_;
  /// The TRANSPORT as the sender of every report (held with `transport_`).
  caf::actor sender_;
  protocol::log_sink log_;
};

/// The io side of one connection as the TRANSPORT actor sees it. Every call
/// is thread-safe: it posts the work to the connection's io thread and
/// returns at once; the work runs in call order.
class connection {
public:
  virtual ~connection();

  /// Sends a frame (queued until open if the connection is not open yet).
  virtual void send(protocol::frame f) = 0;

  /// Sends frames in order, in one post.
  virtual void send(std::vector<protocol::frame> frames) = 0;

  /// Starts the close handshake (or cancels the attempt before open).
  virtual void close(uint16_t code, std::string reason) = 0;

  /// Drops the link at once without a close handshake; reports `reason` as
  /// the terminal report if none went out yet.
  virtual void abort(std::string reason) = 0;
};

/// Creates the io side of a connection on the runtime's next io thread and
/// starts connecting.
std::shared_ptr<connection> start_connection(io_runtime_impl& rt,
                                             connection_params params);

} // namespace detail
} // namespace phx::transport
