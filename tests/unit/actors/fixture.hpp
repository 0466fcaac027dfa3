#pragma once

// Deterministic fixture: CAF's test coordinator (virtual time, one thread)
// and a fake TRANSPORT that records what the SOCKET sends. The test plays the
// server by feeding frames to the socket as the real transport would.

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "phx/actors/actors.hpp"
#include "phx/actors/channel.hpp"
#include "phx/actors/hooks.hpp"
#include "phx/actors/options.hpp"
#include "phx/actors/socket.hpp"
#include "phx/protocol/serializer.hpp"

namespace phx_test {

using namespace std::chrono_literals;
using phx::protocol::message;
using phx::protocol::payload;

/// What one fake transport saw.
struct transport_log {
  phx::transport::generation gen = 0;
  phx::transport::connect_request req;
  std::vector<phx::protocol::frame> frames;
  int closes = 0;
  uint16_t close_code = 0;
  std::string close_reason;
  int aborts = 0;
};

inline phx::transport::transport_actor::behavior_type
fake_transport(phx::transport::transport_actor::pointer self,
               std::shared_ptr<transport_log> log) {
  return {
    [log](phx::transport::frame_atom, phx::protocol::frame& f) {
      log->frames.push_back(std::move(f));
    },
    [log](phx::transport::frame_atom, std::vector<phx::protocol::frame>& fs) {
      for (auto& f : fs)
        log->frames.push_back(std::move(f));
    },
    [log](phx::transport::close_atom, uint16_t code, std::string& reason) {
      ++log->closes;
      log->close_code = code;
      log->close_reason = reason;
    },
    [self, log](phx::transport::abort_atom) {
      ++log->aborts;
      self->quit();
    },
  };
}

/// Parses JSON text (test input, must be valid).
inline payload json(const char* text) {
  auto p = payload::parse(text);
  BOOST_REQUIRE_MESSAGE(p, text);
  return *p;
}

struct config : caf::actor_system_config {
  config() {
    set("scheduler.policy", caf::atom("testing"));
    phx::add_message_types(*this);
  }
};

/// A deterministic actor system with one socket and a fake transport per
/// connection attempt.
struct fixture {
  config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched
    = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  std::vector<std::shared_ptr<transport_log>> transports;
  std::vector<phx::transport::transport_actor> transport_handles;
  std::shared_ptr<phx::socket_hooks> hooks = std::make_shared<phx::socket_hooks>();
  std::shared_ptr<phx::socket_context> ctx;
  phx::socket_actor socket;
  phx::protocol::v2_serializer server{phx::protocol::role::server};
  phx::protocol::v2_serializer client{phx::protocol::role::client};
  std::vector<std::string> log_lines;

  /// Default options: endpoint ws://localhost:4000/socket, fake transports.
  phx::socket_options options() {
    phx::socket_options opts;
    opts.endpoint = *phx::protocol::parse_endpoint("ws://localhost:4000/socket");
    opts.hooks = hooks;
    opts.logger = phx::logger{phx::log_level::debug,
                              [this](phx::log_level, std::string_view c, std::string_view t) {
                                log_lines.push_back(std::string{c} + ": " + std::string{t});
                              }};
    opts.transport_factory = [this](caf::actor_system& s, phx::transport::listener_actor,
                                    phx::transport::generation gen,
                                    phx::transport::connect_request req) {
      auto log = std::make_shared<transport_log>();
      log->gen = gen;
      log->req = std::move(req);
      transports.push_back(log);
      auto hdl = s.spawn(fake_transport, log);
      transport_handles.push_back(hdl);
      return hdl;
    };
    return opts;
  }

  void start(phx::socket_options opts) {
    auto made = phx::make_socket_context(std::move(opts));
    BOOST_REQUIRE(made);
    ctx = *made;
    socket = phx::spawn_socket(sys, ctx);
    run();
  }

  fixture() = default;

  ~fixture() {
    // The test coordinator runs nothing by itself: stop every actor the test
    // made, then let them finish (the system waits for all actors).
    if (socket)
      caf::anon_send_exit(socket, caf::exit_reason::user_shutdown);
    for (auto& c : channels)
      caf::anon_send_exit(c->hdl, caf::exit_reason::user_shutdown);
    for (auto& t : transport_handles)
      caf::anon_send_exit(t, caf::exit_reason::user_shutdown);
    for (auto& a : helpers)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    run();
    // Hooks capture their channel records: break the cycles.
    for (auto& c : channels)
      c->hooks->clear();
    channels.clear();
  }

  /// Spawns a helper actor that the fixture stops at the end.
  template <class F>
  auto spawn(F fun) {
    auto hdl = sys.spawn(std::move(fun));
    helpers.push_back(caf::actor_cast<caf::actor>(hdl));
    return hdl;
  }

  std::vector<caf::actor> helpers;

  void run() { sched.run(); }

  /// Advances virtual time and runs everything that became due.
  void advance(caf::timespan d) {
    sched.advance_time(d);
    run();
  }

  /// Advances in 1 ms steps until `pred` holds (bounded by `limit`); returns
  /// the virtual time it took.
  template <class Pred>
  caf::timespan advance_until(Pred pred, caf::timespan limit = 120s) {
    caf::timespan waited{0};
    while (!pred() && waited < limit) {
      advance(1ms);
      waited += 1ms;
    }
    return waited;
  }

  std::shared_ptr<transport_log> current() {
    BOOST_REQUIRE(!transports.empty());
    return transports.back();
  }

  void connect() {
    caf::anon_send(socket, phx::connect_atom::value);
    run();
  }

  /// Sends the socket a report as the transport of generation `gen` does
  /// (the socket refuses transport reports from anyone else).
  template <class... Ts>
  void report(phx::transport::generation gen, Ts&&... xs) {
    // The newest first: a restarted socket counts its generations anew.
    for (size_t i = transports.size(); i-- > 0;)
      if (transports[i]->gen == gen) {
        caf::send_as(caf::actor_cast<caf::actor>(transport_handles.at(i)), socket,
                     std::forward<Ts>(xs)...);
        return;
      }
    BOOST_FAIL("no transport of generation " << gen);
  }

  /// The current transport reports that it opened, over the kind it was asked for.
  void open() {
    report(current()->gen, phx::opened_atom::value, current()->gen, current()->req.kind);
    run();
  }

  void connect_and_open() {
    connect();
    open();
  }

  /// The server sends a message (encoded by the server-side serializer).
  void receive(const message& msg) {
    auto f = server.encode(msg);
    BOOST_REQUIRE(f);
    receive_frame(std::move(*f));
  }

  /// Hands a frame to the socket the way the real transport does: with a
  /// ticket of the connection's inbound credit.
  void send_frame(phx::protocol::frame f) {
    auto& credit = current()->req.inbound;
    phx::flow_ticket ticket;
    if (credit) {
      credit->take(f.data.size());
      ticket = phx::flow_ticket{credit, f.data.size()};
    }
    std::vector<phx::protocol::frame> frames;
    frames.push_back(std::move(f));
    report(current()->gen, phx::frame_atom::value, current()->gen, std::move(frames),
                   std::move(ticket));
  }

  void receive_frame(phx::protocol::frame f) {
    send_frame(std::move(f));
    run();
  }

  void receive_text(const std::string& text) {
    receive_frame(phx::protocol::frame{phx::protocol::frame_type::text, text});
  }

  void reply(std::optional<std::string> join_ref, const std::string& ref,
             const std::string& topic, const std::string& status,
             payload response = payload{}) {
    receive(message::reply(std::move(join_ref), ref, topic, status, std::move(response)));
  }

  /// The server closes the current connection.
  void close(uint16_t code = 1000, const std::string& reason = "") {
    report(current()->gen, phx::closed_atom::value, current()->gen, code, reason);
    run();
  }

  void fail(const std::string& reason, int status = 0) {
    report(current()->gen, phx::failed_atom::value, current()->gen,
                   phx::transport::connect_failure{reason, status});
    run();
  }

  /// Every message sent through transport `i` (default: the current one).
  std::vector<message> sent(std::optional<size_t> i = std::nullopt) {
    auto& log = i ? transports.at(*i) : transports.back();
    std::vector<message> out;
    for (auto& f : log->frames) {
      auto m = server.decode(f.type, std::string_view{f.data});
      BOOST_REQUIRE_MESSAGE(m, f.data);
      out.push_back(std::move(*m));
    }
    return out;
  }

  /// Messages sent with `event` through the current transport.
  std::vector<message> sent_events(const std::string& event) {
    std::vector<message> out;
    for (auto& m : sent())
      if (m.event == event)
        out.push_back(m);
    return out;
  }

  /// The last message sent through the current transport.
  message last_sent() {
    auto all = sent();
    BOOST_REQUIRE(!all.empty());
    return all.back();
  }

  /// A channel created through the facade path (caller-spawned, routed).
  struct chan {
    phx::channel_actor hdl;
    std::shared_ptr<phx::channel_hooks> hooks;
    std::vector<message> events;
    std::vector<phx::channel_state> states;
    std::vector<std::string> joins;
  };
  std::vector<std::shared_ptr<chan>> channels;

  std::shared_ptr<chan> channel(const std::string& topic,
                                std::function<payload()> params = {}) {
    auto c = std::make_shared<chan>();
    c->hooks = std::make_shared<phx::channel_hooks>(hooks->gate);
    c->hooks->set_on_state([c](phx::channel_state s) { c->states.push_back(s); });
    c->hooks->set_on_join([c](const phx::reply& r) { c->joins.push_back(r.status); });
    for (auto ev : {"phx_error", "phx_close", "shout", "evt", "presence_state",
                    "presence_diff", "bin"})
      c->hooks->on(ev, [c](const message& m, const std::string&) { c->events.push_back(m); });
    phx::channel_options opts;
    opts.topic = topic;
    opts.params = params ? std::move(params) : [] { return payload{}; };
    opts.hooks = c->hooks;
    c->hdl = phx::spawn_channel(sys, socket, ctx, std::move(opts));
    channels.push_back(c);
    caf::anon_send(socket, phx::channel_atom::value, c->hdl, topic);
    run();
    return c;
  }

  void join(const std::shared_ptr<chan>& c, caf::timespan timeout = 10s) {
    caf::anon_send(c->hdl, phx::join_atom::value, timeout);
    run();
  }

  /// Joins and answers the join with ok; returns the join_ref.
  std::string join_ok(const std::shared_ptr<chan>& c) {
    join(c);
    auto j = last_sent();
    BOOST_REQUIRE_EQUAL(j.event, "phx_join");
    BOOST_REQUIRE_MESSAGE(j.ref && j.join_ref, "a phx_join without ref or join_ref");
    reply(j.join_ref, *j.ref, j.topic, "ok");
    BOOST_REQUIRE(state_of(c) == phx::channel_state::joined);
    return *j.join_ref;
  }

  /// What the facade sends with a push, leave or join: the hooks in a guard.
  static std::shared_ptr<phx::push_guard> guard(std::shared_ptr<phx::push_hooks> h) {
    return std::make_shared<phx::push_guard>(std::move(h), nullptr);
  }

  /// Pushes through the facade path; the hooks record the outcome.
  std::shared_ptr<phx::push_hooks> push(const std::shared_ptr<chan>& c,
                                        const std::string& event, payload p = payload{},
                                        caf::timespan timeout = 10s) {
    auto h = std::make_shared<phx::push_hooks>(hooks->gate);
    caf::anon_send(c->hdl, phx::push_atom::value, event, std::move(p), timeout, guard(h));
    run();
    return h;
  }

  phx::socket_state& sock_state() {
    return deref<phx::socket_state>(socket);
  }

  phx::channel_state state_of(const std::shared_ptr<chan>& c) {
    return deref<phx::channel_actor_state>(c->hdl).state;
  }

  template <class State, class Handle>
  static State& deref(const Handle& hdl) {
    auto ptr = caf::actor_cast<caf::abstract_actor*>(hdl);
    BOOST_REQUIRE(ptr != nullptr);
    return dynamic_cast<caf::stateful_actor<State, typename Handle::base>&>(*ptr).state;
  }

  bool logged(const std::string& needle) const {
    for (auto& l : log_lines)
      if (l.find(needle) != std::string::npos)
        return true;
    return false;
  }
};

} // namespace phx_test
