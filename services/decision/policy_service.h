// The PolicyService gRPC implementation: apply, inspect, list, roll back and validate bundles.
#ifndef LLMROUTER_SERVICES_DECISION_POLICY_SERVICE_H_
#define LLMROUTER_SERVICES_DECISION_POLICY_SERVICE_H_

#include <functional>

#include "llmrouter/v1/policy.grpc.pb.h"
#include "services/decision/active_policy.h"
#include "services/decision/admin_auth.h"
#include "services/decision/decision_metrics.h"
#include "services/decision/inventory_view.h"
#include "services/decision/policy_store.h"

namespace llmrouter::decision {

struct PolicyServiceOptions {
  AdminAuth admin;
  // When set, the policy file is the only source of truth (GitOps): writes answer
  // FAILED_PRECONDITION naming it.
  std::string exclusive_policy_file;
  // The live inventory view TestBundle routes over; may return null.
  std::function<std::shared_ptr<const InventoryView>()> inventory;
};

// Thread-safe. Writes (ApplyBundle, Rollback) need the admin token and go through ActivePolicy;
// reads go to the store and stay open.
class PolicyServiceImpl final : public llmrouter::v1::PolicyService::CallbackService {
 public:
  PolicyServiceImpl(ActivePolicy& policy, PolicyStore& store, DecisionMetrics& metrics,
                    PolicyServiceOptions options)
      : policy_(policy), store_(store), metrics_(metrics), options_(std::move(options)) {}

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
  grpc::ServerUnaryReactor* LintBundle(grpc::CallbackServerContext* ctx,
                                       const llmrouter::v1::LintBundleRequest* req,
                                       llmrouter::v1::LintBundleResponse* resp) override;
  grpc::ServerUnaryReactor* TestBundle(grpc::CallbackServerContext* ctx,
                                       const llmrouter::v1::TestBundleRequest* req,
                                       llmrouter::v1::TestBundleResponse* resp) override;
  grpc::ServerUnaryReactor* DiffRevisions(grpc::CallbackServerContext* ctx,
                                          const llmrouter::v1::DiffRevisionsRequest* req,
                                          llmrouter::v1::DiffRevisionsResponse* resp) override;

 private:
  void UpdateRevisionGauge();
  // InvalidArgument, located, when a rollout names a track no endpoint of its model has in the
  // live inventory (when there is one).
  absl::Status CheckRolloutTracks(const std::string& bundle) const;
  absl::Status CheckWrite(const grpc::CallbackServerContext& ctx) const;

  ActivePolicy& policy_;
  PolicyStore& store_;
  DecisionMetrics& metrics_;
  const PolicyServiceOptions options_;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_POLICY_SERVICE_H_
