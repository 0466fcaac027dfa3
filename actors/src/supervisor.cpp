#include "phx/actors/supervisor.hpp"

#include <algorithm>
#include <mutex>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "phx/actors/channel.hpp"
#include "phx/actors/socket.hpp"

namespace phx {

namespace {

using self_ptr = supervisor_actor::stateful_pointer<supervisor_state>;
using tree_ptr = std::shared_ptr<supervisor_state::tree>;

constexpr std::string_view component = "supervisor";

tree_ptr tree_of(self_ptr self, const std::shared_ptr<socket_context>& ctx) {
  auto& t = self->state.trees[ctx.get()];
  if (!t) {
    t = std::make_shared<supervisor_state::tree>();
    t->ctx = ctx;
  }
  return t;
}

// OTP's intensity: true (and counted) if one more restart fits the window.
bool allow_restart(self_ptr self, supervisor_state::tree& t) {
  auto& opts = t.ctx->options;
  auto now = self->clock().now();
  auto window = opts.restart_window;
  t.restarts.erase(std::remove_if(t.restarts.begin(), t.restarts.end(),
                                  [&](auto at) { return now - at > window; }),
                   t.restarts.end());
  if (t.restarts.size() >= opts.max_restarts)
    return false;
  t.restarts.push_back(now);
  ++self->state.restarts;
  return true;
}

caf::error intensity_error(const supervisor_state::tree& t, const std::string& why) {
  auto& opts = t.ctx->options;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(opts.restart_window).count();
  return caf::make_error(ec::socket_stopped,
                         "more than " + std::to_string(opts.max_restarts) + " restarts within "
                           + std::to_string(ms) + " ms (last: " + why + ")");
}

// Forgets a tree and the addresses that point at it (its socket's and its
// channels'): looked up, never scanned, so that ending n sockets costs O(n).
void forget(self_ptr self, const tree_ptr& t) {
  auto& st = self->state;
  auto drop = [&](const caf::actor_addr& addr) {
    auto i = st.owners.find(addr);
    if (i != st.owners.end() && i->second == t)
      st.owners.erase(i);
  };
  if (t->socket)
    drop(t->socket);
  for (auto& entry : t->channels)
    drop(entry.first);
  st.trees.erase(t->ctx.get());
}

// Past the intensity: the socket stops for good. A live socket does it
// itself (it reports and ends what it holds); for a dead one the supervisor
// reports and ends its waiting channels.
void stop_for_good(self_ptr self, const tree_ptr& t, caf::error why) {
  t->stopped = true;
  t->ctx->options.logger.error(component, "stopping the socket for good: " + describe(why));
  if (t->socket) {
    self->send(caf::actor_cast<socket_actor>(t->socket), halt_atom::value, std::move(why));
    return;
  }
  auto& hooks = t->ctx->options.hooks;
  if (hooks) {
    if (hooks->on_state)
      hooks->on_state(connection_state::closed);
    hooks->on_error.fire(*hooks->gate, "the socket stopped for good: " + describe(why), 0);
    for (auto& f : take_faults())
      if (!f.reported)
        report_fault(*t->ctx, f);
  }
  for (auto& [ch, spec] : t->channels)
    self->send_exit(ch, why);
}

void on_socket_down(self_ptr self, const tree_ptr& t, const caf::error& reason) {
  t->socket = caf::actor_addr{};
  if (!is_crash(reason) || t->stopped) {
    // A deliberate stop: its channels end with it; nothing to restart.
    forget(self, t);
    return;
  }
  auto why = "the socket died: " + describe(reason);
  if (!allow_restart(self, *t)) {
    stop_for_good(self, t, intensity_error(*t, why));
    forget(self, t);
    return;
  }
  t->ctx->options.logger.error(component, "restarting the socket (" + why + ")");
  auto sock = spawn_socket(self->home_system(), t->ctx);
  t->socket = sock.address();
  self->state.owners[sock.address()] = t;
  self->monitor(sock);
  // Its channels waited for it (errored): they join the new socket and rejoin.
  for (auto& [ch, spec] : t->channels)
    if (auto hdl = caf::actor_cast<channel_actor>(ch))
      self->send(hdl, attach_atom::value, caf::actor_cast<caf::actor>(sock));
  if (t->ctx->wants_connection.load())
    self->send(sock, connect_atom::value);
  if (auto& hooks = t->ctx->options.hooks; hooks && hooks->on_replaced)
    hooks->on_replaced(sock);
}

void on_channel_down(self_ptr self, const tree_ptr& t, const caf::actor_addr& addr,
                     const caf::error& reason) {
  auto i = std::find_if(t->channels.begin(), t->channels.end(),
                        [&](auto& c) { return c.first == addr; });
  if (i == t->channels.end())
    return;
  auto spec = std::move(i->second);
  t->channels.erase(i);
  bool closed;
  {
    std::lock_guard<std::mutex> guard{spec->mutex};
    closed = spec->live.closed;
  }
  if (closed || !is_crash(reason) || t->stopped)
    return;
  auto why = "channel " + spec->topic + " died: " + describe(reason);
  if (!allow_restart(self, *t)) {
    stop_for_good(self, t, intensity_error(*t, why));
    return;
  }
  if (!caf::actor_cast<socket_actor>(t->socket)) {
    // Its socket is gone as well: the channel ends with the error.
    if (spec->hooks)
      spec->hooks->set_end(caf::make_error(ec::channel_crashed, why));
    return;
  }
  t->ctx->options.logger.error(component, "restarting " + why);
  auto hooks = spec->hooks;
  auto ch = respawn_channel(self->home_system(), caf::actor_cast<socket_actor>(t->socket),
                            std::move(spec));
  if (hooks)
    hooks->fire_replaced(ch);
}

} // namespace

bool is_crash(const caf::error& reason) {
  return reason && reason != caf::exit_reason::normal
         && reason != caf::exit_reason::user_shutdown
         && reason != caf::exit_reason::unreachable && reason != ec::socket_stopped;
}

void report_fault(const socket_context& ctx, const callback_fault& fault) {
  auto text = fault.describe();
  ctx.options.logger.error("callback", text);
  if (fault.callback == "on_error")
    return; // Only logged: reporting it through on_error could loop.
  if (auto& hooks = ctx.options.hooks)
    hooks->on_error.fire(*hooks->gate, text, 0);
}

supervisor_actor::behavior_type supervisor_impl(self_ptr self) {
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.owners.find(dm.source);
    if (i == st.owners.end())
      return;
    auto t = i->second;
    st.owners.erase(i);
    if (t->socket && t->socket == dm.source)
      on_socket_down(self, t, dm.reason);
    else
      on_channel_down(self, t, dm.source, dm.reason);
  });
  return {
    [self](watch_atom, socket_actor& sock, std::shared_ptr<socket_context>& ctx) {
      auto t = tree_of(self, ctx);
      if (t->socket == sock.address())
        return;
      t->socket = sock.address();
      self->state.owners[sock.address()] = t;
      self->monitor(sock);
    },
    [self](watch_atom, channel_actor& ch, std::shared_ptr<channel_spec>& spec) {
      auto t = tree_of(self, spec->ctx);
      self->state.owners[ch.address()] = t;
      self->monitor(ch);
      t->channels.emplace_back(ch.address(), std::move(spec));
    },
    [self](restarted_atom, caf::actor_addr& who, std::string& why) {
      auto& st = self->state;
      auto i = st.owners.find(who);
      if (i == st.owners.end())
        return;
      auto t = i->second;
      if (!t->stopped && !allow_restart(self, *t))
        stop_for_good(self, t, intensity_error(*t, why));
    },
  };
}

supervisor_actor supervisor_of(caf::actor_system& sys) {
  // One per system, known by address only: the SOCKET and CHANNEL actors hold
  // it (strongly), so it lives exactly as long as something to supervise.
  static std::mutex mutex;
  static std::unordered_map<const caf::actor_system*, caf::actor_addr> known;
  std::lock_guard<std::mutex> guard{mutex};
  auto& addr = known[&sys];
  if (auto existing = caf::actor_cast<supervisor_actor>(addr))
    return existing;
  // Entries of supervisors that are gone (their systems too, perhaps) go.
  for (auto i = known.begin(); i != known.end();) {
    if (i->first != &sys && !caf::actor_cast<caf::strong_actor_ptr>(i->second))
      i = known.erase(i);
    else
      ++i;
  }
  auto sup = sys.spawn<caf::hidden>(supervisor_impl);
  known[&sys] = sup.address();
  return sup;
}

} // namespace phx
