#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "phx/protocol/payload.hpp"

namespace phx_server {

class channel;

/// Topic subscriptions of joined channels and broadcasts to them
/// (Phoenix.PubSub with the socket fastlane): a broadcast is encoded once per
/// serializer and the same frame is queued on every subscriber's socket.
class pubsub {
public:
  /// Subscribes `ch` to its topic.
  void subscribe(channel& ch);

  /// Removes `ch`'s subscription; a no-op if it has none.
  void unsubscribe(channel& ch);

  /// Sends `[null, null, topic, event, payload]` to every subscriber of
  /// `topic` except `except` (may be null); returns how many got it.
  /// The payload must be a JSON object or bytes (bytes skip V1 sockets,
  /// which cannot carry them).
  size_t broadcast(const std::string& topic, std::string_view event,
                   const phx::protocol::payload& payload,
                   const channel* except = nullptr);

  /// Number of subscribers of `topic`.
  size_t subscribers(const std::string& topic) const;

private:
  std::unordered_map<std::string, std::vector<channel*>> topics_;
};

} // namespace phx_server
