#pragma once

// The worker role: `phx-fleet worker --coordinator HOST:PORT [--weight W]`.
// It joins the coordinator over a node link; the coordinator remote-spawns a
// users' engine ("phx.fleet.users") here, which runs the users it is given at
// their intended times and reports its measurements once a second. A lost
// coordinator makes the engine stop every user (no orphan load).

#include <cstdint>
#include <string>

#include <caf/actor_system_config.hpp>

#include "cluster/links.hpp"

namespace phx::fleet::cluster {

/// The command line of `phx-fleet worker`.
struct worker_options {
  std::string host;                 ///< the coordinator's host
  uint16_t port = 0;                ///< the coordinator's port
  double weight = 1;                ///< share of the users relative to the other workers
  links::link_options links;        ///< TLS or --insecure-links
  std::string log_level = "off";    ///< of the phx sockets
  double connect_timeout_s = 30;    ///< keep trying to reach the coordinator this long
  double grace_s = 10;              ///< time to stop the users once the coordinator is lost
  uint32_t fake_version = 0;        ///< tests only (--fake-protocol-version): 0 for the real one
  std::string histograms_out;       ///< tests only: write this worker's totals to this file
};

/// Runs a worker; returns its exit code: 0 the run ended, 2 bad usage or
/// refused (version, certificate, unreachable coordinator), 3 the coordinator
/// was lost (the users were stopped) or a signal.
int run_worker(const worker_options& opts);

/// Registers the users' engine as "phx.fleet.users" for remote spawn.
void add_users_actor_type(caf::actor_system_config& cfg);

} // namespace phx::fleet::cluster
