#pragma once
// A CAF scheduler whose workers are the io threads of phx's io runtime.

#include <cstddef>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

namespace phx::transport {

/// Most messages an actor handles per activation on an io thread (CAF's
/// `scheduler.max-throughput` lowers it): then the io events of that thread
/// and the other actors get their turn.
constexpr size_t io_max_throughput = 500;

/// Makes the actor system configured by `cfg` run its actors (all but
/// detached ones) on the io threads of the process-wide `io_runtime` instead
/// of CAF's worker threads. A socket's actors and its websocketpp connection
/// then share one thread: no message between them wakes another thread, and
/// buffers are freed on the thread that allocated them. CAF's clock thread
/// stays for timers. Every actor of such a system must not block: it would
/// stall the connections of its io thread (phx's actors never block, and
/// callbacks must not). Call it before the actor system is made.
void use_io_scheduler(caf::actor_system_config& cfg);

/// What an io scheduler has done so far (for tests and tools).
struct io_scheduler_stats {
  /// Io threads it runs on.
  size_t threads = 0;
  /// Actor activations run on them.
  size_t jobs_run = 0;
  /// Activations handed over from other threads (each costs a lock and may
  /// wake the io thread; those made on an io thread cost neither).
  size_t external_jobs = 0;
};

/// The statistics of `sys`'s scheduler if it is an io scheduler, else nothing.
std::optional<io_scheduler_stats> io_scheduler_stats_of(caf::actor_system& sys);

} // namespace phx::transport
