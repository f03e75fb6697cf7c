#include "services/decision/router.h"

#include <xxhash.h>

#include <algorithm>
#include <random>

#include "absl/cleanup/cleanup.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "common/proto_time.h"
#include "services/decision/endpoint_selector.h"
#include "services/decision/rule_matcher.h"
#include "services/decision/tenant_scope.h"

namespace llmrouter::decision {
namespace {

namespace v1 = llmrouter::v1;
using v1::CandidateStage;
using v1::Endpoint;

constexpr CandidateStage kKept = v1::CANDIDATE_STAGE_UNSPECIFIED;

struct ModelCandidate {
  int model = -1;
  bool fallback = false;  // from the fallback chain rather than the rule's candidates
  CandidateStage stage = kKept;
  double cost = 0;
  double score = 0;
  std::string detail;  // filled only when tracing
};

void FillRateLimit(const RateLimitSpec& spec, v1::RateLimit* out) {
  out->set_requests(spec.requests);
  out->set_tokens(spec.tokens);
  out->set_concurrent(spec.concurrent);
}

// What the gateway enforces for the tenant (docs/policies.md, "Rate limits").
void FillRateLimits(const TenantSpec& tenant, v1::RouteRequestResponse* response) {
  const TenantRateLimits& limits = tenant.rate_limits;
  v1::RateLimits* out = response->mutable_rate_limits();
  ToProto(absl::Milliseconds(limits.window_ms), out->mutable_window());
  out->set_tenant(tenant.name);
  if (limits.tenant.any()) FillRateLimit(limits.tenant, out->mutable_tenant_limits());
  if (limits.per_api_key.any()) FillRateLimit(limits.per_api_key, out->mutable_per_api_key());
}

void FillTarget(const Endpoint& e, const ModelSpec& model, v1::Target* t) {
  t->set_endpoint_id(e.id());
  t->set_address(e.address());
  t->set_scheme(e.scheme());
  t->set_model(model.name);
  t->set_upstream_model(e.model());
  t->set_region(e.region());
  t->set_pool(e.pool());
  t->set_track(e.track());
}

void AddCandidate(v1::RouteTrace* trace, absl::string_view model, absl::string_view endpoint_id,
                  CandidateStage stage, double score, std::string detail) {
  if (trace == nullptr) return;
  auto* c = trace->add_candidates();
  c->set_model(std::string(model));
  c->set_endpoint_id(std::string(endpoint_id));
  c->set_stage(stage);
  c->set_score(score);
  c->set_detail(std::move(detail));
}

std::string Dollars(double v) { return absl::StrFormat("$%.6f", v); }

// A caller's name for an error message: a 1 MB model name is not echoed back whole.
absl::string_view Clipped(absl::string_view name) { return name.substr(0, 200); }

// Draws one entry of a weighted split. With a sticky key the draw is a stable hash of the key,
// so a session or user keeps its track; otherwise it is random.
int DrawSplit(const CompiledRule& rule, const v1::RouteRequestRequest& req) {
  const std::string& key = rule.spec->then.sticky == "session" ? req.session_key()
                           : rule.spec->then.sticky == "user"  ? req.user_key()
                                                               : std::string();
  uint64_t point;
  if (!key.empty()) {
    point = XXH64(key.data(), key.size(), /*seed=*/0x6c6c6d72) % 100;
  } else {
    thread_local std::mt19937_64 rng(std::random_device{}());
    point = rng() % 100;
  }
  uint64_t cumulative = 0;
  for (size_t i = 0; i < rule.split.size(); ++i) {
    cumulative += rule.split[i].second;
    if (point < cumulative) return static_cast<int>(i);
  }
  return static_cast<int>(rule.split.size()) - 1;
}

template <typename Strings>
bool HasAll(const ModelSpec& m, const Strings& required, std::string* missing) {
  for (const std::string& cap : required) {
    if (std::find(m.capabilities.begin(), m.capabilities.end(), cap) == m.capabilities.end()) {
      *missing = cap;
      return false;
    }
  }
  return true;
}

}  // namespace

std::string NewDecisionId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return absl::StrFormat("%016x", rng());
}

double EstimateCost(const ModelSpec& model, uint32_t prompt_tokens, uint32_t output_tokens) {
  return (prompt_tokens * model.input_price_per_mtok +
          output_tokens * model.output_price_per_mtok) /
         1e6;
}

absl::Status Route(const CompiledPolicy* policy, const InventoryView* view,
                   const v1::RouteRequestRequest& req, absl::Time now, const RouterOptions& options,
                   v1::RouteRequestResponse* response, RouteNotes* notes) {
  if (policy == nullptr) {
    return absl::UnavailableError(
        "no policy revision is active; apply a bundle with PolicyService/ApplyBundle");
  }
  if (req.model().empty()) return absl::InvalidArgumentError("model is required");
  v1::RouteTrace* trace = req.explain() ? response->mutable_trace() : nullptr;
  const PolicyBundle& bundle = policy->bundle();

  // 1. What the prompt is: analysed when a rule or filter first asks, or for the trace.
  LazyPromptSignals signals(policy->analyzer(), req.prompt());
  if (trace) signals.analysis();
  // Whatever was computed by the time Route returns, on every path.
  absl::Cleanup fill_analysis = [&] {
    signals.Fill(response->mutable_analysis(), /*every_intent=*/trace != nullptr);
  };

  // 2. Who sent it, and what its policy lets it ask for.
  const TenantSpec* tenant = nullptr;
  absl::string_view tenant_name =
      req.tenant().empty() ? "default" : absl::string_view(req.tenant());
  if (!bundle.tenants.empty()) {
    tenant = policy->ResolveTenant(req.tenant());
    if (tenant == nullptr) {
      return absl::PermissionDeniedError(absl::StrCat("tenant \"", Clipped(tenant_name),
                                                      "\" is not in the policy (revision ",
                                                      policy->revision(), ")"));
    }
    tenant_name = tenant->name;
  }
  const ScopedTier scoped_tier = TierFor(tenant, req.priority());
  const absl::string_view tier = scoped_tier.tier;
  const ScopedRegion region = RegionFor(tenant, req);
  if (trace && scoped_tier.lowered()) {
    trace->add_notes(absl::StrCat("tier lowered from ", scoped_tier.requested, " to ", tier,
                                  ": tenant \"", tenant_name, "\" allows ",
                                  absl::StrJoin(tenant->allowed_tiers, ", ")));
  }
  if (trace && region.client_ignored) {
    trace->add_notes(absl::StrCat(
        "client region \"", req.client_region(), "\" ignored: tenant \"", tenant_name,
        "\" does not trust clients with their region; ",
        region.region.empty() ? "no region" : absl::StrCat("region \"", region.region, "\""),
        " is used"));
  }

  // 3. Which rule decides.
  MatchInput in{&req, policy->ModelIndex(req.model()), tenant_name, tier, region.region, &signals};
  const CompiledRule* rule = nullptr;
  std::string failed;
  for (const CompiledRule& r : policy->rules()) {
    const bool ok = RuleMatches(*policy, r, in, trace ? &failed : nullptr);
    if (trace) {
      auto* e = trace->add_rules();
      e->set_rule(r.spec->name);
      e->set_matched(ok);
      if (!ok) e->set_failed_condition(failed);
    }
    if (ok) {
      rule = &r;
      break;
    }
  }
  static const std::string kNoRule;
  const std::string& rule_name = rule ? rule->spec->name : kNoRule;
  if (rule && rule->spec->then.deny) {
    AddCandidate(trace, req.model(), "", v1::CANDIDATE_STAGE_DENIED, 0, *rule->spec->then.deny);
    return absl::PermissionDeniedError(
        absl::StrCat("denied by rule \"", rule_name, "\": ", *rule->spec->then.deny));
  }

  // 4. Candidate models: the rule's (a drawn split entry first), else the requested model.
  absl::InlinedVector<ModelCandidate, 8> models;
  auto add_model = [&](int index, bool fallback) {
    for (const ModelCandidate& c : models) {
      if (c.model == index) return;
    }
    ModelCandidate c;
    c.model = index;
    c.fallback = fallback;
    models.push_back(std::move(c));
  };
  int drawn = -1;
  if (rule) {
    if (!rule->split.empty()) {
      drawn = DrawSplit(*rule, req);
      add_model(rule->split[drawn].first, false);
      for (size_t i = 0; i < rule->split.size(); ++i) {
        if (static_cast<int>(i) != drawn) add_model(rule->split[i].first, false);
      }
    } else {
      for (int m : rule->candidates) add_model(m, false);
    }
  } else if (in.requested_model >= 0) {
    add_model(in.requested_model, false);
  } else {
    std::vector<absl::string_view> names;
    for (const ModelSpec& m : bundle.models) names.push_back(m.name);
    return absl::NotFoundError(absl::StrCat(
        "model \"", Clipped(req.model()), "\" is not in the policy catalog (revision ",
        policy->revision(), ")", policy->rules().empty() ? "" : " and no rule routes it",
        "; known models: ", absl::StrJoin(names, ", ")));
  }
  absl::Span<const int> chain;
  if (rule && !rule->fallbacks.empty()) chain = rule->fallbacks;
  absl::InlinedVector<int, 8> catalog_chain;
  if (chain.empty()) {
    for (const std::string& f : bundle.models[models.front().model].fallbacks) {
      catalog_chain.push_back(policy->ModelIndex(f));
    }
    chain = catalog_chain;
  }
  for (int m : chain) add_model(m, true);

  // 5. Filters: what the tenant, the prompt and the constraints rule out.
  Constraints c = rule ? rule->spec->then.constraints : Constraints{};
  const v1::Constraints& rc = req.constraints();
  if (rc.max_cost_usd() > 0)
    c.max_cost_usd = std::min(c.max_cost_usd.value_or(1e18), rc.max_cost_usd());
  if (rc.min_quality() > 0) c.min_quality = std::max(c.min_quality.value_or(0), rc.min_quality());
  if (rc.has_max_latency()) {
    const uint32_t ms =
        static_cast<uint32_t>(absl::ToInt64Milliseconds(FromProto(rc.max_latency())));
    c.max_latency_ms = std::min(c.max_latency_ms.value_or(ms), ms);
  }
  static const std::vector<std::string> kNoCapabilities;
  const std::vector<std::string>& rule_caps =
      rule ? rule->spec->match.capabilities : kNoCapabilities;
  const uint32_t output_tokens = req.prompt().max_output_tokens() > 0
                                     ? req.prompt().max_output_tokens()
                                     : bundle.default_output_tokens;
  bool over_budget = false;
  if (tenant && tenant->spend_limit.usd > 0 && options.ledger &&
      options.ledger->Spent(tenant->name, tenant->spend_limit.period) >= tenant->spend_limit.usd) {
    if (notes) {
      notes->budget_action = tenant->spend_limit.over_limit;
      notes->tenant = tenant->name;
    }
    if (tenant->spend_limit.over_limit == "deny") {
      return absl::PermissionDeniedError(
          absl::StrCat("tenant \"", tenant->name, "\" is over its spending limit of ",
                       Dollars(tenant->spend_limit.usd), " per ", tenant->spend_limit.period));
    }
    over_budget = true;
  }
  for (ModelCandidate& mc : models) {
    const ModelSpec& m = bundle.models[mc.model];
    mc.cost = EstimateCost(m, signals.estimated_tokens(), output_tokens);
    std::string missing;
    if (!policy->TenantAllows(tenant, mc.model)) {
      mc.stage = v1::CANDIDATE_STAGE_TENANT_NOT_ALLOWED;
      if (trace) mc.detail = absl::StrCat("tenant \"", tenant_name, "\" may not use it");
    } else if (!HasAll(m, rule_caps, &missing) ||
               !HasAll(m, rc.required_capabilities(), &missing)) {
      mc.stage = v1::CANDIDATE_STAGE_CAPABILITY_MISSING;
      if (trace) mc.detail = absl::StrCat("lacks capability \"", missing, "\"");
    } else if (!c.data_policy.empty() && m.data_policy != c.data_policy &&
               signals.pii_mask() != 0) {
      mc.stage = v1::CANDIDATE_STAGE_DATA_POLICY;
      if (trace) {
        mc.detail = absl::StrCat("prompt has PII; data_policy \"", m.data_policy, "\" is not \"",
                                 c.data_policy, "\"");
      }
    } else if (c.context_must_fit && m.context_window > 0 &&
               signals.estimated_tokens() + output_tokens > m.context_window) {
      mc.stage = v1::CANDIDATE_STAGE_CONTEXT_TOO_SMALL;
      if (trace) {
        mc.detail = absl::StrCat("needs ", signals.estimated_tokens(), "+", output_tokens,
                                 " tokens, context window is ", m.context_window);
      }
    } else if (c.max_cost_usd && mc.cost > *c.max_cost_usd) {
      mc.stage = v1::CANDIDATE_STAGE_OVER_COST_CAP;
      if (trace) {
        mc.detail = absl::StrCat("estimated cost ", Dollars(mc.cost), " exceeds max_cost_usd ",
                                 Dollars(*c.max_cost_usd));
      }
    } else if (c.min_quality && m.quality < *c.min_quality) {
      mc.stage = v1::CANDIDATE_STAGE_BELOW_MIN_QUALITY;
      if (trace) mc.detail = absl::StrCat("quality ", m.quality, " < min_quality ", *c.min_quality);
    }
  }
  if (over_budget) {
    // Downgrade: only the cheapest model still allowed serves.
    const ModelCandidate* cheapest = nullptr;
    for (const ModelCandidate& mc : models) {
      if (mc.stage == kKept && (!cheapest || mc.cost < cheapest->cost)) cheapest = &mc;
    }
    for (ModelCandidate& mc : models) {
      if (mc.stage == kKept && &mc != cheapest) {
        mc.stage = v1::CANDIDATE_STAGE_OVER_BUDGET;
        if (trace)
          mc.detail = "tenant is over its spending limit: downgraded to the cheapest model";
      }
    }
  }

  // 6. Rank the rule's own candidates by its strategy (a drawn split keeps its draw first).
  const std::string& strategy = rule ? rule->spec->then.strategy : std::string("ordered");
  auto primary_end = std::stable_partition(models.begin(), models.end(),
                                           [](const ModelCandidate& m) { return !m.fallback; });
  for (auto it = models.begin(); it != primary_end; ++it) {
    const ModelSpec& m = bundle.models[it->model];
    it->score = strategy == "cheapest"  ? -it->cost
                : strategy == "quality" ? m.quality
                                        : -static_cast<double>(it - models.begin());
  }
  if (drawn < 0 && strategy != "ordered") {
    std::stable_sort(
        models.begin(), primary_end,
        [](const ModelCandidate& a, const ModelCandidate& b) { return a.score > b.score; });
  }

  // 7. Endpoints, model by model.
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
  absl::InlinedVector<std::pair<const Endpoint*, const ModelCandidate*>, 16> targets;
  EndpointList endpoints;
  SelectionInput selection;
  selection.strategy = rule ? rule->endpoint_strategy : EndpointStrategy::kRoundRobin;
  selection.now = now;
  selection.client_region = region.region;
  selection.sticky_key = !req.session_key().empty() ? req.session_key() : req.user_key();
  selection.max_latency_ms = c.max_latency_ms;
  selection.region_latency = &policy->region_latency();
  selection.tier = tier;
  const TierPools* tier_pools = rule ? &rule->spec->then.tiers : nullptr;
  if (tier_pools) {
    auto own = tier_pools->pools.find(std::string(tier));
    if (own != tier_pools->pools.end()) selection.pools = &own->second;
    auto spill = tier_pools->spill_pools.find(std::string(tier));
    if (spill != tier_pools->spill_pools.end()) selection.spill_pools = &spill->second;
    selection.spill_below_load = tier_pools->spill_below_load;
    selection.saturated_queue = tier_pools->saturated_queue;
    selection.saturated_kv = tier_pools->saturated_kv;
  }
  int kept = 0, total_endpoints = 0, unusable = 0;
  for (const ModelCandidate& mc : models) {
    const ModelSpec& m = bundle.models[mc.model];
    if (mc.stage != kKept) {
      AddCandidate(trace, m.name, "", mc.stage, mc.score, mc.detail);
      continue;
    }
    ++kept;
    const ModelEndpoints* group = view->ForModel(m.name);
    if (group == nullptr || group->endpoints.empty()) {
      AddCandidate(trace, m.name, "", v1::CANDIDATE_STAGE_NO_ENDPOINT, mc.score,
                   trace ? absl::StrCat("no endpoint serves \"", m.name, "\" in inventory version ",
                                        view->version())
                         : std::string());
      continue;
    }
    total_endpoints += static_cast<int>(group->endpoints.size());
    endpoints.clear();
    OrderEndpoints(*group, m, selection, trace, &endpoints, &unusable);
    for (const Endpoint* e : endpoints) targets.emplace_back(e, &mc);
  }
  if (trace && drawn >= 0) {
    for (size_t i = 0; i < rule->split.size(); ++i) {
      if (static_cast<int>(i) == drawn) continue;
      AddCandidate(
          trace, bundle.models[rule->split[i].first].name, "", v1::CANDIDATE_STAGE_SPLIT_NOT_DRAWN,
          rule->split[i].second,
          absl::StrCat("split weight ", rule->split[i].second, ", not drawn; kept as fallback"));
    }
  }
  if (targets.empty()) {
    if (kept == 0) {
      bool permission = true;
      std::vector<std::string> reasons;
      for (const ModelCandidate& mc : models) {
        permission = permission && (mc.stage == v1::CANDIDATE_STAGE_TENANT_NOT_ALLOWED ||
                                    mc.stage == v1::CANDIDATE_STAGE_OVER_BUDGET);
        reasons.push_back(absl::StrCat(bundle.models[mc.model].name, " (",
                                       v1::CandidateStage_Name(mc.stage).substr(16), ")"));
      }
      std::string msg =
          absl::StrCat("no model may serve this request under ",
                       rule ? absl::StrCat("rule \"", rule_name, "\"") : "the catalog", ": ",
                       absl::StrJoin(reasons, ", "));
      return permission ? absl::PermissionDeniedError(msg) : absl::InvalidArgumentError(msg);
    }
    const std::string& first = bundle.models[models.front().model].name;
    if (total_endpoints == 0) {
      return absl::UnavailableError(absl::StrCat("no endpoint serves model \"", first,
                                                 "\" or its fallbacks (inventory version ",
                                                 view->version(), ")"));
    }
    return absl::UnavailableError(absl::StrCat("all ", total_endpoints, " endpoints of model \"",
                                               first, "\" and its fallbacks are unusable (",
                                               unusable, " unhealthy, draining or too slow)"));
  }

  // Shedding: a tier the rule sheds gets RESOURCE_EXHAUSTED when everything it may use is
  // saturated, so that capacity stays with the tiers that matter more.
  if (tier_pools && std::find(tier_pools->shed_tiers.begin(), tier_pools->shed_tiers.end(), tier) !=
                        tier_pools->shed_tiers.end()) {
    bool all_saturated = true;
    for (const auto& [e, mc] : targets) {
      const bool queue = tier_pools->saturated_queue > 0 &&
                         e->load().requests_waiting() > tier_pools->saturated_queue;
      const bool kv =
          tier_pools->saturated_kv > 0 && e->load().kv_cache_usage() > tier_pools->saturated_kv;
      if (!queue && !kv) {
        all_saturated = false;
        break;
      }
    }
    if (all_saturated) {
      if (notes) notes->shed = true;
      return absl::ResourceExhaustedError(
          absl::StrCat(tier, " requests are shed: all ", targets.size(),
                       " usable endpoints are saturated (queue above ", tier_pools->saturated_queue,
                       " or KV-cache use above ", tier_pools->saturated_kv, "); retry after 1s"));
    }
  }

  // 8. The answer.
  response->set_decision_id(NewDecisionId());
  const ModelCandidate& chosen = *targets[0].second;
  FillTarget(*targets[0].first, bundle.models[chosen.model], response->mutable_target());
  if (selection.strategy == EndpointStrategy::kLeastOutstanding) {
    view->ForModel(bundle.models[chosen.model].name)->NoteSent(*targets[0].first, now);
  }
  AddCandidate(trace, bundle.models[chosen.model].name, targets[0].first->id(),
               v1::CANDIDATE_STAGE_SELECTED, chosen.score,
               trace ? (chosen.fallback ? "first usable model of the fallback chain"
                        : drawn >= 0    ? "drawn by the split; next endpoint in round-robin order"
                                     : "first usable candidate; next endpoint in round-robin order")
                     : std::string());
  for (size_t i = 1; i < targets.size() && static_cast<int>(i) <= options.max_fallbacks; ++i) {
    const ModelCandidate& mc = *targets[i].second;
    FillTarget(*targets[i].first, bundle.models[mc.model], response->add_fallbacks());
    const bool same_model = mc.model == chosen.model;
    AddCandidate(
        trace, bundle.models[mc.model].name, targets[i].first->id(), v1::CANDIDATE_STAGE_FALLBACK,
        mc.score,
        trace ? absl::StrCat("fallback ", i, same_model ? "" : " (lower score)") : std::string());
  }
  response->set_policy_revision(policy->revision());
  response->set_policy_sha256(policy->content_hash());
  response->set_policy_rule(rule ? rule_name : "catalog");
  response->set_estimated_cost_usd(chosen.cost);
  ToProto(age, response->mutable_inventory_age());
  response->set_inventory_stale(stale);
  if (tenant != nullptr && tenant->rate_limits.any()) FillRateLimits(*tenant, response);
  return absl::OkStatus();
}

}  // namespace llmrouter::decision
