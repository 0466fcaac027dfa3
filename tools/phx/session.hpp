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
#include "ledger.hpp"
#include "phx/phx.hpp"
#include "wakeup.hpp"

namespace phx::cli {

/// The facade options of a run, from its arguments (the reconnect limit aside).
socket::options socket_options_of(const options& opts);

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
