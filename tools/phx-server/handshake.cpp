#include "handshake.hpp"

#include <utility>

#include "phx/protocol/url.hpp"

namespace phx_server {

namespace {

// The idle timeout of `/short/socket` (heartbeat tests).
constexpr std::chrono::milliseconds short_idle_timeout{3000};

handshake_decision refuse(int status, std::string body) {
  handshake_decision d;
  d.status = status;
  d.body = std::move(body);
  return d;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool offers(std::string_view header, std::string_view protocol) {
  while (!header.empty()) {
    auto comma = header.find(',');
    if (trim(header.substr(0, comma)) == protocol)
      return true;
    if (comma == std::string_view::npos)
      break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

} // namespace

handshake_decision decide_handshake(const options& opts, std::string_view resource,
                                    std::string_view protocols) {
  auto qmark = resource.find('?');
  auto path = resource.substr(0, qmark);
  auto query = qmark == std::string_view::npos ? std::string_view{}
                                               : resource.substr(qmark + 1);
  std::chrono::milliseconds idle_timeout;
  if (path == "/socket/websocket")
    idle_timeout = opts.idle_timeout;
  else if (path == "/deflate/socket/websocket")
    idle_timeout = opts.idle_timeout;
  else if (path == "/short/socket/websocket")
    idle_timeout = short_idle_timeout;
  else if (path == "/nows/socket/websocket")
    return refuse(403, "/nows/socket serves long-poll only");
  else
    return refuse(404, "no socket at " + std::string{path});
  auto d = decide_connect(query, idle_timeout, std::nullopt);
  d.deflate = path == "/deflate/socket/websocket";
  if (d.status != 0 || protocols.empty())
    return d;
  auto token = phx::protocol::parse_auth_token_protocols(protocols);
  if (!token)
    return refuse(400, "malformed auth token subprotocol: " + token.error().what);
  d.info.auth_token = std::move(*token);
  // The client must get one of its offers back; it offers "phoenix" for that.
  d.select_phoenix = offers(protocols, "phoenix");
  return d;
}

handshake_decision decide_connect(std::string_view query,
                                  std::chrono::milliseconds idle_timeout,
                                  std::optional<std::string> auth_token) {
  handshake_decision d;
  d.info.idle_timeout = idle_timeout;
  d.info.auth_token = std::move(auth_token);
  auto params = phx::protocol::parse_query(query);
  if (!params)
    return refuse(400, "bad query: " + params.error().what);
  auto& doc = *params;
  // Phoenix: vsn = params["vsn"] || "1.0.0", matched against ~> 1.0.0 / ~> 2.0.0.
  std::string vsn{phx::protocol::vsn_1};
  if (auto it = doc.FindMember("vsn"); it != doc.MemberEnd()) {
    if (!it->value.IsString())
      return refuse(403, "invalid transport version");
    vsn.assign(it->value.GetString(), it->value.GetStringLength());
  }
  auto ser = phx::protocol::make_serializer(vsn, phx::protocol::role::server);
  if (!ser)
    return refuse(403, "unsupported transport version \"" + vsn + "\"");
  d.info.serializer = *ser;
  d.info.v2 = (*ser)->vsn() == phx::protocol::vsn_2;
  // The reference app's connect/3: token=bad refuses, user is the user id.
  if (auto it = doc.FindMember("token");
      it != doc.MemberEnd() && it->value.IsString() && it->value == "bad")
    return refuse(403, "connection refused");
  d.info.user_id = "anon";
  if (auto it = doc.FindMember("user"); it != doc.MemberEnd()) {
    if (!it->value.IsString())
      return refuse(403, "user must be a string");
    d.info.user_id.assign(it->value.GetString(), it->value.GetStringLength());
  }
  // Re-read into a compact block: the query document's pool allocates 64 KiB
  // chunks, and 10,000 idle sockets each keep their params.
  auto text = phx::protocol::to_json_string(doc);
  auto compact = text ? phx::protocol::parse_json(std::move(*text))
                      : phx::protocol::result<phx::protocol::json_ptr>{
                          phx::protocol::make_json(std::move(doc))};
  if (!compact)
    return refuse(400, "bad query: " + compact.error().what);
  d.info.params = std::move(*compact);
  return d;
}

} // namespace phx_server
