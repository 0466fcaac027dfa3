#pragma once

// The client side of the hostile-server tests: a phx::socket (facade, real
// transport) on a mini_phoenix with two joined channels, `room:a` (where the
// garbage is aimed) and `room:b` (the bystander), a bounded capture of the
// socket's log lines and a count of every report (on_error, on_close).

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mini_phoenix.hpp"
#include "phx/phx.hpp"
#include "phx_test/recorder.hpp"

namespace phx_hostile {

using namespace std::chrono_literals;

/// The bound of every wait.
constexpr auto max_wait = std::chrono::milliseconds{10000};

/// True in a sanitizer build: its allocator keeps freed memory in quarantine
/// and counts nothing in mallinfo2, so memory figures mean nothing there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool sanitized = true;
#  else
constexpr bool sanitized = false;
#  endif
#else
constexpr bool sanitized = false;
#endif

/// Resident set size of this process in KiB (from /proc/self/statm).
size_t rss_kib();

/// The socket's log lines: every line counted by level, the first `cap`
/// kept (so that a flood cannot grow the test). Thread-safe.
class log_capture {
public:
  struct line {
    phx::log_level level;
    std::string component;
    std::string text;
  };

  explicit log_capture(size_t cap = 10000) : cap_(cap) {}

  /// A sink feeding this capture (it holds the capture alive).
  static phx::log_sink sink(const std::shared_ptr<log_capture>& self);

  /// Kept lines of `level` whose text contains `text`.
  size_t count(phx::log_level level, std::string_view text) const;

  /// Every line of `level` or above, kept or not.
  size_t at_least(phx::log_level level) const;

  /// The kept lines, one per line (for failure messages).
  std::string dump() const;

private:
  void add(phx::log_level level, std::string_view component, std::string_view text);

  size_t cap_;
  mutable std::mutex mtx_;
  std::vector<line> lines_;
  size_t by_level_[6] = {0, 0, 0, 0, 0, 0};
};

/// A push's outcomes as its `receive` hooks saw them.
struct outcome_count {
  std::atomic<int> ok{0};
  std::atomic<int> error{0};
  std::atomic<int> timeout{0};
  std::atomic<int> failed{0};

  int total() const { return ok + error + timeout + failed; }
};

/// The client under test; see the file comment.
class client {
public:
  using tweak = std::function<void(phx::socket::options&)>;

  /// Connects to `server`, joins `room:a` and `room:b` (test failure if not).
  explicit client(mini_phoenix& server, tweak f = {});

  /// Disconnects and waits.
  ~client();

  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Joins another channel whose `evt` and `probe` events are recorded.
  phx::channel join(const std::string& topic);

  /// Proves that both channels still work: a server push reaches each (the
  /// frames before it on the link were handled first) and an `echo` push on
  /// each gets its own reply. Test failure otherwise.
  void probe();

  /// Sends `frame` as a text frame, then `probe()`s.
  void send_text_and_probe(std::string frame);

  /// Waits until `room:a` and `room:b` were joined `n` times (the first join
  /// and each rejoin after a reconnect); test failure otherwise.
  void wait_rejoined(size_t n);

  /// `ch.push(...)` with `receive` hooks counting every outcome in `out`.
  phx::push counted_push(phx::channel& ch, const std::string& event, phx::payload body,
                         std::chrono::milliseconds timeout, outcome_count& out);

  /// The socket's counters (blocks for a round trip).
  phx::socket_stats stats() { return sock->stats(); }

  /// A channel's counters (blocks for a round trip).
  phx::channel_stats stats(const phx::channel& ch);

  /// on_error calls so far, and the reasons of the first thousand.
  size_t errors() const { return reports_->errors.load(); }
  std::vector<std::string> error_reasons() const;

  /// on_close calls so far (each also records "close <code>" and
  /// "close reason <reason>" in `events`).
  size_t closes() const { return reports_->closes.load(); }

  /// The server the garbage comes from.
  mini_phoenix& server;
  /// The socket's log lines.
  std::shared_ptr<log_capture> logs;
  /// "open", "close <code>", "close reason <text>", "<topic> joined" and
  /// "<topic> <event> <payload>" for the `evt` and `probe` events.
  phx_test::recorder events;
  /// The socket under test.
  std::optional<phx::socket> sock;
  /// The channel the garbage is aimed at, and the bystander.
  std::optional<phx::channel> a;
  std::optional<phx::channel> b;
  /// join_ref of `room:a` on the newest connection.
  std::string jr_a;

private:
  /// What the socket reported; shared with its callbacks, which may outlive
  /// this object by a moment while the socket goes away.
  struct reports {
    std::atomic<size_t> errors{0};
    std::atomic<size_t> closes{0};
    std::mutex mtx;
    std::vector<std::string> reasons; // the first thousand
  };

  std::shared_ptr<reports> reports_ = std::make_shared<reports>();
  uint64_t probes_ = 0;
};

} // namespace phx_hostile
