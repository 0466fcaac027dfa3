#include "session.hpp"

#include <algorithm>
#include <cstdio>
#include <future>
#include <thread>
#include <utility>

#include <caf/error.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace phx::cli {

namespace {

using clock = std::chrono::steady_clock;

/// The statuses a push (or a join attempt) can end with.
constexpr const char* outcome_statuses[] = {"ok", "error", "timeout", "failed"};

std::string quoted(const std::string& s) {
  std::string out;
  protocol::append_json_string(out, s);
  return out;
}

// The connect params as a JSON object of strings (a repeated key: the last wins).
payload params_of(const options& opts) {
  protocol::json_document doc;
  doc.SetObject();
  auto& alloc = doc.GetAllocator();
  for (auto& [key, value] : opts.params) {
    protocol::json_value v{value.c_str(), static_cast<rapidjson::SizeType>(value.size()), alloc};
    auto i = doc.FindMember(key.c_str());
    if (i != doc.MemberEnd()) {
      i->value = v;
      continue;
    }
    doc.AddMember(protocol::json_value{key.c_str(),
                                       static_cast<rapidjson::SizeType>(key.size()), alloc},
                  v, alloc);
  }
  return payload{std::move(doc)};
}

} // namespace

socket::options socket_options_of(const options& opts) {
  socket::options so;
  so.params = params_of(opts);
  so.headers = opts.headers;
  so.timeout = opts.timeout_ms;
  so.heartbeat_interval_ms = opts.heartbeat_ms;
  so.log_level = opts.log_level;
  so.vsn = opts.vsn;
  so.tls.ca_file = opts.ca_file;
  so.tls.verify_peer = !opts.insecure;
  so.transport = opts.transport;
  so.long_poll_fallback_ms = opts.long_poll_fallback_ms;
  so.compress = opts.compress;
  if (opts.auth_token)
    so.auth_token = [token = *opts.auth_token]() -> std::optional<std::string> { return token; };
  return so;
}

// -- outcome_tracker -------------------------------------------------------------------

void outcome_tracker::add(clock::time_point deadline) {
  std::lock_guard<std::mutex> guard{mutex_};
  ++pending_;
  if (deadline > latest_)
    latest_ = deadline;
}

void outcome_tracker::done() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (pending_ > 0)
      --pending_;
  }
  cv_.notify_all();
}

size_t outcome_tracker::wait(std::chrono::milliseconds grace) {
  std::unique_lock<std::mutex> guard{mutex_};
  cv_.wait_until(guard, latest_ + grace, [this] { return pending_ == 0 || interrupted_; });
  return pending_;
}

void outcome_tracker::interrupt() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    interrupted_ = true;
  }
  cv_.notify_all();
}

size_t outcome_tracker::wait_at_most(std::chrono::milliseconds limit) {
  std::unique_lock<std::mutex> guard{mutex_};
  cv_.wait_for(guard, limit, [this] { return pending_ == 0; });
  return pending_;
}

// -- session -----------------------------------------------------------------------------

namespace {

// Gives up once: an error line, the input loop and the wait for outcomes end
// (the input thread then leaves, disconnects and exits 1).
void give_up_once(ledger& l, output& out, wakeup& stop, outcome_tracker& pushes,
                  const std::string& why) {
  if (!l.give_up(why))
    return;
  out.write(error_line("giving up: " + why));
  pushes.interrupt();
  stop.set();
}

} // namespace

session::session(const options& opts, std::shared_ptr<output> out, std::shared_ptr<wakeup> stop)
  : opts_(opts), out_(std::move(out)), stop_(std::move(stop)) {
  auto so = socket_options_of(opts_);
  if (opts_.max_reconnects) {
    // Called once per reconnect about to be scheduled, with the attempts in a
    // row since the last open: beyond the limit phx gives up instead.
    so.reconnect_after_ms = [max = *opts_.max_reconnects, l = ledger_, w = out_, st = stop_,
                             p = pushes_](uint32_t tries) {
      if (tries > max)
        give_up_once(*l, *w, *st, *p,
                     max == 0 ? "the connection failed and --max-reconnects is 0"
                              : std::to_string(max) + " reconnect attempt(s) in a row failed"
                                  + " (--max-reconnects)");
      return socket::DEFAULT_RECONNECT_AFTER_MS(tries);
    };
  }
  socket_ = std::make_unique<phx::socket>(opts_.url, std::move(so));
  auto w = out_;
  auto l = ledger_;
  socket_->on_open([w, l] {
    l->opened();
    w->write(open_line());
  });
  socket_->on_close([w, l](uint16_t code, const std::string& reason) {
    l->lost();
    w->write(close_line(code, reason));
  });
  // Transport reasons never hold secrets (the transport redacts them).
  socket_->on_error([w, l](const std::string& reason, int) {
    l->lost();
    w->write(error_line(reason));
  });
}

session::~session() {
  {
    std::lock_guard<std::mutex> guard{deadline_mutex_};
    ending_ = true;
  }
  deadline_cv_.notify_all();
  if (deadline_thread_.joinable())
    deadline_thread_.join();
  // Presences and channels first: they refer to the socket's actors.
  joined_.clear();
  retired_.clear();
  socket_.reset();
}

void session::start() {
  socket_->connect();
  if (opts_.open_deadline_ms)
    deadline_thread_ = std::thread{[this] { watch_open_deadline(); }};
  for (auto& topic : opts_.joins) {
    if (joined_.count(topic) != 0)
      continue;
    join(topic, opts_.join_params);
  }
}

void session::watch_open_deadline() {
  auto deadline = clock::now() + std::chrono::milliseconds{*opts_.open_deadline_ms};
  std::unique_lock<std::mutex> guard{deadline_mutex_};
  deadline_cv_.wait_until(guard, deadline, [this] { return ending_; });
  if (ending_ || ledger_->ever_opened())
    return;
  guard.unlock();
  give_up_once(*ledger_, *out_, *stop_, *pushes_,
               "the connection did not open within "
                 + std::to_string(*opts_.open_deadline_ms) + " ms (--open-deadline-ms)");
}

void session::handle(const std::string& line, uint64_t line_number) {
  purge_retired();
  if (is_blank(line))
    return;
  auto parsed = parse_command(line);
  if (auto err = std::get_if<line_error>(&parsed)) {
    error(line_number, err->reason);
    return;
  }
  run(std::get<command>(parsed), line_number);
}

void session::run(command& cmd, uint64_t line_number) {
  purge_retired();
  if (auto j = std::get_if<join_command>(&cmd)) {
    auto i = joined_.find(j->topic);
    if (i != joined_.end()) {
      if (!i->second.closed->load()) {
        error(line_number, "already joined " + quoted(j->topic) + " (leave it first)");
        return;
      }
      // Closed by the server (kick, duplicate): a join line joins it anew.
      retired_.push_back(std::move(i->second));
      joined_.erase(i);
    }
    join(j->topic, j->params);
  } else if (auto p = std::get_if<push_command>(&cmd)) {
    push(*p, line_number);
  } else if (auto l = std::get_if<leave_command>(&cmd)) {
    leave(l->topic, line_number);
  } else if (auto s = std::get_if<sleep_command>(&cmd)) {
    // Giving up ends a sleep too.
    stop_->wait_for(std::chrono::milliseconds{s->ms});
  } else if (std::holds_alternative<disconnect_command>(cmd)) {
    disconnect();
  } else {
    socket_->connect();
  }
}

void session::reject(uint64_t line_number, const std::string& reason) {
  error(line_number, reason);
}

int session::finish() {
  purge_retired();
  // Outcomes first (bounded by their timeouts), unless phx gave up: then
  // nothing more will be sent, and the leaves below end what is pending.
  if (!ledger_->gave_up())
    pushes_->wait(grace);
  ledger_->closing("phx closed");
  leave_all();
  if (auto n = pushes_->wait_at_most(grace); n > 0) {
    out_->write(error_line(std::to_string(n) + " push(es) got no outcome in time"));
    ledger_->missing_outcomes(n, "push(es)");
  }
  disconnect();
  {
    std::lock_guard<std::mutex> guard{deadline_mutex_};
    ending_ = true;
  }
  deadline_cv_.notify_all();
  auto failures = ledger_->failures(opts_.strict);
  for (auto& why : failures)
    std::fprintf(stderr, "phx: exit 1: %s\n", why.c_str());
  return failures.empty() ? exit_ok : exit_failure;
}

void session::leave_all() {
  for (auto& [topic, entry] : joined_) {
    auto timeout = std::chrono::milliseconds{opts_.timeout_ms};
    leaves_->add(clock::now() + timeout);
    auto lp = entry.channel.leave(timeout);
    for (auto status : outcome_statuses)
      lp.receive(status, [t = leaves_](const payload&) { t->done(); });
    retired_.push_back(std::move(entry));
  }
  joined_.clear();
  if (auto n = leaves_->wait(grace); n > 0) {
    out_->write(error_line(std::to_string(n) + " leave(s) got no outcome in time"));
    ledger_->missing_outcomes(n, "leave(s)");
  }
}

void session::join(const std::string& topic, const payload& params) {
  auto ch = socket_->channel(topic, params);
  auto w = out_;
  auto l = ledger_;
  auto rec = ledger_->add_join(topic);
  auto closed = std::make_shared<std::atomic<bool>>(false);
  // The record is held weakly by the callbacks: the channel's entry owns it.
  std::weak_ptr<ledger::join_record> weak_rec = rec;
  ch.on_state([w, l, topic, closed, weak_rec](channel_state s) {
    if (s == channel_state::closed)
      closed->store(true);
    if (auto r = weak_rec.lock())
      l->on_channel_state(*r, s);
    w->write(state_line(topic, to_string(s)));
  });
  // phoenix.js's onMessage sees every inbound message of the channel: report
  // each event as is; replies have their own `join` and `reply` lines.
  ch.on_message([w, topic](const message& m) {
    if (!m.is_reply())
      w->write(event_line(topic, m.event, m.payload));
    return m.payload;
  });
  std::shared_ptr<phx::presence> pr;
  if (topic.rfind("presence:", 0) == 0) {
    pr = std::make_shared<phx::presence>(ch);
    // Weak: the presence owns this callback.
    std::weak_ptr<phx::presence> weak = pr;
    pr->on_sync([w, topic, weak] {
      if (auto p = weak.lock())
        w->write(presence_line(topic, p->to_payload()));
    });
  }
  // The join push reports every attempt: the first join and each rejoin.
  auto jp = std::make_shared<phx::push>(ch.join());
  std::weak_ptr<phx::push> weak_jp = jp;
  for (auto status : outcome_statuses)
    jp->receive(status, [w, l, topic, weak_rec, s = std::string{status},
                         weak_jp](const payload& response) {
      std::string reason;
      if (s == "timeout" || s == "failed")
        if (auto j = weak_jp.lock())
          if (auto o = j->outcome())
            reason = phx::describe(o->error);
      if (auto r = weak_rec.lock())
        reason = l->join_outcome(*r, s, reason);
      w->write(join_line(topic, s, response, reason));
    });
  joined_.emplace(topic, topic_entry{std::move(ch), std::move(pr), std::move(closed),
                                     std::move(rec), std::move(jp)});
}

void session::push(push_command& cmd, uint64_t line_number) {
  ++pushes_seen_;
  auto id = cmd.id_json.empty() ? std::to_string(pushes_seen_) : cmd.id_json;
  auto i = joined_.find(cmd.topic);
  if (i == joined_.end()) {
    error(line_number, "push to " + quoted(cmd.topic)
                         + ", which is not joined (send a join line first)");
    return;
  }
  auto timeout = std::chrono::milliseconds{cmd.timeout_ms.value_or(opts_.timeout_ms)};
  pushes_->add(clock::now() + timeout);
  auto mark = ledger_->mark_push(i->second.record);
  auto p = i->second.channel.push(cmd.event, std::move(cmd.payload), timeout);
  for (auto status : outcome_statuses) {
    // Holding `p` in its own hook is a cycle that its one outcome breaks (a
    // push drops its hooks when it resolves); it is needed for the reason.
    p.receive(status, [w = out_, t = pushes_, l = ledger_, mark, id, topic = cmd.topic,
                       event = cmd.event, s = std::string{status}, p](const payload& response) {
      std::string reason;
      if (s == "timeout" || s == "failed")
        if (auto o = p.outcome())
          reason = phx::describe(o->error);
      reason = l->push_outcome(mark, s, reason);
      w->write(reply_line(id, topic, event, s, response, reason));
      t->done();
    });
  }
}

void session::leave(const std::string& topic, uint64_t line_number) {
  auto i = joined_.find(topic);
  if (i == joined_.end()) {
    error(line_number, "leave of " + quoted(topic) + ", which is not joined");
    return;
  }
  auto timeout = std::chrono::milliseconds{opts_.timeout_ms};
  leaves_->add(clock::now() + timeout);
  auto lp = i->second.channel.leave(timeout);
  for (auto status : outcome_statuses)
    lp.receive(status, [t = leaves_](const payload&) { t->done(); });
  retired_.push_back(std::move(i->second));
  joined_.erase(i);
}

void session::disconnect() {
  auto done = std::make_shared<std::promise<void>>();
  auto closed = done->get_future();
  socket_->disconnect([done] { done->set_value(); });
  // A close handshake is bounded by the socket's close timeout (1.5 s).
  if (closed.wait_for(std::chrono::milliseconds{1500} + grace) != std::future_status::ready)
    out_->write(error_line("the disconnect did not complete in time"));
}

void session::purge_retired() {
  retired_.erase(std::remove_if(retired_.begin(), retired_.end(),
                                [](const topic_entry& e) { return e.closed->load(); }),
                 retired_.end());
}

void session::error(uint64_t line_number, const std::string& reason) {
  ledger_->refused_line();
  out_->write(error_line("line " + std::to_string(line_number) + ": " + reason));
}

} // namespace phx::cli
