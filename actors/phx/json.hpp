#pragma once

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "phx/protocol/json.hpp"
#include "phx/protocol/payload.hpp"

namespace phx {

using protocol::bytes;
using protocol::payload;

/// Thrown by the facade for a programmer error that phoenix.js throws for
/// too (invalid JSON literal, invalid endpoint at construction).
class error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Parses a JSON text into a payload; throws `phx::error` naming what is
/// wrong. Use `payload::parse` to get an error value instead.
payload json(std::string_view text);

/// One value of `object(...)`: null, bool, number, string or a nested payload.
class json_arg {
public:
  /// JSON `null`.
  json_arg(std::nullptr_t) : v_(nullptr) {}
  /// JSON `true` or `false`.
  json_arg(bool b) : v_(b) {}
  /// A JSON integer.
  json_arg(int i) : v_(static_cast<int64_t>(i)) {}
  /// A JSON integer.
  json_arg(long i) : v_(static_cast<int64_t>(i)) {}
  /// A JSON integer.
  json_arg(long long i) : v_(static_cast<int64_t>(i)) {}
  /// A JSON integer.
  json_arg(unsigned i) : v_(static_cast<int64_t>(i)) {}
  /// A JSON number.
  json_arg(double d) : v_(d) {}
  /// A JSON string (a copy of `s`).
  json_arg(const char* s) : v_(std::string{s}) {}
  /// A JSON string.
  json_arg(std::string s) : v_(std::move(s)) {}
  /// A JSON string (a copy of `s`).
  json_arg(std::string_view s) : v_(std::string{s}) {}
  /// A nested JSON value (an object, an array, ...).
  json_arg(payload p) : v_(std::move(p)) {}

  /// Adds this value to `doc`'s allocator as `out`.
  void write(protocol::json_value& out, protocol::json_document::AllocatorType& a) const;

private:
  std::variant<std::nullptr_t, bool, int64_t, double, std::string, payload> v_;
};

/// Builds a JSON object payload: `phx::object({{"body", "hi"}, {"n", 3}})`.
payload object(std::initializer_list<std::pair<std::string_view, json_arg>> members);

/// A bytes payload (sent as a binary frame): `phx::binary(data)`.
payload binary(std::string_view data);

} // namespace phx
