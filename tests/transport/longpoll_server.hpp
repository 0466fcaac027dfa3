#pragma once

// A scripted long-poll server for the transport tests: Phoenix's
// `/socket/longpoll` answers (410 opens a session with a token, polls wait up
// to a window for messages, ndjson POSTs are recorded and echoed), every
// request recorded, and a script that can override any answer (HTTP errors,
// other statuses, hanging requests, held answers, oversized bodies).
// Blocking Beast on its own threads; every wait is bounded.

#include <cctype>
#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "phx/protocol/url.hpp"

namespace phx_test {

/// One request as the long-poll server got it.
struct lp_request {
  std::string method;
  std::string target;
  /// Header names in lower case.
  std::map<std::string, std::string> headers;
  std::string body;
  /// Number of the TCP connection it came on (1, 2, ...).
  size_t connection = 0;

  /// A header's value, empty if absent (`name` in lower case).
  std::string header(const std::string& name) const {
    auto i = headers.find(name);
    return i == headers.end() ? std::string{} : i->second;
  }

  /// The `token` query parameter, empty if absent.
  std::string token() const {
    auto q = target.find('?');
    if (q == std::string::npos)
      return {};
    auto query = target.substr(q + 1);
    size_t pos = 0;
    while (pos <= query.size()) {
      auto end = query.find('&', pos);
      auto part = query.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      if (part.rfind("token=", 0) == 0) {
        auto decoded = phx::protocol::url_decode_component(part.substr(6));
        return decoded ? *decoded : std::string{"<bad escape>"};
      }
      if (end == std::string::npos)
        break;
      pos = end + 1;
    }
    return {};
  }
};

/// A frame the server took from a POST.
struct lp_frame {
  bool binary = false;
  std::string data;
};

/// A latch the script can make an answer wait on.
class lp_gate {
public:
  void open() {
    std::lock_guard<std::mutex> guard{mtx_};
    open_ = true;
    cv_.notify_all();
  }

  /// Waits until open, at most `wait`; false on timeout.
  bool wait(std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, wait, [this] { return open_; });
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool open_ = false;
};

/// An answer the script imposes instead of Phoenix's.
struct lp_reply {
  /// HTTP status.
  int http = 200;
  /// The body (JSON for Phoenix-like answers).
  std::string body;
  /// Never answer: wait until the client gives up (or the server stops).
  bool hang = false;
  /// Wait for this gate before answering (bounded by 10 s).
  std::shared_ptr<lp_gate> hold;
};

/// How the long-poll server behaves where no script speaks.
struct lp_server_options {
  /// How long a poll waits for messages before 204.
  std::chrono::milliseconds window{2000};
  /// Echo every text frame POSTed into the session's messages.
  bool echo = true;
  /// Answer with `Connection: close` and close after each response.
  bool close_each = false;
  /// Promise keep-alive but close after each response anyway (as an idle
  /// timeout does): the client's next request finds a dead connection.
  bool drop_each = false;
};


class lp_server {
public:
  /// Returns an answer to impose, or nothing for Phoenix's behaviour.
  using script = std::function<std::optional<lp_reply>(const lp_request&)>;

  using options = lp_server_options;

  explicit lp_server(script s = {}, options opts = options{})
    : script_(std::move(s)), opts_(opts),
      acceptor_(ioc_, {boost::asio::ip::address_v4::loopback(), 0}) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { accept_loop(); });
  }

  ~lp_server() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stop_ = true;
      cv_.notify_all();
      for (int fd : open_fds_)
        ::shutdown(fd, SHUT_RDWR);
    }
    // Wakes the blocking accept.
    try {
      boost::asio::io_context ioc;
      boost::asio::ip::tcp::socket s{ioc};
      s.connect({boost::asio::ip::address_v4::loopback(), port_});
    } catch (...) {
    }
    accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      threads = std::move(threads_);
    }
    for (auto& t : threads)
      t.join();
  }

  /// The long-poll URL with `query` (e.g. `vsn=2.0.0&x=1`).
  std::string url(const std::string& query = "vsn=2.0.0") const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/socket/longpoll?" + query;
  }

  /// Queues a message for the current session's next poll.
  void push(std::string msg) {
    std::lock_guard<std::mutex> guard{mtx_};
    messages_.push_back(std::move(msg));
    cv_.notify_all();
  }

  /// Forgets the session: its token is unknown from now on (a waiting poll
  /// answers at once, as a new session: 410).
  void end_session() {
    std::lock_guard<std::mutex> guard{mtx_};
    token_.clear();
    messages_.clear();
    cv_.notify_all();
  }

  /// Every request so far.
  std::vector<lp_request> requests() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return requests_;
  }

  /// Every frame POSTed so far, in order.
  std::vector<lp_frame> frames() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return frames_;
  }

  /// TCP connections accepted so far.
  size_t connections() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return connections_;
  }

  /// Waits until `pred(requests)` holds; false after `wait`.
  bool wait_for(const std::function<bool(const std::vector<lp_request>&)>& pred,
                std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, wait, [&] { return pred(requests_); });
  }

  /// Waits until `n` frames were POSTed; false after `wait`.
  bool wait_frames(size_t n, std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, wait, [&] { return frames_.size() >= n; });
  }

private:
  void accept_loop() {
    for (;;) {
      boost::asio::ip::tcp::socket sock{ioc_};
      boost::system::error_code ec;
      acceptor_.accept(sock, ec);
      std::lock_guard<std::mutex> guard{mtx_};
      if (stop_)
        return;
      if (ec)
        continue;
      auto id = ++connections_;
      open_fds_.insert(sock.native_handle());
      threads_.emplace_back([this, s = std::move(sock), id]() mutable {
        serve(std::move(s), id);
      });
    }
  }

  void serve(boost::asio::ip::tcp::socket sock, size_t id) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buf;
    for (;;) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(sock, buf, req, ec);
      if (ec)
        break;
      lp_request rec;
      rec.method = std::string{req.method_string()};
      rec.target = std::string{req.target()};
      for (auto& field : req) {
        std::string name{field.name_string()};
        for (auto& c : name)
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        rec.headers[name] = std::string{field.value()};
      }
      rec.body = req.body();
      rec.connection = id;
      {
        std::lock_guard<std::mutex> guard{mtx_};
        requests_.push_back(rec);
        cv_.notify_all();
      }
      std::optional<lp_reply> imposed;
      if (script_)
        imposed = script_(rec);
      lp_reply reply;
      if (imposed) {
        reply = std::move(*imposed);
        if (reply.hang) {
          // Until the client gives up on it (or the server stops).
          char c;
          for (;;) {
            sock.read_some(boost::asio::buffer(&c, 1), ec);
            if (ec)
              break;
          }
          break;
        }
        if (reply.hold)
          reply.hold->wait(std::chrono::seconds{10});
      } else {
        reply = phoenix(rec);
      }
      http::response<http::string_body> res{static_cast<http::status>(reply.http), 11};
      res.set(http::field::content_type, "application/json; charset=utf-8");
      res.body() = std::move(reply.body);
      res.keep_alive(!opts_.close_each);
      res.prepare_payload();
      http::write(sock, res, ec);
      if (ec || opts_.close_each || opts_.drop_each)
        break;
    }
    std::lock_guard<std::mutex> guard{mtx_};
    open_fds_.erase(sock.native_handle());
    boost::system::error_code ignored;
    sock.close(ignored);
  }

  static std::string quote(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char esc[8];
        std::snprintf(esc, sizeof(esc), "\\u%04x", c);
        out += esc;
      } else {
        out += c;
      }
    }
    return out + "\"";
  }

  /// What Phoenix.Transports.LongPoll answers.
  lp_reply phoenix(const lp_request& rec) {
    std::unique_lock<std::mutex> guard{mtx_};
    lp_reply reply;
    auto token = rec.token();
    bool known = !token.empty() && token == token_;
    if (rec.method == "GET") {
      if (!known)
        return new_session();
      auto deadline = std::chrono::steady_clock::now() + opts_.window;
      cv_.wait_until(guard, deadline,
                     [&] { return stop_ || !messages_.empty() || token_ != token; });
      if (token_ != token)
        return new_session();
      if (messages_.empty()) {
        reply.body = R"({"status":204,"token":)" + quote(token_) + "}";
        return reply;
      }
      std::string list;
      for (auto& m : messages_)
        list += (list.empty() ? "" : ",") + quote(m);
      messages_.clear();
      reply.body = R"({"status":200,"token":)" + quote(token_) + R"(,"messages":[)" + list + "]}";
      return reply;
    }
    if (!known) {
      reply.body = R"({"status":410})";
      return reply;
    }
    std::vector<std::string> lines;
    if (rec.header("content-type") == "application/x-ndjson") {
      size_t pos = 0;
      for (;;) {
        auto end = rec.body.find('\n', pos);
        lines.push_back(rec.body.substr(pos, end == std::string::npos ? end : end - pos));
        if (end == std::string::npos)
          break;
        pos = end + 1;
      }
    } else {
      lines.push_back(rec.body);
    }
    bool ndjson = lines.size() > 1 || rec.header("content-type") == "application/x-ndjson";
    for (auto& line : lines) {
      lp_frame f;
      if (ndjson && (line.empty() || line.front() != '[')) {
        auto bytes = phx::protocol::base64_decode(line);
        f.binary = true;
        f.data = bytes ? *bytes : std::string{"<bad base64>"};
      } else {
        f.data = line;
        if (opts_.echo)
          messages_.push_back(line);
      }
      frames_.push_back(std::move(f));
    }
    cv_.notify_all();
    reply.body = R"({"status":200})";
    return reply;
  }

  lp_reply new_session() {
    token_ = "SFMyNTY.g2gDaAJhAXQ/" + std::to_string(++sessions_);
    messages_.clear();
    lp_reply reply;
    reply.body = R"({"status":410,"token":)" + quote(token_) + R"(,"messages":[]})";
    return reply;
  }

  script script_;
  options opts_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::set<int> open_fds_;
  std::vector<std::thread> threads_;
  std::thread accept_thread_;
  std::vector<lp_request> requests_;
  std::vector<lp_frame> frames_;
  std::vector<std::string> messages_;
  std::string token_;
  size_t sessions_ = 0;
  size_t connections_ = 0;
};

} // namespace phx_test
