// Fuzz target: building and reading connection URLs and headers. The same
// input is tried as an endpoint URL, as JSON params, as a query string, as
// base64, as a Sec-WebSocket-Protocol header and as a vsn. Invariants beyond
// "no crash":
// - an accepted endpoint prints as a URL that parses back to the same endpoint,
//   and its websocket URL is that endpoint + /websocket?...&vsn=V;
// - params encode to URL-safe text that parse_query reads back to the same
//   tree of strings (what Phoenix's connect/3 receives);
// - url_decode_component undoes url_encode_component; base64 and the auth
//   token subprotocol round trip; decoders refuse with a sentence.
#include <cstddef>
#include <cstdint>
#include <cctype>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "phx/protocol/json.hpp"
#include "phx/protocol/serializer.hpp"
#include "phx/protocol/url.hpp"

using namespace phx::protocol;
using phx_fuzz::same_json;

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool url_safe(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || std::strchr("-_.!~*'()%=&", c) != nullptr) || u >= 0x80)
      return false;
  }
  return true;
}

// -- endpoints -----------------------------------------------------------------

void check_endpoint(std::string_view input, const json_value* params) {
  auto ep = parse_endpoint(input);
  if (!ep) {
    PHX_FUZZ_CHECK(ep.error().code == errc::invalid_url && phx_fuzz::well_formed(ep.error()),
                   ep.error().to_string());
    return;
  }
  PHX_FUZZ_CHECK(!ep->host.empty() && ep->port != 0, "an endpoint without host or port");
  PHX_FUZZ_CHECK(ep->path.empty() || (ep->path.front() == '/' && ep->path.back() != '/'),
                 "the path does not start with '/' or ends with one: " + ep->path);
  auto printed = ep->to_string();
  auto back = parse_endpoint(printed);
  PHX_FUZZ_CHECK(back.has_value(), "the printed endpoint does not parse: " + printed);
  PHX_FUZZ_CHECK(*back == *ep, "the printed endpoint parses differently: " + printed);
  auto made = make_endpoint(ep->host, ep->path.empty() ? "/" : ep->path, ep->port, ep->tls);
  if (ep->query.empty())
    PHX_FUZZ_CHECK(made && made->to_string() == printed,
                   "make_endpoint disagrees with parse_endpoint: " + printed);

  for (std::string_view vsn : {vsn_2, vsn_1}) {
    auto url = websocket_url(*ep, params, vsn);
    auto prefix = std::string{ep->scheme()} + "://" + ep->authority() + ep->path + "/websocket?";
    PHX_FUZZ_CHECK(url.rfind(prefix, 0) == 0, "the websocket URL misses its endpoint: " + url);
    PHX_FUZZ_CHECK(ends_with(url, "&vsn=" + std::string{vsn}) || url == prefix + "vsn=" + std::string{vsn},
                   "vsn is not last: " + url);
    auto ws = parse_endpoint(url);
    PHX_FUZZ_CHECK(ws && ws->host == ep->host && ws->port == ep->port && ws->tls == ep->tls
                     && ws->path == ep->path + "/websocket",
                   "the websocket URL does not parse back: " + url);
    auto redacted = redact_url(url);
    PHX_FUZZ_CHECK(ends_with(redacted, "vsn=" + std::string{vsn}),
                   "redact_url hid the vsn: " + redacted);
    PHX_FUZZ_CHECK(redact_url(redacted) == redacted, "redact_url is not idempotent");
  }
}

// -- params --------------------------------------------------------------------

// What parse_query makes of encode_params' output: scalars as strings, arrays
// as objects keyed by index, later keys winning, nested keys merging.
void set_path(json_document& doc, const std::vector<std::string>& path, const std::string& value) {
  auto& alloc = doc.GetAllocator();
  json_value* node = &doc;
  for (size_t i = 0; i < path.size(); ++i) {
    auto& name = path[i];
    // By value: a const char* lookup would stop at a NUL inside the name.
    auto it = node->FindMember(json_value{rapidjson::StringRef(name.data(), name.size())});
    if (it == node->MemberEnd()) {
      json_value k{name.data(), static_cast<rapidjson::SizeType>(name.size()), alloc};
      json_value v{rapidjson::kObjectType};
      node->AddMember(k, v, alloc);
      it = node->MemberEnd() - 1;
    }
    if (i + 1 == path.size())
      it->value.SetString(value.data(), static_cast<rapidjson::SizeType>(value.size()), alloc);
    else if (!it->value.IsObject())
      it->value.SetObject();
    node = &it->value;
  }
}

// Splits a flattened key `a[b][c]` (no brackets inside names) into its names.
std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> path;
  auto open = key.find('[');
  path.push_back(key.substr(0, open));
  while (open != std::string::npos) {
    auto close = key.find(']', open);
    path.push_back(key.substr(open + 1, close - open - 1));
    open = key.find('[', close);
  }
  return path;
}

// Flattens like phoenix.js `serialize` (an empty parent key counts as none)
// into `doc`; false if a key holds a bracket, which the flattening cannot carry.
bool expected_query(json_document& doc, const json_value& v, const std::string& parent,
                    bool top) {
  auto child = [&](std::string name) {
    return parent.empty() ? name : parent + '[' + name + ']';
  };
  if (v.IsObject()) {
    for (auto& m : v.GetObject()) {
      std::string name{m.name.GetString(), m.name.GetStringLength()};
      if (name.find_first_of("[]") != std::string::npos)
        return false;
      if (top && name == "vsn")
        continue;
      if (!expected_query(doc, m.value, child(name), false))
        return false;
    }
    return true;
  }
  if (v.IsArray()) {
    size_t i = 0;
    for (auto& item : v.GetArray())
      if (!expected_query(doc, item, child(std::to_string(i++)), false))
        return false;
    return true;
  }
  if (v.IsNull() || top)
    return true;
  std::string text;
  if (v.IsString())
    text.assign(v.GetString(), v.GetStringLength());
  else if (v.IsBool())
    text = v.GetBool() ? "true" : "false";
  else if (v.IsInt64())
    text = std::to_string(v.GetInt64());
  else if (v.IsUint64())
    text = std::to_string(v.GetUint64());
  else
    text = *to_json_string(v);
  set_path(doc, split_key(parent), text);
  return true;
}

void check_params(const json_value& params) {
  auto query = encode_params(params, true);
  PHX_FUZZ_CHECK(url_safe(query), "encode_params left unsafe characters: " + query);
  auto parsed = parse_query(query);
  PHX_FUZZ_CHECK(parsed.has_value(), "parse_query refused encode_params' output: " + query);
  json_document expected;
  expected.SetObject();
  if (expected_query(expected, params, std::string{}, true))
    PHX_FUZZ_CHECK(same_json(*parsed, expected),
                   "parse_query(encode_params(p)) differs from p: " + query);
  PHX_FUZZ_CHECK(encode_params(params, false).size() >= query.size(),
                 "skipping vsn made the query longer");
}

// -- query, escapes, base64, auth token, vsn --------------------------------------

void check_query(std::string_view input) {
  auto parsed = parse_query(input);
  if (!parsed) {
    PHX_FUZZ_CHECK(phx_fuzz::well_formed(parsed.error()), parsed.error().to_string());
    return;
  }
  PHX_FUZZ_CHECK(parsed->IsObject(), "parse_query did not make an object");
  PHX_FUZZ_CHECK(to_json_string(*parsed).has_value(), "parse_query made invalid UTF-8");
  // Its output is params too: they encode and read back the same.
  check_params(*parsed);
}

void check_escapes(std::string_view input) {
  auto encoded = url_encode_component(input);
  PHX_FUZZ_CHECK(url_safe(encoded) && encoded.find_first_of("=&") == std::string::npos,
                 "url_encode_component left unsafe characters");
  auto decoded = url_decode_component(encoded);
  PHX_FUZZ_CHECK(decoded && *decoded == input, "url_decode_component(url_encode_component(x)) != x");
  auto raw = url_decode_component(input);
  if (!raw)
    PHX_FUZZ_CHECK(raw.error().code == errc::invalid_url && phx_fuzz::well_formed(raw.error()),
                   raw.error().to_string());
}

void check_base64(std::string_view input) {
  for (bool pad : {true, false}) {
    auto encoded = base64_encode(input, pad);
    PHX_FUZZ_CHECK(encoded.size() == (pad ? (input.size() + 2) / 3 * 4
                                          : (input.size() * 4 + 2) / 3),
                   "base64_encode length");
    auto decoded = base64_decode(encoded);
    PHX_FUZZ_CHECK(decoded && *decoded == input, "base64_decode(base64_encode(x)) != x");
  }
  auto decoded = base64_decode(input);
  if (!decoded) {
    PHX_FUZZ_CHECK(phx_fuzz::well_formed(decoded.error()), decoded.error().to_string());
    return;
  }
  auto data_chars = input.substr(0, input.find_last_not_of('=') + 1).size();
  PHX_FUZZ_CHECK(decoded->size() == data_chars * 6 / 8, "base64_decode length");
  auto canonical = base64_decode(base64_encode(*decoded, false));
  PHX_FUZZ_CHECK(canonical && *canonical == *decoded, "base64 does not round trip its own output");
}

void check_auth_token(std::string_view input) {
  auto header = auth_token_protocols(input);
  PHX_FUZZ_CHECK(header.rfind("phoenix, ", 0) == 0, "the auth header does not offer phoenix");
  PHX_FUZZ_CHECK(header.find('=') == std::string::npos, "the auth token kept its padding");
  auto token = parse_auth_token_protocols(header);
  PHX_FUZZ_CHECK(token && *token && **token == input, "the auth token does not round trip");
  auto offered = parse_auth_token_protocols(input);
  if (!offered) {
    PHX_FUZZ_CHECK(phx_fuzz::well_formed(offered.error()), offered.error().to_string());
  } else if (*offered) {
    auto again = parse_auth_token_protocols(auth_token_protocols(**offered));
    PHX_FUZZ_CHECK(again && *again && **again == **offered, "a parsed auth token does not round trip");
  }
}

void check_vsn(std::string_view input) {
  for (role r : {role::client, role::server}) {
    auto ser = make_serializer(input, r);
    if (!ser) {
      PHX_FUZZ_CHECK(ser.error().code == errc::unsupported_vsn
                       && phx_fuzz::well_formed(ser.error()),
                     ser.error().to_string());
      continue;
    }
    auto vsn = (*ser)->vsn();
    PHX_FUZZ_CHECK(vsn == vsn_1 || vsn == vsn_2, "make_serializer made an unknown vsn");
    PHX_FUZZ_CHECK(input.size() >= 5 && input[0] == vsn[0] && input.substr(1, 3) == ".0.",
                   "make_serializer accepted a vsn of another major version");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = phx_fuzz::text_of(data, size);
  // `<endpoint>\n<params JSON>` feeds websocket_url; each part is also tried alone.
  auto nl = input.find('\n');
  auto url_part = std::string_view{input}.substr(0, nl);
  auto json = parse_json(nl == std::string::npos ? std::string_view{input}
                                                 : std::string_view{input}.substr(nl + 1));
  const json_value* params = json ? json->get() : nullptr;
  check_endpoint(url_part, params);
  if (params != nullptr)
    check_params(*params);
  check_query(input);
  check_escapes(input);
  check_base64(input);
  check_auth_token(input);
  check_vsn(input);
  return 0;
}
