#include "services/decision/why_not.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace llmrouter::decision {

namespace v1 = llmrouter::v1;

absl::StatusOr<v1::WhyNotResponse> WhyNot(const CompiledPolicy* policy, const InventoryView* view,
                                          v1::RouteRequestRequest request, absl::string_view model,
                                          absl::Time now, const RouterOptions& options) {
  if (model.empty()) return absl::InvalidArgumentError("model is required");
  if (policy == nullptr) return absl::UnavailableError("no policy revision is active");
  v1::WhyNotResponse out;
  request.set_explain(true);
  v1::RouteRequestResponse routed;
  absl::Status status = Route(policy, view, request, now, options, &routed);
  *out.mutable_trace() = routed.trace();
  out.set_chosen_model(routed.target().model());
  out.set_rule(routed.policy_rule());
  for (const v1::RuleEvaluation& r : routed.trace().rules()) {
    if (r.matched()) out.set_rule(r.rule());
  }
  const ModelSpec* target = policy->Resolve(model);
  if (target == nullptr) {
    out.set_stage(v1::CANDIDATE_STAGE_UNKNOWN_MODEL);
    out.set_detail(absl::StrCat("\"", model, "\" is not in the policy catalog (revision ",
                                policy->revision(), ")"));
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

}  // namespace llmrouter::decision
