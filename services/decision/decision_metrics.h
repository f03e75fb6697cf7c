// Every metric the decision service exports, declared once.
#ifndef LLMROUTER_SERVICES_DECISION_DECISION_METRICS_H_
#define LLMROUTER_SERVICES_DECISION_DECISION_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "absl/status/status.h"

namespace llmrouter::decision {

struct DecisionMetrics {
  explicit DecisionMetrics(prometheus::Registry& registry);

  // Shows the active policy: its revision on this replica, and its content hash as the one
  // `policy_info{sha256}` series set to 1 (the previous hash's series is removed, so replicas
  // that disagree show as distinct hashes). An empty hash means no policy.
  void ShowPolicy(uint64_t revision, const std::string& sha256);

  // Counts one RouteRequest by its result code (bounded: the canonical gRPC code names).
  void CountRoute(absl::StatusCode code);

  prometheus::Family<prometheus::Counter>& routes;  // {code}
  // CountRoute's series per code, created on first use: Family::Add hashes and locks per call.
  std::array<std::atomic<prometheus::Counter*>, 17> route_counters{};
  prometheus::Histogram& route_duration;
  prometheus::Gauge& route_streams_open;
  prometheus::Gauge& route_link_connections;
  prometheus::Family<prometheus::Counter>& route_link_rejected;  // {reason}
  prometheus::Counter& route_link_read_pauses;
  prometheus::Counter& stale_routes;
  prometheus::Counter& fallback_model_routes;
  prometheus::Gauge& inventory_connected;
  prometheus::Gauge& inventory_version;
  prometheus::Gauge& inventory_age;
  prometheus::Gauge& inventory_endpoints;
  prometheus::Counter& inventory_reconnects;
  prometheus::Gauge& policy_revision;
  prometheus::Family<prometheus::Gauge>& policy_info;       // {sha256}
  prometheus::Family<prometheus::Counter>& policy_changes;  // {op, result}
  // {tenant, action}: tenants come from the policy's own list, so the set is bounded.
  prometheus::Family<prometheus::Counter>& budget_limited;
  prometheus::Family<prometheus::Counter>& usage_outcomes;  // {result}

 private:
  std::mutex policy_mu_;
  prometheus::Gauge* policy_info_series_ = nullptr;  // guarded by policy_mu_
  std::string policy_info_hash_;                     // guarded by policy_mu_
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_DECISION_METRICS_H_
