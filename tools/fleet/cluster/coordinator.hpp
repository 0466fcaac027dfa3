#pragma once

// The coordinator role: `phx-fleet coordinator --listen HOST:PORT --workers N
// SCENARIO.json`. The run loop of `phx-fleet run` with its users on workers:
// it publishes itself on a node link, waits for N workers, remote-spawns a
// users' engine on each, starts them at one run-relative instant, hands each
// user's start and stop to a worker (by weight), merges the workers'
// once-a-second measurements, and re-spawns a lost worker's users on the
// others (docs/fleet.md, "Running across processes and machines").

#include <cstddef>
#include <cstdint>
#include <string>

#include "cluster/links.hpp"
#include "run/engine.hpp"

namespace phx::fleet::cluster {

/// The options of `phx-fleet coordinator` besides those of `run`.
struct coordinator_options {
  std::string listen_host;   ///< empty: every address
  uint16_t listen_port = 0;
  size_t workers = 1;        ///< workers to wait for before the start
  double join_timeout_s = 60; ///< fewer workers by then: exit 3
  links::link_options links; ///< TLS or --insecure-links
};

/// The backend of a coordinator's run (for `run(opts, maker)`); the maker
/// prints why and returns null when the node cannot start (bad link files,
/// port taken).
backend_maker coordinator_backend(const coordinator_options& opts,
                                  const std::string& scenario_file);

} // namespace phx::fleet::cluster
