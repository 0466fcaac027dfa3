#include "phx_test/raw_server.hpp"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/write.hpp>

#include <websocketpp/config/asio.hpp>
#include <websocketpp/server.hpp>

namespace phx_test {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
              return std::tolower(static_cast<unsigned char>(x))
                     == std::tolower(static_cast<unsigned char>(y));
            });
}

std::string trim(std::string_view text) {
  auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos)
    return {};
  auto last = text.find_last_not_of(" \t");
  return std::string{text.substr(first, last - first + 1)};
}

} // namespace

std::string upgrade_request::header(std::string_view name) const {
  for (auto& [key, value] : headers)
    if (iequals(key, name))
      return value;
  return {};
}

bool upgrade_request::has_header(std::string_view name) const {
  for (auto& kv : headers)
    if (iequals(kv.first, name))
      return true;
  return false;
}

std::string raw_server::encode_frame(uint8_t opcode, std::string_view payload,
                                     bool fin) {
  std::string out;
  out += static_cast<char>((fin ? 0x80 : 0x00) | (opcode & 0x0f));
  auto size = static_cast<uint64_t>(payload.size());
  if (size < 126) {
    out += static_cast<char>(size);
  } else if (size <= 0xffff) {
    out += static_cast<char>(126);
    out += static_cast<char>((size >> 8) & 0xff);
    out += static_cast<char>(size & 0xff);
  } else {
    out += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8)
      out += static_cast<char>((size >> shift) & 0xff);
  }
  out.append(payload.data(), payload.size());
  return out;
}

// -- shared record of events -------------------------------------------------------

/// What the tests observe; written by the server thread, read by the test.
class raw_server::impl {
public:
  virtual ~impl() = default;

  /// Starts the server thread (its handlers reach the impl through its raw_server).
  virtual void start() = 0;
  virtual uint16_t port() const noexcept = 0;
  virtual bool tls() const noexcept = 0;
  virtual void send(conn_id id, std::string data, bool binary) = 0;
  virtual void send_raw(conn_id id, std::string bytes) = 0;
  virtual void close(conn_id id, uint16_t code, std::string reason) = 0;
  virtual void cut(conn_id id) = 0;
  virtual void pause(conn_id id, bool paused) = 0;

  template <class T, class Pred>
  std::optional<T> pop(std::deque<T>& queue, std::chrono::milliseconds timeout,
                       Pred pred) {
    std::unique_lock<std::mutex> lock{mtx_};
    if (!cv_.wait_for(lock, timeout, [&] { return pred(); }))
      return std::nullopt;
    auto x = std::move(queue.front());
    queue.pop_front();
    return x;
  }

  std::optional<upgrade_request> wait_request(std::chrono::milliseconds t) {
    return pop(requests_, t, [this] { return !requests_.empty(); });
  }

  std::optional<conn_id> wait_open(std::chrono::milliseconds t) {
    return pop(opens_, t, [this] { return !opens_.empty(); });
  }

  std::optional<ws_message> wait_message(std::chrono::milliseconds t) {
    return pop(messages_, t, [this] { return !messages_.empty(); });
  }

  std::optional<close_record> wait_closed(conn_id id, std::chrono::milliseconds t) {
    std::unique_lock<std::mutex> lock{mtx_};
    if (!cv_.wait_for(lock, t, [&] { return closes_.count(id) > 0; }))
      return std::nullopt;
    auto rec = std::move(closes_[id]);
    closes_.erase(id);
    return rec;
  }

  bool wait_open_count(size_t n, std::chrono::milliseconds t) {
    std::unique_lock<std::mutex> lock{mtx_};
    return cv_.wait_for(lock, t, [&] { return open_count_ == n; });
  }

  size_t open_count() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return open_count_;
  }

  size_t opened_total() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return opened_total_;
  }

protected:
  template <class F>
  void record(F f) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      f();
    }
    cv_.notify_all();
  }

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<upgrade_request> requests_;
  std::deque<conn_id> opens_;
  std::deque<ws_message> messages_;
  std::map<conn_id, close_record> closes_;
  size_t open_count_ = 0;
  size_t opened_total_ = 0;
};

namespace {

// -- the websocketpp server, plain or TLS --------------------------------------------

template <class Config>
class server_impl final : public raw_server::impl {
public:
  using server_type = websocketpp::server<Config>;
  using con_ptr = typename server_type::connection_ptr;
  using message_ptr = typename server_type::message_ptr;
  /// Holds each connection strongly: a connection that stopped reading has no
  /// operation in flight, and websocketpp would otherwise destroy it.
  struct entry {
    conn_id id;
    con_ptr con;
  };
  using hdl_map = std::map<websocketpp::connection_hdl, entry,
                           std::owner_less<websocketpp::connection_hdl>>;

  server_impl(raw_server& owner, raw_server_options opts)
    : owner_(owner), opts_(std::move(opts)) {
    server_.clear_access_channels(websocketpp::log::alevel::all);
    server_.clear_error_channels(websocketpp::log::elevel::all);
    server_.init_asio();
    server_.set_reuse_addr(true);
    server_.set_max_message_size(static_cast<size_t>(opts_.max_message_size));
    server_.set_validate_handler([this](websocketpp::connection_hdl h) {
      return on_validate(h);
    });
    server_.set_open_handler([this](websocketpp::connection_hdl h) { on_open(h); });
    server_.set_close_handler([this](websocketpp::connection_hdl h) { on_close(h); });
    server_.set_fail_handler([this](websocketpp::connection_hdl h) { on_fail(h); });
    server_.set_message_handler(
      [this](websocketpp::connection_hdl h, message_ptr msg) { on_message(h, msg); });
    if constexpr (std::is_same<Config, websocketpp::config::asio_tls>::value) {
      namespace ssl = boost::asio::ssl;
      auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
      boost::system::error_code ec;
      ctx->use_certificate_chain_file(opts_.cert_file, ec);
      if (!ec)
        ctx->use_private_key_file(opts_.key_file, ssl::context::pem, ec);
      if (!ec && !opts_.client_ca_file.empty()) {
        ctx->load_verify_file(opts_.client_ca_file, ec);
        ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      }
      if (ec)
        throw std::runtime_error("raw_server: cannot load the certificates: "
                                 + ec.message());
      server_.set_tls_init_handler([ctx](websocketpp::connection_hdl) { return ctx; });
    }
    websocketpp::lib::error_code ec;
    server_.listen(boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0),
                   ec);
    if (!ec)
      server_.start_accept(ec);
    boost::system::error_code aec;
    if (!ec)
      port_ = server_.get_local_endpoint(aec).port();
    if (ec || aec)
      throw std::runtime_error("raw_server: cannot listen on 127.0.0.1: "
                               + (ec ? ec.message() : aec.message()));
  }

  void start() override { thread_ = std::thread([this] { server_.run(); }); }

  ~server_impl() override {
    server_.stop();
    if (thread_.joinable())
      thread_.join();
  }

  uint16_t port() const noexcept override { return port_; }

  bool tls() const noexcept override {
    return std::is_same<Config, websocketpp::config::asio_tls>::value;
  }

  void send(conn_id id, std::string data, bool binary) override {
    with(id, [data = std::move(data), binary](con_ptr con) {
      // An error (invalid UTF-8, closed connection) just means nothing is sent.
      (void) con->send(data, binary ? websocketpp::frame::opcode::binary
                                    : websocketpp::frame::opcode::text);
    });
  }

  void send_raw(conn_id id, std::string bytes) override {
    with(id, [bytes = std::make_shared<std::string>(std::move(bytes))](con_ptr con) {
      boost::asio::async_write(con->get_socket(), boost::asio::buffer(*bytes),
                               [bytes, con](const boost::system::error_code&, size_t) {});
    });
  }

  void close(conn_id id, uint16_t code, std::string reason) override {
    with(id, [code, reason = std::move(reason)](con_ptr con) {
      websocketpp::lib::error_code ec;
      con->close(code, reason, ec);
    });
  }

  void cut(conn_id id) override {
    with(id, [](con_ptr con) {
      boost::system::error_code ec;
      con->get_raw_socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
      con->get_raw_socket().close(ec);
    });
  }

  void pause(conn_id id, bool paused) override {
    with(id, [paused](con_ptr con) {
      if (paused)
        con->pause_reading();
      else
        con->resume_reading();
    });
  }

private:
  /// Runs `f` with the connection on the server thread (if it still exists).
  template <class F>
  void with(conn_id id, F f) {
    boost::asio::post(server_.get_io_service(), [this, id, f = std::move(f)]() mutable {
      for (auto& kv : ids_)
        if (kv.second.id == id) {
          f(kv.second.con);
          return;
        }
    });
  }

  conn_id id_of(websocketpp::connection_hdl h) {
    auto i = ids_.find(h);
    if (i != ids_.end())
      return i->second.id;
    auto id = ++next_id_;
    ids_.emplace(h, entry{id, server_.get_con_from_hdl(h)});
    return id;
  }

  bool on_validate(websocketpp::connection_hdl h) {
    auto con = server_.get_con_from_hdl(h);
    upgrade_request req;
    req.id = id_of(h);
    req.resource = con->get_resource();
    for (auto& [name, value] : con->get_request().get_headers())
      req.headers.emplace_back(name, value);
    auto offered = req.header("Sec-WebSocket-Protocol");
    record([&] { requests_.push_back(std::move(req)); });
    if (opts_.refuse_status != 0) {
      con->set_status(static_cast<websocketpp::http::status_code::value>(opts_.refuse_status));
      return false;
    }
    // websocketpp's pause is a posted step that only stops the NEXT read:
    // asked here, it lands before the first frame read is issued.
    if (opts_.pause_reading_on_open)
      con->pause_reading();
    if (opts_.echo_first_subprotocol && !offered.empty())
      con->replace_header("Sec-WebSocket-Protocol",
                          trim(std::string_view{offered}.substr(0, offered.find(','))));
    else if (!opts_.subprotocol_response.empty())
      con->replace_header("Sec-WebSocket-Protocol", opts_.subprotocol_response);
    return true;
  }

  void on_open(websocketpp::connection_hdl h) {
    auto id = id_of(h);
    record([&] {
      opens_.push_back(id);
      ++open_count_;
      ++opened_total_;
    });
    if (opts_.on_open)
      opts_.on_open(owner_, id);
  }

  void on_message(websocketpp::connection_hdl h, message_ptr msg) {
    ws_message m;
    m.id = id_of(h);
    m.binary = msg->get_opcode() == websocketpp::frame::opcode::binary;
    if (opts_.echo) {
      websocketpp::lib::error_code ec;
      server_.send(h, msg->get_payload(), msg->get_opcode(), ec);
    }
    m.data = msg->get_payload();
    if (opts_.on_message)
      opts_.on_message(owner_, m);
    if (opts_.record_messages)
      record([&] { messages_.push_back(std::move(m)); });
  }

  void on_close(websocketpp::connection_hdl h) {
    auto con = server_.get_con_from_hdl(h);
    close_record rec;
    rec.id = id_of(h);
    rec.code = con->get_remote_close_code();
    rec.reason = con->get_remote_close_reason();
    rec.close_frame = rec.code != websocketpp::close::status::abnormal_close;
    ids_.erase(h);
    record([&] {
      if (open_count_ > 0)
        --open_count_;
      closes_[rec.id] = std::move(rec);
    });
  }

  void on_fail(websocketpp::connection_hdl h) {
    ids_.erase(h);
  }

  raw_server& owner_;
  raw_server_options opts_;
  server_type server_;
  uint16_t port_ = 0;
  hdl_map ids_;      // server thread only
  conn_id next_id_ = 0; // server thread only
  std::thread thread_;
};

} // namespace

// -- raw_server ------------------------------------------------------------------------

raw_server::raw_server(raw_server_options opts) {
  if (opts.tls)
    impl_ = std::make_unique<server_impl<websocketpp::config::asio_tls>>(*this,
                                                                       std::move(opts));
  else
    impl_ = std::make_unique<server_impl<websocketpp::config::asio>>(*this,
                                                                   std::move(opts));
  // Only now: the server thread's handlers use impl_ (e.g. send_text from on_open).
  impl_->start();
}

raw_server::~raw_server() = default;

uint16_t raw_server::port() const noexcept {
  return impl_->port();
}

std::string raw_server::url(std::string_view path_and_query) const {
  std::string out = impl_->tls() ? "wss://127.0.0.1:" : "ws://127.0.0.1:";
  out += std::to_string(port());
  out += path_and_query;
  return out;
}

void raw_server::send_text(conn_id id, std::string data) {
  impl_->send(id, std::move(data), false);
}

void raw_server::send_binary(conn_id id, std::string data) {
  impl_->send(id, std::move(data), true);
}

void raw_server::send_raw(conn_id id, std::string bytes) {
  impl_->send_raw(id, std::move(bytes));
}

void raw_server::close(conn_id id, uint16_t code, std::string reason) {
  impl_->close(id, code, std::move(reason));
}

void raw_server::cut(conn_id id) {
  impl_->cut(id);
}

void raw_server::pause_reading(conn_id id) {
  impl_->pause(id, true);
}

void raw_server::resume_reading(conn_id id) {
  impl_->pause(id, false);
}

std::optional<upgrade_request>
raw_server::wait_request(std::chrono::milliseconds timeout) {
  return impl_->wait_request(timeout);
}

std::optional<conn_id> raw_server::wait_open(std::chrono::milliseconds timeout) {
  return impl_->wait_open(timeout);
}

std::optional<ws_message>
raw_server::wait_message(std::chrono::milliseconds timeout) {
  return impl_->wait_message(timeout);
}

std::optional<close_record>
raw_server::wait_closed(conn_id id, std::chrono::milliseconds timeout) {
  return impl_->wait_closed(id, timeout);
}

bool raw_server::wait_open_count(size_t n, std::chrono::milliseconds timeout) {
  return impl_->wait_open_count(n, timeout);
}

size_t raw_server::open_count() const {
  return impl_->open_count();
}

size_t raw_server::opened_total() const {
  return impl_->opened_total();
}

} // namespace phx_test
