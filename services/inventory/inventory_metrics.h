// Every metric the inventory service exports, declared once.
#ifndef LLMROUTER_SERVICES_INVENTORY_INVENTORY_METRICS_H_
#define LLMROUTER_SERVICES_INVENTORY_INVENTORY_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace llmrouter::inventory {

struct InventoryMetrics {
  explicit InventoryMetrics(prometheus::Registry& registry);

  prometheus::Family<prometheus::Gauge>& endpoints;  // {health}
  prometheus::Gauge& version;
  prometheus::Gauge& watchers;
  prometheus::Counter& snapshots_sent;
  prometheus::Family<prometheus::Counter>& registrations;  // {op}
  prometheus::Counter& expired;
  prometheus::Counter& outcomes_accepted;
  prometheus::Counter& outcomes_unknown_endpoint;
  // Outcomes beyond an endpoint's per-second cap, dropped.
  prometheus::Counter& outcomes_rate_limited;
  // Whole ReportOutcomes calls refused: unauthenticated (no or a wrong reporter token),
  // too_large (more outcomes than a report may carry).
  prometheus::Counter& reports_unauthenticated;
  prometheus::Counter& reports_too_large;
  // {model}, the model of a known endpoint, so the label set is bounded by the inventory.
  prometheus::Family<prometheus::Counter>& reported_cost;
  prometheus::Family<prometheus::Counter>& probes;   // {result}
  prometheus::Family<prometheus::Counter>& scrapes;  // {result}
  prometheus::Counter& ejections;
  prometheus::Family<prometheus::Counter>& writes_denied;    // {reason}
  prometheus::Family<prometheus::Counter>& dns_resolutions;  // {result}
};

}  // namespace llmrouter::inventory

#endif  // LLMROUTER_SERVICES_INVENTORY_INVENTORY_METRICS_H_
