#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "phx/actors/actors.hpp"
#include "phx/actors/hooks.hpp"
#include "phx/actors/logger.hpp"
#include "phx/json.hpp"
#include "phx/push.hpp"

namespace phx {

namespace detail {
struct socket_core;
struct channel_core;
/// @private The logger of the channel's socket (a silent one once it is gone).
logger logger_of(const channel_core& core);
} // namespace detail

using protocol::message;

/// A channel on a socket (phoenix.js `Channel`). Made by `socket::channel`;
/// copies are handles to the same channel. Thread-safe: any thread may call
/// it; its callbacks run serialized with every other callback of its socket.
class channel {
public:
  /// Joins (once per channel; a second call returns a failed push). The
  /// returned push reports every join attempt, rejoins included.
  phx::push join(std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  /// Binds `callback` to an inbound event; returns the binding's ref.
  uint64_t on(const std::string& event, std::function<void(const payload&)> callback);

  /// Binds `callback` to an inbound event, receiving the whole message (ref,
  /// join_ref, topic, event, payload); returns the binding's ref.
  uint64_t on(const std::string& event, std::function<void(const message&)> callback);

  /// Binds `callback` to an inbound event, receiving the message and the
  /// channel's join_ref (as phoenix.js passes it; presence tracking needs it
  /// for broadcasts, which carry none); returns the binding's ref.
  uint64_t on(const std::string& event,
              std::function<void(const message&, const std::string& join_ref)> callback);

  /// Removes every binding of `event`, or only `ref`.
  void off(const std::string& event, std::optional<uint64_t> ref = std::nullopt);

  /// Pushes an event; the push is sent now if joined and connected, else
  /// buffered with its timeout running (it is never sent after its timeout).
  phx::push push(const std::string& event, payload body = payload{},
                 std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  /// Leaves: the push resolves when the server acknowledges (or on timeout)
  /// and the channel is then closed.
  phx::push leave(std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  /// Runs `callback` when the channel closes (`phx_close`); returns its ref.
  uint64_t on_close(std::function<void(const payload&)> callback);

  /// Runs `callback` on `phx_error` (server crash or connection loss); returns its ref.
  uint64_t on_error(std::function<void(const payload&)> callback);

  /// Sets a hook that may transform every inbound payload before dispatch
  /// (phoenix.js `onMessage`); it receives the message and returns the payload.
  void on_message(std::function<payload(const message&)> hook);

  /// Runs `callback` at every state change (closed, errored, joined, joining, leaving).
  void on_state(std::function<void(channel_state)> callback);

  /// The current state.
  channel_state state() const;

  /// The topic.
  const std::string& topic() const;

  /// The CHANNEL actor: drive it with `request(...)` from any CAF actor.
  channel_actor actor() const;

  /// @private
  explicit channel(std::shared_ptr<detail::channel_core> core) : core_(std::move(core)) {}

  /// @private
  const std::shared_ptr<detail::channel_core>& core() const { return core_; }

  /// True when both handles are the same channel.
  friend bool operator==(const channel& a, const channel& b) { return a.core_ == b.core_; }
  /// Negation of `==`.
  friend bool operator!=(const channel& a, const channel& b) { return !(a == b); }

private:
  std::shared_ptr<detail::channel_core> core_;
};

} // namespace phx
