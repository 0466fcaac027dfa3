// Fuzz target: the V2 JSON text decoder (`[join_ref, ref, topic, event,
// payload]`) in both roles. Invariants beyond "no crash":
// - a refused frame gets a documented error code of a text decoder;
// - a decoded message re-encodes, the encoding decodes to the same message,
//   and encoding that again gives the same bytes (canonical form);
// - the serializer object agrees with the codec function;
// - a non-reply decodes the same in both roles; a reply decoded by the client
//   is the server's view split into status + response.
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

// Decode -> encode -> decode -> encode in one role; returns the message.
std::optional<message> check_role(const std::string& input, role r) {
  auto decoded = decode_v2_json(std::string{input}, r);
  v2_serializer ser{r};
  auto via_serializer = ser.decode(frame_type::text, std::string_view{input});
  PHX_FUZZ_CHECK(decoded.has_value() == via_serializer.has_value(),
                 "v2_serializer::decode and decode_v2_json disagree");
  if (!decoded) {
    PHX_FUZZ_CHECK(text_decoder_error(decoded.error()), decoded.error().to_string());
    return std::nullopt;
  }
  const message& msg = *decoded;
  PHX_FUZZ_CHECK(same_message(msg, *via_serializer), show(msg));
  PHX_FUZZ_CHECK(msg.payload.is_json(), "a text frame decoded to bytes");
  PHX_FUZZ_CHECK(r == role::client || msg.status.empty(),
                 "the server role filled a status: " + show(msg));

  auto encoded = encode_v2_json(msg);
  PHX_FUZZ_CHECK(encoded.has_value(), "a decoded message does not re-encode: "
                                        + encoded.error().to_string());
  auto framed = ser.encode(msg);
  PHX_FUZZ_CHECK(framed && framed->type == frame_type::text && framed->data == *encoded,
                 "v2_serializer::encode and encode_v2_json disagree");

  auto again = decode_v2_json(std::string{*encoded}, r);
  PHX_FUZZ_CHECK(again.has_value(), "the re-encoded frame does not decode: " + *encoded);
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
  auto encoded_again = encode_v2_json(*again);
  PHX_FUZZ_CHECK(encoded_again && *encoded_again == *encoded,
                 "the encoding is not canonical: " + *encoded);
  // A JSON payload never goes into a binary frame.
  auto binary = encode_v2_binary(msg, r);
  PHX_FUZZ_CHECK(!binary && binary.error().code == errc::unsupported,
                 "a JSON payload was encoded as a binary frame");
  return msg;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = phx_fuzz::text_of(data, size);
  auto as_client = check_role(input, role::client);
  auto as_server = check_role(input, role::server);
  if (!as_server) {
    // Only a reply's normalization can refuse what the server role accepts.
    PHX_FUZZ_CHECK(!as_client, "the client role accepted what the server role refused");
    return 0;
  }
  if (!as_server->is_reply()) {
    PHX_FUZZ_CHECK(as_client && same_message(*as_client, *as_server),
                   "the roles decode a non-reply differently");
    return 0;
  }
  if (!as_client) // a reply payload without a string status
    return 0;
  // The client's status + response is the server's raw {status, response}.
  auto& raw = as_server->payload.json();
  PHX_FUZZ_CHECK(raw.IsObject(), "an accepted reply payload is not an object");
  auto status = raw.FindMember("status");
  PHX_FUZZ_CHECK(status != raw.MemberEnd() && status->value.IsString()
                   && as_client->status
                        == std::string_view(status->value.GetString(),
                                            status->value.GetStringLength()),
                 "reply status differs from the raw payload's");
  auto response = raw.FindMember("response");
  if (response == raw.MemberEnd())
    PHX_FUZZ_CHECK(as_client->payload.json().IsObject()
                     && as_client->payload.json().MemberCount() == 0,
                   "a reply without response is not {}");
  else
    PHX_FUZZ_CHECK(same_json(response->value, as_client->payload.json()),
                   "reply response differs from the raw payload's");
  return 0;
}
