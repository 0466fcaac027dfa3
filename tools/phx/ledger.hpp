#pragma once

// What the `phx` tool's exit code is read from: whether the connection ever
// opened, the latest join attempt of each topic, the outcomes of the pushes,
// and whether phx gave up; and whether a join or push was ever sent, so that
// one that was not says so in its reason.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "phx/phx.hpp"

namespace phx::cli {

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

} // namespace phx::cli
