// The socket rules of Phoenix.Socket (`lib/phoenix/socket.ex`): heartbeat
// before routing, join/duplicate join/leave/unmatched topic, stale join_refs.

#include "session.hpp"

#include <utility>

#include <boost/asio/post.hpp>

#include "channel.hpp"
#include "context.hpp"

namespace phx_server {

namespace {

using phx::protocol::frame_type;
using phx::protocol::json_ptr;
using phx::protocol::json_value;
using phx::protocol::log_level;
using phx::protocol::message;
using phx::protocol::payload;

// Frames waiting behind a pending join, and bytes queued for a client that
// does not read: past these the socket is closed rather than grown.
constexpr size_t max_inbox_frames = 10000;
constexpr size_t max_inbox_bytes = size_t{64} * 1024 * 1024;

// Close codes: Bandit closes with 1011 when the socket process raises (an
// undecodable frame) and with 1002 on its idle timeout.
constexpr uint16_t close_internal_error = 1011;
constexpr uint16_t close_idle = 1002;
constexpr uint16_t close_policy = 1008;

// Only called with the valid literals below, each parsed once.
payload constant(std::string_view json) {
  auto parsed = phx::protocol::parse_json(json);
  return payload{parsed ? *parsed : phx::protocol::empty_object()};
}

const payload& unmatched_topic() {
  static const payload p = constant(R"({"reason":"unmatched topic"})");
  return p;
}

const payload& too_many_channels() {
  static const payload p = constant(R"({"reason":"too many channels joined"})");
  return p;
}

const payload& channel_crash() {
  static const payload p = constant(R"({"reason":"channel_crash"})");
  return p;
}

payload joined(const std::string& topic) {
  phx::protocol::json_document doc;
  doc.SetObject();
  auto& alloc = doc.GetAllocator();
  phx::protocol::json_value v;
  v.SetString(topic.data(), static_cast<rapidjson::SizeType>(topic.size()), alloc);
  doc.AddMember("joined", v, alloc);
  return payload{std::move(doc)};
}

bool is_string(const json_value& v, std::string_view s) {
  return v.IsString() && std::string_view{v.GetString(), v.GetStringLength()} == s;
}

// `phx_close` / `phx_error` as the socket sends them: ref = join_ref.
message channel_exit(const channel& ch, std::string_view event, payload p) {
  message msg;
  msg.join_ref = ch.socket_join_ref();
  msg.ref = ch.socket_join_ref();
  msg.topic = ch.topic();
  msg.event = std::string{event};
  msg.payload = std::move(p);
  return msg;
}

} // namespace

session::session(context& ctx, connect_info info)
  : ctx_(ctx), info_(std::move(info)), idle_timer_(ctx.io) {
  // nop
}

session::~session() {
  // `closed()` normally ran already; this covers a socket dropped without it.
  if (open_)
    closed();
}

// -- lifecycle -------------------------------------------------------------------

void session::opened() {
  open_ = true;
  ctx_.sessions.insert(this);
  last_rx_ = std::chrono::steady_clock::now();
  if (info_.idle_timeout.count() > 0)
    arm_idle_timer(info_.idle_timeout);
  if (ctx_.log.enabled(log_level::debug))
    ctx_.log.write(log_level::debug, "socket",
                   "connected users_socket:" + info_.user_id + " (vsn "
                     + std::string{info_.serializer->vsn()} + ")");
}

void session::closed() {
  if (!open_)
    return;
  open_ = false;
  ctx_.sessions.erase(this);
  idle_timer_.cancel();
  join_timer_.reset();
  inbox_.clear();
  inbox_bytes_ = 0;
  // Channels monitor the transport: they stop with {:shutdown, :closed}.
  auto channels = std::move(channels_);
  channels_.clear();
  for (auto& entry : channels)
    entry.second->terminate();
  if (ctx_.log.enabled(log_level::debug))
    ctx_.log.write(log_level::debug, "socket",
                   "disconnected users_socket:" + info_.user_id);
  if (ctx_.on_session_closed)
    ctx_.on_session_closed();
}

void session::on_frame(frame_type type, std::string&& data) {
  // A stalled link delivers nothing: the frame is lost, not just late.
  if (!open_ || ctx_.stalled())
    return;
  last_rx_ = std::chrono::steady_clock::now();
  if (join_pending_) {
    if (inbox_.size() >= max_inbox_frames
        || inbox_bytes_ + data.size() > max_inbox_bytes) {
      overflow("too many frames queued behind a pending join");
      return;
    }
    inbox_bytes_ += data.size();
    inbox_.emplace_back(type, std::move(data));
    return;
  }
  process(type, std::move(data));
}

bool session::on_control_frame() {
  if (!open_ || ctx_.stalled())
    return false;
  last_rx_ = std::chrono::steady_clock::now();
  return true;
}

void session::arm_idle_timer(std::chrono::steady_clock::duration after) {
  idle_timer_.expires_after(after);
  idle_timer_.async_wait(
    [weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec)
        return;
      if (auto self = weak.lock())
        self->on_idle_timer();
    });
}

void session::on_idle_timer() {
  if (!open_)
    return;
  // Frames only stamp `last_rx_`; the timer re-arms for what is left, which
  // is cheaper than re-arming on every frame.
  auto deadline = last_rx_ + info_.idle_timeout;
  auto now = std::chrono::steady_clock::now();
  if (now < deadline) {
    arm_idle_timer(deadline - now);
    return;
  }
  if (ctx_.log.enabled(log_level::debug))
    ctx_.log.write(log_level::debug, "socket",
                   "idle timeout, closing users_socket:" + info_.user_id);
  close(close_idle, "idle timeout");
}

void session::overflow(const char* what) {
  if (overflowed_)
    return;
  overflowed_ = true;
  ctx_.log.write(log_level::warning, "socket",
                 "closing users_socket:" + info_.user_id + ": " + what);
  // Posted: the caller may be a broadcast iterating over subscriptions.
  boost::asio::post(ctx_.io, [weak = weak_from_this()] {
    if (auto self = weak.lock())
      self->close(close_policy, "overflow");
  });
}

// -- inbound ---------------------------------------------------------------------

void session::process(frame_type type, std::string&& data) {
  // Phoenix's V1 serializer ignores the opcode and reads every frame as JSON.
  if (!info_.v2)
    type = frame_type::text;
  json_ptr loose;
  // Phoenix's V2 `decode_text` is `[join_ref, ref, topic, event, payload | _] =
  // Jason.decode!(text)`, no type checked: a frame whose fields a `message`
  // cannot hold comes back as `loose`, for `process_loose` to route.
  auto decoded = info_.v2 && type == frame_type::text
                   ? phx::protocol::decode_v2_json(std::move(data),
                                                   phx::protocol::role::server, &loose)
                   : info_.serializer->decode(type, std::move(data));
  if (loose) {
    process_loose(*loose);
    return;
  }
  if (!decoded) {
    // Phoenix's `decode!` raises in the socket process; Bandit closes with 1011.
    ctx_.log.write(log_level::warning, "socket",
                   "closing users_socket:" + info_.user_id
                     + ": undecodable frame: " + decoded.error().to_string());
    overflowed_ = true;
    inbox_.clear();
    join_pending_ = false;
    join_timer_.reset();
    close(close_internal_error, "");
    return;
  }
  auto& msg = *decoded;
  if (msg.event == phx::protocol::events::heartbeat
      && msg.topic == phx::protocol::phoenix_topic) {
    send(message::reply(std::nullopt, std::move(msg.ref), std::move(msg.topic),
                        std::string{phx::protocol::statuses::ok}, payload{}));
    return;
  }
  auto it = channels_.find(msg.topic);
  if (msg.event == phx::protocol::events::join) {
    std::optional<message> close_after;
    if (it != channels_.end()) {
      // Duplicate join: the old channel is shut down; its phx_close (old
      // join_ref) follows the new join's reply, as Phoenix queues it.
      auto old = std::move(it->second);
      channels_.erase(it);
      close_after = channel_exit(*old, phx::protocol::events::close, payload{});
      old->terminate();
    }
    handle_join(std::move(msg), std::move(close_after));
    return;
  }
  if (it == channels_.end()) {
    if (msg.event == phx::protocol::events::leave)
      send(message::reply(std::move(msg.join_ref), std::move(msg.ref),
                          std::move(msg.topic),
                          std::string{phx::protocol::statuses::ok}, payload{}));
    else
      send(message::reply(std::nullopt, std::move(msg.ref), std::move(msg.topic),
                          std::string{phx::protocol::statuses::error},
                          unmatched_topic()));
    return;
  }
  auto ch = it->second;
  // A stale join_ref: the client raced a server close; nil is always valid.
  if (msg.join_ref && msg.join_ref != ch->socket_join_ref())
    return;
  if (msg.event == phx::protocol::events::leave)
    ch->set_leaving();
  ch->handle_in(std::move(msg));
}

void session::process_loose(const json_value& root) {
  const json_value& join_ref = root[0];
  const json_value& ref = root[1];
  const json_value& topic = root[2];
  const json_value& event = root[3];
  // Phoenix.Socket's handle_in/4 clauses, in order; the channels are keyed by
  // topic strings, so any other topic finds none.
  if (is_string(topic, phx::protocol::phoenix_topic)
      && is_string(event, phx::protocol::events::heartbeat)) {
    send_loose_reply(nullptr, ref, topic, phx::protocol::statuses::ok, payload{});
    return;
  }
  bool joined = topic.IsString()
                && channels_.count(std::string{topic.GetString(), topic.GetStringLength()});
  if (joined
      || (is_string(event, phx::protocol::events::join) && topic.IsString()
          && route({topic.GetString(), topic.GetStringLength()}))) {
    // Phoenix would hand this to the channel (or join with these refs);
    // phx-server's channels hold string refs only. A join_ref that is not a
    // string or null is stale to Phoenix too. (docs/phx-server.md)
    if (ctx_.log.enabled(log_level::debug))
      ctx_.log.write(log_level::debug, "socket",
                     "ignoring a message with fields of other types than strings");
    return;
  }
  if (is_string(event, phx::protocol::events::leave)) {
    send_loose_reply(&join_ref, ref, topic, phx::protocol::statuses::ok, payload{});
    return;
  }
  if (is_string(event, phx::protocol::events::join) && ctx_.log.enabled(log_level::info))
    ctx_.log.write(log_level::info, "socket", "ignoring unmatched topic of a message with fields of other types");
  send_loose_reply(nullptr, ref, topic, phx::protocol::statuses::error, unmatched_topic());
}

void session::send_loose_reply(const json_value* join_ref, const json_value& ref,
                               const json_value& topic, std::string_view status,
                               const payload& response) {
  // Phoenix echoes ref and topic as they were decoded (a number stays one).
  std::string out = "[";
  bool ok = true;
  if (join_ref)
    ok = phx::protocol::append_json(out, *join_ref);
  else
    out += "null";
  out += ',';
  ok = ok && phx::protocol::append_json(out, ref);
  out += ',';
  ok = ok && phx::protocol::append_json(out, topic);
  out += R"(,"phx_reply",{"status":)";
  phx::protocol::append_json_string(out, status);
  out += R"(,"response":)";
  ok = ok && phx::protocol::append_json(out, response.json());
  out += "}]";
  if (!ok)
    return; // unreachable: the frame was valid UTF-8 when it was parsed
  send_encoded(make_ws_message(phx::protocol::frame{frame_type::text, std::move(out)}));
}

void session::handle_join(message&& msg, std::optional<message> close_after) {
  auto kind = route(msg.topic);
  if (!kind) {
    if (ctx_.log.enabled(log_level::info))
      ctx_.log.write(log_level::info, "socket",
                     "ignoring unmatched topic \"" + msg.topic + "\"");
    send(message::reply(std::nullopt, std::move(msg.ref), std::move(msg.topic),
                        std::string{phx::protocol::statuses::error},
                        unmatched_topic()));
    if (close_after)
      send(*close_after);
    return;
  }
  if (channels_.size() >= ctx_.opts.max_channels) {
    ctx_.log.write(log_level::error, "socket",
                   "reached max channels per transport limit of "
                     + std::to_string(ctx_.opts.max_channels)
                     + " for users_socket:" + info_.user_id);
    send(message::reply(std::move(msg.join_ref), std::move(msg.ref),
                        std::move(msg.topic),
                        std::string{phx::protocol::statuses::error},
                        too_many_channels()));
    if (close_after)
      send(*close_after);
    return;
  }
  auto plan = plan_join(*kind, msg.payload);
  if (plan.sleep_ms > 0) {
    // The socket waits for join/3 as Phoenix's does: later frames queue.
    join_pending_ = true;
    join_timer_ = std::make_unique<boost::asio::steady_timer>(
      ctx_.io, std::chrono::milliseconds{plan.sleep_ms});
    join_timer_->async_wait(
      [weak = weak_from_this(), msg = std::move(msg), plan, kind = *kind,
       close_after = std::move(close_after)](
        const boost::system::error_code& ec) mutable {
        auto self = weak.lock();
        if (ec || !self || !self->open_ || !self->join_pending_)
          return;
        self->join_pending_ = false;
        self->finish_join(std::move(msg), kind, plan, std::move(close_after));
        self->drain_inbox();
      });
    return;
  }
  finish_join(std::move(msg), *kind, plan, std::move(close_after));
}

void session::finish_join(message&& msg, channel_kind kind, join_plan plan,
                          std::optional<message> close_after) {
  if (plan.outcome != join_outcome::ok) {
    send(message::reply(std::move(msg.join_ref), std::move(msg.ref),
                        std::move(msg.topic),
                        std::string{phx::protocol::statuses::error},
                        join_refusal(plan)));
    if (close_after)
      send(*close_after);
    return;
  }
  // Phoenix keeps the message's join_ref for routing; the channel's own
  // join_ref (its replies and pushes) is `join_ref || ref`.
  auto own_ref = msg.join_ref ? msg.join_ref : msg.ref;
  auto ch = std::make_shared<channel>(*this, kind, msg.topic, msg.join_ref,
                                      std::move(own_ref), msg.payload);
  channels_.emplace(msg.topic, ch);
  ctx_.bus.subscribe(*ch);
  send(message::reply(std::move(msg.join_ref), std::move(msg.ref), msg.topic,
                      std::string{phx::protocol::statuses::ok}, joined(msg.topic)));
  if (close_after)
    send(*close_after);
  ch->after_join();
}

void session::drain_inbox() {
  while (open_ && !join_pending_ && !inbox_.empty()) {
    auto [type, data] = std::move(inbox_.front());
    inbox_.pop_front();
    inbox_bytes_ -= data.size();
    process(type, std::move(data));
  }
}

// -- output ----------------------------------------------------------------------

bool session::send(const message& msg) {
  auto f = info_.serializer->encode(msg);
  if (!f) {
    if (ctx_.log.enabled(log_level::debug))
      ctx_.log.write(log_level::debug, "socket",
                     "cannot encode " + phx::protocol::describe(msg) + ": "
                       + f.error().to_string());
    return false;
  }
  if (!open_ || ctx_.stalled())
    return true;
  if (!write(make_ws_message(std::move(*f))))
    overflow("the client does not read (send buffer full)");
  return true;
}

void session::send_encoded(const ws_message_ptr& msg) {
  if (!open_ || ctx_.stalled())
    return;
  if (!write(msg))
    overflow("the client does not read (send buffer full)");
}

void session::stop_channel(channel& ch, stop_reason why) {
  auto it = channels_.find(ch.topic());
  std::shared_ptr<channel> keep;
  if (it != channels_.end() && it->second.get() == &ch) {
    keep = std::move(it->second);
    channels_.erase(it);
  }
  switch (why) {
    case stop_reason::normal:
      send(channel_exit(ch, phx::protocol::events::close, payload{}));
      break;
    case stop_reason::crash:
      send(channel_exit(ch, phx::protocol::events::error, channel_crash()));
      break;
    case stop_reason::shutdown:
      break;
  }
  ch.terminate();
}

} // namespace phx_server
