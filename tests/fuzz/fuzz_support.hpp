#pragma once

// Shared by the fuzz targets: the invariant check that turns a broken
// property into a crash libFuzzer records, and exact comparisons of JSON
// values and messages.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "phx/protocol/message.hpp"
#include "phx/protocol/result.hpp"

/// Aborts with the failed condition and a description when an invariant is
/// broken: libFuzzer (or the replay driver) reports the input that did it.
#define PHX_FUZZ_CHECK(cond, what)                                             \
  do {                                                                         \
    if (!(cond))                                                               \
      ::phx_fuzz::fail(__FILE__, __LINE__, #cond, (what));                     \
  } while (false)

namespace phx_fuzz {

/// Prints the broken invariant and aborts.
[[noreturn]] inline void fail(const char* file, int line, const char* cond,
                              std::string_view what) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s\n  %.*s\n", file, line,
               cond, static_cast<int>(what.size()), what.data());
  std::abort();
}

/// The input as a string (one copy).
inline std::string text_of(const uint8_t* data, size_t size) {
  return std::string{reinterpret_cast<const char*>(data), size};
}

/// Exact equality of two JSON values: same types, same numbers, same strings
/// byte for byte, object members compared in order. Unlike RapidJSON's
/// `operator==` it holds for objects with duplicate keys.
inline bool same_json(const phx::protocol::json_value& a,
                      const phx::protocol::json_value& b) {
  if (a.GetType() != b.GetType())
    return false;
  switch (a.GetType()) {
    case rapidjson::kNullType:
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return true;
    case rapidjson::kStringType:
      return a.GetStringLength() == b.GetStringLength()
             && std::memcmp(a.GetString(), b.GetString(), a.GetStringLength()) == 0;
    case rapidjson::kNumberType:
      if (a.IsDouble() != b.IsDouble() || a.IsInt64() != b.IsInt64()
          || a.IsUint64() != b.IsUint64())
        return false;
      if (a.IsDouble())
        return a.GetDouble() == b.GetDouble();
      return a.IsInt64() ? a.GetInt64() == b.GetInt64()
                         : a.GetUint64() == b.GetUint64();
    case rapidjson::kArrayType: {
      if (a.Size() != b.Size())
        return false;
      for (rapidjson::SizeType i = 0; i < a.Size(); ++i)
        if (!same_json(a[i], b[i]))
          return false;
      return true;
    }
    case rapidjson::kObjectType: {
      if (a.MemberCount() != b.MemberCount())
        return false;
      for (auto i = a.MemberBegin(), j = b.MemberBegin(); i != a.MemberEnd();
           ++i, ++j)
        if (!same_json(i->name, j->name) || !same_json(i->value, j->value))
          return false;
      return true;
    }
  }
  return false;
}

/// Exact equality of two payloads (JSON by `same_json`, bytes by content).
inline bool same_payload(const phx::protocol::payload& a,
                         const phx::protocol::payload& b) {
  if (a.type() != b.type())
    return false;
  return a.is_binary() ? a.binary() == b.binary() : same_json(a.json(), b.json());
}

/// Exact equality of two messages, field by field.
inline bool same_message(const phx::protocol::message& a,
                         const phx::protocol::message& b) {
  return a.join_ref == b.join_ref && a.ref == b.ref && a.topic == b.topic
         && a.event == b.event && a.status == b.status
         && same_payload(a.payload, b.payload);
}

/// A message for failure reports: its description and payload.
inline std::string show(const phx::protocol::message& msg) {
  return describe(msg) + " payload " + msg.payload.to_string();
}

/// True if `err` carries a documented code and a sentence saying what is wrong.
inline bool well_formed(const phx::protocol::error& err) {
  auto code = static_cast<uint8_t>(err.code);
  return code >= static_cast<uint8_t>(phx::protocol::errc::empty_frame)
         && code <= static_cast<uint8_t>(phx::protocol::errc::invalid_presence)
         && !err.what.empty()
         && std::strcmp(phx::protocol::to_string(err.code), "unknown") != 0;
}

} // namespace phx_fuzz
