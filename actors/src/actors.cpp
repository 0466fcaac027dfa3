#include "phx/actors/actors.hpp"

#include <algorithm>

#include <caf/actor_system_config.hpp>
#include <caf/actor_control_block.hpp>
#include <caf/message.hpp>
#include <caf/node_id.hpp>
#include <caf/sec.hpp>

namespace phx {

std::string to_string(channel_state x) {
  switch (x) {
    case channel_state::closed: return "closed";
    case channel_state::errored: return "errored";
    case channel_state::joined: return "joined";
    case channel_state::joining: return "joining";
    case channel_state::leaving: return "leaving";
  }
  return "unknown";
}

std::string to_string(connection_state x) {
  switch (x) {
    case connection_state::connecting: return "connecting";
    case connection_state::open: return "open";
    case connection_state::closing: return "closing";
    case connection_state::closed: return "closed";
  }
  return "closed";
}

const char* to_string(ec code) noexcept {
  switch (code) {
    case ec::none: return "none";
    case ec::push_timeout: return "push_timeout";
    case ec::join_timeout: return "join_timeout";
    case ec::already_joined: return "already_joined";
    case ec::not_joined: return "not_joined";
    case ec::channel_closed: return "channel_closed";
    case ec::send_buffer_full: return "send_buffer_full";
    case ec::push_buffer_full: return "push_buffer_full";
    case ec::encode_failed: return "encode_failed";
    case ec::decode_failed: return "decode_failed";
    case ec::not_connected: return "not_connected";
    case ec::invalid_argument: return "invalid_argument";
    case ec::disconnected: return "disconnected";
    case ec::overflow: return "overflow";
    case ec::channel_crashed: return "channel_crashed";
    case ec::socket_crashed: return "socket_crashed";
    case ec::socket_stopped: return "socket_stopped";
    case ec::callback_failed: return "callback_failed";
    case ec::outbound_full: return "outbound_full";
    case ec::not_entitled: return "not_entitled";
  }
  return "unknown";
}

std::string describe(const caf::error& err) {
  if (!err)
    return {};
  std::string name;
  if (err.category() == caf::atom("phx"))
    name = to_string(static_cast<ec>(err.code()));
  else if (err.category() == caf::atom("system"))
    name = caf::to_string(static_cast<caf::sec>(err.code()));
  else
    name = "error " + std::to_string(err.code());
  auto& ctx = err.context();
  if (ctx.match_elements<std::string>())
    return name + ": " + ctx.get_as<std::string>(0);
  return name;
}

std::string describe_sender(const caf::strong_actor_ptr& sender) {
  if (!sender)
    return "an anonymous sender";
  return "actor " + std::to_string(sender->id()) + " on node " + to_string(sender->node());
}

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::phx>();
  cfg.add_error_category(caf::atom("phx"), [](uint8_t code, caf::atom_value,
                                               const caf::message& context) {
    std::string out = "phx::";
    out += to_string(static_cast<ec>(code));
    if (!context.empty()) {
      out += ' ';
      out += to_string(context);
    }
    return out;
  });
}

void tune_scheduler(caf::actor_system_config& cfg, size_t workers) {
  cfg.set("scheduler.max-threads", std::max(workers, size_t{1}));
  // A lone worker has nobody to steal from: idle, it waits on its condition
  // variable (woken by the next job) instead of 500 sleeps of 50 us, each a
  // wake-up and up to 50 us of delay for a job that came meanwhile.
  if (workers <= 1)
    cfg.set("work-stealing.moderate-poll-attempts", size_t{0});
}

} // namespace phx
