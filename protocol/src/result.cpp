#include "phx/protocol/result.hpp"

namespace phx::protocol {

const char* to_string(errc code) noexcept {
  switch (code) {
    case errc::empty_frame: return "empty_frame";
    case errc::invalid_json: return "invalid_json";
    case errc::invalid_utf8: return "invalid_utf8";
    case errc::too_deep: return "too_deep";
    case errc::wrong_shape: return "wrong_shape";
    case errc::invalid_field: return "invalid_field";
    case errc::unknown_kind: return "unknown_kind";
    case errc::truncated: return "truncated";
    case errc::field_too_long: return "field_too_long";
    case errc::unsupported: return "unsupported";
    case errc::unsupported_vsn: return "unsupported_vsn";
    case errc::invalid_url: return "invalid_url";
    case errc::invalid_presence: return "invalid_presence";
  }
  return "unknown";
}

std::string error::to_string() const {
  std::string out = phx::protocol::to_string(code);
  out += ": ";
  out += what;
  return out;
}

} // namespace phx::protocol
