#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "phx/protocol/message.hpp"
#include "phx/protocol/result.hpp"

namespace phx::protocol {

/// The type of a WebSocket data frame.
enum class frame_type : uint8_t { text, binary };

/// One WebSocket data frame.
struct frame {
  frame_type type = frame_type::text; ///< Text (JSON) or binary.
  std::string data;                   ///< The frame's bytes.
};

/// Which side of the connection a serializer works for: the binary layouts
/// and V1's join_ref differ by direction.
enum class role : uint8_t { client, server };

/// The wire protocol version of serializer V2 (JSON arrays and binary frames).
constexpr std::string_view vsn_2 = "2.0.0";
/// The wire protocol version of serializer V1 (JSON objects).
constexpr std::string_view vsn_1 = "1.0.0";

/// Turns messages into frames and frames into messages.
class serializer {
public:
  virtual ~serializer();

  /// The protocol version this serializer speaks (the `vsn` URL parameter).
  virtual std::string_view vsn() const noexcept = 0;

  /// Encodes a message; an impossible message (a binary field over 255
  /// bytes, bytes over V1, invalid UTF-8) yields an error naming the field.
  virtual result<frame> encode(const message& msg) const = 0;

  /// Decodes a frame, taking over its buffer (JSON is parsed in place).
  virtual result<message> decode(frame_type type, std::string&& data) const = 0;

  /// Decodes a copy of `data`.
  result<message> decode(frame_type type, std::string_view data) const {
    return decode(type, std::string{data});
  }
};

/// Serializer V2 (vsn 2.0.0): JSON arrays `[join_ref, ref, topic, event,
/// payload]` for JSON payloads, binary frames for byte payloads.
class v2_serializer final : public serializer {
public:
  /// A serializer for the client or the server side.
  explicit v2_serializer(role r) : role_(r) {}
  std::string_view vsn() const noexcept override { return vsn_2; }
  result<frame> encode(const message& msg) const override;
  result<message> decode(frame_type type, std::string&& data) const override;
  using serializer::decode;

private:
  role role_;
};

/// Serializer V1 (vsn 1.0.0): JSON objects; no binary frames.
class v1_serializer final : public serializer {
public:
  /// A serializer for the client or the server side.
  explicit v1_serializer(role r) : role_(r) {}
  std::string_view vsn() const noexcept override { return vsn_1; }
  result<frame> encode(const message& msg) const override;
  result<message> decode(frame_type type, std::string&& data) const override;
  using serializer::decode;

private:
  role role_;
};

/// A user-supplied encode function (phoenix.cr's `encode` option).
using encode_fn = std::function<result<frame>(const message&)>;

/// A user-supplied decode function (phoenix.cr's `decode` option).
using decode_fn = std::function<result<message>(frame_type, std::string&&)>;

/// A serializer built from user functions; either may be empty, in which case
/// `fallback` does that direction.
class custom_serializer final : public serializer {
public:
  /// Encodes with `enc` and decodes with `dec`, or with `fallback` where empty.
  custom_serializer(std::shared_ptr<const serializer> fallback, encode_fn enc,
                    decode_fn dec);
  std::string_view vsn() const noexcept override { return fallback_->vsn(); }
  result<frame> encode(const message& msg) const override;
  result<message> decode(frame_type type, std::string&& data) const override;
  using serializer::decode;

private:
  std::shared_ptr<const serializer> fallback_;
  encode_fn encode_;
  decode_fn decode_;
};

/// Selects the serializer of a protocol version: "2.0.0" (or any 2.0.x) is
/// V2, "1.0.0" (any 1.0.x) is V1, anything else is an error.
result<std::shared_ptr<const serializer>> make_serializer(std::string_view vsn,
                                                          role r);

// -- the individual codecs, used by the serializers and by tests -------------

/// Encodes a JSON-payload message as a V2 text frame.
result<std::string> encode_v2_json(const message& msg);

/// Decodes a V2 text frame. In the client role a `phx_reply` is normalized.
result<message> decode_v2_json(std::string&& text, role r);

/// The same; when the frame is an array of five or more whose refs, topic or
/// event have types a `message` cannot hold, the error comes with the parsed
/// array in `*loose` (Phoenix routes such frames anyway: phx-server does too).
result<message> decode_v2_json(std::string&& text, role r, json_ptr* loose);

/// Encodes a bytes-payload message as a V2 binary frame: kind 0 (push) for
/// the client role; kind 0 (push), 1 (reply) or 2 (broadcast) for the server.
result<std::string> encode_v2_binary(const message& msg, role r);

/// Decodes a V2 binary frame: kinds 0, 1, 2 from the server (client role) or
/// kind 0 with a ref from a client (server role).
result<message> decode_v2_binary(std::string_view data, role r);

/// Encodes a message as a V1 JSON object (the server's output has no join_ref).
result<std::string> encode_v1_json(const message& msg, role r);

/// Decodes a V1 JSON object.
result<message> decode_v1_json(std::string&& text, role r);

} // namespace phx::protocol
