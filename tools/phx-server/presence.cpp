#include "presence.hpp"

#include <algorithm>
#include <utility>

#include "phx/protocol/presence.hpp"

#include "channel.hpp"
#include "context.hpp"
#include "json_util.hpp"

namespace phx_server {

namespace {

using phx::protocol::json_document;
using phx::protocol::json_value;

// Sets `name` to the string `value`, replacing an existing member.
void put_string(json_document& doc, std::string_view name, std::string_view value) {
  auto& alloc = doc.GetAllocator();
  auto it = doc.FindMember(
    rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size())));
  if (it != doc.MemberEnd())
    it->value = string_value(value, alloc);
  else
    doc.AddMember(string_value(name, alloc), string_value(value, alloc), alloc);
}

phx::protocol::presence_state one(const std::string& key,
                                  const phx::protocol::json_ptr& meta) {
  phx::protocol::presence_state st;
  st.assign(key, phx::protocol::presence{nullptr, {meta}});
  return st;
}

} // namespace

phx::protocol::json_ptr presence_tracker::track(channel& ch, const std::string& key,
                                               json_document meta) {
  put_string(meta, "phx_ref", ctx_.next_phx_ref());
  entry e{&ch, key, phx::protocol::make_json(std::move(meta))};
  topics_[ch.topic()].push_back(e);
  return e.meta;
}

void presence_tracker::announce(const std::string& topic, const std::string& key,
                                const phx::protocol::json_ptr& meta) {
  entry e{nullptr, key, meta};
  broadcast_diff(topic, &e, nullptr);
}

bool presence_tracker::update(channel& ch, const json_value& changes) {
  auto it = topics_.find(ch.topic());
  if (it == topics_.end())
    return false;
  auto pos = std::find_if(it->second.begin(), it->second.end(),
                          [&](const entry& e) { return e.owner == &ch; });
  if (pos == it->second.end())
    return false;
  entry old = *pos;
  // Phoenix.Tracker's update: the updater sees the stored meta (phx_ref
  // included); the result gets a new phx_ref and remembers the old one.
  auto doc = phx::protocol::copy_json(*old.meta);
  merge_object(doc, changes);
  put_string(doc, "phx_ref", ctx_.next_phx_ref());
  put_string(doc, "phx_ref_prev", phx::protocol::phx_ref_of(*old.meta));
  pos->meta = phx::protocol::make_json(std::move(doc));
  entry updated = *pos;
  broadcast_diff(ch.topic(), &updated, &old);
  return true;
}

void presence_tracker::untrack(channel& ch) {
  auto it = topics_.find(ch.topic());
  if (it == topics_.end())
    return;
  auto& entries = it->second;
  auto pos = std::find_if(entries.begin(), entries.end(),
                          [&](const entry& e) { return e.owner == &ch; });
  if (pos == entries.end())
    return;
  entry left = *pos;
  entries.erase(pos);
  if (entries.empty())
    topics_.erase(it);
  broadcast_diff(ch.topic(), nullptr, &left);
}

phx::protocol::payload presence_tracker::list(const std::string& topic) const {
  phx::protocol::presence_state st;
  if (auto it = topics_.find(topic); it != topics_.end()) {
    // Phoenix.Presence.group: one entry per key, metas in tracking order.
    for (auto& e : it->second) {
      if (auto* p = st.find(e.key))
        p->metas.push_back(e.meta);
      else
        st.assign(e.key, phx::protocol::presence{nullptr, {e.meta}});
    }
  }
  return phx::protocol::payload{phx::protocol::to_json(st)};
}

void presence_tracker::broadcast_diff(const std::string& topic,
                                      const entry* joined, const entry* left) {
  json_document doc;
  doc.SetObject();
  auto& alloc = doc.GetAllocator();
  auto joins = joined ? phx::protocol::to_json(one(joined->key, joined->meta))
                      : phx::protocol::to_json(phx::protocol::presence_state{});
  auto leaves = left ? phx::protocol::to_json(one(left->key, left->meta))
                     : phx::protocol::to_json(phx::protocol::presence_state{});
  doc.AddMember("joins", json_value{joins, alloc}, alloc);
  doc.AddMember("leaves", json_value{leaves, alloc}, alloc);
  ctx_.bus.broadcast(topic, "presence_diff", phx::protocol::payload{std::move(doc)});
}

} // namespace phx_server
