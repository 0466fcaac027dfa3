#include "phx/protocol/url.hpp"

#include <cctype>
#include <cstring>
#include <vector>

namespace phx::protocol {

namespace {

error url_error(std::string what) {
  return make_error(errc::invalid_url, std::move(what));
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i]))
        != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string strip_trailing_slashes(std::string_view path) {
  while (!path.empty() && path.back() == '/')
    path.remove_suffix(1);
  return std::string{path};
}

std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5)
    return std::nullopt;
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value == 0 || value > 65535)
    return std::nullopt;
  return static_cast<uint16_t>(value);
}

bool valid_host(std::string_view host) {
  if (host.empty())
    return false;
  for (char c : host) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '/' || c == '?' || c == '#' || c == '@'
        || c == '[' || c == ']')
      return false;
  }
  return true;
}

bool valid_ipv6(std::string_view host) {
  if (host.empty())
    return false;
  for (char c : host)
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.'
        && c != '%')
      return false;
  return true;
}

bool valid_path_chars(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F)
      return false;
  }
  return true;
}

// Appends a scalar the way JavaScript's String() would print it.
void append_scalar(std::string& out, const json_value& v) {
  if (v.IsString()) {
    out += url_encode_component({v.GetString(), v.GetStringLength()});
  } else if (v.IsBool()) {
    out += v.GetBool() ? "true" : "false";
  } else if (v.IsInt64()) {
    out += std::to_string(v.GetInt64());
  } else if (v.IsUint64()) {
    out += std::to_string(v.GetUint64());
  } else if (v.IsNumber()) {
    auto text = to_json_string(v);
    out += text ? *text : std::string{"NaN"};
  }
}

void serialize_params(std::string& out, const json_value& v,
                      const std::string& parent, bool skip_vsn) {
  auto emit = [&](const std::string& key, const json_value& val) {
    if (val.IsNull())
      return;
    if (val.IsObject() || val.IsArray()) {
      serialize_params(out, val, key, false);
      return;
    }
    if (!out.empty())
      out += '&';
    out += url_encode_component(key);
    out += '=';
    append_scalar(out, val);
  };
  if (v.IsObject()) {
    for (auto& m : v.GetObject()) {
      std::string name{m.name.GetString(), m.name.GetStringLength()};
      if (skip_vsn && parent.empty() && name == "vsn")
        continue;
      emit(parent.empty() ? name : parent + '[' + name + ']', m.value);
    }
  } else if (v.IsArray()) {
    size_t i = 0;
    for (auto& item : v.GetArray()) {
      auto index = std::to_string(i++);
      emit(parent.empty() ? index : parent + '[' + index + ']', item);
    }
  }
}

constexpr char base64_alphabet[]
  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

} // namespace

// -- endpoint ------------------------------------------------------------------

std::string endpoint::authority() const {
  std::string out;
  bool v6 = host.find(':') != std::string::npos;
  if (v6)
    out += '[';
  out += host;
  if (v6)
    out += ']';
  out += ':';
  out += std::to_string(port);
  return out;
}

std::string endpoint::to_string() const {
  std::string out{scheme()};
  out += "://";
  out += authority();
  out += path.empty() ? "/" : path;
  if (!query.empty()) {
    out += '?';
    out += query;
  }
  return out;
}

bool operator==(const endpoint& a, const endpoint& b) {
  return a.tls == b.tls && a.host == b.host && a.port == b.port
         && a.path == b.path && a.query == b.query;
}

result<endpoint> parse_endpoint(std::string_view url) {
  endpoint ep;
  auto sep = url.find("://");
  if (sep == std::string_view::npos)
    return url_error("the endpoint has no scheme (expected ws://, wss://, http:// or https://)");
  auto scheme = url.substr(0, sep);
  if (iequals(scheme, "ws") || iequals(scheme, "http"))
    ep.tls = false;
  else if (iequals(scheme, "wss") || iequals(scheme, "https"))
    ep.tls = true;
  else
    return url_error("unknown scheme \"" + std::string{scheme}
                     + "\" (expected ws, wss, http or https)");
  auto rest = url.substr(sep + 3);
  if (auto hash = rest.find('#'); hash != std::string_view::npos)
    return url_error("the endpoint has a fragment (#...), which a socket URL cannot carry");
  auto slash = rest.find_first_of("/?");
  auto authority = rest.substr(0, slash);
  auto tail = slash == std::string_view::npos ? std::string_view{}
                                               : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos)
    return url_error("credentials in the endpoint URL are not supported; use params, headers or an auth token");
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return url_error("an IPv6 host misses its closing ']'");
    ep.host = std::string{authority.substr(1, close - 1)};
    if (!valid_ipv6(ep.host))
      return url_error("the IPv6 host is not valid");
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return url_error("unexpected text after the IPv6 host");
      port_text = after.substr(1);
      if (port_text.empty())
        return url_error("the port is empty");
    }
  } else {
    auto colon = authority.rfind(':');
    ep.host = std::string{authority.substr(0, colon)};
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty())
        return url_error("the port is empty");
    }
    if (ep.host.empty())
      return url_error("the endpoint has no host");
    // Else "ws://a:b:4000/s" gives host "a:b", which no URL can print back.
    if (ep.host.find(':') != std::string::npos)
      return url_error("an IPv6 host needs brackets, e.g. ws://[::1]:4000/socket");
    if (!valid_host(ep.host))
      return url_error("the host holds characters a host name cannot have");
  }
  if (!port_text.empty()) {
    auto port = parse_port(port_text);
    if (!port)
      return url_error("the port is not a number between 1 and 65535");
    ep.port = *port;
  } else {
    ep.port = ep.tls ? 443 : 80;
  }
  auto query_pos = tail.find('?');
  auto path = tail.substr(0, query_pos);
  if (query_pos != std::string_view::npos)
    ep.query = std::string{tail.substr(query_pos + 1)};
  if (path.empty())
    return url_error("the endpoint has no path (e.g. ws://host:4000/socket)");
  if (!valid_path_chars(path) || !valid_path_chars(ep.query))
    return url_error("the path or query holds spaces or control characters");
  ep.path = strip_trailing_slashes(path);
  return ep;
}

result<endpoint> make_endpoint(std::string_view host, std::string_view path,
                               std::optional<uint16_t> port, bool tls) {
  endpoint ep;
  ep.tls = tls;
  if (!host.empty() && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  ep.host = std::string{host};
  if (ep.host.empty())
    return url_error("the endpoint has no host");
  if (ep.host.find(':') != std::string::npos ? !valid_ipv6(ep.host)
                                             : !valid_host(ep.host))
    return url_error("the host holds characters a host name cannot have");
  if (path.empty())
    return url_error("the endpoint has no path (e.g. /socket)");
  if (!valid_path_chars(path) || path.find_first_of("?#") != std::string_view::npos)
    return url_error("the path holds characters a path cannot have");
  std::string full;
  if (path.front() != '/')
    full += '/';
  full += path;
  ep.path = strip_trailing_slashes(full);
  if (port && *port == 0)
    return url_error("the port is not a number between 1 and 65535");
  ep.port = port ? *port : (tls ? 443 : 80);
  return ep;
}

// -- URL encoding ----------------------------------------------------------------

std::string url_encode_component(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '!'
        || c == '~' || c == '*' || c == '\'' || c == '(' || c == ')') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 0xF]);
    }
  }
  return out;
}

result<std::string> url_decode_component(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= text.size())
        return url_error("a '%' escape is cut short");
      auto hi = text[i + 1];
      auto lo = text[i + 2];
      if (!std::isxdigit(static_cast<unsigned char>(hi))
          || !std::isxdigit(static_cast<unsigned char>(lo)))
        return url_error("a '%' escape is not followed by two hex digits");
      auto nibble = [](char h) {
        return h <= '9' ? h - '0' : (std::tolower(h) - 'a' + 10);
      };
      out.push_back(static_cast<char>(nibble(hi) * 16 + nibble(lo)));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string encode_params(const json_value& params, bool skip_vsn) {
  std::string out;
  serialize_params(out, params, std::string{}, skip_vsn);
  return out;
}

namespace {

// One transport's URL: endpoint + `/<transport>?<endpoint query>&<params>&vsn=V`
// (phoenix.js `endPointURL`, shared by both transports).
std::string transport_url(const endpoint& ep, std::string_view scheme,
                          std::string_view transport, const json_value* params,
                          std::string_view vsn) {
  std::string out{scheme};
  out += "://";
  out += ep.authority();
  out += ep.path;
  out += '/';
  out += transport;
  out += '?';
  if (!ep.query.empty()) {
    out += ep.query;
    out += '&';
  }
  if (params != nullptr) {
    auto query = encode_params(*params, true);
    if (!query.empty()) {
      out += query;
      out += '&';
    }
  }
  out += "vsn=";
  out += url_encode_component(vsn);
  return out;
}

} // namespace

std::string websocket_url(const endpoint& ep, const json_value* params,
                          std::string_view vsn) {
  return transport_url(ep, ep.scheme(), "websocket", params, vsn);
}

std::string longpoll_url(const endpoint& ep, const json_value* params,
                         std::string_view vsn) {
  return transport_url(ep, ep.tls ? "https" : "http", "longpoll", params, vsn);
}

std::string redact_url(std::string_view url) {
  auto q = url.find('?');
  if (q == std::string_view::npos)
    return std::string{url};
  std::string out{url.substr(0, q + 1)};
  auto query = url.substr(q + 1);
  bool first = true;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{}
                                          : query.substr(amp + 1);
    if (!first)
      out += '&';
    first = false;
    auto eq = pair.find('=');
    auto key = pair.substr(0, eq);
    out += key;
    if (eq != std::string_view::npos) {
      out += '=';
      out += key == "vsn" ? pair.substr(eq + 1) : std::string_view{"REDACTED"};
    }
  }
  return out;
}

result<json_document> parse_query(std::string_view query) {
  json_document doc;
  doc.SetObject();
  auto& alloc = doc.GetAllocator();
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{}
                                          : query.substr(amp + 1);
    if (pair.empty())
      continue;
    auto eq = pair.find('=');
    auto key = url_decode_component(pair.substr(0, eq));
    if (!key)
      return key.error();
    auto value = url_decode_component(
      eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!value)
      return value.error();
    if (!is_valid_utf8(*key) || !is_valid_utf8(*value))
      return url_error("a query parameter is not valid UTF-8");
    // Split "a[b][c]" into a path of keys.
    std::vector<std::string> path;
    auto open = key->find('[');
    path.emplace_back(key->substr(0, open));
    while (open != std::string::npos) {
      auto close = key->find(']', open);
      if (close == std::string::npos)
        break;
      path.emplace_back(key->substr(open + 1, close - open - 1));
      open = key->find('[', close);
    }
    json_value* node = &doc;
    for (size_t i = 0; i < path.size(); ++i) {
      auto& name = path[i];
      bool last = i + 1 == path.size();
      // A value key compares by length: a name holding "%00" must not match its prefix.
      json_value key_name{rapidjson::StringRef(name.data(), name.size())};
      auto it = node->FindMember(key_name);
      if (last) {
        json_value v;
        v.SetString(value->data(), static_cast<rapidjson::SizeType>(value->size()),
                    alloc);
        if (it != node->MemberEnd()) {
          it->value = v;
        } else {
          json_value k;
          k.SetString(name.data(), static_cast<rapidjson::SizeType>(name.size()), alloc);
          node->AddMember(k, v, alloc);
        }
      } else {
        if (it == node->MemberEnd()) {
          json_value k;
          k.SetString(name.data(), static_cast<rapidjson::SizeType>(name.size()), alloc);
          json_value obj{rapidjson::kObjectType};
          node->AddMember(k, obj, alloc);
          it = node->MemberEnd() - 1;
        } else if (!it->value.IsObject()) {
          it->value.SetObject();
        }
        node = &it->value;
      }
    }
  }
  return doc;
}

// -- base64 ----------------------------------------------------------------------

std::string base64_encode(std::string_view data, bool pad) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint8_t>(data[k]); };
  for (; i + 2 < data.size(); i += 3) {
    uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out.push_back(base64_alphabet[(n >> 18) & 63]);
    out.push_back(base64_alphabet[(n >> 12) & 63]);
    out.push_back(base64_alphabet[(n >> 6) & 63]);
    out.push_back(base64_alphabet[n & 63]);
  }
  auto left = data.size() - i;
  if (left == 1) {
    uint32_t n = byte(i) << 16;
    out.push_back(base64_alphabet[(n >> 18) & 63]);
    out.push_back(base64_alphabet[(n >> 12) & 63]);
    if (pad)
      out += "==";
  } else if (left == 2) {
    uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8);
    out.push_back(base64_alphabet[(n >> 18) & 63]);
    out.push_back(base64_alphabet[(n >> 12) & 63]);
    out.push_back(base64_alphabet[(n >> 6) & 63]);
    if (pad)
      out.push_back('=');
  }
  return out;
}

result<std::string> base64_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=')
    text.remove_suffix(1);
  if (text.size() % 4 == 1)
    return make_error(errc::invalid_field, "base64 text has an impossible length");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = base64_value(c);
    if (v < 0)
      return make_error(errc::invalid_field,
                        "base64 text holds a character outside A-Z a-z 0-9 + /");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::string auth_token_protocols(std::string_view token) {
  std::string out = "phoenix, ";
  out += auth_token_prefix;
  out += base64_encode(token, false);
  return out;
}

result<std::optional<std::string>>
parse_auth_token_protocols(std::string_view header) {
  while (!header.empty()) {
    auto comma = header.find(',');
    auto item = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{}
                                             : header.substr(comma + 1);
    if (item.substr(0, auth_token_prefix.size()) == auth_token_prefix) {
      auto token = base64_decode(item.substr(auth_token_prefix.size()));
      if (!token)
        return token.error();
      return std::optional<std::string>{std::move(*token)};
    }
  }
  return std::optional<std::string>{};
}

} // namespace phx::protocol
