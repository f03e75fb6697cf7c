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
                                    .Add({{"result", "unknown_endpoint"}})) {}

}  // namespace llmrouter::inventory
