#pragma once

// A self-pipe, the one way the `phx` tool wakes a poll loop: a signal handler
// or another thread sets it; the input loop or the prompt sees it readable.

#include <chrono>

namespace phx::cli {

/// A self-pipe: any thread (or a signal handler) sets it, and a poll loop sees
/// its descriptor readable until it is cleared.
class wakeup {
public:
  /// Makes the pipe; throws `std::runtime_error` if it cannot.
  wakeup();
  ~wakeup();
  wakeup(const wakeup&) = delete;
  wakeup& operator=(const wakeup&) = delete;

  /// Makes `fd()` readable. Async-signal-safe.
  void set() noexcept;

  /// Drains the pipe.
  void clear() noexcept;

  /// The descriptor to poll for reading.
  int fd() const noexcept {
    return read_fd_;
  }

  /// Waits up to `timeout` for `set`; true if it was set.
  bool wait_for(std::chrono::milliseconds timeout) const;

private:
  int read_fd_ = -1;
  int write_fd_ = -1;
};

} // namespace phx::cli
