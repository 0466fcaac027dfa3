// Fuzz target: the V1 JSON object decoder (`{topic, event, payload, ref,
// join_ref}`) in both roles. Invariants beyond "no crash":
// - a refused frame gets a documented error code of a text decoder, and a
//   binary frame is refused by the V1 serializer as unsupported;
// - a decoded message re-encodes (client shape, with join_ref), decodes to
//   the same message, and encodes again to the same bytes;
// - the server's shape (no join_ref) decodes to the same message but a null join_ref;
// - a non-reply decodes the same in both roles.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "phx/protocol/serializer.hpp"

using namespace phx::protocol;
using phx_fuzz::same_json;
using phx_fuzz::same_message;
using phx_fuzz::show;

namespace {

bool text_decoder_error(const error& err) {
  switch (err.code) {
    case errc::empty_frame:
    case errc::invalid_json:
    case errc::invalid_utf8:
    case errc::too_deep:
    case errc::wrong_shape:
    case errc::invalid_field:
      return phx_fuzz::well_formed(err);
    default:
      return false;
  }
}

std::optional<message> check_role(const std::string& input, role r) {
  auto decoded = decode_v1_json(std::string{input}, r);
  v1_serializer ser{r};
  auto via_serializer = ser.decode(frame_type::text, std::string_view{input});
  PHX_FUZZ_CHECK(decoded.has_value() == via_serializer.has_value(),
                 "v1_serializer::decode and decode_v1_json disagree");
  auto binary = ser.decode(frame_type::binary, std::string_view{input});
  PHX_FUZZ_CHECK(!binary && binary.error().code == errc::unsupported,
                 "serializer V1 accepted a binary frame");
  if (!decoded) {
    PHX_FUZZ_CHECK(text_decoder_error(decoded.error()), decoded.error().to_string());
    return std::nullopt;
  }
  const message& msg = *decoded;
  PHX_FUZZ_CHECK(same_message(msg, *via_serializer), show(msg));
  PHX_FUZZ_CHECK(msg.payload.is_json(), "a V1 frame decoded to bytes");
  PHX_FUZZ_CHECK(r == role::client || msg.status.empty(),
                 "the server role filled a status: " + show(msg));

  auto encoded = encode_v1_json(msg, role::client);
  PHX_FUZZ_CHECK(encoded.has_value(), "a decoded message does not re-encode: "
                                        + encoded.error().to_string());
  auto server_shape = encode_v1_json(msg, role::server);
  PHX_FUZZ_CHECK(server_shape.has_value(), "no server-shape encoding: "
                                             + server_shape.error().to_string());
  auto framed = v1_serializer{role::client}.encode(msg);
  PHX_FUZZ_CHECK(framed && framed->type == frame_type::text && framed->data == *encoded,
                 "v1_serializer::encode and encode_v1_json disagree");

  auto again = decode_v1_json(std::string{*encoded}, r);
  PHX_FUZZ_CHECK(again.has_value(), "the re-encoded frame does not decode: " + *encoded);
  auto from_server_shape = decode_v1_json(std::string{*server_shape}, r);
  PHX_FUZZ_CHECK(from_server_shape.has_value(),
                 "the server-shape frame does not decode: " + *server_shape);
  PHX_FUZZ_CHECK(!from_server_shape->join_ref, "the server shape carried a join_ref");
  if (r == role::server && msg.is_reply()) {
    // The server role keeps a reply's payload raw, while every encoder writes
    // a reply as {status, response}: the round trip nests the payload once.
    auto& body = again->payload.json();
    PHX_FUZZ_CHECK(body.IsObject() && body.MemberCount() == 2
                     && body.HasMember("status") && body["status"] == ""
                     && body.HasMember("response")
                     && same_json(body["response"], msg.payload.json()),
                   "server-role reply round trip: " + *encoded);
    return msg;
  }
  PHX_FUZZ_CHECK(same_message(msg, *again),
                 "round trip changed the message:\n  " + show(msg) + "\n  " + show(*again));
  auto encoded_again = encode_v1_json(*again, role::client);
  PHX_FUZZ_CHECK(encoded_again && *encoded_again == *encoded,
                 "the encoding is not canonical: " + *encoded);
  message without_join_ref = msg;
  without_join_ref.join_ref.reset();
  PHX_FUZZ_CHECK(same_message(without_join_ref, *from_server_shape),
                 "the server shape changed more than the join_ref: " + *server_shape);
  return msg;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = phx_fuzz::text_of(data, size);
  auto as_client = check_role(input, role::client);
  auto as_server = check_role(input, role::server);
  if (!as_server) {
    PHX_FUZZ_CHECK(!as_client, "the client role accepted what the server role refused");
    return 0;
  }
  if (!as_server->is_reply())
    PHX_FUZZ_CHECK(as_client && same_message(*as_client, *as_server),
                   "the roles decode a non-reply differently");
  return 0;
}
