#pragma once

// Plain-function callbacks attached to actors: the facade's way of running
// user code. Callbacks run in the context of the actor that produced the
// event and pass through the socket's gate: the callbacks of one socket never
// run concurrently. They must not block.

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/error.hpp>

#include "phx/actors/actors.hpp"

namespace phx {

/// What user code threw: which callback or user function, and the text of
/// the exception.
struct callback_fault {
  /// The callback's name as the user knows it, e.g. `on("shout")`, `on_open`,
  /// `receive("ok")`, `params`, `rejoin_after_ms`.
  std::string callback;
  /// The exception's `what()`, or "an exception of unknown type".
  std::string what;
  /// True once it went to `on_error` and the logger (reported once).
  bool reported = false;

  /// "callback 'NAME' threw: WHAT".
  std::string describe() const;
};

/// What a socket does when user code throws (socket option `callback_failure`).
enum class callback_failure : uint8_t {
  /// Catch it, report it once through `on_error` and the logger with the
  /// callback's name, and go on (the default).
  report,
  /// Report it, then restart the actor that ran it from its spec, as a
  /// supervisor restarts a crashed child: its pending pushes end with
  /// `ec::channel_crashed` (or `ec::socket_crashed`), and it rejoins
  /// (reconnects) with the backoff. Counted against `max_restarts`.
  restart,
};

/// Builds a fault record (see `fenced`).
callback_fault make_fault(const char* kind, std::string_view detail, const char* what);

/// Records a fault of user code for the calling thread (at most 16 wait;
/// the actor that ran the code takes them with `take_faults`).
void record_fault(callback_fault fault);

/// True if faults wait on this thread.
bool faults_pending() noexcept;

/// Takes the faults recorded on this thread.
std::vector<callback_fault> take_faults();

/// Runs user code `f`, named `kind` (with `detail` inside quotes, if any,
/// as in `on("shout")`): an exception is caught and recorded for this thread.
/// Returns false if it threw.
template <class F>
bool fenced(const char* kind, std::string_view detail, F&& f) noexcept {
  try {
    f();
    return true;
  } catch (const std::exception& e) {
    record_fault(make_fault(kind, detail, e.what()));
  } catch (...) {
    record_fault(make_fault(kind, detail, "an exception of unknown type"));
  }
  return false;
}

/// Serializes the callbacks of one socket (re-entrant: a callback may cause
/// another to run at once, e.g. a late `receive` hook) and fences them: an
/// exception is caught, reported once through the reporter (the socket's
/// `on_error` and logger) and recorded for the actor that ran it. Only actors
/// take the gate: user threads never hold it, so the io thread never waits
/// for one.
class callback_gate {
public:
  /// Reports a fault (set by the SOCKET: its logger and `on_error`).
  using reporter = std::function<void(callback_fault&)>;

  /// Runs callback `f`, named as for `fenced`; false if it threw.
  template <class F>
  bool run(const char* kind, std::string_view detail, F&& f) {
    std::lock_guard<std::recursive_mutex> guard{mutex_};
    struct depth_guard {
      depth_guard() { ++depth(); }
      ~depth_guard() { --depth(); }
    } in_callback;
    if (fenced(kind, detail, std::forward<F>(f)))
      return true;
    report_recorded();
    return false;
  }

  /// Runs callback `f` named `kind`; false if it threw.
  template <class F>
  bool run(const char* kind, F&& f) {
    return run(kind, std::string_view{}, std::forward<F>(f));
  }

  /// Sets who reports faults (the SOCKET does, at start).
  void set_reporter(reporter f);

  /// True while the calling thread runs a user callback (of any socket).
  static bool in_callback() noexcept { return depth() > 0; }

  /// Marks the calling thread as running a callback while `f` runs, without
  /// the gate (a late hook run by a user thread, outside the socket's order).
  template <class F>
  static void outside(F&& f) {
    struct depth_guard {
      depth_guard() { ++depth(); }
      ~depth_guard() { --depth(); }
    } in_callback;
    f();
  }

private:
  // Reports the faults recorded but not yet reported on this thread.
  void report_recorded();

  static int& depth() noexcept {
    thread_local int value = 0;
    return value;
  }
  std::recursive_mutex mutex_;
  std::mutex reporter_mutex_;
  reporter reporter_;
};

/// A thread-safe list of callbacks, each with a ref for removal. Firing takes
/// a snapshot: callbacks removed during dispatch still run once, callbacks
/// added during dispatch run from the next event on.
template <class... Args>
class callback_list {
public:
  /// The type of one callback.
  using function_type = std::function<void(Args...)>;

  /// A list whose callbacks are named `name` in fault reports.
  explicit callback_list(const char* name) : name_(name) {}

  /// Adds a callback under `ref`.
  void add(uint64_t ref, function_type f) {
    std::lock_guard<std::mutex> guard{mutex_};
    items_.emplace_back(ref, std::make_shared<function_type>(std::move(f)));
    size_.store(items_.size(), std::memory_order_release);
  }

  /// Removes the callback with `ref`; false if absent.
  bool remove(uint64_t ref) {
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto i = items_.begin(); i != items_.end(); ++i) {
      if (i->first == ref) {
        items_.erase(i);
        size_.store(items_.size(), std::memory_order_release);
        return true;
      }
    }
    return false;
  }

  /// Number of callbacks (lock-free; for skipping work on the hot path).
  size_t size() const noexcept { return size_.load(std::memory_order_acquire); }

  /// Runs every callback with `args`, each through `gate`.
  template <class... Ts>
  void fire(callback_gate& gate, Ts&&... args) {
    if (size() == 0)
      return;
    std::vector<std::shared_ptr<function_type>> snapshot;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      snapshot.reserve(items_.size());
      for (auto& item : items_)
        snapshot.push_back(item.second);
    }
    // Each callback fenced alone: one that throws does not skip the others.
    for (auto& f : snapshot)
      gate.run(name_, [&] { (*f)(args...); });
  }

private:
  const char* name_;
  mutable std::mutex mutex_;
  std::vector<std::pair<uint64_t, std::shared_ptr<function_type>>> items_;
  std::atomic<size_t> size_{0};
};

/// The callbacks of a socket (phoenix.cr's on_open/on_close/on_error/on_message).
struct socket_hooks {
  /// Runs the socket's callbacks one at a time (shared with its channels).
  std::shared_ptr<callback_gate> gate = std::make_shared<callback_gate>();
  /// Refs of callbacks: one counter per socket.
  std::atomic<uint64_t> next_ref{0};
  /// The connection opened.
  callback_list<> on_open{"on_open"};
  /// Close code and reason.
  callback_list<uint16_t, const std::string&> on_close{"on_close"};
  /// Reason and the HTTP status of a refused upgrade (0 if none).
  callback_list<const std::string&, int> on_error{"on_error"};
  /// Every decoded message.
  callback_list<const protocol::message&> on_message{"on_message"};
  /// Connection state changes (for a facade mirror).
  std::function<void(connection_state)> on_state;
  /// The supervisor replaced a SOCKET that died with a new one (for a
  /// facade, which swaps its handle). Runs on the supervisor.
  std::function<void(const socket_actor&)> on_replaced;

  /// The next ref of a callback.
  uint64_t make_ref() { return ++next_ref; }
};

/// The callbacks of a channel (bindings by event, lifecycle, state mirror).
struct channel_hooks {
  /// A binding: the message and the join_ref it came with.
  using binding = std::function<void(const protocol::message&, const std::string& join_ref)>;
  /// May replace the payload of each inbound event before dispatch.
  using transform = std::function<protocol::payload(const protocol::message&)>;

  /// Callbacks run through `g`, the socket's gate.
  explicit channel_hooks(std::shared_ptr<callback_gate> g) : gate(std::move(g)) {}

  /// The socket's gate.
  std::shared_ptr<callback_gate> gate;

  /// Adds a binding for `event`; returns its ref (consecutive from 0).
  uint64_t on(const std::string& event, binding f);

  /// Removes every binding of `event`, or only `ref`.
  void off(const std::string& event, std::optional<uint64_t> ref = std::nullopt);

  /// Runs the bindings of `msg.event` (a snapshot) through the gate.
  void dispatch(const protocol::message& msg, const std::string& join_ref);

  /// True if any binding exists for `event`.
  bool bound(const std::string& event) const;

  /// Drops every binding and callback (breaks cycles through captures).
  void clear();

  /// Sets the hook that may replace each inbound payload before dispatch.
  void set_transform(transform f);

  /// Replaces `msg`'s payload with the transform hook's result (through the
  /// gate); without a hook it returns at once, taking no lock.
  void apply_transform(protocol::message& msg);

  /// Sets the callbacks of state changes and of join outcomes (each attempt).
  void set_on_state(std::function<void(channel_state)> f);
  /// A join outcome (each attempt).
  void set_on_join(std::function<void(const reply&)> f);
  /// A join outcome with the error behind a "timeout" or "failed" status.
  void set_on_join(std::function<void(const reply&, const caf::error&)> f);

  /// Runs the state callback (through the gate), if any.
  void fire_state(channel_state s);

  /// Runs the join callback (through the gate), if any.
  void fire_join(const reply& r, const caf::error& err = caf::error{});

  /// Sets who hears that the supervisor replaced a CHANNEL that died (a
  /// facade swaps its handle). Runs on the supervisor, never in user code.
  void set_on_replaced(std::function<void(const channel_actor&)> f);

  /// Tells `on_replaced`, if set.
  void fire_replaced(const channel_actor& hdl);

  /// Records why the channel ended for good (socket stopped, crashed): what a
  /// push sent to it afterwards ends with.
  void set_end(caf::error err);

  /// Why the channel ended for good, if it did.
  caf::error end() const;

private:
  mutable std::mutex mutex_;
  transform transform_;
  std::atomic<bool> has_transform_{false};
  std::function<void(channel_state)> on_state_;
  std::function<void(const reply&, const caf::error&)> on_join_;
  std::function<void(const channel_actor&)> on_replaced_;
  caf::error end_;
  uint64_t next_binding_ = 0;
  std::vector<std::tuple<std::string, uint64_t, std::shared_ptr<binding>>> bindings_;
};

/// How a push ended, from the facade's point of view.
struct push_outcome {
  /// "ok", "error" (server replies), "timeout" (no reply in time, or the
  /// channel or socket went away) or "failed" (refused locally: buffer full,
  /// encode error, not joined; never sent).
  std::string status;
  /// The server's response ({} for timeout and failed).
  protocol::payload response;
  /// Why, for "timeout" and "failed".
  caf::error error;
};

/// A push's hooks, the usual three (ok, error, timeout) held inline: a push
/// allocates nothing for them; a fourth and later ones go to a vector.
class push_hook_list {
public:
  /// One hook: the status it waits for and its callback.
  using hook = std::pair<std::string, std::function<void(const protocol::payload&)>>;

  push_hook_list() = default;
  /// Takes over the hooks of `other`.
  push_hook_list(push_hook_list&& other) noexcept;
  /// Takes over the hooks of `other`.
  push_hook_list& operator=(push_hook_list&& other) noexcept;
  push_hook_list(const push_hook_list&) = delete;
  push_hook_list& operator=(const push_hook_list&) = delete;

  /// Appends a hook, after all earlier ones.
  void push_back(hook h);

  /// Calls `f` with each hook in the order they were added.
  template <class F>
  void for_each(F&& f) {
    for (size_t i = 0; i < size_; ++i)
      f(inline_[i]);
    for (auto& h : more_)
      f(h);
  }

  /// Drops every hook (their callbacks are destroyed here).
  void clear() noexcept;

  /// True if no hook was added.
  bool empty() const noexcept { return size_ == 0 && more_.empty(); }

private:
  static constexpr size_t inline_capacity = 3;
  std::array<hook, inline_capacity> inline_;
  size_t size_ = 0;
  std::vector<hook> more_;
};

/// The hooks and the outcome of one push (facade side). Thread-safe. A
/// recurring push (a channel's join push) takes an outcome per attempt and
/// keeps its hooks; every other push takes exactly one.
class push_hooks {
public:
  /// Hooks run through `g`; `recurring` for a join push (an outcome per attempt).
  explicit push_hooks(std::shared_ptr<callback_gate> g, bool recurring = false)
    : gate_(std::move(g)), recurring_(recurring) {}

  /// Adds a hook for a status; runs at once if that outcome already happened:
  /// in a callback, inside the socket's order; on a user thread, on that
  /// thread, outside the gate (it can never stall the socket's actors), and an
  /// exception it throws reaches the caller.
  void receive(const std::string& status, std::function<void(const protocol::payload&)> f);

  /// Records the one outcome and runs its hooks; later calls are ignored
  /// (returns false). A recurring push records every outcome.
  bool resolve(push_outcome outcome);

  /// Waits for the outcome (never call from a callback).
  push_outcome wait();

  /// Waits up to `timeout`; empty if still pending.
  std::optional<push_outcome> wait_for(std::chrono::milliseconds timeout);

  /// The outcome if there is one.
  std::optional<push_outcome> outcome() const;

private:
  std::shared_ptr<callback_gate> gate_;
  bool recurring_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<push_outcome> outcome_;
  push_hook_list hooks_;
};

/// Rides with a facade push, leave or join to its CHANNEL. The channel takes
/// the hooks when it handles the message; if the message dies unread (its
/// channel is dead), the destructor gives the push its one outcome: the
/// error the channel ended with, else `ec::channel_crashed`.
class push_guard {
public:
  /// Guards the push of `hooks` made on the channel of `channel`.
  push_guard(std::shared_ptr<push_hooks> hooks, std::shared_ptr<channel_hooks> channel)
    : hooks_(std::move(hooks)), channel_(std::move(channel)) {}
  push_guard(const push_guard&) = delete;
  push_guard& operator=(const push_guard&) = delete;
  ~push_guard();

  /// The hooks, taken by the channel that handles the message (once).
  std::shared_ptr<push_hooks> take() noexcept { return std::move(hooks_); }

private:
  std::shared_ptr<push_hooks> hooks_;
  std::shared_ptr<channel_hooks> channel_;
};

/// Maps an error outcome to its facade status: "timeout" or "failed".
std::string status_of(const caf::error& err);

} // namespace phx
