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
constexpr std::string_view join = "phx_join";
constexpr std::string_view leave = "phx_leave";
constexpr std::string_view reply = "phx_reply";
constexpr std::string_view close = "phx_close";
constexpr std::string_view error = "phx_error";
constexpr std::string_view heartbeat = "heartbeat";
constexpr std::string_view presence_state = "presence_state";
constexpr std::string_view presence_diff = "presence_diff";
} // namespace events

/// The topic of heartbeats.
constexpr std::string_view phoenix_topic = "phoenix";

/// Reply statuses.
namespace statuses {
constexpr std::string_view ok = "ok";
constexpr std::string_view error = "error";
constexpr std::string_view timeout = "timeout";
} // namespace statuses

/// One Phoenix message: `{join_ref, ref, topic, event, payload}`.
///
/// A reply (`event == "phx_reply"`) is held normalized: `status` is the reply
/// status and `payload` the response, whether the reply arrived as JSON
/// `{"status":..,"response":..}` or as a binary reply frame. Serializers write
/// it back in the wire shape. For every other event `status` is empty.
struct message {
  std::optional<std::string> join_ref;
  std::optional<std::string> ref;
  std::string topic;
  std::string event;
  phx::protocol::payload payload;
  std::string status;

  /// True for `phx_reply`.
  bool is_reply() const noexcept { return event == events::reply; }

  /// Builds a reply carrying `response`.
  static message reply(std::optional<std::string> join_ref,
                       std::optional<std::string> ref, std::string topic,
                       std::string status, phx::protocol::payload response);

  friend bool operator==(const message& a, const message& b);
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
