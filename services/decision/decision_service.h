// The DecisionService gRPC implementation: RouteRequest and ListModels over the active policy
// and the latest inventory view.
#ifndef LLMROUTER_SERVICES_DECISION_DECISION_SERVICE_H_
#define LLMROUTER_SERVICES_DECISION_DECISION_SERVICE_H_

#include <atomic>
#include <memory>

#include "common/clock.h"
#include "llmrouter/v1/decision.grpc.pb.h"
#include "services/decision/active_policy.h"
#include "services/decision/admin_auth.h"
#include "services/decision/decision_log.h"
#include "services/decision/decision_metrics.h"
#include "services/decision/inventory_view.h"
#include "services/decision/router.h"
#include "services/decision/usage_ledger.h"
#include "services/decision/variant_windows.h"

namespace llmrouter::decision {

// Thread-safe. Requests read one policy and one inventory view each, through atomic
// shared_ptr loads; SetInventory() swaps the view without waiting for requests in flight.
class DecisionServiceImpl final : public llmrouter::v1::DecisionService::CallbackService {
 public:
  DecisionServiceImpl(ActivePolicy& policy, DecisionMetrics& metrics, RouterOptions options,
                      const Clock& clock = RealClock::Get());

  void SetInventory(std::shared_ptr<const InventoryView> view);
  std::shared_ptr<const InventoryView> inventory() const { return inventory_.load(); }

  grpc::ServerUnaryReactor* RouteRequest(grpc::CallbackServerContext* ctx,
                                         const llmrouter::v1::RouteRequestRequest* req,
                                         llmrouter::v1::RouteRequestResponse* resp) override;
  grpc::ServerBidiReactor<llmrouter::v1::RouteStreamRequest, llmrouter::v1::RouteStreamResponse>*
  RouteStream(grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* ctx,
                                       const llmrouter::v1::ListModelsRequest* req,
                                       llmrouter::v1::ListModelsResponse* resp) override;
  grpc::ServerUnaryReactor* WhyNot(grpc::CallbackServerContext* ctx,
                                   const llmrouter::v1::WhyNotRequest* req,
                                   llmrouter::v1::WhyNotResponse* resp) override;
  grpc::ServerUnaryReactor* GetDecision(grpc::CallbackServerContext* ctx,
                                        const llmrouter::v1::GetDecisionRequest* req,
                                        llmrouter::v1::GetDecisionResponse* resp) override;
  // Prices each outcome with the active catalog and records it in `usage` (when given).
  grpc::ServerUnaryReactor* ReportUsage(grpc::CallbackServerContext* ctx,
                                        const llmrouter::v1::ReportUsageRequest* req,
                                        llmrouter::v1::ReportUsageResponse* resp) override;
  void set_usage_ledger(UsageLedger* usage) { usage_ = usage; }
  // Where ReportUsage's per-track counts go (rollout analysis); null: dropped.
  void set_variant_windows(VariantWindows* variants) { variants_ = variants; }
  // Who sees whole traces and may ask WhyNot: with a configured admin token, RouteRequest
  // callers presenting it get the full trace and everyone else what their tenant's explain
  // setting allows, and WhyNot needs it. Without one (the local default), both are open to
  // gRPC callers. RouteStream and route link callers (gateways, speaking for their clients)
  // always get what the tenant's explain setting allows.
  void set_admin(const AdminAuth* admin) { admin_ = admin; }
  // The gateways' token: when configured, ReportUsage needs it (or the admin token), so that
  // nobody else can move budgets or a rollout's analysis with made-up usage.
  void set_reporter(const AdminAuth* reporter) { reporter_ = reporter; }
  // Where every decision is recorded (GetDecision, WhyNot for a past decision); null: nowhere.
  void set_decision_log(DecisionLog* log) { log_ = log; }

  // One routing decision, counted in the metrics: what RouteRequest and RouteStream answer.
  // `full_trace`: the caller may see the whole trace, whatever the tenant's explain setting.
  absl::Status RouteOne(const llmrouter::v1::RouteRequestRequest& request,
                        llmrouter::v1::RouteRequestResponse* response, bool full_trace = false);
  // Answers one call of a RouteStream batch (or of the route link) into `result`: its id and
  // either the response or the status RouteRequest would have returned.
  void AnswerCall(const llmrouter::v1::RouteCall& call, llmrouter::v1::RouteResult* result);

 private:
  ActivePolicy& policy_;
  DecisionMetrics& metrics_;
  const RouterOptions options_;
  const Clock& clock_;
  std::atomic<std::shared_ptr<const InventoryView>> inventory_;
  // True when the call may act as an operator: it carries the admin token, or none is set.
  bool IsAdmin(const grpc::CallbackServerContext& ctx) const;
  // Finishes `reactor` with PERMISSION_DENIED or UNAUTHENTICATED and returns false when an
  // admin token is set and the call does not carry it.
  bool CheckAdmin(grpc::CallbackServerContext& ctx, grpc::ServerUnaryReactor* reactor) const;

  UsageLedger* usage_ = nullptr;
  VariantWindows* variants_ = nullptr;
  const AdminAuth* admin_ = nullptr;
  const AdminAuth* reporter_ = nullptr;
  DecisionLog* log_ = nullptr;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_DECISION_SERVICE_H_
