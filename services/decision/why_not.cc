#include "services/decision/why_not.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/proto_time.h"

namespace llmrouter::decision {

namespace v1 = llmrouter::v1;

namespace {

// Reads the answer for `model` out of a decision made with the trace on (`routed`, `status`).
v1::WhyNotResponse ReadAnswer(const CompiledPolicy& policy, const v1::RouteRequestResponse& routed,
                              const absl::Status& status, absl::string_view model) {
  v1::WhyNotResponse out;
  *out.mutable_trace() = routed.trace();
  out.set_chosen_model(routed.target().model());
  out.set_rule(routed.policy_rule());
  for (const v1::RuleEvaluation& r : routed.trace().rules()) {
    if (r.matched()) out.set_rule(r.rule());
  }
  const ModelSpec* target = policy.Resolve(model);
  if (target == nullptr) {
    out.set_stage(v1::CANDIDATE_STAGE_UNKNOWN_MODEL);
    out.set_detail(absl::StrCat("\"", model, "\" is not in the policy catalog (revision ",
                                policy.revision(), ")"));
    return out;
  }
  if (status.ok() && routed.target().model() == target->name) {
    out.set_would_be_chosen(true);
    out.set_stage(v1::CANDIDATE_STAGE_SELECTED);
    out.set_detail(absl::StrCat(
        "\"", target->name, "\" would be chosen (endpoint ", routed.target().endpoint_id(), ") by ",
        out.rule().empty() ? "the catalog" : "rule \"" + out.rule() + "\""));
    // Under a rule with tracks: which track was drawn and why, and which were not.
    std::vector<std::string> tracks;
    for (const std::string& note : routed.trace().notes()) {
      if (absl::StartsWith(note, "track \"")) tracks.push_back(note);
    }
    for (const v1::CandidateEvaluation& c : routed.trace().candidates()) {
      if (c.model() == target->name && c.stage() == v1::CANDIDATE_STAGE_TRACK_NOT_DRAWN) {
        tracks.push_back(absl::StrCat("endpoint ", c.endpoint_id(), ": ", c.detail()));
      }
    }
    if (!tracks.empty()) absl::StrAppend(out.mutable_detail(), "; ", absl::StrJoin(tracks, "; "));
    return out;
  }
  // The first model-level elimination of the target, else its first endpoint-level one.
  const v1::CandidateEvaluation* model_level = nullptr;
  const v1::CandidateEvaluation* endpoint_level = nullptr;
  for (const v1::CandidateEvaluation& c : routed.trace().candidates()) {
    if (c.model() != target->name || c.stage() == v1::CANDIDATE_STAGE_SELECTED) continue;
    if (c.endpoint_id().empty() && model_level == nullptr) model_level = &c;
    if (!c.endpoint_id().empty() && endpoint_level == nullptr) endpoint_level = &c;
  }
  const v1::CandidateEvaluation* found = model_level ? model_level : endpoint_level;
  if (found != nullptr && found->stage() == v1::CANDIDATE_STAGE_FALLBACK) {
    // Usable, but another model ranks first: it is in the fallback plan.
    double chosen_score = 0;
    for (const v1::CandidateEvaluation& c : routed.trace().candidates()) {
      if (c.stage() == v1::CANDIDATE_STAGE_SELECTED) chosen_score = c.score();
    }
    out.set_stage(v1::CANDIDATE_STAGE_LOWER_SCORE);
    out.set_detail(absl::StrCat("\"", target->name, "\" ranks below \"", routed.target().model(),
                                "\" (score ", found->score(), " vs ", chosen_score,
                                "); it is in the fallback plan (", found->detail(), ")"));
    return out;
  }
  if (found != nullptr) {
    out.set_stage(found->stage());
    out.set_detail(absl::StrCat(
        found->endpoint_id().empty() ? "" : absl::StrCat("endpoint ", found->endpoint_id(), ": "),
        found->detail()));
    return out;
  }
  if (!status.ok()) {
    out.set_stage(status.code() == absl::StatusCode::kPermissionDenied
                      ? v1::CANDIDATE_STAGE_DENIED
                      : v1::CANDIDATE_STAGE_UNSPECIFIED);
    out.set_detail(std::string(status.message()));
    return out;
  }
  // The target was never a candidate: the deciding rule routes elsewhere.
  std::vector<std::string> considered;
  for (const v1::CandidateEvaluation& c : routed.trace().candidates()) {
    if (c.endpoint_id().empty() || c.stage() == v1::CANDIDATE_STAGE_SELECTED) {
      if (std::find(considered.begin(), considered.end(), c.model()) == considered.end()) {
        considered.push_back(c.model());
      }
    }
  }
  out.set_stage(v1::CANDIDATE_STAGE_NOT_IN_RULE);
  out.set_detail(absl::StrCat(out.rule() == "catalog" || out.rule().empty()
                                  ? "no rule matched; the requested model's catalog entry decides"
                                  : absl::StrCat("rule \"", out.rule(), "\" matched first"),
                              " and does not list \"", target->name,
                              "\" (candidates: ", absl::StrJoin(considered, ", "), ")"));
  return out;
}

}  // namespace

absl::StatusOr<v1::WhyNotResponse> WhyNot(const CompiledPolicy* policy, const InventoryView* view,
                                          v1::RouteRequestRequest request, absl::string_view model,
                                          absl::Time now, const RouterOptions& options) {
  if (model.empty()) return absl::InvalidArgumentError("model is required");
  if (policy == nullptr) return absl::UnavailableError("no policy revision is active");
  request.set_explain(true);
  v1::RouteRequestResponse routed;
  absl::Status status = Route(policy, view, request, now, options, &routed);
  return ReadAnswer(*policy, routed, status, model);
}

absl::StatusOr<v1::WhyNotResponse> WhyNotLogged(const CompiledPolicy* policy,
                                                const InventoryView* view,
                                                const LoggedDecision& logged,
                                                absl::string_view model, absl::Time now,
                                                const RouterOptions& options) {
  if (model.empty()) return absl::InvalidArgumentError("model is required");
  if (policy == nullptr) return absl::UnavailableError("no policy revision is active");
  const v1::DecisionRecord& record = logged.record;
  const std::string when =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", FromProto(record.time()), absl::UTCTimeZone());
  const std::string made_under = record.response().policy_sha256().empty()
                                     ? std::string("no policy")
                                     : "policy " + record.response().policy_sha256().substr(0, 12);
  if (record.trace_kept()) {
    v1::WhyNotResponse out = ReadAnswer(
        *policy, record.response(),
        absl::Status(static_cast<absl::StatusCode>(record.status_code()), record.status_message()),
        model);
    out.set_basis(absl::StrCat("the trace kept when decision ", record.decision_id(), " was made, ",
                               when, " under ", made_under, " on replica ", record.replica()));
    return out;
  }
  if (record.response().policy_sha256() != policy->content_hash()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "decision ", record.decision_id(), " kept no trace and was made under ", made_under,
        "; the active policy is ", policy->content_hash().substr(0, 12),
        ", so it cannot be replayed as it was (decisions that ask for explain, and a sample, keep "
        "their trace: --decision_log_trace_sample)"));
  }
  v1::RouteRequestResponse routed;
  const absl::Status status =
      Replay(policy, view, record.request(), logged.prompt, now, options, &routed);
  v1::WhyNotResponse out = ReadAnswer(*policy, routed, status, model);
  const std::string then = record.status_code() == 0
                               ? absl::StrCat("\"", record.response().target().model(), "\" (",
                                              record.response().target().endpoint_id(), ")")
                               : absl::StrCat("refused: ", record.status_message());
  out.set_basis(absl::StrCat(
      "decision ", record.decision_id(), " (", when, ", replica ", record.replica(),
      ") kept no trace, so it was replayed now under the same policy with the prompt as it was "
      "analysed then; endpoint health, load and spend are today's. Then it went to ",
      then, "; the replay goes to ",
      status.ok() ? absl::StrCat("\"", routed.target().model(), "\"")
                  : absl::StrCat("nothing (", status.message(), ")")));
  return out;
}

}  // namespace llmrouter::decision
