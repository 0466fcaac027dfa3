#include "connection.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string_view>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <websocketpp/utf8_validator.hpp>

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "phx/protocol/url.hpp"

#include "deflate.hpp"
#include "io_runtime_impl.hpp"
#include "longpoll.hpp"
#include "net_util.hpp"
#include "tls.hpp"

// Reporting contract (what the SOCKET relies on):
// - Every report is sent from the connection's io thread, as the TRANSPORT
//   (`send_as`: the SOCKET refuses transport reports from anyone else), to
//   the listener's address promoted at send time: a dead listener drops it.
// - Per connection (= one generation) the io thread is the only sender, so the
//   listener receives `opened`, then the inbound frames in wire order, then
//   exactly one terminal report (`closed` after `opened`, `failed` instead of
//   it); nothing of this generation follows the terminal report.
// - After the terminal report the TRANSPORT gets `done` and quits, so its
//   down/exit message reaches the listener after the terminal report.
// - Until then the io side holds the TRANSPORT strongly: a TRANSPORT whose
//   handle everybody dropped (say, right after asking it to close) still
//   finishes its close handshake and reports instead of vanishing midway.

namespace phx::transport::detail {

connection::~connection() = default;

reporter::reporter(io_runtime_impl& rt, connection_params& params)
  : rt_(rt),
    listener_(std::move(params.listener)),
    transport_(std::move(params.transport)),
    sender_(caf::actor_cast<caf::actor>(transport_)),
    log_(std::move(params.log)) {
  // nop
}

void reporter::log(protocol::log_level level, std::string_view text) const {
  if (log_)
    log_(level, "transport", text);
  else if (rt_.hub().enabled())
    rt_.hub().write(level, "transport", text);
}

void reporter::done() {
  if (!transport_)
    return;
  caf::anon_send(transport_, done_atom::value);
  // Our hold on the actor ends here (it quits on `done`).
  transport_ = transport_impl_actor{};
  sender_ = caf::actor{};
}

namespace {

namespace ssl = boost::asio::ssl;
using opcode = websocketpp::frame::opcode::value;

/// A close code we may put into a close frame (RFC 6455 7.4).
bool sendable_close_code(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
         || (code >= 3000 && code <= 4999);
}

/// An outbound data frame that gives its unit of the outbound credit back
/// when websocketpp drops its last reference: after the write that carried it
/// completed, or with the connection. A subclass, made with make_shared: one
/// allocation per frame, as before.
struct outbound_message final : spare_message {
  outbound_message(websocketpp::frame::opcode::value op, std::shared_ptr<credit> budget,
                   size_t bytes)
    : spare_message(nullptr, op, 0), budget_(std::move(budget)), bytes_(bytes) {
    // nop
  }

  ~outbound_message() {
    if (budget_)
      budget_->give(bytes_);
  }

  outbound_message(const outbound_message&) = delete;
  outbound_message& operator=(const outbound_message&) = delete;

private:
  std::shared_ptr<credit> budget_;
  size_t bytes_;
};

// -- the io side of one connection -----------------------------------------------

template <class Client>
class basic_connection final
  : public connection,
    public std::enable_shared_from_this<basic_connection<Client>> {
public:
  using con_ptr = typename Client::connection_ptr;
  using message_ptr = typename Client::message_ptr;

  basic_connection(io_runtime_impl& rt, io_thread& io, Client& client,
                   connection_params params)
    : rt_(rt),
      io_(io),
      client_(client),
      gen_(params.gen),
      req_(std::move(params.req)),
      out_(rt, params),
      open_timer_(io.ioc) {
    rt_.connections().fetch_add(1, std::memory_order_relaxed);
    inbound_ = req_.inbound;
    outbound_ = req_.outbound;
    if (req_.compress) {
      deflate_ = std::make_shared<deflate_session>();
      deflate_->max_message_size = static_cast<size_t>(
        std::min<uint64_t>(req_.max_frame_size, SIZE_MAX));
    }
  }

  ~basic_connection() override {
    rt_.connections().fetch_sub(1, std::memory_order_relaxed);
  }

  // -- connection interface (any thread) ----------------------------------------

  void send(protocol::frame f) override {
    boost::asio::post(io_.ioc, [self = this->shared_from_this(),
                                f = std::move(f)]() mutable {
      self->do_send(std::move(f));
    });
  }

  void send(std::vector<protocol::frame> frames) override {
    boost::asio::post(io_.ioc, [self = this->shared_from_this(),
                                frames = std::move(frames)]() mutable {
      for (auto& f : frames)
        self->do_send(std::move(f));
    });
  }

  void close(uint16_t code, std::string reason) override {
    boost::asio::post(io_.ioc, [self = this->shared_from_this(), code,
                                reason = std::move(reason)]() mutable {
      self->do_close(code, std::move(reason));
    });
  }

  void abort(std::string reason) override {
    boost::asio::post(io_.ioc, [self = this->shared_from_this(),
                                reason = std::move(reason)]() mutable {
      self->do_abort(std::move(reason));
    });
  }

  /// Posts the start of the attempt to the io thread.
  void start() {
    boost::asio::post(io_.ioc,
                      [self = this->shared_from_this()] { self->do_start(); });
  }

private:
  enum class phase { connecting, open, closing, done };

  // -- reporting ----------------------------------------------------------------------

  template <class... Ts>
  void report(Ts&&... xs) {
    out_.report(std::forward<Ts>(xs)...);
  }

  void log(protocol::log_level level, std::string_view text) { out_.log(level, text); }

  /// The one `failed` report; then done.
  void report_failed(std::string reason, int http_status = 0) {
    if (phase_ == phase::done)
      return;
    flush_batch();
    log(protocol::log_level::info, "connection to " + url_for_log_ + " failed: "
                                     + reason + " (generation "
                                     + std::to_string(gen_) + ")");
    report(failed_atom::value, gen_, connect_failure{std::move(reason), http_status});
    finish();
  }

  /// The one `closed` report; then done.
  void report_closed(uint16_t code, std::string reason) {
    if (phase_ == phase::done)
      return;
    // Frames read before the close are reported before it.
    flush_batch();
    log(protocol::log_level::debug, "connection to " + url_for_log_ + " closed: "
                                      + std::to_string(code) + " " + reason
                                      + " (generation " + std::to_string(gen_)
                                      + ")");
    report(closed_atom::value, gen_, code, std::move(reason));
    finish();
  }

  /// After the terminal report: tell the TRANSPORT, drop what we hold.
  void finish() {
    phase_ = phase::done;
    for (auto& f : pending_)
      release(f);
    pending_.clear();
    pending_.shrink_to_fit();
    boost::system::error_code ignored;
    open_timer_.cancel(ignored);
    out_.done();
    // The handlers of `con_` hold us: dropping `con_` breaks that cycle; the
    // connection object lives on while asio still has work for it.
    if (auto con = std::move(con_)) {
      // Posted: the handler that may be running now must not be destroyed.
      boost::asio::post(io_.ioc, [con = std::move(con), &client = client_] {
        disarm(*con, client);
      });
    }
  }

  /// An attempt abandoned during DNS or TCP connect lives on until
  /// websocketpp's step timer expires (up to 30 s): its handlers must not
  /// hold us that long, and a socket it still opens is closed at once.
  static void disarm(typename con_ptr::element_type& con, Client& client) {
    con.set_open_handler(nullptr);
    con.set_fail_handler(nullptr);
    con.set_close_handler(nullptr);
    con.set_message_handler(nullptr);
    // Still hands over (nothing): the slot must not keep another connection's.
    con.set_tcp_post_init_handler(
      [](websocketpp::connection_hdl) { deflate_extension::hand_over({}); });
    con.set_tcp_pre_init_handler(
      [&client](websocketpp::connection_hdl hdl) { close_socket(client, hdl); });
  }

  /// Closes the socket of an attempt that was ended before it connected.
  static void close_socket(Client& client, websocketpp::connection_hdl hdl) {
    websocketpp::lib::error_code ec;
    if (auto con = client.get_con_from_hdl(hdl, ec)) {
      boost::system::error_code ignored;
      con->get_raw_socket().close(ignored);
    }
  }

  // -- io thread -------------------------------------------------------------------

  void do_start() {
    websocketpp::uri_ptr uri;
    try {
      uri = std::make_shared<websocketpp::uri>(req_.url);
    } catch (...) {
      // websocketpp's parser throws on some malformed ports.
    }
    if (!uri || !uri->get_valid()) {
      url_for_log_ = "<invalid URL>";
      report_failed("invalid URL");
      return;
    }
    url_for_log_ = protocol::redact_url(req_.url);
    constexpr bool tls = std::is_same<Client, wss_client>::value;
    if (uri->get_secure() != tls) {
      report_failed("URL scheme does not match the transport");
      return;
    }
    if (auto problem = header_problem(req_.headers); !problem.empty()) {
      report_failed(std::move(problem));
      return;
    }
    if (!clean_header_text(req_.subprotocols)) {
      report_failed("invalid Sec-WebSocket-Protocol value");
      return;
    }
    log(protocol::log_level::debug, "connecting to " + url_for_log_
                                      + " (generation " + std::to_string(gen_)
                                      + ")");
    if constexpr (tls) {
      if (!prepare_tls(uri->get_host()))
        return;
    }
    websocketpp::lib::error_code ec;
    con_ = client_.get_connection(uri, ec);
    if constexpr (tls) {
      io_.next_tls_context.reset();
      io_.next_stream_setup = nullptr;
    }
    if (ec || !con_) {
      con_.reset();
      report_failed("cannot create the connection: " + describe(ec));
      return;
    }
    con_->set_max_message_size(static_cast<size_t>(req_.max_frame_size));
    // The open timer below bounds the whole attempt instead.
    con_->set_open_handshake_timeout(0);
    // 0 would mean "wait forever" to websocketpp; for us it means "do not wait".
    con_->set_close_handshake_timeout(
      static_cast<long>(std::max<uint32_t>(req_.close_timeout_ms, 1)));
    con_->set_max_http_body_size(64 * 1024);
    for (auto& [name, value] : req_.headers)
      con_->append_header(name, value);
    // A header, not add_subprotocol(): that one rejects '/' and '+', which
    // standard base64 (the auth token) contains.
    if (!req_.subprotocols.empty())
      con_->replace_header("Sec-WebSocket-Protocol", req_.subprotocols);
    // Each handler holds the state (shared ownership); finish() breaks the cycle.
    auto self = this->shared_from_this();
    con_->set_open_handler([self](websocketpp::connection_hdl) { self->on_open(); });
    con_->set_fail_handler([self](websocketpp::connection_hdl) { self->on_fail(); });
    con_->set_close_handler([self](websocketpp::connection_hdl) { self->on_close(); });
    // websocketpp cannot cancel a pending DNS lookup: an attempt ended
    // meanwhile would still connect. Close such a socket as soon as it exists.
    con_->set_tcp_pre_init_handler([self](websocketpp::connection_hdl hdl) {
      if (self->phase_ == phase::done)
        close_socket(self->client_, hdl);
    });
    // websocketpp creates the message processor (and our deflate extension
    // in it) right after this handler, on this thread: hand the session over.
    con_->set_tcp_post_init_handler(
      [session = std::weak_ptr<deflate_session>{deflate_}](websocketpp::connection_hdl) {
        deflate_extension::hand_over(session);
      });
    con_->set_message_handler(
      [self](websocketpp::connection_hdl, message_ptr msg) {
        self->on_message(std::move(msg));
      });
    if (inbound_)
      inbound_->on_resume([weak = this->weak_from_this()] {
        if (auto conn = weak.lock())
          conn->resume_reading();
      });
    if (req_.open_timeout_ms > 0) {
      open_timer_.expires_after(std::chrono::milliseconds(req_.open_timeout_ms));
      open_timer_.async_wait([self](const boost::system::error_code& err) {
        if (!err)
          self->on_open_timeout();
      });
    }
    client_.connect(con_);
    // websocketpp's request holds them now; ours would only cost memory.
    req_.url = std::string{};
    req_.headers = {};
    req_.subprotocols = std::string{};
  }

  /// Prepares the TLS context and stream setup that websocketpp asks for
  /// inside `get_connection`; false after reporting a failure.
  bool prepare_tls(const std::string& host) {
    std::string error;
    auto ctx = rt_.tls_context(req_.tls, error);
    if (!ctx) {
      report_failed(std::move(error));
      return false;
    }
    io_.next_tls_context = std::move(ctx);
    // Logged at every use: an explicit, visible choice.
    if (!req_.tls.verify_peer)
      log(protocol::log_level::warning, insecure_tls_warning(url_for_log_));
    verdict_ = std::make_shared<tls_verdict>();
    io_.next_stream_setup = [verdict = verdict_, host,
                             verify = req_.tls.verify_peer](tls_stream& stream) {
      configure_tls_stream(stream, verify, host, verdict);
    };
    return true;
  }

  void on_open() {
    if (phase_ != phase::connecting)
      return;
    if (!accept_extensions())
      return;
    boost::system::error_code ignored;
    open_timer_.cancel(ignored);
    phase_ = phase::open;
    log(protocol::log_level::debug, "connected to " + url_for_log_
                                      + " (generation " + std::to_string(gen_)
                                      + ")");
    report(opened_atom::value, gen_, transport_kind::websocket);
    // Frames sent before the open go out now, in order, behind nothing else.
    auto pending = std::move(pending_);
    pending_ = {};
    for (auto& f : pending)
      send_now(std::move(f));
  }

  /// Checks the server's Sec-WebSocket-Extensions answer (RFC 6455 4.1, RFC
  /// 7692) and sets permessage-deflate up; false after failing the attempt.
  /// Runs before websocketpp reads the first frame.
  bool accept_extensions() {
    auto answer = parse_deflate_answer(
      con_->get_response_header("Sec-WebSocket-Extensions"), deflate_ != nullptr);
    // websocketpp may have refused a header it could not parse, and then
    // still opens the connection (a bug of 0.8.2): that is a failure too.
    if (answer.error.empty()
        && con_->get_ec() == websocketpp::error::make_error_code(
                               websocketpp::error::extension_neg_failed))
      answer.error = "extension negotiation failed";
    if (answer.error.empty() && deflate_ && answer.accepted != deflate_->negotiated)
      answer.error = "permessage-deflate answer not understood";
    if (!answer.error.empty()) {
      // The handshake failed: no close frame, the link is dropped (RFC 6455 7.1.7).
      end_now(websocketpp::error::extension_neg_failed, [this, &answer] {
        report_failed("invalid Sec-WebSocket-Extensions answer: " + answer.error);
      });
      return false;
    }
    if (!answer.accepted) {
      if (deflate_)
        log(protocol::log_level::debug,
            "the server declined permessage-deflate; frames go uncompressed");
      deflate_.reset();
      return true;
    }
    auto note = deflate_->configure(answer.params);
    log(protocol::log_level::debug,
        "permessage-deflate in use: " + to_string(answer.params));
    if (!note.empty())
      log(protocol::log_level::info, note);
    return true;
  }

  void on_message(message_ptr msg) {
    if (phase_ == phase::done)
      return;
    auto type = msg->get_opcode() == websocketpp::frame::opcode::binary
                  ? protocol::frame_type::binary
                  : protocol::frame_type::text;
    // The payload buffer moves into the frame: no copy on our side.
    auto& data = msg->get_raw_payload();
    auto size = data.size();
    // Frames of one read travel together: one message for the whole read.
    if (batch_.empty())
      boost::asio::post(io_.ioc, [self = this->shared_from_this()] { self->flush_batch(); });
    batch_.push_back(protocol::frame{type, std::move(data)});
    batch_bytes_ += size;
    // The pause decision is taken here, inside the read loop, so that it
    // stops the very next read (see resume_reading).
    if (inbound_ && inbound_->take(size) && con_ && !reads_paused_) {
      log(protocol::log_level::debug, "listener is behind; pausing reads");
      reads_paused_ = true;
      // Inline, not pause_reading(): that one posts, so the read loop would
      // already have started the next read when it takes effect.
      con_->handle_pause_reading();
    }
  }

  /// Reports the frames of the last read in one message.
  void flush_batch() {
    if (batch_.empty())
      return;
    flow_ticket ticket;
    if (inbound_)
      ticket = flow_ticket{inbound_, batch_bytes_, batch_.size()};
    batch_bytes_ = 0;
    auto frames = std::move(batch_);
    batch_ = {};
    report(frame_atom::value, gen_, std::move(frames), std::move(ticket));
  }

  /// Resumes reading once the listener consumed enough (any thread).
  void resume_reading() {
    boost::asio::post(io_.ioc, [self = this->shared_from_this()] {
      // Only a paused connection resumes: resuming starts a read, and two
      // reads at once would corrupt the stream. We run on the io thread, so
      // no read is pending here (the pause took effect inline).
      if (self->phase_ == phase::open && self->con_ && self->reads_paused_) {
        self->reads_paused_ = false;
        self->con_->handle_resume_reading();
      }
    });
  }

  void on_fail() {
    if (phase_ == phase::done || !con_)
      return;
    auto ec = con_->get_ec();
    auto status = static_cast<int>(con_->get_response_code());
    if (status != 0 && status != 101) {
      report_failed("upgrade refused with HTTP " + std::to_string(status), status);
      return;
    }
    if (verdict_ && !verdict_->reason.empty()) {
      report_failed(verdict_->reason);
      return;
    }
    if (status == 101) {
      // A malformed extension answer is named as such, not as a bad upgrade.
      auto answer = parse_deflate_answer(
        con_->get_response_header("Sec-WebSocket-Extensions"), deflate_ != nullptr);
      if (!answer.error.empty())
        report_failed("invalid Sec-WebSocket-Extensions answer: " + answer.error);
      else
        report_failed("invalid upgrade response: " + describe(ec));
      return;
    }
    report_failed(describe(ec));
  }

  void on_close() {
    if (phase_ == phase::done || !con_)
      return;
    // A refused compressed message (bomb, corrupt data) is said in full once.
    if (deflate_ && !deflate_->refused.empty())
      log(protocol::log_level::warning, deflate_->refused);
    namespace cs = websocketpp::close::status;
    auto remote = con_->get_remote_close_code();
    auto local = con_->get_local_close_code();
    if (remote != cs::abnormal_close) {
      // The server's close frame (or its echo of ours).
      report_closed(remote, con_->get_remote_close_reason());
    } else if (!user_close_ && local != cs::abnormal_close
               && local != cs::blank && local != cs::no_status) {
      // websocketpp closed for a protocol error (1009 too big, 1002, 1007):
      // that code is what happened, whether or not the server echoed it.
      report_closed(local, con_->get_local_close_reason());
    } else {
      report_closed(cs::abnormal_close,
                    "connection lost without a close frame: "
                      + describe(con_->get_ec()));
    }
  }

  void on_open_timeout() {
    if (phase_ != phase::connecting)
      return;
    end_now(websocketpp::error::open_handshake_timeout,
            [this] { report_failed("open handshake timed out"); });
  }

  void do_send(protocol::frame&& f) {
    switch (phase_) {
      case phase::connecting:
        pending_.push_back(std::move(f));
        return;
      case phase::open:
        send_now(std::move(f));
        return;
      default:
        release(f);
        log(protocol::log_level::debug,
            "outbound frame dropped: the connection is closing");
        return;
    }
  }

  /// Gives a frame's unit of the outbound credit back: it will never be written.
  void release(const protocol::frame& f) noexcept {
    if (outbound_)
      outbound_->give(f.data.size());
  }

  /// Builds the wire frame in the frame's own buffer: websocketpp's send of a
  /// string would copy it once more before masking.
  void send_now(protocol::frame&& f) {
    auto op = f.type == protocol::frame_type::text
                ? websocketpp::frame::opcode::text
                : websocketpp::frame::opcode::binary;
    if (op == websocketpp::frame::opcode::text && req_.validate_outbound_utf8
        && !websocketpp::utf8_validator::validate(f.data)) {
      release(f);
      log(protocol::log_level::warning,
          "outbound text frame dropped: invalid UTF-8");
      return;
    }
    // The message gives the frame's credit back when websocketpp lets go of
    // it: once written (or refused by send below, or with the connection).
    message_ptr msg = std::make_shared<outbound_message>(op, outbound_, f.data.size());
    auto& payload = msg->get_raw_payload();
    auto compressed = compress(f.data, payload);
    if (!compressed)
      payload = std::move(f.data);
    websocketpp::frame::masking_key_type key;
    key.i = io_.rng();
    websocketpp::frame::word_mask_exact(reinterpret_cast<uint8_t*>(payload.data()),
                                        payload.size(), key);
    // RSV1 marks a compressed message (RFC 7692 6); one frame per message.
    websocketpp::frame::basic_header basic(op, payload.size(), true, true, compressed);
    websocketpp::frame::extended_header extended(payload.size(), key.i);
    msg->set_header(websocketpp::frame::prepare_header(basic, extended));
    msg->set_prepared(true);
    if (auto ec = con_->send(msg))
      log(protocol::log_level::warning,
          "outbound frame dropped: " + describe(ec));
  }

  /// Compresses a data message into `out` when permessage-deflate is in use
  /// and the message is worth it; false: send `in` as it is.
  bool compress(const std::string& in, std::string& out) {
    if (!deflate_ || !deflate_->out || in.size() < min_compressed_message)
      return false;
    if (deflate_->out->compress(in, out))
      return true;
    // The compressor's window no longer matches the server's: stop using it.
    deflate_->out.reset();
    log(protocol::log_level::warning,
        "compression failed (zlib); outbound messages go uncompressed");
    return false;
  }

  void do_close(uint16_t code, std::string reason) {
    switch (phase_) {
      case phase::connecting:
        end_now(websocketpp::error::operation_canceled, [this] {
          report_failed("closed by the client before the connection opened");
        });
        return;
      case phase::open: {
        if (!sendable_close_code(code)) {
          log(protocol::log_level::warning,
              "close code " + std::to_string(code)
                + " cannot be sent; closing with 1000");
          code = websocketpp::close::status::normal;
        }
        user_close_ = true;
        phase_ = phase::closing;
        websocketpp::lib::error_code ec;
        con_->close(code, reason, ec);
        if (ec)
          end_now(websocketpp::error::operation_canceled, [this, &ec] {
            report_closed(websocketpp::close::status::abnormal_close,
                          "close failed: " + describe(ec));
          });
        return;
      }
      default:
        return; // already closing or done
    }
  }

  void do_abort(std::string reason) {
    end_now(websocketpp::error::operation_canceled, [this, &reason] {
      if (phase_ == phase::connecting)
        report_failed(std::move(reason));
      else
        report_closed(websocketpp::close::status::abnormal_close,
                      std::move(reason));
    });
  }

  /// Reports the terminal event (which drops `con_`), then drops the link at
  /// once: no close handshake, pending operations cancelled.
  template <class Report>
  void end_now(websocketpp::error::value why, Report report_terminal) {
    auto con = con_;
    report_terminal();
    if (!con)
      return;
    // Synchronous for plain sockets: our close/fail handler runs inside and
    // finds the terminal report already sent.
    if (con->get_state() != websocketpp::session::state::closed)
      con->terminate(websocketpp::error::make_error_code(why));
    boost::system::error_code ignored;
    con->get_raw_socket().close(ignored);
  }

  // -- state ---------------------------------------------------------------------------

  io_runtime_impl& rt_;
  io_thread& io_;
  Client& client_;
  generation gen_;
  connect_request req_;
  reporter out_;
  std::string url_for_log_;
  con_ptr con_;
  boost::asio::steady_timer open_timer_;
  std::vector<protocol::frame> pending_;
  std::shared_ptr<tls_verdict> verdict_;
  /// permessage-deflate of this connection; null when not offered or declined.
  std::shared_ptr<deflate_session> deflate_;
  /// Bounds the frames reported and not yet consumed (null: unbounded).
  std::shared_ptr<credit> inbound_;
  /// Bounds the frames handed to us and not yet written (null: unbounded).
  std::shared_ptr<credit> outbound_;
  /// True while websocketpp's reading is paused by us (io thread only).
  bool reads_paused_ = false;
  /// Frames of the current read, reported together by flush_batch().
  std::vector<protocol::frame> batch_;
  size_t batch_bytes_ = 0;
  phase phase_ = phase::connecting;
  bool user_close_ = false;
};

} // namespace

std::shared_ptr<connection> start_connection(io_runtime_impl& rt,
                                             connection_params params) {
  auto& io = rt.next();
  if (params.req.kind == transport_kind::longpoll)
    return start_longpoll(rt, io, std::move(params));
  // The scheme picks the endpoint; anything else fails in do_start.
  // The schemes websocketpp's URI parser takes as secure (case-sensitive).
  auto url = std::string_view{params.req.url};
  if (url.rfind("wss://", 0) == 0 || url.rfind("https://", 0) == 0) {
    auto c = std::make_shared<basic_connection<wss_client>>(rt, io, io.wss,
                                                            std::move(params));
    c->start();
    return c;
  }
  auto c = std::make_shared<basic_connection<ws_client>>(rt, io, io.ws,
                                                         std::move(params));
  c->start();
  return c;
}

} // namespace phx::transport::detail
