// Active health probes and load scrapes of every endpoint, on one small thread with its own
// Asio event loop, so that no RPC thread ever waits on a backend.
#ifndef LLMROUTER_SERVICES_INVENTORY_BACKEND_PROBER_H_
#define LLMROUTER_SERVICES_INVENTORY_BACKEND_PROBER_H_

#include <memory>

#include "absl/time/time.h"
#include "common/clock.h"
#include "services/inventory/endpoint_registry.h"
#include "services/inventory/health_config.h"
#include "services/inventory/health_monitor.h"
#include "services/inventory/inventory_metrics.h"

namespace llmrouter::inventory {

// Every `tick` the prober (1) applies what the HealthMonitor has learned since the last tick —
// probe and scrape results, outcome reports, ejections running out — to the registry as one
// change (none when nothing moved), then (2) starts, without waiting for them, the probes
// (GET probe.path, 2xx = success, within probe.timeout) and scrapes (GET probe.metrics_path,
// parsed with the load mapping) that are due by each endpoint's interval. Results land in the
// monitor and reach subscribers on the next tick, so a fleet of any size costs one version per
// tick at most. Endpoints with scheme https or health_check.disabled are not probed.
//
// Start and Stop from one owning thread. The registry, monitor and metrics must outlive it.
class BackendProber {
 public:
  BackendProber(EndpointRegistry& registry, HealthMonitor& monitor, HealthConfig config,
                absl::Duration tick, InventoryMetrics& metrics,
                const Clock& clock = RealClock::Get());
  ~BackendProber();
  BackendProber(const BackendProber&) = delete;
  BackendProber& operator=(const BackendProber&) = delete;

  void Start();
  // Abandons probes in flight.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmrouter::inventory

#endif  // LLMROUTER_SERVICES_INVENTORY_BACKEND_PROBER_H_
