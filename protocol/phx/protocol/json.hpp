#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "phx/protocol/result.hpp"

namespace phx::protocol {

/// A JSON value as RapidJSON models it.
using json_value = rapidjson::Value;

/// A JSON document (a value that owns its allocator).
using json_document = rapidjson::Document;

/// An immutable, shared JSON value. Decoded once, passed by pointer, never
/// copied or re-serialized per hop; it may alias into a larger decoded frame.
using json_ptr = std::shared_ptr<const json_value>;

/// Nesting deeper than this is refused: it bounds the recursion of every
/// consumer (RapidJSON's writer, comparisons) on hostile input.
constexpr size_t max_json_depth = 512;

/// Parses JSON text into an immutable value. Validates UTF-8, rejects lone
/// surrogates, trailing garbage and nesting deeper than `max_json_depth`.
result<json_ptr> parse_json(std::string_view text);

/// Bytes that parsing in place appends to a text (a guard behind its end): a
/// buffer with this much spare capacity is not reallocated by the parse.
constexpr size_t parse_spare_bytes = 3;

/// Parses JSON text in place: the text buffer is taken over and kept alive
/// by the returned value, so strings are not copied.
result<json_ptr> parse_json(std::string&& text);

/// Wraps a document the caller built into an immutable shared value.
json_ptr make_json(json_document&& doc);

/// The shared immutable empty object `{}`.
const json_ptr& empty_object();

/// The shared immutable `null`.
const json_ptr& null_json();

/// Serializes a value as compact JSON (no spaces), validating UTF-8.
result<std::string> to_json_string(const json_value& value);

/// Appends compact JSON to `out`; on failure `out` is left unchanged.
/// Returns false if the value holds invalid UTF-8.
bool append_json(std::string& out, const json_value& value);

/// Deep copy of a value into a new document.
json_document copy_json(const json_value& value);

/// Deep copy of a value into a small block of its own (no 64 KiB first chunk
/// as a `json_document` makes, nothing shared with the source).
json_ptr detach_json(const json_value& value);

/// True if `s` is valid UTF-8 (and encodes no UTF-16 surrogate).
bool is_valid_utf8(std::string_view s) noexcept;

/// Appends `s` as a JSON string literal (quoted, escaped) to `out`.
void append_json_string(std::string& out, std::string_view s);

} // namespace phx::protocol
