// `routerctl rollout status|history|pause|resume|promote|abort`: the rollouts the active bundle
// declares, as decision runs them (docs/policies.md, "Rollouts").
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "tools/routerctl/output_format.h"
#include "tools/routerctl/routerctl_session.h"
#include "tools/routerctl/text_table.h"

namespace llmrouter::routerctl {

namespace v1 = llmrouter::v1;

namespace {

std::string StateName(v1::RolloutState state) {
  switch (state) {
    case v1::ROLLOUT_STATE_PROGRESSING: return "progressing";
    case v1::ROLLOUT_STATE_PAUSED: return "paused";
    case v1::ROLLOUT_STATE_COMPLETED: return "completed";
    case v1::ROLLOUT_STATE_ROLLED_BACK: return "rolled back";
    case v1::ROLLOUT_STATE_ABORTED: return "aborted";
    case v1::ROLLOUT_STATE_REFUSED: return "refused";
    default: return "pending";
  }
}

std::string Figures(const v1::VariantFigures& f) {
  if (f.requests() == 0) return "no requests";
  return absl::StrFormat("%d req, %.1f%% errors, p95 %.3gs, ttft p95 %.3gs", f.requests(),
                         100 * f.error_rate(), f.p95_latency_seconds(), f.p95_ttft_seconds());
}

std::string When(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ", FromProto(ts), absl::UTCTimeZone());
}

std::string FormatRollouts(const v1::GetRolloutsResponse& resp) {
  if (resp.rollouts_size() == 0) return "the active bundle declares no rollout\n";
  std::string out;
  for (const v1::RolloutStatus& r : resp.rollouts()) {
    absl::StrAppend(&out, "rollout ", r.name(), " of model ", r.model(), " (tracks ",
                    r.stable_track(), " -> ", r.canary_track(), ")\n");
    TextTable t({"field", "value"}, "  ");
    t.AddRow({"state", absl::StrCat(StateName(r.state()),
                                    r.operator_paused() ? " (by an operator)" : "")});
    t.AddRow({"step", absl::StrCat(r.step() + 1, " of ", r.steps())});
    t.AddRow({"canary weight", absl::StrCat(r.canary_weight(), "%")});
    t.AddRow({"reason", r.reason().empty() ? "-" : r.reason()});
    t.AddRow({"canary", absl::StrCat(r.canary().track().empty() ? r.canary_track()
                                                                : r.canary().track(),
                                     ": ", Figures(r.canary()))});
    t.AddRow({"stable", absl::StrCat(r.stable().track().empty() ? r.stable_track()
                                                                : r.stable().track(),
                                     ": ", Figures(r.stable()))});
    t.AddRow({"started", When(r.started_at())});
    t.AddRow({"step started", When(r.step_started_at())});
    t.AddRow({"judged by", r.actor().empty() ? "-" : r.actor()});
    t.AddRow({"version", absl::StrCat(r.version())});
    absl::StrAppend(&out, t.Render());
  }
  return out;
}

std::string FormatEvents(const v1::ListRolloutEventsResponse& resp) {
  if (resp.events_size() == 0) return "no events\n";
  TextTable t({"TIME", "EVENT", "STEP", "WEIGHT", "BY", "REASON"});
  for (const v1::RolloutEvent& e : resp.events()) {
    t.AddRow({When(e.time()), e.kind(),
              e.from_step() == e.to_step() ? absl::StrCat(e.to_step() + 1)
                                           : absl::StrCat(e.from_step() + 1, "->", e.to_step() + 1),
              absl::StrCat(e.canary_weight(), "%"), e.actor(), e.reason()});
  }
  return t.Render();
}

}  // namespace

int RouterctlSession::RolloutStatus(const std::vector<std::string>& args) {
  v1::GetRolloutsRequest req;
  if (!args.empty()) req.set_name(args[0]);
  v1::GetRolloutsResponse resp;
  if (!Call(clients_.rollout(), &v1::RolloutService::Stub::GetRollouts, req, &resp)) {
    return kExitFailure;
  }
  out_ << (json_ ? ToJson(resp) : FormatRollouts(resp));
  return kExitOk;
}

int RouterctlSession::RolloutHistory(const std::vector<std::string>& args) {
  auto limit = cl_.GetUint("limit");
  if (!limit.ok()) return LocalError(limit.status());
  v1::ListRolloutEventsRequest req;
  req.set_name(args[0]);
  req.set_limit(static_cast<uint32_t>(std::min<uint64_t>(limit->value_or(20), 1000)));
  v1::ListRolloutEventsResponse resp;
  if (!Call(clients_.rollout(), &v1::RolloutService::Stub::ListRolloutEvents, req, &resp)) {
    return kExitFailure;
  }
  out_ << (json_ ? ToJson(resp) : FormatEvents(resp));
  return kExitOk;
}

template <typename Request, typename Response>
int RouterctlSession::RolloutAction(
    const std::vector<std::string>& args,
    grpc::Status (v1::RolloutService::Stub::*method)(grpc::ClientContext*, const Request&,
                                                     Response*)) {
  Request req;
  req.set_name(args[0]);
  req.set_reason(cl_.Get("reason").value_or(""));
  // With --expected_version (the version `rollout status` showed), decision refuses the action
  // when the rollout moved since, e.g. promoted by its analysis meanwhile.
  auto version = cl_.GetUint("expected_version");
  if (!version.ok()) return LocalError(version.status());
  req.set_expected_version(version->value_or(0));
  Response resp;
  if (!Call(clients_.rollout(), method, req, &resp)) return kExitFailure;
  if (json_) {
    out_ << ToJson(resp.rollout());
  } else {
    v1::GetRolloutsResponse shown;
    *shown.add_rollouts() = resp.rollout();
    out_ << FormatRollouts(shown);
  }
  return kExitOk;
}

int RouterctlSession::RolloutPause(const std::vector<std::string>& args) {
  return RolloutAction(args, &v1::RolloutService::Stub::PauseRollout);
}
int RouterctlSession::RolloutResume(const std::vector<std::string>& args) {
  return RolloutAction(args, &v1::RolloutService::Stub::ResumeRollout);
}
int RouterctlSession::RolloutPromote(const std::vector<std::string>& args) {
  return RolloutAction(args, &v1::RolloutService::Stub::PromoteRollout);
}
int RouterctlSession::RolloutAbort(const std::vector<std::string>& args) {
  return RolloutAction(args, &v1::RolloutService::Stub::AbortRollout);
}

}  // namespace llmrouter::routerctl
