#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include <websocketpp/concurrency/none.hpp>
#include <websocketpp/config/core.hpp>
#include <websocketpp/extensions/permessage_deflate/enabled.hpp>
#include <websocketpp/frame.hpp>
#include <websocketpp/transport/asio/endpoint.hpp>
#include <websocketpp/transport/asio/security/none.hpp>
#include <websocketpp/transport/asio/security/tls.hpp>

#include "phx/protocol/serializer.hpp"

namespace phx_server {

/// websocketpp's permessage-deflate whose zlib state (~200 KiB) is made at
/// the first compressed message, not at the negotiation: websocketpp
/// negotiates before the path is known, and clients that offer by default
/// (Node's `ws`, browsers) on paths that decline must stay cheap.
template <class Config>
class lazy_deflate {
public:
  using inner_type = websocketpp::extensions::permessage_deflate::enabled<Config>;
  using err_str_pair = std::pair<websocketpp::lib::error_code, std::string>;

  err_str_pair negotiate(const websocketpp::http::attribute_list& offer) {
    return inner_.negotiate(offer);
  }

  websocketpp::lib::error_code init(bool is_server) {
    is_server_ = is_server;
    return {};
  }

  bool is_implemented() const { return true; }
  bool is_enabled() const { return inner_.is_enabled(); }
  std::string generate_offer() const { return inner_.generate_offer(); }

  websocketpp::lib::error_code compress(const std::string& in, std::string& out) {
    if (auto ec = ready())
      return ec;
    return inner_.compress(in, out);
  }

  websocketpp::lib::error_code decompress(const uint8_t* buf, size_t len,
                                          std::string& out) {
    if (auto ec = ready())
      return ec;
    return inner_.decompress(buf, len, out);
  }

private:
  websocketpp::lib::error_code ready() {
    if (initialized_)
      return {};
    auto ec = inner_.init(is_server_);
    initialized_ = !ec;
    return ec;
  }

  inner_type inner_;
  bool is_server_ = true;
  bool initialized_ = false;
};

/// websocketpp's server configuration for one io thread: no locks and no
/// strands (the io thread owns every object), and a small read buffer so that
/// 10,000 idle sockets stay cheap.
template <class SocketType>
struct ws_config : websocketpp::config::core {
  using type = ws_config;
  using base = websocketpp::config::core;

  using concurrency_type = websocketpp::concurrency::none;
  using request_type = base::request_type;
  using response_type = base::response_type;
  using message_type = base::message_type;
  using con_msg_manager_type = base::con_msg_manager_type;
  using endpoint_msg_manager_type = base::endpoint_msg_manager_type;
  using alog_type = websocketpp::log::basic<concurrency_type, websocketpp::log::alevel>;
  using elog_type = websocketpp::log::basic<concurrency_type, websocketpp::log::elevel>;
  using rng_type = base::rng_type;
  /// websocketpp's own permessage-deflate (zlib), made lazily: negotiated
  /// whenever offered, answered only on `/deflate/socket` (listener.cpp).
  using permessage_deflate_type = lazy_deflate<base::permessage_deflate_config>;

  static const bool enable_multithreading = false;

  /// Bytes read per system call; also the per-connection buffer.
  static const size_t connection_read_buffer_size = 4096;

  /// Messages above this size close the socket with 1009 (Phoenix's default
  /// is unlimited; this bounds what one client can make the server hold).
  static const size_t max_message_size = 32 * 1024 * 1024;

  struct transport_config : base::transport_config {
    using concurrency_type = type::concurrency_type;
    using alog_type = type::alog_type;
    using elog_type = type::elog_type;
    using request_type = type::request_type;
    using response_type = type::response_type;
    using socket_type = SocketType;
    static const bool enable_multithreading = false;
    /// A TLS shutdown waits for the peer's close_notify, which clients often
    /// never send (they wait for the server's FIN): do not hold the socket.
    static const long timeout_socket_shutdown = 500;
  };

  using transport_type = websocketpp::transport::asio::endpoint<transport_config>;
};

/// Plain TCP (ws://).
using plain_config = ws_config<websocketpp::transport::asio::basic_socket::endpoint>;

/// TLS (wss://).
using tls_config = ws_config<websocketpp::transport::asio::tls_socket::endpoint>;

/// A websocketpp message; both configurations share the type.
using ws_message = websocketpp::config::core::message_type;

/// A shared websocketpp message.
using ws_message_ptr = ws_message::ptr;

/// Turns an encoded frame into a prepared (already framed) websocketpp
/// message without copying its bytes; one message may be queued on many
/// connections (broadcasts are encoded once per serializer).
ws_message_ptr make_ws_message(phx::protocol::frame&& f);

} // namespace phx_server
