#include "services/decision/decision_metrics.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"

namespace llmrouter::decision {

DecisionMetrics::DecisionMetrics(prometheus::Registry& r)
    : routes(prometheus::BuildCounter()
                 .Name("llmrouter_decision_routes_total")
                 .Help("Routing calls (RouteRequest, and each call on a RouteStream) by result "
                       "code")
                 .Register(r)),
      route_duration(
          prometheus::BuildHistogram()
              .Name("llmrouter_decision_route_duration_seconds")
              .Help("Time to compute one routing decision, excluding the network")
              .Register(r)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.000005, 0.00001, 0.000025, 0.00005,
                                                               0.0001, 0.00025, 0.0005, 0.001,
                                                               0.0025, 0.005, 0.01})),
      route_streams_open(prometheus::BuildGauge()
                             .Name("llmrouter_decision_route_streams_open")
                             .Help("RouteStream calls open (gateways keep a few each)")
                             .Register(r)
                             .Add({})),
      route_link_connections(prometheus::BuildGauge()
                                 .Name("llmrouter_decision_route_link_connections")
                                 .Help("Gateway connections open on the route link port")
                                 .Register(r)
                                 .Add({})),
      route_link_rejected(prometheus::BuildCounter()
                              .Name("llmrouter_decision_route_link_rejected_total")
                              .Help("Route link connections decision closed on its own: over "
                                    "the connection cap, no preamble or TLS handshake in time, "
                                    "a bad preamble, certificate or frame")
                              .Register(r)),
      route_link_read_pauses(prometheus::BuildCounter()
                                 .Name("llmrouter_decision_route_link_read_pauses_total")
                                 .Help("Times a route link connection stopped being read because "
                                       "its answers waited to be written")
                                 .Register(r)
                                 .Add({})),
      stale_routes(prometheus::BuildCounter()
                       .Name("llmrouter_decision_stale_inventory_routes_total")
                       .Help("Decisions made on an inventory view older than the stale limit")
                       .Register(r)
                       .Add({})),
      fallback_model_routes(
          prometheus::BuildCounter()
              .Name("llmrouter_decision_fallback_model_routes_total")
              .Help("Decisions that chose a fallback model because the requested one had no "
                    "usable endpoint")
              .Register(r)
              .Add({})),
      inventory_connected(prometheus::BuildGauge()
                              .Name("llmrouter_decision_inventory_connected")
                              .Help("1 while the WatchInventory stream is open")
                              .Register(r)
                              .Add({})),
      inventory_version(prometheus::BuildGauge()
                            .Name("llmrouter_decision_inventory_version")
                            .Help("Version of the inventory view in use")
                            .Register(r)
                            .Add({})),
      inventory_age(prometheus::BuildGauge()
                        .Name("llmrouter_decision_inventory_age_seconds")
                        .Help("Seconds since the inventory view in use was received")
                        .Register(r)
                        .Add({})),
      inventory_endpoints(prometheus::BuildGauge()
                              .Name("llmrouter_decision_inventory_endpoints")
                              .Help("Endpoints in the inventory view in use")
                              .Register(r)
                              .Add({})),
      inventory_reconnects(prometheus::BuildCounter()
                               .Name("llmrouter_decision_inventory_stream_losses_total")
                               .Help("Times the WatchInventory stream was lost")
                               .Register(r)
                               .Add({})),
      policy_revision(prometheus::BuildGauge()
                          .Name("llmrouter_decision_policy_revision")
                          .Help("Active policy revision (0: none)")
                          .Register(r)
                          .Add({})),
      policy_info(prometheus::BuildGauge()
                      .Name("llmrouter_decision_policy_info")
                      .Help("1 for the SHA-256 of the bundle this replica runs: replicas that "
                            "run different bundles show different hashes")
                      .Register(r)),
      policy_changes(prometheus::BuildCounter()
                         .Name("llmrouter_decision_policy_changes_total")
                         .Help("Policy apply and rollback attempts, by op and result")
                         .Register(r)),
      budget_limited(prometheus::BuildCounter()
                         .Name("llmrouter_decision_budget_limited_routes_total")
                         .Help("Requests of tenants over their spending limit, by the action "
                               "their policy took (deny or downgrade)")
                         .Register(r)),
      usage_outcomes(prometheus::BuildCounter()
                         .Name("llmrouter_decision_usage_outcomes_total")
                         .Help("Usage outcomes gateways reported, by result (accepted, "
                               "unknown_model)")
                         .Register(r)) {}

void DecisionMetrics::CountRoute(absl::StatusCode code) {
  const auto index = static_cast<std::size_t>(code);
  if (index >= route_counters.size()) {
    routes.Add({{"code", absl::AsciiStrToLower(absl::StatusCodeToString(code))}}).Increment();
    return;
  }
  prometheus::Counter* counter = route_counters[index].load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Add returns the same series for the same labels, so a race here stores the same pointer.
    counter = &routes.Add({{"code", absl::AsciiStrToLower(absl::StatusCodeToString(code))}});
    route_counters[index].store(counter, std::memory_order_release);
  }
  counter->Increment();
}

void DecisionMetrics::ShowPolicy(uint64_t revision, const std::string& sha256) {
  policy_revision.Set(static_cast<double>(revision));
  std::lock_guard<std::mutex> lock(policy_mu_);
  if (sha256 == policy_info_hash_) return;
  if (policy_info_series_ != nullptr) policy_info.Remove(policy_info_series_);
  policy_info_series_ = sha256.empty() ? nullptr : &policy_info.Add({{"sha256", sha256}});
  if (policy_info_series_ != nullptr) policy_info_series_->Set(1);
  policy_info_hash_ = sha256;
}

}  // namespace llmrouter::decision
