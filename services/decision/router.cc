#include "services/decision/router.h"

#include <random>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "services/decision/lazy_prompt_signals.h"
#include "services/decision/route_stages.h"

namespace llmrouter::decision {

namespace v1 = llmrouter::v1;

std::string NewDecisionId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return absl::StrFormat("%016x", rng());
}

double EstimateCost(const ModelSpec& model, uint32_t prompt_tokens, uint32_t output_tokens) {
  return (prompt_tokens * model.input_price_per_mtok +
          output_tokens * model.output_price_per_mtok) /
         1e6;
}

namespace {

// Route's stages, for Route and Replay: `policy` is set and the request names a model.
absl::Status RouteWith(const CompiledPolicy& policy, const InventoryView* view,
                       const v1::RouteRequestRequest& req, absl::Time now,
                       const RouterOptions& options, LazyPromptSignals& signals,
                       v1::RouteTrace* trace, v1::RouteRequestResponse* response,
                       RouteNotes* notes) {
  // The prompt is analysed when a rule or filter first asks, or for the trace; whatever was
  // computed by the time Route returns is reported, on every path.
  if (trace) signals.analysis();
  absl::Cleanup fill_analysis = [&] {
    signals.Fill(response->mutable_analysis(), /*every_intent=*/trace != nullptr);
  };

  RouteState s(policy, req, trace, signals);
  std::shared_ptr<const RolloutRouteMap> rollouts;
  if (options.rollouts != nullptr && !policy.bundle().rollouts.empty()) {
    rollouts = options.rollouts->Current();
    s.rollouts = rollouts.get();
  }
  RETURN_IF_ERROR(ResolveRequester(s));
  RETURN_IF_ERROR(ChooseRule(s));
  RETURN_IF_ERROR(GatherCandidates(s));
  RETURN_IF_ERROR(ApplyFilters(s, options.ledger, notes));
  RankCandidates(s);

  if (view == nullptr) {
    return absl::UnavailableError(
        "no inventory snapshot has been received yet; is the inventory service reachable?");
  }
  const absl::Duration age = now - view->received_at();
  const bool stale = age > options.stale_after;
  if (trace && stale) {
    trace->add_notes(absl::StrCat("inventory view is stale: version ", view->version(),
                                  " received ", absl::FormatDuration(age), " ago"));
  }
  const SelectionInput selection = SelectionFor(s, now);
  RouteTargets targets;
  RETURN_IF_ERROR(PickEndpoints(s, *view, selection, &targets));
  RETURN_IF_ERROR(RefuseWhenShed(s, targets, notes));
  FillAnswer(s, *view, selection, targets, now, options.max_fallbacks, response);
  ToProto(age, response->mutable_inventory_age());
  response->set_inventory_stale(stale);
  return absl::OkStatus();
}

}  // namespace

absl::Status Route(const CompiledPolicy* policy, const InventoryView* view,
                   const v1::RouteRequestRequest& req, absl::Time now, const RouterOptions& options,
                   v1::RouteRequestResponse* response, RouteNotes* notes) {
  if (policy == nullptr) {
    return absl::UnavailableError(
        "no policy revision is active; apply a bundle with PolicyService/ApplyBundle");
  }
  if (req.model().empty()) return absl::InvalidArgumentError("model is required");
  v1::RouteTrace* trace =
      req.explain() || (notes != nullptr && notes->trace) ? response->mutable_trace() : nullptr;
  LazyPromptSignals signals(policy->analyzer(), req.prompt());
  absl::Status status =
      RouteWith(*policy, view, req, now, options, signals, trace, response, notes);
  if (notes != nullptr && notes->prompt != nullptr) *notes->prompt = signals.Snapshot();
  return status;
}

absl::Status Replay(const CompiledPolicy* policy, const InventoryView* view,
                    const v1::RouteRequestRequest& req, const PromptSnapshot& known, absl::Time now,
                    const RouterOptions& options, v1::RouteRequestResponse* response) {
  if (policy == nullptr) return absl::UnavailableError("no policy revision is active");
  if (req.model().empty()) return absl::InvalidArgumentError("model is required");
  LazyPromptSignals signals(policy->analyzer(), req.prompt(), known);
  return RouteWith(*policy, view, req, now, options, signals, response->mutable_trace(), response,
                   nullptr);
}

}  // namespace llmrouter::decision
