#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>

#include "phx/protocol/log.hpp"

namespace phx_server {

/// The command line of `phx-server`.
struct options {
  /// Address to listen on; loopback unless asked otherwise.
  std::string host = "127.0.0.1";
  /// TCP port; 0 asks the kernel for an ephemeral port.
  uint16_t port = 4000;
  /// PEM certificate chain; with `tls_key` it turns on TLS (wss).
  std::string tls_cert;
  /// PEM private key of `tls_cert`.
  std::string tls_key;
  /// Idle timeout of `/socket/websocket` (Phoenix's websocket `timeout`).
  std::chrono::milliseconds idle_timeout{60000};
  /// Long-poll: how long a poll is held open waiting for messages
  /// (Phoenix's `window_ms`).
  std::chrono::milliseconds longpoll_window{10000};
  /// Long-poll: a session that gets no poll for this long ends; zero means
  /// 1.5 windows, Phoenix's inactivity limit.
  std::chrono::milliseconds longpoll_timeout{0};
  /// Phoenix's `max_channels_per_transport`.
  size_t max_channels = 100;
  /// Lowest severity written to stderr.
  phx::protocol::log_level log_level = phx::protocol::log_level::info;

  /// The inactivity limit of a long-poll session (`longpoll_timeout` or
  /// 1.5 windows).
  std::chrono::milliseconds longpoll_expiry() const noexcept {
    return longpoll_timeout.count() > 0 ? longpoll_timeout : longpoll_window * 3 / 2;
  }

  /// True when TLS is configured.
  bool tls() const noexcept { return !tls_cert.empty(); }
};

/// What the command line asked for: options to run with, or help text.
struct usage_request {
  std::string text;
};

/// The one-line usage summary.
const char* usage_line() noexcept;

/// Parses `argv`; the error string is a one-line message for bad usage.
std::variant<options, usage_request, std::string> parse_options(int argc,
                                                                char** argv);

} // namespace phx_server
