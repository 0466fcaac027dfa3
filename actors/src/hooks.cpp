#include "phx/actors/hooks.hpp"

#include <algorithm>

namespace phx {

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
}

void channel_hooks::set_on_state(std::function<void(channel_state)> f) {
  std::lock_guard<std::mutex> guard{mutex_};
  on_state_ = std::move(f);
}

void channel_hooks::set_on_join(std::function<void(const reply&)> f) {
  std::lock_guard<std::mutex> guard{mutex_};
  on_join_ = std::move(f);
}

void channel_hooks::fire_state(channel_state s) {
  std::function<void(channel_state)> f;
  {
    // A copy: clear() may run on another thread at any time.
    std::lock_guard<std::mutex> guard{mutex_};
    f = on_state_;
  }
  if (f)
    gate->run([&] { f(s); });
}

void channel_hooks::fire_join(const reply& r) {
  std::function<void(const reply&)> f;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    f = on_join_;
  }
  if (f)
    gate->run([&] { f(r); });
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
  gate->run([&] { out = f(msg); });
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
  gate->run([&] {
    (*first)(msg, join_ref);
    for (auto& f : more)
      (*f)(msg, join_ref);
  });
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
  if (run_now)
    gate_->run([&] { f(*run_now); });
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
  // Callbacks run, and die, inside the gate: whatever they captured is
  // released in callback context (see socket's destructor).
  gate_->run([&] {
    for (auto& f : recurring)
      f(response);
    one_shot.for_each([&](auto& h) {
      if (h.first == status)
        h.second(response);
    });
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

std::string status_of(const caf::error& err) {
  if (err == ec::push_timeout || err == ec::join_timeout || err == ec::disconnected
      || err == caf::sec::request_receiver_down
      || err == caf::sec::request_timeout)
    return "timeout";
  return "failed";
}

} // namespace phx
