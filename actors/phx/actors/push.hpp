#pragma once

#include <memory>

#include <caf/typed_event_based_actor.hpp>

#include "phx/actors/actors.hpp"
#include "phx/actors/hooks.hpp"
#include "phx/actors/options.hpp"

namespace phx {

/// The state of a PUSH actor: the actor of one pending push at a time. Its
/// CHANNEL sends it the push's one outcome, with the facade's callbacks or as
/// the actor API requester's delegated request; it delivers that outcome and
/// is idle until its CHANNEL gives it the next push. A CHANNEL keeps a bounded
/// pool of idle PUSH actors (`channel_actor_state::idle_pushes`): spawning and
/// finalizing a CAF actor per push cost a fifth of a round trip's CPU (every
/// finalized actor wakes CAF's clock thread), see docs/benchmarks.md.
struct push_actor_state {
  static inline const char* name = "phx.push";

  /// Its socket's context: the logger for callbacks that throw.
  std::shared_ptr<socket_context> ctx;
};

/// The PUSH behavior.
push_actor::behavior_type
push_impl(push_actor::stateful_pointer<push_actor_state> self,
          std::shared_ptr<socket_context> ctx);

} // namespace phx
