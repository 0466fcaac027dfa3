// Private: the websocketpp configuration of the transport. Only sources under
// transport/src include this header (no public header may).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>

#include <websocketpp/client.hpp>
#include <websocketpp/concurrency/none.hpp>
#include <websocketpp/config/asio_client.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>

#include "phx/protocol/json.hpp"
#include "phx/protocol/log.hpp"

#include "deflate.hpp"

namespace phx::transport::detail {

// -- log hub -------------------------------------------------------------------

/// The runtime's log sink, shared by every websocketpp logger of the runtime;
/// silent (and nearly free) until a sink is set.
class log_hub {
public:
  /// Replaces the sink; an empty function makes the hub silent again.
  void set(protocol::log_sink sink);

  /// True when a sink is set (checked before formatting anything).
  bool enabled() const noexcept {
    return enabled_.load(std::memory_order_relaxed);
  }

  /// Writes one line through the sink, if any.
  void write(protocol::log_level level, std::string_view component,
             std::string_view text) const;

private:
  mutable std::mutex mtx_;
  std::shared_ptr<const protocol::log_sink> sink_;
  std::atomic<bool> enabled_{false};
};

/// Replaces query strings and quoted texts (the User-Agent, which the user
/// may set) in a websocketpp log line: they can hold tokens.
std::string redact_log_line(std::string_view line);

/// Maps websocketpp's channels to the project's levels: websocketpp's lines
/// are diagnostics below the transport's own summary lines.
protocol::log_level wspp_level(websocketpp::log::level channel,
                               bool error_channel) noexcept;

// -- logger policy ---------------------------------------------------------------

/// websocketpp logger policy writing to a `log_hub` instead of stdout/stderr.
/// Channels statically excluded by the config (devel, frame payloads) are
/// compiled out; the rest cost one relaxed load while the hub is silent.
template <class Names>
class sink_logger {
public:
  explicit sink_logger(websocketpp::log::channel_type_hint::value hint
                       = websocketpp::log::channel_type_hint::access)
    : static_channels_(0xffffffff), hint_(hint) {
    // nop
  }

  sink_logger(websocketpp::log::level channels,
              websocketpp::log::channel_type_hint::value hint)
    : static_channels_(channels), hint_(hint) {
    // nop
  }

  /// Attaches the hub (once, before the endpoint is used).
  void set_hub(const log_hub* hub) noexcept { hub_ = hub; }

  void set_channels(websocketpp::log::level channels) {
    if (channels == Names::none) {
      clear_channels(Names::all);
      return;
    }
    dynamic_channels_ |= (channels & static_channels_);
  }

  void clear_channels(websocketpp::log::level channels) {
    dynamic_channels_ &= ~channels;
  }

  void write(websocketpp::log::level channel, const std::string& msg) {
    write(channel, std::string_view{msg});
  }

  void write(websocketpp::log::level channel, const char* msg) {
    write(channel, std::string_view{msg});
  }

  void write(websocketpp::log::level channel, std::string_view msg) {
    if (!dynamic_test(channel))
      return;
    auto error_channel = hint_ == websocketpp::log::channel_type_hint::error;
    std::string text = "[";
    text += Names::channel_name(channel);
    text += "] ";
    text += redact_log_line(msg);
    hub_->write(wspp_level(channel, error_channel), "websocketpp", text);
  }

  constexpr bool static_test(websocketpp::log::level channel) const {
    return (channel & static_channels_) != 0;
  }

  bool dynamic_test(websocketpp::log::level channel) {
    return hub_ != nullptr && hub_->enabled()
           && (channel & dynamic_channels_) != 0;
  }

private:
  const websocketpp::log::level static_channels_;
  websocketpp::log::level dynamic_channels_ = 0;
  websocketpp::log::channel_type_hint::value hint_;
  const log_hub* hub_ = nullptr;
};

// -- masking keys ------------------------------------------------------------------

/// Masking keys from OpenSSL's CSPRNG, fetched 256 at a time (RFC 6455 asks
/// for strong entropy; one syscall per frame would cost more than the frame).
/// Used by one io thread only: no lock.
class masking_rng {
public:
  using int_type = uint32_t;

  /// The next 32-bit key.
  uint32_t operator()() {
    if (next_ == keys_.size())
      refill();
    return keys_[next_++];
  }

private:
  void refill();
  std::array<uint32_t, 256> keys_{};
  size_t next_ = 256;
};

// -- socket policies -----------------------------------------------------------------

/// A websocketpp socket connection policy that keeps asio's error codes
/// (websocketpp folds every connect error into `pass_through`, so
/// "connection refused" would be lost). Boost.System codes convert to
/// std::error_code with their category and message intact.
template <class Base>
class keep_errors : public Base {
public:
  using type = keep_errors;
  using ptr = std::shared_ptr<type>;

  template <class ErrorCode>
  static std::error_code translate_ec(ErrorCode ec) {
    return static_cast<std::error_code>(ec);
  }

  static std::error_code translate_ec(std::error_code ec) {
    return ec;
  }
};

/// Plain TCP socket policy with asio's errors kept.
struct plain_socket : websocketpp::transport::asio::basic_socket::endpoint {
  using socket_con_type =
    keep_errors<websocketpp::transport::asio::basic_socket::connection>;
  using socket_con_ptr = socket_con_type::ptr;
};

/// TLS socket policy with asio's errors kept.
struct tls_socket : websocketpp::transport::asio::tls_socket::endpoint {
  using socket_con_type =
    keep_errors<websocketpp::transport::asio::tls_socket::connection>;
  using socket_con_ptr = socket_con_type::ptr;
};

// -- configs ---------------------------------------------------------------------------

/// Bytes read per read call of a connection. websocketpp keeps this buffer
/// INSIDE every connection object (16 KiB by default); 4 KiB cuts the
/// per-connection footprint of 10,000 sockets by 120 MB at no measurable
/// cost for Phoenix-sized frames (the parser is incremental: any size is safe).
constexpr size_t read_buffer_size = 4096;

/// A connection's message manager whose buffers keep room for the bytes the
/// decoder appends (`protocol::parse_spare_bytes`): websocketpp reserves
/// exactly a frame's size, so each inbound frame was reallocated and copied.
template <class Message>
class spare_msg_manager : public std::enable_shared_from_this<spare_msg_manager<Message>> {
public:
  using type = spare_msg_manager;
  using ptr = std::shared_ptr<spare_msg_manager>;
  using weak_ptr = std::weak_ptr<spare_msg_manager>;
  using message_ptr = typename Message::ptr;

  /// An empty message (websocketpp fills and sizes it itself).
  message_ptr get_message() {
    return std::make_shared<Message>(this->shared_from_this());
  }

  /// A message for a frame of `size` bytes, with the decoder's spare bytes.
  message_ptr get_message(websocketpp::frame::opcode::value op, size_t size) {
    return std::make_shared<Message>(this->shared_from_this(), op,
                                     size + protocol::parse_spare_bytes);
  }

  /// Messages are not pooled: a frame's buffer moves on with its text.
  bool recycle(Message*) {
    return false;
  }
};

/// The message type of the client configs (with `spare_msg_manager`).
using spare_message = websocketpp::message_buffer::message<spare_msg_manager>;

/// The client config shared by ws and wss: one io thread touches a
/// connection, so no locks and no strands (concurrency `none`).
template <class Socket>
struct client_config : websocketpp::config::asio_client {
  using type = client_config;
  using base = websocketpp::config::asio_client;

  using concurrency_type = websocketpp::concurrency::none;
  using request_type = base::request_type;
  using response_type = base::response_type;
  using message_type = spare_message;
  using con_msg_manager_type = spare_msg_manager<spare_message>;
  using endpoint_msg_manager_type =
    websocketpp::message_buffer::alloc::endpoint_msg_manager<con_msg_manager_type>;
  using alog_type = sink_logger<websocketpp::log::alevel>;
  using elog_type = sink_logger<websocketpp::log::elevel>;
  using rng_type = masking_rng;
  /// Our RFC 7692 extension (deflate.hpp) in place of websocketpp's disabled one.
  using permessage_deflate_type = deflate_extension;

  static const bool enable_multithreading = false;
  static const bool enable_extensions = true;
  static const size_t connection_read_buffer_size = read_buffer_size;

  /// Devel and frame dumps are compiled out: they print headers and payloads.
  static const websocketpp::log::level alog_level =
    websocketpp::log::alevel::connect | websocketpp::log::alevel::disconnect
    | websocketpp::log::alevel::fail;
  static const websocketpp::log::level elog_level =
    websocketpp::log::elevel::info | websocketpp::log::elevel::warn
    | websocketpp::log::elevel::rerror | websocketpp::log::elevel::fatal;

  struct transport_config : base::transport_config {
    using concurrency_type = type::concurrency_type;
    using alog_type = type::alog_type;
    using elog_type = type::elog_type;
    using request_type = type::request_type;
    using response_type = type::response_type;
    using socket_type = Socket;

    static const bool enable_multithreading = false;

    // The transport's own open timer bounds DNS + TCP + TLS + upgrade as a
    // whole; these per-step limits back it up. They stay moderate because an
    // attempt abandoned during DNS or TCP connect keeps its websocketpp
    // connection object until websocketpp's own step timer expires.
    static const long timeout_socket_pre_init = 30000;
    static const long timeout_proxy = 30000;
    static const long timeout_socket_post_init = 30000;
    static const long timeout_dns_resolve = 30000;
    static const long timeout_connect = 30000;
    /// TLS close_notify exchange after a close; a silent peer must not hold
    /// the terminal report back for long.
    static const long timeout_socket_shutdown = 1000;
  };

  using transport_type = websocketpp::transport::asio::endpoint<transport_config>;
};

/// Config of `ws://` connections.
using ws_config = client_config<plain_socket>;

/// Config of `wss://` connections.
using wss_config = client_config<tls_socket>;

/// Client endpoint for `ws://`.
using ws_client = websocketpp::client<ws_config>;

/// Client endpoint for `wss://`.
using wss_client = websocketpp::client<wss_config>;

} // namespace phx::transport::detail
