#include "services/decision/route_stages.h"

#include <xxhash.h>

#include <algorithm>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "common/proto_time.h"
#include "services/decision/router.h"
#include "services/decision/rule_matcher.h"

namespace llmrouter::decision {

namespace v1 = llmrouter::v1;
using v1::Endpoint;

namespace {

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

std::string Dollars(double v) { return absl::StrFormat("$%.6f", v); }

// A caller's name for an error message: a 1 MB model name is not echoed back whole.
absl::string_view Clipped(absl::string_view name) { return name.substr(0, 200); }

// A point in [0, 100) for one weighted draw. With a sticky key (the session, user or tenant
// `sticky` names) it is a stable hash of the key, so a conversation keeps its model and track;
// otherwise it is random. `seed` keeps the split's and the tracks' draws apart.
int DrawPoint(const RouteState& s, absl::string_view sticky, uint64_t seed) {
  const absl::string_view key = sticky == "session"  ? absl::string_view(s.req.session_key())
                                : sticky == "user"   ? absl::string_view(s.req.user_key())
                                : sticky == "tenant" ? s.tenant_name
                                                     : absl::string_view();
  if (!key.empty()) return static_cast<int>(XXH64(key.data(), key.size(), seed) % 100);
  thread_local std::mt19937_64 rng(std::random_device{}());
  return static_cast<int>(rng() % 100);
}

// The entry of `weights` that `point` falls in, the weights scaled to their total.
template <typename Weights, typename WeightOf>
int Draw(const Weights& weights, WeightOf weight_of, int point) {
  uint64_t total = 0;
  for (const auto& w : weights) total += weight_of(w);
  const uint64_t scaled = static_cast<uint64_t>(point) * total / 100;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    cumulative += weight_of(weights[i]);
    if (scaled < cumulative) return static_cast<int>(i);
  }
  return static_cast<int>(weights.size()) - 1;
}

// Draws one entry of a weighted split.
int DrawSplit(const RouteState& s) {
  return Draw(
      s.rule->split, [](const std::pair<int, uint32_t>& e) { return e.second; },
      DrawPoint(s, s.rule->spec->then.sticky, /*seed=*/0x6c6c6d72));
}

// An endpoint's track; endpoints registered without one are "stable".
absl::string_view TrackOf(const Endpoint& e) {
  return e.track().empty() ? absl::string_view("stable") : absl::string_view(e.track());
}

// One track's share of a split, viewing the rule's or the rollout's names.
struct TrackWeight {
  absl::string_view track;
  uint32_t weight = 0;
};

// A model's track weights: its rollout's when the bundle declares one, else the rule's `tracks`.
struct TrackSplit {
  absl::InlinedVector<TrackWeight, 4> shares;
  absl::string_view sticky;
  std::string source;  // for the trace, e.g. "rollout \"m-v2\" step 2 of 4 (progressing)"
};

bool TrackSplitFor(const RouteState& s, const ModelSpec& m, TrackSplit* split) {
  // A rule that pins one track (weight 100: a tester's header rule, a blue/green switch) pins
  // it during a rollout too; any other split of the rule gives way to the rollout's.
  const bool rule_pins =
      s.rule != nullptr &&
      std::any_of(s.rule->spec->then.tracks.begin(), s.rule->spec->then.tracks.end(),
                  [](const TrackShare& t) { return t.weight == 100; });
  for (const RolloutSpec& declared : s.bundle.rollouts) {
    if (rule_pins) break;
    if (declared.model != m.name) continue;
    const RolloutRoute* r = nullptr;
    if (s.rollouts != nullptr) {
      // Only a route judged for these tracks: a declaration that now names another canary
      // track does not inherit the weight the old one had earned.
      if (auto it = s.rollouts->find(m.name);
          it != s.rollouts->end() && it->second.rollout == declared.name &&
          it->second.stable_track == declared.stable_track &&
          it->second.canary_track == declared.canary_track) {
        r = &it->second;
      }
    }
    // Declared but not judged yet (decision starting, a bundle just applied): stable alone.
    const uint32_t canary = r ? r->canary_weight : 0;
    split->shares.push_back({declared.stable_track, 100 - canary});
    split->shares.push_back({declared.canary_track, canary});
    split->sticky = declared.sticky;
    if (s.trace) {
      split->source = r ? absl::StrCat("rollout \"", r->rollout, "\" step ", r->step + 1, " of ",
                                       r->steps, " (", r->state, ")")
                        : absl::StrCat("rollout \"", declared.name, "\" not started yet");
    }
    return true;
  }
  if (s.rule == nullptr || s.rule->spec->then.tracks.empty()) return false;
  for (const TrackShare& t : s.rule->spec->then.tracks) split->shares.push_back({t.track, t.weight});
  split->sticky = s.rule->spec->then.sticky;
  if (s.trace) split->source = absl::StrCat("rule \"", s.rule->spec->name, "\"");
  return true;
}

// Under a track split: puts the endpoints of the drawn track first (the others stay, as
// fallbacks). Only tracks with a usable endpoint take part, so a track whose endpoints are all
// ejected or draining hands its share to the others; the trace says which track was drawn and
// why.
void OrderByTrack(RouteState& s, absl::string_view model, const TrackSplit& split,
                  EndpointList* endpoints) {
  const auto& shares = split.shares;
  absl::InlinedVector<uint32_t, 4> live(shares.size(), 0);
  std::vector<absl::string_view> gone;
  for (size_t i = 0; i < shares.size(); ++i) {
    for (const Endpoint* e : *endpoints) {
      if (TrackOf(*e) == shares[i].track) live[i] = shares[i].weight;
    }
    if (live[i] == 0 && shares[i].weight > 0) gone.push_back(shares[i].track);
  }
  uint64_t total = 0;
  for (uint32_t w : live) total += w;
  if (total == 0) {
    if (s.trace) {
      s.trace->add_notes(absl::StrCat("tracks of \"", model,
                                      "\": no usable endpoint is on a weighted track; every "
                                      "usable endpoint alike"));
    }
    return;
  }
  if (s.track_point < 0) s.track_point = DrawPoint(s, split.sticky, /*seed=*/0x74726b73);
  const TrackWeight& drawn = shares[Draw(
      live, [](uint32_t w) { return w; }, s.track_point)];
  std::stable_partition(endpoints->begin(), endpoints->end(),
                        [&](const Endpoint* e) { return TrackOf(*e) == drawn.track; });
  if (s.drawn_track.empty()) s.drawn_track = std::string(drawn.track);
  if (s.trace == nullptr) return;
  const absl::string_view sticky = split.sticky;
  s.trace->add_notes(absl::StrCat(
      "track \"", drawn.track, "\" drawn for \"", model, "\" (weight ", drawn.weight, " of ", total,
      sticky.empty() ? ", random draw" : absl::StrCat(", sticky by ", sticky), "; ", split.source,
      ")"));
  for (absl::string_view track : gone) {
    s.trace->add_notes(absl::StrCat("track \"", track, "\" of \"", model,
                                    "\" has no usable endpoint: its share went to the others"));
  }
  for (const Endpoint* e : *endpoints) {
    if (TrackOf(*e) == drawn.track) continue;
    for (const TrackWeight& share : shares) {
      if (share.track != TrackOf(*e)) continue;
      AddCandidate(s.trace, model, e->id(), v1::CANDIDATE_STAGE_TRACK_NOT_DRAWN, share.weight,
                   absl::StrCat("track \"", share.track, "\" (weight ", share.weight,
                                ") not drawn; kept as fallback"));
    }
  }
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

// The rule's constraints tightened by the request's own.
Constraints MergedConstraints(const CompiledRule* rule, const v1::Constraints& rc) {
  Constraints c = rule ? rule->spec->then.constraints : Constraints{};
  if (rc.max_cost_usd() > 0) {
    c.max_cost_usd = std::min(c.max_cost_usd.value_or(1e18), rc.max_cost_usd());
  }
  if (rc.min_quality() > 0) c.min_quality = std::max(c.min_quality.value_or(0), rc.min_quality());
  if (rc.has_max_latency()) {
    const uint32_t ms =
        static_cast<uint32_t>(absl::ToInt64Milliseconds(FromProto(rc.max_latency())));
    c.max_latency_ms = std::min(c.max_latency_ms.value_or(ms), ms);
  }
  return c;
}

// Whether the tenant is over its spending limit: PermissionDenied when its policy denies,
// true when it downgrades.
absl::StatusOr<bool> OverBudget(const RouteState& s, const SpendLedger* ledger, RouteNotes* notes) {
  const TenantSpec* tenant = s.tenant;
  if (tenant == nullptr || tenant->spend_limit.usd <= 0 || ledger == nullptr ||
      ledger->Spent(tenant->name, tenant->spend_limit.period) < tenant->spend_limit.usd) {
    return false;
  }
  if (notes) {
    notes->budget_action = tenant->spend_limit.over_limit;
    notes->tenant = tenant->name;
  }
  if (tenant->spend_limit.over_limit == "deny") {
    return absl::PermissionDeniedError(
        absl::StrCat("tenant \"", tenant->name, "\" is over its spending limit of ",
                     Dollars(tenant->spend_limit.usd), " per ", tenant->spend_limit.period));
  }
  return true;
}

// Sets `mc.stage` (and, when tracing, its detail) to the first filter that rules it out.
void Filter(const RouteState& s, const std::vector<std::string>& rule_caps, ModelCandidate& mc) {
  const ModelSpec& m = s.bundle.models[mc.model];
  const Constraints& c = s.constraints;
  const v1::Constraints& rc = s.req.constraints();
  const uint32_t prompt_tokens = s.signals.estimated_tokens();
  const bool trace = s.trace != nullptr;
  std::string missing;
  if (!s.policy.TenantAllows(s.tenant, mc.model)) {
    mc.stage = v1::CANDIDATE_STAGE_TENANT_NOT_ALLOWED;
    if (trace) mc.detail = absl::StrCat("tenant \"", s.tenant_name, "\" may not use it");
  } else if (!HasAll(m, rule_caps, &missing) || !HasAll(m, rc.required_capabilities(), &missing)) {
    mc.stage = v1::CANDIDATE_STAGE_CAPABILITY_MISSING;
    if (trace) mc.detail = absl::StrCat("lacks capability \"", missing, "\"");
  } else if (!c.data_policy.empty() && m.data_policy != c.data_policy &&
             s.signals.pii_mask() != 0) {
    mc.stage = v1::CANDIDATE_STAGE_DATA_POLICY;
    if (trace) {
      mc.detail = absl::StrCat("prompt has PII; data_policy \"", m.data_policy, "\" is not \"",
                               c.data_policy, "\"");
    }
  } else if (c.context_must_fit && m.context_window > 0 &&
             prompt_tokens + s.output_tokens > m.context_window) {
    mc.stage = v1::CANDIDATE_STAGE_CONTEXT_TOO_SMALL;
    if (trace) {
      mc.detail = absl::StrCat("needs ", prompt_tokens, "+", s.output_tokens,
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

// Over budget with a downgrading policy: only the cheapest model still allowed serves.
void DowngradeToCheapest(RouteState& s) {
  const ModelCandidate* cheapest = nullptr;
  for (const ModelCandidate& mc : s.models) {
    if (mc.stage == kKept && (!cheapest || mc.cost < cheapest->cost)) cheapest = &mc;
  }
  for (ModelCandidate& mc : s.models) {
    if (mc.stage == kKept && &mc != cheapest) {
      mc.stage = v1::CANDIDATE_STAGE_OVER_BUDGET;
      if (s.trace)
        mc.detail = "tenant is over its spending limit: downgraded to the cheapest model";
    }
  }
}

// Why no endpoint can serve: every model ruled out (by permission or by the request itself), no
// endpoint at all, or every endpoint unusable.
absl::Status NoTargetError(const RouteState& s, const InventoryView& view, int kept,
                           int total_endpoints, int unusable) {
  if (kept == 0) {
    bool permission = true;
    std::vector<std::string> reasons;
    for (const ModelCandidate& mc : s.models) {
      permission = permission && (mc.stage == v1::CANDIDATE_STAGE_TENANT_NOT_ALLOWED ||
                                  mc.stage == v1::CANDIDATE_STAGE_OVER_BUDGET);
      reasons.push_back(absl::StrCat(s.bundle.models[mc.model].name, " (",
                                     v1::CandidateStage_Name(mc.stage).substr(16), ")"));
    }
    std::string msg =
        absl::StrCat("no model may serve this request under ",
                     s.rule ? absl::StrCat("rule \"", s.rule_name(), "\"") : "the catalog", ": ",
                     absl::StrJoin(reasons, ", "));
    return permission ? absl::PermissionDeniedError(msg) : absl::InvalidArgumentError(msg);
  }
  const std::string& first = s.bundle.models[s.models.front().model].name;
  if (total_endpoints == 0) {
    return absl::UnavailableError(absl::StrCat("no endpoint serves model \"", first,
                                               "\" or its fallbacks (inventory version ",
                                               view.version(), ")"));
  }
  return absl::UnavailableError(absl::StrCat("all ", total_endpoints, " endpoints of model \"",
                                             first, "\" and its fallbacks are unusable (", unusable,
                                             " unhealthy, draining or too slow)"));
}

}  // namespace

const std::string& RouteState::rule_name() const {
  static const std::string kNoRule;
  return rule ? rule->spec->name : kNoRule;
}

void AddCandidate(v1::RouteTrace* trace, absl::string_view model, absl::string_view endpoint_id,
                  v1::CandidateStage stage, double score, std::string detail) {
  if (trace == nullptr) return;
  auto* c = trace->add_candidates();
  c->set_model(std::string(model));
  c->set_endpoint_id(std::string(endpoint_id));
  c->set_stage(stage);
  c->set_score(score);
  c->set_detail(std::move(detail));
}

absl::Status ResolveRequester(RouteState& s) {
  s.tenant_name = s.req.tenant().empty() ? "default" : absl::string_view(s.req.tenant());
  if (!s.bundle.tenants.empty()) {
    s.tenant = s.policy.ResolveTenant(s.req.tenant());
    if (s.tenant == nullptr) {
      return absl::PermissionDeniedError(absl::StrCat("tenant \"", Clipped(s.tenant_name),
                                                      "\" is not in the policy (revision ",
                                                      s.policy.revision(), ")"));
    }
    s.tenant_name = s.tenant->name;
  }
  s.tier = TierFor(s.tenant, s.req.priority());
  s.region = RegionFor(s.tenant, s.req);
  if (s.trace && s.tier.lowered()) {
    s.trace->add_notes(absl::StrCat("tier lowered from ", s.tier.requested, " to ", s.tier.tier,
                                    ": tenant \"", s.tenant_name, "\" allows ",
                                    absl::StrJoin(s.tenant->allowed_tiers, ", ")));
  }
  if (s.trace && s.region.client_ignored) {
    s.trace->add_notes(absl::StrCat(
        "client region \"", s.req.client_region(), "\" ignored: tenant \"", s.tenant_name,
        "\" does not trust clients with their region; ",
        s.region.region.empty() ? "no region" : absl::StrCat("region \"", s.region.region, "\""),
        " is used"));
  }
  return absl::OkStatus();
}

absl::Status ChooseRule(RouteState& s) {
  MatchInput in{&s.req,          s.policy.ModelIndex(s.req.model()),
                s.tenant_name,   s.tier.tier,
                s.region.region, &s.signals};
  std::string failed;
  for (const CompiledRule& r : s.policy.rules()) {
    const bool ok = RuleMatches(s.policy, r, in, s.trace ? &failed : nullptr);
    if (s.trace) {
      auto* e = s.trace->add_rules();
      e->set_rule(r.spec->name);
      e->set_matched(ok);
      if (!ok) e->set_failed_condition(failed);
    }
    if (ok) {
      s.rule = &r;
      break;
    }
  }
  if (s.rule && s.rule->spec->then.deny) {
    AddCandidate(s.trace, s.req.model(), "", v1::CANDIDATE_STAGE_DENIED, 0,
                 *s.rule->spec->then.deny);
    return absl::PermissionDeniedError(
        absl::StrCat("denied by rule \"", s.rule_name(), "\": ", *s.rule->spec->then.deny));
  }
  return absl::OkStatus();
}

absl::Status GatherCandidates(RouteState& s) {
  auto add_model = [&](int index, bool fallback) {
    for (const ModelCandidate& c : s.models) {
      if (c.model == index) return;
    }
    ModelCandidate c;
    c.model = index;
    c.fallback = fallback;
    s.models.push_back(std::move(c));
  };
  const CompiledRule* rule = s.rule;
  const int requested = s.policy.ModelIndex(s.req.model());
  if (rule && !rule->split.empty()) {
    s.drawn = DrawSplit(s);
    add_model(rule->split[s.drawn].first, false);
    for (size_t i = 0; i < rule->split.size(); ++i) {
      if (static_cast<int>(i) != s.drawn) add_model(rule->split[i].first, false);
    }
  } else if (rule) {
    for (int m : rule->candidates) add_model(m, false);
  } else if (requested >= 0) {
    add_model(requested, false);
  } else {
    std::vector<absl::string_view> names;
    for (const ModelSpec& m : s.bundle.models) names.push_back(m.name);
    return absl::NotFoundError(absl::StrCat(
        "model \"", Clipped(s.req.model()), "\" is not in the policy catalog (revision ",
        s.policy.revision(), ")", s.policy.rules().empty() ? "" : " and no rule routes it",
        "; known models: ", absl::StrJoin(names, ", ")));
  }
  // The rule's fallback chain, else the catalog's for the first candidate.
  absl::Span<const int> chain;
  if (rule && !rule->fallbacks.empty()) chain = rule->fallbacks;
  absl::InlinedVector<int, 8> catalog_chain;
  if (chain.empty()) {
    for (const std::string& f : s.bundle.models[s.models.front().model].fallbacks) {
      catalog_chain.push_back(s.policy.ModelIndex(f));
    }
    chain = catalog_chain;
  }
  for (int m : chain) add_model(m, true);
  return absl::OkStatus();
}

absl::Status ApplyFilters(RouteState& s, const SpendLedger* ledger, RouteNotes* notes) {
  s.constraints = MergedConstraints(s.rule, s.req.constraints());
  s.output_tokens = s.req.prompt().max_output_tokens() > 0 ? s.req.prompt().max_output_tokens()
                                                           : s.bundle.default_output_tokens;
  absl::StatusOr<bool> over_budget = OverBudget(s, ledger, notes);
  if (!over_budget.ok()) return over_budget.status();
  static const std::vector<std::string> kNoCapabilities;
  const std::vector<std::string>& rule_caps =
      s.rule ? s.rule->spec->match.capabilities : kNoCapabilities;
  for (ModelCandidate& mc : s.models) {
    mc.cost =
        EstimateCost(s.bundle.models[mc.model], s.signals.estimated_tokens(), s.output_tokens);
    Filter(s, rule_caps, mc);
  }
  if (*over_budget) DowngradeToCheapest(s);
  return absl::OkStatus();
}

void RankCandidates(RouteState& s) {
  const std::string& strategy = s.rule ? s.rule->spec->then.strategy : std::string("ordered");
  auto primary_end = std::stable_partition(s.models.begin(), s.models.end(),
                                           [](const ModelCandidate& m) { return !m.fallback; });
  for (auto it = s.models.begin(); it != primary_end; ++it) {
    const ModelSpec& m = s.bundle.models[it->model];
    it->score = strategy == "cheapest"  ? -it->cost
                : strategy == "quality" ? m.quality
                                        : -static_cast<double>(it - s.models.begin());
  }
  // A drawn split keeps its draw first.
  if (s.drawn < 0 && strategy != "ordered") {
    std::stable_sort(
        s.models.begin(), primary_end,
        [](const ModelCandidate& a, const ModelCandidate& b) { return a.score > b.score; });
  }
}

SelectionInput SelectionFor(const RouteState& s, absl::Time now) {
  SelectionInput selection;
  selection.strategy = s.rule ? s.rule->endpoint_strategy : EndpointStrategy::kRoundRobin;
  selection.now = now;
  selection.client_region = s.region.region;
  selection.sticky_key = !s.req.session_key().empty() ? s.req.session_key() : s.req.user_key();
  selection.max_latency_ms = s.constraints.max_latency_ms;
  selection.region_latency = &s.policy.region_latency();
  selection.tier = s.tier.tier;
  const TierPools* tier_pools = s.rule ? &s.rule->spec->then.tiers : nullptr;
  if (tier_pools) {
    auto own = tier_pools->pools.find(std::string(s.tier.tier));
    if (own != tier_pools->pools.end()) selection.pools = &own->second;
    auto spill = tier_pools->spill_pools.find(std::string(s.tier.tier));
    if (spill != tier_pools->spill_pools.end()) selection.spill_pools = &spill->second;
    selection.spill_below_load = tier_pools->spill_below_load;
    selection.saturated_queue = tier_pools->saturated_queue;
    selection.saturated_kv = tier_pools->saturated_kv;
  }
  return selection;
}

absl::Status PickEndpoints(RouteState& s, const InventoryView& view,
                           const SelectionInput& selection, RouteTargets* targets) {
  EndpointList endpoints;
  int kept = 0, total_endpoints = 0, unusable = 0;
  for (const ModelCandidate& mc : s.models) {
    const ModelSpec& m = s.bundle.models[mc.model];
    if (mc.stage != kKept) {
      AddCandidate(s.trace, m.name, "", mc.stage, mc.score, mc.detail);
      continue;
    }
    ++kept;
    const ModelEndpoints* group = view.ForModel(m.name);
    if (group == nullptr || group->endpoints.empty()) {
      AddCandidate(s.trace, m.name, "", v1::CANDIDATE_STAGE_NO_ENDPOINT, mc.score,
                   s.trace ? absl::StrCat("no endpoint serves \"", m.name,
                                          "\" in inventory version ", view.version())
                           : std::string());
      continue;
    }
    total_endpoints += static_cast<int>(group->endpoints.size());
    endpoints.clear();
    OrderEndpoints(*group, m, selection, s.trace, &endpoints, &unusable);
    if (TrackSplit split; !endpoints.empty() && TrackSplitFor(s, m, &split)) {
      OrderByTrack(s, m.name, split, &endpoints);
    }
    for (const Endpoint* e : endpoints) targets->emplace_back(e, &mc);
  }
  if (s.trace && s.drawn >= 0) {
    for (size_t i = 0; i < s.rule->split.size(); ++i) {
      if (static_cast<int>(i) == s.drawn) continue;
      AddCandidate(
          s.trace, s.bundle.models[s.rule->split[i].first].name, "",
          v1::CANDIDATE_STAGE_SPLIT_NOT_DRAWN, s.rule->split[i].second,
          absl::StrCat("split weight ", s.rule->split[i].second, ", not drawn; kept as fallback"));
    }
  }
  if (targets->empty()) return NoTargetError(s, view, kept, total_endpoints, unusable);
  return absl::OkStatus();
}

absl::Status RefuseWhenShed(const RouteState& s, const RouteTargets& targets, RouteNotes* notes) {
  const TierPools* tier_pools = s.rule ? &s.rule->spec->then.tiers : nullptr;
  if (tier_pools == nullptr ||
      std::find(tier_pools->shed_tiers.begin(), tier_pools->shed_tiers.end(), s.tier.tier) ==
          tier_pools->shed_tiers.end()) {
    return absl::OkStatus();
  }
  for (const auto& [e, mc] : targets) {
    const bool queue = tier_pools->saturated_queue > 0 &&
                       e->load().requests_waiting() > tier_pools->saturated_queue;
    const bool kv =
        tier_pools->saturated_kv > 0 && e->load().kv_cache_usage() > tier_pools->saturated_kv;
    if (!queue && !kv) return absl::OkStatus();
  }
  // Everything the tier may use is saturated: capacity stays with the tiers that matter more.
  if (notes) notes->shed = true;
  return absl::ResourceExhaustedError(
      absl::StrCat(s.tier.tier, " requests are shed: all ", targets.size(),
                   " usable endpoints are saturated (queue above ", tier_pools->saturated_queue,
                   " or KV-cache use above ", tier_pools->saturated_kv, "); retry after 1s"));
}

void FillAnswer(const RouteState& s, const InventoryView& view, const SelectionInput& selection,
                const RouteTargets& targets, absl::Time now, int max_fallbacks,
                v1::RouteRequestResponse* response) {
  const std::vector<ModelSpec>& models = s.bundle.models;
  response->set_decision_id(NewDecisionId());
  const ModelCandidate& chosen = *targets[0].second;
  FillTarget(*targets[0].first, models[chosen.model], response->mutable_target());
  if (selection.strategy == EndpointStrategy::kLeastOutstanding) {
    view.ForModel(models[chosen.model].name)->NoteSent(*targets[0].first, now);
  }
  AddCandidate(s.trace, models[chosen.model].name, targets[0].first->id(),
               v1::CANDIDATE_STAGE_SELECTED, chosen.score,
               s.trace
                   ? (chosen.fallback ? "first usable model of the fallback chain"
                      : s.drawn >= 0  ? "drawn by the split; next endpoint in round-robin order"
                                     : "first usable candidate; next endpoint in round-robin order")
                   : std::string());
  for (size_t i = 1; i < targets.size() && static_cast<int>(i) <= max_fallbacks; ++i) {
    const ModelCandidate& mc = *targets[i].second;
    FillTarget(*targets[i].first, models[mc.model], response->add_fallbacks());
    const bool same_model = mc.model == chosen.model;
    AddCandidate(
        s.trace, models[mc.model].name, targets[i].first->id(), v1::CANDIDATE_STAGE_FALLBACK,
        mc.score,
        s.trace ? absl::StrCat("fallback ", i, same_model ? "" : " (lower score)") : std::string());
  }
  response->set_policy_revision(s.policy.revision());
  response->set_policy_sha256(s.policy.content_hash());
  response->set_policy_rule(s.rule ? s.rule_name() : "catalog");
  response->set_estimated_cost_usd(chosen.cost);
  if (s.tenant != nullptr && s.tenant->rate_limits.any()) FillRateLimits(*s.tenant, response);
}

}  // namespace llmrouter::decision
