#include "phx/actors/push.hpp"

#include <exception>

#include <caf/stateful_actor.hpp>

namespace phx {

namespace {

using self_ptr = push_actor::stateful_pointer<push_actor_state>;

constexpr std::string_view component = "push";

// Runs the facade's callbacks, each fenced by the gate, which reports what
// throws (on_error and the logger). A PUSH holds no state to restart: it
// serves the channel's next pushes whatever the policy.
void resolve(self_ptr self, push_hooks& hooks, push_outcome&& out) {
  hooks.resolve(std::move(out));
  for (auto& f : take_faults())
    if (!f.reported)
      self->state.ctx->options.logger.error(component, f.describe());
}

} // namespace

push_actor::behavior_type push_impl(self_ptr self, std::shared_ptr<socket_context> ctx) {
  self->state.ctx = std::move(ctx);
  return {
    // The actor API: the outcome comes as the requester's request, delegated.
    [](outcome_atom, reply& r) -> reply { return std::move(r); },
    [](outcome_atom, caf::error& err) -> caf::result<reply> { return std::move(err); },
    // The facade: the push's callbacks.
    [self](outcome_atom, reply& r, std::shared_ptr<push_hooks>& hooks) {
      resolve(self, *hooks, push_outcome{r.status, std::move(r.response), caf::error{}});
    },
    [self](outcome_atom, caf::error& err, std::shared_ptr<push_hooks>& hooks) {
      auto status = status_of(err);
      resolve(self, *hooks, push_outcome{std::move(status), protocol::payload{}, std::move(err)});
    },
  };
}

} // namespace phx
