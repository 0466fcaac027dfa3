#pragma once

// The actor that links_test publishes: a typed ping (int -> int + 1), and an
// interface it does not have, to see CAF refuse a mismatched handle.

#include <caf/all.hpp>

namespace links_test {

/// Answers n with n + 1.
using ping_actor = caf::typed_actor<caf::replies_to<int>::with<int>>;

/// An interface no published actor has.
using other_actor = caf::typed_actor<caf::replies_to<std::string>::with<std::string>>;

/// The behaviour of ping_actor.
inline ping_actor::behavior_type ping_impl() {
  return {[](int n) { return n + 1; }};
}

} // namespace links_test
