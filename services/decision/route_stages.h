// The stages of one routing decision (router.cc's Route), each a function of the request's
// RouteState, in this order:
//
//   ResolveRequester   who sent it: tenant, tier and region, as its policy lets it ask
//   ChooseRule         the first rule that matches (a denying rule ends here)
//   GatherCandidates   the rule's models (a drawn split entry first), else the requested model,
//                      then the fallback chain
//   ApplyFilters       what the tenant, the prompt, the constraints and the budget rule out
//   RankCandidates     the rule's own candidates in its strategy's order
//   PickEndpoints      endpoints, model by model, from the inventory view
//   RefuseWhenShed     a shed tier is refused when every usable endpoint is saturated
//   FillAnswer         the choice, the fallback plan and the trace's last entries
//
// Internal to decision: separate from router.cc so that each stage is tested on its own
// (tests/unit/decision/route_stages_test.cc).
#ifndef LLMROUTER_SERVICES_DECISION_ROUTE_STAGES_H_
#define LLMROUTER_SERVICES_DECISION_ROUTE_STAGES_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "llmrouter/v1/decision.pb.h"
#include "services/decision/compiled_policy.h"
#include "services/decision/endpoint_selector.h"
#include "services/decision/inventory_view.h"
#include "services/decision/lazy_prompt_signals.h"
#include "services/decision/rollout_routes.h"
#include "services/decision/spend_ledger.h"
#include "services/decision/tenant_scope.h"

namespace llmrouter::decision {

struct RouteNotes;

// A candidate that no filter has eliminated.
inline constexpr llmrouter::v1::CandidateStage kKept = llmrouter::v1::CANDIDATE_STAGE_UNSPECIFIED;

struct ModelCandidate {
  int model = -1;         // catalog index
  bool fallback = false;  // from the fallback chain rather than the rule's candidates
  llmrouter::v1::CandidateStage stage = kKept;
  double cost = 0;
  double score = 0;
  std::string detail;  // filled only when tracing
};
using ModelCandidates = absl::InlinedVector<ModelCandidate, 8>;
// Endpoints in the order they are tried, each with the candidate model it serves.
using RouteTargets =
    absl::InlinedVector<std::pair<const llmrouter::v1::Endpoint*, const ModelCandidate*>, 16>;

// One request on its way through the stages: its inputs, and what each stage decided. The
// views point into the policy and the request, which outlive it.
struct RouteState {
  RouteState(const CompiledPolicy& policy, const llmrouter::v1::RouteRequestRequest& request,
             llmrouter::v1::RouteTrace* trace, LazyPromptSignals& signals)
      : policy(policy), bundle(policy.bundle()), req(request), trace(trace), signals(signals) {}

  const CompiledPolicy& policy;
  const PolicyBundle& bundle;
  const llmrouter::v1::RouteRequestRequest& req;
  llmrouter::v1::RouteTrace* const trace;  // null unless the request asked for explain
  LazyPromptSignals& signals;

  // ResolveRequester.
  const TenantSpec* tenant = nullptr;  // null when the bundle defines no tenants
  absl::string_view tenant_name;
  ScopedTier tier;
  ScopedRegion region;
  // ChooseRule.
  const CompiledRule* rule = nullptr;  // null: the catalog decides
  // GatherCandidates.
  ModelCandidates models;
  int drawn = -1;  // the split entry drawn; -1 without a split
  // ApplyFilters.
  Constraints constraints;
  uint32_t output_tokens = 0;
  // PickEndpoints, under a rule with tracks: the draw's point in [0, 100) (-1 until drawn) and
  // the track drawn for the first model that had endpoints on a weighted track.
  int track_point = -1;
  std::string drawn_track;
  // The running rollouts (RouterOptions::rollouts), consulted only when the bundle has any.
  const RolloutRouteMap* rollouts = nullptr;

  const std::string& rule_name() const;
};

absl::Status ResolveRequester(RouteState& s);
absl::Status ChooseRule(RouteState& s);
absl::Status GatherCandidates(RouteState& s);
// `ledger` may be null (nobody is over a limit); `notes` may be null.
absl::Status ApplyFilters(RouteState& s, const SpendLedger* ledger, RouteNotes* notes);
void RankCandidates(RouteState& s);
// How endpoints are chosen for this request: the rule's strategy, tier pools and constraints.
SelectionInput SelectionFor(const RouteState& s, absl::Time now);
// The candidates' endpoints, in order; an error naming why when there are none.
absl::Status PickEndpoints(RouteState& s, const InventoryView& view,
                           const SelectionInput& selection, RouteTargets* targets);
absl::Status RefuseWhenShed(const RouteState& s, const RouteTargets& targets, RouteNotes* notes);
// Sets the decision id, the target, at most `max_fallbacks` fallbacks, the rule, the revision,
// the cost estimate and the tenant's rate limits.
void FillAnswer(const RouteState& s, const InventoryView& view, const SelectionInput& selection,
                const RouteTargets& targets, absl::Time now, int max_fallbacks,
                llmrouter::v1::RouteRequestResponse* response);

// Records one candidate in `trace` (no-op when null).
void AddCandidate(llmrouter::v1::RouteTrace* trace, absl::string_view model,
                  absl::string_view endpoint_id, llmrouter::v1::CandidateStage stage, double score,
                  std::string detail);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_ROUTE_STAGES_H_
