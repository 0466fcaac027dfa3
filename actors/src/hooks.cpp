#include "phx/actors/hooks.hpp"

#include <algorithm>

namespace phx {

// -- fences --------------------------------------------------------------------------

namespace {

constexpr size_t max_recorded_faults = 16;

struct fault_record {
  std::vector<callback_fault> faults;
  size_t dropped = 0;
};

fault_record& recorded() {
  thread_local fault_record value;
  return value;
}

} // namespace

std::string callback_fault::describe() const {
  return "callback '" + callback + "' threw: " + what;
}

callback_fault make_fault(const char* kind, std::string_view detail, const char* what) {
  callback_fault f;
  f.callback = kind;
  if (!detail.empty()) {
    f.callback += "(\"";
    f.callback += detail;
    f.callback += "\")";
  }
  f.what = what != nullptr ? what : "";
  return f;
}

void record_fault(callback_fault fault) {
  auto& r = recorded();
  if (r.faults.size() >= max_recorded_faults) {
    ++r.dropped;
    return;
  }
  r.faults.push_back(std::move(fault));
}

bool faults_pending() noexcept {
  auto& r = recorded();
  return !r.faults.empty() || r.dropped > 0;
}

std::vector<callback_fault> take_faults() {
  auto& r = recorded();
  std::vector<callback_fault> out;
  out.swap(r.faults);
  if (r.dropped > 0) {
    // Counted, not listed: the bound keeps a throwing loop from growing memory.
    out.push_back(callback_fault{"(more callbacks)",
                                 std::to_string(r.dropped) + " more faults on this thread",
                                 false});
    r.dropped = 0;
  }
  return out;
}

void callback_gate::set_reporter(reporter f) {
  std::lock_guard<std::mutex> guard{reporter_mutex_};
  reporter_ = std::move(f);
}

void callback_gate::report_recorded() {
  // The reporter runs on_error callbacks: a fault they cause is reported by
  // the loop below (logged only), never by a nested call.
  thread_local bool reporting = false;
  if (reporting)
    return;
  reporter r;
  {
    std::lock_guard<std::mutex> guard{reporter_mutex_};
    r = reporter_;
  }
  if (!r)
    return;
  reporting = true;
  auto& faults = recorded().faults;
  for (size_t i = 0; i < faults.size(); ++i) {
    if (faults[i].reported)
      continue;
    faults[i].reported = true;
    // A copy: the reporter may record more faults (and grow the vector).
    auto f = faults[i];
    r(f);
  }
  reporting = false;
}

// -- channel_hooks -----------------------------------------------------------------

uint64_t channel_hooks::on(const std::string& event, binding f) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto ref = next_binding_++;
  bindings_.emplace_back(event, ref, std::make_shared<binding>(std::move(f)));
  return ref;
}

void channel_hooks::off(const std::string& event, std::optional<uint64_t> ref) {
  std::lock_guard<std::mutex> guard{mutex_};
  bindings_.erase(std::remove_if(bindings_.begin(), bindings_.end(),
                                 [&](const auto& b) {
                                   return std::get<0>(b) == event
                                          && (!ref || std::get<1>(b) == *ref);
                                 }),
                  bindings_.end());
}

bool channel_hooks::bound(const std::string& event) const {
  std::lock_guard<std::mutex> guard{mutex_};
  return std::any_of(bindings_.begin(), bindings_.end(),
                     [&](const auto& b) { return std::get<0>(b) == event; });
}

void channel_hooks::clear() {
  std::lock_guard<std::mutex> guard{mutex_};
  bindings_.clear();
  transform_ = nullptr;
  has_transform_ = false;
  on_state_ = nullptr;
  on_join_ = nullptr;
  on_replaced_ = nullptr;
}

void channel_hooks::set_on_state(std::function<void(channel_state)> f) {
  std::lock_guard<std::mutex> guard{mutex_};
  on_state_ = std::move(f);
}

void channel_hooks::set_on_join(std::function<void(const reply&)> f) {
  std::lock_guard<std::mutex> guard{mutex_};
  if (f)
    on_join_ = [g = std::move(f)](const reply& r, const caf::error&) { g(r); };
  else
    on_join_ = nullptr;
}

void channel_hooks::set_on_join(std::function<void(const reply&, const caf::error&)> f) {
  std::lock_guard<std::mutex> guard{mutex_};
  on_join_ = std::move(f);
}

void channel_hooks::set_on_replaced(std::function<void(const channel_actor&)> f) {
  std::lock_guard<std::mutex> guard{mutex_};
  on_replaced_ = std::move(f);
}

void channel_hooks::fire_replaced(const channel_actor& hdl) {
  std::function<void(const channel_actor&)> f;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    f = on_replaced_;
  }
  if (f)
    f(hdl);
}

void channel_hooks::set_end(caf::error err) {
  std::lock_guard<std::mutex> guard{mutex_};
  end_ = std::move(err);
}

caf::error channel_hooks::end() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return end_;
}

void channel_hooks::fire_state(channel_state s) {
  std::function<void(channel_state)> f;
  {
    // A copy: clear() may run on another thread at any time.
    std::lock_guard<std::mutex> guard{mutex_};
    f = on_state_;
  }
  if (f)
    gate->run("on_state", [&] { f(s); });
}

void channel_hooks::fire_join(const reply& r, const caf::error& err) {
  std::function<void(const reply&, const caf::error&)> f;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    f = on_join_;
  }
  if (f)
    gate->run("receive", r.status, [&] { f(r, err); });
}

void channel_hooks::set_transform(transform f) {
  std::lock_guard<std::mutex> guard{mutex_};
  transform_ = std::move(f);
  has_transform_ = static_cast<bool>(transform_);
}

void channel_hooks::apply_transform(protocol::message& msg) {
  // Checked for every event: most channels have no transform.
  if (!has_transform_.load(std::memory_order_acquire))
    return;
  transform f;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    f = transform_;
  }
  if (!f)
    return;
  protocol::payload out;
  // A transform that throws leaves the payload as it came (reported).
  if (gate->run("on_message", [&] { out = f(msg); }))
    msg.payload = std::move(out);
}

void channel_hooks::dispatch(const protocol::message& msg,
                             const std::string& join_ref) {
  // The first binding outside the vector: most events have one (no allocation).
  std::shared_ptr<binding> first;
  std::vector<std::shared_ptr<binding>> more;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto& b : bindings_)
      if (std::get<0>(b) == msg.event) {
        if (!first)
          first = std::get<2>(b);
        else
          more.push_back(std::get<2>(b));
      }
  }
  if (!first)
    return;
  // Each binding fenced alone: one that throws does not skip the others.
  gate->run("on", msg.event, [&] { (*first)(msg, join_ref); });
  for (auto& f : more)
    gate->run("on", msg.event, [&] { (*f)(msg, join_ref); });
}

// -- push_hook_list --------------------------------------------------------------------

push_hook_list::push_hook_list(push_hook_list&& other) noexcept
  : inline_(std::move(other.inline_)), size_(other.size_), more_(std::move(other.more_)) {
  other.clear();
}

push_hook_list& push_hook_list::operator=(push_hook_list&& other) noexcept {
  if (this != &other) {
    clear();
    for (size_t i = 0; i < other.size_; ++i)
      inline_[i] = std::move(other.inline_[i]);
    size_ = other.size_;
    more_ = std::move(other.more_);
    other.clear();
  }
  return *this;
}

void push_hook_list::push_back(hook h) {
  if (size_ < inline_capacity && more_.empty())
    inline_[size_++] = std::move(h);
  else
    more_.push_back(std::move(h));
}

void push_hook_list::clear() noexcept {
  for (size_t i = 0; i < size_; ++i)
    inline_[i] = hook{};
  size_ = 0;
  more_.clear();
}

// -- push_hooks --------------------------------------------------------------------

void push_hooks::receive(const std::string& status,
                         std::function<void(const protocol::payload&)> f) {
  std::optional<protocol::payload> run_now;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (outcome_ && outcome_->status == status)
      run_now = outcome_->response;
    if (!outcome_ || recurring_) {
      if (!run_now) {
        hooks_.push_back({status, std::move(f)});
        return;
      }
      hooks_.push_back({status, f});
    }
  }
  if (!run_now)
    return;
  if (callback_gate::in_callback())
    gate_->run("receive", status, [&] { f(*run_now); });
  else
    callback_gate::outside([&] { f(*run_now); });
}

bool push_hooks::resolve(push_outcome outcome) {
  // A one-shot push hands all its hooks over (no copy, released with the
  // outcome: no leak per push); a recurring one copies those that run.
  push_hook_list one_shot;
  std::vector<std::function<void(const protocol::payload&)>> recurring;
  auto status = outcome.status;
  protocol::payload response = outcome.response;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (outcome_ && !recurring_)
      return false;
    outcome_ = std::move(outcome);
    if (recurring_) {
      hooks_.for_each([&](auto& h) {
        if (h.first == status)
          recurring.push_back(h.second);
      });
    } else {
      one_shot = std::move(hooks_);
    }
  }
  cv_.notify_all();
  if (recurring.empty() && one_shot.empty())
    return true;
  // Callbacks run, and die, inside the gate: whatever they captured is
  // released in callback context (see socket's destructor). Each is fenced.
  for (auto& f : recurring)
    gate_->run("receive", status, [&] { f(response); });
  one_shot.for_each([&](auto& h) {
    if (h.first == status)
      gate_->run("receive", status, [&] { h.second(response); });
  });
  gate_->run("receive", status, [&] {
    recurring.clear();
    one_shot.clear();
  });
  return true;
}

push_outcome push_hooks::wait() {
  std::unique_lock<std::mutex> guard{mutex_};
  cv_.wait(guard, [this] { return outcome_.has_value(); });
  return *outcome_;
}

std::optional<push_outcome> push_hooks::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> guard{mutex_};
  if (!cv_.wait_for(guard, timeout, [this] { return outcome_.has_value(); }))
    return std::nullopt;
  return *outcome_;
}

std::optional<push_outcome> push_hooks::outcome() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return outcome_;
}

push_guard::~push_guard() {
  if (!hooks_)
    return;
  // Read unread: the channel is dead. Why, if it said so; else it crashed.
  caf::error err = channel_ ? channel_->end() : caf::error{};
  if (!err)
    err = caf::make_error(ec::channel_crashed, "the channel is gone");
  hooks_->resolve({status_of(err), protocol::payload{}, std::move(err)});
  // Reported by the gate already: nothing here may be pinned on another actor.
  take_faults();
}

std::string status_of(const caf::error& err) {
  // The channel or socket went away: a timeout, as CLIENT.md maps it.
  if (err == ec::push_timeout || err == ec::join_timeout || err == ec::disconnected
      || err == ec::channel_crashed || err == ec::socket_crashed || err == ec::socket_stopped
      || err == caf::sec::request_receiver_down
      || err == caf::sec::request_timeout)
    return "timeout";
  return "failed";
}

} // namespace phx
