#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "logger.hpp"
#include "options.hpp"
#include "presence.hpp"
#include "pubsub.hpp"

namespace phx_server {

class session;

/// Everything the sockets of one server share: the io loop, the options,
/// the pubsub and presence state, the open sockets and the stall switch.
/// Owned by the io thread; nothing here is locked.
class context {
public:
  /// A context for `opts` driving its timers on `io`.
  context(boost::asio::io_context& io, const options& opts);

  context(const context&) = delete;
  context& operator=(const context&) = delete;

  /// The io loop of every socket and timer.
  boost::asio::io_context& io;
  /// The command line.
  const options& opts;
  /// Where log lines go.
  logger log;
  /// Topic subscriptions and broadcasts (Phoenix.PubSub).
  pubsub bus;
  /// Presence tracking (Phoenix.Presence).
  presence_tracker presence;
  /// Open sockets (after the upgrade, until closed).
  std::unordered_set<session*> sessions;

  /// Long-poll sessions by session id: no connection holds them, this map
  /// owns them until they end (longpoll.cpp).
  std::unordered_map<std::string, std::shared_ptr<session>> longpoll_sessions;

  /// The per-process key that signs long-poll session tokens (random).
  const std::string& longpoll_secret() const noexcept { return longpoll_secret_; }

  /// Called after a socket closed (the drain waits on it); may be empty.
  std::function<void()> on_session_closed;

  /// Drops every frame in and out for `duration` (a half-open link).
  void stall(std::chrono::milliseconds duration);

  /// True while a stall is in force.
  bool stalled() const noexcept { return stalled_; }

  /// A unique `phx_ref` for a presence meta, shaped like Phoenix.Tracker's
  /// (URL-safe base64 of a timestamp and a counter).
  std::string next_phx_ref();

private:
  bool stalled_ = false;
  boost::asio::steady_timer stall_timer_;
  std::chrono::steady_clock::time_point stall_until_{};
  uint32_t ref_counter_ = 0;
  std::string longpoll_secret_;
};

} // namespace phx_server
