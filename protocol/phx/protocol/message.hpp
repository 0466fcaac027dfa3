#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "phx/protocol/payload.hpp"
#include "phx/protocol/result.hpp"

namespace phx::protocol {

/// Event and topic names of the Phoenix protocol.
namespace events {
constexpr std::string_view join = "phx_join"; ///< Joins a topic.
constexpr std::string_view leave = "phx_leave"; ///< Leaves a topic.
constexpr std::string_view reply = "phx_reply"; ///< A reply to a push (join, leave, heartbeat included).
constexpr std::string_view close = "phx_close"; ///< The server closed the channel.
constexpr std::string_view error = "phx_error"; ///< The channel crashed or the link failed.
constexpr std::string_view heartbeat = "heartbeat"; ///< A heartbeat, on topic `phoenix`.
constexpr std::string_view presence_state = "presence_state"; ///< Phoenix.Presence's full state.
constexpr std::string_view presence_diff = "presence_diff"; ///< Phoenix.Presence's joins and leaves.
} // namespace events

/// The topic of heartbeats.
constexpr std::string_view phoenix_topic = "phoenix";

/// Reply statuses.
namespace statuses {
constexpr std::string_view ok = "ok"; ///< The server handled the push.
constexpr std::string_view error = "error"; ///< The server refused the push.
constexpr std::string_view timeout = "timeout"; ///< No reply in time (set by the client).
} // namespace statuses

/// One Phoenix message: `{join_ref, ref, topic, event, payload}`.
///
/// A reply (`event == "phx_reply"`) is held normalized: `status` is the reply
/// status and `payload` the response, whether the reply arrived as JSON
/// `{"status":..,"response":..}` or as a binary reply frame. Serializers write
/// it back in the wire shape. For every other event `status` is empty.
struct message {
  std::optional<std::string> join_ref; ///< The ref of the join this message belongs to.
  std::optional<std::string> ref;      ///< The message's own ref (null for broadcasts).
  std::string topic;                   ///< The channel's topic, e.g. `room:lobby`.
  std::string event;                   ///< The event, e.g. `phx_join` or `new_msg`.
  phx::protocol::payload payload;      ///< The payload (a reply: the response).
  std::string status;                  ///< A reply's status; empty for other events.

  /// True for `phx_reply`.
  bool is_reply() const noexcept { return event == events::reply; }

  /// Builds a reply carrying `response`.
  static message reply(std::optional<std::string> join_ref,
                       std::optional<std::string> ref, std::string topic,
                       std::string status, phx::protocol::payload response);

  /// Field-by-field equality (payloads by value).
  friend bool operator==(const message& a, const message& b);
  /// Negation of `==`.
  friend bool operator!=(const message& a, const message& b) {
    return !(a == b);
  }
};

/// A short description for logs: `topic event (join_ref, ref)`; never the payload.
std::string describe(const message& msg);

/// Generates message refs: "1", "2", ...; never reused within its life.
class ref_counter {
public:
  /// The next ref.
  std::string next();
  /// The last ref handed out (0 before the first).
  uint64_t last() const noexcept { return last_; }

private:
  uint64_t last_ = 0;
};

} // namespace phx::protocol
