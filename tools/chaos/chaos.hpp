#pragma once

// phx-chaos: many facade sockets and channels push continuously against a
// phx-server child on 127.0.0.1 while faults are injected at random (server
// disconnects and cuts, stalls, channel crashes and kicks, SIGKILL + restart
// of the server). The run is a series of cycles of load and faults, each
// ended by a quiet settle; after the last one it checks that every push had
// exactly one outcome, that every channel that was not kicked is joined again,
// and that actors, pending pushes and memory did not grow since cycle 1.

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace phx_chaos {

/// What a run does; every field has a command-line flag (see `usage`).
struct chaos_options {
  /// Time of load and faults, over all cycles (settles not included).
  uint32_t seconds = 20;
  /// Sockets, and channels per socket.
  uint32_t sockets = 4;
  uint32_t channels = 4;
  /// Seed of every random choice (faults, their timing, push kinds).
  uint64_t seed = 1;
  /// Load-and-faults time of one cycle.
  uint32_t cycle_seconds = 5;
  /// Pushes per second over all channels, and pushes in flight per channel.
  uint32_t rate = 500;
  uint32_t in_flight = 16;
  /// Bound of the quiet settle after each cycle.
  uint32_t settle_seconds = 30;
  /// Largest growth between the end of cycle 1 and the end, in KiB, of the
  /// resident set and of the bytes the allocator holds (`mallinfo2`: what
  /// stays allocated, without the noise of RSS).
  uint64_t max_rss_growth_kib = 8192;
  uint64_t max_heap_growth_kib = 2048;
  /// Print the client's warnings (stderr) and one line per fault.
  bool verbose = false;
  /// Load only, no faults: the control run that tells the faults' cost apart.
  bool no_faults = false;
};

/// Parses the command line; an error message (or "help") on failure.
std::string parse_options(int argc, char** argv, chaos_options& out);

/// The usage text.
std::string usage();

/// What a run measured. `to_json` writes the fixed fields first.
struct chaos_report {
  uint64_t pushes = 0;
  uint64_t ok = 0;
  uint64_t error = 0;
  uint64_t timeout = 0;
  uint64_t failed = 0;
  /// Pushes without an outcome after the last settle.
  uint64_t missing = 0;
  /// Outcomes beyond the first of a push.
  uint64_t duplicated = 0;
  /// Faults injected, by kind, and admin calls that failed.
  uint64_t faults = 0;
  std::map<std::string, uint64_t> faults_by_kind;
  uint64_t fault_errors = 0;
  /// Lines the sockets logged at warning or above.
  uint64_t client_warnings = 0;
  /// Times a socket opened again after its first open.
  uint64_t reconnects = 0;
  /// Join replies "ok" after each channel's first.
  uint64_t rejoins = 0;
  /// Channels closed by a `kick` (replaced by new ones).
  uint64_t kicked = 0;
  /// Channels not kicked and not joined after the last settle (must be 0).
  uint64_t not_rejoined = 0;
  /// Cycles run.
  uint32_t cycles = 0;
  /// CAF actors running, pushes pending and buffered in channels, and RSS,
  /// after cycle 1 and at the end (each measured after a settle).
  uint64_t actors_after_cycle1 = 0;
  uint64_t actors_end = 0;
  uint64_t pending_end = 0;
  uint64_t buffered_end = 0;
  uint64_t rss_after_cycle1_kib = 0;
  uint64_t rss_end_kib = 0;
  int64_t rss_growth_kib = 0;
  uint64_t heap_after_cycle1_kib = 0;
  uint64_t heap_end_kib = 0;
  int64_t heap_growth_kib = 0;
  /// Every settle reached its state within the bound.
  bool settled = true;
  /// SIGINT or SIGTERM ended the load early (the checks still ran).
  bool interrupted = false;
  /// Why the run failed (empty when it passed).
  std::vector<std::string> failures;

  /// One JSON object on one line: the fixed fields, then the others.
  std::string to_json(const chaos_options& opts) const;
};

/// Runs the chaos; progress lines go to `progress`. SIGINT and SIGTERM end
/// it early and cleanly (a second one kills). Throws `std::runtime_error` if
/// it cannot start (e.g. no phx-server).
chaos_report run_chaos(const chaos_options& opts, std::ostream& progress);

} // namespace phx_chaos
