// The rules section of a bundle: what a rule matches and what it does.
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "re2/re2.h"
#include "services/decision/bundle_reader.h"

namespace llmrouter::decision {

void ReadRuleMatch(BundleReader& r, const YAML::Node& n, const std::string& path, RuleMatch* m) {
  if (!n) return;
  if (!r.Map(n, path,
             {"model", "tenant", "tier", "region", "headers", "intent", "complexity", "tokens",
              "pii", "capabilities"})) {
    return;
  }
  r.Strings(n["model"], Sub(path, "model"), &m->models);
  r.Strings(n["tenant"], Sub(path, "tenant"), &m->tenants);
  r.Strings(n["tier"], Sub(path, "tier"), &m->tiers);
  for (size_t i = 0; i < m->tiers.size(); ++i) {
    if (!OneOf(m->tiers[i], kTiers)) {
      r.Problem(absl::StrCat(path, ".tier[", i, "]"),
                absl::StrCat("\"", m->tiers[i], "\" is not one of interactive, standard, batch"));
    }
  }
  r.Strings(n["region"], Sub(path, "region"), &m->regions);
  r.Strings(n["intent"], Sub(path, "intent"), &m->intents);
  r.Strings(n["capabilities"], Sub(path, "capabilities"), &m->capabilities);
  r.RangeOf(n["complexity"], Sub(path, "complexity"), 0, 1, &m->complexity);
  r.RangeOf(n["tokens"], Sub(path, "tokens"), 0, 1e9, &m->tokens);
  bool pii;
  if (r.Bool(n["pii"], Sub(path, "pii"), &pii)) m->pii = pii;
  if (const YAML::Node h = n["headers"]) {
    std::string hp = Sub(path, "headers");
    if (!h.IsMap()) {
      r.Problem(hp, "must be a mapping of header name to value or {regex: ...}");
    } else {
      for (const auto& kv : h) {
        HeaderMatch hm;
        hm.name = absl::AsciiStrToLower(kv.first.Scalar());
        std::string vp = absl::StrCat(hp, ".", hm.name);
        if (kv.second.IsScalar()) {
          hm.value = kv.second.Scalar();
        } else if (kv.second.IsMap() && r.Map(kv.second, vp, {"regex"}) &&
                   r.String(kv.second["regex"], Sub(vp, "regex"), &hm.regex)) {
          r.Regex(hm.regex, Sub(vp, "regex"));
        } else if (!kv.second.IsMap()) {
          r.Problem(vp, "must be a string or {regex: ...}");
        }
        m->headers.push_back(std::move(hm));
      }
    }
  }
}

namespace {

// then.tracks: {TRACK: WEIGHT, ...}, in the bundle's order, weights summing to 100.
void ReadTracks(BundleReader& r, const YAML::Node& t, const std::string& path,
                std::vector<TrackShare>* out) {
  if (!t.IsMap() || t.size() == 0) {
    r.Problem(path, "must map endpoint tracks to weights, e.g. {stable: 95, canary: 5}");
    return;
  }
  static const LazyRE2 kTrackName = {"[a-z0-9][a-z0-9._-]{0,62}"};
  uint32_t sum = 0;
  for (const auto& kv : t) {
    TrackShare share;
    share.track = kv.first.Scalar();
    const std::string tp = absl::StrCat(path, ".", share.track);
    if (!RE2::FullMatch(share.track, *kTrackName)) {
      r.Problem(tp, "is not a track name (lower-case letters, digits, '.', '_', '-')");
      continue;
    }
    if (!r.Uint(kv.second, tp, &share.weight)) continue;
    if (share.weight > 100) {
      r.Problem(tp, "must be a weight from 0 to 100");
      continue;
    }
    sum += share.weight;
    out->push_back(std::move(share));
  }
  if (sum != 100 && out->size() == t.size()) {
    r.Problem(path, absl::StrCat("weights sum to ", sum, ", not 100"));
  }
}

}  // namespace

void ReadRuleAction(BundleReader& r, const YAML::Node& n, const std::string& path, RuleAction* a) {
  if (!n) {
    r.Problem(path, "is required");
    return;
  }
  if (!r.Map(n, path,
             {"candidates", "split", "tracks", "sticky", "strategy", "endpoint_strategy",
              "constraints", "pools", "spill_over", "shed", "fallbacks", "deny"})) {
    return;
  }
  r.Strings(n["candidates"], Sub(path, "candidates"), &a->candidates);
  r.Strings(n["fallbacks"], Sub(path, "fallbacks"), &a->fallbacks);
  if (n["strategy"]) {
    r.Enum(n["strategy"], Sub(path, "strategy"), {"ordered", "cheapest", "quality"}, &a->strategy);
  }
  if (n["sticky"]) {
    r.Enum(n["sticky"], Sub(path, "sticky"), {"session", "user", "tenant"}, &a->sticky);
  }
  if (n["endpoint_strategy"]) {
    r.Enum(n["endpoint_strategy"], Sub(path, "endpoint_strategy"),
           {"round_robin", "least_outstanding", "p2c", "lowest_latency", "weighted"},
           &a->endpoint_strategy);
  }
  std::string deny;
  if (r.String(n["deny"], Sub(path, "deny"), &deny)) a->deny = deny;
  auto tier_map = [&](const YAML::Node& m, const std::string& p,
                      std::map<std::string, std::vector<std::string>>* out) {
    if (!m) return;
    if (!m.IsMap()) {
      r.Problem(p, "must map a tier (interactive, standard, batch) to a list of pools");
      return;
    }
    for (const auto& kv : m) {
      const std::string tier = kv.first.Scalar();
      if (!OneOf(tier, kTiers)) {
        r.Problem(absl::StrCat(p, ".", tier), "is not one of interactive, standard, batch");
        continue;
      }
      r.Strings(kv.second, absl::StrCat(p, ".", tier), &(*out)[tier]);
    }
  };
  tier_map(n["pools"], Sub(path, "pools"), &a->tiers.pools);
  if (const YAML::Node sp = n["spill_over"]) {
    std::string p = Sub(path, "spill_over");
    if (r.Map(sp, p, {"interactive", "standard", "batch", "below_load"})) {
      r.Number(sp["below_load"], Sub(p, "below_load"), 0, 1e9, &a->tiers.spill_below_load);
      YAML::Node tiers_only = YAML::Clone(sp);
      tiers_only.remove("below_load");
      tier_map(tiers_only, p, &a->tiers.spill_pools);
      if (!sp["below_load"]) r.Problem(Sub(p, "below_load"), "is required");
    }
  }
  if (const YAML::Node sh = n["shed"]) {
    std::string p = Sub(path, "shed");
    if (r.Map(sh, p, {"tiers", "queue_above", "kv_above"})) {
      r.Strings(sh["tiers"], Sub(p, "tiers"), &a->tiers.shed_tiers);
      for (size_t i = 0; i < a->tiers.shed_tiers.size(); ++i) {
        if (!OneOf(a->tiers.shed_tiers[i], kTiers)) {
          r.Problem(absl::StrCat(p, ".tiers[", i, "]"),
                    "is not one of interactive, standard, batch");
        }
      }
      r.Number(sh["queue_above"], Sub(p, "queue_above"), 0, 1e9, &a->tiers.saturated_queue);
      r.Number(sh["kv_above"], Sub(p, "kv_above"), 0, 1, &a->tiers.saturated_kv);
      if (a->tiers.saturated_queue == 0 && a->tiers.saturated_kv == 0) {
        r.Problem(p, "needs queue_above or kv_above");
      }
    }
  }
  if (const YAML::Node s = n["split"]) {
    std::string sp = Sub(path, "split");
    if (!s.IsSequence() || s.size() == 0) {
      r.Problem(sp, "must be a non-empty list of {model, weight}");
    } else {
      uint32_t sum = 0;
      for (size_t i = 0; i < s.size(); ++i) {
        std::string ep = absl::StrCat(sp, "[", i, "]");
        SplitEntry e;
        if (!r.Map(s[i], ep, {"model", "weight"})) continue;
        if (!s[i]["model"]) r.Problem(Sub(ep, "model"), "is required");
        r.String(s[i]["model"], Sub(ep, "model"), &e.model);
        if (!s[i]["weight"]) r.Problem(Sub(ep, "weight"), "is required");
        r.Uint(s[i]["weight"], Sub(ep, "weight"), &e.weight);
        sum += e.weight;
        a->split.push_back(std::move(e));
      }
      if (sum != 100) r.Problem(sp, absl::StrCat("weights sum to ", sum, ", not 100"));
    }
  }
  if (const YAML::Node t = n["tracks"]) ReadTracks(r, t, Sub(path, "tracks"), &a->tracks);
  if (const YAML::Node c = n["constraints"]) {
    std::string cp = Sub(path, "constraints");
    if (r.Map(
            c, cp,
            {"max_cost_usd", "min_quality", "max_latency_ms", "context_must_fit", "data_policy"})) {
      double v;
      if (r.Number(c["max_cost_usd"], Sub(cp, "max_cost_usd"), 0, 1e6, &v))
        a->constraints.max_cost_usd = v;
      if (r.Number(c["min_quality"], Sub(cp, "min_quality"), 0, 1, &v))
        a->constraints.min_quality = v;
      uint32_t ms;
      if (r.Uint(c["max_latency_ms"], Sub(cp, "max_latency_ms"), &ms))
        a->constraints.max_latency_ms = ms;
      r.Bool(c["context_must_fit"], Sub(cp, "context_must_fit"), &a->constraints.context_must_fit);
      if (c["data_policy"]) {
        r.Enum(c["data_policy"], Sub(cp, "data_policy"), {"private", "external"},
               &a->constraints.data_policy);
      }
    }
  }
  if (a->deny && !a->tracks.empty()) r.Problem(Sub(path, "tracks"), "cannot be combined with deny");
  const bool routes = !a->candidates.empty() || !a->split.empty();
  if (a->deny && routes) r.Problem(path, "deny cannot be combined with candidates or split");
  if (!a->deny && !routes) r.Problem(path, "needs candidates, split or deny");
  if (!a->candidates.empty() && !a->split.empty()) {
    r.Problem(path, "use either candidates or split, not both");
  }
}

}  // namespace llmrouter::decision
