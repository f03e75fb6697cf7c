#include "services/decision/rollout_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"

namespace llmrouter::decision {

namespace v1 = llmrouter::v1;

namespace {

constexpr std::size_t kMaxReason = 1024;

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* RolloutServiceImpl::OnWorker(BoundedWorker& worker,
                                                       grpc::CallbackServerContext* ctx,
                                                       std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // The request and response live until Finish, which the job calls.
  const bool queued = worker.Post(
      [reactor, work = std::move(work)] { reactor->Finish(ToGrpcStatus(work())); });
  if (!queued) {
    reactor->Finish(ToGrpcStatus(
        absl::UnavailableError("the rollout store is busy with other calls; retry")));
  }
  return reactor;
}

grpc::ServerUnaryReactor* RolloutServiceImpl::GetRollouts(grpc::CallbackServerContext* ctx,
                                                          const v1::GetRolloutsRequest* req,
                                                          v1::GetRolloutsResponse* resp) {
  std::vector<v1::RolloutStatus> statuses = controller_.Statuses(req->name());
  if (!req->name().empty() && statuses.empty()) {
    return Done(ctx, absl::NotFoundError(absl::StrCat("the active bundle declares no rollout \"",
                                                      req->name().substr(0, 200), "\"")));
  }
  for (v1::RolloutStatus& s : statuses) *resp->add_rollouts() = std::move(s);
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* RolloutServiceImpl::ListRolloutEvents(
    grpc::CallbackServerContext* ctx, const v1::ListRolloutEventsRequest* req,
    v1::ListRolloutEventsResponse* resp) {
  if (req->name().empty()) return Done(ctx, absl::InvalidArgumentError("name is required"));
  // Rollout names are at most 63 bytes (bundle_rollouts.cc); a longer one names no rollout and
  // never reaches the store as a key.
  if (req->name().size() > 63) {
    return Done(ctx, absl::InvalidArgumentError("a rollout name is at most 63 bytes"));
  }
  const std::size_t limit = req->limit() == 0 ? 100 : std::min<std::size_t>(req->limit(), 1000);
  return OnWorker(read_worker_, ctx, [this, req, resp, limit]() -> absl::Status {
    absl::StatusOr<std::vector<v1::RolloutEvent>> events = controller_.Events(req->name(), limit);
    if (!events.ok()) return absl::UnavailableError(events.status().message());
    for (v1::RolloutEvent& e : *events) *resp->add_events() = std::move(e);
    return absl::OkStatus();
  });
}

template <typename Request>
grpc::ServerUnaryReactor* RolloutServiceImpl::Act(grpc::CallbackServerContext* ctx,
                                                  const Request& req,
                                                  RolloutController::Action action,
                                                  v1::RolloutStatus* out) {
  if (absl::Status s = admin_.Check(*ctx); !s.ok()) return Done(ctx, s);
  if (req.name().empty()) return Done(ctx, absl::InvalidArgumentError("name is required"));
  if (req.reason().size() > kMaxReason) {
    return Done(ctx, absl::InvalidArgumentError(
                         absl::StrCat("reason is longer than ", kMaxReason, " bytes")));
  }
  return OnWorker(action_worker_, ctx, [this, &req, action, out]() -> absl::Status {
    absl::StatusOr<v1::RolloutStatus> status =
        controller_.Act(req.name(), action, req.reason(), absl::Now(), req.expected_version());
    if (!status.ok()) return status.status();
    *out = *std::move(status);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RolloutServiceImpl::PauseRollout(grpc::CallbackServerContext* ctx,
                                                           const v1::PauseRolloutRequest* req,
                                                           v1::PauseRolloutResponse* resp) {
  return Act(ctx, *req, RolloutController::Action::kPause, resp->mutable_rollout());
}

grpc::ServerUnaryReactor* RolloutServiceImpl::ResumeRollout(grpc::CallbackServerContext* ctx,
                                                            const v1::ResumeRolloutRequest* req,
                                                            v1::ResumeRolloutResponse* resp) {
  return Act(ctx, *req, RolloutController::Action::kResume, resp->mutable_rollout());
}

grpc::ServerUnaryReactor* RolloutServiceImpl::PromoteRollout(grpc::CallbackServerContext* ctx,
                                                             const v1::PromoteRolloutRequest* req,
                                                             v1::PromoteRolloutResponse* resp) {
  return Act(ctx, *req, RolloutController::Action::kPromote, resp->mutable_rollout());
}

grpc::ServerUnaryReactor* RolloutServiceImpl::AbortRollout(grpc::CallbackServerContext* ctx,
                                                           const v1::AbortRolloutRequest* req,
                                                           v1::AbortRolloutResponse* resp) {
  return Act(ctx, *req, RolloutController::Action::kAbort, resp->mutable_rollout());
}

}  // namespace llmrouter::decision
