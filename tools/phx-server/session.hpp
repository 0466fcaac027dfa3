#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <boost/asio/steady_timer.hpp>

#include "phx/protocol/json.hpp"
#include "phx/protocol/message.hpp"
#include "phx/protocol/serializer.hpp"

#include "channel.hpp"
#include "wire.hpp"

namespace phx_server {

class context;

/// What the upgrade request established (the result of Phoenix's
/// `connect/3`): serializer, connect params, user and idle timeout.
struct connect_info {
  /// The serializer negotiated from `vsn`.
  std::shared_ptr<const phx::protocol::serializer> serializer;
  /// True for V2 (vsn 2.0.x).
  bool v2 = true;
  /// Every query parameter, `vsn` included.
  phx::protocol::json_ptr params;
  /// Query param `user`, default `"anon"`.
  std::string user_id;
  /// No inbound frame for this long closes the socket; zero: no idle
  /// timeout (long-poll, where Phoenix has none).
  std::chrono::milliseconds idle_timeout{60000};
  /// The token of a `base64url.bearer.phx.` subprotocol, if one was offered.
  std::optional<std::string> auth_token;
};

/// Why a channel stops; decides what the client is told.
enum class stop_reason : uint8_t {
  /// The channel stopped normally (leave, kick): `phx_close`.
  normal,
  /// The channel crashed: `phx_error`.
  crash,
  /// The socket closed or a duplicate join replaced it: nothing is sent.
  shutdown,
};

/// One Phoenix socket (the transport process of Phoenix.Socket): decodes
/// frames, answers heartbeats, routes by topic and join_ref, owns the
/// channels and the idle timeout. The transport is supplied by a subclass:
/// `ws_session` per websocketpp configuration (plain or TLS), or
/// `longpoll_session` (a mailbox drained by HTTP polls, longpoll.cpp).
class session : public std::enable_shared_from_this<session> {
public:
  /// A socket of `ctx` established as `info` says.
  session(context& ctx, connect_info info);
  virtual ~session();

  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // -- identity -----------------------------------------------------------------

  /// The user id from the connect params.
  const std::string& user_id() const noexcept { return info_.user_id; }

  /// What the upgrade established.
  const connect_info& info() const noexcept { return info_; }

  /// True for serializer V2.
  bool v2() const noexcept { return info_.v2; }

  /// Number of joined (or leaving) channels.
  size_t channel_count() const noexcept { return channels_.size(); }

  /// The server state shared by all sockets.
  context& ctx() noexcept { return ctx_; }

  // -- lifecycle, driven by the transport ----------------------------------------

  /// The upgrade completed: the socket is registered and the idle timer runs.
  void opened();

  /// A data frame arrived; `data` is taken over (decoded in place).
  void on_frame(phx::protocol::frame_type type, std::string&& data);

  /// A ping or pong arrived: it counts as traffic for the idle timeout.
  /// Returns false while stalled (no pong is sent).
  bool on_control_frame();

  /// The transport closed: every channel stops (`{:shutdown, :closed}`).
  void closed();

  // -- output ------------------------------------------------------------------

  /// Encodes and queues a message; false if the serializer cannot encode it
  /// (the caller treats that as a crash, as Phoenix's `encode!` would raise).
  bool send(const phx::protocol::message& msg);

  /// Queues an already encoded frame (broadcasts); dropped while stalled.
  void send_encoded(const ws_message_ptr& msg);

  /// Stops `ch` and tells the client as `why` says; `ch` must belong here.
  void stop_channel(channel& ch, stop_reason why);

  // -- transport operations ------------------------------------------------------

  /// Starts the closing handshake with `code`.
  virtual void close(uint16_t code, std::string_view reason) = 0;

  /// Cuts the TCP connection without a close frame.
  virtual void cut() = 0;

protected:
  /// Bytes a client may leave unread before its socket is closed.
  static constexpr size_t max_buffered_bytes = size_t{64} * 1024 * 1024;

  /// Queues a prepared frame on the connection; false (and nothing queued)
  /// when more than `max_buffered_bytes` already wait there.
  virtual bool write(const ws_message_ptr& msg) = 0;

private:
  void process(phx::protocol::frame_type type, std::string&& data);
  // A V2 list whose fields a `message` cannot hold, routed as Phoenix does.
  void process_loose(const phx::protocol::json_value& root);
  void send_loose_reply(const phx::protocol::json_value* join_ref,
                        const phx::protocol::json_value& ref,
                        const phx::protocol::json_value& topic, std::string_view status,
                        const phx::protocol::payload& response);
  void handle_join(phx::protocol::message&& msg,
                   std::optional<phx::protocol::message> close_after);
  void finish_join(phx::protocol::message&& msg, channel_kind kind,
                   join_plan plan,
                   std::optional<phx::protocol::message> close_after);
  void drain_inbox();
  void arm_idle_timer(std::chrono::steady_clock::duration after);
  void on_idle_timer();
  void overflow(const char* what);

  context& ctx_;
  connect_info info_;
  std::unordered_map<std::string, std::shared_ptr<channel>> channels_;
  // Frames that arrived while a join was pending (Phoenix's socket process
  // is blocked in the channel's join/3, so they wait in its mailbox).
  std::deque<std::pair<phx::protocol::frame_type, std::string>> inbox_;
  size_t inbox_bytes_ = 0;
  bool join_pending_ = false;
  bool open_ = false;
  bool overflowed_ = false;
  std::unique_ptr<boost::asio::steady_timer> join_timer_;
  boost::asio::steady_timer idle_timer_;
  std::chrono::steady_clock::time_point last_rx_;
};

/// The transport half of a session for one websocketpp configuration. It
/// holds its connection weakly: the connection owns the session (through its
/// handlers), never the other way round.
template <class Connection>
class ws_session final : public session {
public:
  /// A session on `con`.
  ws_session(context& ctx, connect_info info, const std::shared_ptr<Connection>& con,
             bool deflate = false)
    : session(ctx, std::move(info)), con_(con), deflate_(deflate) {
    // nop
  }

  void close(uint16_t code, std::string_view reason) override {
    if (auto con = con_.lock()) {
      std::error_code ec;
      con->close(code, std::string{reason}, ec);
    }
  }

  void cut() override {
    if (auto con = con_.lock()) {
      boost::system::error_code ec;
      auto& socket = con->get_raw_socket();
      socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
      socket.close(ec);
    }
  }

protected:
  bool write(const ws_message_ptr& msg) override {
    auto con = con_.lock();
    if (!con)
      return true;
    if (con->get_buffered_amount() > max_buffered_bytes)
      return false;
    if (deflate_ && !msg->get_payload().empty()) {
      // Compressed per connection by websocketpp's permessage-deflate (the
      // shared prepared frame cannot be): a copy, then deflate.
      con->send(msg->get_payload(), msg->get_opcode());
      return true;
    }
    con->send(msg);
    return true;
  }

private:
  std::weak_ptr<Connection> con_;
  /// permessage-deflate accepted (`/deflate/socket`): frames go compressed.
  bool deflate_ = false;
};

} // namespace phx_server
