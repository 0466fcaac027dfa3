// Fuzz target: the V2 binary frame decoder in both roles (kinds 0, 1, 2 from
// a server; kind 0 with a ref from a client). Invariants beyond "no crash":
// - a refused frame gets a documented error code of the binary decoder;
// - a decoded message has a bytes payload, meta fields of at most 255 bytes
//   of UTF-8 and no empty join_ref/ref (an empty field means null);
// - encoding it as the peer would send it and decoding again gives the same
//   message, and encoding that again gives the same bytes;
// - the frame's own bytes come back when the kind byte says what the
//   message says (only an empty join_ref of a push may turn it into a broadcast);
// - bytes never go into a JSON text frame.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "phx/protocol/json.hpp"
#include "phx/protocol/serializer.hpp"

using namespace phx::protocol;
using phx_fuzz::same_message;
using phx_fuzz::show;

namespace {

bool binary_decoder_error(const error& err) {
  switch (err.code) {
    case errc::empty_frame:
    case errc::unknown_kind:
    case errc::truncated:
    case errc::invalid_utf8:
      return phx_fuzz::well_formed(err);
    default:
      return false;
  }
}

bool valid_meta(const std::string& s) {
  return s.size() <= 255 && is_valid_utf8(s);
}

bool valid_ref(const std::optional<std::string>& s) {
  return !s || (!s->empty() && valid_meta(*s));
}

role peer_of(role r) {
  return r == role::client ? role::server : role::client;
}

void check_role(const std::string& input, role r) {
  auto decoded = decode_v2_binary(input, r);
  v2_serializer ser{r};
  auto via_serializer = ser.decode(frame_type::binary, std::string_view{input});
  PHX_FUZZ_CHECK(decoded.has_value() == via_serializer.has_value(),
                 "v2_serializer::decode and decode_v2_binary disagree");
  if (!decoded) {
    PHX_FUZZ_CHECK(binary_decoder_error(decoded.error()), decoded.error().to_string());
    return;
  }
  const message& msg = *decoded;
  PHX_FUZZ_CHECK(same_message(msg, *via_serializer), show(msg));
  PHX_FUZZ_CHECK(msg.payload.is_binary(), "a binary frame decoded to JSON");
  PHX_FUZZ_CHECK(valid_ref(msg.join_ref) && valid_ref(msg.ref) && valid_meta(msg.topic)
                   && valid_meta(msg.event) && valid_meta(msg.status),
                 "a decoded meta field is not a valid binary field: " + show(msg));
  if (r == role::client) {
    PHX_FUZZ_CHECK(msg.is_reply() || (!msg.ref && msg.status.empty()),
                 "a server push or broadcast carried a ref or status: " + show(msg));
  } else {
    PHX_FUZZ_CHECK(msg.status.empty(), "a client push carried a status");
  }
  auto body = msg.payload.binary_view();
  PHX_FUZZ_CHECK(body.size() < input.size()
                   && input.compare(input.size() - body.size(), body.size(), body) == 0,
                 "the payload is not the tail of the frame");

  auto encoded = encode_v2_binary(msg, peer_of(r));
  PHX_FUZZ_CHECK(encoded.has_value(), "a decoded message does not re-encode: "
                                        + encoded.error().to_string() + " " + show(msg));
  auto framed = v2_serializer{peer_of(r)}.encode(msg);
  PHX_FUZZ_CHECK(framed && framed->type == frame_type::binary && framed->data == *encoded,
                 "v2_serializer::encode and encode_v2_binary disagree");
  auto again = decode_v2_binary(*encoded, r);
  PHX_FUZZ_CHECK(again.has_value(), "the re-encoded frame does not decode");
  PHX_FUZZ_CHECK(same_message(msg, *again),
                 "round trip changed the message:\n  " + show(msg) + "\n  " + show(*again));
  auto encoded_again = encode_v2_binary(*again, peer_of(r));
  PHX_FUZZ_CHECK(encoded_again && *encoded_again == *encoded,
                 "the encoding is not canonical");
  // The same bytes come back unless a server push had an empty join_ref.
  bool push_without_join_ref = r == role::client && input[0] == 0 && !msg.join_ref;
  bool reply_event_in_push = r == role::client && input[0] != 1 && msg.is_reply();
  if (!push_without_join_ref && !reply_event_in_push)
    PHX_FUZZ_CHECK(*encoded == input, "the frame does not re-encode to its own bytes");

  auto json = encode_v2_json(msg);
  PHX_FUZZ_CHECK(!json && json.error().code == errc::unsupported,
                 "bytes were encoded as a JSON text frame");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = phx_fuzz::text_of(data, size);
  check_role(input, role::client);
  check_role(input, role::server);
  return 0;
}
