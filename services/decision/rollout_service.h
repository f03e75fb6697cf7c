// The RolloutService gRPC implementation: reads are open, actions need the admin token (they
// change runtime state, not the policy, so GitOps mode allows them).
#ifndef LLMROUTER_SERVICES_DECISION_ROLLOUT_SERVICE_H_
#define LLMROUTER_SERVICES_DECISION_ROLLOUT_SERVICE_H_

#include <functional>

#include "common/bounded_worker.h"
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
  // Checks the caller and the request on the callback thread, then acts on store_worker_.
  template <typename Request>
  grpc::ServerUnaryReactor* Act(grpc::CallbackServerContext* ctx, const Request& req,
                                RolloutController::Action action,
                                llmrouter::v1::RolloutStatus* out);

  // Finishes the call with what `work` returns, run on `worker`.
  static grpc::ServerUnaryReactor* OnWorker(BoundedWorker& worker, grpc::CallbackServerContext* ctx,
                                            std::function<absl::Status()> work);

  RolloutController& controller_;
  const AdminAuth& admin_;
  // Reads of the events and actions reach the rollout store (Redis or SQLite), which can hang up
  // to its timeouts: they run on these threads, never on the gRPC callback threads that
  // decision's routing calls share. Beyond kMaxQueued waiting, callers are told to retry
  // (UNAVAILABLE). Operators' actions have a line of their own: open history reads cannot
  // crowd out an abort.
  static constexpr std::size_t kMaxQueued = 16;
  BoundedWorker read_worker_{kMaxQueued};
  BoundedWorker action_worker_{kMaxQueued};
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_ROLLOUT_SERVICE_H_
