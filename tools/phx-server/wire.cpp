#include "wire.hpp"

#include <utility>

namespace phx_server {

ws_message_ptr make_ws_message(phx::protocol::frame&& f) {
  using websocketpp::frame::opcode::binary;
  using websocketpp::frame::opcode::text;
  // The message keeps a weak pointer to its manager only for recycling,
  // which websocketpp's default manager does not do.
  static const auto manager
    = std::make_shared<websocketpp::config::core::con_msg_manager_type>();
  auto op = f.type == phx::protocol::frame_type::binary ? binary : text;
  auto msg = manager->get_message(op, 0);
  auto size = f.data.size();
  msg->get_raw_payload() = std::move(f.data);
  // A server frame is never masked; one frame per message (fin).
  websocketpp::frame::basic_header header{op, size, true, false};
  websocketpp::frame::extended_header extended{size};
  msg->set_header(websocketpp::frame::prepare_header(header, extended));
  msg->set_prepared(true);
  return msg;
}

} // namespace phx_server
