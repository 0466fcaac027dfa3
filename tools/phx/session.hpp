#pragma once

// The `phx` tool's session: one socket driven by input commands, reporting
// every socket and channel event as an output line, and keeping the ledger
// its exit code is read from. Built on the facade only.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cli.hpp"
#include "phx/phx.hpp"

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

/// Counts operations waiting for their one outcome (pushes, leaves) and lets
/// the input thread wait for all of them, bounded by their own timeouts.
class outcome_tracker {
public:
  /// One more operation, whose outcome is due by `deadline`.
  void add(std::chrono::steady_clock::time_point deadline);

  /// One operation got its outcome.
  void done();

  /// Waits until none is pending or `grace` after the latest deadline;
  /// returns how many are still pending.
  size_t wait(std::chrono::milliseconds grace);

  /// Waits until none is pending or `limit` passed; returns how many are pending.
  size_t wait_at_most(std::chrono::milliseconds limit);

  /// Ends the current and every later `wait` at once (phx gave up).
  void interrupt();

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  size_t pending_ = 0;
  bool interrupted_ = false;
  std::chrono::steady_clock::time_point latest_{};
};

/// What the exit code is read from, fed by the socket's callbacks (which run
/// one at a time, in actor context) and by the input thread. Thread-safe.
class ledger {
public:
  /// One join command's channel, as the ledger follows it.
  struct join_record {
    /// The topic joined.
    std::string topic;
    /// The status of the latest attempt's outcome; empty while none came.
    std::string status;
    /// Whether the latest attempt had an open connection at some point.
    bool attempt_sent = false;
    /// `opens` when the latest attempt started.
    uint64_t attempt_opens = 0;
    /// How often the channel reached `joined` (a push made since was sent).
    uint64_t joins = 0;
    /// Whether the channel is joined now.
    bool joined_now = false;
    /// Superseded by a later join command of the same topic: not counted.
    bool superseded = false;
  };

  /// Whether a push was sent: its channel was joined on an open connection
  /// when it was made, or joined again since.
  struct push_mark {
    /// The channel's record.
    std::shared_ptr<join_record> record;
    /// Sent at once.
    bool sent_at_once = false;
    /// `record->joins` when it was made.
    uint64_t joins = 0;
  };

  /// The connection opened.
  void opened();
  /// The connection closed or failed.
  void lost();
  /// A new join command for `topic`; supersedes the earlier one of the topic.
  std::shared_ptr<join_record> add_join(const std::string& topic);
  /// The channel of `rec` changed state.
  void on_channel_state(join_record& rec, phx::channel_state s);
  /// A join attempt of `rec` ended with `status`; returns the reason to
  /// show ("not sent: ..." when nothing was sent, else `library_reason`).
  std::string join_outcome(join_record& rec, const std::string& status,
                           const std::string& library_reason);
  /// A push is made to the channel of `rec`.
  push_mark mark_push(const std::shared_ptr<join_record>& rec);
  /// A push ended with `status`; returns the reason to show.
  std::string push_outcome(const push_mark& mark, const std::string& status,
                           const std::string& library_reason);
  /// An input line was refused (an error line about it).
  void refused_line();
  /// From now on, what ends unsent ended because phx closed (`why`).
  void closing(const std::string& why);
  /// phx gave up (`why`); false if it had already.
  bool give_up(const std::string& why);
  /// Whether phx gave up.
  bool gave_up() const;
  /// Whether the connection ever opened.
  bool ever_opened() const;
  /// An outcome never came (counted at the end).
  void missing_outcomes(size_t n, const std::string& what);
  /// The reasons the exit code is 1 (empty: 0), each one line.
  std::vector<std::string> failures(bool strict) const;

private:
  std::string not_sent(const std::string& before, const std::string& otherwise) const;

  mutable std::mutex mutex_;
  bool open_now_ = false;
  uint64_t opens_ = 0;
  std::string closing_why_;
  std::string gave_up_why_;
  std::vector<std::shared_ptr<join_record>> joins_;
  size_t pushes_not_ok_ = 0;
  size_t refused_lines_ = 0;
  std::vector<std::string> missing_;
};

/// One `phx` session: connects, joins, runs input lines, and at the end
/// waits for outcomes, leaves, and disconnects.
class session {
public:
  /// Time given beyond a push's (or leave's) own timeout for its outcome to
  /// arrive before the session gives up on it.
  static constexpr std::chrono::milliseconds grace{3000};

  /// A session writing to `out`; `stop` is set when phx gives up (the input
  /// loop ends). Throws `phx::error` if the socket cannot be made from `opts`
  /// (e.g. an invalid endpoint).
  session(const options& opts, std::shared_ptr<output> out, std::shared_ptr<wakeup> stop);

  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Connects, joins the `--join` topics and arms the open deadline.
  void start();

  /// Runs one input line (numbered from 1 for error lines).
  void handle(const std::string& line, uint64_t line_number);

  /// Runs one parsed command (from the interactive prompt).
  void run(command& cmd, uint64_t line_number);

  /// Reports an input line that could not be read or parsed.
  void reject(uint64_t line_number, const std::string& reason);

  /// Whether phx gave up (`--max-reconnects`, `--open-deadline-ms`).
  bool gave_up() const {
    return ledger_->gave_up();
  }

  /// End of input: waits for every push's outcome, leaves every channel
  /// (waiting for the leaves), disconnects. Returns the exit code (see
  /// `exit_code`) and writes the reasons for a 1 on stderr.
  int finish();

private:
  /// A topic joined by the input, its channel and (for `presence:*`) its presence.
  struct topic_entry {
    phx::channel channel;
    std::shared_ptr<phx::presence> presence;
    /// Set when the channel reaches `closed` after its join (the facade's
    /// state mirror reads `closed` also before the join was processed).
    std::shared_ptr<std::atomic<bool>> closed;
    /// What the ledger knows of this join.
    std::shared_ptr<ledger::join_record> record;
    /// The join push, read by its own hooks through a weak pointer (no cycle).
    std::shared_ptr<phx::push> join_push;
  };

  /// Makes a channel for `topic`, binds every output line to it, joins.
  void join(const std::string& topic, const payload& params);
  /// Pushes to a joined topic; its one outcome becomes a reply line.
  void push(push_command& cmd, uint64_t line_number);
  /// Leaves a joined topic (its outcome is awaited at the end).
  void leave(const std::string& topic, uint64_t line_number);
  /// Leaves every joined topic and waits (bounded) for the leaves.
  void leave_all();
  /// Disconnects and waits (bounded) until the socket is closed.
  void disconnect();
  /// Gives up: an error line, the input loop ends, the socket stops reconnecting.
  void give_up(const std::string& why);
  /// Waits for the open deadline on its own thread.
  void watch_open_deadline();
  /// Forgets retired channels that are closed (bounds `retired_`).
  void purge_retired();
  /// Writes an error line about input line `line_number`.
  void error(uint64_t line_number, const std::string& reason);

  options opts_;
  std::shared_ptr<output> out_;
  std::shared_ptr<wakeup> stop_;
  std::shared_ptr<ledger> ledger_ = std::make_shared<ledger>();
  std::shared_ptr<outcome_tracker> pushes_ = std::make_shared<outcome_tracker>();
  std::shared_ptr<outcome_tracker> leaves_ = std::make_shared<outcome_tracker>();
  std::unique_ptr<phx::socket> socket_;
  /// Topics joined by a join line or flag and not left since.
  std::map<std::string, topic_entry> joined_;
  /// Left (or replaced) channels, kept until closed.
  std::vector<topic_entry> retired_;
  /// Sequence number of push lines: the default `id`.
  uint64_t pushes_seen_ = 0;
  /// The open deadline's thread, woken by `deadline_cv_` when the session ends.
  std::thread deadline_thread_;
  std::mutex deadline_mutex_;
  std::condition_variable deadline_cv_;
  bool ending_ = false;
};

} // namespace phx::cli
