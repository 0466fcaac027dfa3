#include "phx/actors/channel.hpp"

#include <algorithm>
#include <chrono>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>
#include <caf/stateful_actor.hpp>

#include "phx/actors/push.hpp"

namespace phx {

namespace {

using self_ptr = channel_actor::stateful_pointer<channel_actor_state>;

constexpr std::string_view component = "channel";

const logger& log_of(self_ptr self) {
  return self->state.ctx->options.logger;
}

socket_actor socket_of(self_ptr self) {
  return caf::actor_cast<socket_actor>(self->state.socket);
}

bool connected(self_ptr self) {
  return self->state.ctx->connected.load();
}

bool can_push(self_ptr self) {
  return connected(self) && self->state.state == channel_state::joined;
}

void send_to_socket(self_ptr self, protocol::message&& msg) {
  if (auto sock = socket_of(self))
    self->send(sock, send_atom::value, std::move(msg));
}

protocol::message outgoing(self_ptr self, std::optional<std::string> ref,
                               std::string_view event, protocol::payload payload) {
  protocol::message msg;
  msg.join_ref = self->state.join_ref;
  msg.ref = std::move(ref);
  msg.topic = self->state.topic;
  msg.event = std::string{event};
  msg.payload = std::move(payload);
  return msg;
}

void set_state(self_ptr self, channel_state next) {
  auto& st = self->state;
  if (st.state == next)
    return;
  st.state = next;
  st.stats.state = next;
  if (st.hooks)
    st.hooks->fire_state(next);
  for (auto& sub : st.subscribers)
    self->send(sub.hdl, state_atom::value, st.topic, next);
}

// -- rejoin supervisor ---------------------------------------------------------------

void reset_rejoin(self_ptr self) {
  self->state.rejoin_tries = 0;
  ++self->state.rejoin_epoch;
}

void schedule_rejoin(self_ptr self) {
  auto& st = self->state;
  auto& opts = st.ctx->options;
  ++st.rejoin_epoch;
  auto delay = opts.rejoin_after_ms(st.rejoin_tries + 1);
  if (opts.rejoin_jitter_ms > 0) {
    auto unit = opts.random ? opts.random()
                            : st.rng.next_unit();
    delay = protocol::jittered(delay, opts.rejoin_jitter_ms, unit);
  }
  self->delayed_send(self, std::chrono::milliseconds{delay}, rejoin_atom::value,
                     st.rejoin_epoch);
}

// -- outcomes ------------------------------------------------------------------------

// The outcome to the PUSH: as its requester's request, or with the facade's
// callbacks (anonymous: the channel may be gone); nobody waits for a push
// sent with neither. `ctx`: the sending worker, null outside a handler.
template <class Outcome>
void send_outcome(channel_actor_state::pending_push& p, Outcome&& outcome,
                  caf::execution_unit* ctx) {
  if (p.requester.pending())
    p.requester.delegate(p.actor, outcome_atom::value, std::forward<Outcome>(outcome));
  else if (p.hooks)
    caf::actor_cast<caf::abstract_actor*>(p.actor)->eq_impl(
      caf::make_message_id(), nullptr, ctx, outcome_atom::value,
      std::forward<Outcome>(outcome), std::move(p.hooks));
}

// A PUSH that leaves the pool quits once its mailbox is done: a strong ref
// held elsewhere (a remote node's proxy of the requester's answer) must not
// keep it alive.
void release_push(const push_actor& p) {
  caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
}

// Back to the pool after its outcome was sent, or released if the pool is full.
void retire_push(channel_actor_state& st, push_actor&& p) {
  if (st.idle_pushes.size() < channel_actor_state::max_idle_pushes)
    st.idle_pushes.push_back(std::move(p));
  else
    release_push(p);
}

// A PUSH for a new push: an idle one from the pool, else a new one (lazy: it
// costs nothing until its first outcome).
push_actor take_push(self_ptr self) {
  auto& st = self->state;
  if (st.idle_pushes.empty())
    return self->spawn<caf::lazy_init>(push_impl, st.ctx);
  auto p = std::move(st.idle_pushes.back());
  st.idle_pushes.pop_back();
  return p;
}

// Ends a push with its one outcome (a reply or an error) and forgets it.
template <class Outcome>
void end_push(self_ptr self, uint64_t id, Outcome&& outcome) {
  auto& st = self->state;
  auto i = st.pushes.find(id);
  if (i == st.pushes.end())
    return;
  if (i->second.ref)
    st.by_ref.erase(*i->second.ref);
  if (i->second.in_buffer)
    --st.buffered;
  st.stats.buffered = st.buffered;
  send_outcome(i->second, std::forward<Outcome>(outcome), self->context());
  // Its mailbox is FIFO: the outcome is delivered before any next push's.
  retire_push(st, std::move(i->second.actor));
  st.pushes.erase(i);
  // Deadlines of finished pushes leave the front at once (replies come in
  // order), so the queue stays about as long as the pushes in flight.
  while (!st.deadlines.empty() && st.pushes.count(st.deadlines.front().second) == 0)
    st.deadlines.pop_front();
}

void notify_join(self_ptr self, const reply& r, const caf::error& err) {
  auto& st = self->state;
  if (st.hooks)
    st.hooks->fire_join(r);
  for (auto& sub : st.subscribers)
    self->send(sub.hdl, join_atom::value, st.topic, r);
  auto waiters = std::move(st.join_waiters);
  st.join_waiters.clear();
  for (auto& rp : waiters) {
    if (err)
      rp.deliver(err);
    else
      rp.deliver(r);
  }
}

// -- sending ---------------------------------------------------------------------------

// Arms the one push timer for the earliest deadline, if it is earlier than
// the armed one: a channel has at most one timer per distinct deadline
// front, not one per push.
void arm_timer(self_ptr self) {
  auto& st = self->state;
  std::optional<caf::actor_clock::time_point> next;
  if (!st.deadlines.empty())
    next = st.deadlines.front().first;
  if (!st.late_deadlines.empty() && (!next || st.late_deadlines.begin()->first < *next))
    next = st.late_deadlines.begin()->first;
  if (!next || (st.timer_armed && st.timer_at <= *next))
    return;
  st.timer_armed = true;
  st.timer_at = *next;
  auto delay = *next - self->clock().now();
  self->delayed_send(self, std::chrono::duration_cast<caf::timespan>(delay),
                     push_timeout_atom::value, ++st.timer_epoch);
}

void arm_push(self_ptr self, uint64_t id, caf::timespan timeout) {
  auto& st = self->state;
  auto at = self->clock().now() + timeout;
  if (st.deadlines.empty() || st.deadlines.back().first <= at)
    st.deadlines.emplace_back(at, id);
  else
    st.late_deadlines.emplace(at, id);
  arm_timer(self);
}

// The push timer fired: every push past its deadline times out.
void expire_pushes(self_ptr self) {
  auto& st = self->state;
  auto now = self->clock().now();
  st.timer_armed = false;
  std::vector<uint64_t> expired;
  while (!st.deadlines.empty() && st.deadlines.front().first <= now) {
    expired.push_back(st.deadlines.front().second);
    st.deadlines.pop_front();
  }
  while (!st.late_deadlines.empty() && st.late_deadlines.begin()->first <= now) {
    expired.push_back(st.late_deadlines.begin()->second);
    st.late_deadlines.erase(st.late_deadlines.begin());
  }
  for (auto id : expired)
    end_push(self, id, caf::make_error(ec::push_timeout, "no reply in time"));
  // After a burst the timer fires at least once more: the pool shrinks then.
  auto keep = std::max(channel_actor_state::kept_idle_pushes, st.pushes.size());
  while (st.idle_pushes.size() > keep) {
    release_push(st.idle_pushes.back());
    st.idle_pushes.pop_back();
  }
  arm_timer(self);
}

void send_push(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto& p = st.pushes[id];
  auto ref = st.ctx->make_ref();
  p.ref = ref;
  st.by_ref.add(ref, id);
  send_to_socket(self, outgoing(self, std::move(ref), p.event, p.payload));
}

// Sends the pushes buffered before the join: each gets a new ref and a new
// timeout (a new id, so its old timer finds nothing).
void flush_push_buffer(self_ptr self) {
  auto& st = self->state;
  auto ids = std::move(st.buffer);
  st.buffer.clear();
  st.buffered = 0;
  for (auto id : ids) {
    auto i = st.pushes.find(id);
    if (i == st.pushes.end() || !i->second.in_buffer)
      continue;
    auto p = std::move(i->second);
    p.in_buffer = false;
    st.pushes.erase(i);
    auto fresh = ++st.next_push;
    auto timeout = p.timeout;
    st.pushes.emplace(fresh, std::move(p));
    arm_push(self, fresh, timeout);
    send_push(self, fresh);
  }
  st.stats.buffered = 0;
}

void rejoin(self_ptr self) {
  auto& st = self->state;
  if (st.state == channel_state::leaving)
    return;
  set_state(self, channel_state::joining);
  st.join_ref = st.ctx->make_ref();
  st.join_awaiting = true;
  ++st.join_epoch;
  ++st.stats.joins;
  self->delayed_send(self, st.timeout, join_timeout_atom::value, st.join_epoch);
  auto params = st.params ? st.params() : protocol::payload{};
  send_to_socket(self, outgoing(self, st.join_ref, protocol::events::join,
                                    std::move(params)));
}

// -- lifecycle -----------------------------------------------------------------------

void finish_leaves(self_ptr self) {
  auto& st = self->state;
  for (auto& rp : st.leave_waiters)
    rp.deliver(channel_state::closed);
  st.leave_waiters.clear();
  for (auto& h : st.leave_hooks)
    h->resolve({"ok", protocol::payload{}, caf::error{}});
  st.leave_hooks.clear();
}

void close_channel(self_ptr self, const std::string& why) {
  auto& st = self->state;
  if (st.state == channel_state::closed) {
    finish_leaves(self);
    return;
  }
  log_of(self).debug(component, st.topic + " closed (" + why + ")");
  reset_rejoin(self);
  ++st.join_epoch;
  ++st.leave_epoch;
  st.join_awaiting = false;
  set_state(self, channel_state::closed);
  if (auto sock = socket_of(self))
    self->send(sock, remove_atom::value, channel_actor{self}, closed_atom::value);
  // No reply can reach a removed channel: every pending push ends now.
  std::vector<uint64_t> ids;
  ids.reserve(st.pushes.size());
  for (auto& [id, p] : st.pushes)
    ids.push_back(id);
  for (auto id : ids)
    end_push(self, id, caf::make_error(ec::push_timeout, "the channel closed before a reply"));
  st.deadlines.clear();
  st.late_deadlines.clear();
  st.buffer.clear();
  st.buffered = 0;
  if (!st.join_waiters.empty())
    notify_join(self, reply{"timeout", {}},
                caf::make_error(ec::channel_closed, "the channel closed before joining"));
  finish_leaves(self);
}

void start_leave(self_ptr self, caf::timespan timeout) {
  auto& st = self->state;
  if (st.state == channel_state::closed) {
    close_channel(self, "leave");
    return;
  }
  reset_rejoin(self);
  ++st.join_epoch;
  st.join_awaiting = false;
  bool was_on_server = connected(self)
                       && (st.state == channel_state::joined
                           || st.state == channel_state::joining);
  set_state(self, channel_state::leaving);
  if (!was_on_server) {
    // No server channel to leave (or no connection to reach it): close now.
    close_channel(self, "leave");
    return;
  }
  st.leave_ref = st.ctx->make_ref();
  ++st.leave_epoch;
  self->delayed_send(self, timeout, leave_timeout_atom::value, st.leave_epoch);
  send_to_socket(self, outgoing(self, st.leave_ref, protocol::events::leave,
                                    protocol::payload{}));
}

// phx_error from the server, or a transport loss reported by the socket.
void on_error(self_ptr self) {
  auto& st = self->state;
  // No rejoin while leaving or closed.
  if (st.state == channel_state::leaving || st.state == channel_state::closed)
    return;
  if (st.state == channel_state::joining) {
    // Forget the join push: its late reply is ignored.
    st.join_ref.reset();
    st.join_awaiting = false;
    ++st.join_epoch;
  }
  set_state(self, channel_state::errored);
  if (connected(self))
    schedule_rejoin(self);
}

void dispatch(self_ptr self, protocol::message&& msg) {
  auto& st = self->state;
  auto join_ref = st.join_ref.value_or(std::string{});
  if (st.hooks) {
    st.hooks->apply_transform(msg);
    st.hooks->dispatch(msg, join_ref);
  }
  auto bytes = msg.payload.is_binary() ? msg.payload.binary().size() : 0;
  auto n = st.subscribers.size();
  for (size_t i = 0; i < n; ++i) {
    auto& sub = st.subscribers[i];
    // The last subscriber takes the message itself, the others a copy.
    bool sent = i + 1 < n ? sub.deliver(self, bytes, log_of(self), component,
                                        event_atom::value, msg, join_ref)
                          : sub.deliver(self, bytes, log_of(self), component,
                                        event_atom::value, std::move(msg),
                                        std::move(join_ref));
    if (!sent)
      ++st.stats.subscriber_overflows;
  }
}

void on_reply(self_ptr self, protocol::message&& msg) {
  auto& st = self->state;
  if (!msg.ref) {
    // No ref matches nothing: counted and logged like any unmatched reply.
    ++st.stats.unmatched_replies;
    if (log_of(self).enabled(log_level::debug))
      log_of(self).debug(component, "dropping a reply without a ref: " + protocol::describe(msg));
    return;
  }
  auto& ref = *msg.ref;
  if (st.join_awaiting && ref == st.join_ref) {
    st.join_awaiting = false;
    ++st.join_epoch;
    reply r{std::move(msg.status), std::move(msg.payload)};
    if (r.ok()) {
      set_state(self, channel_state::joined);
      reset_rejoin(self);
      flush_push_buffer(self);
    } else {
      log_of(self).info(component, st.topic + " join refused");
      set_state(self, channel_state::errored);
      if (connected(self))
        schedule_rejoin(self);
    }
    notify_join(self, r, caf::error{});
    return;
  }
  if (st.leave_ref && ref == *st.leave_ref) {
    st.leave_ref.reset();
    close_channel(self, "leave");
    return;
  }
  if (auto id = st.by_ref.find(ref)) {
    end_push(self, *id, reply{std::move(msg.status), std::move(msg.payload)});
    return;
  }
  ++st.stats.unmatched_replies;
  if (log_of(self).enabled(log_level::debug))
    log_of(self).debug(component, "no pending push for reply " + protocol::describe(msg));
}

void on_message(self_ptr self, protocol::message&& msg) {
  auto& st = self->state;
  if (msg.join_ref && msg.join_ref != st.join_ref) {
    ++st.stats.stale_dropped;
    if (log_of(self).enabled(log_level::debug))
      log_of(self).debug(component, "dropping outdated message " + protocol::describe(msg));
    return;
  }
  if (msg.is_reply()) {
    // phoenix.js's onMessage sees replies too, before the push they resolve.
    if (st.hooks)
      st.hooks->apply_transform(msg);
    on_reply(self, std::move(msg));
    return;
  }
  if (msg.event == protocol::events::close) {
    close_channel(self, "phx_close");
  } else if (msg.event == protocol::events::error) {
    log_of(self).info(component, st.topic + " errored");
    on_error(self);
  }
  dispatch(self, std::move(msg));
}

// Accepts a push: its outcome goes to `requester` (actor API) or `hooks`
// (facade), through a PUSH actor.
void accept_push(self_ptr self, std::string&& event, protocol::payload&& payload,
                 caf::timespan timeout, caf::typed_response_promise<reply> requester,
                 std::shared_ptr<push_hooks> hooks) {
  auto& st = self->state;
  auto id = ++st.next_push;
  st.pushes.emplace(id, channel_actor_state::pending_push{take_push(self), std::move(event),
                                                          std::move(payload), timeout,
                                                          std::nullopt, false,
                                                          std::move(requester),
                                                          std::move(hooks)});
  arm_push(self, id, timeout);
  if (can_push(self)) {
    send_push(self, id);
    return;
  }
  if (st.buffered >= st.ctx->options.max_push_buffer) {
    log_of(self).warning(component, st.topic + " push buffer full, refusing a push");
    end_push(self, id,
             caf::make_error(ec::push_buffer_full, "the channel's push buffer is full"));
    return;
  }
  st.pushes[id].in_buffer = true;
  st.buffer.push_back(id);
  ++st.buffered;
  st.stats.buffered = st.buffered;
}

// Why a push cannot be accepted at all, if so.
caf::error refusal(self_ptr self, const std::string& event) {
  auto& st = self->state;
  if (!st.joined_once)
    return caf::make_error(ec::not_joined, "tried to push '" + event + "' to '" + st.topic
                                             + "' before joining. Use channel.join() before "
                                               "pushing events");
  if (st.state == channel_state::closed)
    return caf::make_error(ec::channel_closed, "the channel is closed");
  return caf::error{};
}

caf::error already_joined() {
  return caf::make_error(ec::already_joined,
                         "tried to join multiple times. 'join' can only be called a "
                         "single time per channel instance");
}

caf::result<reply> join(self_ptr self, caf::timespan timeout) {
  auto& st = self->state;
  if (st.joined_once)
    return already_joined();
  st.joined_once = true;
  st.timeout = timeout;
  auto rp = self->make_response_promise<reply>();
  st.join_waiters.push_back(rp);
  rejoin(self);
  return rp;
}

caf::result<reply> push(self_ptr self, std::string& event, protocol::payload& payload,
                        caf::timespan timeout) {
  if (auto err = refusal(self, event))
    return err;
  auto rp = self->make_response_promise<reply>();
  accept_push(self, std::move(event), std::move(payload), timeout, rp, nullptr);
  return rp;
}

caf::result<channel_state> leave(self_ptr self, caf::timespan timeout) {
  auto& st = self->state;
  if (st.state == channel_state::closed)
    return channel_state::closed;
  auto rp = self->make_response_promise<channel_state>();
  st.leave_waiters.push_back(rp);
  start_leave(self, timeout);
  return rp;
}

} // namespace

channel_actor_state::~channel_actor_state() {
  for (auto& [id, p] : pushes) {
    send_outcome(p, caf::make_error(ec::push_timeout, "the channel went away before a reply"),
                 nullptr);
    release_push(p.actor);
  }
  for (auto& p : idle_pushes)
    release_push(p);
}

channel_actor::behavior_type channel_impl(self_ptr self, socket_actor socket,
                                          std::shared_ptr<socket_context> ctx,
                                          channel_options opts) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.socket = socket.address();
  st.topic = std::move(opts.topic);
  st.params = std::move(opts.params);
  st.hooks = std::move(opts.hooks);
  st.timeout = st.ctx->options.timeout;
  self->monitor(socket);
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& st = self->state;
    if (dm.source == st.socket) {
      // The socket is gone and with it every way to the server: the channel
      // ends (its pending pushes time out at once) and quits.
      close_channel(self, "socket gone");
      self->quit();
      return;
    }
    st.subscribers.erase(std::remove_if(st.subscribers.begin(), st.subscribers.end(),
                                        [&](const auto& s) {
                                          return s.hdl.address() == dm.source;
                                        }),
                         st.subscribers.end());
  });
  return {
    // -- user interface -------------------------------------------------------------
    [self](join_atom) { return join(self, self->state.ctx->options.timeout); },
    [self](join_atom, caf::timespan timeout) { return join(self, timeout); },
    [self](push_atom, std::string& event, protocol::payload& payload) {
      return push(self, event, payload, self->state.ctx->options.timeout);
    },
    [self](push_atom, std::string& event, protocol::payload& payload,
           caf::timespan timeout) { return push(self, event, payload, timeout); },
    [self](push_atom, std::string& event, protocol::payload& payload,
           caf::timespan timeout, std::shared_ptr<push_hooks>& hooks) {
      if (auto err = refusal(self, event)) {
        hooks->resolve({status_of(err), protocol::payload{}, err});
        return;
      }
      accept_push(self, std::move(event), std::move(payload), timeout, {},
                  std::move(hooks));
    },
    [self](leave_atom) { return leave(self, self->state.ctx->options.timeout); },
    [self](leave_atom, caf::timespan timeout) { return leave(self, timeout); },
    [self](leave_atom, caf::timespan timeout, std::shared_ptr<push_hooks>& hooks) {
      auto& st = self->state;
      if (st.state == channel_state::closed) {
        hooks->resolve({"ok", protocol::payload{}, caf::error{}});
        return;
      }
      st.leave_hooks.push_back(std::move(hooks));
      start_leave(self, timeout);
    },
    [self](subscribe_atom, channel_subscriber_actor& sub) {
      self->monitor(sub);
      self->state.subscribers.emplace_back(std::move(sub),
                                           self->state.ctx->options.max_subscriber_queue);
    },
    [self](unsubscribe_atom, channel_subscriber_actor& sub) {
      auto& subs = self->state.subscribers;
      subs.erase(std::remove_if(subs.begin(), subs.end(),
                                [&](const auto& s) { return s.hdl == sub; }),
                 subs.end());
    },
    [self](state_atom) { return self->state.state; },
    [self](stats_atom) {
      auto stats = self->state.stats;
      stats.state = self->state.state;
      stats.pending = self->state.pushes.size() - self->state.buffered;
      stats.buffered = self->state.buffered;
      stats.idle_pushes = self->state.idle_pushes.size();
      return stats;
    },
    // -- from the socket ----------------------------------------------------------------
    // The ticket lives until this handler returns: until the messages are consumed.
    [self](message_atom, std::vector<protocol::message>& msgs, flow_ticket&) {
      for (auto& msg : msgs)
        on_message(self, std::move(msg));
    },
    [self](opened_atom) {
      reset_rejoin(self);
      if (self->state.state == channel_state::errored)
        rejoin(self);
    },
    [self](error_atom, std::string& reason) {
      auto& st = self->state;
      reset_rejoin(self);
      if (st.state != channel_state::joined && st.state != channel_state::joining)
        return;
      on_error(self);
      // Bindings see what phoenix.js triggers: {source: "transport", reason}.
      protocol::json_document body;
      body.SetObject();
      body.AddMember("source", "transport", body.GetAllocator());
      body.AddMember("reason", protocol::json_value{reason.c_str(), body.GetAllocator()},
                     body.GetAllocator());
      protocol::message msg;
      msg.topic = st.topic;
      msg.event = std::string{protocol::events::error};
      msg.payload = protocol::payload{std::move(body)};
      dispatch(self, std::move(msg));
    },
    [self](duplicate_atom, std::string& by) {
      auto& st = self->state;
      // A join newer than `by` (refs count up) was sent after it and wins, as in
      // phoenix.js; otherwise two channels rejoining on reopen leave each other.
      if (st.join_ref && (st.join_ref->size() != by.size() ? st.join_ref->size() > by.size()
                                                           : *st.join_ref > by))
        return;
      if (st.state == channel_state::joined || st.state == channel_state::joining) {
        log_of(self).info(component, "leaving duplicate topic \"" + st.topic + "\"");
        start_leave(self, st.timeout);
      }
    },
    [self](refused_atom, std::string& ref, caf::error& err) {
      auto& st = self->state;
      if (auto id = st.by_ref.find(ref)) {
        end_push(self, *id, std::move(err));
        return;
      }
      if (st.join_awaiting && st.join_ref == ref) {
        // The join could not be sent: an error outcome, rejoin with backoff.
        st.join_awaiting = false;
        ++st.join_epoch;
        set_state(self, channel_state::errored);
        notify_join(self, reply{"failed", protocol::payload{}}, err);
        if (connected(self))
          schedule_rejoin(self);
      }
    },
    // -- timers -----------------------------------------------------------------------
    [self](rejoin_atom, uint64_t epoch) {
      auto& st = self->state;
      if (epoch != st.rejoin_epoch)
        return;
      ++st.rejoin_tries;
      if (connected(self))
        rejoin(self);
    },
    [self](join_timeout_atom, uint64_t epoch) {
      auto& st = self->state;
      if (epoch != st.join_epoch || !st.join_awaiting)
        return;
      log_of(self).info(component, "timeout joining " + st.topic);
      // Tell the server to drop the attempt, forget it, then back off.
      send_to_socket(self, outgoing(self, st.ctx->make_ref(), protocol::events::leave,
                                        protocol::payload{}));
      set_state(self, channel_state::errored);
      st.join_ref.reset();
      st.join_awaiting = false;
      notify_join(self, reply{"timeout", protocol::payload{}},
                  caf::make_error(ec::join_timeout, "no join reply in time"));
      if (connected(self))
        schedule_rejoin(self);
    },
    [self](leave_timeout_atom, uint64_t epoch) {
      if (epoch != self->state.leave_epoch)
        return;
      close_channel(self, "leave timeout");
    },
    [self](push_timeout_atom, uint64_t epoch) {
      if (epoch == self->state.timer_epoch)
        expire_pushes(self);
    },
  };
}

channel_actor spawn_channel(caf::actor_system& sys, socket_actor socket,
                            std::shared_ptr<socket_context> ctx, channel_options opts) {
  return sys.spawn(channel_impl, std::move(socket), std::move(ctx), std::move(opts));
}

// -- ref_index -----------------------------------------------------------------------

std::optional<uint64_t> ref_index::parse(const std::string& ref) noexcept {
  // Canonical decimals only ("7", never "07"): one number, one spelling.
  if (ref.empty() || ref.size() > 19 || (ref.size() > 1 && ref[0] == '0'))
    return std::nullopt;
  uint64_t n = 0;
  for (char c : ref) {
    if (c < '0' || c > '9')
      return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

std::vector<ref_index::entry>::const_iterator ref_index::locate(uint64_t ref) const {
  auto first = items_.begin() + static_cast<std::ptrdiff_t>(head_);
  auto i = std::lower_bound(first, items_.end(), ref,
                            [](const entry& e, uint64_t r) { return e.first < r; });
  return i != items_.end() && i->first == ref && i->second != 0 ? i : items_.end();
}

void ref_index::add(const std::string& ref, uint64_t id) {
  auto n = parse(ref);
  if (!n) {
    others_[ref] = id;
    ++live_;
    return;
  }
  if (items_.size() == head_ || items_.back().first < *n) {
    items_.emplace_back(*n, id);
  } else {
    // Out of order (not a ref of make_ref's): kept sorted, at a cost.
    auto first = items_.begin() + static_cast<std::ptrdiff_t>(head_);
    auto i = std::lower_bound(first, items_.end(), *n,
                              [](const entry& e, uint64_t r) { return e.first < r; });
    if (i != items_.end() && i->first == *n) {
      if (i->second == 0)
        ++live_;
      i->second = id;
      return;
    }
    items_.insert(i, entry{*n, id});
  }
  ++live_;
}

std::optional<uint64_t> ref_index::find(const std::string& ref) const {
  auto n = parse(ref);
  if (!n) {
    auto i = others_.find(ref);
    return i != others_.end() ? std::optional<uint64_t>{i->second} : std::nullopt;
  }
  auto i = locate(*n);
  return i != items_.end() ? std::optional<uint64_t>{i->second} : std::nullopt;
}

void ref_index::erase(const std::string& ref) {
  auto n = parse(ref);
  if (!n) {
    live_ -= others_.erase(ref);
    return;
  }
  auto i = locate(*n);
  if (i == items_.end())
    return;
  items_[static_cast<size_t>(i - items_.begin())].second = 0;
  --live_;
  trim();
}

void ref_index::trim() {
  while (head_ < items_.size() && items_[head_].second == 0)
    ++head_;
  if (head_ == items_.size()) {
    items_.clear();
    head_ = 0;
    return;
  }
  auto held = items_.size() - head_;
  auto live = live_ - others_.size();
  if (held > 2 * live + 64) {
    // Finished pushes behind a slow one: dropped, O(1) amortized per erase.
    items_.erase(std::remove_if(items_.begin(), items_.end(),
                                [](const entry& e) { return e.second == 0; }),
                 items_.end());
    head_ = 0;
  } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
    items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

} // namespace phx
