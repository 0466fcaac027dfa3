#include "phx/transport/transport.hpp"

#include <caf/actor_cast.hpp>
#include <caf/system_messages.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "connection.hpp"
#include "io_runtime_impl.hpp"

// The TRANSPORT actor is thin: it forwards each request to the io side of its
// connection (one post per message) and quits when the io side reports
// `done`. Inbound frames and all reports go from the io thread straight to the
// listener; see connection.cpp for the ordering contract.

namespace phx::transport {

namespace {

using detail::done_atom;
using detail::transport_impl_actor;

struct transport_state {
  /// Keeps the io threads alive while this actor lives (the process-wide
  /// instance holds them until exit anyway).
  std::shared_ptr<io_runtime> runtime;
  /// The io side of this actor's one connection.
  std::shared_ptr<detail::connection> conn;

  static inline const char* name = "phx.transport";

  transport_state() = default;
  transport_state(const transport_state&) = delete;
  transport_state& operator=(const transport_state&) = delete;

  ~transport_state() {
    // Killed, or its owner or listener died: the link goes at once. After
    // `done` this is a no-op on the io side.
    if (conn)
      conn->abort("transport terminated");
  }
};

transport_impl_actor::behavior_type
transport_fn(transport_impl_actor::stateful_pointer<transport_state> self,
             listener_actor listener, generation gen,
             std::shared_ptr<connect_request> req, protocol::log_sink log,
             std::shared_ptr<io_runtime> runtime) {
  // CAF 0.17 keeps a monitor as an attachable on the MONITORED actor (pinning
  // this actor's memory) until demonitor: drop it before every quit.
  auto quit_now = [self, addr = listener.address()](caf::error reason) {
    self->demonitor(addr);
    self->quit(std::move(reason));
  };
  // Its owner is linked: any exit of the owner, normal included, ends the
  // connection (CAF's default handler ignores a normal exit).
  self->set_exit_handler([quit_now](caf::exit_msg& msg) { quit_now(msg.reason); });
  // The listener is gone: nobody could hear this connection any more.
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  self->state.runtime = std::move(runtime);
  detail::connection_params params;
  params.gen = gen;
  params.listener = listener.address();
  // Strong: the io side keeps this actor alive until `done`, whoever else
  // drops its handle (CAF destroys actors nobody references).
  params.transport = caf::actor_cast<transport_impl_actor>(self);
  params.req = std::move(*req);
  params.log = std::move(log);
  self->state.conn = detail::start_connection(self->state.runtime->impl(),
                                              std::move(params));
  if (listener)
    self->monitor(listener);
  else
    self->state.conn->abort("no listener");
  return {
    [self](frame_atom, protocol::frame& f) {
      self->state.conn->send(std::move(f));
    },
    [self](frame_atom, std::vector<protocol::frame>& frames) {
      self->state.conn->send(std::move(frames));
    },
    [self](close_atom, uint16_t code, std::string& reason) {
      self->state.conn->close(code, std::move(reason));
    },
    [self](abort_atom) { self->state.conn->abort("aborted"); },
    // INTERNAL: the io side sent the terminal report.
    [quit_now](done_atom) { quit_now(caf::error{}); },
  };
}

} // namespace

transport_actor spawn_transport(caf::actor_system& sys, listener_actor listener,
                                generation gen, connect_request req,
                                protocol::log_sink log,
                                std::shared_ptr<io_runtime> runtime) {
  if (!runtime)
    runtime = io_runtime::instance();
  // Moved through a shared_ptr: CAF copies spawn arguments, and the request
  // holds secrets worth not duplicating.
  auto impl = sys.spawn(transport_fn, std::move(listener), gen,
                        std::make_shared<connect_request>(std::move(req)),
                        std::move(log), std::move(runtime));
  return transport_actor{impl};
}

} // namespace phx::transport
