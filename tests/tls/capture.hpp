#pragma once

// What the TLS and secrets tests look at: every text the client produced (log
// lines, callback reasons, printed messages), kept whole so that a secret can
// be searched in all of it. Bounded: a client that logs without end fails the
// test instead of growing it.

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "phx/actors/logger.hpp"

namespace phx_tls {

/// One text and where it came from.
struct text_line {
  /// "log", "runtime", "on_error", "on_close", "socket message", ...
  std::string source;
  /// Level of a log line (`off` for other texts).
  phx::log_level level = phx::log_level::off;
  /// The text itself.
  std::string text;
};

/// Collects texts from any thread; see the file comment.
class text_capture {
public:
  /// More lines than this are counted, not kept.
  static constexpr size_t cap = 100000;

  /// Records a text.
  void add(std::string source, phx::log_level level, std::string_view text) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (lines_.size() < cap)
      lines_.push_back({std::move(source), level, std::string{text}});
    else
      ++dropped_;
  }

  /// A log sink recording into `self` under `source`.
  static phx::log_sink sink(const std::shared_ptr<text_capture>& self, std::string source) {
    return [self, source](phx::log_level level, std::string_view component,
                          std::string_view text) {
      std::string line{component};
      line += ": ";
      line += text;
      self->add(source, level, line);
    };
  }

  /// A copy of every kept line.
  std::vector<text_line> lines() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return lines_;
  }

  /// Lines past the cap (should be 0).
  size_t dropped() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return dropped_;
  }

  /// Lines of `level` (any level for `off`) containing `text`.
  size_t count(phx::log_level level, std::string_view text) const {
    std::lock_guard<std::mutex> guard{mtx_};
    size_t n = 0;
    for (auto& l : lines_)
      if ((level == phx::log_level::off || l.level == level)
          && l.text.find(text) != std::string::npos)
        ++n;
    return n;
  }

  /// Every kept line (for failure messages).
  std::string dump() const {
    std::string out;
    for (auto& l : lines()) {
      out += l.source;
      out += " | ";
      out += l.text.substr(0, 400);
      out += '\n';
    }
    return out;
  }

private:
  mutable std::mutex mtx_;
  std::vector<text_line> lines_;
  size_t dropped_ = 0;
};

/// The first secret found in `text`, or an empty view.
inline std::string_view leaked(std::string_view text, const std::vector<std::string>& secrets) {
  for (auto& s : secrets)
    if (!s.empty() && text.find(s) != std::string_view::npos)
      return s;
  return {};
}

} // namespace phx_tls
