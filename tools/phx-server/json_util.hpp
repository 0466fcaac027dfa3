#pragma once

#include <string_view>

#include "phx/protocol/json.hpp"

namespace phx_server {

/// A deep copy of `v` owned by `alloc`. Payload values may be parsed in
/// place (their strings point into the frame), so every string is copied.
inline phx::protocol::json_value copy_into(const phx::protocol::json_value& v,
                                           phx::protocol::json_document::AllocatorType& alloc) {
  return phx::protocol::json_value{phx::protocol::copy_json(v), alloc};
}

/// A string value owned by `alloc`.
inline phx::protocol::json_value string_value(std::string_view s,
                                              phx::protocol::json_document::AllocatorType& alloc) {
  phx::protocol::json_value v;
  v.SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
  return v;
}

/// Copies every member of the object `from` into the object `doc`,
/// replacing members of the same name (Elixir's `Map.merge/2`).
inline void merge_object(phx::protocol::json_document& doc,
                         const phx::protocol::json_value& from) {
  auto& alloc = doc.GetAllocator();
  for (auto& m : from.GetObject()) {
    auto it = doc.FindMember(m.name);
    if (it != doc.MemberEnd())
      it->value = copy_into(m.value, alloc);
    else
      doc.AddMember(copy_into(m.name, alloc), copy_into(m.value, alloc), alloc);
  }
}

} // namespace phx_server
