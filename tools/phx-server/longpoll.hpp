#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace phx_server {

class context;

/// One HTTP request on a long-poll endpoint, answered exactly once: at once,
/// or later for a poll held open. The listener implements it per websocketpp
/// configuration; it keeps the connection alive until answered.
class http_exchange {
public:
  virtual ~http_exchange();

  /// The request method (`GET`, `POST`, ...).
  virtual std::string method() const = 0;

  /// Path and query of the request.
  virtual std::string resource() const = 0;

  /// A request header, matched case-insensitively ("" if absent).
  virtual std::string header(const std::string& name) const = 0;

  /// The request body (Content-Length bodies only, as websocketpp reads).
  virtual const std::string& body() const = 0;

  /// Adds a response header (before `respond`).
  virtual void add_header(const std::string& name, const std::string& value) = 0;

  /// Sends the answer; only the first `respond` or `cut` has an effect.
  virtual void respond(int status, const std::string& content_type, std::string body) = 0;

  /// Cuts the TCP connection without an answer.
  virtual void cut() = 0;

  /// True once answered or cut.
  virtual bool done() const noexcept = 0;
};

/// True for the paths served by long-poll: `/socket/longpoll` and
/// `/nows/socket/longpoll` (whose WebSocket upgrade is refused).
bool is_longpoll_path(std::string_view path) noexcept;

/// Serves one request of a long-poll endpoint as Phoenix.Transports.LongPoll
/// does: a GET without a valid session token opens a session (`410` and the
/// token), a GET with one waits up to the poll window for messages (`200`)
/// or ends empty (`204`), a POST hands frames to the session (`200`, `410`
/// for an unknown token). May leave `ex` unanswered (a held poll).
void serve_longpoll(context& ctx, const std::shared_ptr<http_exchange>& ex);

/// Ends the long-poll sessions of `user` (every one without a user), as if
/// their process died: the held poll gets `410` and so does the next one.
/// Returns how many ended.
size_t end_longpoll_sessions(context& ctx, const std::optional<std::string>& user);

} // namespace phx_server
