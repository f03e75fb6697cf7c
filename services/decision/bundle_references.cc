// Checks across a bundle's sections: unique names, known references, the intents' RE2 budget.
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "services/decision/bundle_reader.h"
#include "services/decision/pattern_limits.h"

namespace llmrouter::decision {

// Cross-references: names unique, every model, tenant and intent a rule or test names exists.
void CheckBundleReferences(const PolicyBundle& b, BundleReader& r) {
  absl::flat_hash_map<std::string, std::string> owner;  // model name or alias -> where defined
  absl::flat_hash_set<std::string> names;
  for (size_t i = 0; i < b.models.size(); ++i) {
    const ModelSpec& m = b.models[i];
    std::string path = absl::StrCat("models[", i, "]");
    if (!m.name.empty()) {
      names.insert(m.name);
      auto [it, fresh] = owner.emplace(m.name, Sub(path, "name"));
      if (!fresh)
        r.Problem(Sub(path, "name"),
                  absl::StrCat("\"", m.name, "\" is already defined at ", it->second));
    }
    for (size_t a = 0; a < m.aliases.size(); ++a) {
      std::string where = absl::StrCat(path, ".aliases[", a, "]");
      auto [it, fresh] = owner.emplace(m.aliases[a], where);
      if (!fresh)
        r.Problem(where, absl::StrCat("\"", m.aliases[a], "\" is already defined at ", it->second));
    }
  }
  auto known_model = [&](const std::string& n) { return owner.contains(n); };
  for (size_t i = 0; i < b.models.size(); ++i) {
    for (size_t f = 0; f < b.models[i].fallbacks.size(); ++f) {
      const std::string& fb = b.models[i].fallbacks[f];
      std::string where = absl::StrCat("models[", i, "].fallbacks[", f, "]");
      if (!names.contains(fb)) {
        r.Problem(where, absl::StrCat("unknown model \"", fb,
                                      "\" (fallbacks name catalog models, not aliases)"));
      } else if (fb == b.models[i].name) {
        r.Problem(where, "a model cannot be its own fallback");
      }
    }
  }
  absl::flat_hash_set<std::string> tenants, intents, rules;
  if (b.intents.size() > 64) r.Problem("intents", "at most 64 intents are supported");
  for (size_t i = 0; i < b.tenants.size(); ++i) {
    const TenantSpec& t = b.tenants[i];
    std::string path = absl::StrCat("tenants[", i, "]");
    if (!t.name.empty() && !tenants.insert(t.name).second) {
      r.Problem(Sub(path, "name"), absl::StrCat("duplicate tenant \"", t.name, "\""));
    }
    for (size_t m = 0; m < t.allowed_models.size(); ++m) {
      if (!known_model(t.allowed_models[m])) {
        r.Problem(absl::StrCat(path, ".allowed_models[", m, "]"),
                  absl::StrCat("unknown model \"", t.allowed_models[m], "\""));
      }
    }
  }
  if (IntentsProgramSize size = MeasureIntents(b.intents); size.first_over >= 0) {
    r.Problem(absl::StrCat("intents[", size.first_over, "]"),
              absl::StrCat("the intents' keywords and patterns up to here compile to ", size.size,
                           " RE2 instructions; all intents together may use ",
                           kMaxIntentsProgramSize, " (fewer or simpler patterns)"));
  }
  for (size_t i = 0; i < b.intents.size(); ++i) {
    if (!b.intents[i].name.empty() && !intents.insert(b.intents[i].name).second) {
      r.Problem(absl::StrCat("intents[", i, "].name"),
                absl::StrCat("duplicate intent \"", b.intents[i].name, "\""));
    }
  }
  auto check_models = [&](const std::vector<std::string>& list, const std::string& path) {
    for (size_t i = 0; i < list.size(); ++i) {
      if (!known_model(list[i])) {
        r.Problem(absl::StrCat(path, "[", i, "]"), absl::StrCat("unknown model \"", list[i], "\""));
      }
    }
  };
  for (size_t i = 0; i < b.rules.size(); ++i) {
    const RuleSpec& rule = b.rules[i];
    std::string path = absl::StrCat("rules[", i, "]");
    if (rule.name.empty()) {
      r.Problem(Sub(path, "name"), "is required");
    } else if (!rules.insert(rule.name).second) {
      r.Problem(Sub(path, "name"), absl::StrCat("duplicate rule \"", rule.name, "\""));
    }
    for (size_t t = 0; t < rule.match.tenants.size(); ++t) {
      if (!tenants.contains(rule.match.tenants[t])) {
        r.Problem(absl::StrCat(path, ".match.tenant[", t, "]"),
                  absl::StrCat("unknown tenant \"", rule.match.tenants[t], "\""));
      }
    }
    for (size_t t = 0; t < rule.match.intents.size(); ++t) {
      // With a classifier, its intents are checked when the model is loaded
      // (CheckClassifierIntents).
      if (!intents.contains(rule.match.intents[t]) && !b.classifier) {
        r.Problem(absl::StrCat(path, ".match.intent[", t, "]"),
                  absl::StrCat("unknown intent \"", rule.match.intents[t], "\""));
      }
    }
    check_models(rule.then.candidates, Sub(path, "then.candidates"));
    check_models(rule.then.fallbacks, Sub(path, "then.fallbacks"));
    for (size_t s = 0; s < rule.then.split.size(); ++s) {
      if (!rule.then.split[s].model.empty() && !known_model(rule.then.split[s].model)) {
        r.Problem(absl::StrCat(path, ".then.split[", s, "].model"),
                  absl::StrCat("unknown model \"", rule.then.split[s].model, "\""));
      }
    }
  }
  for (size_t i = 0; i < b.tests.size(); ++i) {
    const BundleTest& t = b.tests[i];
    std::string path = absl::StrCat("tests[", i, "]");
    if (!t.request.tenant.empty() && !b.tenants.empty() && !tenants.contains(t.request.tenant)) {
      r.Problem(Sub(path, "request.tenant"),
                absl::StrCat("unknown tenant \"", t.request.tenant, "\""));
    }
    if (!t.expect_model.empty() && !known_model(t.expect_model)) {
      r.Problem(Sub(path, "expect.model"), absl::StrCat("unknown model \"", t.expect_model, "\""));
    }
    if (!t.expect_rule.empty() && t.expect_rule != "catalog" && !rules.contains(t.expect_rule)) {
      r.Problem(Sub(path, "expect.rule"), absl::StrCat("unknown rule \"", t.expect_rule, "\""));
    }
  }
  absl::flat_hash_map<std::string, std::string> rollout_names, rollout_models;
  for (size_t i = 0; i < b.rollouts.size(); ++i) {
    const RolloutSpec& ro = b.rollouts[i];
    std::string path = absl::StrCat("rollouts[", i, "]");
    if (!ro.name.empty()) {
      auto [it, fresh] = rollout_names.emplace(ro.name, Sub(path, "name"));
      if (!fresh) {
        r.Problem(Sub(path, "name"),
                  absl::StrCat("\"", ro.name, "\" is already defined at ", it->second));
      }
    }
    if (ro.model.empty()) continue;
    if (!names.contains(ro.model)) {
      r.Problem(Sub(path, "model"),
                absl::StrCat("unknown model \"", ro.model, "\" (a rollout names a catalog model, ",
                             "not an alias)"));
      continue;
    }
    auto [it, fresh] = rollout_models.emplace(ro.model, Sub(path, "model"));
    if (!fresh) {
      r.Problem(Sub(path, "model"), absl::StrCat("\"", ro.model, "\" already has a rollout at ",
                                                 it->second, " (one per model)"));
    }
  }
}

}  // namespace llmrouter::decision
