#include "progress/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace phx::fleet {

std::string json_number(double v) {
  if (!std::isfinite(v))
    return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

namespace {

std::string opt_ms(const std::optional<double>& v) {
  if (!v)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", *v);
  return buf;
}

std::string opt_json(const std::optional<double>& v) {
  return v ? json_number(*v) : "null";
}

} // namespace

progress::progress(std::FILE* human, std::FILE* events, double length_s, uint64_t target_users)
  : human_(human), events_(events), tty_(human && ::isatty(::fileno(human)) == 1),
    length_s_(length_s), target_(target_users) {
}

void progress::second(const second_row& r, const std::string& phase, uint64_t errors_total) {
  if (events_) {
    std::fprintf(events_,
                 "{\"type\":\"second\",\"t_s\":%s,\"phase\":%s,\"users_connecting\":%lld,"
                 "\"users_open\":%lld,\"users_joined\":%lld,\"pushes_sent\":%llu,"
                 "\"replies_ok\":%llu,\"replies_error\":%llu,\"timeouts\":%llu,\"failed\":%llu,"
                 "\"errors\":%llu,\"push_p50_ms\":%s,\"push_p90_ms\":%s,\"push_p99_ms\":%s,"
                 "\"push_max_ms\":%s,\"join_p99_ms\":%s,\"lag_p99_ms\":%s,\"presence\":%lld}\n",
                 json_number(r.t_s).c_str(), json_string(phase).c_str(),
                 (long long) r.users_connecting, (long long) r.users_open,
                 (long long) r.users_joined, (unsigned long long) r.pushes_sent,
                 (unsigned long long) r.replies_ok, (unsigned long long) r.replies_error,
                 (unsigned long long) r.timeouts, (unsigned long long) r.failed,
                 (unsigned long long) r.errors, opt_json(r.push_p50_ms).c_str(),
                 opt_json(r.push_p90_ms).c_str(), opt_json(r.push_p99_ms).c_str(),
                 opt_json(r.push_max_ms).c_str(), opt_json(r.join_p99_ms).c_str(),
                 opt_json(r.lag_p99_ms).c_str(), (long long) r.presence);
    std::fflush(events_);
  }
  if (!human_)
    return;
  auto left = std::max(0.0, length_s_ - r.t_s);
  if (!tty_) {
    std::fprintf(human_,
                 "t=%.0fs %s users %lld/%lld/%lld (connecting/open/joined) push %llu/s "
                 "ok %llu err %llu p50 %s p99 %s ms errors %llu (total %llu) lag p99 %s ms\n",
                 r.t_s, phase.c_str(), (long long) r.users_connecting, (long long) r.users_open,
                 (long long) r.users_joined, (unsigned long long) r.pushes_sent,
                 (unsigned long long) r.replies_ok,
                 (unsigned long long) (r.replies_error + r.timeouts + r.failed),
                 opt_ms(r.push_p50_ms).c_str(), opt_ms(r.push_p99_ms).c_str(),
                 (unsigned long long) r.errors, (unsigned long long) errors_total,
                 opt_ms(r.lag_p99_ms).c_str());
    if (!extra_.empty())
      std::fprintf(human_, "  %s\n", extra_.c_str());
    std::fflush(human_);
    return;
  }
  // A block redrawn in place: cursor up over the last one, clear to the end.
  std::ostringstream os;
  if (drawn_ > 0)
    os << "\x1b[" << drawn_ << "F\x1b[J";
  const int width = 40;
  int filled = length_s_ > 0 ? static_cast<int>(width * std::min(1.0, r.t_s / length_s_)) : 0;
  char line[512];
  std::snprintf(line, sizeof line, "phx-fleet  [%s%s]  %.0f s elapsed, %.0f s left  phase: %s\n",
                std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                r.t_s, left, phase.c_str());
  os << line;
  std::snprintf(line, sizeof line,
                "users      target %llu  connecting %lld  open %lld  joined %lld  presence %lld\n",
                (unsigned long long) target_, (long long) r.users_connecting,
                (long long) r.users_open, (long long) r.users_joined, (long long) r.presence);
  os << line;
  std::snprintf(line, sizeof line,
                "pushes/s   sent %llu  ok %llu  error %llu  timeout %llu  failed %llu\n",
                (unsigned long long) r.pushes_sent, (unsigned long long) r.replies_ok,
                (unsigned long long) r.replies_error, (unsigned long long) r.timeouts,
                (unsigned long long) r.failed);
  os << line;
  std::snprintf(line, sizeof line,
                "push ms    p50 %s  p90 %s  p99 %s  max %s   join p99 %s   lag p99 %s\n",
                opt_ms(r.push_p50_ms).c_str(), opt_ms(r.push_p90_ms).c_str(),
                opt_ms(r.push_p99_ms).c_str(), opt_ms(r.push_max_ms).c_str(),
                opt_ms(r.join_p99_ms).c_str(), opt_ms(r.lag_p99_ms).c_str());
  os << line;
  std::snprintf(line, sizeof line, "errors     this second %llu  total %llu\n",
                (unsigned long long) r.errors, (unsigned long long) errors_total);
  os << line;
  drawn_ = 5;
  if (!extra_.empty()) {
    os << extra_ << "\n";
    ++drawn_;
  }
  std::fputs(os.str().c_str(), human_);
  std::fflush(human_);
}

void progress::event(const std::string& type, const std::string& text,
                     const std::string& fields_json) {
  if (events_) {
    std::fprintf(events_, "{\"type\":%s%s%s}\n", json_string(type).c_str(),
                 fields_json.empty() ? "" : ",", fields_json.c_str());
    std::fflush(events_);
  }
  if (human_ && !text.empty()) {
    std::fprintf(human_, "%s\n", text.c_str());
    std::fflush(human_);
    drawn_ = 0; // the block is drawn anew below the line
  }
}

} // namespace phx::fleet
