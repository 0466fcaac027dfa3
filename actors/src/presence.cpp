#include "phx/presence.hpp"

#include <mutex>

namespace phx {

/// The tracker and the channel bindings feeding it. The tracker is used from
/// the channel's callbacks and from user threads; a recursive mutex guards it
/// (a presence callback may call `list`).
struct presence::impl {
  std::recursive_mutex mutex;
  protocol::presence_tracker tracker;
  phx::channel channel;
  std::string state_event;
  std::string diff_event;
  uint64_t state_ref = 0;
  uint64_t diff_ref = 0;

  explicit impl(phx::channel ch) : channel(std::move(ch)) {}

  void handle(const message& msg, bool is_state, const std::string& join_ref) {
    std::optional<std::string> jr;
    if (!join_ref.empty())
      jr = join_ref;
    std::lock_guard<std::recursive_mutex> guard{mutex};
    // A malformed payload leaves the state as it was; the tracker says why.
    if (is_state)
      tracker.handle_state(msg.payload.json_shared(), jr);
    else
      tracker.handle_diff(msg.payload.json_shared(), jr);
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
  std::lock_guard<std::recursive_mutex> guard{impl_->mutex};
  impl_->tracker.on_join = std::move(callback);
}

void presence::on_leave(std::function<void(const std::string&, const presence_entry&,
                                           const presence_entry&)> callback) {
  std::lock_guard<std::recursive_mutex> guard{impl_->mutex};
  impl_->tracker.on_leave = std::move(callback);
}

void presence::on_sync(std::function<void()> callback) {
  std::lock_guard<std::recursive_mutex> guard{impl_->mutex};
  impl_->tracker.on_sync = std::move(callback);
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
  std::lock_guard<std::recursive_mutex> guard{impl_->mutex};
  return impl_->tracker.pending_diffs();
}

protocol::presence_state presence::snapshot() const {
  std::lock_guard<std::recursive_mutex> guard{impl_->mutex};
  return impl_->tracker.state();
}

} // namespace phx
