#include "pubsub.hpp"

#include "phx/protocol/message.hpp"
#include "phx/protocol/serializer.hpp"

#include "channel.hpp"
#include "session.hpp"
#include "wire.hpp"

namespace phx_server {

namespace {

constexpr size_t no_slot = static_cast<size_t>(-1);

ws_message_ptr encode_for(const phx::protocol::serializer& ser,
                          const phx::protocol::message& msg) {
  auto f = ser.encode(msg);
  if (!f)
    return nullptr;
  return make_ws_message(std::move(*f));
}

} // namespace

void pubsub::subscribe(channel& ch) {
  auto& subs = topics_[ch.topic()];
  ch.subscription_slot = subs.size();
  subs.push_back(&ch);
}

void pubsub::unsubscribe(channel& ch) {
  if (ch.subscription_slot == no_slot)
    return;
  auto it = topics_.find(ch.topic());
  if (it == topics_.end())
    return;
  auto& subs = it->second;
  auto slot = ch.subscription_slot;
  // Swap with the last subscriber: O(1), order does not matter.
  subs[slot] = subs.back();
  subs[slot]->subscription_slot = slot;
  subs.pop_back();
  ch.subscription_slot = no_slot;
  if (subs.empty())
    topics_.erase(it);
}

size_t pubsub::broadcast(const std::string& topic, std::string_view event,
                         const phx::protocol::payload& payload,
                         const channel* except) {
  auto it = topics_.find(topic);
  if (it == topics_.end())
    return 0;
  static const phx::protocol::v1_serializer v1{phx::protocol::role::server};
  static const phx::protocol::v2_serializer v2{phx::protocol::role::server};
  phx::protocol::message msg;
  msg.topic = topic;
  msg.event = std::string{event};
  msg.payload = payload;
  // Encoded lazily, once per serializer (Phoenix's fastlane cache).
  ws_message_ptr frames[2];
  bool tried[2] = {false, false};
  size_t reached = 0;
  for (auto* ch : it->second) {
    if (ch == except)
      continue;
    auto& owner = ch->owner();
    int idx = owner.v2() ? 1 : 0;
    if (!tried[idx]) {
      tried[idx] = true;
      frames[idx] = idx == 1 ? encode_for(v2, msg) : encode_for(v1, msg);
    }
    if (!frames[idx])
      continue; // bytes cannot go to a V1 socket
    owner.send_encoded(frames[idx]);
    ++reached;
  }
  return reached;
}

size_t pubsub::subscribers(const std::string& topic) const {
  auto it = topics_.find(topic);
  return it == topics_.end() ? 0 : it->second.size();
}

} // namespace phx_server
