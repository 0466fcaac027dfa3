#include "ledger.hpp"

#include <algorithm>

#include "phx/protocol/json.hpp"

namespace phx::cli {

namespace {

std::string quoted(const std::string& s) {
  std::string out;
  protocol::append_json_string(out, s);
  return out;
}

} // namespace

// -- ledger ------------------------------------------------------------------------------

void ledger::opened() {
  std::lock_guard<std::mutex> guard{mutex_};
  open_now_ = true;
  ++opens_;
}

void ledger::lost() {
  std::lock_guard<std::mutex> guard{mutex_};
  open_now_ = false;
}

std::shared_ptr<ledger::join_record> ledger::add_join(const std::string& topic) {
  std::lock_guard<std::mutex> guard{mutex_};
  for (auto& rec : joins_)
    if (rec->topic == topic)
      rec->superseded = true;
  // Superseded records stay only while a push may still point at them.
  joins_.erase(std::remove_if(joins_.begin(), joins_.end(),
                              [](const auto& r) { return r->superseded && r.use_count() == 1; }),
               joins_.end());
  auto rec = std::make_shared<join_record>();
  rec->topic = topic;
  joins_.push_back(rec);
  return rec;
}

void ledger::on_channel_state(join_record& rec, phx::channel_state s) {
  std::lock_guard<std::mutex> guard{mutex_};
  if (s == phx::channel_state::joining) {
    rec.attempt_sent = open_now_;
    rec.attempt_opens = opens_;
  }
  rec.joined_now = s == phx::channel_state::joined;
  if (rec.joined_now)
    ++rec.joins;
}

std::string ledger::not_sent(const std::string& before, const std::string& otherwise) const {
  if (!gave_up_why_.empty())
    return "not sent: phx gave up " + before;
  if (!closing_why_.empty())
    return "not sent: phx closed " + before;
  return "not sent: " + otherwise;
}

std::string ledger::join_outcome(join_record& rec, const std::string& status,
                                 const std::string& library_reason) {
  std::lock_guard<std::mutex> guard{mutex_};
  rec.status = status;
  bool sent = rec.attempt_sent || opens_ > rec.attempt_opens;
  if (status == "timeout" && !sent)
    return opens_ == 0 ? not_sent("before the connection ever opened", "the connection never opened")
                       : not_sent("while the connection was not open",
                                  "the connection was not open during the attempt");
  return library_reason;
}

ledger::push_mark ledger::mark_push(const std::shared_ptr<join_record>& rec) {
  std::lock_guard<std::mutex> guard{mutex_};
  return push_mark{rec, rec->joined_now && open_now_, rec->joins};
}

std::string ledger::push_outcome(const push_mark& mark, const std::string& status,
                                 const std::string& library_reason) {
  std::lock_guard<std::mutex> guard{mutex_};
  if (status != "ok")
    ++pushes_not_ok_;
  bool sent = mark.sent_at_once || mark.record->joins > mark.joins;
  if (status == "timeout" && !sent)
    return opens_ == 0 ? not_sent("before the connection ever opened", "the connection never opened")
                       : not_sent("before the channel joined", "the channel was not joined");
  return library_reason;
}

void ledger::refused_line() {
  std::lock_guard<std::mutex> guard{mutex_};
  ++refused_lines_;
}

void ledger::closing(const std::string& why) {
  std::lock_guard<std::mutex> guard{mutex_};
  if (closing_why_.empty())
    closing_why_ = why;
}

bool ledger::give_up(const std::string& why) {
  std::lock_guard<std::mutex> guard{mutex_};
  if (!gave_up_why_.empty())
    return false;
  gave_up_why_ = why;
  if (closing_why_.empty())
    closing_why_ = why;
  return true;
}

bool ledger::gave_up() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return !gave_up_why_.empty();
}

bool ledger::ever_opened() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return opens_ > 0;
}

void ledger::missing_outcomes(size_t n, const std::string& what) {
  std::lock_guard<std::mutex> guard{mutex_};
  missing_.push_back(std::to_string(n) + " " + what + " got no outcome in time");
}

std::vector<std::string> ledger::failures(bool strict) const {
  std::lock_guard<std::mutex> guard{mutex_};
  std::vector<std::string> out;
  if (opens_ == 0)
    out.emplace_back("the connection never opened");
  if (!gave_up_why_.empty())
    out.push_back("gave up: " + gave_up_why_);
  for (auto& rec : joins_) {
    if (rec->superseded || rec->status == "ok")
      continue;
    if (rec->status.empty())
      out.push_back("the join of " + quoted(rec->topic) + " never happened");
    else
      out.push_back("the join of " + quoted(rec->topic) + " ended " + rec->status);
  }
  out.insert(out.end(), missing_.begin(), missing_.end());
  if (strict && pushes_not_ok_ > 0)
    out.push_back(std::to_string(pushes_not_ok_) + " push(es) did not end ok (--strict)");
  if (strict && refused_lines_ > 0)
    out.push_back(std::to_string(refused_lines_) + " input line(s) refused (--strict)");
  return out;
}

} // namespace phx::cli
