#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace phx::protocol {

/// What went wrong while decoding or encoding; every value is documented
/// because each one reaches a user as an error message.
enum class errc : uint8_t {
  /// The frame has no bytes at all.
  empty_frame = 1,
  /// The text is not JSON (syntax error, truncated input, trailing garbage).
  invalid_json,
  /// A string is not valid UTF-8 or holds a lone UTF-16 surrogate.
  invalid_utf8,
  /// JSON nests deeper than `max_json_depth`.
  too_deep,
  /// The frame has the wrong JSON shape (not an array for V2, not an object for V1).
  wrong_shape,
  /// A field has the wrong type or is missing; the message names the field.
  invalid_field,
  /// A binary frame declares an unknown kind byte.
  unknown_kind,
  /// A binary frame ends before the lengths it declares.
  truncated,
  /// A binary meta field (join_ref, ref, topic, event, status) exceeds 255 bytes.
  field_too_long,
  /// The message cannot be expressed in this serializer (e.g. bytes over V1).
  unsupported,
  /// The `vsn` names no known serializer.
  unsupported_vsn,
  /// An endpoint URL or its parameters cannot be used.
  invalid_url,
  /// A presence payload has the wrong shape.
  invalid_presence,
};

/// Returns the name of an error code, e.g. `"truncated"`.
const char* to_string(errc code) noexcept;

/// An error value: a code plus a human-readable sentence naming what is wrong.
struct error {
  errc code;        ///< What kind of error.
  std::string what; ///< A sentence naming what is wrong (never a secret).

  /// Renders the error as `"<code>: <what>"`.
  std::string to_string() const;
};

/// Either a value or an error; the protocol layer's `expected`.
template <class T>
class result {
public:
  /// The error type.
  using error_type = phx::protocol::error;

  /// Holds a value.
  result(T value) : v_(std::move(value)) {}
  /// Holds an error.
  result(error_type err) : v_(std::move(err)) {}

  /// True when a value is held.
  bool has_value() const noexcept { return v_.index() == 0; }
  /// The same as `has_value()`.
  explicit operator bool() const noexcept { return has_value(); }

  /// The value; only valid when `has_value()`.
  T& value() & { return std::get<0>(v_); }
  /// The value (const); only valid when `has_value()`.
  const T& value() const& { return std::get<0>(v_); }
  /// The value, moved out; only valid when `has_value()`.
  T&& value() && { return std::get<0>(std::move(v_)); }
  /// The value, as `value()`.
  T& operator*() & { return value(); }
  /// The value, as `value()`.
  const T& operator*() const& { return value(); }
  /// The value, moved out, as `value()`.
  T&& operator*() && { return std::get<0>(std::move(v_)); }
  /// A member of the value; only valid when `has_value()`.
  T* operator->() { return &value(); }
  /// A member of the value; only valid when `has_value()`.
  const T* operator->() const { return &value(); }

  /// The error; only valid when `!has_value()`.
  const error_type& error() const { return std::get<1>(v_); }

private:
  std::variant<T, error_type> v_;
};

/// Builds an error value.
inline error make_error(errc code, std::string what) {
  return error{code, std::move(what)};
}

} // namespace phx::protocol
