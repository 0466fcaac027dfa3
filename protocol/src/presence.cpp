#include "phx/protocol/presence.hpp"

#include <algorithm>

namespace phx::protocol {

namespace {

error presence_error(std::string what) {
  return make_error(errc::invalid_presence, std::move(what));
}

bool holds_ref(const std::vector<json_ptr>& metas, std::string_view ref) {
  return std::any_of(metas.begin(), metas.end(), [&](const json_ptr& m) {
    return phx_ref_of(*m) == ref;
  });
}

// Reads `{key: {"metas": [...]}}` into `out`, aliasing into `owner`.
std::optional<error> read_presences(const json_ptr& owner, const json_value& obj,
                                    const char* what, presence_state& out) {
  if (!obj.IsObject())
    return presence_error(std::string{what} + " is not an object");
  for (auto& member : obj.GetObject()) {
    std::string key{member.name.GetString(), member.name.GetStringLength()};
    auto& value = member.value;
    if (!value.IsObject())
      return presence_error("presence \"" + key + "\" is not an object");
    auto metas = value.FindMember("metas");
    if (metas == value.MemberEnd() || !metas->value.IsArray())
      return presence_error("presence \"" + key + "\" has no \"metas\" array");
    presence p;
    p.fields = json_ptr{owner, &value};
    p.metas.reserve(metas->value.Size());
    for (auto& meta : metas->value.GetArray()) {
      if (!meta.IsObject())
        return presence_error("presence \"" + key + "\" has a meta that is not an object");
      auto ref = meta.FindMember("phx_ref");
      if (ref == meta.MemberEnd() || !ref->value.IsString())
        return presence_error("presence \"" + key
                              + "\" has a meta without a string \"phx_ref\"");
      p.metas.emplace_back(owner, &meta);
    }
    out.assign(key, std::move(p));
  }
  return std::nullopt;
}

// Applies a diff in place (the body of phoenix.js syncDiff).
void apply_diff(presence_state& state, const presence_diff& diff,
                const presence_join_fn& on_join,
                const presence_leave_fn& on_leave) {
  for (auto& [key, joined] : diff.joins) {
    std::optional<presence> before;
    if (auto cur = state.find(key))
      before = *cur;
    presence next = joined;
    if (before) {
      std::vector<json_ptr> metas;
      metas.reserve(before->metas.size() + next.metas.size());
      for (auto& m : before->metas)
        if (!holds_ref(next.metas, phx_ref_of(*m)))
          metas.push_back(m);
      metas.insert(metas.end(), next.metas.begin(), next.metas.end());
      next.metas = std::move(metas);
    }
    state.assign(key, std::move(next));
    if (on_join)
      on_join(key, before ? &*before : nullptr, joined);
  }
  for (auto& [key, left] : diff.leaves) {
    auto cur = state.find(key);
    if (cur == nullptr)
      continue;
    auto& metas = cur->metas;
    metas.erase(std::remove_if(metas.begin(), metas.end(),
                               // C++17 lambdas cannot capture a structured binding (clang refuses).
                               [&gone = left.metas](const json_ptr& m) {
                                 return holds_ref(gone, phx_ref_of(*m));
                               }),
                metas.end());
    if (on_leave)
      on_leave(key, *cur, left);
    if (cur->metas.empty())
      state.erase(key);
  }
}

} // namespace

std::string_view phx_ref_of(const json_value& meta) noexcept {
  if (!meta.IsObject())
    return {};
  auto ref = meta.FindMember("phx_ref");
  if (ref == meta.MemberEnd() || !ref->value.IsString())
    return {};
  return {ref->value.GetString(), ref->value.GetStringLength()};
}

// -- presence_state ------------------------------------------------------------

presence_state::presence_state(const presence_state& other)
  : entries_(other.entries_) {
  reindex();
}

presence_state& presence_state::operator=(const presence_state& other) {
  if (this != &other) {
    entries_ = other.entries_;
    reindex();
  }
  return *this;
}

void presence_state::reindex() {
  index_.clear();
  index_.reserve(entries_.size());
  for (auto i = entries_.begin(); i != entries_.end(); ++i)
    index_.emplace(i->first, i);
}

const presence* presence_state::find(const std::string& key) const {
  auto i = index_.find(key);
  return i == index_.end() ? nullptr : &i->second->second;
}

presence* presence_state::find(const std::string& key) {
  auto i = index_.find(key);
  return i == index_.end() ? nullptr : &i->second->second;
}

presence& presence_state::assign(const std::string& key, presence p) {
  if (auto i = index_.find(key); i != index_.end()) {
    i->second->second = std::move(p);
    return i->second->second;
  }
  entries_.emplace_back(key, std::move(p));
  auto last = std::prev(entries_.end());
  index_.emplace(key, last);
  return last->second;
}

bool presence_state::erase(const std::string& key) {
  auto i = index_.find(key);
  if (i == index_.end())
    return false;
  entries_.erase(i->second);
  index_.erase(i);
  return true;
}

// -- parsing -------------------------------------------------------------------

result<presence_state> parse_presence_state(const json_ptr& payload) {
  presence_state out;
  if (!payload)
    return presence_error("presence_state payload is missing");
  if (auto err = read_presences(payload, *payload, "presence_state payload", out))
    return *err;
  return out;
}

result<presence_diff> parse_presence_diff(const json_ptr& payload) {
  presence_diff out;
  if (!payload || !payload->IsObject())
    return presence_error("presence_diff payload is not an object");
  for (auto [name, target] : {std::pair<const char*, presence_state*>{"joins", &out.joins},
                              {"leaves", &out.leaves}}) {
    auto part = payload->FindMember(name);
    if (part == payload->MemberEnd())
      continue;
    std::string what = "presence_diff \"";
    what += name;
    what += '"';
    if (auto err = read_presences(payload, part->value, what.c_str(), *target))
      return *err;
  }
  return out;
}

// -- syncing -------------------------------------------------------------------

presence_state sync_diff(const presence_state& current, const presence_diff& diff,
                         const presence_join_fn& on_join,
                         const presence_leave_fn& on_leave) {
  presence_state state = current;
  apply_diff(state, diff, on_join, on_leave);
  return state;
}

presence_state sync_state(const presence_state& current, const presence_state& next,
                          const presence_join_fn& on_join,
                          const presence_leave_fn& on_leave) {
  presence_diff diff;
  for (auto& [key, p] : current)
    if (next.find(key) == nullptr)
      diff.leaves.assign(key, p);
  for (auto& [key, incoming] : next) {
    auto cur = current.find(key);
    if (cur == nullptr) {
      diff.joins.assign(key, incoming);
      continue;
    }
    presence joined{incoming.fields, {}};
    for (auto& m : incoming.metas)
      if (!holds_ref(cur->metas, phx_ref_of(*m)))
        joined.metas.push_back(m);
    presence left{cur->fields, {}};
    for (auto& m : cur->metas)
      if (!holds_ref(incoming.metas, phx_ref_of(*m)))
        left.metas.push_back(m);
    if (!joined.metas.empty())
      diff.joins.assign(key, std::move(joined));
    if (!left.metas.empty())
      diff.leaves.assign(key, std::move(left));
  }
  return sync_diff(current, diff, on_join, on_leave);
}

// -- JSON output -----------------------------------------------------------------

json_document to_json(const presence& p) {
  json_document doc;
  doc.SetObject();
  auto& alloc = doc.GetAllocator();
  json_value metas{rapidjson::kArrayType};
  for (auto& m : p.metas)
    metas.PushBack(json_value{copy_json(*m), alloc}, alloc);
  bool placed = false;
  if (p.fields && p.fields->IsObject()) {
    for (auto& member : p.fields->GetObject()) {
      json_value name{copy_json(member.name), alloc};
      if (member.name == "metas") {
        doc.AddMember(name, metas, alloc);
        placed = true;
      } else {
        doc.AddMember(name, json_value{copy_json(member.value), alloc}, alloc);
      }
    }
  }
  if (!placed)
    doc.AddMember("metas", metas, alloc);
  return doc;
}

json_document to_json(const presence_state& state) {
  json_document doc;
  doc.SetObject();
  auto& alloc = doc.GetAllocator();
  for (auto& [key, p] : state) {
    auto one = to_json(p);
    json_value name;
    name.SetString(key.data(), static_cast<rapidjson::SizeType>(key.size()), alloc);
    doc.AddMember(name, json_value{one, alloc}, alloc);
  }
  return doc;
}

// -- presence_tracker ------------------------------------------------------------

std::optional<error>
presence_tracker::handle_state(const json_ptr& payload,
                               const std::optional<std::string>& join_ref) {
  auto next = parse_presence_state(payload);
  if (!next)
    return next.error();
  join_ref_ = join_ref;
  state_ = sync_state(state_, *next, on_join, on_leave);
  for (auto& diff : pending_)
    apply_diff(state_, diff, on_join, on_leave);
  pending_.clear();
  if (on_sync)
    on_sync();
  return std::nullopt;
}

std::optional<error>
presence_tracker::handle_diff(const json_ptr& payload,
                              const std::optional<std::string>& join_ref) {
  auto diff = parse_presence_diff(payload);
  if (!diff)
    return diff.error();
  if (in_pending_sync_state(join_ref)) {
    if (pending_.size() >= max_pending_diffs)
      return presence_error("more than 10000 presence diffs arrived before a "
                            "presence_state; this diff was dropped");
    pending_.push_back(std::move(*diff));
    return std::nullopt;
  }
  apply_diff(state_, *diff, on_join, on_leave);
  if (on_sync)
    on_sync();
  return std::nullopt;
}

bool presence_tracker::in_pending_sync_state(
  const std::optional<std::string>& join_ref) const {
  return !join_ref_ || join_ref_ != join_ref;
}

} // namespace phx::protocol
