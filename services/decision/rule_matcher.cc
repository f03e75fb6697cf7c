#include "services/decision/rule_matcher.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace llmrouter::decision {
namespace {

bool Contains(const std::vector<std::string>& list, absl::string_view v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

bool Fail(std::string* failed, absl::string_view condition, absl::string_view value,
          const std::vector<std::string>& allowed) {
  if (failed) {
    *failed = absl::StrCat("match.", condition, ": \"", value, "\" not in [",
                           absl::StrJoin(allowed, ", "), "]");
  }
  return false;
}

// Only a bounded range reads the prompt: an absent condition costs no analysis.
bool Bounded(const Range& r) { return r.min || r.max; }

bool InRange(const Range& r, double v) {
  return (!r.min || v >= *r.min) && (!r.max || v <= *r.max);
}

std::string RangeText(const Range& r) {
  return absl::StrCat("[", r.min ? absl::StrCat(*r.min) : "-inf", ", ",
                      r.max ? absl::StrCat(*r.max) : "+inf", "]");
}

}  // namespace

absl::string_view TierName(llmrouter::v1::PriorityTier tier) {
  switch (tier) {
    case llmrouter::v1::PRIORITY_TIER_INTERACTIVE:
      return "interactive";
    case llmrouter::v1::PRIORITY_TIER_STANDARD:
      return "standard";
    case llmrouter::v1::PRIORITY_TIER_BATCH:
      return "batch";
    default:
      return "";
  }
}

bool RuleMatches(const CompiledPolicy& policy, const CompiledRule& rule, const MatchInput& in,
                 std::string* failed) {
  const RuleMatch& m = rule.spec->match;
  const llmrouter::v1::RouteRequestRequest& req = *in.request;
  if (!m.models.empty() && !Contains(m.models, "*") && !Contains(m.models, req.model())) {
    // A rule naming a catalog model also matches requests for any of its aliases.
    bool via_alias = false;
    if (in.requested_model >= 0) {
      for (const std::string& name : m.models) {
        via_alias = via_alias || policy.ModelIndex(name) == in.requested_model;
      }
    }
    if (!via_alias) return Fail(failed, "model", req.model(), m.models);
  }
  if (!m.tenants.empty() && !Contains(m.tenants, in.tenant)) {
    return Fail(failed, "tenant", in.tenant, m.tenants);
  }
  if (!m.tiers.empty() && !Contains(m.tiers, in.tier))
    return Fail(failed, "tier", in.tier, m.tiers);
  if (!m.regions.empty() && !Contains(m.regions, in.region)) {
    return Fail(failed, "region", in.region, m.regions);
  }
  for (size_t i = 0; i < m.headers.size(); ++i) {
    const HeaderMatch& h = m.headers[i];
    auto it = req.headers().find(h.name);
    if (it == req.headers().end()) {
      if (failed) *failed = absl::StrCat("match.headers.", h.name, ": header absent");
      return false;
    }
    bool ok = rule.header_regex[i] ? RE2::FullMatch(it->second, *rule.header_regex[i])
                                   : it->second == h.value;
    if (!ok) {
      if (failed) {
        *failed =
            absl::StrCat("match.headers.", h.name, ": \"", it->second, "\" does not ",
                         h.regex.empty() ? "equal \"" + h.value + "\"" : "match /" + h.regex + "/");
      }
      return false;
    }
  }
  if (rule.intent_mask != 0 && (in.signals->analysis().intent_mask & rule.intent_mask) == 0) {
    if (failed) {
      std::vector<std::string> found;
      const auto& names = policy.analyzer().intent_names();
      for (size_t i = 0; i < names.size(); ++i) {
        if (in.signals->analysis().intent_mask & (uint64_t{1} << i)) found.push_back(names[i]);
      }
      *failed = absl::StrCat("match.intent: prompt shows [", absl::StrJoin(found, ", "),
                             "], none of [", absl::StrJoin(m.intents, ", "), "]");
    }
    return false;
  }
  if (Bounded(m.complexity) && !InRange(m.complexity, in.signals->analysis().complexity)) {
    if (failed) {
      *failed = absl::StrCat("match.complexity: ", in.signals->analysis().complexity, " not in ",
                             RangeText(m.complexity));
    }
    return false;
  }
  if (Bounded(m.tokens) && !InRange(m.tokens, in.signals->estimated_tokens())) {
    if (failed) {
      *failed = absl::StrCat("match.tokens: ", in.signals->estimated_tokens(), " not in ",
                             RangeText(m.tokens));
    }
    return false;
  }
  if (m.pii && *m.pii != (in.signals->pii_mask() != 0)) {
    if (failed) {
      *failed =
          absl::StrCat("match.pii: prompt ", in.signals->pii_mask() ? "has" : "has no",
                       " PII, rule wants pii: ", *m.pii ? "true" : "false");
    }
    return false;
  }
  return true;
}

}  // namespace llmrouter::decision
