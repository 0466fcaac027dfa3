#include "cluster/coordinator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "phx/phx.hpp"

#include "cluster/protocol.hpp"
#include "progress/progress.hpp"

namespace phx::fleet::cluster {

namespace {

using std::chrono::milliseconds;

// One worker as the coordinator sees it.
struct worker_entry {
  worker_record rec;
  users_actor engine;
  caf::actor_addr engine_addr;
  int64_t pid = 0;
  bool alive = true;
  bool done = false; // stopped after the run's end, not lost
  std::unordered_set<uint64_t> users; // users handed to it and not stopped, ended or lost
  int64_t connecting = 0, open = 0, joined = 0; // its last report
  std::optional<double> lag_p99_ms;             // its last second
  std::vector<user_event> batch;                // events to send at the next poll
};

// Shared by the coordinator's actor (handshakes, reports, losses) and the run
// loop's thread (plan events, re-spawns, seconds); guarded by `mtx`.
struct cluster_state {
  std::mutex mtx;
  const backend_context* ctx = nullptr;
  std::string scenario_json;
  std::vector<worker_entry> workers;
  std::optional<int64_t> start_unix_ns;
  std::vector<uint64_t> orphans;   // users waiting for a worker (lost, or none alive)
  std::vector<size_t> orphaned_by; // the lost worker of each orphan (or npos)
  std::unordered_map<uint64_t, std::pair<uint32_t, bool>> user_info; // pop, session
  std::unordered_map<uint64_t, size_t> owner;
  std::vector<std::pair<std::string, std::string>> notes; // (text, NDJSON fields) for progress
  uint64_t respawned = 0;
  size_t next_id = 1;
  bool finishing = false; // the run ended: engines that stop now are not lost

  size_t alive() const {
    return static_cast<size_t>(std::count_if(workers.begin(), workers.end(),
                                             [](const worker_entry& w) { return w.alive; }));
  }

  // Weighted least-loaded: new arrivals and re-spawns go where the users per
  // unit of weight are fewest (so a late joiner takes them first).
  std::optional<size_t> pick() const {
    std::optional<size_t> best;
    double best_load = 0;
    for (size_t i = 0; i < workers.size(); ++i) {
      auto& w = workers[i];
      if (!w.alive)
        continue;
      double load = static_cast<double>(w.users.size() + 1) / w.rec.weight;
      if (!best || load < best_load) {
        best = i;
        best_load = load;
      }
    }
    return best;
  }

  void assign(size_t wi, uint64_t user, int64_t at_ns) {
    auto& w = workers[wi];
    auto [pop, session] = user_info[user];
    w.users.insert(user);
    ++w.rec.users_started;
    owner[user] = wi;
    w.batch.push_back(user_event{user, at_ns, pop, true, session});
  }

  void note(const std::string& text, const std::string& fields) {
    notes.emplace_back(text, fields);
  }

  double now_s() const { return ctx->clock->now_s(); }

  // Sums of the live workers' gauges: the merged run's gauges.
  void update_gauges() {
    int64_t c = 0, o = 0, j = 0;
    for (auto& w : workers)
      if (w.alive) {
        c += w.connecting;
        o += w.open;
        j += w.joined;
      }
    ctx->m->set_gauges(c, o, j);
  }
};

struct coordinator_state {
  std::shared_ptr<cluster_state> shared;
};

using coordinator_ptr = coordinator_actor::stateful_pointer<coordinator_state>;

std::string worker_fields(const worker_entry& w) {
  return "\"worker\":" + json_string(w.rec.id) + ",\"host\":" + json_string(w.rec.host)
         + ",\"pid\":" + std::to_string(w.pid);
}

void on_worker_down(coordinator_ptr self, const caf::down_msg& dm) {
  auto& cs = *self->state.shared;
  std::lock_guard<std::mutex> guard{cs.mtx};
  for (size_t i = 0; i < cs.workers.size(); ++i) {
    auto& w = cs.workers[i];
    if (!w.alive || w.engine_addr != dm.source)
      continue;
    if (cs.finishing) {
      // It stopped after its last report: only stop counting it.
      w.rec.users = w.users.size();
      w.alive = false;
      w.done = true;
      continue;
    }
    w.alive = false;
    w.connecting = w.open = w.joined = 0;
    w.rec.users = w.users.size();
    auto t = cs.now_s();
    if (cs.start_unix_ns) {
      w.rec.lost_at = t;
      for (auto u : w.users) {
        cs.orphans.push_back(u);
        cs.orphaned_by.push_back(i);
        cs.owner.erase(u);
      }
    }
    w.users.clear();
    w.batch.clear();
    cs.update_gauges();
    cs.note("phx-fleet: worker " + w.rec.id + " (" + w.rec.host + ", pid " + std::to_string(w.pid)
              + ") lost" + (cs.start_unix_ns ? " at " + json_number(t) + " s" : "") + " with "
              + std::to_string(w.rec.users) + " users: " + to_string(dm.reason),
            worker_fields(w) + ",\"event\":\"lost\",\"at_s\":" + json_number(t) + ",\"users\":"
              + std::to_string(w.rec.users) + ",\"reason\":" + json_string(to_string(dm.reason)));
  }
}

void on_report(coordinator_ptr self, const worker_report& r) {
  auto& cs = *self->state.shared;
  auto d = from_wire(r);
  std::lock_guard<std::mutex> guard{cs.mtx};
  auto it = std::find_if(cs.workers.begin(), cs.workers.end(),
                         [&](const worker_entry& w) { return w.rec.id == r.worker_id; });
  if (it == cs.workers.end() || !it->alive)
    return; // a lost worker's late words are not counted: its users were re-spawned
  cs.ctx->m->merge(d);
  it->connecting = r.connecting;
  it->open = r.open;
  it->joined = r.joined;
  auto& lag = d.latency[static_cast<size_t>(latency_kind::lag)];
  it->lag_p99_ms = lag.count() ? std::optional<double>{static_cast<double>(lag.value_at_quantile(0.99)) / 1e6}
                               : std::nullopt;
  for (auto u : r.ended) {
    it->users.erase(u);
    cs.owner.erase(u);
  }
  cs.update_gauges();
}

coordinator_actor::behavior_type coordinator(coordinator_ptr self,
                                             std::shared_ptr<cluster_state> shared) {
  self->state.shared = std::move(shared);
  self->set_down_handler([self](caf::down_msg& dm) { on_worker_down(self, dm); });
  return {
    [self](hello_atom, const hello& h) -> caf::typed_response_promise<welcome> {
      // The promise takes the request's sender: read its node first.
      auto sender = self->current_sender();
      auto nid = sender ? sender->node() : caf::node_id{};
      auto rp = self->make_response_promise<welcome>();
      auto& cs = *self->state.shared;
      auto who = h.host + " (pid " + std::to_string(h.pid) + ")";
      if (h.version != protocol_version) {
        auto reason = "protocol version " + std::to_string(h.version) + " (" + h.build
                      + "); this coordinator speaks version " + std::to_string(protocol_version)
                      + " (" + build_id() + "): run the same build on every node";
        std::lock_guard<std::mutex> guard{cs.mtx};
        cs.note("phx-fleet: refused a worker from " + who + ": " + reason,
                "\"event\":\"refused\",\"host\":" + json_string(h.host) + ",\"reason\":"
                  + json_string(reason));
        rp.deliver(welcome{false, reason, ""});
        return rp;
      }
      if (!nid) {
        rp.deliver(welcome{false, "an anonymous hello: no node to spawn the users' engine on", ""});
        return rp;
      }
      if (!(h.weight > 0) || !std::isfinite(h.weight)) {
        rp.deliver(welcome{false, "weight must be a positive number", ""});
        return rp;
      }
      std::string id;
      std::string json;
      uint64_t seed = 0;
      {
        std::lock_guard<std::mutex> guard{cs.mtx};
        id = "w" + std::to_string(cs.next_id++);
        json = cs.scenario_json;
        seed = cs.ctx->seed;
      }
      auto mm = self->system().middleman().actor_handle();
      auto args = caf::make_message(caf::actor_cast<coordinator_actor>(self), id, json, seed);
      self
        ->request(mm, std::chrono::seconds{30}, caf::spawn_atom::value, nid,
                  std::string{users_actor_name}, std::move(args),
                  self->system().message_types<users_actor>())
        .then(
          [self, rp, id, h, who](caf::strong_actor_ptr& p) mutable {
            auto engine = caf::actor_cast<users_actor>(p);
            if (!engine) {
              rp.deliver(welcome{false, "the remote spawn of the users' engine gave no actor", ""});
              return;
            }
            self->monitor(engine);
            auto& cs = *self->state.shared;
            std::lock_guard<std::mutex> guard{cs.mtx};
            worker_entry w;
            w.rec.id = id;
            w.rec.host = h.host;
            w.rec.weight = h.weight;
            w.rec.joined_at = cs.start_unix_ns ? cs.now_s() : 0;
            w.pid = h.pid;
            w.engine = engine;
            w.engine_addr = engine.address();
            if (cs.start_unix_ns)
              self->send(engine, go_atom::value, *cs.start_unix_ns);
            cs.note("phx-fleet: worker " + id + " joined: " + who + ", weight "
                      + json_number(h.weight)
                      + (cs.start_unix_ns ? " (late: it takes new arrivals and re-spawns)" : ""),
                    worker_fields(w) + ",\"event\":\"joined\",\"weight\":" + json_number(h.weight));
            cs.workers.push_back(std::move(w));
            rp.deliver(welcome{true, "", id});
          },
          [rp, who](caf::error& e) mutable {
            rp.deliver(welcome{false, "the remote spawn of the users' engine on " + who
                                        + " failed: " + to_string(e), ""});
          });
      return rp;
    },
    [self](report_atom, const worker_report& r) { on_report(self, r); },
  };
}

// The coordinator's node: the node links and the fleet's messages; no users here.
struct coordinator_config : caf::actor_system_config {
  explicit coordinator_config(const links::link_options& lo) {
    phx::add_message_types(*this);
    cluster::add_message_types(*this);
    links::configure(*this, lo);
  }
};

class cluster_backend : public user_backend {
public:
  cluster_backend(const backend_context& ctx, const coordinator_options& opts, std::string json)
    : ctx_(ctx), opts_(opts), cfg_(opts.links), sys_(cfg_),
      shared_(std::make_shared<cluster_state>()) {
    shared_->ctx = &ctx_;
    shared_->scenario_json = std::move(json);
    actor_ = sys_.spawn(coordinator, shared_);
  }

  ~cluster_backend() override {
    caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown);
  }

  // Publishes the coordinator; false (and why, on stderr) when it cannot.
  bool listen() {
    auto port = links::publish(sys_, opts_.links, actor_, opts_.listen_host, opts_.listen_port);
    if (!port) {
      std::fprintf(stderr, "phx-fleet coordinator: cannot listen on %s: %s\n",
                   links::to_string(opts_.listen_host, opts_.listen_port).c_str(),
                   to_string(port.error()).c_str());
      return false;
    }
    port_ = *port;
    return true;
  }

  int64_t lead_ns() const override { return 200000000; }
  int64_t row_delay_ns() const override { return 400000000; }

  std::string prepare(run_clock& clock, progress& prog) override {
    prog.event("listen",
               "phx-fleet coordinator: listening on "
                 + links::to_string(opts_.listen_host.empty() ? "0.0.0.0" : opts_.listen_host, port_)
                 + " (" + (opts_.links.insecure ? "plain links" : "mutual TLS links")
                 + "), waiting for " + std::to_string(opts_.workers) + " worker(s)",
               "\"port\":" + std::to_string(port_) + ",\"workers\":"
                 + std::to_string(opts_.workers) + ",\"tls\":"
                 + (opts_.links.insecure ? "false" : "true"));
    auto deadline = std::chrono::steady_clock::now()
                    + milliseconds{static_cast<int64_t>(opts_.join_timeout_s * 1000)};
    for (;;) {
      size_t alive = 0;
      {
        std::lock_guard<std::mutex> guard{shared_->mtx};
        alive = shared_->alive();
      }
      flush_notes(prog);
      if (alive >= opts_.workers)
        break;
      if (stop_requested())
        return "stopped by a signal while waiting for workers";
      if (std::chrono::steady_clock::now() >= deadline)
        return "only " + std::to_string(alive) + " of " + std::to_string(opts_.workers)
               + " workers joined within " + json_number(opts_.join_timeout_s)
               + " s (--join-timeout): not starting the run";
      std::this_thread::sleep_for(milliseconds{50});
    }
    // One instant for every node, with a lead for the message to arrive.
    const auto lead = milliseconds{1000};
    auto wall = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::system_clock::now().time_since_epoch() + lead).count();
    clock.start = std::chrono::steady_clock::now() + lead;
    std::lock_guard<std::mutex> guard{shared_->mtx};
    shared_->start_unix_ns = wall;
    for (auto& w : shared_->workers)
      if (w.alive)
        caf::anon_send(w.engine, go_atom::value, wall);
    return {};
  }

  void dispatch(const plan_event& e) override {
    auto& cs = *shared_;
    std::lock_guard<std::mutex> guard{cs.mtx};
    if (e.start) {
      cs.user_info[e.user] = {static_cast<uint32_t>(e.pop), e.session};
      if (auto wi = cs.pick()) {
        cs.assign(*wi, e.user, e.at_ns);
      } else {
        cs.orphans.push_back(e.user); // no worker alive: the next one to join takes it
        cs.orphaned_by.push_back(npos);
      }
      return;
    }
    auto it = cs.owner.find(e.user);
    if (it != cs.owner.end()) {
      auto& w = cs.workers[it->second];
      if (w.alive) {
        w.users.erase(e.user);
        w.batch.push_back(user_event{e.user, e.at_ns, static_cast<uint32_t>(e.pop), false, false});
      }
      cs.owner.erase(it);
    }
    // A user the plan stops while it waits for a re-spawn is not re-spawned.
    for (size_t k = 0; k < cs.orphans.size(); ++k)
      if (cs.orphans[k] == e.user) {
        cs.orphans.erase(cs.orphans.begin() + static_cast<std::ptrdiff_t>(k));
        cs.orphaned_by.erase(cs.orphaned_by.begin() + static_cast<std::ptrdiff_t>(k));
        break;
      }
  }

  void poll(progress& prog) override {
    {
      auto& cs = *shared_;
      std::lock_guard<std::mutex> guard{cs.mtx};
      respawn(cs);
      for (auto& w : cs.workers)
        if (w.alive && !w.batch.empty()) {
          caf::anon_send(w.engine, events_atom::value, std::move(w.batch));
          w.batch.clear();
        }
    }
    flush_notes(prog);
  }

  void second(double t_s, progress& prog) override {
    std::string line = "workers  ";
    std::string fields = "\"t_s\":" + json_number(t_s) + ",\"workers\":[";
    {
      auto& cs = *shared_;
      std::lock_guard<std::mutex> guard{cs.mtx};
      bool first = true;
      for (auto& w : cs.workers) {
        if (!w.alive && !w.done) {
          line += "  " + w.rec.id + " lost";
          continue; // empty cells in workers.csv from its loss on
        }
        worker_row r;
        r.t_s = t_s;
        r.worker = w.rec.id;
        r.users = static_cast<int64_t>(w.users.size());
        r.joined = w.joined;
        r.lag_p99_ms = w.lag_p99_ms;
        rows_.push_back(r);
        char buf[160];
        char lag[32] = "-";
        if (r.lag_p99_ms)
          std::snprintf(lag, sizeof lag, "%.2f", *r.lag_p99_ms);
        std::snprintf(buf, sizeof buf, "  %s %lld users (lag p99 %s ms)", w.rec.id.c_str(),
                      static_cast<long long>(r.users), lag);
        line += buf;
        fields += std::string{first ? "" : ","} + "{\"id\":" + json_string(w.rec.id)
                  + ",\"users\":" + std::to_string(r.users) + ",\"joined\":"
                  + std::to_string(r.joined) + ",\"lag_p99_ms\":"
                  + (r.lag_p99_ms ? json_number(*r.lag_p99_ms) : "null") + "}";
        first = false;
      }
    }
    fields += "]";
    if (line.size() > 160)
      line = summary_line();
    prog.set_extra(line);
    prog.event("workers", "", fields);
  }

  void finish() override {
    std::vector<std::pair<std::string, users_actor>> engines;
    {
      std::lock_guard<std::mutex> guard{shared_->mtx};
      shared_->finishing = true;
      for (auto& w : shared_->workers)
        if (w.alive)
          engines.emplace_back(w.rec.id, w.engine);
    }
    caf::scoped_actor self{sys_};
    auto wait = std::chrono::milliseconds{static_cast<int64_t>((ctx_.sc->drain_s + 10) * 1000)};
    for (auto& [id, engine] : engines) {
      // Their last second: merged, so that the totals equal the workers' own.
      self->request(engine, wait, finish_atom::value)
        .receive([this](worker_report& r) { on_final(r); },
                 [&, id = id](caf::error& e) {
                   std::fprintf(stderr, "phx-fleet coordinator: worker %s gave no last report: %s\n",
                                id.c_str(), to_string(e).c_str());
                 });
    }
  }

  void describe(run_info& info) override {
    std::lock_guard<std::mutex> guard{shared_->mtx};
    info.cluster = true;
    info.respawned_users = shared_->respawned;
    for (auto& w : shared_->workers) {
      auto rec = w.rec;
      if (w.alive)
        rec.users = w.users.size();
      info.workers.push_back(rec);
    }
    info.worker_rows = rows_;
  }

private:
  // Many workers: one line that still fits a terminal (the events have each).
  std::string summary_line() {
    std::lock_guard<std::mutex> guard{shared_->mtx};
    size_t live = 0, lost = 0;
    int64_t lo = -1, hi = 0;
    double worst = -1;
    std::string worst_id;
    for (auto& w : shared_->workers) {
      if (!w.alive) {
        ++lost;
        continue;
      }
      ++live;
      auto n = static_cast<int64_t>(w.users.size());
      lo = lo < 0 ? n : std::min(lo, n);
      hi = std::max(hi, n);
      if (w.lag_p99_ms && *w.lag_p99_ms > worst) {
        worst = *w.lag_p99_ms;
        worst_id = w.rec.id;
      }
    }
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "workers  %zu live, %zu lost; users per worker %lld-%lld; worst lag p99 %s",
                  live, lost, static_cast<long long>(std::max<int64_t>(lo, 0)),
                  static_cast<long long>(hi),
                  worst < 0 ? "-" : (json_number(worst) + " ms (" + worst_id + ")").c_str());
    return buf;
  }

  static constexpr size_t npos = static_cast<size_t>(-1);

  void on_final(const worker_report& r) {
    auto& cs = *shared_;
    std::lock_guard<std::mutex> guard{cs.mtx};
    cs.ctx->m->merge(from_wire(r));
    for (auto& w : cs.workers)
      if (w.rec.id == r.worker_id)
        w.rec.users = static_cast<uint64_t>(std::max<int64_t>(r.users, 0));
  }

  // Orphans go to the live workers, spread over the scenario's recovery time
  // (a lost worker's users are not all reconnected in one burst).
  void respawn(cluster_state& cs) {
    if (cs.orphans.empty() || !cs.start_unix_ns || cs.alive() == 0)
      return;
    const auto now = ctx_.clock->now_ns();
    const auto& ws = ctx_.sc->workers;
    std::vector<uint64_t> users;
    std::vector<size_t> from;
    users.swap(cs.orphans);
    from.swap(cs.orphaned_by);
    size_t lost_users = 0;
    for (auto f : from)
      lost_users += f != npos;
    if (lost_users > 0 && !ws.respawn) {
      cs.note("phx-fleet: not re-spawning " + std::to_string(lost_users)
                + " users of lost workers (the scenario's workers.respawn is false)",
              "\"event\":\"not_respawned\",\"users\":" + std::to_string(lost_users));
    }
    const double spread_ns = std::max(0.0, ws.recovery_s * 0.5e9);
    const auto n = users.size();
    size_t k = 0;
    std::map<size_t, size_t> per_lost;
    for (size_t i = 0; i < n; ++i) {
      if (from[i] != npos && !ws.respawn)
        continue;
      auto wi = cs.pick();
      auto at = now + lead_ns()
                + static_cast<int64_t>(spread_ns * static_cast<double>(k++) / static_cast<double>(n));
      cs.assign(*wi, users[i], at);
      if (from[i] != npos) {
        ++cs.respawned;
        ++cs.workers[from[i]].rec.respawned;
        ++per_lost[from[i]];
        cs.workers[from[i]].rec.recovered_at = static_cast<double>(at) / 1e9;
      }
    }
    for (auto& [lost, count] : per_lost)
      cs.note("phx-fleet: re-spawning " + std::to_string(count) + " users of worker "
                + cs.workers[lost].rec.id + " on " + std::to_string(cs.alive())
                + " worker(s) over " + json_number(spread_ns / 1e9) + " s",
              "\"event\":\"respawn\",\"worker\":" + json_string(cs.workers[lost].rec.id)
                + ",\"users\":" + std::to_string(count) + ",\"until_s\":"
                + json_number(*cs.workers[lost].rec.recovered_at));
  }

  void flush_notes(progress& prog) {
    std::vector<std::pair<std::string, std::string>> notes;
    {
      std::lock_guard<std::mutex> guard{shared_->mtx};
      notes.swap(shared_->notes);
    }
    for (auto& [text, fields] : notes)
      prog.event("worker", text, fields);
  }

  backend_context ctx_;
  coordinator_options opts_;
  coordinator_config cfg_;
  caf::actor_system sys_;
  std::shared_ptr<cluster_state> shared_;
  coordinator_actor actor_;
  uint16_t port_ = 0;
  std::vector<worker_row> rows_;
};

} // namespace

backend_maker coordinator_backend(const coordinator_options& opts,
                                  const std::string& scenario_file) {
  return [opts, scenario_file](const backend_context& ctx) -> std::unique_ptr<user_backend> {
    if (auto err = links::check(opts.links, opts.listen_host); !err.empty()) {
      std::fprintf(stderr, "phx-fleet coordinator: %s\n", err.c_str());
      return nullptr;
    }
    std::ifstream in{scenario_file};
    if (!in.is_open()) {
      std::fprintf(stderr, "phx-fleet coordinator: cannot read %s\n", scenario_file.c_str());
      return nullptr;
    }
    std::ostringstream text;
    text << in.rdbuf();
    auto b = std::make_unique<cluster_backend>(ctx, opts, text.str());
    if (!b->listen())
      return nullptr;
    return b;
  };
}

} // namespace phx::fleet::cluster
