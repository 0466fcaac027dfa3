#include "phx/presence.hpp"

#include <mutex>

namespace phx {

/// The tracker and the channel bindings feeding it. The tracker is used from
/// the channel's callbacks and from user threads: a mutex guards it, and user
/// callbacks run after it is released (a callback may call `list`, and a
/// thread holding its own lock may call `list` meanwhile).
struct presence::impl {
  std::mutex mutex;
  protocol::presence_tracker tracker;
  phx::channel channel;
  std::string state_event;
  std::string diff_event;
  uint64_t state_ref = 0;
  uint64_t diff_ref = 0;
  using join_fn = std::function<void(const std::string&, const presence_entry*,
                                     const presence_entry&)>;
  using leave_fn = std::function<void(const std::string&, const presence_entry&,
                                      const presence_entry&)>;
  join_fn on_join;
  leave_fn on_leave;
  std::function<void()> on_sync;
  /// The socket's logger: where a malformed presence payload is reported.
  phx::logger log;

  explicit impl(phx::channel ch)
    : channel(std::move(ch)),
      log(channel.core() ? detail::logger_of(*channel.core()) : phx::logger{}) {}

  void handle(const message& msg, bool is_state, const std::string& join_ref) {
    std::optional<std::string> jr;
    if (!join_ref.empty())
      jr = join_ref;
    // What happened, replayed to the user's callbacks once the lock is released.
    std::vector<std::function<void()>> calls;
    std::optional<protocol::error> failed;
    {
      std::lock_guard<std::mutex> guard{mutex};
      auto join = on_join;
      auto leave = on_leave;
      auto sync = on_sync;
      tracker.on_join = [&](const std::string& key, const presence_entry* current,
                            const presence_entry& joined) {
        if (!join)
          return;
        std::optional<presence_entry> before;
        if (current)
          before = *current;
        calls.emplace_back([join, key, before, joined] {
          join(key, before ? &*before : nullptr, joined);
        });
      };
      tracker.on_leave = [&](const std::string& key, const presence_entry& current,
                             const presence_entry& left) {
        if (leave)
          calls.emplace_back([leave, key, current, left] { leave(key, current, left); });
      };
      tracker.on_sync = [&] {
        if (sync)
          calls.emplace_back(sync);
      };
      // A malformed payload leaves the state as it was; the tracker says why.
      if (msg.payload.is_binary())
        failed = protocol::make_error(protocol::errc::invalid_presence,
                                      "the payload is binary, not JSON");
      else if (is_state)
        failed = tracker.handle_state(msg.payload.json_shared(), jr);
      else
        failed = tracker.handle_diff(msg.payload.json_shared(), jr);
      tracker.on_join = nullptr;
      tracker.on_leave = nullptr;
      tracker.on_sync = nullptr;
    }
    // Reported once, outside the lock (a sink may call back into user code).
    if (failed)
      log.warning("presence", "dropping a malformed " + msg.event + " on " + msg.topic + ": "
                                + failed->to_string());
    for (auto& call : calls)
      call();
  }
};

presence::presence(const phx::channel& ch, std::string state_event, std::string diff_event)
  : impl_(std::make_shared<impl>(ch)) {
  impl_->state_event = std::move(state_event);
  impl_->diff_event = std::move(diff_event);
  std::weak_ptr<impl> weak = impl_;
  using binding = std::function<void(const message&, const std::string&)>;
  impl_->state_ref = impl_->channel.on(impl_->state_event,
                                       binding{[weak](const message& m, const std::string& jr) {
                                         if (auto self = weak.lock())
                                           self->handle(m, true, jr);
                                       }});
  impl_->diff_ref = impl_->channel.on(impl_->diff_event,
                                      binding{[weak](const message& m, const std::string& jr) {
                                        if (auto self = weak.lock())
                                          self->handle(m, false, jr);
                                      }});
}

presence::~presence() {
  impl_->channel.off(impl_->state_event, impl_->state_ref);
  impl_->channel.off(impl_->diff_event, impl_->diff_ref);
}

void presence::on_join(std::function<void(const std::string&, const presence_entry*,
                                          const presence_entry&)> callback) {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  impl_->on_join = std::move(callback);
}

void presence::on_leave(std::function<void(const std::string&, const presence_entry&,
                                           const presence_entry&)> callback) {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  impl_->on_leave = std::move(callback);
}

void presence::on_sync(std::function<void()> callback) {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  impl_->on_sync = std::move(callback);
}

std::vector<std::pair<std::string, presence_entry>> presence::list() const {
  return protocol::list(snapshot(), [](const std::string& key, const presence_entry& p) {
    return std::make_pair(key, p);
  });
}

payload presence::to_payload() const {
  return payload{protocol::to_json(snapshot())};
}

size_t presence::pending_diffs() const {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  return impl_->tracker.pending_diffs();
}

protocol::presence_state presence::snapshot() const {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  return impl_->tracker.state();
}

} // namespace phx
