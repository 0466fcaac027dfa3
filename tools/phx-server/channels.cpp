// The channel modules of the reference application (SCENARIOS.md): what a
// Phoenix.Channel `room:*` / `presence:*` would do for each event.

#include "channel.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include "phx/protocol/json.hpp"

#include "context.hpp"
#include "json_util.hpp"
#include "session.hpp"

namespace phx_server {

namespace {

using phx::protocol::json_document;
using phx::protocol::json_value;
using phx::protocol::message;
using phx::protocol::payload;

// Bounds that keep one client from making the server hold without limit
// (Phoenix has none; these are far above what a test needs).
constexpr int64_t max_sleep_ms = 60000;
constexpr int64_t max_flood = 100000;
constexpr size_t max_timers = 1000;
constexpr size_t max_mailbox = 10000;

constexpr std::string_view ok = "ok";
constexpr std::string_view error = "error";

// Only called with the valid literals of this file, each parsed once.
payload constant(std::string_view json) {
  auto parsed = phx::protocol::parse_json(json);
  return payload{parsed ? *parsed : phx::protocol::empty_object()};
}

const payload& kicked() {
  static const payload p = constant(R"({"kicked":true})");
  return p;
}

payload reason(std::string_view text) {
  json_document doc;
  doc.SetObject();
  doc.AddMember("reason", string_value(text, doc.GetAllocator()), doc.GetAllocator());
  return payload{std::move(doc)};
}

// An integer field of an object payload, as `%{"name" => n}` would match it.
enum class field_state { ok, missing, out_of_range };

field_state read_int(const payload& p, const char* name, int64_t max, int64_t& out) {
  if (!p.is_json() || !p.json().IsObject())
    return field_state::missing;
  auto& obj = p.json();
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsInt64() || it->value.GetInt64() < 0)
    return field_state::missing;
  if (it->value.GetInt64() > max)
    return field_state::out_of_range;
  out = it->value.GetInt64();
  return field_state::ok;
}

payload too_large(const char* name, int64_t max) {
  std::string text = name;
  text += " must be at most ";
  text += std::to_string(max);
  return reason(text);
}

// What may go out as a push or broadcast: bytes or a map (Phoenix raises on
// anything else).
bool pushable(const payload& p) {
  return p.is_binary() || p.json().IsObject();
}

} // namespace

std::optional<channel_kind> route(std::string_view topic) noexcept {
  if (topic.substr(0, 5) == "room:")
    return channel_kind::room;
  if (topic.substr(0, 9) == "presence:")
    return channel_kind::presence;
  return std::nullopt;
}

join_plan plan_join(channel_kind kind, const payload& params) {
  join_plan plan;
  if (params.is_binary()) {
    plan.outcome = join_outcome::crashed;
    return plan;
  }
  auto& p = params.json();
  // Access on nil is nil in Elixir: null params join like `{}`.
  if (p.IsNull())
    return plan;
  if (!p.IsObject()) {
    plan.outcome = join_outcome::crashed;
    return plan;
  }
  if (auto it = p.FindMember("sleep_ms"); it != p.MemberEnd()) {
    if (!it->value.IsInt64() || it->value.GetInt64() < 0) {
      plan.outcome = join_outcome::crashed;
      return plan;
    }
    if (it->value.GetInt64() > max_sleep_ms) {
      plan.outcome = join_outcome::invalid_sleep;
      return plan;
    }
    plan.sleep_ms = it->value.GetInt64();
  }
  if (kind == channel_kind::presence) {
    auto it = p.FindMember("meta");
    if (it != p.MemberEnd() && !it->value.IsObject() && !it->value.IsNull()) {
      plan.outcome = join_outcome::crashed;
      return plan;
    }
  }
  if (auto it = p.FindMember("fail"); it != p.MemberEnd() && it->value.IsTrue())
    plan.outcome = join_outcome::denied;
  return plan;
}

payload join_refusal(const join_plan& plan) {
  switch (plan.outcome) {
    case join_outcome::denied: {
      static const payload p = constant(R"({"reason":"denied"})");
      return p;
    }
    case join_outcome::invalid_sleep:
      return too_large("sleep_ms", max_sleep_ms);
    default: {
      static const payload p = constant(R"({"reason":"join crashed"})");
      return p;
    }
  }
}

// -- channel ---------------------------------------------------------------------

channel::channel(session& owner, channel_kind kind, std::string topic,
                 std::optional<std::string> socket_join_ref,
                 std::optional<std::string> join_ref, payload join_params)
  : owner_(owner),
    kind_(kind),
    topic_(std::move(topic)),
    socket_join_ref_(std::move(socket_join_ref)),
    join_ref_(std::move(join_ref)),
    join_params_(std::move(join_params)) {
  // nop
}

channel::~channel() {
  // The session terminates every channel it drops; this only guards pubsub
  // against a dangling pointer should one ever be missed.
  terminate();
}

void channel::terminate() {
  if (!alive_)
    return;
  alive_ = false;
  auto& ctx = owner_.ctx();
  // Unsubscribe first: a stopped channel does not see its own leave diff.
  ctx.bus.unsubscribe(*this);
  if (kind_ == channel_kind::presence)
    ctx.presence.untrack(*this);
  for (auto& t : timers_)
    t->cancel();
  timers_.clear();
  mailbox_.clear();
}

void channel::after_join() {
  if (kind_ != channel_kind::presence || !alive_)
    return;
  json_document meta;
  meta.SetObject();
  auto& alloc = meta.GetAllocator();
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  meta.AddMember("online_at", string_value(std::to_string(secs), alloc), alloc);
  if (join_params_.is_json() && join_params_.json().IsObject()) {
    auto extra = join_params_.json().FindMember("meta");
    if (extra != join_params_.json().MemberEnd() && extra->value.IsObject())
      merge_object(meta, extra->value);
  }
  auto& ctx = owner_.ctx();
  auto tracked = ctx.presence.track(*this, owner_.user_id(), std::move(meta));
  push(std::string{phx::protocol::events::presence_state}, ctx.presence.list(topic_));
  if (alive_)
    ctx.presence.announce(topic_, owner_.user_id(), tracked);
}

void channel::handle_in(message&& msg) {
  if (!alive_)
    return;
  if (busy_) {
    if (mailbox_.size() >= max_mailbox) {
      owner_.ctx().log.write(phx::protocol::log_level::warning, "channel",
                             topic_ + ": mailbox full, crashing the channel");
      crash("mailbox full");
      return;
    }
    mailbox_.push_back(std::move(msg));
    return;
  }
  dispatch(std::move(msg));
}

void channel::drain_mailbox() {
  while (alive_ && !busy_ && !mailbox_.empty()) {
    auto msg = std::move(mailbox_.front());
    mailbox_.pop_front();
    dispatch(std::move(msg));
  }
}

void channel::reply(const message& to, std::string_view status, payload response) {
  if (!alive_)
    return;
  auto msg = message::reply(join_ref_, to.ref, topic_, std::string{status},
                            std::move(response));
  if (!owner_.send(msg))
    crash("reply cannot be encoded");
}

void channel::push(std::string event, payload p) {
  if (!alive_)
    return;
  message msg;
  msg.join_ref = join_ref_;
  msg.topic = topic_;
  msg.event = std::move(event);
  msg.payload = std::move(p);
  if (!owner_.send(msg))
    crash("push cannot be encoded");
}

void channel::crash(std::string_view why) {
  if (!alive_)
    return;
  auto& log = owner_.ctx().log;
  if (log.enabled(phx::protocol::log_level::debug)) {
    std::string text = topic_;
    text += ": channel crashed: ";
    text += why;
    log.write(phx::protocol::log_level::debug, "channel", text);
  }
  owner_.stop_channel(*this, stop_reason::crash);
}

std::shared_ptr<boost::asio::steady_timer> channel::new_timer(int64_t ms) {
  auto t = std::make_shared<boost::asio::steady_timer>(owner_.ctx().io,
                                                       std::chrono::milliseconds{ms});
  timers_.push_back(t);
  return t;
}

void channel::forget_timer(const boost::asio::steady_timer* timer) {
  auto it = std::find_if(timers_.begin(), timers_.end(),
                         [&](const auto& t) { return t.get() == timer; });
  if (it != timers_.end()) {
    *it = std::move(timers_.back());
    timers_.pop_back();
  }
}

void channel::dispatch(message&& msg) {
  // The session may drop this channel while it runs (leave, crash, kick).
  auto self = shared_from_this();
  std::string_view ev = msg.event;
  if (ev == phx::protocol::events::leave) {
    reply(msg, ok, payload{});
    if (alive_)
      owner_.stop_channel(*this, stop_reason::normal);
  } else if (ev == "echo" || ev == "bin") {
    reply(msg, ok, msg.payload);
  } else if (ev == "echo_error") {
    reply(msg, error, msg.payload);
  } else if (ev == "noreply") {
    // Nothing at all: the client's push times out.
  } else if (ev == "shout" || ev == "shout_others" || ev == "bin_shout") {
    on_broadcast(std::move(msg));
  } else if (ev == "crash") {
    crash("crash requested");
  } else if (ev == "kick") {
    reply(msg, ok, kicked());
    if (alive_)
      owner_.stop_channel(*this, stop_reason::normal);
  } else if (ev == "kick_noreply") {
    owner_.stop_channel(*this, stop_reason::normal);
  } else if (ev == "delay") {
    on_delay(std::move(msg));
  } else if (ev == "flood") {
    on_flood(std::move(msg));
  } else if (ev == "push_later") {
    on_push_later(std::move(msg));
  } else if (ev == "info") {
    on_info(std::move(msg));
  } else if (ev == "bin_push") {
    on_bin_push(std::move(msg));
  } else if (kind_ == channel_kind::presence && ev == "update_meta") {
    on_update_meta(std::move(msg));
  } else if (kind_ == channel_kind::presence && ev == "list") {
    reply(msg, ok, owner_.ctx().presence.list(topic_));
  } else {
    json_document doc;
    doc.SetObject();
    auto& alloc = doc.GetAllocator();
    doc.AddMember("event", string_value(ev, alloc), alloc);
    doc.AddMember("reason", "unknown event", alloc);
    reply(msg, error, payload{std::move(doc)});
  }
}

void channel::on_broadcast(message&& msg) {
  if (!pushable(msg.payload)) {
    crash("broadcast payload is not a map");
    return;
  }
  bool others = msg.event == "shout_others";
  std::string_view event = msg.event == "bin_shout" ? "bin_shout" : "shout";
  owner_.ctx().bus.broadcast(topic_, event, msg.payload, others ? this : nullptr);
  reply(msg, ok, payload{});
}

void channel::on_bin_push(message&& msg) {
  if (!pushable(msg.payload)) {
    crash("push payload is not a map");
    return;
  }
  push("bin_push", msg.payload);
  reply(msg, ok, payload{});
}

void channel::on_delay(message&& msg) {
  int64_t ms = 0;
  switch (read_int(msg.payload, "ms", max_sleep_ms, ms)) {
    case field_state::missing:
      crash("delay without a non-negative integer ms");
      return;
    case field_state::out_of_range:
      reply(msg, error, too_large("ms", max_sleep_ms));
      return;
    case field_state::ok:
      break;
  }
  // The channel process sleeps: later events wait in its mailbox.
  busy_ = true;
  auto timer = new_timer(ms);
  timer->async_wait([weak = weak_from_this(), msg = std::move(msg),
                     raw = timer.get()](const boost::system::error_code& ec) mutable {
    auto self = weak.lock();
    if (ec || !self || !self->alive_)
      return;
    self->forget_timer(raw);
    self->busy_ = false;
    self->reply(msg, ok, msg.payload);
    self->drain_mailbox();
  });
}

void channel::on_flood(message&& msg) {
  int64_t n = 0;
  switch (read_int(msg.payload, "n", max_flood, n)) {
    case field_state::missing:
      crash("flood without a non-negative integer n");
      return;
    case field_state::out_of_range:
      reply(msg, error, too_large("n", max_flood));
      return;
    case field_state::ok:
      break;
  }
  for (int64_t i = 1; i <= n && alive_; ++i) {
    json_document doc;
    doc.SetObject();
    doc.AddMember("i", json_value{i}, doc.GetAllocator());
    push("flood", payload{std::move(doc)});
  }
  json_document doc;
  doc.SetObject();
  doc.AddMember("n", json_value{n}, doc.GetAllocator());
  reply(msg, ok, payload{std::move(doc)});
}

void channel::on_push_later(message&& msg) {
  int64_t ms = 0;
  switch (read_int(msg.payload, "ms", max_sleep_ms, ms)) {
    case field_state::missing:
      crash("push_later without a non-negative integer ms");
      return;
    case field_state::out_of_range:
      reply(msg, error, too_large("ms", max_sleep_ms));
      return;
    case field_state::ok:
      break;
  }
  auto& obj = msg.payload.json();
  std::string event = "later";
  if (auto it = obj.FindMember("event"); it != obj.MemberEnd()) {
    if (!it->value.IsString()) {
      crash("push_later event is not a string");
      return;
    }
    event.assign(it->value.GetString(), it->value.GetStringLength());
  }
  payload later{};
  if (auto it = obj.FindMember("payload"); it != obj.MemberEnd()) {
    if (!it->value.IsObject()) {
      crash("push_later payload is not a map");
      return;
    }
    // Alias into the decoded frame: no copy.
    later = payload{phx::protocol::json_ptr{msg.payload.json_shared(), &it->value}};
  }
  if (timers_.size() >= max_timers) {
    reply(msg, error, reason("too many pending pushes"));
    return;
  }
  reply(msg, ok, payload{});
  if (!alive_)
    return;
  auto timer = new_timer(ms);
  timer->async_wait([weak = weak_from_this(), event = std::move(event),
                     later = std::move(later),
                     raw = timer.get()](const boost::system::error_code& ec) mutable {
    auto self = weak.lock();
    if (ec || !self || !self->alive_)
      return;
    self->forget_timer(raw);
    self->push(std::move(event), std::move(later));
  });
}

void channel::on_info(message&& msg) {
  auto& info = owner_.info();
  json_document doc;
  doc.SetObject();
  auto& alloc = doc.GetAllocator();
  json_value connect_info{rapidjson::kObjectType};
  if (info.auth_token)
    connect_info.AddMember("auth_token", string_value(*info.auth_token, alloc), alloc);
  doc.AddMember("connect_info", connect_info, alloc);
  doc.AddMember("connect_params", copy_into(*info.params, alloc), alloc);
  if (join_params_.is_json())
    doc.AddMember("join_params", copy_into(join_params_.json(), alloc), alloc);
  else
    doc.AddMember("join_params", json_value{}, alloc);
  if (join_ref_)
    doc.AddMember("join_ref", string_value(*join_ref_, alloc), alloc);
  else
    doc.AddMember("join_ref", json_value{}, alloc);
  doc.AddMember("serializer",
                owner_.v2() ? "Phoenix.Socket.V2.JSONSerializer"
                            : "Phoenix.Socket.V1.JSONSerializer",
                alloc);
  doc.AddMember("topic", string_value(topic_, alloc), alloc);
  doc.AddMember("user_id", string_value(owner_.user_id(), alloc), alloc);
  reply(msg, ok, payload{std::move(doc)});
}

void channel::on_update_meta(message&& msg) {
  if (!msg.payload.is_json() || !msg.payload.json().IsObject()) {
    crash("update_meta payload is not a map");
    return;
  }
  // The reply goes out before the diff, which Phoenix.Presence sends async.
  reply(msg, ok, payload{});
  if (alive_)
    owner_.ctx().presence.update(*this, msg.payload.json());
}

} // namespace phx_server
