#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace phx_test {

/// Collects what callbacks saw (from any thread) and lets a test wait for a
/// condition with a deadline, woken by each new line (no polling sleeps).
class recorder {
public:
  using lines = std::vector<std::string>;

  /// Records one line.
  void add(std::string line) {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      lines_.push_back(std::move(line));
    }
    cv_.notify_all();
  }

  /// Waits until `pred(lines)` holds or `timeout` passes; returns whether it held.
  bool wait(std::function<bool(const lines&)> pred,
            std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    std::unique_lock<std::mutex> guard{mutex_};
    return cv_.wait_for(guard, timeout, [&] { return pred(lines_); });
  }

  /// Waits until a line equal to `line` was recorded.
  bool wait_for(const std::string& line,
                std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    return wait([&](const lines& ls) { return count_in(ls, line) > 0; }, timeout);
  }

  /// Waits until `line` was recorded `n` times.
  bool wait_count(const std::string& line, size_t n,
                  std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    return wait([&](const lines& ls) { return count_in(ls, line) >= n; }, timeout);
  }

  /// How often `line` was recorded.
  size_t count(const std::string& line) {
    std::lock_guard<std::mutex> guard{mutex_};
    return count_in(lines_, line);
  }

  /// A copy of every line.
  lines all() {
    std::lock_guard<std::mutex> guard{mutex_};
    return lines_;
  }

  /// Everything recorded, one per line (for failure messages).
  std::string dump() {
    std::string out;
    for (auto& l : all()) {
      out += l;
      out += '\n';
    }
    return out;
  }

private:
  static size_t count_in(const lines& ls, const std::string& line) {
    return static_cast<size_t>(std::count(ls.begin(), ls.end(), line));
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  lines lines_;
};

} // namespace phx_test
