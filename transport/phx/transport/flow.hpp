#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include <caf/meta/type_name.hpp>

namespace phx::transport {

/// A bound on work handed to a consumer and not yet consumed, in units and
/// bytes. Producers `take` before handing a unit over; the unit's `ticket`
/// gives it back when its last copy is destroyed (the consumer is done with
/// it). Two ways to use it:
/// - backpressure: the io side takes unconditionally and pauses reading
///   when `take` reports the bound reached; the resume hook runs once
///   consumption falls to the low mark;
/// - bounded queue: a sender uses `try_take` and drops (and counts) what
///   does not fit.
/// Thread-safe.
class credit : public std::enable_shared_from_this<credit> {
public:
  /// A bound of `max_units` and `max_bytes`; resumes below half of each.
  credit(size_t max_units, size_t max_bytes);

  /// Takes a unit of `bytes` unconditionally; true if the bound is now
  /// reached and the producer should pause (true once per pause).
  bool take(size_t bytes) noexcept;

  /// Takes a unit of `bytes` if it fits under the bound.
  bool try_take(size_t bytes) noexcept;

  /// Gives `units` units of `bytes` in all back (see `flow_ticket`).
  void give(size_t bytes, size_t units = 1) noexcept;

  /// Runs once the bound is no longer reached after a pause (any thread).
  void on_resume(std::function<void()> hook);

  /// Units and bytes taken and not given back.
  size_t units() const noexcept { return units_.load(std::memory_order_relaxed); }
  /// Bytes taken and not given back.
  size_t bytes() const noexcept { return bytes_.load(std::memory_order_relaxed); }

  /// True while the producer is paused.
  bool paused() const noexcept { return paused_.load(std::memory_order_acquire); }

  /// How often the bound was reached.
  uint64_t pauses() const noexcept { return pauses_.load(std::memory_order_relaxed); }

private:
  size_t max_units_;
  size_t max_bytes_;
  std::atomic<size_t> units_{0};
  std::atomic<size_t> bytes_{0};
  std::atomic<bool> paused_{false};
  std::atomic<uint64_t> pauses_{0};
  std::mutex hook_mutex_;
  std::function<void()> resume_;
};

/// One unit of a `credit`, handed over with the work it stands for. Copies
/// share the unit; it is given back when the last copy is destroyed. An empty
/// ticket stands for nothing (unbounded). Local only: a serialized ticket
/// arrives empty on the other node (which has its own flow control).
class flow_ticket {
public:
  flow_ticket() = default;

  /// A ticket for `units` units of `bytes` in all, already taken from `c`.
  flow_ticket(std::shared_ptr<credit> c, size_t bytes, size_t units = 1);

  /// True while the ticket holds credit.
  explicit operator bool() const noexcept { return static_cast<bool>(unit_); }

  /// Serializes as a name only: credit never crosses nodes.
  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, flow_ticket&) {
    return f(caf::meta::type_name("phx::transport::flow_ticket"));
  }

private:
  std::shared_ptr<void> unit_;
};

} // namespace phx::transport
