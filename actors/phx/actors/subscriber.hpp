#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "phx/actors/logger.hpp"
#include "phx/transport/flow.hpp"

namespace phx {

/// A subscriber actor and its bounded queue: messages beyond the bound are
/// dropped and counted, so a slow subscriber never makes its sender grow.
template <class Handle>
struct subscriber {
  /// The subscriber actor.
  Handle hdl;
  /// Messages sent to it and not yet handled (the bound).
  std::shared_ptr<transport::credit> queue;
  /// Messages dropped because the queue was full.
  uint64_t dropped = 0;

  /// Subscribes `h` with a queue of `max_messages` at most.
  subscriber(Handle h, size_t max_messages)
    : hdl(std::move(h)),
      queue(std::make_shared<transport::credit>(max_messages, 256 * 1024 * 1024)) {
    // nop
  }

  /// Sends `(xs..., ticket)` if the queue has room; else counts a drop and
  /// logs the first and every 1000th (a loss is never silent). Returns
  /// whether it was sent.
  template <class Self, class... Ts>
  bool deliver(Self* self, size_t bytes, const logger& log, std::string_view component,
               Ts&&... xs) {
    if (!queue->try_take(bytes)) {
      if (dropped++ % 1000 == 0)
        log.warning(component, "a subscriber is behind: dropped "
                                 + std::to_string(dropped) + " message(s) so far");
      return false;
    }
    self->send(hdl, std::forward<Ts>(xs)..., transport::flow_ticket{queue, bytes});
    return true;
  }
};

} // namespace phx
