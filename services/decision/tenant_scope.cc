#include "services/decision/tenant_scope.h"

#include <algorithm>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/decision/rule_matcher.h"

namespace llmrouter::decision {
namespace {

namespace v1 = llmrouter::v1;

// Higher is more urgent; -1 for a name that is no tier.
int Rank(absl::string_view tier) {
  if (tier == "batch") return 0;
  if (tier == "standard") return 1;
  if (tier == "interactive") return 2;
  return -1;
}

bool RuleConcerns(const RuleSpec& rule, const TenantSpec* tenant) {
  const std::vector<std::string>& tenants = rule.match.tenants;
  return tenants.empty() || (tenant != nullptr && std::find(tenants.begin(), tenants.end(),
                                                            tenant->name) != tenants.end());
}

// "match.headers.x-key: \"wrong\" does not equal \"secret\"" -> "match.headers.x-key: does not
// match"; other conditions are the tenant's own request against the rule's public terms.
void HideHeaderValues(std::string* condition) {
  constexpr absl::string_view kHeaders = "match.headers.";
  if (!absl::StartsWith(*condition, kHeaders)) return;
  const std::size_t colon = condition->find(": ", kHeaders.size());
  if (colon == std::string::npos) return;
  if (absl::EndsWith(*condition, ": header absent")) return;
  condition->resize(colon);
  condition->append(": does not match");
}

}  // namespace

ScopedTier TierFor(const TenantSpec* tenant, v1::PriorityTier priority) {
  ScopedTier out;
  out.requested = TierName(priority);
  if (out.requested.empty()) {
    out.requested = tenant && !tenant->default_tier.empty()
                        ? absl::string_view(tenant->default_tier)
                        : absl::string_view("standard");
  }
  out.tier = out.requested;
  if (tenant == nullptr || tenant->allowed_tiers.empty()) return out;
  const int want = Rank(out.requested);
  const std::string* best = nullptr;    // the highest allowed tier not above the request
  const std::string* lowest = nullptr;  // the lowest allowed tier
  for (const std::string& t : tenant->allowed_tiers) {
    if (Rank(t) <= want && (best == nullptr || Rank(t) > Rank(*best))) best = &t;
    if (lowest == nullptr || Rank(t) < Rank(*lowest)) lowest = &t;
  }
  out.tier = best != nullptr ? *best : *lowest;
  return out;
}

ScopedRegion RegionFor(const TenantSpec* tenant, const v1::RouteRequestRequest& request) {
  ScopedRegion out{request.region(), false};
  if (request.client_region().empty() || request.client_region() == request.region()) return out;
  if (tenant != nullptr && tenant->trust_client_region) {
    out.region = request.client_region();
  } else {
    out.client_ignored = true;
  }
  return out;
}

void LimitTraceToTenant(const CompiledPolicy& policy, const TenantSpec* tenant,
                        v1::RouteTrace* trace) {
  google::protobuf::RepeatedPtrField<v1::RuleEvaluation> rules;
  for (v1::RuleEvaluation& e : *trace->mutable_rules()) {
    const CompiledRule* rule = policy.Rule(e.rule());
    if (rule == nullptr || !RuleConcerns(*rule->spec, tenant)) continue;
    HideHeaderValues(e.mutable_failed_condition());
    *rules.Add() = std::move(e);
  }
  trace->mutable_rules()->Swap(&rules);
  google::protobuf::RepeatedPtrField<v1::CandidateEvaluation> candidates;
  for (v1::CandidateEvaluation& c : *trace->mutable_candidates()) {
    const bool chosen =
        c.stage() == v1::CANDIDATE_STAGE_SELECTED || c.stage() == v1::CANDIDATE_STAGE_FALLBACK;
    if (!c.endpoint_id().empty() && !chosen) continue;
    *candidates.Add() = std::move(c);
  }
  trace->mutable_candidates()->Swap(&candidates);
}

void ApplyExplainPolicy(const CompiledPolicy& policy, const v1::RouteRequestRequest& request,
                        bool caller_is_admin, v1::RouteRequestResponse* response) {
  if (!response->has_trace() || caller_is_admin) return;
  const TenantSpec* tenant = policy.ResolveTenant(request.tenant());
  const std::string& mode = tenant ? tenant->explain : std::string("own");
  if (mode == "full") return;
  if (mode == "off") {
    response->clear_trace();
    return;
  }
  LimitTraceToTenant(policy, tenant, response->mutable_trace());
}

}  // namespace llmrouter::decision
