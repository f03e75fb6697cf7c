// Decides whether one compiled rule matches a request, and if not, which condition failed.
#ifndef LLMROUTER_SERVICES_DECISION_RULE_MATCHER_H_
#define LLMROUTER_SERVICES_DECISION_RULE_MATCHER_H_

#include <string>

#include "llmrouter/v1/decision.pb.h"
#include "services/decision/compiled_policy.h"
#include "services/decision/lazy_prompt_signals.h"

namespace llmrouter::decision {

// What a rule is matched against, resolved once per request.
struct MatchInput {
  const llmrouter::v1::RouteRequestRequest* request = nullptr;
  int requested_model = -1;  // catalog index, -1 when the name is not in the catalog
  absl::string_view tenant;  // the tenant as resolved (may be "default")
  absl::string_view tier;    // "interactive", "standard" or "batch", as the tenant may ask
  absl::string_view region;  // the region routing uses (tenant_scope.h's RegionFor)
  // Analysed only when a condition that reads the prompt is reached.
  LazyPromptSignals* signals = nullptr;
};

// Returns true when every condition of `rule` holds. When `failed` is not null and the rule
// does not match, it receives the first failing condition, e.g.
// "match.tenant: \"acme\" not in [beta]". Conditions are checked in a fixed order, the prompt's
// (intent, complexity, tokens, PII) last, so that a rule that fails on a cheap condition never
// has the prompt analysed. Safe to call concurrently on different inputs.
bool RuleMatches(const CompiledPolicy& policy, const CompiledRule& rule, const MatchInput& in,
                 std::string* failed);

// "interactive", "standard" or "batch" for a tier (UNSPECIFIED: empty).
absl::string_view TierName(llmrouter::v1::PriorityTier tier);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_RULE_MATCHER_H_
