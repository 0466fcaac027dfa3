#include "longpoll.hpp"

#include <chrono>
#include <cctype>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <openssl/ssl.h>

#include <websocketpp/utf8_validator.hpp>

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "phx/protocol/json.hpp"
#include "phx/protocol/url.hpp"

#include "io_runtime_impl.hpp"
#include "net_util.hpp"
#include "tls.hpp"

// HTTP long-polling as phoenix.js 1.8's `LongPoll` speaks it to
// `Phoenix.Transports.LongPoll`, behind the same reports as the WebSocket
// connection (see connection.cpp for the reporting contract; it holds here
// word for word: one io thread per connection, reports sent as the TRANSPORT,
// `opened`, frames, exactly one terminal report, then `done`).
//
// - A GET without a session token opens a session: `{"status":410,"token":T}`
//   is the open. Then GETs with `token=T` wait up to the server's poll
//   window: 200 brings `messages` (encoded frames, in order), 204 nothing; a
//   later 410 means the session is gone (closed 3410 "session_gone"), 403
//   refuses (1008 "forbidden"). Every answer is HTTP 200 with the status in
//   the JSON body; any other HTTP status, an unreadable body or a network
//   error closes with 1011 ("internal server error"), a request timeout with
//   1005 ("timeout"): phoenix.js's codes. Before the open each of them is
//   `failed` instead, so the SOCKET's reconnect takes over.
// - Sends are POSTs of `application/x-ndjson`, one line per frame (a text
//   frame as is, a binary frame in base64, as phoenix.js and Phoenix do), at
//   most 100 per POST; frames sent while a POST is in flight wait for its
//   answer and go out together in the next one. A text frame that cannot be
//   an ndjson line (a newline in it, or not a V2 array, which Phoenix would
//   take for base64) goes alone as `application/json`.
// - Two keep-alive HTTP/1.1 connections, one for polls and one for sends, as
//   a browser's fetch keeps them; a request that finds its reused connection
//   closed by the server is retried once on a new one.

namespace phx::transport::detail {

namespace {

namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;

/// Room for the JSON envelope around the messages of a poll answer.
constexpr uint64_t envelope_bytes = 64 * 1024;

/// Largest answer to a POST: `{"status":200}` and its like.
constexpr uint64_t send_answer_limit = 64 * 1024;

/// Where both HTTP connections of a session go.
struct http_target {
  std::string host;
  std::string port;
  /// `host:port` as the Host header carries it.
  std::string authority;
  /// Null for plain HTTP.
  std::shared_ptr<ssl::context> tls;
  bool verify_peer = true;
};

/// What one request got: a response, or why there was none.
struct http_answer {
  /// The network failure; none when a response came.
  error_code ec;
  /// The request's timeout expired first.
  bool timed_out = false;
  /// The response body exceeded its limit.
  bool too_large = false;
  /// Why the certificate check failed, if it did.
  std::string tls_failure;
  /// HTTP status of the response.
  int status = 0;
  /// The response body.
  std::string body;
};

// -- one keep-alive HTTP connection ------------------------------------------------

/// One HTTP/1.1 connection that stays open between requests (keep-alive) and
/// connects again when the server closed it. One request at a time; runs on
/// the io thread only.
class http_link final : public std::enable_shared_from_this<http_link> {
public:
  using handler = std::function<void(http_answer&&)>;

  http_link(boost::asio::io_context& ioc, std::shared_ptr<const http_target> target)
    : ioc_(ioc), target_(std::move(target)), resolver_(ioc), timer_(ioc) {
    // nop
  }

  /// Sends `req`; `done` gets the answer unless `cancel` comes first. The
  /// timeout (0: none) covers connecting, writing and reading.
  void request(http::request<http::string_body> req, uint32_t timeout_ms,
               uint64_t body_limit, handler done) {
    req_ = std::move(req);
    done_ = std::move(done);
    body_limit_ = body_limit;
    retried_ = false;
    timed_out_ = false;
    ++seq_;
    if (timeout_ms > 0) {
      timer_.expires_after(std::chrono::milliseconds(timeout_ms));
      timer_.async_wait([self = shared_from_this(), seq = seq_](const error_code& ec) {
        // A timer of an earlier request can still be queued: seq tells.
        if (!ec && seq == self->seq_ && self->done_)
          self->on_timeout();
      });
    }
    if (open_)
      write(true);
    else
      connect();
  }

  /// Ends the request in flight without calling its handler, and the connection.
  void cancel() {
    done_ = nullptr;
    ++seq_;
    timer_.cancel();
    resolver_.cancel();
    drop();
  }

private:
  tcp::socket& socket() {
    return tls_ ? tls_->next_layer() : *plain_;
  }

  template <class F>
  void with_stream(F&& f) {
    if (tls_)
      f(*tls_);
    else
      f(*plain_);
  }

  /// Closes the socket: pending operations complete with an error.
  void drop() {
    open_ = false;
    error_code ignored;
    if (tls_)
      tls_->next_layer().close(ignored);
    if (plain_)
      plain_->close(ignored);
  }

  void on_timeout() {
    timed_out_ = true;
    resolver_.cancel();
    drop();
  }

  void connect() {
    // No operation is pending here: the streams may be replaced.
    open_ = false;
    buffer_.clear();
    if (target_->tls) {
      plain_.reset();
      tls_.emplace(ioc_, *target_->tls);
      verdict_ = std::make_shared<tls_verdict>();
      configure_tls_stream(*tls_, target_->verify_peer, target_->host, verdict_);
      // SNI carries names only (RFC 6066).
      error_code not_address;
      boost::asio::ip::make_address(target_->host, not_address);
      if (not_address)
        SSL_set_tlsext_host_name(tls_->native_handle(), target_->host.c_str());
    } else {
      tls_.reset();
      plain_.emplace(ioc_);
    }
    if (!endpoints_.empty()) {
      connect_to();
      return;
    }
    resolver_.async_resolve(target_->host, target_->port,
                            [self = shared_from_this()](const error_code& ec,
                                                        tcp::resolver::results_type found) {
                              if (!self->done_)
                                return;
                              if (ec)
                                return self->fail(ec);
                              // Kept for the session: reconnects skip DNS.
                              self->endpoints_ = std::move(found);
                              self->connect_to();
                            });
  }

  void connect_to() {
    boost::asio::async_connect(
      socket(), endpoints_, [self = shared_from_this()](const error_code& ec, const tcp::endpoint&) {
        if (!self->done_)
          return;
        if (ec)
          return self->fail(ec);
        error_code ignored;
        self->socket().set_option(tcp::no_delay{true}, ignored);
        if (!self->tls_) {
          self->open_ = true;
          self->write(false);
          return;
        }
        self->tls_->async_handshake(ssl::stream_base::client, [self](const error_code& err) {
          if (!self->done_)
            return;
          if (err)
            return self->fail(err);
          self->open_ = true;
          self->write(false);
        });
      });
  }

  void write(bool reused) {
    reused_ = reused;
    parser_.reset();
    with_stream([this](auto& stream) {
      http::async_write(stream, req_, [self = shared_from_this()](const error_code& ec, size_t) {
        if (!self->done_)
          return;
        if (ec)
          return self->retry_or_fail(ec);
        self->read();
      });
    });
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(body_limit_);
    // The header first: Beast 1.74 holds a Content-Length against the body
    // limit only sometimes (not when the whole answer came in one read).
    with_stream([this](auto& stream) {
      http::async_read_header(stream, buffer_, *parser_,
                              [self = shared_from_this()](const error_code& ec, size_t) {
                                if (!self->done_)
                                  return;
                                if (ec == http::error::body_limit)
                                  return self->too_large();
                                if (ec)
                                  return self->retry_or_fail(ec);
                                auto length = self->parser_->content_length();
                                if (length && *length > self->body_limit_)
                                  return self->too_large();
                                self->read_body();
                              });
    });
  }

  void read_body() {
    with_stream([this](auto& stream) {
      http::async_read(stream, buffer_, *parser_,
                       [self = shared_from_this()](const error_code& ec, size_t) {
                         if (!self->done_)
                           return;
                         if (ec == http::error::body_limit)
                           return self->too_large();
                         if (ec)
                           return self->fail(ec);
                         self->on_response();
                       });
    });
  }

  /// The answer exceeds its limit: it is not read, the connection goes.
  void too_large() {
    http_answer answer;
    answer.too_large = true;
    drop();
    complete(std::move(answer));
  }

  void on_response() {
    auto msg = parser_->release();
    parser_.reset();
    if (!msg.keep_alive())
      drop();
    http_answer answer;
    answer.status = static_cast<int>(msg.result_int());
    answer.body = std::move(msg.body());
    complete(std::move(answer));
  }

  /// A reused connection the server closed meanwhile fails at once, before
  /// any byte of a response: browsers send again on a new one, so do we.
  void retry_or_fail(const error_code& ec) {
    bool nothing_read = !parser_ || !parser_->got_some();
    bool stale = ec == http::error::end_of_stream || ec == boost::asio::error::eof
                 || ec == boost::asio::error::connection_reset
                 || ec == boost::asio::error::broken_pipe
                 || ec == ssl::error::stream_truncated;
    if (reused_ && !retried_ && !timed_out_ && nothing_read && stale) {
      retried_ = true;
      drop();
      connect();
      return;
    }
    fail(ec);
  }

  void fail(const error_code& ec) {
    http_answer answer;
    answer.ec = ec;
    answer.timed_out = timed_out_;
    if (verdict_)
      answer.tls_failure = verdict_->reason;
    drop();
    complete(std::move(answer));
  }

  void complete(http_answer&& answer) {
    error_code ignored;
    timer_.cancel(ignored);
    auto done = std::move(done_);
    done_ = nullptr;
    if (done)
      done(std::move(answer));
  }

  boost::asio::io_context& ioc_;
  std::shared_ptr<const http_target> target_;
  tcp::resolver resolver_;
  tcp::resolver::results_type endpoints_;
  boost::asio::steady_timer timer_;
  std::optional<tcp::socket> plain_;
  std::optional<tls_stream> tls_;
  std::shared_ptr<tls_verdict> verdict_;
  boost::beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  std::optional<http::response_parser<http::string_body>> parser_;
  handler done_;
  uint64_t body_limit_ = 0;
  /// Numbers the requests: a timer of an earlier one must not end this one.
  uint64_t seq_ = 0;
  bool open_ = false;
  bool reused_ = false;
  bool retried_ = false;
  bool timed_out_ = false;
};

/// True for `http://` or `https://` (any case): long-poll's schemes.
bool http_scheme(std::string_view url, bool& tls) {
  auto starts = [url](std::string_view prefix) {
    if (url.size() < prefix.size())
      return false;
    for (size_t i = 0; i < prefix.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(url[i])) != prefix[i])
        return false;
    return true;
  };
  tls = starts("https://");
  return tls || starts("http://");
}

/// A text frame Phoenix reads back intact from an ndjson line: a V2 array
/// (a line not starting with `[` is taken for base64) without line breaks.
bool ndjson_line(std::string_view text) {
  return !text.empty() && text.front() == '['
         && text.find_first_of("\r\n") == std::string_view::npos;
}

// -- the io side of one long-poll connection ----------------------------------------

class longpoll_connection final
  : public connection,
    public std::enable_shared_from_this<longpoll_connection> {
public:
  longpoll_connection(io_runtime_impl& rt, io_thread& io, connection_params params)
    : rt_(rt),
      io_(io),
      gen_(params.gen),
      req_(std::move(params.req)),
      out_(rt, params),
      open_timer_(io.ioc) {
    rt_.connections().fetch_add(1, std::memory_order_relaxed);
    inbound_ = req_.inbound;
    outbound_ = req_.outbound;
  }

  ~longpoll_connection() override {
    rt_.connections().fetch_sub(1, std::memory_order_relaxed);
  }

  // -- connection interface (any thread) ----------------------------------------

  void send(protocol::frame f) override {
    boost::asio::post(io_.ioc, [self = shared_from_this(), f = std::move(f)]() mutable {
      self->do_send(std::move(f));
    });
  }

  void send(std::vector<protocol::frame> frames) override {
    boost::asio::post(io_.ioc, [self = shared_from_this(),
                                frames = std::move(frames)]() mutable {
      for (auto& f : frames)
        self->do_send(std::move(f));
    });
  }

  void close(uint16_t code, std::string reason) override {
    boost::asio::post(io_.ioc, [self = shared_from_this(), code,
                                reason = std::move(reason)]() mutable {
      self->do_close(code, std::move(reason));
    });
  }

  void abort(std::string reason) override {
    boost::asio::post(io_.ioc, [self = shared_from_this(),
                                reason = std::move(reason)]() mutable {
      self->do_abort(std::move(reason));
    });
  }

  /// Posts the start of the attempt to the io thread.
  void start() {
    boost::asio::post(io_.ioc, [self = shared_from_this()] { self->do_start(); });
  }

private:
  enum class phase { connecting, open, done };

  // -- reporting ----------------------------------------------------------------------

  template <class... Ts>
  void report(Ts&&... xs) {
    out_.report(std::forward<Ts>(xs)...);
  }

  void log(protocol::log_level level, std::string_view text) { out_.log(level, text); }

  std::string generation_text() const {
    return " (generation " + std::to_string(gen_) + ", long-poll)";
  }

  /// The one `failed` report; then done.
  void report_failed(std::string reason, int http_status = 0) {
    if (phase_ == phase::done)
      return;
    log(protocol::log_level::info,
        "connection to " + url_for_log_ + " failed: " + reason + generation_text());
    report(failed_atom::value, gen_, connect_failure{std::move(reason), http_status});
    finish();
  }

  /// The one `closed` report; then done.
  void report_closed(uint16_t code, std::string reason) {
    if (phase_ == phase::done)
      return;
    log(protocol::log_level::debug, "connection to " + url_for_log_ + " closed: "
                                      + std::to_string(code) + " " + reason
                                      + generation_text());
    report(closed_atom::value, gen_, code, std::move(reason));
    finish();
  }

  /// Ends the connection as phoenix.js does: `closed(code, reason)` once
  /// open; before, `failed(failure, http_status)` (the attempt failed).
  void end(uint16_t code, std::string reason, std::string failure, int http_status = 0) {
    if (phase_ == phase::connecting)
      report_failed(std::move(failure), http_status);
    else
      report_closed(code, std::move(reason));
  }

  /// After the terminal report: stop both HTTP connections, tell the TRANSPORT.
  void finish() {
    phase_ = phase::done;
    for (auto& f : queue_)
      release(f);
    queue_.clear();
    queue_.shrink_to_fit();
    // A POST cancelled below never answers: its frames are dropped.
    release_posted();
    error_code ignored;
    open_timer_.cancel(ignored);
    // Their handlers hold us: cancelling drops them (no cycle survives).
    if (poll_link_)
      poll_link_->cancel();
    if (send_link_)
      send_link_->cancel();
    out_.done();
  }

  // -- io thread: start ---------------------------------------------------------------

  void do_start() {
    auto ep = protocol::parse_endpoint(req_.url);
    if (!ep) {
      url_for_log_ = "<invalid URL>";
      report_failed("invalid URL");
      return;
    }
    url_for_log_ = protocol::redact_url(req_.url);
    bool tls = false;
    if (!http_scheme(req_.url, tls)) {
      report_failed("URL scheme does not match the transport");
      return;
    }
    if (auto problem = header_problem(req_.headers); !problem.empty()) {
      report_failed(std::move(problem));
      return;
    }
    auto target = std::make_shared<http_target>();
    target->host = ep->host;
    target->port = std::to_string(ep->port);
    target->authority = ep->authority();
    target->verify_peer = req_.tls.verify_peer;
    if (tls) {
      std::string error;
      target->tls = rt_.tls_context(req_.tls, error);
      if (!target->tls) {
        report_failed(std::move(error));
        return;
      }
      // Logged at every use: an explicit, visible choice.
      if (!req_.tls.verify_peer)
        log(protocol::log_level::warning, insecure_tls_warning(url_for_log_));
    }
    authority_ = target->authority;
    resource_ = ep->path.empty() ? "/" : ep->path;
    if (!ep->query.empty())
      resource_ += "?" + ep->query;
    // The URL may hold secrets: from here on only the parts above are kept.
    req_.url = std::string{};
    poll_link_ = std::make_shared<http_link>(io_.ioc, target);
    send_link_ = std::make_shared<http_link>(io_.ioc, target);
    if (inbound_)
      inbound_->on_resume([weak = weak_from_this()] {
        if (auto conn = weak.lock())
          conn->resume_polling();
      });
    if (req_.open_timeout_ms > 0) {
      open_timer_.expires_after(std::chrono::milliseconds(req_.open_timeout_ms));
      open_timer_.async_wait([self = shared_from_this()](const error_code& err) {
        if (!err && self->phase_ == phase::connecting)
          self->report_failed("open handshake timed out");
      });
    }
    log(protocol::log_level::debug, "connecting to " + url_for_log_ + generation_text());
    poll();
  }

  /// A request to the long-poll endpoint with the session token (once
  /// known) and the request's headers (the auth token among them).
  http::request<http::string_body> make_request(http::verb verb) const {
    auto target = resource_;
    if (!token_.empty()) {
      target += resource_.find('?') == std::string::npos ? '?' : '&';
      target += "token=" + protocol::url_encode_component(token_);
    }
    http::request<http::string_body> r{verb, target, 11};
    r.set(http::field::host, authority_);
    r.set(http::field::user_agent, "phx");
    for (auto& [name, value] : req_.headers)
      r.insert(name, value);
    return r;
  }

  // -- io thread: polling -----------------------------------------------------------------

  void poll() {
    if (phase_ == phase::done)
      return;
    // The listener is behind: the next poll waits (the server keeps the
    // messages meanwhile), as a paused WebSocket read does.
    if (polls_paused_) {
      poll_deferred_ = true;
      return;
    }
    auto r = make_request(http::verb::get);
    r.set(http::field::accept, "application/json");
    poll_link_->request(std::move(r), req_.long_poll_timeout_ms, poll_answer_limit(),
                        [self = shared_from_this()](http_answer&& answer) {
                          self->on_poll(std::move(answer));
                        });
  }

  /// JSON escaping can double a message: room for a message of
  /// max_frame_size and then some (saturating).
  uint64_t poll_answer_limit() const {
    auto max = std::numeric_limits<uint64_t>::max();
    auto frame = req_.max_frame_size;
    if (frame > (max - envelope_bytes) / 2)
      return max;
    return 2 * frame + envelope_bytes;
  }

  /// The JSON object of a usable answer with its `status`; else ends the
  /// connection as phoenix.js does and returns null.
  protocol::json_ptr accept_answer(http_answer& a, std::string_view what, int& status) {
    std::string request{what};
    if (a.timed_out) {
      end(1005, "timeout", "long-poll " + request + " timed out");
      return nullptr;
    }
    if (a.too_large) {
      auto text = "message too big: the long-poll answer exceeds "
                  + std::to_string(poll_answer_limit()) + " bytes";
      end(1009, text, text);
      return nullptr;
    }
    if (a.ec) {
      auto detail = a.tls_failure.empty() ? describe(static_cast<std::error_code>(a.ec))
                                          : a.tls_failure;
      end(1011, "internal server error: " + detail, detail);
      return nullptr;
    }
    if (a.status != 200) {
      auto code = std::to_string(a.status);
      end(1011, "internal server error: HTTP " + code,
          "long-poll " + request + " refused with HTTP " + code, a.status);
      return nullptr;
    }
    auto doc = protocol::parse_json(std::move(a.body));
    a.body = std::string{};
    if (!doc || !(*doc)->IsObject() || !(*doc)->HasMember("status")
        || !(**doc)["status"].IsInt()) {
      end(1011, "internal server error: invalid long-poll answer",
          "invalid long-poll answer");
      return nullptr;
    }
    status = (**doc)["status"].GetInt();
    return std::move(*doc);
  }

  void on_poll(http_answer&& answer) {
    if (phase_ == phase::done)
      return;
    int status = 0;
    auto doc = accept_answer(answer, "poll", status);
    if (!doc)
      return;
    auto& body = *doc;
    if (status == 410 && phase_ == phase::open) {
      // The session expired or was ended on the server: a new one means a
      // reconnect and rejoins (phoenix.js closes for them the same way).
      report_closed(3410, "session_gone");
      return;
    }
    if (auto i = body.FindMember("token"); i != body.MemberEnd() && i->value.IsString())
      token_.assign(i->value.GetString(), i->value.GetStringLength());
    switch (status) {
      case 410:
        on_session_opened();
        return;
      case 200:
      case 204:
        if (phase_ != phase::open) {
          end(1011, "", "invalid long-poll answer: status " + std::to_string(status)
                          + " before the session opened");
          return;
        }
        if (status == 200 && !deliver(body))
          return;
        poll();
        return;
      case 403:
        end(1008, "forbidden", "connection refused by the server (long-poll status 403)",
            403);
        return;
      default: {
        auto code = std::to_string(status);
        end(1011, "internal server error: long-poll status " + code,
            "long-poll status " + code, status);
        return;
      }
    }
  }

  void on_session_opened() {
    if (token_.empty()) {
      end(1011, "", "invalid long-poll answer: no session token");
      return;
    }
    error_code ignored;
    open_timer_.cancel(ignored);
    phase_ = phase::open;
    log(protocol::log_level::debug, "connected to " + url_for_log_ + generation_text());
    report(opened_atom::value, gen_, transport_kind::longpoll);
    // Frames sent before the open go out now, in order, behind nothing else.
    schedule_post();
    poll();
  }

  /// Reports the messages of a poll as text frames in one message; false
  /// after closing for a bad or oversized one.
  bool deliver(const protocol::json_value& body) {
    auto i = body.FindMember("messages");
    if (i == body.MemberEnd() || !i->value.IsArray()) {
      report_closed(1011, "internal server error: invalid long-poll answer");
      return false;
    }
    std::vector<protocol::frame> frames;
    frames.reserve(i->value.Size());
    size_t bytes = 0;
    for (auto& msg : i->value.GetArray()) {
      if (!msg.IsString()) {
        report_closed(1011, "internal server error: invalid long-poll answer");
        return false;
      }
      if (msg.GetStringLength() > req_.max_frame_size) {
        // The WebSocket's answer to an oversized message.
        report_closed(1009, "message too big: a long-poll message exceeds "
                              + std::to_string(req_.max_frame_size) + " bytes");
        return false;
      }
      std::string data;
      data.reserve(msg.GetStringLength() + protocol::parse_spare_bytes);
      data.assign(msg.GetString(), msg.GetStringLength());
      bytes += data.size();
      frames.push_back(protocol::frame{protocol::frame_type::text, std::move(data)});
    }
    if (frames.empty())
      return true;
    flow_ticket ticket;
    if (inbound_) {
      for (auto& f : frames)
        if (inbound_->take(f.data.size()) && !polls_paused_) {
          log(protocol::log_level::debug, "listener is behind; pausing polls");
          polls_paused_ = true;
        }
      ticket = flow_ticket{inbound_, bytes, frames.size()};
    }
    report(frame_atom::value, gen_, std::move(frames), std::move(ticket));
    return true;
  }

  /// Polls again once the listener consumed enough (any thread).
  void resume_polling() {
    boost::asio::post(io_.ioc, [self = shared_from_this()] {
      if (self->phase_ != phase::open || !self->polls_paused_)
        return;
      self->polls_paused_ = false;
      if (self->poll_deferred_) {
        self->poll_deferred_ = false;
        self->poll();
      }
    });
  }

  // -- io thread: sending -------------------------------------------------------------------

  void do_send(protocol::frame&& f) {
    if (phase_ == phase::done) {
      release(f);
      log(protocol::log_level::debug, "outbound frame dropped: the connection is closed");
      return;
    }
    queue_.push_back(std::move(f));
    schedule_post();
  }

  /// Gives a frame's unit of the outbound credit back: it will never be sent.
  void release(const protocol::frame& f) noexcept {
    if (outbound_)
      outbound_->give(f.data.size());
  }

  /// Posts the next batch after the sends already queued on the io thread,
  /// so that back-to-back sends share a POST (phoenix.js: `setTimeout(0)`).
  void schedule_post() {
    if (phase_ != phase::open || posting_ || post_scheduled_ || queue_.empty())
      return;
    post_scheduled_ = true;
    boost::asio::post(io_.ioc, [self = shared_from_this()] {
      self->post_scheduled_ = false;
      self->post_batch();
    });
  }

  /// One POST of the frames queued, up to `max_long_poll_batch`.
  void post_batch() {
    if (phase_ != phase::open || posting_)
      return;
    std::string body;
    size_t count = 0;
    size_t bytes = 0;
    bool single = false;
    while (!queue_.empty() && count < max_long_poll_batch && !single) {
      auto& f = queue_.front();
      auto size = f.data.size();
      if (f.type == protocol::frame_type::binary) {
        if (count > 0)
          body += '\n';
        // Phoenix decodes a line that is not a JSON array as base64 binary.
        body += protocol::base64_encode(f.data);
      } else if (req_.validate_outbound_utf8
                 && !websocketpp::utf8_validator::validate(f.data)) {
        release(f);
        queue_.pop_front();
        log(protocol::log_level::warning, "outbound text frame dropped: invalid UTF-8");
        continue;
      } else if (ndjson_line(f.data)) {
        if (count > 0)
          body += '\n';
        body += f.data;
      } else if (count > 0) {
        break; // it goes alone, in the next POST
      } else {
        // Phoenix reads a body that is not ndjson as one text frame.
        body = std::move(f.data);
        single = true;
      }
      bytes += size;
      ++count;
      queue_.pop_front();
    }
    if (count == 0)
      return;
    posting_ = true;
    posted_bytes_ = bytes;
    posted_count_ = count;
    auto r = make_request(http::verb::post);
    r.set(http::field::content_type, single ? "application/json" : "application/x-ndjson");
    r.body() = std::move(body);
    r.prepare_payload();
    send_link_->request(std::move(r), req_.long_poll_timeout_ms, send_answer_limit,
                        [self = shared_from_this()](http_answer&& answer) {
                          self->on_posted(std::move(answer));
                        });
  }

  /// Gives the outbound credit of the POST in flight back.
  void release_posted() noexcept {
    if (outbound_ && posted_count_ > 0)
      outbound_->give(posted_bytes_, posted_count_);
    posted_bytes_ = 0;
    posted_count_ = 0;
  }

  void on_posted(http_answer&& answer) {
    // Answered or failed: either way these frames are off our hands.
    release_posted();
    if (phase_ != phase::open)
      return;
    posting_ = false;
    int status = 0;
    if (!accept_answer(answer, "send", status))
      return;
    if (status == 410) {
      report_closed(3410, "session_gone");
      return;
    }
    if (status != 200) {
      report_closed(1011, "internal server error: long-poll send answered status "
                            + std::to_string(status));
      return;
    }
    // Sends made meanwhile go out now, in order.
    post_batch();
  }

  // -- io thread: close and abort -------------------------------------------------------------

  void do_close(uint16_t code, std::string reason) {
    switch (phase_) {
      case phase::connecting:
        report_failed("closed by the client before the connection opened");
        return;
      case phase::open:
        // phoenix.js's close stops polling and aborts the requests in
        // flight; there is no close handshake over HTTP.
        report_closed(code, std::move(reason));
        return;
      default:
        return;
    }
  }

  void do_abort(std::string reason) {
    if (phase_ == phase::connecting)
      report_failed(std::move(reason));
    else
      report_closed(1006, std::move(reason));
  }

  // -- state ---------------------------------------------------------------------------

  io_runtime_impl& rt_;
  io_thread& io_;
  generation gen_;
  connect_request req_;
  reporter out_;
  std::string url_for_log_;
  /// `Host` header value.
  std::string authority_;
  /// Path and query of the long-poll endpoint, without the session token.
  std::string resource_;
  /// The session token (empty until the session opened). Never logged.
  std::string token_;
  boost::asio::steady_timer open_timer_;
  std::shared_ptr<http_link> poll_link_;
  std::shared_ptr<http_link> send_link_;
  /// Frames not yet in a POST: before the open, or while a POST is in flight.
  std::deque<protocol::frame> queue_;
  /// Bounds the frames reported and not yet consumed (null: unbounded).
  std::shared_ptr<credit> inbound_;
  /// Bounds the frames handed to us and not yet sent (null: unbounded).
  std::shared_ptr<credit> outbound_;
  bool posting_ = false;
  /// Payload bytes and frames of the POST in flight (their outbound credit).
  size_t posted_bytes_ = 0;
  size_t posted_count_ = 0;
  bool post_scheduled_ = false;
  bool polls_paused_ = false;
  bool poll_deferred_ = false;
  phase phase_ = phase::connecting;
};

} // namespace

std::shared_ptr<connection> start_longpoll(io_runtime_impl& rt, io_thread& io,
                                           connection_params params) {
  auto c = std::make_shared<longpoll_connection>(rt, io, std::move(params));
  c->start();
  return c;
}

} // namespace phx::transport::detail
