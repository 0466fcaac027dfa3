#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "phx/protocol/message.hpp"
#include "phx/protocol/payload.hpp"

namespace phx_server {

class session;

/// The channel modules of the reference application.
enum class channel_kind : uint8_t {
  /// `room:*`: echo, broadcasts, crashes, delays, floods, bytes.
  room,
  /// `presence:*`: the room events plus presence tracking.
  presence,
};

/// The channel module serving `topic`, if any (Phoenix's `channel "room:*"`).
std::optional<channel_kind> route(std::string_view topic) noexcept;

/// How a join ends (the result of the channel's `join/3`).
enum class join_outcome : uint8_t { ok, denied, crashed, invalid_sleep };

/// What a join's params ask for: the outcome and how long to sleep first.
struct join_plan {
  join_outcome outcome = join_outcome::ok;
  int64_t sleep_ms = 0;
};

/// Reads join params as the channel's `join/3` does: `{"sleep_ms": N}`
/// sleeps, `{"fail": true}` refuses; params that are not a map (nor null)
/// make `join/3` raise ("join crashed").
join_plan plan_join(channel_kind kind, const phx::protocol::payload& params);

/// The error response of a join that did not end `ok`.
phx::protocol::payload join_refusal(const join_plan& plan);

/// One joined channel (the channel process of Phoenix.Channel.Server),
/// owned by its session. Events are handled in arrival order; while a
/// `delay` sleeps, later messages wait in the channel's mailbox.
class channel : public std::enable_shared_from_this<channel> {
public:
  /// A channel of `owner` joined on `topic`. `socket_join_ref` is the join
  /// message's join_ref as the socket stores it (null if the client sent
  /// none); the channel's own join_ref is `join_ref || ref`.
  channel(session& owner, channel_kind kind, std::string topic,
          std::optional<std::string> socket_join_ref,
          std::optional<std::string> join_ref, phx::protocol::payload join_params);
  ~channel();

  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;

  /// The topic.
  const std::string& topic() const noexcept { return topic_; }

  /// The join_ref the socket routes by (null if the join had none).
  const std::optional<std::string>& socket_join_ref() const noexcept {
    return socket_join_ref_;
  }

  /// The join_ref of the channel's replies and pushes.
  const std::optional<std::string>& join_ref() const noexcept { return join_ref_; }

  /// The session this channel belongs to.
  session& owner() noexcept { return owner_; }

  /// False once stopped.
  bool alive() const noexcept { return alive_; }

  /// Marks the channel as leaving (a `phx_leave` was accepted for it).
  void set_leaving() noexcept { leaving_ = true; }

  /// The module's `handle_info(:after_join)`: presence tracking.
  void after_join();

  /// Handles an event sent to this channel (queued while busy).
  void handle_in(phx::protocol::message&& msg);

  /// Releases everything the channel holds elsewhere: subscription,
  /// presence, timers. Called once by the session when it stops.
  void terminate();

  /// Index of this channel in its topic's subscriber list (pubsub's).
  size_t subscription_slot = static_cast<size_t>(-1);

private:
  void dispatch(phx::protocol::message&& msg);
  void drain_mailbox();
  void reply(const phx::protocol::message& to, std::string_view status,
             phx::protocol::payload response);
  void push(std::string event, phx::protocol::payload payload);
  void crash(std::string_view why);
  std::shared_ptr<boost::asio::steady_timer> new_timer(int64_t ms);
  void forget_timer(const boost::asio::steady_timer* timer);
  void on_delay(phx::protocol::message&& msg);
  void on_flood(phx::protocol::message&& msg);
  void on_push_later(phx::protocol::message&& msg);
  void on_info(phx::protocol::message&& msg);
  void on_update_meta(phx::protocol::message&& msg);
  void on_broadcast(phx::protocol::message&& msg);
  void on_bin_push(phx::protocol::message&& msg);

  session& owner_;
  channel_kind kind_;
  std::string topic_;
  std::optional<std::string> socket_join_ref_;
  std::optional<std::string> join_ref_;
  phx::protocol::payload join_params_;
  bool alive_ = true;
  bool leaving_ = false;
  bool busy_ = false;
  std::deque<phx::protocol::message> mailbox_;
  std::vector<std::shared_ptr<boost::asio::steady_timer>> timers_;
};

} // namespace phx_server
