// The virtual user's actor. Facade callbacks (which run in the socket's actor
// context) only forward typed messages to this actor through a weak handle;
// all decisions and every measurement happen here, one message at a time.

#include "user/user.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "phx/phx.hpp"
#include "scenario/template.hpp"

namespace phx::fleet {

namespace {

// -- messages (internal to the user) -------------------------------------------

using opened_atom = caf::atom_constant<caf::atom("fopened")>;
using closed_atom = caf::atom_constant<caf::atom("fclosed")>;
using sockerr_atom = caf::atom_constant<caf::atom("fsockerr")>;
using joinres_atom = caf::atom_constant<caf::atom("fjoinres")>;
using leaveres_atom = caf::atom_constant<caf::atom("fleaveres")>;
using pushres_atom = caf::atom_constant<caf::atom("fpushres")>;
using chstate_atom = caf::atom_constant<caf::atom("fchstate")>;
using chevent_atom = caf::atom_constant<caf::atom("fchevent")>;
using cherror_atom = caf::atom_constant<caf::atom("fcherror")>;
using presence_atom = caf::atom_constant<caf::atom("fpresence")>;
using go_atom = caf::atom_constant<caf::atom("fgo")>;
using pushgo_atom = caf::atom_constant<caf::atom("fpushgo")>;
using thought_atom = caf::atom_constant<caf::atom("fthought")>;
using waitto_atom = caf::atom_constant<caf::atom("fwaitto")>;
using churn_atom = caf::atom_constant<caf::atom("fchurn")>;
using back_atom = caf::atom_constant<caf::atom("fback")>;

using ns = std::chrono::nanoseconds;

// -- state ------------------------------------------------------------------------

struct chan {
  uint32_t id = 0;
  std::string topic;
  std::optional<phx::channel> ch; // set at once by make_channel
  std::shared_ptr<phx::presence> presence;
  rapidjson::Document params_source; // expanded join params, kept for rejoin steps
  bool joined = false;
  bool wanted = false;  // joined once and not left: must rejoin after a loss
  uint64_t attempts = 0;
  int64_t join_due_ns = 0;
  std::map<std::string, uint64_t> seen;     // events received, by name
  std::map<std::string, uint64_t> consumed; // events consumed by wait steps
};

// One level of the step program: a step list and where we are in it.
struct frame {
  const std::vector<step>* steps = nullptr;
  size_t pc = 0;
  uint64_t iter = 0;
  uint64_t times = 1; // 0 = forever
};

struct user_state {
  user_spec spec;
  phx::fleet::rng rng;
  std::optional<phx::socket> socket;
  std::map<std::string, std::unique_ptr<chan>> channels; // by topic
  uint32_t next_chan_id = 1;
  std::set<std::string> wait_events; // events any wait step of the population awaits
  std::vector<frame> stack;
  const step* current = nullptr; // the step waiting for a message
  uint64_t epoch = 0;            // of `current`: stale timers and replies are ignored
  int64_t due_ns = 0;            // intended start of the current step
  bool started = false;
  bool done = false;
  // push step
  uint64_t push_k = 0;       // pushes sent by the current step
  uint64_t push_n = 0;       // pushes of this user ({{n}})
  int64_t push_first_ns = 0; // open model: intended time of the step's first push
  std::string push_topic;
  // wait step
  std::string wait_topic;
  // connection
  bool g_connecting = false, g_open = false, g_joined = false;
  bool measuring_connect = true;
  int64_t connect_due_ns = 0;
  bool ever_open = false;
  bool churning = false;
  std::optional<int64_t> lost_at;
  // A rejoin step: the topic to join again once its leave completes.
  std::string rejoin_topic;

  ~user_state() {
    // The gauges count this user only while it lives (a crash included).
    set_gauges(false, false, false);
  }

  metrics& m() { return *spec.m; }
  int64_t now() const { return spec.clock->now_ns(); }

  void set_gauges(bool connecting, bool open, bool joined) {
    if (!spec.m)
      return;
    if (connecting != g_connecting)
      spec.m->add_connecting(connecting ? 1 : -1);
    if (open != g_open)
      spec.m->add_open(open ? 1 : -1);
    if (joined != g_joined)
      spec.m->add_joined(joined ? 1 : -1);
    g_connecting = connecting;
    g_open = open;
    g_joined = joined;
  }

  bool any_joined() const {
    return std::any_of(channels.begin(), channels.end(),
                       [](auto& kv) { return kv.second->joined; });
  }

  template_vars vars() const {
    template_vars v;
    v.i = spec.index;
    v.n = push_n;
    v.seed = spec.run_seed;
    v.pop = spec.pop->name;
    return v;
  }

  std::string expand_text(const std::string& s) {
    return has_template(s) ? expand(s, vars(), rng) : s;
  }
};

using self_ptr = caf::stateful_actor<user_state>*;

void collect_waits(const std::vector<step>& steps, std::set<std::string>& out) {
  for (auto& s : steps) {
    if (s.what == step::kind::wait)
      out.insert(s.event);
    collect_waits(s.steps, out);
  }
}

std::function<uint32_t(uint32_t)> backoff(std::vector<uint32_t> steps) {
  auto table = std::make_shared<const std::vector<uint32_t>>(std::move(steps));
  return [table](uint32_t tries) {
    auto i = std::min<size_t>(tries == 0 ? 0 : tries - 1, table->size() - 1);
    return (*table)[i];
  };
}

// Sends `xs` to the user if it is still alive (facade callbacks hold no strong ref).
template <class... Ts>
void tell(const caf::actor_addr& addr, Ts&&... xs) {
  if (auto hdl = caf::actor_cast<caf::actor>(addr))
    caf::anon_send(hdl, std::forward<Ts>(xs)...);
}

std::string connect_error_kind(const std::string& reason, int http) {
  if (http != 0)
    return "connect_http_" + std::to_string(http);
  auto has = [&](const char* x) { return reason.find(x) != std::string::npos; };
  if (has("refused"))
    return "connect_refused (ECONNREFUSED)";
  if (has("timed out") || has("timeout"))
    return "connect_timeout (ETIMEDOUT)";
  if (has("reset"))
    return "connect_reset (ECONNRESET)";
  if (has("unreachable"))
    return "connect_unreachable (ENETUNREACH)";
  if (has("too many open files"))
    return "connect_emfile (EMFILE)";
  if (has("address not available") || has("cannot assign"))
    return "connect_eaddrnotavail (EADDRNOTAVAIL)";
  return "connect_error";
}

outcome_kind outcome_of(const std::string& status) {
  if (status == "ok")
    return outcome_kind::ok;
  if (status == "error")
    return outcome_kind::error;
  if (status == "timeout")
    return outcome_kind::timeout;
  return outcome_kind::failed;
}

// -- the step program -----------------------------------------------------------

void run_steps(self_ptr self);

// The current step finished (at `due`): the next one is due then.
void step_done(self_ptr self, int64_t due) {
  auto& st = self->state;
  st.current = nullptr;
  ++st.epoch;
  st.due_ns = due;
  run_steps(self);
}

void check_recovered(self_ptr self) {
  auto& st = self->state;
  if (!st.lost_at || !st.g_open)
    return;
  for (auto& kv : st.channels)
    if (kv.second->wanted && !kv.second->joined)
      return;
  st.m().latency(latency_kind::recover, st.now() - *st.lost_at);
  st.lost_at.reset();
}

void update_joined(self_ptr self) {
  auto& st = self->state;
  st.set_gauges(st.g_connecting, st.g_open, st.any_joined());
}

chan* make_channel(self_ptr self, const std::string& topic, rapidjson::Document params) {
  auto& st = self->state;
  if (auto it = st.channels.find(topic); it != st.channels.end()) {
    st.socket->remove(*it->second->ch);
    st.channels.erase(it);
  }
  auto c = std::make_unique<chan>();
  c->id = st.next_chan_id++;
  c->topic = topic;
  c->params_source = std::move(params);
  phx::protocol::json_document copy;
  copy.CopyFrom(c->params_source, copy.GetAllocator());
  c->ch.emplace(st.socket->channel(topic, phx::payload{std::move(copy)}));
  auto addr = self->address();
  auto id = c->id;
  c->ch->on_state([addr, id](phx::channel_state s) {
    tell(addr, chstate_atom::value, id, static_cast<int>(s));
  });
  c->ch->on_error([addr, id](const phx::payload& p) {
    std::string reason = "channel_crash";
    auto& v = p.json();
    if (v.IsObject()) {
      auto src = v.FindMember("source");
      auto why = v.FindMember("reason");
      if (src != v.MemberEnd() && src->value.IsString()
          && std::string{src->value.GetString()} == "transport") {
        reason = why != v.MemberEnd() && why->value.IsString()
                     && std::string{why->value.GetString()} == "heartbeat_timeout"
                   ? "heartbeat_timeout"
                   : "";
      }
    }
    if (!reason.empty())
      tell(addr, cherror_atom::value, id, reason);
  });
  for (auto& ev : st.wait_events)
    c->ch->on(ev, [addr, id, ev](const phx::payload&) { tell(addr, chevent_atom::value, id, ev); });
  if (topic.rfind("presence:", 0) == 0) {
    c->presence = std::make_shared<phx::presence>(*c->ch);
    std::weak_ptr<phx::presence> weak = c->presence;
    c->presence->on_sync([addr, id, weak] {
      if (auto p = weak.lock())
        tell(addr, presence_atom::value, id, static_cast<int64_t>(p->list().size()));
    });
  }
  auto* raw = c.get();
  st.channels.emplace(topic, std::move(c));
  return raw;
}

void start_join(self_ptr self, const std::string& topic, rapidjson::Document params,
                uint32_t timeout_ms) {
  auto& st = self->state;
  auto* c = make_channel(self, topic, std::move(params));
  c->join_due_ns = st.due_ns;
  auto addr = self->address();
  auto id = c->id;
  auto join = timeout_ms > 0 ? c->ch->join(std::chrono::milliseconds{timeout_ms}) : c->ch->join();
  for (const char* status : {"ok", "error", "timeout", "failed"})
    join.receive(status, [addr, id, status](const phx::payload&) {
      tell(addr, joinres_atom::value, id, std::string{status});
    });
}

chan* find_chan(self_ptr self, uint32_t id) {
  for (auto& kv : self->state.channels)
    if (kv.second->id == id)
      return kv.second.get();
  return nullptr;
}

phx::payload make_payload(self_ptr self, const payload_spec& p) {
  auto& st = self->state;
  switch (p.mode) {
    case payload_spec::kind::fixed: {
      // Shared by every push of the step: a pointer copy, no JSON copy.
      return phx::payload{std::shared_ptr<const phx::protocol::json_value>(p.value, p.value.get())};
    }
    case payload_spec::kind::tmpl: {
      auto doc = expand_json(*p.value, st.vars(), st.rng);
      phx::protocol::json_document out;
      out.Swap(doc);
      return phx::payload{std::move(out)};
    }
    case payload_spec::kind::random: {
      std::uniform_int_distribution<uint32_t> size{p.min_bytes, p.max_bytes};
      std::string data(size(st.rng), 'x');
      for (auto& ch : data)
        ch = static_cast<char>('a' + st.rng() % 26);
      return phx::object({{"data", data}});
    }
  }
  return phx::payload{};
}

void send_push(self_ptr self, const step& s, int64_t intended) {
  auto& st = self->state;
  ++st.push_k;
  ++st.push_n;
  auto it = st.channels.find(st.push_topic);
  if (it == st.channels.end()) {
    st.m().outcome(op_kind::push, outcome_kind::failed);
    st.m().error("push_not_joined");
    if (s.rate == 0) // closed loop: go on, the next push fails as well
      self->send(self, pushres_atom::value, st.epoch, intended, std::string{"none"});
    return;
  }
  auto body = make_payload(self, s.payload);
  st.m().push_sent();
  auto addr = self->address();
  auto epoch = st.epoch;
  auto push = s.timeout_ms > 0
                ? it->second->ch->push(s.event, body, std::chrono::milliseconds{s.timeout_ms})
                : it->second->ch->push(s.event, body);
  for (const char* status : {"ok", "error", "timeout", "failed"})
    push.receive(status, [addr, epoch, intended, status](const phx::payload&) {
      tell(addr, pushres_atom::value, epoch, intended, std::string{status});
    });
}

// Open model: the k-th push of the step is due at first + k / rate, whatever
// the replies do (no coordinated omission).
void schedule_push(self_ptr self, const step& s) {
  auto& st = self->state;
  auto intended = st.push_first_ns + static_cast<int64_t>(st.push_k * 1e9 / s.rate);
  auto delay = std::max<int64_t>(0, intended - st.now());
  self->delayed_send(self, ns{delay}, pushgo_atom::value, st.epoch, intended);
}

bool more_pushes(const user_state& st, const step& s) {
  return s.count == 0 || st.push_k < s.count;
}

// Starts `s`; true when it finished at once.
bool start_step(self_ptr self, const step& s) {
  auto& st = self->state;
  st.current = &s;
  ++st.epoch;
  switch (s.what) {
    case step::kind::join: {
      rapidjson::Document params;
      if (s.params)
        params = expand_json(*s.params, st.vars(), st.rng);
      else
        params.SetObject();
      start_join(self, st.expand_text(s.topic), std::move(params), s.timeout_ms);
      return false;
    }
    case step::kind::push: {
      st.push_k = 0;
      st.push_topic = st.expand_text(s.topic);
      if (s.rate > 0) {
        // A random phase in the first period, so that users do not push in step.
        std::uniform_real_distribution<double> u{0.0, 1.0};
        st.push_first_ns = st.due_ns + static_cast<int64_t>(u(st.rng) * 1e9 / s.rate);
        schedule_push(self, s);
      } else {
        // Timed from when the step was due: a late timer counts as latency.
        send_push(self, s, std::min(st.due_ns, st.now()));
      }
      return false;
    }
    case step::kind::wait: {
      st.wait_topic = st.expand_text(s.topic);
      auto it = st.channels.find(st.wait_topic);
      if (it != st.channels.end()) {
        auto& c = *it->second;
        if (c.seen[s.event] - c.consumed[s.event] >= s.count) {
          c.consumed[s.event] += s.count;
          st.current = nullptr;
          return true;
        }
      }
      self->delayed_send(self, std::chrono::milliseconds{s.timeout_ms}, waitto_atom::value,
                         st.epoch);
      return false;
    }
    case step::kind::leave:
    case step::kind::rejoin: {
      auto topic = st.expand_text(s.topic);
      auto it = st.channels.find(topic);
      if (it == st.channels.end()) {
        st.m().error("leave_not_joined");
        st.current = nullptr;
        return true;
      }
      it->second->wanted = false;
      st.rejoin_topic = s.what == step::kind::rejoin ? topic : std::string{};
      auto addr = self->address();
      auto epoch = st.epoch;
      auto id = it->second->id;
      auto leave = it->second->ch->leave();
      for (const char* status : {"ok", "error", "timeout", "failed"})
        leave.receive(status, [addr, epoch, id](const phx::payload&) {
          tell(addr, leaveres_atom::value, epoch, id);
        });
      return false;
    }
    case step::kind::think: {
      std::uniform_int_distribution<uint32_t> d{s.min_ms, s.max_ms};
      auto intended = st.due_ns + int64_t{d(st.rng)} * 1000000;
      self->delayed_send(self, ns{std::max<int64_t>(0, intended - st.now())},
                         thought_atom::value, st.epoch, intended);
      return false;
    }
    case step::kind::crash:
      // A drill of the supervision: the actor dies as a buggy user would.
      throw std::runtime_error("crash step " + s.path);
    case step::kind::loop:
      break;
  }
  st.current = nullptr;
  return true;
}

void steps_ended(self_ptr self) {
  auto& st = self->state;
  st.done = true;
  if (st.spec.session) {
    // An arriving user of an arrival phase leaves once its session is over.
    self->quit();
  }
}

void run_steps(self_ptr self) {
  auto& st = self->state;
  // Steps that finish at once run in a row, at most this many per message, so
  // that a loop of instant steps yields to other actors.
  for (int budget = 256; budget > 0; --budget) {
    if (st.current)
      return;
    if (st.stack.empty()) {
      if (!st.done)
        steps_ended(self);
      return;
    }
    auto& f = st.stack.back();
    if (f.pc >= f.steps->size()) {
      if (f.times == 0 || ++f.iter < f.times) {
        f.pc = 0;
        continue;
      }
      st.stack.pop_back();
      continue;
    }
    const step& s = (*f.steps)[f.pc++];
    if (s.what == step::kind::loop) {
      st.stack.push_back(frame{&s.steps, 0, 0, s.count});
      continue;
    }
    if (!start_step(self, s))
      return;
    st.due_ns = std::max(st.due_ns, st.now());
  }
  self->send(self, go_atom::value, st.epoch);
}

// -- handlers ---------------------------------------------------------------------

void on_opened(self_ptr self) {
  auto& st = self->state;
  st.set_gauges(false, true, st.any_joined());
  st.m().outcome(op_kind::connect, outcome_kind::ok);
  if (st.measuring_connect) {
    st.m().latency(latency_kind::connect, st.now() - st.connect_due_ns);
    st.measuring_connect = false;
  }
  st.ever_open = true;
  st.churning = false;
  check_recovered(self);
  if (!st.started) {
    st.started = true;
    st.due_ns = st.now();
    run_steps(self);
  }
}

void on_closed(self_ptr self, uint16_t code) {
  auto& st = self->state;
  st.set_gauges(!st.churning, false, st.any_joined());
  if (st.churning)
    return;
  st.m().error("close_" + std::to_string(code));
  if (st.ever_open && !st.lost_at)
    st.lost_at = st.now();
}

void on_sockerr(self_ptr self, const std::string& reason, int http) {
  auto& st = self->state;
  st.set_gauges(!st.churning, false, st.any_joined());
  if (st.churning)
    return;
  auto kind = connect_error_kind(reason, http);
  st.m().outcome(op_kind::connect, http != 0 ? outcome_kind::error
                                   : kind.rfind("connect_timeout", 0) == 0 ? outcome_kind::timeout
                                                                           : outcome_kind::failed);
  st.m().error(kind);
  if (st.ever_open && !st.lost_at)
    st.lost_at = st.now();
}

void on_joinres(self_ptr self, uint32_t id, const std::string& status) {
  auto& st = self->state;
  auto* c = find_chan(self, id);
  if (!c)
    return;
  ++c->attempts;
  st.m().outcome(op_kind::join, outcome_of(status));
  bool first = c->attempts == 1;
  const step* s = st.current;
  bool awaited = first && s && (s->what == step::kind::join || s->what == step::kind::rejoin);
  auto expect = awaited ? s->expect : std::string{"ok"};
  if (first && (status == "ok" || status == "error"))
    st.m().latency(latency_kind::join, st.now() - c->join_due_ns);
  if (status != expect)
    st.m().error(status == "error"     ? "join_refused"
                 : status == "timeout" ? "join_timeout"
                 : status == "ok"      ? "join_unexpected_ok"
                                       : "join_failed");
  if (status == "ok")
    c->wanted = true;
  if (status == "error" && first) {
    // A refused first join is final here, not retried by the channel forever.
    c->wanted = false;
    auto topic = c->topic;
    st.socket->remove(*c->ch);
    st.channels.erase(topic);
  }
  if (awaited)
    step_done(self, st.now());
}

void on_pushres(self_ptr self, uint64_t epoch, int64_t intended, const std::string& status) {
  auto& st = self->state;
  if (status != "none") {
    st.m().outcome(op_kind::push, outcome_of(status));
    if (status == "ok" || status == "error")
      st.m().latency(latency_kind::push, st.now() - intended);
  }
  const step* s = st.current;
  if (status != "none" && (!s || s->what != step::kind::push || status != s->expect)) {
    auto expect = s && s->what == step::kind::push ? s->expect : std::string{"ok"};
    if (status != expect)
      st.m().error(status == "timeout"  ? "push_timeout"
                   : status == "failed" ? "push_failed"
                                        : "push_unexpected_" + status);
  }
  if (epoch != st.epoch || !s || s->what != step::kind::push || s->rate > 0)
    return;
  if (status == "none") {
    // Closed loop on a topic not joined: end the step rather than spin.
    step_done(self, st.now());
    return;
  }
  // Closed loop: the next push is due now, at this reply.
  if (more_pushes(st, *s))
    send_push(self, *s, st.now());
  else
    step_done(self, st.now());
}

void on_pushgo(self_ptr self, uint64_t epoch, int64_t intended) {
  auto& st = self->state;
  if (epoch != st.epoch || !st.current || st.current->what != step::kind::push)
    return;
  const step& s = *st.current;
  st.m().latency(latency_kind::lag, st.now() - intended);
  send_push(self, s, intended);
  if (more_pushes(st, s))
    schedule_push(self, s);
  else
    step_done(self, intended);
}

void on_chevent(self_ptr self, uint32_t id, const std::string& event) {
  auto& st = self->state;
  auto* c = find_chan(self, id);
  if (!c)
    return;
  ++c->seen[event];
  const step* s = st.current;
  if (!s || s->what != step::kind::wait || s->event != event || c->topic != st.wait_topic)
    return;
  if (c->seen[event] - c->consumed[event] >= s->count) {
    c->consumed[event] += s->count;
    step_done(self, st.now());
  }
}

void on_leaveres(self_ptr self, uint64_t epoch, uint32_t id) {
  auto& st = self->state;
  rapidjson::Document params;
  params.SetObject();
  if (auto* c = find_chan(self, id)) {
    params.CopyFrom(c->params_source, params.GetAllocator());
    auto topic = c->topic;
    st.socket->remove(*c->ch);
    st.channels.erase(topic);
    update_joined(self);
  }
  if (epoch != st.epoch)
    return;
  const step* s = st.current;
  if (s && s->what == step::kind::rejoin && !st.rejoin_topic.empty()) {
    // The second half of a rejoin: join again with the same params, timed from now.
    auto topic = std::move(st.rejoin_topic);
    st.rejoin_topic.clear();
    st.due_ns = st.now();
    start_join(self, topic, std::move(params), 0);
    return; // on_joinres completes the step
  }
  step_done(self, st.now());
}

void schedule_churn(self_ptr self) {
  auto& st = self->state;
  auto share = st.spec.pop->churn.share_per_min;
  if (share <= 0)
    return;
  std::exponential_distribution<double> next{share / 60.0};
  auto delay_s = std::min(next(st.rng), 1e6);
  self->delayed_send(self, ns{static_cast<int64_t>(delay_s * 1e9)}, churn_atom::value);
}

void on_churn(self_ptr self) {
  auto& st = self->state;
  if (st.churning || !st.g_open) {
    schedule_churn(self);
    return;
  }
  // A planned drop: not an error (its return is timed as a connect).
  st.churning = true;
  st.socket->disconnect();
  auto down = int64_t{st.spec.pop->churn.down_ms} * 1000000;
  auto intended = st.now() + down;
  self->delayed_send(self, ns{down}, back_atom::value, intended);
}

void on_back(self_ptr self, int64_t intended) {
  auto& st = self->state;
  st.m().latency(latency_kind::lag, st.now() - intended);
  st.set_gauges(true, false, st.any_joined());
  st.measuring_connect = true;
  st.connect_due_ns = intended;
  st.socket->connect();
  schedule_churn(self);
}

phx::socket::options socket_options(user_state& st) {
  auto& spec = st.spec.sc->socket;
  phx::socket::options o;
  o.vsn = spec.vsn;
  o.timeout = spec.timeout_ms;
  o.heartbeat_interval_ms = spec.heartbeat_ms;
  o.open_timeout_ms = spec.open_timeout_ms;
  o.reconnect_after_ms = backoff(spec.reconnect_ms);
  o.rejoin_after_ms = backoff(spec.rejoin_ms);
  o.reconnect_jitter_ms = spec.reconnect_jitter_ms;
  o.rejoin_jitter_ms = spec.rejoin_jitter_ms;
  o.log_level = st.spec.log_level;
  if (spec.params) {
    // Expanded at each connect, not kept: a JSON document per user costs
    // kilobytes of RSS. Its own generator keeps {{rand}} the same each time.
    auto tmpl = spec.params;
    auto vars = st.vars();
    auto seed = st.spec.seed ^ 0x5bd1e995ULL;
    o.params_fn = [tmpl, vars, seed] {
      phx::fleet::rng gen{seed};
      auto doc = expand_json(*tmpl, vars, gen);
      phx::protocol::json_document out;
      out.Swap(doc);
      return phx::payload{std::move(out)};
    };
  }
  for (auto& [k, v] : spec.headers)
    o.headers.emplace_back(k, st.expand_text(v));
  if (!spec.auth_token.empty()) {
    auto token = st.expand_text(spec.auth_token);
    o.auth_token = [token] { return std::optional<std::string>{token}; };
  }
  return o;
}

caf::behavior virtual_user(self_ptr self, user_spec spec) {
  auto& st = self->state;
  st.spec = std::move(spec);
  st.rng.seed(st.spec.seed);
  collect_waits(st.spec.pop->steps, st.wait_events);
  st.stack.push_back(frame{&st.spec.pop->steps, 0, 0, 1});
  st.socket.emplace(self->system(), st.spec.url, socket_options(st));
  auto addr = self->address();
  st.socket->on_open([addr] { tell(addr, opened_atom::value); });
  st.socket->on_close([addr](uint16_t code, const std::string&) {
    tell(addr, closed_atom::value, code);
  });
  st.socket->on_error([addr](const std::string& reason, int http) {
    tell(addr, sockerr_atom::value, reason, http);
  });
  st.connect_due_ns = st.spec.intended_start_ns;
  st.set_gauges(true, false, false);
  st.socket->connect();
  schedule_churn(self);
  return {
    [=](opened_atom) { on_opened(self); },
    [=](closed_atom, uint16_t code) { on_closed(self, code); },
    [=](sockerr_atom, const std::string& reason, int http) { on_sockerr(self, reason, http); },
    [=](joinres_atom, uint32_t id, const std::string& status) { on_joinres(self, id, status); },
    [=](leaveres_atom, uint64_t epoch, uint32_t id) { on_leaveres(self, epoch, id); },
    [=](pushres_atom, uint64_t epoch, int64_t intended, const std::string& status) {
      on_pushres(self, epoch, intended, status);
    },
    [=](pushgo_atom, uint64_t epoch, int64_t intended) { on_pushgo(self, epoch, intended); },
    [=](chstate_atom, uint32_t id, int s) {
      if (auto* c = find_chan(self, id))
        c->joined = static_cast<phx::channel_state>(s) == phx::channel_state::joined;
      update_joined(self);
      check_recovered(self);
    },
    [=](chevent_atom, uint32_t id, const std::string& event) { on_chevent(self, id, event); },
    [=](cherror_atom, uint32_t, const std::string& reason) { self->state.m().error(reason); },
    [=](presence_atom, uint32_t, int64_t n) { self->state.m().presence_seen(n); },
    [=](go_atom, uint64_t epoch) {
      if (epoch == self->state.epoch)
        run_steps(self);
    },
    [=](thought_atom, uint64_t epoch, int64_t intended) {
      if (epoch != self->state.epoch)
        return;
      self->state.m().latency(latency_kind::lag, self->state.now() - intended);
      step_done(self, intended);
    },
    [=](waitto_atom, uint64_t epoch) {
      if (epoch != self->state.epoch)
        return;
      self->state.m().error("wait_timeout");
      step_done(self, self->state.now());
    },
    [=](churn_atom) { on_churn(self); },
    [=](back_atom, int64_t intended) { on_back(self, intended); },
  };
}

} // namespace

uint64_t user_seed(uint64_t run_seed, uint64_t index) noexcept {
  uint64_t z = run_seed + 0x9e3779b97f4a7c15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

caf::actor spawn_user(caf::actor_system& sys, user_spec spec) {
  return sys.spawn(virtual_user, std::move(spec));
}

} // namespace phx::fleet
