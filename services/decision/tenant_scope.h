// What a tenant's policy lets a request ask for. Clients send hints — a priority tier
// (x-router-priority), a region (x-router-region), explain — and the policy decides how far each
// is honoured: a tier above the tenant's allowed tiers is lowered, a client's region replaces the
// gateway's only for tenants that trust their clients with it, and explain shows a tenant only
// its own part of the decision unless its policy (or the caller's admin token) allows more.
#ifndef LLMROUTER_SERVICES_DECISION_TENANT_SCOPE_H_
#define LLMROUTER_SERVICES_DECISION_TENANT_SCOPE_H_

#include "absl/strings/string_view.h"
#include "llmrouter/v1/decision.pb.h"
#include "services/decision/compiled_policy.h"

namespace llmrouter::decision {

struct ScopedTier {
  absl::string_view tier;       // "interactive", "standard" or "batch"
  absl::string_view requested;  // what the request (or the tenant's default) asked for
  bool lowered() const { return tier != requested; }
};

// The request's tier: the priority it names, else the tenant's default tier, else "standard";
// then the highest of the tenant's allowed tiers that is not above it (the lowest allowed tier
// when every allowed tier is above it). `tenant` may be null (no tenants defined). The views
// point into `tenant` or static storage.
ScopedTier TierFor(const TenantSpec* tenant, llmrouter::v1::PriorityTier priority);

struct ScopedRegion {
  absl::string_view region;     // the region routing uses
  bool client_ignored = false;  // the client asked for another region and is not trusted to
};

// `request.client_region()` for tenants that trust their clients with it, else
// `request.region()` (the gateway's own). The views point into `request`.
ScopedRegion RegionFor(const TenantSpec* tenant, const llmrouter::v1::RouteRequestRequest& request);

// Reduces `trace` to what a caller of `tenant` may see (explain: own): the rules that apply to
// every tenant or name this one, with a header condition's expected value left out, and the
// candidates of model level plus the chosen endpoint and fallbacks. Another tenant's name,
// rule or header secret never appears. `tenant` may be null (no tenants defined).
void LimitTraceToTenant(const CompiledPolicy& policy, const TenantSpec* tenant,
                        llmrouter::v1::RouteTrace* trace);

// Applies the tenant's explain setting to a routed response: keeps the whole trace for an
// admin caller or explain: full, limits it for explain: own, removes it for explain: off.
void ApplyExplainPolicy(const CompiledPolicy& policy,
                        const llmrouter::v1::RouteRequestRequest& request, bool caller_is_admin,
                        llmrouter::v1::RouteRequestResponse* response);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_TENANT_SCOPE_H_
