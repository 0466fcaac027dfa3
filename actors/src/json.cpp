#include "phx/json.hpp"

namespace phx {

payload json(std::string_view text) {
  auto parsed = payload::parse(text);
  if (!parsed)
    throw error("invalid JSON: " + parsed.error().to_string());
  return std::move(*parsed);
}

void json_arg::write(protocol::json_value& out,
                     protocol::json_document::AllocatorType& a) const {
  std::visit(
    [&](const auto& v) {
      using T = std::decay_t<decltype(v)>;
      if constexpr (std::is_same_v<T, std::nullptr_t>)
        out.SetNull();
      else if constexpr (std::is_same_v<T, bool>)
        out.SetBool(v);
      else if constexpr (std::is_same_v<T, int64_t>)
        out.SetInt64(v);
      else if constexpr (std::is_same_v<T, double>)
        out.SetDouble(v);
      else if constexpr (std::is_same_v<T, std::string>)
        out.SetString(v.data(), static_cast<rapidjson::SizeType>(v.size()), a);
      else if (v.is_json())
        out.CopyFrom(protocol::copy_json(v.json()), a);
      else
        out.SetNull();
    },
    v_);
}

payload object(std::initializer_list<std::pair<std::string_view, json_arg>> members) {
  protocol::json_document doc;
  doc.SetObject();
  auto& a = doc.GetAllocator();
  for (auto& [key, value] : members) {
    protocol::json_value k;
    k.SetString(key.data(), static_cast<rapidjson::SizeType>(key.size()), a);
    protocol::json_value v;
    value.write(v, a);
    doc.AddMember(k, v, a);
  }
  return payload{std::move(doc)};
}

payload binary(std::string_view data) {
  return payload::binary(data);
}

} // namespace phx
