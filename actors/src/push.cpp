#include "phx/actors/push.hpp"

#include <caf/system_messages.hpp>
#include <caf/actor_cast.hpp>
#include <caf/stateful_actor.hpp>

namespace phx {

namespace {

using self_ptr = push_actor::stateful_pointer<push_actor_state>;

void deliver(self_ptr self) {
  auto& st = self->state;
  if (st.hooks) {
    push_outcome out;
    if (auto r = std::get_if<reply>(&*st.outcome)) {
      out.status = r->status;
      out.response = r->response;
    } else {
      auto& err = std::get<caf::error>(*st.outcome);
      out.status = status_of(err);
      out.error = err;
    }
    st.hooks->resolve(std::move(out));
  }
  st.keep_alive = nullptr;
  if (st.requested) {
    if (auto r = std::get_if<reply>(&*st.outcome))
      st.promise.deliver(std::move(*r));
    else
      st.promise.deliver(std::get<caf::error>(*st.outcome));
  }
  self->quit();
}

// Records the first outcome; later ones are ignored (exactly one, ever).
template <class T>
caf::typed_response_promise<reply> finish(self_ptr self, T&& outcome) {
  auto& st = self->state;
  // The outcome came as the requester's delegated request: it is answered too.
  if (self->current_message_id().is_request() && !st.requested) {
    st.promise = self->make_response_promise<reply>();
    st.requested = true;
  }
  // Returned undelivered: CAF sends nothing for it (deliver() answers).
  auto rp = st.promise;
  if (st.outcome)
    return rp;
  st.outcome.emplace(std::forward<T>(outcome));
  // A request delegated to us is answered at once; callbacks run at once.
  if (st.requested || st.hooks)
    deliver(self);
  return rp;
}

} // namespace

push_actor::behavior_type push_impl(self_ptr self, std::shared_ptr<push_hooks> hooks) {
  self->state.hooks = std::move(hooks);
  self->state.keep_alive = caf::actor_cast<caf::strong_actor_ptr>(self);
  return {
    [self](get_atom) -> caf::result<reply> {
      auto& st = self->state;
      st.promise = self->make_response_promise<reply>();
      st.requested = true;
      auto rp = st.promise;
      if (st.outcome)
        deliver(self);
      return rp;
    },
    [self](outcome_atom, reply& r) { return finish(self, std::move(r)); },
    [self](outcome_atom, caf::error& err) { return finish(self, std::move(err)); },
  };
}

} // namespace phx
