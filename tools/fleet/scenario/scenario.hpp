#pragma once

// A fleet scenario: what the JSON file says, validated (docs/fleet.md lists
// every field). Parsing names the path of the first wrong field.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

namespace phx::fleet {

/// A JSON value kept from the scenario (params, payloads), shared read-only.
using json_ptr = std::shared_ptr<const rapidjson::Document>;

/// One server to connect to; users are spread over targets round-robin.
struct target {
  /// Socket endpoint, e.g. `ws://127.0.0.1:4000/socket`.
  std::string url;
  /// Base of the admin endpoints for faults, e.g. `http://127.0.0.1:4000`
  /// (derived from `url` unless given).
  std::string admin;
};

/// Socket options shared by every user (templates expand per user).
struct socket_spec {
  std::string vsn = "2.0.0";                              ///< wire protocol version
  json_ptr params;                                        ///< connect params (templated)
  std::vector<std::pair<std::string, std::string>> headers; ///< templated values
  std::string auth_token;                                 ///< templated; empty for none
  uint32_t timeout_ms = 10000;                            ///< joins, pushes, leaves
  uint32_t heartbeat_ms = 30000;                          ///< 0 disables heartbeats
  uint32_t open_timeout_ms = 10000;                       ///< time allowed to open
  std::vector<uint32_t> reconnect_ms{1000, 2000, 5000, 10000}; ///< last step repeats
  std::vector<uint32_t> rejoin_ms{1000, 2000, 5000, 10000}; ///< last step repeats
  uint32_t reconnect_jitter_ms = 0;                       ///< random extra [0, jitter) per step
  uint32_t rejoin_jitter_ms = 0;                          ///< random extra [0, jitter) per step
};

/// How a push builds its payload.
struct payload_spec {
  /// fixed: `value` as is; tmpl: `value` with its strings expanded;
  /// random: `{"data": "<min_bytes..max_bytes random letters>"}`.
  enum class kind { fixed, tmpl, random } mode = kind::fixed;
  json_ptr value;         ///< fixed and tmpl: the object
  uint32_t min_bytes = 0; ///< random: smallest data size
  uint32_t max_bytes = 0; ///< random: largest data size
};

/// One step of a virtual user, native to Phoenix.
struct step {
  /// Which step this is.
  enum class kind { join, push, wait, leave, rejoin, think, loop, crash } what = kind::think;
  /// Path of the step in the scenario (`population[0].steps[2]`), for messages.
  std::string path;
  std::string topic;            ///< templated (join, push, wait, leave, rejoin)
  json_ptr params;              ///< join params (templated)
  std::string expect = "ok";    ///< join/push: expected status (ok, error)
  std::string event;            ///< push/wait
  payload_spec payload;         ///< push
  double rate = 0;              ///< push: pushes per second per user (open model); 0 = closed loop
  uint64_t count = 1;           ///< push: how many; 0 = until the run ends; loop: times (0 = forever)
  uint32_t timeout_ms = 0;      ///< push/wait/join timeout; 0 = the socket's
  uint32_t min_ms = 0;          ///< think: uniform in [min_ms, max_ms]
  uint32_t max_ms = 0;
  std::vector<step> steps;      ///< loop body
};

/// One arrival phase of a population.
struct phase {
  /// ramp: users from `from` to `to` over `seconds` (they stay);
  /// arrivals: `rate` new users per second for `seconds` (each leaves when
  /// its steps end); hold: nothing changes for `seconds`;
  /// ramp_down: stops users down to `to` over `seconds`.
  enum class kind { ramp, arrivals, hold, ramp_down } what = kind::hold;
  double seconds = 0; ///< length of the phase
  double from = -1;   ///< ramp: -1 for the current count
  double to = 0;      ///< ramp, ramp_down: users at the end
  double rate = 0;    ///< arrivals: users per second
};

/// Users that drop and come back.
struct churn_spec {
  double share_per_min = 0; ///< share of the population dropping per minute
  uint32_t down_ms = 1000;  ///< time between the drop and the reconnect
};

/// N virtual users running the same steps.
struct population {
  std::string name;          ///< shown in progress
  uint64_t users = 0;        ///< size: the cap of its ramps
  std::vector<phase> phases; ///< one after the other
  std::vector<step> steps;   ///< what each user does once connected
  churn_spec churn;          ///< users that drop and come back
};

/// A fault injected at a given time through the server's admin endpoints.
struct fault {
  double at_s = 0;    ///< seconds from the start
  std::string kind;   ///< disconnect_all, kill_all, disconnect, stall, broadcast
  std::string query;  ///< extra query, e.g. `user=u1`
  int target = -1;    ///< index into targets; -1 = every target
};

/// A pass/fail condition on the summary.
struct threshold {
  std::string name;   ///< e.g. `push_p99_ms` (docs/fleet.md lists them)
  double limit = 0;   ///< the bound
  bool abort_on_fail = false; ///< checked every second; a miss aborts the run (exit 3)
  double delay_s = 0;         ///< grace before `abort_on_fail` applies
  /// True for lower bounds (`min_*`), false for upper bounds.
  bool is_min() const { return name.rfind("min_", 0) == 0; }
};

/// What a fleet over several worker processes does when a worker is lost.
struct workers_spec {
  bool respawn = true;     ///< re-spawn a lost worker's users on the others
  double recovery_s = 10;  ///< the re-spawns are spread over this time after the loss
};

/// A whole scenario.
struct scenario {
  std::string name;             ///< shown in progress and summary
  std::optional<uint64_t> seed; ///< none: a random seed
  double duration_s = 0; ///< 0: the sum of the longest population's phases
  double drain_s = 2;    ///< after the end: time given to replies in flight
  std::vector<target> targets;         ///< users spread round-robin
  socket_spec socket;                  ///< shared by every user
  std::vector<population> populations; ///< the `population` array
  std::vector<fault> faults;           ///< sorted by time
  std::vector<threshold> thresholds;   ///< judged at the end
  workers_spec workers;                ///< coordinator runs: a lost worker's users

  /// Sum of the users of every population.
  uint64_t total_users() const;
  /// The run length: `duration_s`, else the longest sum of phases (at least 1 s).
  double length_s() const;
  /// Scales every population (and its phase counts) so that the users add up to `n`.
  void scale_users(uint64_t n);
};

/// A parse or validation failure: `path: what`.
struct scenario_error {
  std::string path; ///< e.g. `population[0].steps[3].rate`; empty for the whole file
  std::string what; ///< what is wrong
  /// `path: what`.
  std::string text() const { return path.empty() ? what : path + ": " + what; }
};

/// Parses and validates a scenario from JSON text.
std::pair<std::optional<scenario>, scenario_error> parse_scenario(const std::string& json_text);

/// Reads and parses a scenario file.
std::pair<std::optional<scenario>, scenario_error> load_scenario(const std::string& file);

/// Names a threshold understands (docs/fleet.md): true when `name` is known.
bool known_threshold(const std::string& name);

} // namespace phx::fleet
