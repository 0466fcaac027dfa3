#pragma once

// Faults at given times through the server's admin endpoints (phx-server's
// /admin/disconnect_all, /admin/kill_all, ...: tools/phx-server/admin.cpp).

#include <string>

namespace phx::fleet {

/// The result of one plain HTTP GET.
struct http_result {
  int status = 0;     ///< 0 when no response came
  std::string error;  ///< why, when status is 0
};

/// GETs `base + path` (`base` like `http://127.0.0.1:4000`), waiting at most
/// `timeout_ms`; plain HTTP only.
http_result http_get(const std::string& base, const std::string& path, int timeout_ms = 5000);

} // namespace phx::fleet
