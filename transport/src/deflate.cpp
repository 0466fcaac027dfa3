#include "deflate.hpp"

#include <algorithm>
#include <cctype>
#include <climits>
#include <vector>

#include <websocketpp/processors/base.hpp>

#include <zlib.h>

namespace phx::transport::detail {

namespace {

// -- the answer's grammar (RFC 6455 9.1, RFC 7230 3.2.6) ------------------------

bool is_tchar(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) != 0
         || std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

/// Splits at `sep` outside quoted strings; false on an unterminated quote.
bool split(std::string_view s, char sep, std::vector<std::string_view>& out) {
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (quoted) {
      if (s[i] == '\\')
        ++i;
      else if (s[i] == '"')
        quoted = false;
    } else if (s[i] == '"') {
      quoted = true;
    } else if (s[i] == sep) {
      out.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (quoted)
    return false;
  out.push_back(trim(s.substr(start)));
  return true;
}

/// A parameter value: a token or a quoted string (unescaped); false if neither.
bool param_value(std::string_view raw, std::string& out) {
  if (raw.size() >= 2 && raw.front() == '"' && raw.back() == '"') {
    out.clear();
    for (size_t i = 1; i + 1 < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 2 < raw.size())
        ++i;
      out += raw[i];
    }
    // RFC 7692 7.1: a quoted value must still be a token once unquoted.
    return is_token(out);
  }
  out.assign(raw);
  return is_token(raw);
}

/// RFC 7692 7.1.2: `%x38-39 / "1" %x30-35`, i.e. 8..15 without leading zeros.
bool window_bits(const std::string& value, uint8_t& bits) {
  if (value.size() == 1 && (value[0] == '8' || value[0] == '9')) {
    bits = static_cast<uint8_t>(value[0] - '0');
    return true;
  }
  if (value.size() == 2 && value[0] == '1' && value[1] >= '0' && value[1] <= '5') {
    bits = static_cast<uint8_t>(10 + value[1] - '0');
    return true;
  }
  return false;
}

deflate_answer invalid(std::string why) {
  deflate_answer a;
  a.error = std::move(why);
  return a;
}

/// Reads the parameters of the one permessage-deflate element.
deflate_answer read_params(const std::vector<std::string_view>& parts) {
  deflate_answer a;
  a.accepted = true;
  bool seen[4] = {false, false, false, false};
  static constexpr std::string_view names[4] = {
    "server_no_context_takeover", "client_no_context_takeover",
    "server_max_window_bits", "client_max_window_bits"};
  for (size_t i = 1; i < parts.size(); ++i) {
    auto part = parts[i];
    auto eq = part.find('=');
    auto name = trim(part.substr(0, eq));
    bool has_value = eq != std::string_view::npos;
    std::string value;
    if (has_value && !param_value(trim(part.substr(eq + 1)), value))
      return invalid("malformed value of parameter " + std::string{name});
    auto known = std::find(std::begin(names), std::end(names), name);
    if (known == std::end(names))
      return invalid(is_token(name) ? "unknown parameter " + std::string{name}
                                    : std::string{"malformed parameter"});
    auto idx = static_cast<size_t>(known - std::begin(names));
    if (seen[idx])
      return invalid("parameter " + std::string{name} + " given twice");
    seen[idx] = true;
    switch (idx) {
      case 0:
      case 1:
        if (has_value)
          return invalid("parameter " + std::string{name} + " takes no value");
        (idx == 0 ? a.params.server_no_context_takeover
                  : a.params.client_no_context_takeover) = true;
        break;
      default: {
        // In an answer both window sizes carry a value (RFC 7692 7.1.2).
        auto& bits = idx == 2 ? a.params.server_max_window_bits
                              : a.params.client_max_window_bits;
        if (!has_value || !window_bits(value, bits))
          return invalid("parameter " + std::string{name} + " must be 8..15");
      }
    }
  }
  return a;
}

} // namespace

std::string deflate_offer() {
  return "permessage-deflate; client_max_window_bits";
}

deflate_answer parse_deflate_answer(std::string_view header, bool offered) {
  header = trim(header);
  if (header.empty())
    return {};
  std::vector<std::string_view> elements;
  if (!split(header, ',', elements))
    return invalid("malformed Sec-WebSocket-Extensions (unterminated quote)");
  deflate_answer result;
  for (auto element : elements) {
    // An empty list element is allowed by the #rule and means nothing.
    if (element.empty())
      continue;
    std::vector<std::string_view> parts;
    split(element, ';', parts);
    auto name = parts.front();
    if (!is_token(name))
      return invalid("malformed Sec-WebSocket-Extensions");
    if (name != "permessage-deflate")
      return invalid("the server answered with extension " + std::string{name}
                     + ", which was not offered");
    if (!offered)
      return invalid("the server answered with permessage-deflate, which was not offered");
    if (result.accepted)
      return invalid("the server answered with permessage-deflate twice");
    result = read_params(parts);
    if (!result.error.empty())
      return result;
  }
  return result;
}

std::string to_string(const deflate_params& p) {
  std::string out = "permessage-deflate";
  if (p.server_no_context_takeover)
    out += "; server_no_context_takeover";
  if (p.client_no_context_takeover)
    out += "; client_no_context_takeover";
  out += "; server_max_window_bits=" + std::to_string(p.server_max_window_bits);
  out += "; client_max_window_bits=" + std::to_string(p.client_max_window_bits);
  return out;
}

// -- deflater -----------------------------------------------------------------------

struct deflater::impl {
  z_stream z{};
  int bits;
  bool no_context_takeover;
  bool ready = false;
  bool broken = false;

  ~impl() {
    if (ready)
      deflateEnd(&z);
  }
};

deflater::deflater(int window_bits, bool no_context_takeover)
  : impl_(std::make_unique<impl>()) {
  impl_->bits = window_bits;
  impl_->no_context_takeover = no_context_takeover;
}

deflater::~deflater() = default;

bool deflater::compress(std::string_view in, std::string& out) {
  auto& s = *impl_;
  if (s.broken)
    return false;
  if (!s.ready) {
    // memLevel 8: zlib's default; 128 KiB of hash chains beside the window.
    if (deflateInit2(&s.z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -s.bits, 8,
                     Z_DEFAULT_STRATEGY)
        != Z_OK) {
      s.broken = true;
      return false;
    }
    s.ready = true;
  }
  out.clear();
  // Room for the worst case plus the flush marker; grown if ever short.
  out.resize(deflateBound(&s.z, static_cast<uLong>(in.size())) + 16);
  size_t written = 0;
  auto rest = in;
  // zlib counts in 32 bits: feed at most 1 GiB per call.
  constexpr size_t max_chunk = size_t{1} << 30;
  do {
    auto chunk = std::min(rest.size(), max_chunk);
    s.z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(rest.data()));
    s.z.avail_in = static_cast<uInt>(chunk);
    rest.remove_prefix(chunk);
    auto flush = rest.empty() ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    for (;;) {
      if (out.size() - written < 64)
        out.resize(out.size() * 2);
      auto room = std::min(out.size() - written, max_chunk);
      s.z.next_out = reinterpret_cast<Bytef*>(out.data() + written);
      s.z.avail_out = static_cast<uInt>(room);
      auto rc = ::deflate(&s.z, flush);
      written += room - s.z.avail_out;
      // Z_BUF_ERROR with input and room left would mean no progress: never loop.
      if ((rc != Z_OK && rc != Z_BUF_ERROR)
          || (rc == Z_BUF_ERROR && s.z.avail_in != 0 && s.z.avail_out != 0)) {
        s.broken = true;
        return false;
      }
      // Done with this chunk once it is consumed and, at the end, flushed.
      if (s.z.avail_in == 0 && s.z.avail_out != 0)
        break;
    }
  } while (!rest.empty());
  out.resize(written);
  // RFC 7692 7.2.1: the sync flush ends with 0x00 0x00 0xff 0xff; drop it.
  static constexpr char tail[4] = {'\x00', '\x00', '\xff', '\xff'};
  if (out.size() < 4 || !std::equal(tail, tail + 4, out.end() - 4)) {
    s.broken = true;
    return false;
  }
  out.resize(out.size() - 4);
  if (s.no_context_takeover && deflateReset(&s.z) != Z_OK) {
    s.broken = true;
    return false;
  }
  return true;
}

// -- inflater -----------------------------------------------------------------------

struct inflater::impl {
  z_stream z{};
  int bits;
  bool ready = false;

  ~impl() {
    if (ready)
      inflateEnd(&z);
  }

  /// The peer ended its DEFLATE stream (BFINAL, RFC 7692 7.2.3.4): the next
  /// block starts a new stream that may still refer to the old window.
  bool restart_keeping_window() {
    std::vector<Bytef> dict(size_t{1} << 15);
    auto n = static_cast<uInt>(dict.size());
    if (inflateGetDictionary(&z, dict.data(), &n) != Z_OK)
      return false;
    return inflateReset(&z) == Z_OK
           && (n == 0 || inflateSetDictionary(&z, dict.data(), n) == Z_OK);
  }
};

inflater::inflater(int window_bits, size_t max_message_size)
  : impl_(std::make_unique<impl>()), max_(max_message_size) {
  // zlib's deflate turns a window of 8 into 9 (and refuses 8 for raw
  // streams); a peer announcing 8 may well send 9.
  impl_->bits = std::max(window_bits, 9);
}

inflater::~inflater() = default;

inflater::status inflater::inflate(const uint8_t* data, size_t len, std::string& out) {
  auto& s = *impl_;
  if (!s.ready) {
    if (inflateInit2(&s.z, -s.bits) != Z_OK)
      return status::corrupt;
    s.ready = true;
  }
  // One byte past the cap proves a message too big: no more is ever made.
  auto limit = max_ == SIZE_MAX ? max_ : max_ + 1;
  constexpr size_t step = 16 * 1024;
  constexpr size_t max_chunk = size_t{1} << 30;
  while (len > 0 || s.z.avail_in > 0) {
    if (s.z.avail_in == 0) {
      auto chunk = std::min(len, max_chunk);
      s.z.next_in = const_cast<Bytef*>(data);
      s.z.avail_in = static_cast<uInt>(chunk);
      data += chunk;
      len -= chunk;
    }
    for (;;) {
      auto old = out.size();
      if (old >= limit)
        return status::too_big;
      // Grow geometrically but never past the cap: memory stays bounded.
      if (out.capacity() - old < step)
        out.reserve(std::min(limit, std::max(out.capacity() * 2, old + step)));
      auto room = std::min({limit - old, out.capacity() - old, max_chunk});
      out.resize(old + room);
      s.z.next_out = reinterpret_cast<Bytef*>(out.data() + old);
      s.z.avail_out = static_cast<uInt>(room);
      auto rc = ::inflate(&s.z, Z_SYNC_FLUSH);
      out.resize(old + room - s.z.avail_out);
      if (rc == Z_STREAM_END) {
        if (!s.restart_keeping_window())
          return status::corrupt;
      } else if (rc == Z_BUF_ERROR) {
        // No progress possible: all input used and all output flushed.
        if (s.z.avail_in == 0)
          break;
        // Input and room left, yet no progress: never loop on it.
        if (s.z.avail_out != 0)
          return status::corrupt;
      } else if (rc != Z_OK) {
        return status::corrupt;
      }
      if (out.size() >= limit)
        return status::too_big;
      if (s.z.avail_in == 0 && s.z.avail_out != 0)
        break;
    }
  }
  return status::ok;
}

// -- session --------------------------------------------------------------------------

std::string deflate_session::configure(const deflate_params& params) {
  in = std::make_unique<inflater>(params.server_max_window_bits, max_message_size);
  // zlib refuses a raw window of 256 bytes: send uncompressed instead, which
  // RFC 7692 always allows.
  if (params.client_max_window_bits < 9) {
    out.reset();
    return "client_max_window_bits=8 cannot be honoured by zlib; outbound "
           "messages go uncompressed";
  }
  out = std::make_unique<deflater>(params.client_max_window_bits,
                                   params.client_no_context_takeover);
  return {};
}

// -- extension --------------------------------------------------------------------------

namespace {

/// The session of the connection whose processor is being created on this
/// thread (set by its tcp_post_init handler right before).
thread_local std::weak_ptr<deflate_session> handed_over;

} // namespace

deflate_extension::deflate_extension() : session_(handed_over.lock()) {
  handed_over.reset();
}

void deflate_extension::hand_over(std::weak_ptr<deflate_session> session) {
  handed_over = std::move(session);
}

deflate_extension::err_str_pair
deflate_extension::negotiate(const websocketpp::http::attribute_list&) {
  namespace pe = websocketpp::processor::error;
  if (!session_)
    return {pe::make_error_code(pe::extensions_disabled), std::string{}};
  return {};
}

websocketpp::lib::error_code deflate_extension::init(bool) {
  enabled_ = true;
  session_->negotiated = true;
  return {};
}

std::string deflate_extension::generate_offer() const {
  return session_ ? deflate_offer() : std::string{};
}

websocketpp::lib::error_code deflate_extension::compress(const std::string&,
                                                         std::string&) {
  namespace pe = websocketpp::processor::error;
  return pe::make_error_code(pe::not_implemented);
}

websocketpp::lib::error_code
deflate_extension::decompress(const uint8_t* buf, size_t len, std::string& out) {
  namespace pe = websocketpp::processor::error;
  if (!session_ || !session_->in) {
    // Only an answer we refused leaves no inflater; its connection is failing.
    return pe::make_error_code(pe::protocol_violation);
  }
  switch (session_->in->inflate(buf, len, out)) {
    case inflater::status::ok:
      return {};
    case inflater::status::too_big:
      session_->refused = "a compressed message inflates past max_frame_size ("
                          + std::to_string(session_->in->max_message_size())
                          + " bytes); refused after " + std::to_string(out.size())
                          + " bytes";
      // Freed now: the refused message's buffer must not outlive the refusal.
      std::string{}.swap(out);
      return pe::make_error_code(pe::message_too_big);
    case inflater::status::corrupt:
    default:
      session_->refused = "a compressed message is not valid DEFLATE";
      return pe::make_error_code(pe::invalid_payload);
  }
}

} // namespace phx::transport::detail
