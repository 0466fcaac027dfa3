#include "phx/actors/logger.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <unistd.h>

namespace phx {

logger::logger(log_level level, log_sink sink)
  : level_(level),
    sink_(sink ? std::make_shared<const log_sink>(std::move(sink)) : nullptr) {
  // nop
}

log_sink logger::stderr_sink() {
  return [](log_level level, std::string_view component, std::string_view text) {
    using namespace std::chrono;
    auto now = system_clock::now();
    auto secs = system_clock::to_time_t(now);
    auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char stamp[32];
    std::snprintf(stamp, sizeof(stamp), "%02d:%02d:%02d.%03d", tm.tm_hour,
                  tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    std::string line;
    line.reserve(text.size() + component.size() + 32);
    line += stamp;
    line += ' ';
    line += protocol::to_string(level);
    line += " [";
    line += component;
    line += "] ";
    line += text;
    line += '\n';
    // One write(2) per line keeps lines whole across threads.
    auto rc = ::write(STDERR_FILENO, line.data(), line.size());
    (void) rc;
  };
}

void logger::log(log_level level, std::string_view component,
                 std::string_view text) const {
  if (enabled(level))
    (*sink_)(level, component, text);
}

log_sink logger::as_sink() const {
  if (!sink_ || level_ == log_level::off)
    return {};
  return [self = *this](log_level level, std::string_view component,
                        std::string_view text) { self.log(level, component, text); };
}

} // namespace phx
