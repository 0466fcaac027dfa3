#pragma once

// The scheduler of a test run: ctest runs each suite that makes its own actor
// systems twice, on CAF's worker threads and (PHX_TEST_SCHEDULER=io, the
// `_io` tests) on phx's io threads.

#include <cstdlib>
#include <string>

#include <caf/actor_system_config.hpp>

#include "phx/transport/io_scheduler.hpp"

namespace phx_test {

/// True in the runs that put the actors on the io threads.
inline bool io_scheduler_run() {
  const char* value = std::getenv("PHX_TEST_SCHEDULER");
  return value != nullptr && std::string{value} == "io";
}

/// Gives `cfg` the io scheduler in the io runs; else calls `otherwise(cfg)`.
template <class F>
void apply_test_scheduler(caf::actor_system_config& cfg, F otherwise) {
  if (io_scheduler_run())
    phx::transport::use_io_scheduler(cfg);
  else
    otherwise(cfg);
}

/// The same, with CAF's default scheduler otherwise.
inline void apply_test_scheduler(caf::actor_system_config& cfg) {
  apply_test_scheduler(cfg, [](caf::actor_system_config&) {});
}

} // namespace phx_test
