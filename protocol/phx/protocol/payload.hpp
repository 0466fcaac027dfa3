#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "phx/protocol/json.hpp"
#include "phx/protocol/result.hpp"

namespace phx::protocol {

/// Raw bytes, the payload of a binary frame.
using bytes = std::vector<std::byte>;

/// Converts text to bytes (one copy).
bytes to_bytes(std::string_view s);

/// Views bytes as text (no copy).
std::string_view as_string_view(const bytes& b) noexcept;

/// The payload of a Phoenix message: either a JSON value or raw bytes.
/// Immutable and cheap to copy (one shared pointer); copies share storage.
class payload {
public:
  /// Which kind of payload this is.
  enum class kind : uint8_t { json, binary };

  /// The empty JSON object `{}`.
  payload();

  /// A JSON payload sharing `value` (must not be null).
  explicit payload(json_ptr value);

  /// A JSON payload taking over a document.
  explicit payload(json_document&& doc);

  /// A binary payload taking over `data`.
  explicit payload(bytes data);

  /// A binary payload sharing `data` (must not be null).
  explicit payload(std::shared_ptr<const bytes> data);

  /// Parses JSON text; the error names what is wrong.
  static result<payload> parse(std::string_view json_text);

  /// A binary payload holding a copy of `data`.
  static payload binary(std::string_view data);

  /// JSON or bytes.
  kind type() const noexcept { return kind_; }
  /// True for a JSON payload.
  bool is_json() const noexcept { return kind_ == kind::json; }
  /// True for a payload of bytes (sent in a binary frame).
  bool is_binary() const noexcept { return kind_ == kind::binary; }

  /// The JSON value; a payload holding bytes returns `null`.
  const json_value& json() const noexcept;

  /// The shared JSON value (null pointer for bytes).
  const json_ptr& json_shared() const noexcept { return json_; }

  /// The bytes; empty for a JSON payload.
  const bytes& binary() const noexcept;

  /// The shared bytes (null pointer for JSON).
  const std::shared_ptr<const bytes>& binary_shared() const noexcept {
    return bytes_;
  }

  /// The bytes viewed as a string (no copy); empty for JSON.
  std::string_view binary_view() const noexcept;

  /// A payload equal to this one that owns only its own value: a JSON value
  /// decoded from a frame shares the whole frame's storage, which a payload
  /// kept for long (a join reply) should not pin. Bytes are shared as they are.
  payload detached() const;

  /// Compact JSON text of a JSON payload; for bytes, a JSON string of base64.
  std::string to_string() const;

  /// Structural equality (JSON by value, bytes by content).
  friend bool operator==(const payload& a, const payload& b);
  /// Negation of `==`.
  friend bool operator!=(const payload& a, const payload& b) {
    return !(a == b);
  }

private:
  kind kind_;
  json_ptr json_;
  std::shared_ptr<const bytes> bytes_;
};

} // namespace phx::protocol
