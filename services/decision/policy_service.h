// The PolicyService gRPC implementation: apply, inspect, list, roll back and validate bundles.
#ifndef LLMROUTER_SERVICES_DECISION_POLICY_SERVICE_H_
#define LLMROUTER_SERVICES_DECISION_POLICY_SERVICE_H_

#include "llmrouter/v1/policy.grpc.pb.h"
#include "services/decision/active_policy.h"
#include "services/decision/decision_metrics.h"
#include "services/decision/policy_store.h"

namespace llmrouter::decision {

// Thread-safe. Writes go through ActivePolicy; reads go to the store.
class PolicyServiceImpl final : public llmrouter::v1::PolicyService::CallbackService {
 public:
  PolicyServiceImpl(ActivePolicy& policy, PolicyStore& store, DecisionMetrics& metrics)
      : policy_(policy), store_(store), metrics_(metrics) {}

  grpc::ServerUnaryReactor* ApplyBundle(grpc::CallbackServerContext* ctx,
                                        const llmrouter::v1::ApplyBundleRequest* req,
                                        llmrouter::v1::ApplyBundleResponse* resp) override;
  grpc::ServerUnaryReactor* GetRevision(grpc::CallbackServerContext* ctx,
                                        const llmrouter::v1::GetRevisionRequest* req,
                                        llmrouter::v1::GetRevisionResponse* resp) override;
  grpc::ServerUnaryReactor* ListRevisions(grpc::CallbackServerContext* ctx,
                                          const llmrouter::v1::ListRevisionsRequest* req,
                                          llmrouter::v1::ListRevisionsResponse* resp) override;
  grpc::ServerUnaryReactor* Rollback(grpc::CallbackServerContext* ctx,
                                     const llmrouter::v1::RollbackRequest* req,
                                     llmrouter::v1::RollbackResponse* resp) override;
  grpc::ServerUnaryReactor* ValidateBundle(grpc::CallbackServerContext* ctx,
                                           const llmrouter::v1::ValidateBundleRequest* req,
                                           llmrouter::v1::ValidateBundleResponse* resp) override;

 private:
  void UpdateRevisionGauge();

  ActivePolicy& policy_;
  PolicyStore& store_;
  DecisionMetrics& metrics_;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_POLICY_SERVICE_H_
