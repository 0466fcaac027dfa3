#include "session.hpp"

#include <algorithm>
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

// Why a push ended as timeout or failed, in words (`"push_timeout: no reply in time"`).
std::string describe(const caf::error& err) {
  if (!err)
    return {};
  std::string name;
  if (err.category() == caf::atom("phx"))
    name = phx::to_string(static_cast<phx::ec>(err.code()));
  else if (err.category() == caf::atom("system"))
    name = caf::to_string(static_cast<caf::sec>(err.code()));
  else
    name = "error " + std::to_string(err.code());
  auto& ctx = err.context();
  if (ctx.match_elements<std::string>())
    return name + ": " + ctx.get_as<std::string>(0);
  return name;
}

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
  if (opts.auth_token)
    so.auth_token = [token = *opts.auth_token]() -> std::optional<std::string> { return token; };
  return so;
}

} // namespace

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
  cv_.wait_until(guard, latest_ + grace, [this] { return pending_ == 0; });
  return pending_;
}

// -- session -----------------------------------------------------------------------------

session::session(const options& opts, std::shared_ptr<line_writer> out)
  : opts_(opts), out_(std::move(out)) {
  socket_ = std::make_unique<phx::socket>(opts_.url, socket_options_of(opts_));
  auto w = out_;
  socket_->on_open([w] { w->write(open_line()); });
  socket_->on_close([w](uint16_t code, const std::string& reason) {
    w->write(close_line(code, reason));
  });
  // Transport reasons never hold secrets (the transport redacts them).
  socket_->on_error([w](const std::string& reason, int) { w->write(error_line(reason)); });
}

session::~session() {
  // Presences and channels first: they refer to the socket's actors.
  joined_.clear();
  retired_.clear();
  socket_.reset();
}

void session::start() {
  socket_->connect();
  for (auto& topic : opts_.joins) {
    if (joined_.count(topic) != 0)
      continue;
    join(topic, opts_.join_params);
  }
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
  auto& cmd = std::get<command>(parsed);
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
    std::this_thread::sleep_for(std::chrono::milliseconds{s->ms});
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
  int rc = 0;
  purge_retired();
  if (auto n = pushes_->wait(grace); n > 0) {
    out_->write(error_line(std::to_string(n) + " push(es) got no outcome in time"));
    rc = 1;
  }
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
    rc = 1;
  }
  disconnect();
  return rc;
}

void session::join(const std::string& topic, const payload& params) {
  auto ch = socket_->channel(topic, params);
  auto w = out_;
  auto closed = std::make_shared<std::atomic<bool>>(false);
  ch.on_state([w, topic, closed](channel_state s) {
    if (s == channel_state::closed)
      closed->store(true);
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
  auto jp = ch.join();
  for (auto status : outcome_statuses)
    jp.receive(status, [w, topic, s = std::string{status}](const payload& response) {
      w->write(join_line(topic, s, response));
    });
  joined_.emplace(topic, topic_entry{std::move(ch), std::move(pr), std::move(closed)});
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
  auto p = i->second.channel.push(cmd.event, std::move(cmd.payload), timeout);
  for (auto status : outcome_statuses) {
    // Holding `p` in its own hook is a cycle that its one outcome breaks (a
    // push drops its hooks when it resolves); it is needed for the reason.
    p.receive(status, [w = out_, t = pushes_, id, topic = cmd.topic, event = cmd.event,
                       s = std::string{status}, p](const payload& response) {
      std::string reason;
      if (s == "timeout" || s == "failed")
        if (auto o = p.outcome())
          reason = describe(o->error);
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
  out_->write(error_line("line " + std::to_string(line_number) + ": " + reason));
}

} // namespace phx::cli
