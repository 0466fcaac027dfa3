#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "phx/actors/channel.hpp"
#include "phx/actors/socket.hpp"
#include "phx/channel.hpp"
#include "phx/push.hpp"
#include "phx/socket.hpp"

namespace phx {

namespace {

caf::timespan to_span(std::chrono::milliseconds ms) {
  return std::chrono::duration_cast<caf::timespan>(ms);
}

push failed_push(const std::shared_ptr<callback_gate>& gate, caf::error err) {
  auto h = std::make_shared<push_hooks>(gate);
  h->resolve({status_of(err), payload{}, std::move(err)});
  return push{h};
}

// Destroys, on a thread of its own, the actor systems released where
// destroying them would wait for actors that need the releasing thread (in a
// callback, on an io thread). One thread, started on first use, for all.
class reaper {
public:
  static reaper& instance() {
    static reaper r;
    return r;
  }

  void add(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      jobs_.push_back(std::move(job));
      if (!thread_.joinable())
        thread_ = std::thread([this] { run(); });
    }
    cv_.notify_one();
  }

  ~reaper() {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable())
      thread_.join();
  }

private:
  void run() {
    std::unique_lock<std::mutex> guard{mutex_};
    for (;;) {
      cv_.wait(guard, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty())
        return; // stopped, and every system is down
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      guard.unlock();
      job();
      job = nullptr;
      guard.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

} // namespace

namespace detail {

/// What a channel facade shares with its callbacks: state mirror and state
/// callbacks. Holds no actor handle (callbacks must not keep actors alive).
struct channel_mirror {
  std::atomic<channel_state> state{channel_state::closed};
  std::mutex mutex;
  std::vector<std::function<void(channel_state)>> callbacks;
};

struct socket_core;

struct channel_core {
  std::weak_ptr<socket_core> socket;
  std::shared_ptr<callback_gate> gate;
  std::string topic;
  /// The CHANNEL: swapped by the supervisor's restart of a dead one.
  channel_actor actor;
  mutable std::mutex actor_mutex;
  std::shared_ptr<channel_hooks> hooks;
  std::shared_ptr<channel_mirror> mirror;
  std::shared_ptr<push_hooks> join_push;
  std::atomic<bool> joined_once{false};
  caf::timespan timeout{};

  channel_actor current() const {
    std::lock_guard<std::mutex> guard{actor_mutex};
    return actor;
  }

  void replace(const channel_actor& hdl) {
    std::lock_guard<std::mutex> guard{actor_mutex};
    actor = hdl;
  }

  /// A guard for a message to the channel: gives the push its outcome if
  /// the message dies unread.
  std::shared_ptr<push_guard> guard(std::shared_ptr<push_hooks> h) const {
    return std::make_shared<push_guard>(std::move(h), hooks);
  }
};

struct socket_core {
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> owned;
  caf::actor_system* sys = nullptr;
  std::shared_ptr<socket_context> ctx;
  std::shared_ptr<socket_hooks> hooks;
  /// The SOCKET: swapped by the supervisor's restart of a dead one.
  socket_actor actor;
  mutable std::mutex actor_mutex;
  std::shared_ptr<std::atomic<connection_state>> state
    = std::make_shared<std::atomic<connection_state>>(connection_state::closed);
  std::mutex mutex;
  /// Channels made by this socket: stopped (and their callbacks dropped) with it.
  std::vector<std::pair<caf::actor_addr, std::weak_ptr<channel_hooks>>> channels;

  ~socket_core() {
    // Callbacks may hold facade handles: drop them first (breaks cycles).
    std::vector<std::pair<caf::actor_addr, std::weak_ptr<channel_hooks>>> chans;
    {
      std::lock_guard<std::mutex> guard{mutex};
      chans.swap(channels);
    }
    for (auto& [addr, weak_hooks] : chans)
      if (auto h = weak_hooks.lock())
        h->clear();
    if (hooks)
      hooks->on_replaced = nullptr;
    if (auto hdl = current())
      caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    for (auto& [addr, weak_hooks] : chans)
      if (auto hdl = caf::actor_cast<caf::actor>(addr))
        caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    actor = nullptr;
    if (!owned)
      return;
    if (callback_gate::in_callback() || transport::io_runtime::on_io_thread()) {
      // Destroying the system here would wait for actors that need this thread.
      // Moved into the job: no reference may stay here, or the last one
      // could drop on this thread after the reaper's.
      reaper::instance().add([sys = std::shared_ptr<caf::actor_system>(owned.release()),
                              conf = std::shared_ptr<caf::actor_system_config>(
                                cfg.release())]() mutable {
        sys.reset();
        conf.reset();
      });
      return;
    }
    owned.reset();
    cfg.reset();
  }

  socket_actor current() const {
    std::lock_guard<std::mutex> guard{actor_mutex};
    return actor;
  }
};

logger logger_of(const channel_core& core) {
  // The socket's logger, so that facade helpers (presence) report where it does.
  if (auto sc = core.socket.lock(); sc && sc->ctx)
    return sc->ctx->options.logger;
  return {};
}

} // namespace detail

// -- push ----------------------------------------------------------------------------

push& push::receive(const std::string& status, std::function<void(const payload&)> callback) {
  hooks_->receive(status, std::move(callback));
  return *this;
}

push_outcome push::wait() const {
  return hooks_->wait();
}

std::optional<push_outcome> push::wait_for(std::chrono::milliseconds timeout) const {
  return hooks_->wait_for(timeout);
}

std::optional<push_outcome> push::outcome() const {
  return hooks_->outcome();
}

// -- channel -------------------------------------------------------------------------

phx::push channel::join(std::optional<std::chrono::milliseconds> timeout) {
  auto& c = *core_;
  if (c.joined_once.exchange(true))
    return failed_push(c.gate, caf::make_error(ec::already_joined,
                                               "tried to join multiple times. 'join' can "
                                               "only be called a single time per channel "
                                               "instance"));
  if (c.socket.expired())
    return failed_push(c.gate, caf::make_error(ec::not_connected, "the socket is gone"));
  auto t = timeout ? to_span(*timeout) : c.timeout;
  caf::anon_send(c.current(), join_atom::value, t, c.guard(c.join_push));
  return phx::push{c.join_push};
}

uint64_t channel::on(const std::string& event, std::function<void(const payload&)> callback) {
  return core_->hooks->on(event, [cb = std::move(callback)](const message& m, const std::string&) {
    cb(m.payload);
  });
}

uint64_t channel::on(const std::string& event, std::function<void(const message&)> callback) {
  return core_->hooks->on(event, [cb = std::move(callback)](const message& m, const std::string&) {
    cb(m);
  });
}

uint64_t channel::on(const std::string& event,
                     std::function<void(const message&, const std::string&)> callback) {
  return core_->hooks->on(event, std::move(callback));
}

void channel::off(const std::string& event, std::optional<uint64_t> ref) {
  core_->hooks->off(event, ref);
}

phx::push channel::push(const std::string& event, payload body,
                        std::optional<std::chrono::milliseconds> timeout) {
  auto& c = *core_;
  if (c.socket.expired())
    return failed_push(c.gate, caf::make_error(ec::not_connected, "the socket is gone"));
  auto h = std::make_shared<push_hooks>(c.gate);
  auto t = timeout ? to_span(*timeout) : c.timeout;
  if (auto err = c.hooks->end())
    h->resolve({status_of(err), payload{}, err});
  else
    caf::anon_send(c.current(), push_atom::value, event, std::move(body), t, c.guard(h));
  return phx::push{h};
}

phx::push channel::leave(std::optional<std::chrono::milliseconds> timeout) {
  auto& c = *core_;
  if (c.socket.expired())
    return failed_push(c.gate, caf::make_error(ec::not_connected, "the socket is gone"));
  auto h = std::make_shared<push_hooks>(c.gate);
  auto t = timeout ? to_span(*timeout) : c.timeout;
  caf::anon_send(c.current(), leave_atom::value, t, c.guard(h));
  return phx::push{h};
}

uint64_t channel::on_close(std::function<void(const payload&)> callback) {
  return on(std::string{protocol::events::close}, std::move(callback));
}

uint64_t channel::on_error(std::function<void(const payload&)> callback) {
  return on(std::string{protocol::events::error}, std::move(callback));
}

void channel::on_message(std::function<payload(const message&)> hook) {
  core_->hooks->set_transform(std::move(hook));
}

void channel::on_state(std::function<void(channel_state)> callback) {
  std::lock_guard<std::mutex> guard{core_->mirror->mutex};
  core_->mirror->callbacks.push_back(std::move(callback));
}

channel_state channel::state() const {
  return core_->mirror->state.load();
}

const std::string& channel::topic() const {
  return core_->topic;
}

channel_actor channel::actor() const {
  return core_->current();
}

// -- socket --------------------------------------------------------------------------

uint32_t socket::DEFAULT_RECONNECT_AFTER_MS(uint32_t tries) {
  return static_cast<uint32_t>(protocol::default_reconnect_after_ms(tries));
}

uint32_t socket::DEFAULT_REJOIN_AFTER_MS(uint32_t tries) {
  return static_cast<uint32_t>(protocol::default_rejoin_after_ms(tries));
}

namespace {

protocol::endpoint parse_or_throw(std::string_view endpoint) {
  auto ep = protocol::parse_endpoint(endpoint);
  if (!ep)
    throw error("invalid endpoint: " + ep.error().what);
  return std::move(*ep);
}

protocol::json_document to_document(const payload& p) {
  if (!p.is_json() || p.json().IsNull())
    return protocol::json_document{};
  return protocol::copy_json(p.json());
}

} // namespace

socket::socket(std::string_view endpoint, options opts) {
  init(nullptr, parse_or_throw(endpoint), std::move(opts));
}

socket::socket(const std::string& host, const std::string& path,
               std::optional<uint16_t> port, bool tls, options opts) {
  auto ep = protocol::make_endpoint(host, path, port, tls);
  if (!ep)
    throw error("invalid endpoint: " + ep.error().what);
  init(nullptr, std::move(*ep), std::move(opts));
}

socket::socket(caf::actor_system& sys, std::string_view endpoint, options opts) {
  init(&sys, parse_or_throw(endpoint), std::move(opts));
}

socket::socket(std::string_view endpoint) : socket(endpoint, options{}) {
  // nop
}

socket::socket(const std::string& host, const std::string& path,
               std::optional<uint16_t> port, bool tls)
  : socket(host, path, port, tls, options{}) {
  // nop
}

socket::socket(caf::actor_system& sys, std::string_view endpoint)
  : socket(sys, endpoint, options{}) {
  // nop
}

socket::~socket() = default;

void socket::init(caf::actor_system* sys, protocol::endpoint ep, options opts) {
  auto core = std::make_shared<detail::socket_core>();
  if (sys == nullptr) {
    core->cfg = std::make_unique<caf::actor_system_config>();
    add_message_types(*core->cfg);
    use_io_scheduler(*core->cfg);
    core->owned = std::make_unique<caf::actor_system>(*core->cfg);
    sys = core->owned.get();
  }
  core->sys = sys;
  core->hooks = std::make_shared<socket_hooks>();
  core->hooks->on_state = [state = core->state](phx::connection_state s) { state->store(s); };
  socket_options so;
  so.endpoint = std::move(ep);
  if (opts.params_fn) {
    so.params = [f = opts.params_fn] { return to_document(f()); };
  } else if (opts.params.is_json() && !opts.params.json().IsNull()) {
    if (!opts.params.json().IsObject())
      throw error("socket params must be a JSON object");
    so.params = [p = opts.params] { return to_document(p); };
  }
  so.headers = std::move(opts.headers);
  so.auth_token = std::move(opts.auth_token);
  so.vsn = opts.vsn;
  if (opts.encode || opts.decode) {
    auto base = protocol::make_serializer(opts.vsn, protocol::role::client);
    if (!base)
      throw error(base.error().what);
    so.serializer = std::make_shared<protocol::custom_serializer>(
      std::move(*base), std::move(opts.encode), std::move(opts.decode));
  }
  so.timeout = std::chrono::milliseconds{opts.timeout};
  so.heartbeat_interval = std::chrono::milliseconds{opts.heartbeat_interval_ms};
  if (opts.reconnect_after_ms)
    so.reconnect_after_ms = [f = opts.reconnect_after_ms](uint32_t t) -> int64_t { return f(t); };
  if (opts.rejoin_after_ms)
    so.rejoin_after_ms = [f = opts.rejoin_after_ms](uint32_t t) -> int64_t { return f(t); };
  so.reconnect_jitter_ms = opts.reconnect_jitter_ms;
  so.rejoin_jitter_ms = opts.rejoin_jitter_ms;
  so.tls = std::move(opts.tls);
  so.max_send_buffer_frames = opts.max_send_buffer_frames;
  so.max_send_buffer_bytes = opts.max_send_buffer_bytes;
  so.max_push_buffer = opts.max_push_buffer;
  so.max_frame_size = opts.max_frame_size;
  so.max_inbound_frames = opts.max_inbound_frames;
  so.max_inbound_bytes = opts.max_inbound_bytes;
  so.max_outbound_frames = opts.max_outbound_frames;
  so.max_outbound_bytes = opts.max_outbound_bytes;
  so.max_subscriber_queue = opts.max_subscriber_queue;
  so.transport = opts.transport;
  if (opts.long_poll_fallback_ms)
    so.long_poll_fallback = std::chrono::milliseconds{*opts.long_poll_fallback_ms};
  so.longpoller_timeout = std::chrono::milliseconds{opts.longpoller_timeout_ms};
  so.compress = opts.compress;
  so.remember_fallback = opts.remember_fallback;
  so.transport_memory = std::move(opts.transport_memory);
  so.open_timeout = std::chrono::milliseconds{opts.open_timeout_ms};
  so.close_timeout = std::chrono::milliseconds{opts.close_timeout_ms};
  so.logger = phx::logger{opts.log_level, std::move(opts.logger)};
  so.callback_failure = opts.callback_failure;
  so.max_restarts = opts.max_restarts;
  so.restart_window = std::chrono::milliseconds{opts.restart_window_ms};
  so.hooks = core->hooks;
  auto ctx = make_socket_context(std::move(so));
  if (!ctx)
    throw error(to_string(ctx.error()));
  core->ctx = *ctx;
  core->hooks->on_replaced = [weak = std::weak_ptr<detail::socket_core>{core}](
                               const socket_actor& hdl) {
    if (auto sc = weak.lock()) {
      std::lock_guard<std::mutex> guard{sc->actor_mutex};
      sc->actor = hdl;
    }
  };
  core->actor = spawn_socket(*sys, core->ctx);
  core_ = std::move(core);
}

void socket::connect() {
  caf::anon_send(core_->current(), connect_atom::value);
}

void socket::disconnect(std::function<void()> callback, uint16_t code, std::string reason) {
  auto gate = core_->hooks->gate;
  core_->sys->spawn([hdl = core_->current(), gate, cb = std::move(callback), code,
                     reason = std::move(reason)](caf::event_based_actor* self) mutable {
    self->request(hdl, caf::infinite, disconnect_atom::value, code, std::move(reason))
      .then(
        [gate, cb](phx::connection_state) {
          if (cb)
            gate->run("disconnect", [&] { cb(); });
          take_faults(); // reported by the gate; no actor here to restart
        },
        [gate, cb](caf::error&) {
          // The socket is gone: it is disconnected all the same.
          if (cb)
            gate->run("disconnect", [&] { cb(); });
          take_faults();
        });
  });
}

void socket::disconnect_and_wait(uint16_t code, std::string reason) {
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  disconnect([done] { done->set_value(); }, code, std::move(reason));
  fut.wait();
}

bool socket::connected() const {
  return core_->state->load() == connection_state::open;
}

phx::connection_state socket::state() const {
  return core_->state->load();
}

phx::connection_state socket::connection_state() const {
  return state();
}

std::string socket::connection_state_name() const {
  return to_string(state());
}

transport::transport_kind socket::transport() const {
  return core_->ctx->transport.load();
}

phx::channel socket::channel(const std::string& topic, payload params) {
  return channel(topic, std::function<payload()>{[params] { return params; }});
}

phx::channel socket::channel(const std::string& topic, std::function<payload()> params) {
  auto& sc = *core_;
  auto cc = std::make_shared<detail::channel_core>();
  cc->socket = core_;
  cc->gate = sc.hooks->gate;
  cc->topic = topic;
  cc->timeout = sc.ctx->options.timeout;
  cc->hooks = std::make_shared<channel_hooks>(sc.hooks->gate);
  cc->mirror = std::make_shared<detail::channel_mirror>();
  cc->hooks->set_on_state([mirror = cc->mirror](channel_state s) {
    mirror->state.store(s);
    std::vector<std::function<void(channel_state)>> snapshot;
    {
      std::lock_guard<std::mutex> guard{mirror->mutex};
      snapshot = mirror->callbacks;
    }
    for (auto& f : snapshot)
      f(s);
  });
  cc->join_push = std::make_shared<push_hooks>(sc.hooks->gate, true);
  cc->hooks->set_on_join([jp = cc->join_push](const reply& r, const caf::error& why) {
    // The facade keeps the join outcome for as long as the channel: own it.
    // A timed-out attempt carries its code, as a push's timeout does.
    auto err = why;
    if (!err && r.status == "timeout")
      err = caf::make_error(ec::join_timeout, "no join reply in time");
    jp->resolve({r.status, r.response.detached(), std::move(err)});
  });
  cc->hooks->set_on_replaced([weak = std::weak_ptr<detail::channel_core>{cc}](
                               const channel_actor& hdl) {
    if (auto c = weak.lock())
      c->replace(hdl);
  });
  channel_options opts;
  opts.topic = topic;
  opts.params = std::move(params);
  opts.hooks = cc->hooks;
  auto sock = sc.current();
  cc->actor = spawn_channel(*sc.sys, sock, sc.ctx, std::move(opts));
  {
    std::lock_guard<std::mutex> guard{sc.mutex};
    // Forget channels that are gone, so the list stays bounded.
    auto& list = sc.channels;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [](auto& e) { return e.second.expired(); }),
               list.end());
    list.emplace_back(cc->actor.address(), cc->hooks);
  }
  caf::anon_send(sock, channel_atom::value, cc->actor, topic);
  return phx::channel{std::move(cc)};
}

void socket::remove(const phx::channel& ch) {
  caf::anon_send(core_->current(), remove_atom::value, ch.actor());
}

uint64_t socket::on_open(std::function<void()> callback) {
  auto ref = core_->hooks->make_ref();
  core_->hooks->on_open.add(ref, std::move(callback));
  return ref;
}

uint64_t socket::on_close(std::function<void(uint16_t, const std::string&)> callback) {
  auto ref = core_->hooks->make_ref();
  core_->hooks->on_close.add(ref, std::move(callback));
  return ref;
}

uint64_t socket::on_error(std::function<void(const std::string&, int)> callback) {
  auto ref = core_->hooks->make_ref();
  core_->hooks->on_error.add(ref, std::move(callback));
  return ref;
}

uint64_t socket::on_message(std::function<void(const message&)> callback) {
  auto ref = core_->hooks->make_ref();
  core_->hooks->on_message.add(ref, std::move(callback));
  return ref;
}

void socket::off(const std::vector<uint64_t>& refs) {
  auto& h = *core_->hooks;
  for (auto ref : refs) {
    h.on_open.remove(ref);
    h.on_close.remove(ref);
    h.on_error.remove(ref);
    h.on_message.remove(ref);
  }
}

bool socket::ping(std::function<void(std::chrono::milliseconds)> callback) {
  if (!connected())
    return false;
  auto gate = core_->hooks->gate;
  core_->sys->spawn([hdl = core_->current(), gate,
                     cb = std::move(callback)](caf::event_based_actor* self) {
    self->request(hdl, caf::infinite, ping_atom::value)
      .then(
        [gate, cb](caf::timespan rtt) {
          gate->run("ping", [&] {
            cb(std::chrono::duration_cast<std::chrono::milliseconds>(rtt));
          });
          take_faults(); // reported by the gate; no actor here to restart
        },
        [](caf::error&) {
          // The connection closed before the reply: no round trip to report.
        });
  });
  return true;
}

socket_stats socket::stats() const {
  caf::scoped_actor self{*core_->sys};
  socket_stats out;
  self->request(core_->current(), std::chrono::seconds{5}, stats_atom::value)
    .receive([&](socket_stats s) { out = s; }, [](caf::error&) {});
  return out;
}

socket_actor socket::actor() const {
  return core_->current();
}

caf::actor_system& socket::system() const {
  return *core_->sys;
}

std::string socket::endpoint_url() const {
  auto& ctx = *core_->ctx;
  return protocol::websocket_url(ctx.options.endpoint, nullptr, ctx.serializer->vsn());
}

} // namespace phx
