#include "phx/transport/io_scheduler.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/post.hpp>

#include <caf/actor_system.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/execution_unit.hpp>
#include <caf/logger.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include "io_runtime_impl.hpp"

namespace phx::transport {

namespace {

using caf::scheduler::abstract_coordinator;

/// One io thread's share of an io scheduler: the jobs (actors with messages)
/// it runs in FIFO order, in slices posted to its io_context, so that the
/// network events of that thread interleave with its actors.
class io_unit : public caf::execution_unit, public std::enable_shared_from_this<io_unit> {
public:
  io_unit(caf::actor_system& sys, io_thread& thread, size_t max_throughput)
    : caf::execution_unit(&sys), thread_(thread), max_throughput_(max_throughput) {
    // nop
  }

  /// True on this unit's io thread (inside its `io_context::run`).
  bool here() const {
    return thread_.ioc.get_executor().running_in_this_thread();
  }

  // CAF calls this with the unit of the actor that sends or spawns: usually
  // this thread, but a unit must never be touched from another one unlocked.
  void exec_later(caf::resumable* job) override {
    if (here())
      local(job);
    else
      external(job);
  }

  /// Queues a job on this unit's own thread (no lock, no wake-up).
  void local(caf::resumable* job) {
    if (stopped_) {
      drop(job);
      return;
    }
    jobs_.push_back(job);
    if (!running_ && !posted_)
      post_run();
  }

  /// Queues a job from any other thread.
  void external(caf::resumable* job) {
    bool post = false;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (!stopped_) {
        inbox_.push_back(job);
        post = !inbox_posted_;
        inbox_posted_ = true;
        job = nullptr;
      }
    }
    if (job) {
      drop(job);
      return;
    }
    external_jobs_.fetch_add(1, std::memory_order_relaxed);
    if (post)
      boost::asio::post(thread_.ioc, [self = shared_from_this()] { self->take_inbox(); });
  }

  /// Stops taking jobs and releases those still queued. On this unit's thread.
  void stop_here() {
    std::vector<caf::resumable*> left;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stopped_ = true;
      left.swap(inbox_);
    }
    left.insert(left.end(), jobs_.begin() + static_cast<std::ptrdiff_t>(head_), jobs_.end());
    jobs_.clear();
    head_ = 0;
    for (auto* job : left)
      drop(job);
    // A spawn on this thread left it holding the system's logger (a CAF
    // thread-local), and ~actor_system waits until every holder lets go.
    caf::logger::set_current_actor_system(nullptr);
  }

  /// Runs `f` on this unit's thread.
  template <class F>
  void post(F&& f) {
    boost::asio::post(thread_.ioc, std::forward<F>(f));
  }

  size_t jobs_run() const noexcept { return jobs_run_.load(std::memory_order_relaxed); }

  size_t external_jobs() const noexcept {
    return external_jobs_.load(std::memory_order_relaxed);
  }

private:
  // A job this stopped unit will not run. An actor of another system, queued
  // here because one of ours sent to it, goes to its own scheduler; ours end.
  void drop(caf::resumable* job) {
    if (job->subtype() == caf::resumable::scheduled_actor) {
      auto& home = static_cast<caf::scheduled_actor*>(job)->home_system();
      if (&home != &system()) {
        home.scheduler().enqueue(job);
        return;
      }
    }
    abstract_coordinator::cleanup_and_release(job);
  }

  void post_run() {
    posted_ = true;
    boost::asio::post(thread_.ioc, [self = shared_from_this()] {
      self->posted_ = false;
      self->run();
    });
  }

  void take_inbox() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      jobs_.insert(jobs_.end(), inbox_.begin(), inbox_.end());
      inbox_.clear();
      inbox_posted_ = false;
    }
    if (!running_)
      run();
  }

  // Runs at most a slice of the queued jobs (those they queue included), by
  // count and by time; the rest runs after the io events that became ready
  // meanwhile.
  void run() {
    struct running_guard {
      io_unit& unit;
      explicit running_guard(io_unit& u) : unit(u) { unit.running_ = true; }
      ~running_guard() {
        // Also after an exception (the io thread logs it and runs on).
        unit.running_ = false;
        if (unit.head_ < unit.jobs_.size() && !unit.posted_)
          unit.post_run();
      }
    } guard{*this};
    size_t ran = 0;
    std::chrono::steady_clock::time_point deadline{};
    while (head_ < jobs_.size() && ran < slice) {
      // Busy actors (up to max_throughput_ messages a job) can fill a slice's
      // time long before its count; the clock is read only in long slices.
      if (ran > 0 && ran % clock_every == 0) {
        auto now = std::chrono::steady_clock::now();
        if (ran == clock_every)
          deadline = now + slice_time;
        else if (now >= deadline)
          break;
      }
      auto* job = jobs_[head_++];
      ++ran;
      // Counted before it runs, so whoever it answers sees it counted; one
      // writer, hence no read-modify-write.
      jobs_run_.store(jobs_run_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      switch (job->resume(this, max_throughput_)) {
        case caf::resumable::resume_later:
          jobs_.push_back(job);
          break;
        case caf::resumable::done:
        case caf::resumable::awaiting_message:
          // The reference the queue held; the actor queues itself again.
          caf::intrusive_ptr_release(job);
          break;
        case caf::resumable::shutdown_execution_unit:
          // Only CAF's own coordinators send such jobs.
          break;
      }
    }
    if (head_ == jobs_.size()) {
      jobs_.clear();
      head_ = 0;
    } else if (head_ >= slice && head_ * 2 >= jobs_.size()) {
      jobs_.erase(jobs_.begin(), jobs_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  /// Jobs per slice before the io events of the thread get their turn.
  static constexpr size_t slice = 256;
  /// Time a slice may take after its first `clock_every` jobs.
  static constexpr std::chrono::microseconds slice_time{1000};
  /// Jobs between two looks at the clock within a slice.
  static constexpr size_t clock_every = 16;

  io_thread& thread_;
  size_t max_throughput_;
  // This unit's thread only.
  std::vector<caf::resumable*> jobs_;
  size_t head_ = 0;
  bool running_ = false;
  bool posted_ = false;
  // Written under mtx_ on this unit's thread; read there without it.
  bool stopped_ = false;
  // Shared with other threads.
  std::mutex mtx_;
  std::vector<caf::resumable*> inbox_;
  bool inbox_posted_ = false;
  std::atomic<size_t> jobs_run_{0};
  std::atomic<size_t> external_jobs_{0};
};

/// The CAF scheduler module: a job goes to the unit of the io thread it comes
/// from, or round-robin from any other thread. Timers keep CAF's clock thread.
class io_coordinator : public abstract_coordinator {
public:
  explicit io_coordinator(caf::actor_system& sys) : abstract_coordinator(sys) {
    // nop
  }

  void start() override {
    runtime_ = io_runtime::instance();
    auto& impl = runtime_->impl();
    // Bounded: one actor with a full mailbox must not hold the io thread.
    auto throughput = std::min(max_throughput_, io_max_throughput);
    for (size_t i = 0; i < impl.size(); ++i)
      units_.push_back(std::make_shared<io_unit>(system(), impl.at(i), throughput));
    num_workers_ = units_.size();
    clock_thread_ = std::thread{[this] {
      system().thread_started();
      clock_.run_dispatch_loop();
      system().thread_terminates();
    }};
    abstract_coordinator::start();
  }

  void stop() override {
    stop_actors();
    // Each unit takes no more jobs after the barrier posted behind its queue.
    for (auto& unit : units_) {
      if (unit->here()) {
        unit->stop_here();
        continue;
      }
      std::mutex mtx;
      std::condition_variable cv;
      bool done = false;
      unit->post([&, unit] {
        unit->stop_here();
        std::lock_guard<std::mutex> guard{mtx};
        done = true;
        cv.notify_all();
      });
      std::unique_lock<std::mutex> guard{mtx};
      cv.wait(guard, [&] { return done; });
    }
    clock_.cancel_dispatch_loop();
    if (clock_thread_.joinable())
      clock_thread_.join();
  }

  void enqueue(caf::resumable* job) override {
    for (auto& unit : units_)
      if (unit->here()) {
        unit->local(job);
        return;
      }
    auto i = next_worker_.fetch_add(1, std::memory_order_relaxed);
    units_[i % units_.size()]->external(job);
  }

  caf::detail::thread_safe_actor_clock& clock() noexcept override {
    return clock_;
  }

  io_scheduler_stats stats() const {
    io_scheduler_stats out;
    out.threads = units_.size();
    for (auto& unit : units_) {
      out.jobs_run += unit->jobs_run();
      out.external_jobs += unit->external_jobs();
    }
    return out;
  }

private:
  std::shared_ptr<io_runtime> runtime_;
  std::vector<std::shared_ptr<io_unit>> units_;
  caf::detail::thread_safe_actor_clock clock_;
  std::thread clock_thread_;
};

} // namespace

void use_io_scheduler(caf::actor_system_config& cfg) {
  cfg.module_factories.push_back(
    [](caf::actor_system& sys) -> caf::actor_system::module* { return new io_coordinator(sys); });
}

std::optional<io_scheduler_stats> io_scheduler_stats_of(caf::actor_system& sys) {
  if (auto* coord = dynamic_cast<io_coordinator*>(&sys.scheduler()))
    return coord->stats();
  return std::nullopt;
}

} // namespace phx::transport
