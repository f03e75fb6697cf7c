#include "services/decision/policy_lint.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "services/decision/policy_bundle.h"

namespace llmrouter::decision {
namespace {

namespace v1 = llmrouter::v1;

// True when every value `inner` accepts, `outer` accepts too (an empty list accepts anything).
bool ListCovers(const std::vector<std::string>& outer, const std::vector<std::string>& inner) {
  if (outer.empty() || std::find(outer.begin(), outer.end(), "*") != outer.end()) return true;
  if (inner.empty()) return false;
  for (const std::string& v : inner) {
    if (std::find(outer.begin(), outer.end(), v) == outer.end()) return false;
  }
  return true;
}

bool ListsIntersect(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.empty() || b.empty()) return true;
  if (std::find(a.begin(), a.end(), "*") != a.end()) return true;
  if (std::find(b.begin(), b.end(), "*") != b.end()) return true;
  for (const std::string& v : a) {
    if (std::find(b.begin(), b.end(), v) != b.end()) return true;
  }
  return false;
}

bool RangeCovers(const Range& outer, const Range& inner) {
  bool lo = !outer.min || (inner.min && *inner.min >= *outer.min);
  bool hi = !outer.max || (inner.max && *inner.max <= *outer.max);
  return lo && hi;
}

bool RangesIntersect(const Range& a, const Range& b) {
  double alo = a.min.value_or(-1e300), ahi = a.max.value_or(1e300);
  double blo = b.min.value_or(-1e300), bhi = b.max.value_or(1e300);
  return alo <= bhi && blo <= ahi;
}

bool SameHeader(const HeaderMatch& a, const HeaderMatch& b) {
  return a.name == b.name && a.value == b.value && a.regex == b.regex;
}

// Every request `inner` matches, `outer` matches too.
bool Covers(const RuleMatch& outer, const RuleMatch& inner) {
  if (!ListCovers(outer.models, inner.models) || !ListCovers(outer.tenants, inner.tenants) ||
      !ListCovers(outer.tiers, inner.tiers) || !ListCovers(outer.regions, inner.regions) ||
      !ListCovers(outer.intents, inner.intents) ||
      !RangeCovers(outer.complexity, inner.complexity) ||
      !RangeCovers(outer.tokens, inner.tokens)) {
    return false;
  }
  if (outer.pii && (!inner.pii || *inner.pii != *outer.pii)) return false;
  for (const HeaderMatch& h : outer.headers) {
    bool found = false;
    for (const HeaderMatch& g : inner.headers) found = found || SameHeader(h, g);
    if (!found) return false;
  }
  return true;
}

bool Intersect(const RuleMatch& a, const RuleMatch& b) {
  if (!ListsIntersect(a.models, b.models) || !ListsIntersect(a.tenants, b.tenants) ||
      !ListsIntersect(a.tiers, b.tiers) || !ListsIntersect(a.regions, b.regions) ||
      !ListsIntersect(a.intents, b.intents) || !RangesIntersect(a.complexity, b.complexity) ||
      !RangesIntersect(a.tokens, b.tokens)) {
    return false;
  }
  if (a.pii && b.pii && *a.pii != *b.pii) return false;
  for (const HeaderMatch& h : a.headers) {
    for (const HeaderMatch& g : b.headers) {
      // Two different exact values of one header never both hold.
      if (h.name == g.name && h.regex.empty() && g.regex.empty() && h.value != g.value)
        return false;
    }
  }
  return true;
}

bool SameAction(const RuleAction& a, const RuleAction& b) {
  if (a.deny.has_value() != b.deny.has_value()) return false;
  if (a.deny) return true;
  if (a.candidates != b.candidates || a.strategy != b.strategy) return false;
  if (a.split.size() != b.split.size()) return false;
  for (size_t i = 0; i < a.split.size(); ++i) {
    if (a.split[i].model != b.split[i].model || a.split[i].weight != b.split[i].weight)
      return false;
  }
  return true;
}

const ModelSpec* FindModel(const PolicyBundle& b, const std::string& name) {
  for (const ModelSpec& m : b.models) {
    if (m.name == name) return &m;
    if (std::find(m.aliases.begin(), m.aliases.end(), name) != m.aliases.end()) return &m;
  }
  return nullptr;
}

void Warn(std::vector<v1::LintFinding>* out, std::string path, std::string check,
          std::string message) {
  v1::LintFinding f;
  f.set_path(std::move(path));
  f.set_check(std::move(check));
  f.set_message(std::move(message));
  f.set_severity(v1::LINT_SEVERITY_WARNING);
  out->push_back(std::move(f));
}

// Why a candidate can never pass the rule's own constraints, or empty.
std::string StaticallyExcluded(const ModelSpec& m, const RuleSpec& rule) {
  const Constraints& c = rule.then.constraints;
  if (c.min_quality && m.quality < *c.min_quality) {
    return absl::StrCat("quality ", m.quality, " < min_quality ", *c.min_quality);
  }
  if (!c.data_policy.empty() && rule.match.pii && *rule.match.pii &&
      m.data_policy != c.data_policy) {
    return absl::StrCat("data_policy \"", m.data_policy, "\" is not \"", c.data_policy, "\"");
  }
  for (const std::string& cap : rule.match.capabilities) {
    if (std::find(m.capabilities.begin(), m.capabilities.end(), cap) == m.capabilities.end()) {
      return absl::StrCat("lacks capability \"", cap, "\"");
    }
  }
  return "";
}

}  // namespace

std::vector<v1::LintFinding> LintPolicyBundle(const std::string& yaml) {
  std::vector<v1::LintFinding> out;
  PolicyBundle b;
  for (const BundleProblem& p : ParsePolicyBundle(yaml, &b)) {
    v1::LintFinding f;
    f.set_path(p.path);
    f.set_message(p.message);
    f.set_severity(v1::LINT_SEVERITY_ERROR);
    f.set_check("invalid");
    out.push_back(std::move(f));
  }
  if (!out.empty()) return out;

  for (size_t j = 0; j < b.rules.size(); ++j) {
    const std::string path = absl::StrCat("rules[", j, "]");
    bool shadowed = false;
    for (size_t i = 0; i < j && !shadowed; ++i) {
      if (Covers(b.rules[i].match, b.rules[j].match)) {
        shadowed = true;
        Warn(&out, path, "shadowed-rule",
             absl::StrCat("rule \"", b.rules[j].name, "\" can never match: rule \"",
                          b.rules[i].name, "\" (rules[", i, "]) matches every request it would"));
      }
    }
    if (shadowed) continue;
    for (size_t i = 0; i < j; ++i) {
      const RuleSpec& a = b.rules[i];
      const RuleSpec& c = b.rules[j];
      if (Intersect(a.match, c.match) && !Covers(c.match, a.match) && !SameAction(a.then, c.then)) {
        Warn(&out, path, "conflicting-overlap",
             absl::StrCat("rules \"", a.name, "\" and \"", c.name,
                          "\" can match the same request with different actions; \"", a.name,
                          "\" wins because it comes first"));
      }
    }
  }

  for (size_t r = 0; r < b.rules.size(); ++r) {
    const RuleSpec& rule = b.rules[r];
    if (rule.then.deny) continue;
    const std::string path = absl::StrCat("rules[", r, "].then");
    std::vector<std::string> names = rule.then.candidates;
    for (const SplitEntry& e : rule.then.split) names.push_back(e.model);
    std::vector<std::string> why;
    for (const std::string& n : names) {
      const ModelSpec* m = FindModel(b, n);
      if (m == nullptr) continue;
      std::string reason = StaticallyExcluded(*m, rule);
      if (reason.empty() && !rule.match.tenants.empty()) {
        bool any_tenant = false;
        for (const std::string& tn : rule.match.tenants) {
          for (const TenantSpec& t : b.tenants) {
            if (t.name != tn) continue;
            bool allowed = t.allowed_models.empty();
            for (const std::string& am : t.allowed_models) {
              allowed = allowed || FindModel(b, am) == m;
            }
            any_tenant = any_tenant || allowed;
          }
        }
        if (!any_tenant) reason = "no tenant this rule matches may use it";
      }
      if (reason.empty()) break;
      why.push_back(absl::StrCat(n, ": ", reason));
    }
    if (!names.empty() && why.size() == names.size()) {
      std::string joined;
      for (const std::string& w : why) absl::StrAppend(&joined, joined.empty() ? "" : "; ", w);
      Warn(&out, path, "empty-candidates",
           absl::StrCat("rule \"", rule.name, "\" can never route: ", joined));
    }
    if (rule.then.strategy != "ordered" && rule.then.candidates.size() >= 2) {
      std::vector<std::pair<double, std::string>> scored;
      for (const std::string& n : rule.then.candidates) {
        const ModelSpec* m = FindModel(b, n);
        if (m == nullptr) continue;
        double score = rule.then.strategy == "cheapest"
                           ? -(m->input_price_per_mtok + m->output_price_per_mtok)
                           : m->quality;
        scored.emplace_back(score, n);
      }
      std::stable_sort(scored.begin(), scored.end(),
                       [](const auto& x, const auto& y) { return x.first > y.first; });
      if (scored.size() >= 2 && scored[0].first == scored[1].first) {
        Warn(&out, absl::StrCat(path, ".strategy"), "tie-break",
             absl::StrCat("strategy \"", rule.then.strategy, "\" ties between \"", scored[0].second,
                          "\" and \"", scored[1].second,
                          "\"; the order of candidates in the bundle decides"));
      }
    }
  }
  return out;
}

}  // namespace llmrouter::decision
