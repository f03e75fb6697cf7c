// Routes one request: evaluates the policy's rules in order (analysing the prompt only when a
// rule, a data-policy filter or the trace needs it: lazy_prompt_signals.h), filters the
// candidate models (tenant, capability, data policy, context, cost, quality, budget), draws a
// split, ranks by strategy, and picks an endpoint from the inventory view, with the fallback
// plan and, on request, the full trace.
#ifndef LLMROUTER_SERVICES_DECISION_ROUTER_H_
#define LLMROUTER_SERVICES_DECISION_ROUTER_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "llmrouter/v1/decision.pb.h"
#include "services/decision/compiled_policy.h"
#include "services/decision/inventory_view.h"
#include "services/decision/rollout_routes.h"
#include "services/decision/spend_ledger.h"

namespace llmrouter::decision {

struct RouterOptions {
  // A view older than this is reported stale (the decision is still made on it).
  absl::Duration stale_after = absl::Seconds(30);
  // Most fallback targets returned.
  int max_fallbacks = 4;
  // Tenants' spend; null: nobody is over a limit.
  const SpendLedger* ledger = nullptr;
  // The running rollouts' track weights, which override a model's track split; null: none.
  const RolloutRoutes* rollouts = nullptr;
};

struct PromptSnapshot;

// What a decision did that the caller counts; filled when Route is given one.
struct RouteNotes {
  std::string budget_action;  // "deny" or "downgrade" when the tenant's spending limit applied
  std::string tenant;         // the tenant as resolved
  bool shed = false;          // refused because every usable endpoint was saturated
  // Asked of Route by the caller: build the full trace even though the request did not ask for
  // explain (the decision log's sample), and say what was learned of the prompt.
  bool trace = false;
  PromptSnapshot* prompt = nullptr;
};

// Route is a pure function of its inputs apart from the views' round-robin cursors, and is
// safe to call concurrently. Errors: InvalidArgument for a malformed request or when every
// candidate model is ruled out by the request itself (context, cost, quality, capability);
// NotFound for a model the policy does not know and no rule routes; PermissionDenied for an
// unknown tenant, a denying rule, a model the tenant may not use, or a spent budget;
// Unavailable when no policy or inventory is loaded or no endpoint can serve.
absl::Status Route(const CompiledPolicy* policy, const InventoryView* view,
                   const llmrouter::v1::RouteRequestRequest& request, absl::Time now,
                   const RouterOptions& options, llmrouter::v1::RouteRequestResponse* response,
                   RouteNotes* notes = nullptr);

// Routes a request again, as the decision log kept it: with the prompt as it was analysed then
// (`known`; the request's prompt text is empty) and the trace on, on the given view and time.
// Draws not fixed by a session, user or tenant key may come out differently.
absl::Status Replay(const CompiledPolicy* policy, const InventoryView* view,
                    const llmrouter::v1::RouteRequestRequest& request, const PromptSnapshot& known,
                    absl::Time now, const RouterOptions& options,
                    llmrouter::v1::RouteRequestResponse* response);

// A new random decision id (16 hex digits).
std::string NewDecisionId();

// Estimated cost in US dollars of `prompt_tokens` in and `output_tokens` out on `model`.
double EstimateCost(const ModelSpec& model, uint32_t prompt_tokens, uint32_t output_tokens);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_ROUTER_H_
