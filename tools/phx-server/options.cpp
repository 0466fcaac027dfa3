#include "options.hpp"

#include <charconv>
#include <string_view>

namespace phx_server {

namespace {

template <class T>
bool parse_number(std::string_view text, T& out, T min, T max) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < min
      || value > max)
    return false;
  out = value;
  return true;
}

} // namespace

const char* usage_line() noexcept {
  return "usage: phx-server [--host 127.0.0.1] [--port 4000] [--tls-cert F "
         "--tls-key F] [--idle-timeout-ms 60000] [--longpoll-window-ms 10000] "
         "[--longpoll-timeout-ms 15000] [--max-channels 100] [--log-level info]";
}

std::variant<options, usage_request, std::string> parse_options(int argc,
                                                                char** argv) {
  options opts;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help")
      return usage_request{usage_line()};
    // Every option takes a value, as `--name value` or `--name=value`.
    std::string_view name = arg;
    std::string_view value;
    bool has_value = false;
    if (auto eq = arg.find('='); arg.substr(0, 2) == "--" && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    auto known = name == "--host" || name == "--port" || name == "--tls-cert"
                 || name == "--tls-key" || name == "--idle-timeout-ms"
                 || name == "--max-channels" || name == "--log-level"
                 || name == "--longpoll-window-ms" || name == "--longpoll-timeout-ms";
    if (!known)
      return "phx-server: unknown argument '" + std::string{arg} + "' (try --help)";
    if (!has_value) {
      if (i + 1 >= argc)
        return "phx-server: " + std::string{name} + " needs a value";
      value = argv[++i];
    }
    if (name == "--host") {
      if (value.empty())
        return std::string{"phx-server: --host needs a non-empty address"};
      opts.host = std::string{value};
    } else if (name == "--port") {
      if (!parse_number<uint16_t>(value, opts.port, 0, 65535))
        return "phx-server: --port must be 0..65535, got '" + std::string{value} + "'";
    } else if (name == "--tls-cert") {
      opts.tls_cert = std::string{value};
    } else if (name == "--tls-key") {
      opts.tls_key = std::string{value};
    } else if (name == "--idle-timeout-ms") {
      int64_t ms = 0;
      if (!parse_number<int64_t>(value, ms, 1, int64_t{24} * 3600 * 1000))
        return "phx-server: --idle-timeout-ms must be 1..86400000, got '"
               + std::string{value} + "'";
      opts.idle_timeout = std::chrono::milliseconds{ms};
    } else if (name == "--longpoll-window-ms" || name == "--longpoll-timeout-ms") {
      int64_t ms = 0;
      if (!parse_number<int64_t>(value, ms, 1, int64_t{3600} * 1000))
        return "phx-server: " + std::string{name} + " must be 1..3600000, got '"
               + std::string{value} + "'";
      (name == "--longpoll-window-ms" ? opts.longpoll_window : opts.longpoll_timeout)
        = std::chrono::milliseconds{ms};
    } else if (name == "--max-channels") {
      if (!parse_number<size_t>(value, opts.max_channels, 0, 1000000))
        return "phx-server: --max-channels must be 0..1000000, got '"
               + std::string{value} + "'";
    } else if (name == "--log-level") {
      auto level = phx::protocol::parse_log_level(value);
      if (!level)
        return "phx-server: --log-level must be trace, debug, info, warning, "
               "error or off, got '"
               + std::string{value} + "'";
      opts.log_level = *level;
    }
  }
  if (opts.tls_cert.empty() != opts.tls_key.empty())
    return std::string{"phx-server: --tls-cert and --tls-key go together"};
  return opts;
}

} // namespace phx_server
