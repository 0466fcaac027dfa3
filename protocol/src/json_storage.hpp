#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <string>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "phx/protocol/json.hpp"
#include "phx/protocol/result.hpp"

namespace phx::protocol {

/// The document type of decoded frames: the parse stack lives in the same
/// pool as the values, so parsing a small frame makes one allocation.
using storage_document
  = rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                               rapidjson::MemoryPoolAllocator<>>;

/// A frame's text and the document parsed in place from it, in one block.
struct json_storage {
  static constexpr size_t chunk_size = 4096;

  explicit json_storage(std::string&& src);
  json_storage(const json_storage&) = delete;
  json_storage& operator=(const json_storage&) = delete;

  /// Parses `text` in place; the error names what is wrong.
  static result<std::shared_ptr<json_storage>> parse(std::string&& text);

  std::string text;
  alignas(16) char inline_buffer[1024];
  rapidjson::MemoryPoolAllocator<> pool;
  storage_document doc;
};

/// A compact JSON writer that refuses invalid UTF-8. Its output is RapidJSON's
/// checking writer's, byte for byte; a string is checked in one pass and
/// copied whole when nothing in it needs an escape (RapidJSON's check decodes
/// and re-encodes every byte).
class validating_writer : public rapidjson::Writer<rapidjson::StringBuffer> {
public:
  using base = rapidjson::Writer<rapidjson::StringBuffer>;

  explicit validating_writer(rapidjson::StringBuffer& os) : base(os) {}

  /// Writes a string value; false (nothing written) if it is not valid UTF-8.
  bool String(const Ch* s, rapidjson::SizeType n, bool copy = false);

  /// Writes an object key; false (nothing written) if it is not valid UTF-8.
  bool Key(const Ch* s, rapidjson::SizeType n, bool copy = false) { return String(s, n, copy); }
};

/// A writer and its buffer, reused by one thread: encoding allocates nothing
/// once warm but the output string.
struct thread_json_writer {
  rapidjson::StringBuffer buf;
  validating_writer writer{buf};

  /// The calling thread's writer, cleared and ready.
  static thread_json_writer& get();

  /// Writes a string, or null for an empty optional.
  bool put_opt(const std::optional<std::string>& s) {
    return s ? writer.String(s->data(), static_cast<rapidjson::SizeType>(s->size()))
             : writer.Null();
  }
  bool put(std::string_view s) {
    return writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }
  bool key(std::string_view s) {
    return writer.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }
  std::string str() const { return std::string{buf.GetString(), buf.GetSize()}; }
};

} // namespace phx::protocol
