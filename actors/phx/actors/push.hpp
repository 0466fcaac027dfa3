#pragma once

#include <memory>
#include <optional>
#include <variant>

#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "phx/actors/actors.hpp"
#include "phx/actors/hooks.hpp"

namespace phx {

/// The state of a PUSH actor: one pending push. It delivers exactly one
/// outcome (to its requester or its callbacks) and quits. Its channel sends
/// the outcome, whatever happens to the channel (see ~channel_actor_state);
/// a push is spawned lazily: it costs nothing until that outcome arrives.
struct push_actor_state {
  static inline const char* name = "phx.push";

  std::shared_ptr<push_hooks> hooks;
  /// Keeps the actor alive until its outcome even if nobody else holds it
  /// (its channel may die first); released when the actor quits.
  caf::strong_actor_ptr keep_alive;
  caf::typed_response_promise<reply> promise;
  bool requested = false;
  std::optional<std::variant<reply, caf::error>> outcome;
};

/// The PUSH behavior.
push_actor::behavior_type
push_impl(push_actor::stateful_pointer<push_actor_state> self,
          std::shared_ptr<push_hooks> hooks);

} // namespace phx
