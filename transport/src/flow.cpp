#include "phx/transport/flow.hpp"

namespace phx::transport {

credit::credit(size_t max_units, size_t max_bytes)
  : max_units_(max_units == 0 ? 1 : max_units), max_bytes_(max_bytes == 0 ? 1 : max_bytes) {
  // nop
}

bool credit::take(size_t bytes) noexcept {
  auto u = units_.fetch_add(1, std::memory_order_relaxed) + 1;
  auto b = bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  if (u < max_units_ && b < max_bytes_)
    return false;
  if (paused_.exchange(true, std::memory_order_acq_rel))
    return false;
  pauses_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool credit::try_take(size_t bytes) noexcept {
  auto u = units_.fetch_add(1, std::memory_order_relaxed) + 1;
  auto b = bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  if (u <= max_units_ && b <= max_bytes_)
    return true;
  units_.fetch_sub(1, std::memory_order_relaxed);
  bytes_.fetch_sub(bytes, std::memory_order_relaxed);
  pauses_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void credit::give(size_t bytes, size_t units) noexcept {
  auto u = units_.fetch_sub(units, std::memory_order_relaxed) - units;
  auto b = bytes_.fetch_sub(bytes, std::memory_order_relaxed) - bytes;
  // Resume at the low marks (half the bounds): no pause/resume ping-pong.
  if (!paused_.load(std::memory_order_acquire) || u > max_units_ / 2 || b > max_bytes_ / 2)
    return;
  if (!paused_.exchange(false, std::memory_order_acq_rel))
    return;
  std::function<void()> hook;
  {
    std::lock_guard<std::mutex> guard{hook_mutex_};
    hook = resume_;
  }
  if (hook)
    hook();
}

void credit::on_resume(std::function<void()> hook) {
  std::lock_guard<std::mutex> guard{hook_mutex_};
  resume_ = std::move(hook);
}

flow_ticket::flow_ticket(std::shared_ptr<credit> c, size_t bytes, size_t units) {
  auto raw = c.get();
  unit_ = std::shared_ptr<void>(raw, [owner = std::move(c), bytes, units](void*) {
    owner->give(bytes, units);
  });
}

} // namespace phx::transport
