// The InventoryService gRPC implementation (callback API) over an EndpointRegistry.
#ifndef LLMROUTER_SERVICES_INVENTORY_INVENTORY_SERVICE_H_
#define LLMROUTER_SERVICES_INVENTORY_INVENTORY_SERVICE_H_

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "llmrouter/v1/inventory.grpc.pb.h"
#include "services/inventory/endpoint_registry.h"
#include "services/inventory/inventory_metrics.h"

namespace llmrouter::inventory {

class WatchReactor;

// Thread-safe; the registry and metrics must outlive the service.
class InventoryServiceImpl final : public llmrouter::v1::InventoryService::CallbackService {
 public:
  InventoryServiceImpl(EndpointRegistry& registry, InventoryMetrics& metrics);
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

  // Ends every open WatchInventory stream and refuses new ones, so that a server shutdown is
  // not held open by subscribers (they reconnect to another replica or later).
  void CloseWatchers();

  // Refreshes the gauges that describe the registry; runs after every change.
  void UpdateGauges(const llmrouter::v1::InventorySnapshot& snapshot);

 private:
  EndpointRegistry& registry_;
  InventoryMetrics& metrics_;
  uint64_t gauge_token_;
  absl::Mutex watchers_mu_;
  absl::flat_hash_set<WatchReactor*> watchers_ ABSL_GUARDED_BY(watchers_mu_);
  bool closing_ ABSL_GUARDED_BY(watchers_mu_) = false;
};

}  // namespace llmrouter::inventory

#endif  // LLMROUTER_SERVICES_INVENTORY_INVENTORY_SERVICE_H_
