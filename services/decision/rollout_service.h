// The RolloutService gRPC implementation: reads are open, actions need the admin token (they
// change runtime state, not the policy, so GitOps mode allows them).
#ifndef LLMROUTER_SERVICES_DECISION_ROLLOUT_SERVICE_H_
#define LLMROUTER_SERVICES_DECISION_ROLLOUT_SERVICE_H_

#include "llmrouter/v1/rollout.grpc.pb.h"
#include "services/decision/admin_auth.h"
#include "services/decision/rollout_controller.h"

namespace llmrouter::decision {

class RolloutServiceImpl final : public llmrouter::v1::RolloutService::CallbackService {
 public:
  RolloutServiceImpl(RolloutController& controller, const AdminAuth& admin)
      : controller_(controller), admin_(admin) {}

  grpc::ServerUnaryReactor* GetRollouts(grpc::CallbackServerContext* ctx,
                                        const llmrouter::v1::GetRolloutsRequest* req,
                                        llmrouter::v1::GetRolloutsResponse* resp) override;
  grpc::ServerUnaryReactor* ListRolloutEvents(grpc::CallbackServerContext* ctx,
                                              const llmrouter::v1::ListRolloutEventsRequest* req,
                                              llmrouter::v1::ListRolloutEventsResponse* resp) override;
  grpc::ServerUnaryReactor* PauseRollout(grpc::CallbackServerContext* ctx,
                                         const llmrouter::v1::PauseRolloutRequest* req,
                                         llmrouter::v1::PauseRolloutResponse* resp) override;
  grpc::ServerUnaryReactor* ResumeRollout(grpc::CallbackServerContext* ctx,
                                          const llmrouter::v1::ResumeRolloutRequest* req,
                                          llmrouter::v1::ResumeRolloutResponse* resp) override;
  grpc::ServerUnaryReactor* PromoteRollout(grpc::CallbackServerContext* ctx,
                                           const llmrouter::v1::PromoteRolloutRequest* req,
                                           llmrouter::v1::PromoteRolloutResponse* resp) override;
  grpc::ServerUnaryReactor* AbortRollout(grpc::CallbackServerContext* ctx,
                                         const llmrouter::v1::AbortRolloutRequest* req,
                                         llmrouter::v1::AbortRolloutResponse* resp) override;

 private:
  template <typename Request>
  absl::Status Act(grpc::CallbackServerContext* ctx, const Request& req,
                   RolloutController::Action action, llmrouter::v1::RolloutStatus* out);

  RolloutController& controller_;
  const AdminAuth& admin_;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_ROLLOUT_SERVICE_H_
