#include "services/inventory/inventory_metrics.h"

namespace llmrouter::inventory {

InventoryMetrics::InventoryMetrics(prometheus::Registry& r)
    : endpoints(prometheus::BuildGauge()
                    .Name("llmrouter_inventory_endpoints")
                    .Help("Endpoints known to the inventory, by health state")
                    .Register(r)),
      version(prometheus::BuildGauge()
                  .Name("llmrouter_inventory_version")
                  .Help("Current inventory version; increases on every change")
                  .Register(r)
                  .Add({})),
      watchers(prometheus::BuildGauge()
                   .Name("llmrouter_inventory_watchers")
                   .Help("Open WatchInventory streams")
                   .Register(r)
                   .Add({})),
      snapshots_sent(prometheus::BuildCounter()
                         .Name("llmrouter_inventory_snapshots_sent_total")
                         .Help("Snapshots written to WatchInventory subscribers")
                         .Register(r)
                         .Add({})),
      registrations(prometheus::BuildCounter()
                        .Name("llmrouter_inventory_registrations_total")
                        .Help("RegisterEndpoint and DeregisterEndpoint calls that succeeded, by op")
                        .Register(r)),
      expired(prometheus::BuildCounter()
                  .Name("llmrouter_inventory_endpoints_expired_total")
                  .Help("Registered endpoints removed because their heartbeat TTL passed")
                  .Register(r)
                  .Add({})),
      outcomes_accepted(prometheus::BuildCounter()
                            .Name("llmrouter_inventory_outcomes_total")
                            .Help("Outcome reports received from gateways, by result")
                            .Register(r)
                            .Add({{"result", "accepted"}})),
      outcomes_unknown_endpoint(prometheus::BuildCounter()
                                    .Name("llmrouter_inventory_outcomes_total")
                                    .Help("Outcome reports received from gateways, by result")
                                    .Register(r)
                                    .Add({{"result", "unknown_endpoint"}})),
      outcomes_rate_limited(prometheus::BuildCounter()
                                .Name("llmrouter_inventory_outcomes_total")
                                .Help("Outcome reports received from gateways, by result")
                                .Register(r)
                                .Add({{"result", "rate_limited"}})),
      reports_unauthenticated(prometheus::BuildCounter()
                                  .Name("llmrouter_inventory_reports_denied_total")
                                  .Help("ReportOutcomes calls refused whole, by reason "
                                        "(unauthenticated, too_large)")
                                  .Register(r)
                                  .Add({{"reason", "unauthenticated"}})),
      reports_too_large(prometheus::BuildCounter()
                            .Name("llmrouter_inventory_reports_denied_total")
                            .Help("ReportOutcomes calls refused whole, by reason "
                                  "(unauthenticated, too_large)")
                            .Register(r)
                            .Add({{"reason", "too_large"}})),
      reported_cost(prometheus::BuildCounter()
                        .Name("llmrouter_inventory_reported_cost_usd_total")
                        .Help("Estimated cost in US dollars of the answered requests gateways "
                              "reported, by the model of the endpoint")
                        .Register(r)),
      probes(prometheus::BuildCounter()
                 .Name("llmrouter_inventory_probes_total")
                 .Help("Active health probes of endpoints, by result (success, failure)")
                 .Register(r)),
      scrapes(prometheus::BuildCounter()
                  .Name("llmrouter_inventory_scrapes_total")
                  .Help("Scrapes of endpoints' own /metrics, by result (success, failure, "
                        "unmapped: no load metric of the mapping found)")
                  .Register(r)),
      ejections(prometheus::BuildCounter()
                    .Name("llmrouter_inventory_ejections_total")
                    .Help("Endpoints ejected as outliers from gateway outcome reports")
                    .Register(r)
                    .Add({})),
      writes_denied(prometheus::BuildCounter()
                        .Name("llmrouter_inventory_writes_denied_total")
                        .Help("Register, deregister and drain calls refused, by reason "
                              "(unauthenticated, address)")
                        .Register(r)),
      dns_resolutions(prometheus::BuildCounter()
                          .Name("llmrouter_inventory_dns_resolutions_total")
                          .Help("DNS discovery lookups, by result (success, failure)")
                          .Register(r)) {}

}  // namespace llmrouter::inventory
