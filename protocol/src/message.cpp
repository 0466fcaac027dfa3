#include "phx/protocol/message.hpp"

namespace phx::protocol {

message message::reply(std::optional<std::string> join_ref,
                       std::optional<std::string> ref, std::string topic,
                       std::string status, phx::protocol::payload response) {
  message msg;
  msg.join_ref = std::move(join_ref);
  msg.ref = std::move(ref);
  msg.topic = std::move(topic);
  msg.event = std::string{events::reply};
  msg.payload = std::move(response);
  msg.status = std::move(status);
  return msg;
}

bool operator==(const message& a, const message& b) {
  return a.join_ref == b.join_ref && a.ref == b.ref && a.topic == b.topic
         && a.event == b.event && a.status == b.status
         && a.payload == b.payload;
}

std::string describe(const message& msg) {
  std::string out;
  out.reserve(msg.topic.size() + msg.event.size() + 24);
  out += msg.topic;
  out += ' ';
  out += msg.event;
  out += " (";
  out += msg.join_ref ? *msg.join_ref : "null";
  out += ", ";
  out += msg.ref ? *msg.ref : "null";
  out += ')';
  if (msg.is_reply()) {
    out += ' ';
    out += msg.status;
  }
  return out;
}

std::string ref_counter::next() {
  return std::to_string(++last_);
}

} // namespace phx::protocol
