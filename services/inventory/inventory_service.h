// The InventoryService gRPC implementation (callback API) over an EndpointRegistry.
#ifndef LLMROUTER_SERVICES_INVENTORY_INVENTORY_SERVICE_H_
#define LLMROUTER_SERVICES_INVENTORY_INVENTORY_SERVICE_H_

#include <cstdint>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "common/log_throttle.h"
#include "llmrouter/v1/inventory.grpc.pb.h"
#include "services/inventory/endpoint_registry.h"
#include "services/inventory/health_monitor.h"
#include "services/inventory/inventory_metrics.h"
#include "services/inventory/outcome_rate_limit.h"
#include "services/inventory/write_access.h"

namespace llmrouter::inventory {

class WatchReactor;

// The delta that turns `from` into `to` (endpoints added or changed in full, ids removed).
SnapshotPtr MakeDelta(const llmrouter::v1::InventorySnapshot& from,
                      const llmrouter::v1::InventorySnapshot& to);

// What one ReportOutcomes call may bring.
struct OutcomeReportLimits {
  // Outcomes in one report; a larger report is refused whole (INVALID_ARGUMENT). Gateways send
  // at most 5000. 0: no cap.
  int64_t max_per_report = 10000;
  // Outcomes per endpoint per second, over all reporters; the rest are dropped and counted.
  // Null: no cap. Must outlive the service.
  OutcomeRateLimit* per_endpoint = nullptr;
};

// Told of the registrations and drains made through this replica's RPCs, to share them with the
// other replicas (RegistrationSync). Called after the local change succeeded; must not block.
class SharedChanges {
 public:
  virtual ~SharedChanges() = default;
  // `endpoint` as registered and normalized (id set), with its TTL (zero: none).
  virtual void Registered(const llmrouter::v1::Endpoint& endpoint, absl::Duration ttl) = 0;
  virtual void Deregistered(const std::string& id) = 0;
  virtual void Drained(const std::string& id, bool draining) = 0;
};

// Thread-safe; the registry, metrics, monitor and access must outlive the service. Without a
// monitor, outcome reports are only counted; without an access policy, writes and reports are
// open. With one, registrations and drains need the write token (and an allowed address), and
// outcome reports the reporter token (see WriteAccess); refusals are UNAUTHENTICATED or
// PERMISSION_DENIED.
class InventoryServiceImpl final : public llmrouter::v1::InventoryService::CallbackService {
 public:
  InventoryServiceImpl(EndpointRegistry& registry, InventoryMetrics& metrics,
                       HealthMonitor* monitor = nullptr, const WriteAccess* access = nullptr,
                       OutcomeReportLimits limits = {});
  ~InventoryServiceImpl() override;

  grpc::ServerUnaryReactor* RegisterEndpoint(
      grpc::CallbackServerContext* ctx, const llmrouter::v1::RegisterEndpointRequest* req,
      llmrouter::v1::RegisterEndpointResponse* resp) override;
  grpc::ServerUnaryReactor* DeregisterEndpoint(
      grpc::CallbackServerContext* ctx, const llmrouter::v1::DeregisterEndpointRequest* req,
      llmrouter::v1::DeregisterEndpointResponse* resp) override;
  grpc::ServerUnaryReactor* ListEndpoints(grpc::CallbackServerContext* ctx,
                                          const llmrouter::v1::ListEndpointsRequest* req,
                                          llmrouter::v1::ListEndpointsResponse* resp) override;
  grpc::ServerWriteReactor<llmrouter::v1::WatchInventoryResponse>* WatchInventory(
      grpc::CallbackServerContext* ctx, const llmrouter::v1::WatchInventoryRequest* req) override;
  grpc::ServerUnaryReactor* ReportOutcomes(grpc::CallbackServerContext* ctx,
                                           const llmrouter::v1::ReportOutcomesRequest* req,
                                           llmrouter::v1::ReportOutcomesResponse* resp) override;
  grpc::ServerUnaryReactor* DrainEndpoint(grpc::CallbackServerContext* ctx,
                                          const llmrouter::v1::DrainEndpointRequest* req,
                                          llmrouter::v1::DrainEndpointResponse* resp) override;

  // Shares this replica's registrations and drains through `shared` from now on (set before
  // serving; it must outlive the service).
  void ShareChangesWith(SharedChanges* shared) { shared_ = shared; }

  // Ends every open WatchInventory stream and refuses new ones, so that a server shutdown is
  // not held open by subscribers (they reconnect to another replica or later).
  void CloseWatchers();

  // Refreshes the gauges that describe the registry; runs after every change.
  void UpdateGauges(const llmrouter::v1::InventorySnapshot& snapshot);

 private:
  // OK, or the Unauthenticated / PermissionDenied status to answer (counted and logged).
  absl::Status CheckWrite(grpc::CallbackServerContext* ctx, const char* op);
  // OK, or the Unauthenticated status to answer a report with (counted, logged at most once a
  // second: a flood of refused reports must not flood the log).
  absl::Status CheckReport(grpc::CallbackServerContext* ctx);

  EndpointRegistry& registry_;
  InventoryMetrics& metrics_;
  HealthMonitor* const monitor_;
  const WriteAccess* const access_;
  const OutcomeReportLimits limits_;
  SharedChanges* shared_ = nullptr;
  LogThrottle report_denied_log_;
  LogThrottle rate_limited_log_;
  uint64_t gauge_token_;
  absl::Mutex watchers_mu_;
  absl::flat_hash_set<WatchReactor*> watchers_ ABSL_GUARDED_BY(watchers_mu_);
  bool closing_ ABSL_GUARDED_BY(watchers_mu_) = false;
};

}  // namespace llmrouter::inventory

#endif  // LLMROUTER_SERVICES_INVENTORY_INVENTORY_SERVICE_H_
