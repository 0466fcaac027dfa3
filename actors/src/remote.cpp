#include "phx/actors/remote.hpp"

#include <algorithm>
#include <memory>
#include <optional>

#include <caf/actor_config.hpp>
#include <caf/actor_factory.hpp>
#include <caf/actor_system.hpp>
#include <caf/abstract_actor.hpp>
#include <caf/execution_unit.hpp>
#include <caf/io/middleman.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <caf/send.hpp>

#include "phx/actors/socket.hpp"
#include "phx/protocol/json.hpp"
#include "phx/protocol/log.hpp"
#include "phx/protocol/url.hpp"

namespace phx {

namespace {

constexpr std::string_view component = "remote";

caf::error invalid(std::string what) {
  return caf::make_error(ec::invalid_argument, "remote socket options: " + std::move(what));
}

// Every time field of the wire options, checked in one place.
caf::error check_times(const remote_socket_options& o) {
  const std::pair<const char*, int64_t> times[] = {
    {"timeout_ms", o.timeout_ms},
    {"heartbeat_interval_ms", o.heartbeat_interval_ms},
    {"reconnect_jitter_ms", o.reconnect_jitter_ms},
    {"rejoin_jitter_ms", o.rejoin_jitter_ms},
    {"longpoller_timeout_ms", o.longpoller_timeout_ms},
    {"open_timeout_ms", o.open_timeout_ms},
    {"close_timeout_ms", o.close_timeout_ms},
    {"restart_window_ms", o.restart_window_ms},
  };
  for (auto& [name, ms] : times)
    if (ms < 0)
      return invalid(std::string{name} + " is negative");
  for (auto* table : {&o.reconnect_after_ms, &o.rejoin_after_ms})
    if (std::any_of(table->begin(), table->end(), [](int64_t ms) { return ms < 0; }))
      return invalid(std::string{table == &o.reconnect_after_ms ? "reconnect_after_ms"
                                                                 : "rejoin_after_ms"}
                     + " holds a negative delay");
  return caf::none;
}

// The connect params: parsed once here, copied at every connect.
caf::expected<std::function<protocol::json_document()>> params_fn(const std::string& text) {
  if (text.empty())
    return std::function<protocol::json_document()>{};
  auto parsed = protocol::parse_json(std::string_view{text});
  if (!parsed)
    return invalid("params are not JSON: " + parsed.error().to_string());
  const protocol::json_ptr& doc = *parsed;
  if (doc->IsNull())
    return std::function<protocol::json_document()>{};
  if (!doc->IsObject())
    return invalid("params must be a JSON object");
  return std::function<protocol::json_document()>{[doc] { return protocol::copy_json(*doc); }};
}

// The socket's spec from wire options: conversion, then the checks every socket gets.
caf::expected<std::shared_ptr<socket_context>> context_of(const remote_socket_options& wire) {
  auto so = to_socket_options(wire);
  if (!so)
    return std::move(so.error());
  return make_socket_context(std::move(*so));
}

// Stops `sock` for good (user_shutdown: the supervisor does not restart it) once
// `owner` goes down, the loss of the owner's node included. A functor on the
// owner, not a watcher actor: an actor nobody references would be collected.
void stop_with_owner(const caf::actor& owner, const socket_actor& sock) {
  auto* target = caf::actor_cast<caf::abstract_actor*>(owner);
  target->attach_functor([weak = sock.address()](const caf::error&) {
    if (auto alive = caf::actor_cast<caf::actor>(weak))
      caf::anon_send_exit(alive, caf::exit_reason::user_shutdown);
  });
}

// The "phx.socket" factory: one `remote_socket_options`, else refused (CAF then
// answers the spawning node `sec::cannot_spawn_actor_from_arguments`).
caf::actor_factory_result make_remote_socket(caf::actor_config& cfg, caf::message& msg) {
  auto& sys = cfg.host->system();
  // The spawning node gets only CAF's generic refusal: say why on this node,
  // whatever log level the refused options asked for (never their content: secrets).
  auto refuse = [](const std::string& why) {
    phx::logger{log_level::warning, phx::logger::stderr_sink()}.error(
      component, "refused to spawn a remote socket: " + why);
    return caf::actor_factory_result{};
  };
  if (!msg.match_elements<remote_socket_options>())
    return refuse("the arguments are not one phx::remote_socket_options ("
                  + std::to_string(msg.size()) + " element(s))");
  const auto& wire = msg.get_as<remote_socket_options>(0);
  auto ctx = context_of(wire);
  if (!ctx)
    return refuse(describe(ctx.error()));
  auto sock = spawn_socket(sys, std::move(*ctx));
  if (wire.owner)
    stop_with_owner(wire.owner, sock);
  return {caf::actor_cast<caf::strong_actor_ptr>(sock), sys.message_types<socket_actor>()};
}

} // namespace

protocol::backoff_fn backoff_table(std::vector<int64_t> steps_ms) {
  if (steps_ms.empty())
    return nullptr;
  return [steps = std::move(steps_ms)](uint32_t tries) -> int64_t {
    auto i = std::min<size_t>(tries == 0 ? 0 : tries - 1, steps.size() - 1);
    return steps[i];
  };
}

caf::expected<socket_options> to_socket_options(const remote_socket_options& o) {
  socket_options so;
  auto ep = protocol::parse_endpoint(o.url);
  if (!ep)
    return invalid("url: " + ep.error().to_string());
  so.endpoint = std::move(*ep);
  auto params = params_fn(o.params);
  if (!params)
    return std::move(params.error());
  so.params = std::move(*params);
  so.headers = o.headers;
  if (!o.auth_token.empty())
    so.auth_token = [token = o.auth_token]() -> std::optional<std::string> { return token; };
  so.vsn = o.vsn;
  if (auto err = check_times(o))
    return err;
  using ms = std::chrono::milliseconds;
  so.timeout = ms{o.timeout_ms};
  so.heartbeat_interval = ms{o.heartbeat_interval_ms};
  if (auto f = backoff_table(o.reconnect_after_ms))
    so.reconnect_after_ms = std::move(f);
  if (auto f = backoff_table(o.rejoin_after_ms))
    so.rejoin_after_ms = std::move(f);
  so.reconnect_jitter_ms = o.reconnect_jitter_ms;
  so.rejoin_jitter_ms = o.rejoin_jitter_ms;
  so.tls = o.tls;
  auto choice = parse_transport_choice(o.transport);
  if (!choice)
    return invalid("transport must be \"websocket\", \"longpoll\" or \"auto\", not \""
                   + o.transport + "\"");
  so.transport = *choice;
  if (o.long_poll_fallback_ms >= 0)
    so.long_poll_fallback = ms{o.long_poll_fallback_ms};
  so.longpoller_timeout = ms{o.longpoller_timeout_ms};
  so.compress = o.compress;
  so.remember_fallback = o.remember_fallback;
  so.open_timeout = ms{o.open_timeout_ms};
  so.close_timeout = ms{o.close_timeout_ms};
  so.max_send_buffer_frames = o.max_send_buffer_frames;
  so.max_send_buffer_bytes = o.max_send_buffer_bytes;
  so.max_push_buffer = o.max_push_buffer;
  so.max_subscriber_queue = o.max_subscriber_queue;
  so.max_inbound_frames = o.max_inbound_frames;
  so.max_inbound_bytes = o.max_inbound_bytes;
  so.max_outbound_frames = o.max_outbound_frames;
  so.max_outbound_bytes = o.max_outbound_bytes;
  so.max_frame_size = o.max_frame_size;
  so.max_restarts = o.max_restarts;
  so.restart_window = ms{o.restart_window_ms};
  auto level = protocol::parse_log_level(o.log_level);
  if (!level)
    return invalid("unknown log_level \"" + o.log_level + "\"");
  so.logger = phx::logger{*level, phx::logger::stderr_sink()};
  return so;
}

void add_actor_types(caf::actor_system_config& cfg) {
  add_message_types(cfg);
  cfg.add_message_type<remote_socket_options>("phx::remote_socket_options");
  cfg.add_actor_factory(socket_actor_type, make_remote_socket);
}

caf::expected<socket_actor> remote_spawn_socket(caf::actor_system& sys, const caf::node_id& node,
                                                const remote_socket_options& opts,
                                                caf::timespan timeout) {
  // The remote node can only answer "cannot spawn": find what is wrong here.
  auto ctx = context_of(opts);
  if (!ctx)
    return std::move(ctx.error());
  if (node == sys.node()) {
    auto sock = spawn_socket(sys, std::move(*ctx));
    if (opts.owner)
      stop_with_owner(opts.owner, sock);
    return sock;
  }
  return sys.middleman().remote_spawn<socket_actor>(node, socket_actor_type,
                                                     caf::make_message(opts), timeout);
}

} // namespace phx
