#include "user/supervisor.hpp"

#include <algorithm>
#include <deque>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>

namespace phx::fleet {

namespace {

struct child {
  caf::actor hdl;
  bool stopping = false;
  std::deque<int64_t> restarts; // times (ns) of the recent restarts
};

struct supervisor_state {
  user_factory make;
  metrics* m = nullptr;
  const run_clock* clock = nullptr;
  restart_policy policy;
  user_ended ended;
  std::unordered_map<uint64_t, child> children;
  std::unordered_map<caf::actor_addr, uint64_t> by_addr;
  bool stopping_all = false;
  caf::response_promise all_down;
  uint64_t stopped = 0;
};

using self_ptr = caf::stateful_actor<supervisor_state>*;

void start_child(self_ptr self, uint64_t index, int64_t intended) {
  auto& st = self->state;
  if (st.stopping_all)
    return;
  auto hdl = spawn_user(self->system(), st.make(index, intended));
  self->monitor(hdl);
  st.by_addr[hdl.address()] = index;
  st.children[index].hdl = hdl;
  st.children[index].stopping = false;
}

void maybe_all_down(self_ptr self) {
  auto& st = self->state;
  if (st.stopping_all && st.by_addr.empty() && st.all_down.pending())
    st.all_down.deliver(st.stopped);
}

void on_down(self_ptr self, const caf::down_msg& dm) {
  auto& st = self->state;
  auto it = st.by_addr.find(dm.source);
  if (it == st.by_addr.end())
    return;
  auto index = it->second;
  st.by_addr.erase(it);
  auto& c = st.children[index];
  c.hdl = nullptr;
  bool normal = !dm.reason || dm.reason == caf::exit_reason::user_shutdown
                || dm.reason == caf::exit_reason::normal;
  if (c.stopping || st.stopping_all || normal) {
    if (!c.stopping && !st.stopping_all && st.ended)
      st.ended(index);
    st.children.erase(index);
    maybe_all_down(self);
    return;
  }
  // A crash: restart with backoff, unless this user restarts too often.
  auto now = st.clock->now_ns();
  auto period = static_cast<int64_t>(st.policy.period_s * 1e9);
  while (!c.restarts.empty() && now - c.restarts.front() > period)
    c.restarts.pop_front();
  if (c.restarts.size() >= st.policy.max_restarts) {
    st.m->error("user_gave_up");
    st.children.erase(index);
    if (st.ended)
      st.ended(index);
    return;
  }
  c.restarts.push_back(now);
  st.m->error("user_restart");
  auto backoff = std::min<uint64_t>(st.policy.max_backoff_ms,
                                    uint64_t{st.policy.first_backoff_ms}
                                      << std::min<size_t>(c.restarts.size() - 1, 16));
  self->delayed_send(self, std::chrono::milliseconds{backoff}, restart_atom::value, index);
}

caf::behavior supervisor(self_ptr self, user_factory make, metrics* m, const run_clock* clock,
                         restart_policy policy, user_ended ended) {
  auto& st = self->state;
  st.ended = std::move(ended);
  st.make = std::move(make);
  st.m = m;
  st.clock = clock;
  st.policy = policy;
  self->set_down_handler([self](caf::down_msg& dm) { on_down(self, dm); });
  return {
    [=](start_atom, uint64_t index, int64_t intended) { start_child(self, index, intended); },
    [=](restart_atom, uint64_t index) {
      auto it = self->state.children.find(index);
      if (it != self->state.children.end() && !it->second.hdl && !it->second.stopping)
        start_child(self, index, self->state.clock->now_ns());
    },
    [=](stop_atom, uint64_t index) {
      auto it = self->state.children.find(index);
      if (it == self->state.children.end())
        return;
      it->second.stopping = true;
      if (it->second.hdl)
        self->send_exit(it->second.hdl, caf::exit_reason::user_shutdown);
      else
        self->state.children.erase(it);
    },
    [=](stop_all_atom) -> caf::response_promise {
      auto& s = self->state;
      s.stopping_all = true;
      s.all_down = self->make_response_promise();
      for (auto& kv : s.children)
        if (kv.second.hdl) {
          self->send_exit(kv.second.hdl, caf::exit_reason::user_shutdown);
          ++s.stopped;
        }
      maybe_all_down(self);
      return s.all_down;
    },
  };
}

} // namespace

caf::actor spawn_supervisor(caf::actor_system& sys, user_factory make, metrics* m,
                            const run_clock* clock, restart_policy policy, user_ended ended) {
  return sys.spawn(supervisor, std::move(make), m, clock, policy, std::move(ended));
}

} // namespace phx::fleet
