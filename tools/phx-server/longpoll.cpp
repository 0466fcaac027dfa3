// Phoenix.Transports.LongPoll and its LongPoll.Server: sessions keyed by a
// signed token, a mailbox drained by polls, frames handed in by POSTs. The
// channel logic is the same `session` a WebSocket runs.

#include "longpoll.hpp"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "phx/protocol/json.hpp"
#include "phx/protocol/url.hpp"

#include "context.hpp"
#include "handshake.hpp"
#include "session.hpp"

namespace phx_server {

http_exchange::~http_exchange() = default;

namespace {

using phx::protocol::frame_type;
using phx::protocol::log_level;
using std::chrono::steady_clock;

// Phoenix's @max_poll_batch_size: lines of an ndjson POST past it are ignored.
constexpr size_t max_batch_lines = 100;
// Sessions alive at once; past it a new one is refused (orphans expire).
constexpr size_t max_sessions = 100000;

const std::string json_type = "application/json; charset=utf-8";

std::string base64url(std::string_view raw) {
  auto text = phx::protocol::base64_encode(raw, false);
  std::replace(text.begin(), text.end(), '+', '-');
  std::replace(text.begin(), text.end(), '/', '_');
  return text;
}

std::string mac(const context& ctx, std::string_view id) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const auto& key = ctx.longpoll_secret();
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(id.data()), id.size(), out, &len);
  return base64url({reinterpret_cast<const char*>(out), len});
}

// `<id>.<HMAC-SHA256(id)>`: a client cannot forge another session's token.
std::string sign(const context& ctx, const std::string& id) {
  return id + "." + mac(ctx, id);
}

std::optional<std::string> verify(const context& ctx, std::string_view token) {
  auto dot = token.find('.');
  if (dot == std::string_view::npos || dot == 0)
    return std::nullopt;
  auto id = token.substr(0, dot);
  auto expected = mac(ctx, id);
  auto given = token.substr(dot + 1);
  if (given.size() != expected.size()
      || CRYPTO_memcmp(given.data(), expected.data(), given.size()) != 0)
    return std::nullopt;
  return std::string{id};
}

std::string new_session_id() {
  unsigned char raw[15];
  if (RAND_bytes(raw, sizeof(raw)) != 1)
    return {};
  return base64url({reinterpret_cast<const char*>(raw), sizeof(raw)});
}

// Phoenix's `status_json` / `status_token_messages_json`: HTTP 200, the real
// status in the body.
std::string status_json(int status) {
  return R"({"status":)" + std::to_string(status) + "}";
}

std::string status_json(int status, const std::string& token,
                        const std::vector<std::string>& messages) {
  std::string out = R"({"status":)" + std::to_string(status) + R"(,"token":)";
  phx::protocol::append_json_string(out, token);
  out += R"(,"messages":[)";
  bool first = true;
  for (const auto& m : messages) {
    if (!first)
      out += ',';
    first = false;
    phx::protocol::append_json_string(out, m);
  }
  out += "]}";
  return out;
}

void answer(http_exchange& ex, std::string body) {
  ex.add_header("Cache-Control", "no-store");
  ex.respond(200, json_type, std::move(body));
}

} // namespace

/// A Phoenix socket whose transport is a mailbox: what the channels send is
/// buffered and handed to the next poll. It owns itself through
/// `context::longpoll_sessions` and ends when no poll comes for too long.
class longpoll_session final : public session {
public:
  longpoll_session(context& ctx, connect_info info, std::string id)
    : session(ctx, std::move(info)),
      id_(std::move(id)),
      token_(sign(ctx, id_)),
      window_timer_(ctx.io),
      expiry_timer_(ctx.io),
      last_poll_(steady_clock::now()) {
    // nop
  }

  const std::string& token() const noexcept { return token_; }

  void start() {
    opened();
    arm_expiry(ctx().opts.longpoll_expiry());
  }

  // GET with this session's token: answer now if messages wait, else hold.
  void poll(const std::shared_ptr<http_exchange>& ex) {
    last_poll_ = steady_clock::now();
    if (pending_) {
      // Phoenix hands the buffer to the newest listener; the older one ends empty.
      answer(*pending_, status_json(204, token_, {}));
      pending_.reset();
    }
    pending_ = ex;
    if (!buffer_.empty()) {
      flush();
      return;
    }
    window_timer_.expires_after(ctx().opts.longpoll_window);
    window_timer_.async_wait([weak = weak_self(), ex](const boost::system::error_code& ec) {
      if (ec)
        return;
      if (auto self = weak.lock(); self && self->pending_ == ex) {
        self->pending_.reset();
        self->last_poll_ = steady_clock::now();
        answer(*ex, status_json(204, self->token_, {}));
      }
    });
  }

  // POST with this session's token: every frame of the body, in order.
  void publish(http_exchange& ex) {
    auto self = shared_from_this();
    const auto& body = ex.body();
    auto type = ex.header("Content-Type");
    if (type.rfind("application/x-ndjson", 0) != 0) {
      on_frame(frame_type::text, std::string{body});
      answer(ex, status_json(ended_ ? 410 : 200));
      return;
    }
    std::string_view rest = body;
    size_t lines = 0;
    while (!rest.empty() && lines < max_batch_lines && !ended_) {
      auto nl = rest.find('\n');
      auto line = rest.substr(0, nl);
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
      if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
      ++lines;
      // An empty line carries no frame (a trailing newline); skipped.
      if (line.empty())
        continue;
      if (line.front() == '[') {
        on_frame(frame_type::text, std::string{line});
        continue;
      }
      // Any other line is base64 of a binary frame (phoenix.js's encoding).
      auto bytes = phx::protocol::base64_decode(line);
      if (!bytes) {
        ex.respond(400, "text/plain", "a line is neither a JSON array nor base64\n");
        return;
      }
      on_frame(frame_type::binary, std::move(*bytes));
    }
    answer(ex, status_json(ended_ ? 410 : 200));
  }

  void close(uint16_t code, std::string_view reason) override {
    if (ctx().log.enabled(log_level::debug))
      ctx().log.write(log_level::debug, "longpoll",
                      "ending session of users_socket:" + user_id() + " (close "
                        + std::to_string(code) + " " + std::string{reason} + ")");
    end(false);
  }

  void cut() override {
    end(true);
  }

protected:
  bool write(const ws_message_ptr& msg) override {
    if (msg->get_opcode() == websocketpp::frame::opcode::binary) {
      // A poll's body is JSON text: Phoenix 1.7 fails to encode such a frame
      // too (the client's push times out). Dropped, said here.
      ctx().log.write(log_level::warning, "longpoll",
                      "dropping a binary frame for users_socket:" + user_id()
                        + ": long-poll carries text frames only");
      return true;
    }
    const auto& data = msg->get_payload();
    if (buffer_bytes_ + data.size() > max_buffered_bytes)
      return false;
    buffer_bytes_ += data.size();
    buffer_.push_back(data);
    if (pending_ && !flush_posted_) {
      // Posted: what the same event sends next goes in the same answer.
      flush_posted_ = true;
      boost::asio::post(ctx().io, [weak = weak_self()] {
        if (auto self = weak.lock()) {
          self->flush_posted_ = false;
          self->flush();
        }
      });
    }
    return true;
  }

private:
  std::weak_ptr<longpoll_session> weak_self() {
    return std::static_pointer_cast<longpoll_session>(shared_from_this());
  }

  void flush() {
    if (!pending_ || buffer_.empty())
      return;
    auto ex = std::move(pending_);
    pending_.reset();
    window_timer_.cancel();
    last_poll_ = steady_clock::now();
    auto body = status_json(200, token_, buffer_);
    buffer_.clear();
    buffer_bytes_ = 0;
    answer(*ex, std::move(body));
  }

  void end(bool cut_poll) {
    if (ended_)
      return;
    ended_ = true;
    auto self = shared_from_this();
    window_timer_.cancel();
    expiry_timer_.cancel();
    if (auto ex = std::move(pending_)) {
      pending_.reset();
      // The held poll learns at once that the session is gone (Phoenix's
      // would end empty after its window, and the next poll get 410).
      if (cut_poll)
        ex->cut();
      else
        answer(*ex, status_json(410));
    }
    buffer_.clear();
    buffer_bytes_ = 0;
    ctx().longpoll_sessions.erase(id_);
    closed();
  }

  void arm_expiry(steady_clock::duration after) {
    expiry_timer_.expires_after(after);
    expiry_timer_.async_wait([weak = weak_self()](const boost::system::error_code& ec) {
      if (ec)
        return;
      if (auto self = weak.lock())
        self->on_expiry_timer();
    });
  }

  void on_expiry_timer() {
    auto limit = ctx().opts.longpoll_expiry();
    if (pending_) {
      arm_expiry(limit);
      return;
    }
    auto idle = steady_clock::now() - last_poll_;
    if (idle < limit) {
      arm_expiry(limit - idle);
      return;
    }
    if (ctx().log.enabled(log_level::debug))
      ctx().log.write(log_level::debug, "longpoll",
                      "no poll for users_socket:" + user_id() + ", session expired");
    end(false);
  }

  std::string id_;
  std::string token_;
  std::vector<std::string> buffer_;
  size_t buffer_bytes_ = 0;
  std::shared_ptr<http_exchange> pending_;
  boost::asio::steady_timer window_timer_;
  boost::asio::steady_timer expiry_timer_;
  steady_clock::time_point last_poll_;
  bool flush_posted_ = false;
  bool ended_ = false;
};

namespace {

std::shared_ptr<longpoll_session> find_session(context& ctx, http_exchange& ex,
                                               const phx::protocol::json_document& query) {
  // Phoenix 1.8 reads the header first, then the `token` param.
  auto token = ex.header("x-phoenix-longpoll-token");
  if (token.empty()) {
    auto it = query.FindMember("token");
    if (it == query.MemberEnd() || !it->value.IsString())
      return nullptr;
    token.assign(it->value.GetString(), it->value.GetStringLength());
  }
  auto id = verify(ctx, token);
  if (!id)
    return nullptr;
  auto it = ctx.longpoll_sessions.find(*id);
  if (it == ctx.longpoll_sessions.end())
    return nullptr;
  return std::static_pointer_cast<longpoll_session>(it->second);
}

void new_session(context& ctx, http_exchange& ex, std::string_view query) {
  auto auth = ex.header("x-phoenix-authtoken");
  auto decision = decide_connect(query, std::chrono::milliseconds{0},
                                 auth.empty() ? std::nullopt
                                              : std::optional<std::string>{auth});
  if (decision.status == 400) {
    ex.respond(400, "text/plain", decision.body + "\n");
    return;
  }
  if (decision.status != 0) {
    // connect/3 refused: the LongPoll.Server does not start (`:ignore`).
    if (ctx.log.enabled(log_level::info))
      ctx.log.write(log_level::info, "longpoll", "refused session: " + decision.body);
    answer(ex, status_json(403));
    return;
  }
  auto id = new_session_id();
  if (ctx.longpoll_sessions.size() >= max_sessions || id.empty()) {
    ctx.log.write(log_level::warning, "longpoll", "refused session: too many sessions");
    ex.respond(503, "text/plain", "too many long-poll sessions\n");
    return;
  }
  auto s = std::make_shared<longpoll_session>(ctx, std::move(decision.info), id);
  ctx.longpoll_sessions.emplace(id, s);
  s->start();
  answer(ex, status_json(410, s->token(), {}));
}

} // namespace

bool is_longpoll_path(std::string_view path) noexcept {
  return path == "/socket/longpoll" || path == "/nows/socket/longpoll";
}

void serve_longpoll(context& ctx, const std::shared_ptr<http_exchange>& ex) {
  auto resource = ex->resource();
  auto qmark = resource.find('?');
  std::string_view query = qmark == std::string::npos
                             ? std::string_view{}
                             : std::string_view{resource}.substr(qmark + 1);
  ex->add_header("Access-Control-Allow-Origin", "*");
  // websocketpp closes after every response: say so, so no client reuses it.
  ex->add_header("Connection", "close");
  auto method = ex->method();
  if (method == "OPTIONS") {
    // CORS pre-flight, as Phoenix answers it.
    ex->add_header("Access-Control-Allow-Headers",
                   ex->header("Access-Control-Request-Headers"));
    ex->add_header("Access-Control-Allow-Methods", "get, post, options");
    ex->add_header("Access-Control-Max-Age", "3600");
    ex->respond(200, "text/plain", "");
    return;
  }
  if (method != "GET" && method != "POST") {
    ex->respond(400, "text/plain", "");
    return;
  }
  auto parsed = phx::protocol::parse_query(query);
  if (!parsed) {
    ex->respond(400, "text/plain", "bad query: " + parsed.error().what + "\n");
    return;
  }
  auto s = find_session(ctx, *ex, *parsed);
  if (method == "POST") {
    if (!s)
      answer(*ex, status_json(410));
    else
      s->publish(*ex);
    return;
  }
  if (s)
    s->poll(ex);
  else
    new_session(ctx, *ex, query);
}

size_t end_longpoll_sessions(context& ctx, const std::optional<std::string>& user) {
  std::vector<std::shared_ptr<session>> victims;
  for (auto& entry : ctx.longpoll_sessions)
    if (!user || entry.second->user_id() == *user)
      victims.push_back(entry.second);
  for (auto& s : victims)
    static_cast<longpoll_session&>(*s).close(1000, "session ended by admin");
  return victims.size();
}

} // namespace phx_server
