#pragma once

// Loopback fixture of the transport tests: a real actor system (CAF's default
// scheduler, or phx's io scheduler in the `_io` run), a scoped actor playing
// the listener (the SOCKET's role), the process-wide io runtime and bounded
// waits for every report.

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <deque>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include "phx/transport/transport.hpp"
#include "phx_test/raw_server.hpp"
#include "phx_test/scheduler.hpp"

// The courier below takes a transport's log sink in a message (local only).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(phx::protocol::log_sink)

namespace phx_test {

using namespace std::chrono_literals;
using phx::protocol::frame;
using phx::protocol::frame_type;
namespace tr = phx::transport;

/// The bound of every wait.
constexpr auto max_wait = 10s;

/// One report as the listener got it.
struct report {
  enum kind_t { opened, data, closed, failed, timeout } kind = timeout;
  tr::generation gen = 0;
  frame f;
  uint16_t code = 0;
  std::string reason;
  tr::connect_failure failure;
};

inline std::ostream& operator<<(std::ostream& out, const report& r) {
  static const char* names[] = {"opened", "frame", "closed", "failed", "timeout"};
  out << names[r.kind] << "(gen " << r.gen;
  if (r.kind == report::data)
    out << ", " << to_string(r.f.type) << " of " << r.f.data.size() << " bytes";
  if (r.kind == report::closed)
    out << ", " << r.code << ", \"" << r.reason << "\"";
  if (r.kind == report::failed)
    out << ", \"" << r.failure.reason << "\", HTTP " << r.failure.http_status;
  return out << ")";
}

/// Collects log lines from any thread.
struct log_capture {
  struct line {
    phx::protocol::log_level level;
    std::string component;
    std::string text;
  };

  std::shared_ptr<std::vector<line>> lines = std::make_shared<std::vector<line>>();

  /// One static mutex for every capture, taken once here: the io threads get
  /// the capture through CAF, which ThreadSanitizer cannot follow, so the
  /// construction is published through a lock it sees (tools/check --tsan).
  log_capture() { std::lock_guard<std::mutex> guard{mutex()}; }

  phx::protocol::log_sink sink() const {
    return [lines = lines](phx::protocol::log_level level,
                           std::string_view component, std::string_view text) {
      std::lock_guard<std::mutex> guard{mutex()};
      lines->push_back({level, std::string{component}, std::string{text}});
    };
  }

  std::vector<line> snapshot() const {
    std::lock_guard<std::mutex> guard{mutex()};
    return *lines;
  }

  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }

  /// True if some line of this level (or any if `off`) contains `text`.
  bool contains(std::string_view text,
                phx::protocol::log_level level = phx::protocol::log_level::off) const {
    for (auto& l : snapshot())
      if ((level == phx::protocol::log_level::off || l.level == level)
          && l.text.find(text) != std::string::npos)
        return true;
    return false;
  }
};

/// A port on 127.0.0.1 nobody listens on (bound, then released).
inline uint16_t closed_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acc{ioc, {boost::asio::ip::address_v4::loopback(), 0}};
  return acc.local_endpoint().port();
}

/// Options for a raw_server, set by `f` (C++17 has no designated initializers).
template <class F>
raw_server_options options(F f) {
  raw_server_options opts;
  f(opts);
  return opts;
}

/// Plays the listener (the SOCKET's role) for the test thread: forwards every
/// report to `to`. Spawned by the courier; see there why (here the io thread
/// writes and the test thread reads).
inline caf::behavior listener_relay(caf::event_based_actor* self, caf::actor to) {
  // Each handler takes const references: sending one copies it, on this worker.
  return {
    [self, to](tr::opened_atom, tr::generation gen, tr::transport_kind kind) {
      self->send(to, tr::opened_atom::value, gen, kind);
    },
    [self, to](tr::frame_atom, tr::generation gen, const std::vector<frame>& fs,
               tr::flow_ticket& ticket) {
      self->send(to, tr::frame_atom::value, gen, fs, std::move(ticket));
    },
    [self, to](tr::closed_atom, tr::generation gen, uint16_t code,
               const std::string& reason) {
      self->send(to, tr::closed_atom::value, gen, code, reason);
    },
    [self, to](tr::failed_atom, tr::generation gen, const tr::connect_failure& f) {
      self->send(to, tr::failed_atom::value, gen, f);
    },
  };
}

/// Spawns transports and sends them frames for the test thread from a CAF
/// actor that builds every message anew, as the SOCKET does: what the test
/// thread wrote then reaches the io thread only through data a CAF worker
/// wrote. ThreadSanitizer cannot see CAF hand a message from a non-CAF thread
/// to an actor (Debian's CAF is not instrumented) and would report the test's
/// own writes against the io thread's reads (docs/reliability.md "Sanitizers").
inline caf::actor spawn_courier(caf::actor_system& sys) {
  return sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    // Const references again: every send and spawn copies on this worker.
    return {
      [self](const tr::listener_actor& listener, tr::generation gen,
             const tr::connect_request& req,
             const phx::protocol::log_sink& log) -> tr::transport_actor {
        return tr::spawn_transport(self->system(), listener, gen, req, log);
      },
      [self](const tr::transport_actor& t, tr::frame_atom, const frame& f) {
        self->send(t, tr::frame_atom::value, f);
      },
      [self](const tr::transport_actor& t, tr::frame_atom,
             const std::vector<frame>& fs) {
        self->send(t, tr::frame_atom::value, fs);
      },
      [self](const tr::transport_actor& t, tr::close_atom, uint16_t code,
             const std::string& reason) {
        self->send(t, tr::close_atom::value, code, reason);
      },
      [self](const tr::transport_actor& t, tr::abort_atom) {
        self->send(t, tr::abort_atom::value);
      },
      [self](caf::delete_atom, caf::actor&, std::vector<tr::transport_actor>&) {
        self->quit();
      },
      // The relay too is made on a worker: the io threads send to it.
      [self](caf::spawn_atom, caf::actor& to) -> caf::actor {
        return self->spawn(listener_relay, std::move(to));
      },
    };
  });
}

/// The config of a test's actor system: the run's scheduler.
struct test_config : caf::actor_system_config {
  test_config() { apply_test_scheduler(*this); }
};

struct transport_fixture {
  test_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  std::shared_ptr<tr::io_runtime> runtime = tr::io_runtime::instance();
  caf::actor courier = spawn_courier(sys);
  caf::actor relay = spawn_relay();
  std::vector<tr::transport_actor> spawned;
  /// Frames of a batch not yet handed out by next().
  std::deque<report> batched_;

  ~transport_fixture() {
    // Leftovers must not keep the actor system from shutting down.
    for (auto& t : spawned)
      caf::anon_send_exit(t, caf::exit_reason::kill);
    caf::anon_send_exit(relay, caf::exit_reason::kill);
    // The last references go on a worker (see listener_relay); then it quits.
    self->send(courier, caf::delete_atom::value, std::move(relay), std::move(spawned));
  }

  caf::actor spawn_relay() {
    caf::actor hdl;
    self->request(courier, caf::infinite, caf::spawn_atom::value, caf::actor{self.ptr()})
      .receive([&](caf::actor& relay) { hdl = std::move(relay); },
               [&](caf::error& err) {
                 BOOST_FAIL("the courier could not spawn the relay: " << sys.render(err));
               });
    return hdl;
  }

  /// Sends `xs...` to `t` through the courier (frames, close or abort); the
  /// courier's sends keep the order of these calls.
  template <class... Ts>
  void send(const tr::transport_actor& t, Ts&&... xs) {
    self->send(courier, t, std::forward<Ts>(xs)...);
  }

  /// The listener (the SOCKET's role): the relay to the scoped actor.
  tr::listener_actor listener() {
    return caf::actor_cast<tr::listener_actor>(relay);
  }

  /// A request for `url` with short timeouts fit for loopback tests.
  static tr::connect_request request(std::string url) {
    tr::connect_request req;
    req.url = std::move(url);
    req.open_timeout_ms = 5000;
    req.close_timeout_ms = 2000;
    return req;
  }

  /// Spawns a transport reporting to the scoped actor (through the courier).
  tr::transport_actor spawn(tr::generation gen, tr::connect_request req,
                            phx::protocol::log_sink log = {}) {
    return spawn_for(listener(), gen, std::move(req), std::move(log));
  }

  /// Spawns a transport reporting to `to` (through the courier).
  tr::transport_actor spawn_for(tr::listener_actor to, tr::generation gen,
                                tr::connect_request req,
                                phx::protocol::log_sink log = {}) {
    tr::transport_actor t;
    self->request(courier, caf::infinite, std::move(to), gen, std::move(req),
                  std::move(log))
      .receive([&](tr::transport_actor& hdl) { t = std::move(hdl); },
               [&](caf::error& err) {
                 BOOST_FAIL("the courier could not spawn: " << sys.render(err));
               });
    spawned.push_back(t);
    return t;
  }

  /// The next report, or `timeout` after `wait`.
  report next(std::chrono::milliseconds wait = max_wait) {
    // One message brings every frame of a read: hand them out one by one.
    if (!batched_.empty()) {
      auto r = std::move(batched_.front());
      batched_.pop_front();
      return r;
    }
    report r;
    self->receive(
      [&](tr::opened_atom, tr::generation gen, tr::transport_kind) {
        r.kind = report::opened;
        r.gen = gen;
      },
      [&](tr::frame_atom, tr::generation gen, std::vector<frame>& fs, tr::flow_ticket&) {
        for (auto& f : fs) {
          report one;
          one.kind = report::data;
          one.gen = gen;
          one.f = std::move(f);
          batched_.push_back(std::move(one));
        }
        if (!batched_.empty()) {
          r = std::move(batched_.front());
          batched_.pop_front();
        }
      },
      [&](tr::closed_atom, tr::generation gen, uint16_t code, std::string& reason) {
        r.kind = report::closed;
        r.gen = gen;
        r.code = code;
        r.reason = std::move(reason);
      },
      [&](tr::failed_atom, tr::generation gen, tr::connect_failure& failure) {
        r.kind = report::failed;
        r.gen = gen;
        r.failure = std::move(failure);
      },
      caf::after(wait) >> [&] { r.kind = report::timeout; });
    return r;
  }

  /// Waits for the `down_msg` of a monitored actor; false on timeout.
  bool wait_down(const caf::actor_addr& who,
                 std::chrono::milliseconds wait = max_wait) {
    bool down = false;
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (!down && std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      bool timed_out = false;
      self->receive([&](caf::down_msg& msg) { down = msg.source == who; },
                    caf::after(left) >> [&] { timed_out = true; });
      if (timed_out)
        break;
    }
    return down;
  }

  /// Waits until the runtime owns no connection; false on timeout (a leak).
  bool wait_no_connections(std::chrono::milliseconds wait = max_wait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (runtime->connections() != 0) {
      if (std::chrono::steady_clock::now() >= deadline)
        return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }
};

} // namespace phx_test
