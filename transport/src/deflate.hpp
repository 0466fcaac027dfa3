// Private: permessage-deflate (RFC 7692) for the transport's client side.
// The codec (zlib), the negotiation of the server's answer, and the
// websocketpp extension class that decompresses inbound frames. Outbound
// frames are compressed by the connection itself (it writes its frames past
// websocketpp's message processor). Only sources under transport/src (and
// the deflate tests) include this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <websocketpp/common/system_error.hpp>
#include <websocketpp/http/constants.hpp>

namespace phx::transport::detail {

// -- negotiation ---------------------------------------------------------------

/// The parameters of permessage-deflate the server agreed to (RFC 7692 7.1).
struct deflate_params {
  /// The server resets its compressor after each message.
  bool server_no_context_takeover = false;
  /// We must reset our compressor after each message.
  bool client_no_context_takeover = false;
  /// The server's LZ77 window is at most 2^N bytes (8..15).
  uint8_t server_max_window_bits = 15;
  /// Our LZ77 window must be at most 2^N bytes (8..15).
  uint8_t client_max_window_bits = 15;
};

/// The client's offer: permessage-deflate with every default, and
/// `client_max_window_bits` so that the server may ask for a smaller window.
std::string deflate_offer();

/// What the server's `Sec-WebSocket-Extensions` answer means.
struct deflate_answer {
  /// True if permessage-deflate is in use.
  bool accepted = false;
  /// Its parameters (when accepted).
  deflate_params params;
  /// Non-empty: the answer is invalid (RFC 6455 4.1, RFC 7692 5 and 7.1) and
  /// the connection must fail; says why, without header values.
  std::string error;
};

/// Reads the server's answer `header` (empty: no extension) to our offer;
/// `offered` says whether we offered permessage-deflate at all.
deflate_answer parse_deflate_answer(std::string_view header, bool offered);

/// Renders the parameters as an answer would carry them (for logs and tests).
std::string to_string(const deflate_params& params);

// -- codec ---------------------------------------------------------------------

/// Compresses the messages of one connection, one call per message (RFC 7692
/// 7.2.1): raw DEFLATE, flushed to a byte boundary, the trailing
/// 0x00 0x00 0xff 0xff removed; the LZ77 window carries over between
/// messages unless `no_context_takeover`.
class deflater {
public:
  /// A compressor with a 2^`window_bits` window (9..15); zlib is set up at
  /// the first message.
  deflater(int window_bits, bool no_context_takeover);
  ~deflater();
  deflater(const deflater&) = delete;
  deflater& operator=(const deflater&) = delete;

  /// Replaces `out` with the compressed payload of the message `in`; false
  /// if zlib failed (the compressor is unusable afterwards).
  bool compress(std::string_view in, std::string& out);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Decompresses the messages of one connection into a bounded output.
class inflater {
public:
  /// What a call did.
  enum class status {
    /// Everything given was decompressed.
    ok,
    /// The message would exceed the cap: nothing beyond it was kept.
    too_big,
    /// The data is not valid DEFLATE.
    corrupt,
  };

  /// A decompressor with a 2^`window_bits` window (8..15) whose messages may
  /// inflate to at most `max_message_size` bytes.
  inflater(int window_bits, size_t max_message_size);
  ~inflater();
  inflater(const inflater&) = delete;
  inflater& operator=(const inflater&) = delete;

  /// Decompresses `len` bytes of a message and appends them to `out` (the
  /// message so far). Memory stays bounded by the cap: `out` never grows
  /// past `max_message_size` + 1 bytes, however much the input would expand.
  status inflate(const uint8_t* data, size_t len, std::string& out);

  /// The cap on a decompressed message.
  size_t max_message_size() const noexcept { return max_; }

private:
  struct impl;
  std::unique_ptr<impl> impl_;
  size_t max_;
};

// -- the extension -------------------------------------------------------------

/// The permessage-deflate state of one connection, shared by the connection
/// (its offer, the answer's parameters, outbound compression) and the
/// extension inside websocketpp's message processor (inbound decompression).
/// Both run on the connection's io thread: no lock.
struct deflate_session {
  /// Cap on a decompressed inbound message (the request's `max_frame_size`).
  size_t max_message_size = 0;
  /// websocketpp saw permessage-deflate in the answer and lets RSV1 frames in.
  bool negotiated = false;
  /// Set by `configure` once the answer was validated.
  std::unique_ptr<inflater> in;
  /// Null when we send uncompressed (not negotiated, a window zlib cannot
  /// honour, or after a zlib failure).
  std::unique_ptr<deflater> out;
  /// Why the last inbound message was refused (for the close's log line).
  std::string refused;

  /// Sets the codec up for the parameters the server agreed to; returns a
  /// note for the log when outbound compression stays off.
  std::string configure(const deflate_params& params);
};

/// Messages shorter than this go out uncompressed: compressing a heartbeat
/// saves nothing and costs a deflate call (RFC 7692 lets any message be sent
/// uncompressed).
constexpr size_t min_compressed_message = 64;

/// websocketpp's `permessage_deflate_type` of the client configs. websocketpp
/// creates it inside each connection's message processor, where nothing of
/// the connection reaches it: the connection hands its `deflate_session`
/// over through `hand_over`, which its tcp_post_init handler calls right
/// before websocketpp creates the processor, on the same thread.
class deflate_extension {
public:
  /// The result type websocketpp expects from `negotiate`.
  using err_str_pair = std::pair<websocketpp::lib::error_code, std::string>;

  /// Takes the session handed over on this thread (if any).
  deflate_extension();

  /// Makes the next extension created on this thread use `session` (empty:
  /// no compression).
  static void hand_over(std::weak_ptr<deflate_session> session);

  /// The server's answer holds permessage-deflate: accepted if we offered
  /// it. Its parameters are validated by the connection (parse_deflate_answer
  /// on the raw header: websocketpp's parsed form drops duplicates).
  err_str_pair negotiate(const websocketpp::http::attribute_list& answer);

  /// Turns inbound decompression on after a successful `negotiate`.
  websocketpp::lib::error_code init(bool is_server);

  /// Always true: this class implements the extension.
  bool is_implemented() const { return true; }

  /// True once negotiated: RSV1 frames are accepted and decompressed.
  bool is_enabled() const { return enabled_; }

  /// Our offer when the connection asked for compression, else empty.
  std::string generate_offer() const;

  /// Not used: the connection compresses its frames itself.
  websocketpp::lib::error_code compress(const std::string& in, std::string& out);

  /// Decompresses `len` bytes of an RSV1 message into `out`, refusing a
  /// message that inflates past the cap (websocketpp then closes with 1009).
  websocketpp::lib::error_code decompress(const uint8_t* buf, size_t len,
                                          std::string& out);

private:
  std::shared_ptr<deflate_session> session_;
  bool enabled_ = false;
};

} // namespace phx::transport::detail
