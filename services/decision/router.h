// Routes one request: resolves the requested model through the active policy, picks an
// endpoint from the inventory view, and builds the fallback plan and (on request) the trace.
#ifndef LLMROUTER_SERVICES_DECISION_ROUTER_H_
#define LLMROUTER_SERVICES_DECISION_ROUTER_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "llmrouter/v1/decision.pb.h"
#include "services/decision/compiled_policy.h"
#include "services/decision/inventory_view.h"

namespace llmrouter::decision {

struct RouterOptions {
  // A view older than this is reported stale (the decision is still made on it).
  absl::Duration stale_after = absl::Seconds(30);
  // Most fallback targets returned.
  int max_fallbacks = 4;
};

// Route is a pure function of its inputs apart from the views' round-robin cursors, and is
// safe to call concurrently. Errors: NotFound for a model the policy does not know,
// Unavailable when no policy or inventory is loaded or no endpoint can serve.
absl::Status Route(const CompiledPolicy* policy, const InventoryView* view,
                   const llmrouter::v1::RouteRequestRequest& request, absl::Time now,
                   const RouterOptions& options, llmrouter::v1::RouteRequestResponse* response);

// A new random decision id (16 hex digits).
std::string NewDecisionId();

// Estimated prompt tokens: the caller's estimate, else about four bytes per token of the
// excerpt.
uint32_t EstimatePromptTokens(const llmrouter::v1::Prompt& prompt);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_ROUTER_H_
