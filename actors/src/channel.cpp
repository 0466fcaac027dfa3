#include "phx/actors/channel.hpp"

#include <algorithm>
#include <chrono>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>
#include <caf/stateful_actor.hpp>

#include "phx/actors/push.hpp"
#include "phx/actors/supervisor.hpp"

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

// -- the private side ----------------------------------------------------------------

// An internal message from someone not entitled to send it: refused, counted
// and logged, never handled.
bool refuse_internal(self_ptr self, const char* what) {
  auto& st = self->state;
  ++st.stats.not_entitled;
  auto from = describe_sender(self->current_sender());
  log_of(self).warning(component, std::string{"refusing internal message '"} + what + "' on "
                                    + st.topic + " from " + from);
  return false;
}

// Internal messages of the socket come from the current socket only.
bool from_socket(self_ptr self, const char* what) {
  return sent_by(self, self->state.socket) || refuse_internal(self, what);
}

// Timers and restarts come from the channel itself only.
bool from_self(self_ptr self, const char* what) {
  return self->current_sender().get() == self->ctrl() || refuse_internal(self, what);
}

// -- user code -------------------------------------------------------------------------

// User code ran since the last check and threw: report what the gate has not
// reported (user functions), then apply the socket's policy: a restart in
// place, ahead of anything else in the mailbox.
void check_faults(self_ptr self) {
  if (!faults_pending())
    return;
  auto& st = self->state;
  auto faults = take_faults();
  for (auto& f : faults)
    if (!f.reported)
      report_fault(*st.ctx, f);
  if (st.ctx->options.callback_failure == callback_failure::restart)
    self->send<caf::message_priority::high>(self, crash_atom::value,
                                            st.topic + ": " + faults.front().describe());
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
  auto tries = st.rejoin_tries + 1;
  int64_t delay = 0;
  // A backoff function that throws is reported; the default table stands in.
  if (!fenced("rejoin_after_ms", {}, [&] { delay = opts.rejoin_after_ms(tries); }))
    delay = protocol::default_rejoin_after_ms(tries);
  if (opts.rejoin_jitter_ms > 0) {
    auto unit = st.rng.next_unit();
    if (opts.random)
      fenced("random", {}, [&] { unit = opts.random(); });
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
    st.hooks->fire_join(r, err);
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
  protocol::payload params;
  // Join params are a user function: one that throws sends the join without
  // them (reported), as a missing function would.
  if (st.params)
    fenced("params", st.topic, [&] { params = st.params(); });
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

// Forgets the channel in its spec: closed for good, never restarted.
void mark_closed(self_ptr self) {
  std::lock_guard<std::mutex> guard{self->state.spec->mutex};
  self->state.spec->live.closed = true;
}

// Ends every pending push and join with `err`.
void end_all(self_ptr self, const caf::error& err) {
  auto& st = self->state;
  std::vector<uint64_t> ids;
  ids.reserve(st.pushes.size());
  for (auto& [id, p] : st.pushes)
    ids.push_back(id);
  for (auto id : ids)
    end_push(self, id, err);
  st.deadlines.clear();
  st.late_deadlines.clear();
  st.buffer.clear();
  st.buffered = 0;
  st.stats.buffered = 0;
}

void close_channel(self_ptr self, const std::string& why,
                   const caf::error& outcome = caf::error{}) {
  auto& st = self->state;
  mark_closed(self);
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
  end_all(self, outcome ? outcome
                        : caf::make_error(ec::push_timeout, "the channel closed before a reply"));
  if (!st.join_waiters.empty())
    notify_join(self, reply{"timeout", {}},
                outcome ? outcome
                        : caf::make_error(ec::channel_closed, "the channel closed before joining"));
  finish_leaves(self);
}

// -- supervision -----------------------------------------------------------------------

// Restarts the channel in place from its spec, as its supervisor would
// restart a crashed child, but keeping its address (every handle stays
// valid): pending pushes and joins end with channel_crashed, the state
// machine starts over, and a channel that had joined rejoins with the rejoin
// backoff. Bindings and subscribers are its spec: they stay.
void restart_in_place(self_ptr self, const std::string& why) {
  auto& st = self->state;
  log_of(self).error(component, "restarting channel " + st.topic + ": " + why);
  self->send(st.supervisor, restarted_atom::value, self->address(), why);
  auto err = caf::make_error(ec::channel_crashed, why);
  end_all(self, err);
  if (st.join_awaiting || !st.join_waiters.empty())
    notify_join(self, reply{"timeout", {}}, err);
  st.join_awaiting = false;
  st.join_ref.reset();
  ++st.join_epoch;
  ++st.leave_epoch;
  reset_rejoin(self);
  if (st.state == channel_state::leaving) {
    // The user was leaving: the restart completes it.
    st.leave_ref.reset();
    close_channel(self, "restart while leaving", err);
    return;
  }
  if (st.state == channel_state::closed || !st.joined_once)
    return;
  set_state(self, channel_state::errored);
  st.rejoin_after_restart = true;
  schedule_rejoin(self);
}

// The socket died. A crash: the supervisor restarts it and attaches this
// channel to the new one, so the channel waits (errored, its pushes ended
// with socket_crashed). A deliberate stop: the channel ends with it.
void on_socket_down(self_ptr self, const caf::error& reason) {
  auto& st = self->state;
  st.socket = caf::actor_addr{};
  if (is_crash(reason)) {
    auto err = caf::make_error(ec::socket_crashed, "the socket crashed before a reply");
    end_all(self, err);
    if (st.join_awaiting)
      notify_join(self, reply{"timeout", {}}, err);
    st.join_awaiting = false;
    st.join_ref.reset();
    ++st.join_epoch;
    if (st.state == channel_state::joined || st.state == channel_state::joining)
      set_state(self, channel_state::errored);
    return;
  }
  caf::error outcome;
  if (reason == ec::socket_stopped)
    outcome = reason;
  st.end_reason = outcome ? outcome
                          : caf::make_error(ec::push_timeout, "the socket went away");
  if (st.hooks)
    st.hooks->set_end(st.end_reason);
  close_channel(self, "socket gone", outcome);
  self->quit();
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
  check_faults(self);
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
    check_faults(self);
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
  {
    std::lock_guard<std::mutex> guard{st.spec->mutex};
    st.spec->live.joined = true;
    st.spec->live.timeout = timeout;
  }
  auto rp = self->make_response_promise<reply>();
  st.join_waiters.push_back(rp);
  rejoin(self);
  check_faults(self);
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
  // Killed (no exit handler ran): it crashed. Otherwise why it was stopped.
  auto err = end_reason ? end_reason
                        : caf::make_error(ec::channel_crashed,
                                          "the channel died before a reply");
  if (hooks && !end_reason)
    hooks->set_end(err);
  for (auto& [id, p] : pushes) {
    send_outcome(p, err, nullptr);
    release_push(p.actor);
  }
  for (auto& p : idle_pushes)
    release_push(p);
  for (auto& rp : join_waiters)
    rp.deliver(err);
  for (auto& rp : leave_waiters)
    rp.deliver(err);
  if (hooks) {
    // The facade's join and leave outcomes; callbacks fenced, faults logged.
    if (join_awaiting)
      hooks->fire_join(reply{"timeout", {}}, err);
    for (auto& h : leave_hooks)
      h->resolve({status_of(err), protocol::payload{}, err});
    for (auto& f : take_faults())
      if (!f.reported && ctx)
        report_fault(*ctx, f);
  }
}

std::shared_ptr<channel_spec> make_channel_spec(std::shared_ptr<socket_context> ctx,
                                                channel_options opts) {
  auto spec = std::make_shared<channel_spec>();
  spec->ctx = std::move(ctx);
  spec->topic = std::move(opts.topic);
  spec->params = std::move(opts.params);
  spec->hooks = std::move(opts.hooks);
  return spec;
}

channel_actor::behavior_type channel_impl(self_ptr self, socket_actor socket,
                                          std::shared_ptr<channel_spec> spec) {
  auto& st = self->state;
  st.ctx = spec->ctx;
  st.spec = spec;
  st.supervisor = supervisor_of(self->home_system());
  st.socket = socket.address();
  st.topic = spec->topic;
  st.params = spec->params;
  st.hooks = spec->hooks;
  st.timeout = st.ctx->options.timeout;
  {
    std::lock_guard<std::mutex> guard{spec->mutex};
    for (auto& sub : spec->live.subscribers) {
      self->monitor(sub);
      st.subscribers.emplace_back(sub, st.ctx->options.max_subscriber_queue);
    }
    if (spec->live.joined) {
      // A restart: join was called on the channel that died; rejoin with backoff.
      st.joined_once = true;
      st.timeout = spec->live.timeout;
      st.state = channel_state::errored;
      st.stats.state = st.state;
      st.rejoin_after_restart = true;
    }
  }
  if (st.rejoin_after_restart)
    schedule_rejoin(self);
  self->monitor(socket);
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& st = self->state;
    if (st.socket && dm.source == st.socket) {
      on_socket_down(self, dm.reason);
      return;
    }
    st.subscribers.erase(std::remove_if(st.subscribers.begin(), st.subscribers.end(),
                                        [&](const auto& s) {
                                          return s.hdl.address() == dm.source;
                                        }),
                         st.subscribers.end());
    std::lock_guard<std::mutex> guard{st.spec->mutex};
    auto& subs = st.spec->live.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](const auto& s) { return s.address() == dm.source; }),
               subs.end());
  });
  self->set_exit_handler([self](const caf::exit_msg& em) {
    if (!em.reason)
      return;
    // A deliberate stop (the facade releasing its socket, the supervisor
    // stopping it for good): what is pending ends with that reason.
    auto& st = self->state;
    caf::error outcome;
    if (em.reason == ec::socket_stopped)
      outcome = em.reason;
    else
      outcome = caf::make_error(ec::push_timeout, "the channel was stopped before a reply");
    st.end_reason = outcome;
    if (st.hooks)
      st.hooks->set_end(outcome);
    close_channel(self, "stopped", outcome);
    self->quit(em.reason);
  });
  return {
    // -- user interface -------------------------------------------------------------
    [self](join_atom) { return join(self, self->state.ctx->options.timeout); },
    [self](join_atom, caf::timespan timeout) { return join(self, timeout); },
    [self](join_atom, caf::timespan timeout, std::shared_ptr<push_guard>& guard) {
      // The facade's join: its outcomes go to the join callback (on_join).
      guard->take();
      join(self, timeout);
    },
    [self](push_atom, std::string& event, protocol::payload& payload) {
      return push(self, event, payload, self->state.ctx->options.timeout);
    },
    [self](push_atom, std::string& event, protocol::payload& payload,
           caf::timespan timeout) { return push(self, event, payload, timeout); },
    [self](push_atom, std::string& event, protocol::payload& payload,
           caf::timespan timeout, std::shared_ptr<push_guard>& guard) {
      auto hooks = guard->take();
      if (auto err = refusal(self, event)) {
        hooks->resolve({status_of(err), protocol::payload{}, err});
        check_faults(self);
        return;
      }
      accept_push(self, std::move(event), std::move(payload), timeout, {},
                  std::move(hooks));
    },
    [self](leave_atom) {
      auto r = leave(self, self->state.ctx->options.timeout);
      check_faults(self);
      return r;
    },
    [self](leave_atom, caf::timespan timeout) {
      auto r = leave(self, timeout);
      check_faults(self);
      return r;
    },
    [self](leave_atom, caf::timespan timeout, std::shared_ptr<push_guard>& guard) {
      auto& st = self->state;
      auto hooks = guard->take();
      if (st.state == channel_state::closed) {
        hooks->resolve({"ok", protocol::payload{}, caf::error{}});
        check_faults(self);
        return;
      }
      st.leave_hooks.push_back(std::move(hooks));
      start_leave(self, timeout);
      check_faults(self);
    },
    [self](subscribe_atom, channel_subscriber_actor& sub) {
      auto& st = self->state;
      self->monitor(sub);
      {
        std::lock_guard<std::mutex> guard{st.spec->mutex};
        st.spec->live.subscribers.push_back(sub);
      }
      st.subscribers.emplace_back(std::move(sub), st.ctx->options.max_subscriber_queue);
    },
    [self](unsubscribe_atom, channel_subscriber_actor& sub) {
      auto& st = self->state;
      auto& subs = st.subscribers;
      subs.erase(std::remove_if(subs.begin(), subs.end(),
                                [&](const auto& s) { return s.hdl == sub; }),
                 subs.end());
      std::lock_guard<std::mutex> guard{st.spec->mutex};
      auto& specs = st.spec->live.subscribers;
      specs.erase(std::remove(specs.begin(), specs.end(), sub), specs.end());
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
      if (!from_socket(self, "message"))
        return;
      for (auto& msg : msgs)
        on_message(self, std::move(msg));
    },
    [self](opened_atom) {
      if (!from_socket(self, "opened"))
        return;
      // After a restart the scheduled rejoin (with backoff) comes first.
      if (self->state.rejoin_after_restart)
        return;
      reset_rejoin(self);
      if (self->state.state == channel_state::errored)
        rejoin(self);
      check_faults(self);
    },
    [self](error_atom, std::string& reason) {
      if (!from_socket(self, "error"))
        return;
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
    // -- supervision ------------------------------------------------------------------
    [self](crash_atom, std::string& why) {
      if (from_self(self, "crash"))
        restart_in_place(self, why);
    },
    [self](attach_atom, caf::actor& hdl) {
      auto& st = self->state;
      if (!sent_by(self, st.supervisor.address())) {
        refuse_internal(self, "attach");
        return;
      }
      auto sock = caf::actor_cast<socket_actor>(hdl);
      if (!sock)
        return;
      st.socket = sock.address();
      self->monitor(sock);
      self->send(sock, channel_atom::value, channel_actor{self}, st.topic);
      if (st.joined_once && st.state == channel_state::errored) {
        st.rejoin_after_restart = true;
        schedule_rejoin(self);
      }
      check_faults(self);
    },
    [self](duplicate_atom, std::string& by) {
      if (!from_socket(self, "duplicate"))
        return;
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
      check_faults(self);
    },
    [self](refused_atom, std::string& ref, caf::error& err) {
      if (!from_socket(self, "refused"))
        return;
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
      check_faults(self);
    },
    // -- timers -----------------------------------------------------------------------
    [self](rejoin_atom, uint64_t epoch) {
      if (!from_self(self, "rejoin"))
        return;
      auto& st = self->state;
      if (epoch != st.rejoin_epoch)
        return;
      st.rejoin_after_restart = false;
      ++st.rejoin_tries;
      if (connected(self) && st.socket)
        rejoin(self);
      check_faults(self);
    },
    [self](join_timeout_atom, uint64_t epoch) {
      if (!from_self(self, "join timeout"))
        return;
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
      check_faults(self);
    },
    [self](leave_timeout_atom, uint64_t epoch) {
      if (!from_self(self, "leave timeout") || epoch != self->state.leave_epoch)
        return;
      close_channel(self, "leave timeout");
      check_faults(self);
    },
    [self](push_timeout_atom, uint64_t epoch) {
      if (from_self(self, "push timeout") && epoch == self->state.timer_epoch)
        expire_pushes(self);
    },
  };
}

channel_actor spawn_channel(caf::actor_system& sys, socket_actor socket,
                            std::shared_ptr<socket_context> ctx, channel_options opts) {
  auto spec = make_channel_spec(std::move(ctx), std::move(opts));
  auto ch = sys.spawn(channel_impl, std::move(socket), spec);
  caf::anon_send(supervisor_of(sys), watch_atom::value, ch, std::move(spec));
  return ch;
}

channel_actor respawn_channel(caf::actor_system& sys, const socket_actor& socket,
                              std::shared_ptr<channel_spec> spec) {
  auto topic = spec->topic;
  auto ch = sys.spawn(channel_impl, socket, spec);
  caf::anon_send(supervisor_of(sys), watch_atom::value, ch, std::move(spec));
  caf::anon_send(socket, channel_atom::value, ch, std::move(topic));
  return ch;
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
