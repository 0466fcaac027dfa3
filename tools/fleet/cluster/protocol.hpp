#pragma once

// What the coordinator and its workers say to each other over CAF's
// middleman: the handshake (with a protocol version, since CAF's interface
// check compares signatures only), the users' start and stop events, and a
// worker's once-a-second measurements as sparse histograms.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "measure/metrics.hpp"

namespace phx::fleet::cluster {

/// The version of this protocol: a worker of another version is refused.
/// Raise it whenever a message below changes shape or meaning.
constexpr uint32_t protocol_version = 1;

/// This build (project version and protocol), shown when a worker is refused.
std::string build_id();

/// Name of the users' engine actor type, remote-spawned on each worker.
constexpr const char* users_actor_name = "phx.fleet.users";

/// Handshake: a worker asks to join (`hello_atom, hello`).
using hello_atom = caf::atom_constant<caf::atom("fchello")>;
/// A worker's measurements of one second (`report_atom, worker_report`).
using report_atom = caf::atom_constant<caf::atom("fcreport")>;
/// The run's start instant (`go_atom, int64_t unix_ns`) to an engine.
using go_atom = caf::atom_constant<caf::atom("fcgo")>;
/// Users to start or stop at their intended times (`events_atom, vector<user_event>`).
using events_atom = caf::atom_constant<caf::atom("fcevents")>;
/// The run ended: the engine replies with its last measurements and stops its users.
using finish_atom = caf::atom_constant<caf::atom("fcfinish")>;
/// INTERNAL: an engine's once-a-second timer.
using tick_atom = caf::atom_constant<caf::atom("fctick")>;
/// INTERNAL: one event's intended time came (engine).
using fire_atom = caf::atom_constant<caf::atom("fcfire")>;

/// A worker's request to join.
struct hello {
  uint32_t version = protocol_version; ///< the worker's protocol version
  std::string build;                   ///< the worker's build_id()
  double weight = 1;                   ///< its share of the users, relative to the others
  std::string host;                    ///< its host name, for reports
  int64_t pid = 0;                     ///< its process id, for messages
};

/// The coordinator's answer to `hello`.
struct welcome {
  bool accepted = false;
  std::string reason;    ///< why not, when refused
  std::string worker_id; ///< e.g. `w2`, when accepted
};

/// One user to start or stop on a worker at its intended time.
struct user_event {
  uint64_t user = 0;   ///< global user index ({{i}})
  int64_t at_ns = 0;   ///< intended time, run-relative
  uint32_t pop = 0;    ///< population index
  bool start = true;   ///< false: stop
  bool session = false; ///< leaves when its steps end (arrival phases)
};

/// A histogram in its sparse form (`histogram::sparse`).
struct wire_histogram {
  std::vector<uint64_t> buckets; ///< (index, count) pairs
  int64_t max_ns = 0;
  double sum_ns = 0;
};

/// What a worker measured in one second, with its gauges.
struct worker_report {
  std::string worker_id;
  double t_s = 0;                       ///< end of the second, run-relative
  int64_t connecting = 0, open = 0, joined = 0; ///< gauges at the end of the second
  int64_t users = 0;                    ///< users alive on the worker
  int64_t presence = -1;
  uint64_t pushes_sent = 0;
  std::vector<uint64_t> outcomes;       ///< op_kinds x outcome_kinds, row-major
  std::map<std::string, uint64_t> errors;
  std::vector<wire_histogram> latency;  ///< one per latency_kind
  std::vector<uint64_t> ended;          ///< users that ended by themselves (not to re-spawn)
};

/// Packs a second's measurements for the wire.
worker_report to_wire(const metrics_delta& d);

/// Unpacks a report; a malformed one (wrong sizes) gives an empty delta.
metrics_delta from_wire(const worker_report& r);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hello& x) {
  return f(caf::meta::type_name("phx.fleet.hello"), x.version, x.build, x.weight, x.host, x.pid);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, welcome& x) {
  return f(caf::meta::type_name("phx.fleet.welcome"), x.accepted, x.reason, x.worker_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_event& x) {
  return f(caf::meta::type_name("phx.fleet.user_event"), x.user, x.at_ns, x.pop, x.start,
           x.session);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_histogram& x) {
  return f(caf::meta::type_name("phx.fleet.histogram"), x.buckets, x.max_ns, x.sum_ns);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_report& x) {
  return f(caf::meta::type_name("phx.fleet.report"), x.worker_id, x.t_s, x.connecting, x.open,
           x.joined, x.users, x.presence, x.pushes_sent, x.outcomes, x.errors, x.latency,
           x.ended);
}

/// The coordinator as workers see it (published on --listen).
using coordinator_actor = caf::typed_actor<
  caf::replies_to<hello_atom, hello>::with<welcome>,
  caf::reacts_to<report_atom, worker_report>>;

/// A worker's users' engine (remote-spawned by the coordinator).
using users_actor = caf::typed_actor<
  caf::reacts_to<go_atom, int64_t>,
  caf::reacts_to<events_atom, std::vector<user_event>>,
  caf::replies_to<finish_atom>::with<worker_report>,
  caf::reacts_to<tick_atom>,
  caf::reacts_to<fire_atom, user_event>>;

/// Registers the fleet's message types with a config (both roles).
void add_message_types(caf::actor_system_config& cfg);

} // namespace phx::fleet::cluster
