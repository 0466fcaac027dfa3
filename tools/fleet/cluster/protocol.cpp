#include "cluster/protocol.hpp"

#ifndef PHX_FLEET_VERSION
#define PHX_FLEET_VERSION "dev"
#endif

namespace phx::fleet::cluster {

std::string build_id() {
  return std::string{"phx-fleet "} + PHX_FLEET_VERSION + " protocol "
         + std::to_string(protocol_version);
}

worker_report to_wire(const metrics_delta& d) {
  worker_report r;
  r.presence = d.presence;
  r.pushes_sent = d.pushes_sent;
  for (auto& row : d.outcomes)
    r.outcomes.insert(r.outcomes.end(), row.begin(), row.end());
  r.errors = d.errors;
  for (auto& h : d.latency)
    r.latency.push_back({h.sparse(), h.max(), static_cast<double>(h.sum())});
  return r;
}

metrics_delta from_wire(const worker_report& r) {
  metrics_delta d;
  if (r.outcomes.size() != op_kinds * outcome_kinds || r.latency.size() != latency_kinds)
    return d;
  for (size_t op = 0; op < op_kinds; ++op)
    for (size_t k = 0; k < outcome_kinds; ++k)
      d.outcomes[op][k] = r.outcomes[op * outcome_kinds + k];
  for (size_t k = 0; k < latency_kinds; ++k) {
    auto& w = r.latency[k];
    d.latency[k].merge_sparse(w.buckets, w.max_ns, static_cast<long double>(w.sum_ns));
  }
  d.errors = r.errors;
  d.pushes_sent = r.pushes_sent;
  d.presence = r.presence;
  return d;
}

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<hello>("phx.fleet.hello");
  cfg.add_message_type<welcome>("phx.fleet.welcome");
  cfg.add_message_type<user_event>("phx.fleet.user_event");
  cfg.add_message_type<std::vector<user_event>>("phx.fleet.user_events");
  cfg.add_message_type<wire_histogram>("phx.fleet.histogram");
  cfg.add_message_type<worker_report>("phx.fleet.report");
  cfg.add_message_type<coordinator_actor>("phx.fleet.coordinator");
}

} // namespace phx::fleet::cluster
