#include "phx/actors/socket.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/system_messages.hpp>
#include <caf/stateful_actor.hpp>

#include "phx/actors/channel.hpp"
#include "phx/actors/supervisor.hpp"
#include "phx/protocol/url.hpp"

namespace phx {

namespace {

using self_ptr = socket_actor::stateful_pointer<socket_state>;

constexpr std::string_view component = "socket";

std::chrono::milliseconds millis(int64_t ms) {
  return std::chrono::milliseconds{ms < 0 ? 0 : ms};
}

const logger& log_of(self_ptr self) {
  return self->state.ctx->options.logger;
}

// -- the private side ----------------------------------------------------------------

// An internal message from someone not entitled to send it: refused, counted
// and logged, never handled.
bool refuse_internal(self_ptr self, const char* what) {
  auto& st = self->state;
  ++st.stats.not_entitled;
  auto from = describe_sender(self->current_sender());
  log_of(self).warning(component, std::string{"refusing internal message '"} + what
                                    + "' from " + from);
  return false;
}

// Timers, flushes and restarts come from the socket itself only.
bool from_self(self_ptr self, const char* what) {
  return self->current_sender().get() == self->ctrl() || refuse_internal(self, what);
}

// Transport reports come from the socket's transports only (the current one
// or one being closed); the io side sends them as the TRANSPORT.
bool from_transport(self_ptr self, const char* what) {
  auto& st = self->state;
  if (st.transport && sent_by(self, st.transport.address()))
    return true;
  for (auto& [g, td] : st.closing)
    if (td.transport && sent_by(self, td.transport.address()))
      return true;
  return refuse_internal(self, what);
}

// A channel's messages come from a channel routed for their topic.
bool from_channel(self_ptr self, const std::string& topic, const char* what) {
  auto& sender = self->current_sender();
  if (auto i = self->state.routes.find(topic); sender && i != self->state.routes.end())
    for (auto& ch : i->second)
      if (caf::actor_cast<caf::actor_control_block*>(ch) == sender.get())
        return true;
  return refuse_internal(self, what);
}

// -- user code -------------------------------------------------------------------------

// User code ran since the last check and threw: report what the gate has not
// reported, tell the subscribers, then apply the socket's policy.
void check_faults(self_ptr self) {
  if (!faults_pending())
    return;
  auto& st = self->state;
  auto faults = take_faults();
  for (auto& f : faults) {
    if (!f.reported)
      report_fault(*st.ctx, f);
    for (auto& sub : st.subscribers)
      self->send(sub.hdl, error_atom::value, f.describe(), 0);
  }
  if (st.ctx->options.callback_failure == callback_failure::restart)
    self->send<caf::message_priority::high>(self, crash_atom::value, faults.front().describe());
}

// Encodes with the socket's serializer: a custom encode is user code, fenced.
protocol::result<protocol::frame> encode(self_ptr self, const protocol::message& msg) {
  std::optional<protocol::result<protocol::frame>> out;
  if (fenced("encode", {}, [&] { out.emplace(self->state.ctx->serializer->encode(msg)); }))
    return std::move(*out);
  return protocol::make_error(protocol::errc::unsupported, "the encode function threw");
}

// Decodes with the socket's serializer: a custom decode is user code, fenced.
protocol::result<protocol::message> decode(self_ptr self, protocol::frame& f) {
  std::optional<protocol::result<protocol::message>> out;
  if (fenced("decode", {},
             [&] { out.emplace(self->state.ctx->serializer->decode(f.type, std::move(f.data))); }))
    return std::move(*out);
  return protocol::make_error(protocol::errc::unsupported, "the decode function threw");
}

void set_conn(self_ptr self, connection_state next) {
  auto& st = self->state;
  if (st.conn == next)
    return;
  st.conn = next;
  st.ctx->connected.store(next == connection_state::open);
  if (auto& hooks = st.ctx->options.hooks; hooks && hooks->on_state)
    hooks->on_state(next);
}

// Every routed channel (a snapshot: handlers may change the routes).
std::vector<channel_actor> all_channels(self_ptr self) {
  std::vector<channel_actor> out;
  for (auto& [topic, list] : self->state.routes)
    out.insert(out.end(), list.begin(), list.end());
  return out;
}

// Sends what is queued for the transport, in one message.
void flush_out(self_ptr self) {
  auto& st = self->state;
  st.flush_pending = false;
  if (st.out.empty())
    return;
  if (!st.transport) {
    // The connection went away before the flush: the frames' pushes time out.
    if (st.outbound)
      for (auto& f : st.out)
        st.outbound->give(f.data.size());
    st.out.clear();
    return;
  }
  st.last_flush = st.out.size();
  if (st.out.size() == 1)
    self->send(st.transport, frame_atom::value, std::move(st.out.front()));
  else
    self->send(st.transport, frame_atom::value, std::move(st.out));
  st.out.clear();
}

// Sends the queued frames now if the mailbox holds nothing more (the run
// ends: nothing to batch them with), else sends the socket a flush message,
// which arrives behind what is already queued: all frames queued meanwhile go
// to the transport (and the io thread) together.
void schedule_flush(self_ptr self) {
  auto& st = self->state;
  if (st.flush_pending || st.out.empty())
    return;
  if (self->mailbox().empty()) {
    flush_out(self);
    return;
  }
  st.flush_pending = true;
  self->send(self, caf::flush_atom::value);
}

// Queues a frame already charged to the outbound budget (see `schedule_flush`).
void queue_out(self_ptr self, protocol::frame&& f) {
  auto& st = self->state;
  ++st.stats.frames_out;
  // Sized like the last batch (capped): no regrowth per frame under load.
  if (st.out.capacity() == 0 && st.last_flush > 1)
    st.out.reserve(std::min<size_t>(st.last_flush, 256));
  st.out.push_back(std::move(f));
  schedule_flush(self);
}

// Queues a control frame (heartbeat, ping, join, leave): charged to the
// outbound budget, never refused, so a full budget cannot starve the link.
void send_now(self_ptr self, protocol::frame&& f) {
  if (auto& budget = self->state.outbound)
    budget->take(f.data.size());
  queue_out(self, std::move(f));
}

// Takes a push's frame of `bytes` from the outbound budget; false if it does not fit.
bool fits_outbound(self_ptr self, size_t bytes) {
  auto& st = self->state;
  if (st.outbound && !st.outbound->try_take(bytes))
    return false;
  st.outbound_refusing = false;
  return true;
}

// -- heartbeat ---------------------------------------------------------------------

void reset_heartbeat(self_ptr self) {
  auto& st = self->state;
  st.pending_heartbeat.reset();
  ++st.heartbeat_epoch;
  auto interval = st.ctx->options.heartbeat_interval;
  if (interval.count() > 0)
    self->delayed_send(self, interval, heartbeat_atom::value, st.heartbeat_epoch);
}

void stop_heartbeat(self_ptr self) {
  self->state.pending_heartbeat.reset();
  ++self->state.heartbeat_epoch;
}

protocol::message heartbeat_message(std::string ref) {
  protocol::message msg;
  msg.ref = std::move(ref);
  msg.topic = std::string{protocol::phoenix_topic};
  msg.event = std::string{protocol::events::heartbeat};
  return msg;
}

// -- transport choice and fallback -----------------------------------------------------

// How long a WebSocket has to open, then to answer its first heartbeat, before
// the socket falls back to long-poll; none: no fallback (phoenix.js falls back
// only with `longPollFallbackMs` set and a transport other than LongPoll).
std::optional<caf::timespan> fallback_window(const socket_options& opts) {
  switch (opts.transport) {
    case transport_choice::longpoll:
      return std::nullopt;
    case transport_choice::automatic:
      return opts.long_poll_fallback.value_or(caf::timespan{default_long_poll_fallback});
    default:
      return opts.long_poll_fallback;
  }
}

int64_t window_ms(const socket_options& opts) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(*fallback_window(opts)).count();
}

// The current attempt is a WebSocket on trial: it has not answered a first
// heartbeat yet and the socket would fall back to long-poll if it failed.
bool on_trial(self_ptr self) {
  auto& st = self->state;
  return st.kind == transport::transport_kind::websocket && !st.ctx->fell_back.load()
         && !st.ctx->websocket_passed.load() && fallback_window(st.ctx->options).has_value();
}

// The key of the endpoint in the transport memory: no query (it may hold secrets).
std::string memory_key(const protocol::endpoint& ep) {
  return std::string{ep.scheme()} + "://" + ep.authority() + (ep.path.empty() ? "/" : ep.path);
}

std::shared_ptr<transport_memory> memory_of(const socket_options& opts) {
  return opts.transport_memory ? opts.transport_memory : process_transport_memory();
}

// True if the memory says this endpoint fell back before; a store that throws
// is reported and counts as "no".
bool remembered_fallback(self_ptr self) {
  auto& opts = self->state.ctx->options;
  if (!opts.remember_fallback)
    return false;
  bool yes = false;
  auto mem = memory_of(opts);
  fenced("transport_memory", {}, [&] { yes = mem->fell_back(memory_key(opts.endpoint)); });
  check_faults(self);
  return yes;
}

// Long-poll opened after a fallback and no WebSocket ever passed: remember it
// once (phoenix.js memorizes only then).
void remember_fallback(self_ptr self) {
  auto& st = self->state;
  auto& opts = st.ctx->options;
  if (!opts.remember_fallback || st.fallback_remembered || st.ctx->websocket_passed.load())
    return;
  st.fallback_remembered = true;
  auto mem = memory_of(opts);
  fenced("transport_memory", {}, [&] { mem->remember_fallback(memory_key(opts.endpoint)); });
  check_faults(self);
}

// Cancels the fallback timer and the pending health check.
void disarm_fallback(self_ptr self) {
  ++self->state.fallback_epoch;
  self->state.health_check.reset();
}

// Gives the WebSocket attempt the fallback window (to open, then to answer).
void arm_fallback(self_ptr self) {
  auto& st = self->state;
  ++st.fallback_epoch;
  self->delayed_send(self, *fallback_window(st.ctx->options), fallback_atom::value,
                     st.fallback_epoch);
}

// Long-poll from now on, for the socket's life (restarts included).
void fall_back(self_ptr self, const std::string& why) {
  auto& st = self->state;
  st.ctx->fell_back.store(true);
  ++st.stats.fallbacks;
  disarm_fallback(self);
  log_of(self).warning(component, "falling back to long-poll: " + why);
}

// Falls back if the WebSocket on trial failed; true if it did.
bool fall_back_if_on_trial(self_ptr self, const std::string& why) {
  if (!on_trial(self))
    return false;
  fall_back(self, why);
  return true;
}

// phoenix.js's health check of a fresh WebSocket: a heartbeat that must be
// answered within the fallback window.
void start_health_check(self_ptr self) {
  auto& st = self->state;
  arm_fallback(self);
  auto ref = st.ctx->make_ref();
  st.health_check = ref;
  auto f = encode(self, heartbeat_message(std::move(ref)));
  check_faults(self);
  if (f)
    send_now(self, std::move(*f));
}

void pass_health_check(self_ptr self) {
  self->state.ctx->websocket_passed.store(true);
  disarm_fallback(self);
  log_of(self).info(component, "the WebSocket answered its first heartbeat: no fallback");
}

// -- reconnect supervisor ------------------------------------------------------------

void schedule_reconnect(self_ptr self) {
  auto& st = self->state;
  auto& opts = st.ctx->options;
  ++st.reconnect_epoch;
  auto tries = st.reconnect_tries + 1;
  int64_t delay = 0;
  // A backoff function that throws is reported; the default table stands in.
  if (!fenced("reconnect_after_ms", {}, [&] { delay = opts.reconnect_after_ms(tries); }))
    delay = protocol::default_reconnect_after_ms(tries);
  if (opts.reconnect_jitter_ms > 0) {
    auto unit = st.rng.next_unit();
    if (opts.random)
      fenced("random", {}, [&] { unit = opts.random(); });
    delay = protocol::jittered(delay, opts.reconnect_jitter_ms, unit);
  }
  check_faults(self);
  log_of(self).debug(component, "reconnecting in " + std::to_string(delay) + " ms");
  self->delayed_send(self, millis(delay), reconnect_atom::value, st.reconnect_epoch);
}

void reset_reconnect(self_ptr self) {
  self->state.reconnect_tries = 0;
  ++self->state.reconnect_epoch;
}

void start_connect(self_ptr self) {
  auto& st = self->state;
  ++st.gen;
  st.stats.generation = st.gen;
  bool longpoll = st.ctx->options.transport == transport_choice::longpoll
                  || st.ctx->fell_back.load();
  st.kind = longpoll ? transport::transport_kind::longpoll : transport::transport_kind::websocket;
  // phoenix.js skips the WebSocket where sessionStorage remembers a fallback.
  if (on_trial(self) && remembered_fallback(self)) {
    fall_back(self, "remembered for this endpoint");
    st.kind = transport::transport_kind::longpoll;
  }
  st.stats.transport = st.kind;
  st.ctx->transport.store(st.kind);
  std::optional<transport::connect_request> made;
  try {
    made.emplace(make_connect_request(*st.ctx, st.kind));
  } catch (const user_function_failed&) {
    // Params or the auth token threw: this attempt fails (reported), and the
    // reconnect backoff tries again with fresh ones.
    check_faults(self);
    set_conn(self, connection_state::closed);
    if (!st.manual_disconnect)
      schedule_reconnect(self);
    return;
  }
  auto req = std::move(*made);
  // A fresh budget per connection: frames stuck in a dead link never hold a new one back.
  st.outbound = std::make_shared<transport::credit>(st.ctx->options.max_outbound_frames,
                                                    st.ctx->options.max_outbound_bytes);
  st.outbound_refusing = false;
  req.outbound = st.outbound;
  // A fresh credit per connection: tickets of an old one never hold a new one back.
  st.inbound = std::make_shared<transport::credit>(st.ctx->options.max_inbound_frames,
                                                   st.ctx->options.max_inbound_bytes);
  req.inbound = st.inbound;
  // The built-in serializers already refuse invalid UTF-8; a custom encoder may not.
  req.validate_outbound_utf8
    = dynamic_cast<const protocol::custom_serializer*>(st.ctx->serializer.get()) != nullptr;
  log_of(self).info(component, "connecting to " + protocol::redact_url(req.url) + " over "
                                 + transport::to_string(st.kind));
  auto& factory = st.ctx->options.transport_factory;
  transport::listener_actor listener = self;
  if (factory) {
    st.transport = factory(self->home_system(), listener, st.gen, std::move(req));
  } else {
    st.transport = transport::spawn_transport(self->home_system(), listener, st.gen,
                                              std::move(req),
                                              st.ctx->options.logger.as_sink());
  }
  self->link_to(st.transport);
  if (on_trial(self))
    arm_fallback(self);
  set_conn(self, connection_state::connecting);
}

// The next attempt after a loss: at once right after a fallback (phoenix.js
// connects the fallback without a backoff step), else after the backoff.
void next_attempt(self_ptr self, bool fell_back) {
  if (self->state.manual_disconnect)
    return;
  if (fell_back) {
    reset_reconnect(self);
    start_connect(self);
  } else {
    schedule_reconnect(self);
  }
}

// -- connection events -----------------------------------------------------------------

void fail_pings(self_ptr self) {
  for (auto& [ref, ping] : self->state.pings)
    ping.promise.deliver(caf::make_error(ec::not_connected, "the connection closed"));
  self->state.pings.clear();
}

// The connection of the current generation is gone (closed, failed, timed out).
void connection_lost(self_ptr self, const std::string& channel_reason) {
  auto& st = self->state;
  if (st.transport)
    self->unlink_from(st.transport);
  st.transport = nullptr;
  st.out.clear();
  set_conn(self, connection_state::closed);
  stop_heartbeat(self);
  disarm_fallback(self);
  fail_pings(self);
  for (auto& ch : all_channels(self))
    self->send(ch, error_atom::value, channel_reason);
}

void after_close(self_ptr self, uint16_t code, const std::string& reason,
                 bool fell_back = false) {
  auto& st = self->state;
  if (auto& hooks = st.ctx->options.hooks)
    hooks->on_close.fire(*hooks->gate, code, reason);
  for (auto& sub : st.subscribers)
    self->send(sub.hdl, closed_atom::value, code, reason);
  check_faults(self);
  next_attempt(self, fell_back);
}

void on_closed(self_ptr self, uint16_t code, const std::string& reason) {
  log_of(self).info(component, "connection closed with code " + std::to_string(code)
                                 + (reason.empty() ? "" : " (" + reason + ")"));
  bool fell_back = fall_back_if_on_trial(
    self, "the WebSocket closed before answering its first heartbeat");
  connection_lost(self, "connection_closed");
  after_close(self, code, reason, fell_back);
}

void on_failed(self_ptr self, const transport::connect_failure& failure,
               bool fell_back = false) {
  auto& st = self->state;
  log_of(self).warning(component, "connection failed: " + failure.reason);
  if (!fell_back)
    fell_back = fall_back_if_on_trial(self, "the WebSocket failed before it opened ("
                                              + failure.reason + ")");
  connection_lost(self, "connection_error");
  if (auto& hooks = st.ctx->options.hooks)
    hooks->on_error.fire(*hooks->gate, failure.reason, failure.http_status);
  for (auto& sub : st.subscribers)
    self->send(sub.hdl, error_atom::value, failure.reason, failure.http_status);
  check_faults(self);
  next_attempt(self, fell_back);
}

// A disconnect's connection is gone: answer whoever waits for it.
void finish_teardown(self_ptr self, transport::generation g, uint16_t code,
                     const std::string& reason) {
  auto& st = self->state;
  auto i = st.closing.find(g);
  if (i == st.closing.end())
    return;
  auto td = std::move(i->second);
  st.closing.erase(i);
  if (td.transport)
    self->unlink_from(td.transport);
  if (g == st.gen && !st.transport) {
    set_conn(self, connection_state::closed);
    for (auto& ch : all_channels(self))
      self->send(ch, error_atom::value, std::string{"connection_closed"});
    if (auto& hooks = st.ctx->options.hooks)
      hooks->on_close.fire(*hooks->gate, code, reason);
    for (auto& sub : st.subscribers)
      self->send(sub.hdl, closed_atom::value, code, reason);
    check_faults(self);
  }
  for (auto& rp : td.waiters)
    rp.deliver(st.transport ? st.conn : connection_state::closed);
}

// Messages of one inbound batch per channel: one CAF message per channel
// and batch instead of one per frame.
struct routed_batch {
  channel_actor channel;
  std::vector<protocol::message> messages;
};

void route_to(std::vector<routed_batch>& out, const channel_actor& ch,
              protocol::message&& msg, size_t batch_size) {
  for (auto& r : out) {
    if (r.channel == ch) {
      r.messages.push_back(std::move(msg));
      return;
    }
  }
  out.push_back(routed_batch{ch, {}});
  // Room for the whole batch at once: most batches go to one channel.
  out.back().messages.reserve(batch_size);
  out.back().messages.push_back(std::move(msg));
}

void on_message(self_ptr self, protocol::message&& msg, std::vector<routed_batch>& out,
                size_t batch_size) {
  auto& st = self->state;
  // True once a `phoenix` reply answered a pending heartbeat or ping.
  bool answered = false;
  if (msg.topic == protocol::phoenix_topic && msg.ref) {
    if (st.pending_heartbeat == msg.ref) {
      // Scheduled from the reply, not from a timer (phoenix PR #4309).
      reset_heartbeat(self);
      answered = true;
    }
    if (st.health_check == msg.ref) {
      pass_health_check(self);
      answered = true;
    }
    if (auto i = st.pings.find(*msg.ref); i != st.pings.end()) {
      auto rtt = self->clock().now() - i->second.sent;
      i->second.promise.deliver(std::chrono::duration_cast<caf::timespan>(rtt));
      st.pings.erase(i);
      answered = true;
    }
  }
  const auto& hooks = st.ctx->options.hooks;
  bool tell_hooks = hooks && hooks->on_message.size() > 0;
  if (tell_hooks)
    hooks->on_message.fire(*hooks->gate, msg);
  if (!st.subscribers.empty()) {
    auto bytes = msg.payload.is_binary() ? msg.payload.binary().size() : 0;
    for (auto& sub : st.subscribers)
      if (!sub.deliver(self, bytes, log_of(self), component, message_atom::value, msg))
        ++st.stats.subscriber_overflows;
  }
  auto route = st.routes.find(msg.topic);
  if (route == st.routes.end() || route->second.empty()) {
    if (msg.topic != protocol::phoenix_topic || !msg.is_reply()) {
      ++st.stats.unrouted;
      if (log_of(self).enabled(log_level::debug))
        log_of(self).debug(component, "no channel for " + protocol::describe(msg));
    } else if (!answered) {
      // Late, duplicate or never sent: counted and logged, like a channel's.
      ++st.stats.unmatched_replies;
      if (log_of(self).enabled(log_level::debug))
        log_of(self).debug(component, "no pending heartbeat or ping for reply "
                                        + protocol::describe(msg));
    }
    return;
  }
  auto& channels = route->second;
  for (size_t i = 0; i + 1 < channels.size(); ++i)
    route_to(out, channels[i], protocol::message{msg}, batch_size);
  // The last (usually the only) channel gets the message itself: no copy.
  route_to(out, channels.back(), std::move(msg), batch_size);
}

void remove_route(self_ptr self, const caf::actor_addr& addr) {
  auto& routes = self->state.routes;
  for (auto i = routes.begin(); i != routes.end();) {
    auto& list = i->second;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](const channel_actor& c) { return c.address() == addr; }),
               list.end());
    if (list.empty())
      i = routes.erase(i);
    else
      ++i;
  }
  self->state.stats.channels = 0;
  for (auto& [topic, list] : routes)
    self->state.stats.channels += list.size();
}

void add_route(self_ptr self, channel_actor ch, const std::string& topic) {
  auto& list = self->state.routes[topic];
  if (std::find(list.begin(), list.end(), ch) != list.end())
    return;
  self->monitor(ch);
  list.push_back(ch);
  ++self->state.stats.channels;
  if (self->state.conn == connection_state::open)
    self->send(ch, opened_atom::value);
}

void refuse(self_ptr self, const caf::strong_actor_ptr& sender,
            const std::optional<std::string>& ref, caf::error err) {
  if (!sender || !ref)
    return;
  auto ch = caf::actor_cast<channel_actor>(sender);
  self->send(ch, refused_atom::value, *ref, std::move(err));
}

// Refuses a push the outbound budget has no room for: counted, logged (a
// warning for the first of a run, then debug) and ended with `outbound_full`.
void refuse_outbound(self_ptr self, const caf::strong_actor_ptr& sender,
                     const std::optional<std::string>& ref, size_t bytes,
                     const std::string& what) {
  auto& st = self->state;
  ++st.stats.outbound_refusals;
  auto& budget = *st.outbound;
  auto why = bytes > st.ctx->options.max_outbound_bytes
               ? "the frame (" + std::to_string(bytes)
                   + " bytes) is larger than the connection's whole outbound budget"
               : "the connection's outbound budget is used up ("
                   + std::to_string(budget.units()) + " frames, "
                   + std::to_string(budget.bytes()) + " bytes not yet written)";
  auto level = st.outbound_refusing ? log_level::debug : log_level::warning;
  st.outbound_refusing = true;
  if (log_of(self).enabled(level))
    log_of(self).log(level, component, why + "; refusing " + what);
  refuse(self, sender, ref, caf::make_error(ec::outbound_full, std::move(why)));
}

void send_message(self_ptr self, protocol::message&& msg) {
  auto& st = self->state;
  auto sender = self->current_sender();
  if (msg.event == protocol::events::join) {
    // Phoenix would close the other channel anyway: leave it first.
    if (auto i = st.routes.find(msg.topic); i != st.routes.end())
      for (auto& ch : i->second)
        if (caf::actor_cast<caf::strong_actor_ptr>(ch) != sender)
          self->send(ch, duplicate_atom::value, msg.ref.value_or(std::string{}));
  }
  auto encoded = encode(self, msg);
  check_faults(self);
  if (!encoded) {
    log_of(self).warning(component, "cannot encode " + protocol::describe(msg) + ": "
                                      + encoded.error().to_string());
    refuse(self, sender, msg.ref,
           caf::make_error(ec::encode_failed, encoded.error().to_string()));
    return;
  }
  auto size = encoded->data.size();
  bool control = msg.event == protocol::events::join || msg.event == protocol::events::leave;
  if (st.conn == connection_state::open) {
    if (control) {
      send_now(self, std::move(*encoded));
    } else if (fits_outbound(self, size)) {
      queue_out(self, std::move(*encoded));
    } else {
      refuse_outbound(self, sender, msg.ref, size, protocol::describe(msg));
    }
    return;
  }
  auto& opts = st.ctx->options;
  if (st.send_buffer.size() >= opts.max_send_buffer_frames
      || st.buffered_bytes + size > opts.max_send_buffer_bytes) {
    ++st.stats.buffer_overflows;
    log_of(self).warning(component, "send buffer full, refusing " + protocol::describe(msg));
    refuse(self, sender, msg.ref,
           caf::make_error(ec::send_buffer_full, "the socket's send buffer is full"));
    return;
  }
  st.buffered_bytes += size;
  st.send_buffer.push_back(
    {std::move(*encoded), std::move(msg.ref), std::move(sender), control});
  st.stats.buffered_frames = st.send_buffer.size();
  st.stats.buffered_bytes = st.buffered_bytes;
}

void flush_send_buffer(self_ptr self) {
  auto& st = self->state;
  if (st.send_buffer.empty())
    return;
  auto buffered = std::move(st.send_buffer);
  st.send_buffer.clear();
  st.buffered_bytes = 0;
  st.stats.buffered_frames = 0;
  st.stats.buffered_bytes = 0;
  std::vector<protocol::frame> frames;
  frames.reserve(buffered.size());
  // The buffer's bound may exceed the outbound budget: the excess is refused.
  for (auto& b : buffered) {
    auto size = b.frame.data.size();
    if (b.control) {
      if (st.outbound)
        st.outbound->take(size);
    } else if (!fits_outbound(self, size)) {
      refuse_outbound(self, b.sender, b.ref, size,
                      "a frame that waited for the connection"
                        + (b.ref ? " (ref " + *b.ref + ")" : std::string{}));
      continue;
    }
    frames.push_back(std::move(b.frame));
  }
  st.stats.frames_out += frames.size();
  if (!frames.empty())
    self->send(st.transport, frame_atom::value, std::move(frames));
}

bool is_current(self_ptr self, transport::generation g) {
  return g == self->state.gen && self->state.transport != nullptr;
}

// -- supervision -----------------------------------------------------------------------

// Ends what the socket itself holds for pushes, joins and pings with `err`:
// the send buffer (each frame's channel hears the refusal) and the pings.
void end_held(self_ptr self, const caf::error& err) {
  auto& st = self->state;
  for (auto& b : st.send_buffer)
    refuse(self, b.sender, b.ref, err);
  st.send_buffer.clear();
  st.buffered_bytes = 0;
  st.stats.buffered_frames = 0;
  st.stats.buffered_bytes = 0;
  for (auto& [ref, ping] : st.pings)
    ping.promise.deliver(err);
  st.pings.clear();
  for (auto& [g, td] : st.closing) {
    if (td.transport) {
      self->send(td.transport, transport::abort_atom::value);
      self->unlink_from(td.transport);
    }
    for (auto& rp : td.waiters)
      rp.deliver(connection_state::closed);
  }
  st.closing.clear();
}

// Restarts the socket in place from its spec (its context), as its supervisor
// would restart a crashed child, but keeping its address: the connection is
// dropped at once, what it held ends with socket_crashed, its channels hear
// the loss (they rejoin on the next open), and the reconnect backoff takes
// over. Routes and subscribers are its spec: they stay.
void restart_in_place(self_ptr self, const std::string& why) {
  auto& st = self->state;
  log_of(self).error(component, "restarting the socket: " + why);
  self->send(st.supervisor, restarted_atom::value, self->address(), why);
  end_held(self, caf::make_error(ec::socket_crashed, why));
  if (st.transport)
    self->send(st.transport, transport::abort_atom::value);
  ++st.gen;
  st.stats.generation = st.gen;
  connection_lost(self, "socket_crashed");
  check_faults(self);
  if (!st.manual_disconnect)
    schedule_reconnect(self);
}

// The supervisor stops the socket for good: everything it holds ends with
// `why`, `on_error` and the subscribers hear it once, and the socket quits
// with it (its channels end their pushes with it and quit too).
void halt(self_ptr self, caf::error why) {
  auto& st = self->state;
  auto text = "the socket stopped for good: " + describe(why);
  log_of(self).error(component, text);
  end_held(self, why);
  if (st.transport) {
    self->send(st.transport, transport::abort_atom::value);
    self->unlink_from(st.transport);
    st.transport = nullptr;
  }
  st.manual_disconnect = true;
  stop_heartbeat(self);
  set_conn(self, connection_state::closed);
  if (auto& hooks = st.ctx->options.hooks)
    hooks->on_error.fire(*hooks->gate, text, 0);
  for (auto& sub : st.subscribers)
    self->send(sub.hdl, error_atom::value, text, 0);
  // Nothing to restart anymore: faults of these last callbacks are logged only.
  for (auto& f : take_faults())
    if (!f.reported)
      report_fault(*st.ctx, f);
  self->quit(std::move(why));
}

} // namespace

transport::connect_request make_connect_request(const socket_context& ctx,
                                                transport::transport_kind kind) {
  auto& opts = ctx.options;
  bool longpoll = kind == transport::transport_kind::longpoll;
  transport::connect_request req;
  req.kind = kind;
  protocol::json_document params;
  // User functions, fenced: one that throws aborts the attempt (its fault
  // recorded under its own name, see `user_function_failed`).
  if (opts.params && !fenced("params", {}, [&] { params = opts.params(); }))
    throw user_function_failed{};
  if (!params.IsObject() && !params.IsNull())
    opts.logger.error(component, "socket params must be a JSON object; connecting without them");
  auto* query = params.IsObject() ? &params : nullptr;
  req.url = longpoll ? protocol::longpoll_url(opts.endpoint, query, ctx.serializer->vsn())
                     : protocol::websocket_url(opts.endpoint, query, ctx.serializer->vsn());
  req.headers = opts.headers;
  if (opts.auth_token) {
    std::optional<std::string> token;
    if (!fenced("auth_token", {}, [&] { token = opts.auth_token(); }))
      throw user_function_failed{};
    // phoenix.js's LongPoll sends the token as a header, the WebSocket as a subprotocol.
    if (token && longpoll)
      req.headers.emplace_back(std::string{protocol::auth_token_header}, *token);
    else if (token)
      req.subprotocols = protocol::auth_token_protocols(*token);
  }
  req.compress = opts.compress && !longpoll;
  req.long_poll_timeout_ms = static_cast<uint32_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(opts.longpoller_timeout).count());
  req.tls = opts.tls;
  req.max_frame_size = opts.max_frame_size;
  req.open_timeout_ms = static_cast<uint32_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(opts.open_timeout).count());
  req.close_timeout_ms = static_cast<uint32_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(opts.close_timeout).count());
  return req;
}

socket_actor::behavior_type socket_impl(self_ptr self,
                                        std::shared_ptr<socket_context> ctx) {
  auto& st0 = self->state;
  st0.ctx = std::move(ctx);
  st0.supervisor = supervisor_of(self->home_system());
  if (auto& hooks = st0.ctx->options.hooks) {
    // The gate reports a callback's fault where it is caught, on any actor.
    hooks->gate->set_reporter(
      [weak = std::weak_ptr<socket_context>{st0.ctx}](callback_fault& f) {
        if (auto c = weak.lock())
          report_fault(*c, f);
      });
  }
  {
    // A restarted socket keeps the subscribers of the one that died.
    std::lock_guard<std::mutex> guard{st0.ctx->spec_mutex};
    for (auto& sub : st0.ctx->subscribers) {
      self->monitor(sub);
      st0.subscribers.emplace_back(sub, st0.ctx->options.max_subscriber_queue);
    }
  }
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& st = self->state;
    remove_route(self, dm.source);
    st.subscribers.erase(std::remove_if(st.subscribers.begin(), st.subscribers.end(),
                                        [&](const auto& s) {
                                          return s.hdl.address() == dm.source;
                                        }),
                         st.subscribers.end());
    std::lock_guard<std::mutex> guard{st.ctx->spec_mutex};
    auto& subs = st.ctx->subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](const auto& s) { return s.address() == dm.source; }),
               subs.end());
  });
  self->set_exit_handler([self](const caf::exit_msg& em) {
    auto& st = self->state;
    bool current = st.transport && em.source == st.transport.address();
    auto closing = std::find_if(st.closing.begin(), st.closing.end(), [&](auto& kv) {
      return kv.second.transport && em.source == kv.second.transport.address();
    });
    if (!current && closing == st.closing.end()) {
      // Not one of our transports: an exit request for the socket itself.
      if (em.reason)
        self->quit(em.reason);
      return;
    }
    if (!em.reason)
      return; // A transport quits normally after its last report.
    log_of(self).error(component, "transport failed: " + to_string(em.reason));
    if (closing != st.closing.end()) {
      auto g = closing->first;
      closing->second.transport = nullptr;
      finish_teardown(self, g, 1006, "transport failed");
    } else {
      bool fell_back = fall_back_if_on_trial(self, "the WebSocket's transport failed");
      connection_lost(self, "connection_error");
      after_close(self, 1006, "transport failed", fell_back);
    }
  });
  return {
    // -- user interface -------------------------------------------------------------
    [self](connect_atom) {
      auto& st = self->state;
      st.ctx->wants_connection.store(true);
      if (st.transport)
        return;
      st.manual_disconnect = false;
      reset_reconnect(self);
      start_connect(self);
    },
    [self](disconnect_atom, uint16_t code,
           std::string& reason) -> caf::result<connection_state> {
      auto& st = self->state;
      st.manual_disconnect = true;
      st.ctx->wants_connection.store(false);
      reset_reconnect(self);
      stop_heartbeat(self);
      disarm_fallback(self);
      auto rp = self->make_response_promise<connection_state>();
      if (st.transport) {
        auto g = st.gen;
        auto& td = st.closing[g];
        td.transport = st.transport;
        td.code = code;
        td.reason = reason;
        td.waiters.push_back(rp);
        // What was queued goes out before the close frame.
        flush_out(self);
        st.transport = nullptr;
        st.ctx->connected.store(false);
        set_conn(self, connection_state::closing);
        self->send(td.transport, transport::close_atom::value, code, std::move(reason));
        self->delayed_send(self, st.ctx->options.close_timeout, teardown_atom::value, g);
        return rp;
      }
      if (auto i = st.closing.find(st.gen); i != st.closing.end()) {
        // A second disconnect during the teardown waits for the same close.
        i->second.waiters.push_back(rp);
        return rp;
      }
      rp.deliver(connection_state::closed);
      return rp;
    },
    [self](channel_atom, std::string& topic,
           protocol::payload& params) -> channel_actor {
      channel_options opts;
      opts.topic = topic;
      opts.params = [params] { return params; };
      auto ch = spawn_channel(self->home_system(), self, self->state.ctx, std::move(opts));
      add_route(self, ch, topic);
      return ch;
    },
    [self](channel_atom, channel_actor& ch, std::string& topic) {
      // Local only: a remote node must not route a topic to itself.
      if (!ch || ch->node() != self->node()) {
        refuse_internal(self, "route");
        return;
      }
      add_route(self, std::move(ch), topic);
    },
    [self](remove_atom, channel_actor& ch) {
      self->demonitor(ch.address());
      remove_route(self, ch.address());
    },
    [self](remove_atom, channel_actor& ch, closed_atom) {
      if (!sent_by(self, ch.address())) {
        refuse_internal(self, "closed");
        return;
      }
      self->demonitor(ch.address());
      remove_route(self, ch.address());
    },
    [self](state_atom) { return self->state.conn; },
    [self](stats_atom) {
      auto stats = self->state.stats;
      if (self->state.inbound)
        stats.inbound_pauses = self->state.inbound->pauses();
      if (self->state.outbound && self->state.transport) {
        stats.outbound_frames = self->state.outbound->units();
        stats.outbound_bytes = self->state.outbound->bytes();
      }
      stats.buffered_frames = self->state.send_buffer.size();
      stats.buffered_bytes = self->state.buffered_bytes;
      return stats;
    },
    [self](ping_atom) -> caf::result<caf::timespan> {
      auto& st = self->state;
      if (st.conn != connection_state::open)
        return caf::make_error(ec::not_connected, "ping needs an open connection");
      auto ref = st.ctx->make_ref();
      auto rp = self->make_response_promise<caf::timespan>();
      st.pings.emplace(ref, socket_state::pending_ping{self->clock().now(), rp});
      auto f = encode(self, heartbeat_message(ref));
      check_faults(self);
      if (f)
        send_now(self, std::move(*f));
      return rp;
    },
    [self](subscribe_atom, socket_subscriber_actor& sub) {
      auto& st = self->state;
      self->monitor(sub);
      {
        std::lock_guard<std::mutex> guard{st.ctx->spec_mutex};
        st.ctx->subscribers.push_back(sub);
      }
      st.subscribers.emplace_back(std::move(sub), st.ctx->options.max_subscriber_queue);
    },
    [self](unsubscribe_atom, socket_subscriber_actor& sub) {
      auto& st = self->state;
      auto& subs = st.subscribers;
      subs.erase(std::remove_if(subs.begin(), subs.end(),
                                [&](const auto& s) { return s.hdl == sub; }),
                 subs.end());
      std::lock_guard<std::mutex> guard{st.ctx->spec_mutex};
      auto& specs = st.ctx->subscribers;
      specs.erase(std::remove(specs.begin(), specs.end(), sub), specs.end());
    },
    // -- channels ---------------------------------------------------------------------
    [self](send_atom, protocol::message& msg) {
      if (from_channel(self, msg.topic, "send"))
        send_message(self, std::move(msg));
      else if (auto& sender = self->current_sender(); sender && msg.ref
               && sender->node() == self->node())
        // A local channel no longer routed (removed): its push ends now.
        refuse(self, sender, msg.ref,
               caf::make_error(ec::not_entitled, "the channel was removed from its socket"));
    },
    // -- timers -----------------------------------------------------------------------
    [self](heartbeat_atom, uint64_t epoch) {
      if (!from_self(self, "heartbeat"))
        return;
      auto& st = self->state;
      if (epoch != st.heartbeat_epoch || st.conn != connection_state::open)
        return;
      auto ref = st.ctx->make_ref();
      st.pending_heartbeat = ref;
      auto f = encode(self, heartbeat_message(std::move(ref)));
      check_faults(self);
      if (f)
        send_now(self, std::move(*f));
      self->delayed_send(self, st.ctx->options.heartbeat_interval,
                         hb_timeout_atom::value, st.heartbeat_epoch);
    },
    [self](hb_timeout_atom, uint64_t epoch) {
      if (!from_self(self, "heartbeat timeout"))
        return;
      auto& st = self->state;
      if (epoch != st.heartbeat_epoch || !st.pending_heartbeat || !st.transport)
        return;
      if (st.inbound && st.inbound->paused()) {
        // Reads are paused because we are behind, not because the link is
        // dead: the reply waits behind unread frames. Check again later.
        self->delayed_send(self, st.ctx->options.heartbeat_interval, hb_timeout_atom::value,
                           st.heartbeat_epoch);
        return;
      }
      ++st.stats.heartbeat_timeouts;
      log_of(self).warning(component,
                           "heartbeat timeout. Attempting to re-establish connection");
      // A half-open link never completes a close handshake: drop it at once.
      self->send(st.transport, transport::abort_atom::value);
      ++st.gen;
      st.stats.generation = st.gen;
      bool fell_back = fall_back_if_on_trial(self, "the WebSocket's first heartbeat timed out");
      connection_lost(self, "heartbeat_timeout");
      after_close(self, 1006, "heartbeat timeout", fell_back);
    },
    [self](reconnect_atom, uint64_t epoch) {
      if (!from_self(self, "reconnect"))
        return;
      auto& st = self->state;
      if (epoch != st.reconnect_epoch || st.manual_disconnect || st.transport)
        return;
      ++st.reconnect_tries;
      ++st.stats.reconnects;
      start_connect(self);
    },
    [self](teardown_atom, uint64_t g) {
      if (!from_self(self, "teardown"))
        return;
      auto& st = self->state;
      auto i = st.closing.find(g);
      if (i == st.closing.end())
        return;
      log_of(self).debug(component, "close handshake timed out; dropping the link");
      if (i->second.transport)
        self->send(i->second.transport, transport::abort_atom::value);
      auto code = i->second.code;
      auto reason = i->second.reason;
      finish_teardown(self, g, code, reason);
    },
    [self](fallback_atom, uint64_t epoch) {
      if (!from_self(self, "fallback"))
        return;
      auto& st = self->state;
      if (epoch != st.fallback_epoch || !st.transport || !on_trial(self))
        return;
      bool was_open = st.conn == connection_state::open;
      auto ms = std::to_string(window_ms(st.ctx->options));
      auto why = was_open ? "the WebSocket did not answer its first heartbeat within " + ms + " ms"
                          : "the WebSocket did not open within " + ms + " ms";
      fall_back(self, why);
      // Dropped at once: a link that cannot open or answer never closes cleanly.
      self->send(st.transport, transport::abort_atom::value);
      ++st.gen;
      st.stats.generation = st.gen;
      if (was_open) {
        connection_lost(self, "connection_closed");
        after_close(self, 1006, why, true);
      } else {
        on_failed(self, transport::connect_failure{why, 0}, true);
      }
    },
    // -- transport reports ------------------------------------------------------------
    [self](opened_atom, transport::generation g, transport::transport_kind kind) {
      auto& st = self->state;
      // A report of an old connection changes nothing: dropped unchecked.
      if (!is_current(self, g)) {
        log_of(self).debug(component, "ignoring the open of an old connection");
        return;
      }
      if (!from_transport(self, "opened"))
        return;
      log_of(self).info(component, "connected over " + transport::to_string(kind));
      ++st.stats.opens;
      st.kind = kind;
      st.stats.transport = kind;
      st.ctx->transport.store(kind);
      set_conn(self, connection_state::open);
      flush_send_buffer(self);
      reset_reconnect(self);
      if (kind == transport::transport_kind::longpoll) {
        // No heartbeat over long-poll (phoenix.js's `skipHeartbeat`): the poll window does it.
        if (st.ctx->fell_back.load())
          remember_fallback(self);
      } else {
        reset_heartbeat(self);
        if (on_trial(self))
          start_health_check(self);
      }
      if (auto& hooks = st.ctx->options.hooks)
        hooks->on_open.fire(*hooks->gate);
      for (auto& sub : st.subscribers)
        self->send(sub.hdl, opened_atom::value);
      for (auto& ch : all_channels(self))
        self->send(ch, opened_atom::value);
      check_faults(self);
    },
    [self](frame_atom, transport::generation g, std::vector<protocol::frame>& frames,
           flow_ticket& ticket) {
      auto& st = self->state;
      if (!is_current(self, g) || !from_transport(self, "frame"))
        return;
      std::vector<routed_batch> out;
      for (auto& f : frames) {
        ++st.stats.frames_in;
        auto decoded = decode(self, f);
        if (!decoded) {
          ++st.stats.decode_errors;
          auto what = "dropping a frame that cannot be decoded: " + decoded.error().to_string();
          log_of(self).warning(component, what);
          if (auto& hooks = st.ctx->options.hooks)
            hooks->on_error.fire(*hooks->gate, what, 0);
          for (auto& sub : st.subscribers)
            self->send(sub.hdl, error_atom::value, what, 0);
          continue;
        }
        on_message(self, std::move(*decoded), out, frames.size());
      }
      // Every channel's messages hold the batch's credit until consumed.
      for (auto& r : out)
        self->send(r.channel, message_atom::value, std::move(r.messages), ticket);
      check_faults(self);
    },
    [self](caf::flush_atom) {
      if (from_self(self, "flush"))
        flush_out(self);
    },
    // -- supervision ------------------------------------------------------------------
    [self](crash_atom, std::string& why) {
      if (from_self(self, "crash"))
        restart_in_place(self, why);
    },
    [self](halt_atom, caf::error& why) {
      if (sent_by(self, self->state.supervisor.address()))
        halt(self, std::move(why));
      else
        refuse_internal(self, "halt");
    },
    [self](closed_atom, transport::generation g, uint16_t code, std::string& reason) {
      auto& st = self->state;
      bool closing = st.closing.count(g) > 0;
      if ((!closing && !is_current(self, g)) || !from_transport(self, "closed"))
        return;
      if (closing) {
        finish_teardown(self, g, code, reason);
        return;
      }
      on_closed(self, code, reason);
    },
    [self](failed_atom, transport::generation g, transport::connect_failure& failure) {
      auto& st = self->state;
      bool closing = st.closing.count(g) > 0;
      if ((!closing && !is_current(self, g)) || !from_transport(self, "failed"))
        return;
      if (closing) {
        finish_teardown(self, g, 1006, failure.reason);
        return;
      }
      on_failed(self, failure);
    },
  };
}

socket_actor spawn_socket(caf::actor_system& sys, std::shared_ptr<socket_context> ctx) {
  auto sock = sys.spawn(socket_impl, ctx);
  caf::anon_send(supervisor_of(sys), watch_atom::value, sock, std::move(ctx));
  return sock;
}

uint64_t fresh_jitter_seed() noexcept {
  // One random_device read per process; then a Weyl sequence keeps seeds distinct.
  static std::atomic<uint64_t> next{[] {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd();
  }()};
  return next.fetch_add(0x9E3779B97F4A7C15ull, std::memory_order_relaxed);
}

std::string to_string(transport_choice c) {
  switch (c) {
    case transport_choice::longpoll:
      return "longpoll";
    case transport_choice::automatic:
      return "auto";
    default:
      return "websocket";
  }
}

std::optional<transport_choice> parse_transport_choice(std::string_view text) {
  for (auto c : {transport_choice::websocket, transport_choice::longpoll,
                 transport_choice::automatic})
    if (text == to_string(c))
      return c;
  return std::nullopt;
}

bool in_memory_transport_memory::fell_back(const std::string& endpoint) {
  std::lock_guard<std::mutex> guard{mutex_};
  return std::find(endpoints_.begin(), endpoints_.end(), endpoint) != endpoints_.end();
}

void in_memory_transport_memory::remember_fallback(const std::string& endpoint) {
  std::lock_guard<std::mutex> guard{mutex_};
  if (std::find(endpoints_.begin(), endpoints_.end(), endpoint) != endpoints_.end())
    return;
  // Bounded: a process talking to ever new endpoints forgets the oldest.
  if (endpoints_.size() >= 1024)
    endpoints_.erase(endpoints_.begin());
  endpoints_.push_back(endpoint);
}

void in_memory_transport_memory::clear() {
  std::lock_guard<std::mutex> guard{mutex_};
  endpoints_.clear();
}

std::shared_ptr<transport_memory> process_transport_memory() {
  static auto memory = std::make_shared<in_memory_transport_memory>();
  return memory;
}

caf::expected<std::shared_ptr<socket_context>> make_socket_context(socket_options opts) {
  auto ctx = std::make_shared<socket_context>();
  if (opts.endpoint.host.empty())
    return caf::make_error(ec::invalid_argument, "the socket has no endpoint");
  if (!opts.serializer) {
    auto ser = protocol::make_serializer(opts.vsn, protocol::role::client);
    if (!ser)
      return caf::make_error(ec::invalid_argument, ser.error().to_string());
    opts.serializer = std::move(*ser);
  }
  if (!opts.reconnect_after_ms)
    opts.reconnect_after_ms = protocol::default_reconnect_after_ms;
  if (!opts.rejoin_after_ms)
    opts.rejoin_after_ms = protocol::default_rejoin_after_ms;
  if (opts.timeout.count() <= 0)
    return caf::make_error(ec::invalid_argument, "the timeout must be positive");
  if (opts.heartbeat_interval.count() < 0)
    return caf::make_error(ec::invalid_argument, "the heartbeat interval is negative");
  if (opts.long_poll_fallback && opts.long_poll_fallback->count() <= 0)
    return caf::make_error(ec::invalid_argument, "the long-poll fallback time must be positive");
  if (opts.longpoller_timeout.count() <= 0)
    return caf::make_error(ec::invalid_argument, "the long-poll request timeout must be positive");
  if (opts.transport == transport_choice::longpoll
      && dynamic_cast<const protocol::custom_serializer*>(opts.serializer.get()) != nullptr) {
    // phoenix.js uses custom encode/decode over WebSocket only (kept after a fallback).
    opts.logger.info(component, "custom encode/decode are not used over long-poll");
    auto ser = protocol::make_serializer(opts.serializer->vsn(), protocol::role::client);
    if (!ser)
      return caf::make_error(ec::invalid_argument, ser.error().to_string());
    opts.serializer = std::move(*ser);
  }
  ctx->serializer = opts.serializer;
  ctx->options = std::move(opts);
  return ctx;
}

} // namespace phx
