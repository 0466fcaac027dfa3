#include "phx/protocol/payload.hpp"

#include <cstring>

#include "phx/protocol/url.hpp"

namespace phx::protocol {

bytes to_bytes(std::string_view s) {
  bytes out(s.size());
  if (!s.empty())
    std::memcpy(out.data(), s.data(), s.size());
  return out;
}

std::string_view as_string_view(const bytes& b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

namespace {

const bytes& no_bytes() {
  static const bytes instance;
  return instance;
}

} // namespace

payload::payload() : kind_(kind::json), json_(empty_object()) {
  // nop
}

payload::payload(json_ptr value) : kind_(kind::json), json_(std::move(value)) {
  if (!json_)
    json_ = null_json();
}

payload::payload(json_document&& doc)
  : kind_(kind::json), json_(make_json(std::move(doc))) {
  // nop
}

payload payload::detached() const {
  if (!is_json())
    return *this;
  return payload{detach_json(json())};
}

payload::payload(bytes data)
  : kind_(kind::binary),
    bytes_(std::make_shared<const bytes>(std::move(data))) {
  // nop
}

payload::payload(std::shared_ptr<const bytes> data)
  : kind_(kind::binary), bytes_(std::move(data)) {
  if (!bytes_)
    bytes_ = std::make_shared<const bytes>();
}

result<payload> payload::parse(std::string_view json_text) {
  auto parsed = parse_json(json_text);
  if (!parsed)
    return parsed.error();
  return payload{std::move(*parsed)};
}

payload payload::binary(std::string_view data) {
  return payload{to_bytes(data)};
}

const json_value& payload::json() const noexcept {
  return json_ ? *json_ : *null_json();
}

const bytes& payload::binary() const noexcept {
  return bytes_ ? *bytes_ : no_bytes();
}

std::string_view payload::binary_view() const noexcept {
  return as_string_view(binary());
}

std::string payload::to_string() const {
  std::string out;
  if (is_binary()) {
    append_json_string(out, base64_encode(binary_view()));
    return out;
  }
  if (!append_json(out, *json_))
    return "null";
  return out;
}

bool operator==(const payload& a, const payload& b) {
  if (a.kind_ != b.kind_)
    return false;
  if (a.is_binary())
    return a.binary() == b.binary();
  return a.json() == b.json();
}

} // namespace phx::protocol
