#include "listener.hpp"

#include <type_traits>
#include <utility>

#include <boost/asio/ssl/context.hpp>
#include <websocketpp/server.hpp>

#include "admin.hpp"
#include "context.hpp"
#include "handshake.hpp"
#include "longpoll.hpp"
#include "session.hpp"
#include "wire.hpp"

namespace phx_server {

listener::~listener() = default;

namespace {

using phx::protocol::log_level;

// A long-poll request on a websocketpp connection: answered in the HTTP
// handler, or deferred (a held poll) and answered later.
template <class Connection>
class ws_http_exchange final : public http_exchange {
public:
  explicit ws_http_exchange(std::shared_ptr<Connection> con) : con_(std::move(con)) {
    // nop
  }

  std::string method() const override { return con_->get_request().get_method(); }
  std::string resource() const override { return con_->get_resource(); }
  std::string header(const std::string& name) const override {
    return con_->get_request_header(name);
  }
  const std::string& body() const override { return con_->get_request_body(); }

  void add_header(const std::string& name, const std::string& value) override {
    if (!done_)
      con_->replace_header(name, value);
  }

  void respond(int status, const std::string& content_type, std::string body) override {
    if (done_)
      return;
    done_ = true;
    con_->set_status(static_cast<websocketpp::http::status_code::value>(status));
    con_->replace_header("Content-Type", content_type);
    con_->set_body(std::move(body));
    if (deferred_) {
      std::error_code ec;
      con_->send_http_response(ec);
    }
  }

  void cut() override {
    if (done_)
      return;
    done_ = true;
    boost::system::error_code ec;
    auto& socket = con_->get_raw_socket();
    socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  bool done() const noexcept override { return done_; }

  // After the HTTP handler: an unanswered request stays open.
  void defer_unless_done() {
    if (!done_ && !con_->defer_http_response())
      deferred_ = true;
  }

private:
  std::shared_ptr<Connection> con_;
  bool done_ = false;
  bool deferred_ = false;
};

template <class Config>
class ws_listener final : public listener {
public:
  using endpoint_type = websocketpp::server<Config>;
  using connection_type = typename endpoint_type::connection_type;
  using connection_ptr = typename endpoint_type::connection_ptr;
  using message_ptr = typename endpoint_type::message_ptr;

  ws_listener(context& ctx, std::shared_ptr<boost::asio::ssl::context> tls)
    : ctx_(ctx), tls_(std::move(tls)) {
    server_.init_asio(&ctx_.io);
    server_.set_reuse_addr(true);
    server_.clear_access_channels(websocketpp::log::alevel::all);
    // websocketpp's own error log is noise for a test peer unless tracing.
    server_.clear_error_channels(websocketpp::log::elevel::all);
    if (ctx_.log.enabled(log_level::trace))
      server_.set_error_channels(websocketpp::log::elevel::all);
    server_.set_max_message_size(Config::max_message_size);
    server_.set_validate_handler([this](websocketpp::connection_hdl hdl) {
      return on_validate(std::move(hdl));
    });
    server_.set_http_handler([this](websocketpp::connection_hdl hdl) {
      on_http(std::move(hdl));
    });
    if constexpr (std::is_same_v<Config, tls_config>) {
      server_.set_tls_init_handler([this](websocketpp::connection_hdl) { return tls_; });
    }
  }

  uint16_t listen(std::string& error) override {
    std::error_code ec;
    server_.listen(ctx_.opts.host, std::to_string(ctx_.opts.port), ec);
    if (ec) {
      error = "cannot listen on " + ctx_.opts.host + ":"
              + std::to_string(ctx_.opts.port) + ": " + ec.message();
      return 0;
    }
    server_.start_accept(ec);
    if (ec) {
      error = "cannot accept: " + ec.message();
      return 0;
    }
    boost::system::error_code aec;
    auto local = server_.get_local_endpoint(aec);
    if (aec) {
      error = "cannot read the bound port: " + aec.message();
      return 0;
    }
    return local.port();
  }

  void stop_listening() override {
    std::error_code ec;
    server_.stop_listening(ec);
  }

private:
  bool on_validate(websocketpp::connection_hdl hdl) {
    auto con = server_.get_con_from_hdl(hdl);
    auto decision = decide_handshake(ctx_.opts, con->get_resource(),
                                     con->get_request_header("Sec-WebSocket-Protocol"));
    if (decision.status != 0) {
      if (ctx_.log.enabled(log_level::info))
        ctx_.log.write(log_level::info, "socket",
                       "refused upgrade (" + std::to_string(decision.status)
                         + "): " + decision.body);
      con->set_status(static_cast<websocketpp::http::status_code::value>(decision.status));
      con->set_body(decision.body + "\n");
      return false;
    }
    // websocketpp negotiated permessage-deflate before this handler ran; only
    // `/deflate/socket` says yes (the answer is what the client goes by).
    if (!decision.deflate)
      con->remove_header("Sec-WebSocket-Extensions");
    if (decision.select_phoenix) {
      std::error_code ec;
      con->select_subprotocol("phoenix", ec);
      // websocketpp could not parse the offer list (a token holds '/'):
      // the header is written by hand, as Phoenix does.
      if (ec)
        con->replace_header("Sec-WebSocket-Protocol", "phoenix");
    }
    auto deflate = decision.deflate;
    auto s = std::make_shared<ws_session<connection_type>>(ctx_, std::move(decision.info),
                                                           con, deflate);
    // The connection owns its session through these handlers.
    con->set_open_handler([s](websocketpp::connection_hdl) { s->opened(); });
    con->set_close_handler([s](websocketpp::connection_hdl) { s->closed(); });
    con->set_fail_handler([s](websocketpp::connection_hdl) { s->closed(); });
    con->set_message_handler([s, deflate](websocketpp::connection_hdl, message_ptr msg) {
      // RSV1 where the answer declined compression: a client bug, refused
      // as a server without the extension would (1002).
      if (msg->get_compressed() && !deflate) {
        s->close(1002, "compressed frame without permessage-deflate");
        return;
      }
      auto type = msg->get_opcode() == websocketpp::frame::opcode::binary
                    ? phx::protocol::frame_type::binary
                    : phx::protocol::frame_type::text;
      s->on_frame(type, std::move(msg->get_raw_payload()));
    });
    con->set_ping_handler([s](websocketpp::connection_hdl, std::string) {
      return s->on_control_frame();
    });
    con->set_pong_handler([s](websocketpp::connection_hdl, std::string) {
      s->on_control_frame();
    });
    return true;
  }

  void on_http(websocketpp::connection_hdl hdl) {
    auto con = server_.get_con_from_hdl(hdl);
    const auto& resource = con->get_resource();
    if (is_longpoll_path(std::string_view{resource}.substr(0, resource.find('?')))) {
      auto ex = std::make_shared<ws_http_exchange<connection_type>>(con);
      serve_longpoll(ctx_, ex);
      ex->defer_unless_done();
      return;
    }
    auto reply = handle_http(ctx_, con->get_request().get_method(), con->get_resource());
    con->set_status(static_cast<websocketpp::http::status_code::value>(reply.status));
    con->replace_header("Content-Type", reply.content_type);
    con->set_body(reply.body);
  }

  context& ctx_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  endpoint_type server_;
};

std::shared_ptr<boost::asio::ssl::context> load_tls(const options& opts,
                                                   std::string& error) {
  namespace ssl = boost::asio::ssl;
  auto tls = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2
                     | ssl::context::no_sslv3 | ssl::context::no_tlsv1
                     | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                   ec);
  if (!ec)
    tls->use_certificate_chain_file(opts.tls_cert, ec);
  if (ec) {
    error = "cannot load --tls-cert " + opts.tls_cert + ": " + ec.message();
    return nullptr;
  }
  tls->use_private_key_file(opts.tls_key, ssl::context::pem, ec);
  if (ec) {
    error = "cannot load --tls-key " + opts.tls_key + ": " + ec.message();
    return nullptr;
  }
  return tls;
}

} // namespace

std::unique_ptr<listener> make_listener(context& ctx, std::string& error) {
  if (!ctx.opts.tls())
    return std::make_unique<ws_listener<plain_config>>(ctx, nullptr);
  auto tls = load_tls(ctx.opts, error);
  if (!tls)
    return nullptr;
  return std::make_unique<ws_listener<tls_config>>(ctx, std::move(tls));
}

} // namespace phx_server
