#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "context.hpp"
#include "listener.hpp"
#include "options.hpp"

namespace phx_server {

/// The whole `phx-server`: one io thread running the listener, the sockets
/// and their timers, plus graceful shutdown on SIGTERM/SIGINT.
class server {
public:
  /// A server for `opts` (nothing is bound yet).
  explicit server(options opts);
  ~server();

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and starts accepting; false with `error` set on failure.
  bool start(std::string& error);

  /// The socket URL clients use, e.g. `ws://127.0.0.1:4000/socket`, with
  /// the real port (valid after `start`).
  std::string url() const;

  /// Runs until a signal has drained every socket; returns the exit code.
  int run();

  /// Starts the graceful stop: stop accepting, close every socket (1012 if
  /// it has joined channels, else 1000), stop once all are gone or after a
  /// bounded wait.
  void drain();

private:
  void check_drained();

  // Declaration order is teardown order reversed: the io loop outlives
  // the shared state, which outlives the listener and its connections.
  boost::asio::io_context io_;
  options opts_;
  context ctx_;
  std::unique_ptr<listener> listener_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer drain_deadline_;
  uint16_t port_ = 0;
  bool draining_ = false;
};

} // namespace phx_server
