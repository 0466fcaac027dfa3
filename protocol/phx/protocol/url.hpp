#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "phx/protocol/json.hpp"
#include "phx/protocol/result.hpp"

namespace phx::protocol {

/// A parsed socket endpoint, e.g. `ws://localhost:4000/socket`.
struct endpoint {
  /// True for `wss`/`https`.
  bool tls = false;
  /// Host name or address; IPv6 without brackets.
  std::string host;
  /// Port; defaults to 80 or 443.
  uint16_t port = 80;
  /// Path without a trailing `/`, e.g. `/socket`; empty for the root path `/`.
  std::string path;
  /// Query text already present in the endpoint (without `?`), kept in front.
  std::string query;

  /// `ws` or `wss`.
  std::string_view scheme() const noexcept { return tls ? "wss" : "ws"; }
  /// `host:port` as it goes into a URL (IPv6 in brackets).
  std::string authority() const;
  /// The endpoint as a URL, e.g. `ws://localhost:4000/socket`.
  std::string to_string() const;
  /// Field-by-field equality.
  friend bool operator==(const endpoint& a, const endpoint& b);
};

/// Parses `ws://`, `wss://`, `http://` or `https://` URLs. A missing host or
/// path, an unknown scheme or a bad port is an error.
result<endpoint> parse_endpoint(std::string_view url);

/// Builds an endpoint from parts (phoenix.cr's host/path/port/tls constructor).
result<endpoint> make_endpoint(std::string_view host, std::string_view path,
                               std::optional<uint16_t> port, bool tls);

/// Percent-encodes like JavaScript's `encodeURIComponent`.
std::string url_encode_component(std::string_view text);

/// Decodes `%XX` escapes and `+` (as a space); an error for bad escapes.
result<std::string> url_decode_component(std::string_view text);

/// Serializes params like phoenix.js `Ajax.serialize`: URL-encoded
/// `key=value` pairs joined by `&`, nested objects and arrays flattened as
/// `parent[key]=value`; `null` values are left out. Keys named `vsn` at the top
/// level are skipped when `skip_vsn` (the socket appends its own).
std::string encode_params(const json_value& params, bool skip_vsn = false);

/// The WebSocket URL of a socket: endpoint + `/websocket` + `?params&vsn=V`;
/// `vsn` comes last and wins over a user-supplied one.
std::string websocket_url(const endpoint& ep, const json_value* params,
                          std::string_view vsn);

/// The long-poll URL of a socket (phoenix.js `LongPoll`): as `websocket_url`
/// with `http`/`https` for `ws`/`wss` and `/longpoll` for `/websocket`.
std::string longpoll_url(const endpoint& ep, const json_value* params,
                         std::string_view vsn);

/// The HTTP header that carries the auth token over long-poll (phoenix.js
/// `LongPoll`; Phoenix puts it in `connect_info`'s `auth_token`).
constexpr std::string_view auth_token_header = "X-Phoenix-AuthToken";

/// A URL with every query value replaced by `REDACTED` (except `vsn`): safe to log.
std::string redact_url(std::string_view url);

/// Parses a query string into a JSON object of strings (the server's
/// connect params; repeated keys: the last wins; `a[b]=c` nests).
result<json_document> parse_query(std::string_view query);

/// Standard base64 (alphabet `+/`), with or without `=` padding.
std::string base64_encode(std::string_view data, bool pad = true);

/// Decodes standard base64 with or without padding; an error for bad input.
result<std::string> base64_decode(std::string_view text);

/// The prefix of the auth token subprotocol.
constexpr std::string_view auth_token_prefix = "base64url.bearer.phx.";

/// The `Sec-WebSocket-Protocol` value carrying an auth token:
/// `phoenix, base64url.bearer.phx.<standard base64 without padding>`.
std::string auth_token_protocols(std::string_view token);

/// Finds and decodes the auth token in a `Sec-WebSocket-Protocol` value
/// (server side); empty when none is offered, an error when it is malformed.
result<std::optional<std::string>>
parse_auth_token_protocols(std::string_view header);

} // namespace phx::protocol
