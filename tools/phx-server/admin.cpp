// Plain HTTP on the socket's port: health and the loopback admin endpoints
// the tests use to disconnect, cut, broadcast and stall (SCENARIOS.md).

#include "admin.hpp"

#include <algorithm>
#include <charconv>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include <websocketpp/close.hpp>

#include "phx/protocol/json.hpp"
#include "phx/protocol/url.hpp"

#include "context.hpp"
#include "longpoll.hpp"
#include "session.hpp"

namespace phx_server {

namespace {

using phx::protocol::json_document;
using phx::protocol::log_level;

constexpr int64_t max_stall_ms = 600000;

http_reply text(int status, std::string body) {
  http_reply r;
  r.status = status;
  r.body = std::move(body);
  r.body += '\n';
  return r;
}

http_reply ok() {
  http_reply r;
  r.body = "ok";
  return r;
}

// Strong references: closing a socket may run its close handler at once.
std::vector<std::shared_ptr<session>> snapshot(context& ctx) {
  std::vector<std::shared_ptr<session>> out;
  out.reserve(ctx.sessions.size());
  for (auto* s : ctx.sessions)
    out.push_back(s->shared_from_this());
  return out;
}

std::optional<std::string> param(const json_document& query, const char* name) {
  auto it = query.FindMember(name);
  if (it == query.MemberEnd() || !it->value.IsString())
    return std::nullopt;
  return std::string{it->value.GetString(), it->value.GetStringLength()};
}

bool parse_int(const std::string& text, int64_t min, int64_t max, int64_t& out) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < min || v > max)
    return false;
  out = v;
  return true;
}

// The close code of a disconnect: `code` param, default 1000 (SCENARIOS.md;
// Phoenix 1.8.8+ uses 1001, which phoenix.js reconnects after).
std::optional<uint16_t> close_code(const json_document& query) {
  auto text = param(query, "code");
  if (!text)
    return uint16_t{1000};
  int64_t code = 0;
  if (!parse_int(*text, 1000, 4999, code))
    return std::nullopt;
  auto c = static_cast<uint16_t>(code);
  if (websocketpp::close::status::invalid(c) || websocketpp::close::status::reserved(c))
    return std::nullopt;
  return c;
}

http_reply stats(context& ctx) {
  std::set<std::string> users;
  for (auto* s : ctx.sessions)
    users.insert(s->user_id());
  json_document doc;
  doc.SetObject();
  auto& alloc = doc.GetAllocator();
  doc.AddMember("transports", static_cast<uint64_t>(ctx.sessions.size()), alloc);
  phx::protocol::json_value ids{rapidjson::kArrayType};
  for (auto& u : users) {
    phx::protocol::json_value v;
    v.SetString(u.data(), static_cast<rapidjson::SizeType>(u.size()), alloc);
    ids.PushBack(v, alloc);
  }
  doc.AddMember("user_ids", ids, alloc);
  http_reply r;
  r.content_type = "application/json";
  auto body = phx::protocol::to_json_string(doc);
  r.body = body ? *body : "{}";
  return r;
}

} // namespace

http_reply handle_http(context& ctx, std::string_view method,
                       std::string_view resource) {
  auto qmark = resource.find('?');
  auto path = resource.substr(0, qmark);
  auto query_text = qmark == std::string_view::npos ? std::string_view{}
                                                    : resource.substr(qmark + 1);
  if (method != "GET" && method != "HEAD")
    return text(405, "only GET");
  if (path == "/health")
    return ok();
  if (path == "/socket/websocket" || path == "/short/socket/websocket"
      || path == "/nows/socket/websocket")
    return text(400, "this endpoint expects a WebSocket upgrade");
  if (path.substr(0, 7) != "/admin/")
    return text(404, "not found");
  auto query = phx::protocol::parse_query(query_text);
  if (!query)
    return text(400, "bad query: " + query.error().what);
  auto& q = *query;
  if (path == "/admin/stats")
    return stats(ctx);
  if (path == "/admin/disconnect_all" || path == "/admin/disconnect") {
    auto code = close_code(q);
    if (!code)
      return text(400, "code must be a close code a server may send (1000-4999)");
    std::optional<std::string> user;
    if (path == "/admin/disconnect") {
      user = param(q, "user");
      if (!user)
        return text(400, "user is required");
    }
    size_t n = 0;
    for (auto& s : snapshot(ctx)) {
      if (user && s->user_id() != *user)
        continue;
      s->close(*code, "");
      ++n;
    }
    ctx.log.write(log_level::info, "admin",
                  "disconnected " + std::to_string(n) + " socket(s) with code "
                    + std::to_string(*code));
    return ok();
  }
  if (path == "/admin/kill_all") {
    auto all = snapshot(ctx);
    for (auto& s : all)
      s->cut();
    ctx.log.write(log_level::info, "admin",
                  "cut " + std::to_string(all.size()) + " connection(s)");
    return ok();
  }
  if (path == "/admin/kill_longpoll") {
    // The long-poll session ends as if its process died: its held poll and
    // the next one get 410 (the client then opens a new session).
    auto user = param(q, "user");
    auto n = end_longpoll_sessions(ctx, user);
    ctx.log.write(log_level::info, "admin",
                  "ended " + std::to_string(n) + " long-poll session(s)");
    return ok();
  }
  if (path == "/admin/broadcast") {
    auto topic = param(q, "topic");
    auto event = param(q, "event");
    if (!topic || !event)
      return text(400, "topic and event are required");
    phx::protocol::payload body;
    if (auto raw = param(q, "payload")) {
      auto parsed = phx::protocol::payload::parse(*raw);
      if (!parsed)
        return text(400, "payload is not JSON: " + parsed.error().to_string());
      if (!parsed->json().IsObject())
        return text(400, "payload must be a JSON object");
      body = std::move(*parsed);
    }
    auto n = ctx.bus.broadcast(*topic, *event, body);
    if (ctx.log.enabled(log_level::debug))
      ctx.log.write(log_level::debug, "admin",
                    "broadcast " + *topic + " " + *event + " to "
                      + std::to_string(n) + " subscriber(s)");
    return ok();
  }
  if (path == "/admin/stall") {
    auto raw = param(q, "ms");
    int64_t ms = 0;
    if (!raw || !parse_int(*raw, 0, max_stall_ms, ms))
      return text(400, "ms must be an integer 0.." + std::to_string(max_stall_ms));
    ctx.stall(std::chrono::milliseconds{ms});
    ctx.log.write(log_level::info, "admin", "stalling for " + *raw + " ms");
    return ok();
  }
  return text(404, "not found");
}

} // namespace phx_server
