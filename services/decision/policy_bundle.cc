#include "services/decision/policy_bundle.h"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <initializer_list>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace llmrouter::decision {
namespace {

constexpr std::initializer_list<const char*> kTiers = {"interactive", "standard", "batch"};

bool OneOf(const std::string& v, std::initializer_list<const char*> options) {
  for (const char* o : options) {
    if (v == o) return true;
  }
  return false;
}

std::string Sub(const std::string& path, const char* key) {
  return path.empty() ? key : absl::StrCat(path, ".", key);
}

// Reads YAML nodes into the bundle's structs, recording every problem with its path.
class Reader {
 public:
  explicit Reader(std::vector<BundleProblem>* problems) : problems_(problems) {}

  void Problem(std::string path, std::string message) {
    problems_->push_back({std::move(path), std::move(message)});
  }

  bool Map(const YAML::Node& node, const std::string& path,
           std::initializer_list<const char*> keys) {
    if (!node.IsMap()) {
      Problem(path, "must be a mapping");
      return false;
    }
    for (const auto& kv : node) {
      std::string key = kv.first.Scalar();
      bool known = false;
      for (const char* k : keys) known = known || key == k;
      if (!known) {
        Problem(path.empty() ? key : absl::StrCat(path, ".", key),
                absl::StrCat("unknown field (known: ", absl::StrJoin(keys, ", "), ")"));
      }
    }
    return true;
  }

  bool String(const YAML::Node& node, const std::string& path, std::string* out) {
    if (!node) return false;
    if (!node.IsScalar() || node.Scalar().empty()) {
      Problem(path, "must be a non-empty string");
      return false;
    }
    *out = node.Scalar();
    return true;
  }

  // A string or a list of strings.
  void Strings(const YAML::Node& node, const std::string& path, std::vector<std::string>* out) {
    if (!node) return;
    if (node.IsScalar()) {
      std::string v;
      if (String(node, path, &v)) out->push_back(std::move(v));
      return;
    }
    if (!node.IsSequence()) {
      Problem(path, "must be a string or a list of strings");
      return;
    }
    for (size_t i = 0; i < node.size(); ++i) {
      std::string v;
      if (String(node[i], absl::StrCat(path, "[", i, "]"), &v)) out->push_back(std::move(v));
    }
  }

  bool Number(const YAML::Node& node, const std::string& path, double lo, double hi, double* out) {
    if (!node) return false;
    double v = 0;
    if (!node.IsScalar() || !absl::SimpleAtod(node.Scalar(), &v)) {
      Problem(path, "must be a number");
      return false;
    }
    if (v < lo || v > hi) {
      Problem(path, absl::StrCat(v, " is out of range [", lo, ", ", hi, "]"));
      return false;
    }
    *out = v;
    return true;
  }

  bool Uint(const YAML::Node& node, const std::string& path, uint32_t* out) {
    if (!node) return false;
    uint32_t v = 0;
    if (!node.IsScalar() || !absl::SimpleAtoi(node.Scalar(), &v)) {
      Problem(path, "must be a non-negative integer");
      return false;
    }
    *out = v;
    return true;
  }

  bool Bool(const YAML::Node& node, const std::string& path, bool* out) {
    if (!node) return false;
    std::string v = node.IsScalar() ? absl::AsciiStrToLower(node.Scalar()) : "";
    if (v == "true" || v == "yes") {
      *out = true;
    } else if (v == "false" || v == "no") {
      *out = false;
    } else {
      Problem(path, "must be true or false");
      return false;
    }
    return true;
  }

  void Enum(const YAML::Node& node, const std::string& path,
            std::initializer_list<const char*> options, std::string* out) {
    std::string v;
    if (!String(node, path, &v)) return;
    if (!OneOf(v, options)) {
      Problem(path, absl::StrCat("\"", v, "\" is not one of ", absl::StrJoin(options, ", ")));
      return;
    }
    *out = v;
  }

  void RangeOf(const YAML::Node& node, const std::string& path, double lo, double hi, Range* out) {
    if (!node) return;
    if (!Map(node, path, {"min", "max"})) return;
    double v;
    if (Number(node["min"], Sub(path, "min"), lo, hi, &v)) out->min = v;
    if (Number(node["max"], Sub(path, "max"), lo, hi, &v)) out->max = v;
    if (out->min && out->max && *out->min > *out->max) Problem(path, "min is greater than max");
  }

  void Regex(const std::string& pattern, const std::string& path) {
    RE2 re(pattern, RE2::Quiet);
    if (!re.ok()) Problem(path, absl::StrCat("invalid RE2 pattern: ", re.error()));
  }

  void Model(const YAML::Node& m, const std::string& path, ModelSpec* spec) {
    if (!Map(m, path,
             {"name", "aliases", "fallbacks", "owned_by", "capabilities", "context_window", "price",
              "quality", "data_policy"})) {
      return;
    }
    if (!m["name"]) Problem(Sub(path, "name"), "is required");
    String(m["name"], Sub(path, "name"), &spec->name);
    Strings(m["aliases"], Sub(path, "aliases"), &spec->aliases);
    Strings(m["fallbacks"], Sub(path, "fallbacks"), &spec->fallbacks);
    String(m["owned_by"], Sub(path, "owned_by"), &spec->owned_by);
    Strings(m["capabilities"], Sub(path, "capabilities"), &spec->capabilities);
    Uint(m["context_window"], Sub(path, "context_window"), &spec->context_window);
    if (const YAML::Node price = m["price"]) {
      std::string p = Sub(path, "price");
      if (Map(price, p, {"input_per_mtok", "output_per_mtok"})) {
        Number(price["input_per_mtok"], Sub(p, "input_per_mtok"), 0, 1e6,
               &spec->input_price_per_mtok);
        Number(price["output_per_mtok"], Sub(p, "output_per_mtok"), 0, 1e6,
               &spec->output_price_per_mtok);
      }
    }
    Number(m["quality"], Sub(path, "quality"), 0, 1, &spec->quality);
    if (m["data_policy"]) {
      Enum(m["data_policy"], Sub(path, "data_policy"), {"private", "external"}, &spec->data_policy);
    }
  }

  void Tenant(const YAML::Node& t, const std::string& path, TenantSpec* spec) {
    if (!Map(t, path, {"name", "allowed_models", "default_tier", "spend_limit"})) return;
    if (!t["name"]) Problem(Sub(path, "name"), "is required");
    String(t["name"], Sub(path, "name"), &spec->name);
    Strings(t["allowed_models"], Sub(path, "allowed_models"), &spec->allowed_models);
    if (t["default_tier"])
      Enum(t["default_tier"], Sub(path, "default_tier"), kTiers, &spec->default_tier);
    if (const YAML::Node s = t["spend_limit"]) {
      std::string p = Sub(path, "spend_limit");
      if (Map(s, p, {"usd", "period", "over_limit"})) {
        Number(s["usd"], Sub(p, "usd"), 0, 1e12, &spec->spend_limit.usd);
        if (s["period"])
          Enum(s["period"], Sub(p, "period"), {"day", "month"}, &spec->spend_limit.period);
        if (s["over_limit"]) {
          Enum(s["over_limit"], Sub(p, "over_limit"), {"deny", "downgrade"},
               &spec->spend_limit.over_limit);
        }
      }
    }
  }

  void Intent(const YAML::Node& n, const std::string& path, IntentSpec* spec) {
    if (!Map(n, path, {"name", "keywords", "patterns"})) return;
    if (!n["name"]) Problem(Sub(path, "name"), "is required");
    String(n["name"], Sub(path, "name"), &spec->name);
    Strings(n["keywords"], Sub(path, "keywords"), &spec->keywords);
    Strings(n["patterns"], Sub(path, "patterns"), &spec->patterns);
    for (size_t i = 0; i < spec->patterns.size(); ++i) {
      Regex(spec->patterns[i], absl::StrCat(path, ".patterns[", i, "]"));
    }
    if (spec->keywords.empty() && spec->patterns.empty()) {
      Problem(path, "needs keywords or patterns");
    }
  }

  void Match(const YAML::Node& n, const std::string& path, RuleMatch* m) {
    if (!n) return;
    if (!Map(n, path,
             {"model", "tenant", "tier", "region", "headers", "intent", "complexity", "tokens",
              "pii", "capabilities"})) {
      return;
    }
    Strings(n["model"], Sub(path, "model"), &m->models);
    Strings(n["tenant"], Sub(path, "tenant"), &m->tenants);
    Strings(n["tier"], Sub(path, "tier"), &m->tiers);
    for (size_t i = 0; i < m->tiers.size(); ++i) {
      if (!OneOf(m->tiers[i], kTiers)) {
        Problem(absl::StrCat(path, ".tier[", i, "]"),
                absl::StrCat("\"", m->tiers[i], "\" is not one of interactive, standard, batch"));
      }
    }
    Strings(n["region"], Sub(path, "region"), &m->regions);
    Strings(n["intent"], Sub(path, "intent"), &m->intents);
    Strings(n["capabilities"], Sub(path, "capabilities"), &m->capabilities);
    RangeOf(n["complexity"], Sub(path, "complexity"), 0, 1, &m->complexity);
    RangeOf(n["tokens"], Sub(path, "tokens"), 0, 1e9, &m->tokens);
    bool pii;
    if (Bool(n["pii"], Sub(path, "pii"), &pii)) m->pii = pii;
    if (const YAML::Node h = n["headers"]) {
      std::string hp = Sub(path, "headers");
      if (!h.IsMap()) {
        Problem(hp, "must be a mapping of header name to value or {regex: ...}");
      } else {
        for (const auto& kv : h) {
          HeaderMatch hm;
          hm.name = absl::AsciiStrToLower(kv.first.Scalar());
          std::string vp = absl::StrCat(hp, ".", hm.name);
          if (kv.second.IsScalar()) {
            hm.value = kv.second.Scalar();
          } else if (kv.second.IsMap() && Map(kv.second, vp, {"regex"}) &&
                     String(kv.second["regex"], Sub(vp, "regex"), &hm.regex)) {
            Regex(hm.regex, Sub(vp, "regex"));
          } else if (!kv.second.IsMap()) {
            Problem(vp, "must be a string or {regex: ...}");
          }
          m->headers.push_back(std::move(hm));
        }
      }
    }
  }

  void Action(const YAML::Node& n, const std::string& path, RuleAction* a) {
    if (!n) {
      Problem(path, "is required");
      return;
    }
    if (!Map(n, path,
             {"candidates", "split", "sticky", "strategy", "endpoint_strategy", "constraints",
              "pools", "spill_over", "shed", "fallbacks", "deny"})) {
      return;
    }
    Strings(n["candidates"], Sub(path, "candidates"), &a->candidates);
    Strings(n["fallbacks"], Sub(path, "fallbacks"), &a->fallbacks);
    if (n["strategy"]) {
      Enum(n["strategy"], Sub(path, "strategy"), {"ordered", "cheapest", "quality"}, &a->strategy);
    }
    if (n["sticky"]) Enum(n["sticky"], Sub(path, "sticky"), {"session", "user"}, &a->sticky);
    if (n["endpoint_strategy"]) {
      Enum(n["endpoint_strategy"], Sub(path, "endpoint_strategy"),
           {"round_robin", "least_outstanding", "p2c", "lowest_latency", "weighted"},
           &a->endpoint_strategy);
    }
    std::string deny;
    if (String(n["deny"], Sub(path, "deny"), &deny)) a->deny = deny;
    auto tier_map = [&](const YAML::Node& m, const std::string& p,
                        std::map<std::string, std::vector<std::string>>* out) {
      if (!m) return;
      if (!m.IsMap()) {
        Problem(p, "must map a tier (interactive, standard, batch) to a list of pools");
        return;
      }
      for (const auto& kv : m) {
        const std::string tier = kv.first.Scalar();
        if (!OneOf(tier, kTiers)) {
          Problem(absl::StrCat(p, ".", tier), "is not one of interactive, standard, batch");
          continue;
        }
        Strings(kv.second, absl::StrCat(p, ".", tier), &(*out)[tier]);
      }
    };
    tier_map(n["pools"], Sub(path, "pools"), &a->tiers.pools);
    if (const YAML::Node sp = n["spill_over"]) {
      std::string p = Sub(path, "spill_over");
      if (Map(sp, p, {"interactive", "standard", "batch", "below_load"})) {
        Number(sp["below_load"], Sub(p, "below_load"), 0, 1e9, &a->tiers.spill_below_load);
        YAML::Node tiers_only = YAML::Clone(sp);
        tiers_only.remove("below_load");
        tier_map(tiers_only, p, &a->tiers.spill_pools);
        if (!sp["below_load"]) Problem(Sub(p, "below_load"), "is required");
      }
    }
    if (const YAML::Node sh = n["shed"]) {
      std::string p = Sub(path, "shed");
      if (Map(sh, p, {"tiers", "queue_above", "kv_above"})) {
        Strings(sh["tiers"], Sub(p, "tiers"), &a->tiers.shed_tiers);
        for (size_t i = 0; i < a->tiers.shed_tiers.size(); ++i) {
          if (!OneOf(a->tiers.shed_tiers[i], kTiers)) {
            Problem(absl::StrCat(p, ".tiers[", i, "]"),
                    "is not one of interactive, standard, batch");
          }
        }
        Number(sh["queue_above"], Sub(p, "queue_above"), 0, 1e9, &a->tiers.saturated_queue);
        Number(sh["kv_above"], Sub(p, "kv_above"), 0, 1, &a->tiers.saturated_kv);
        if (a->tiers.saturated_queue == 0 && a->tiers.saturated_kv == 0) {
          Problem(p, "needs queue_above or kv_above");
        }
      }
    }
    if (const YAML::Node s = n["split"]) {
      std::string sp = Sub(path, "split");
      if (!s.IsSequence() || s.size() == 0) {
        Problem(sp, "must be a non-empty list of {model, weight}");
      } else {
        uint32_t sum = 0;
        for (size_t i = 0; i < s.size(); ++i) {
          std::string ep = absl::StrCat(sp, "[", i, "]");
          SplitEntry e;
          if (!Map(s[i], ep, {"model", "weight"})) continue;
          if (!s[i]["model"]) Problem(Sub(ep, "model"), "is required");
          String(s[i]["model"], Sub(ep, "model"), &e.model);
          if (!s[i]["weight"]) Problem(Sub(ep, "weight"), "is required");
          Uint(s[i]["weight"], Sub(ep, "weight"), &e.weight);
          sum += e.weight;
          a->split.push_back(std::move(e));
        }
        if (sum != 100) Problem(sp, absl::StrCat("weights sum to ", sum, ", not 100"));
      }
    }
    if (const YAML::Node c = n["constraints"]) {
      std::string cp = Sub(path, "constraints");
      if (Map(c, cp,
              {"max_cost_usd", "min_quality", "max_latency_ms", "context_must_fit",
               "data_policy"})) {
        double v;
        if (Number(c["max_cost_usd"], Sub(cp, "max_cost_usd"), 0, 1e6, &v))
          a->constraints.max_cost_usd = v;
        if (Number(c["min_quality"], Sub(cp, "min_quality"), 0, 1, &v))
          a->constraints.min_quality = v;
        uint32_t ms;
        if (Uint(c["max_latency_ms"], Sub(cp, "max_latency_ms"), &ms))
          a->constraints.max_latency_ms = ms;
        Bool(c["context_must_fit"], Sub(cp, "context_must_fit"), &a->constraints.context_must_fit);
        if (c["data_policy"]) {
          Enum(c["data_policy"], Sub(cp, "data_policy"), {"private", "external"},
               &a->constraints.data_policy);
        }
      }
    }
    const bool routes = !a->candidates.empty() || !a->split.empty();
    if (a->deny && routes) Problem(path, "deny cannot be combined with candidates or split");
    if (!a->deny && !routes) Problem(path, "needs candidates, split or deny");
    if (!a->candidates.empty() && !a->split.empty()) {
      Problem(path, "use either candidates or split, not both");
    }
  }

  void Test(const YAML::Node& n, const std::string& path, BundleTest* t) {
    if (!Map(n, path, {"name", "request", "expect"})) return;
    if (!String(n["name"], Sub(path, "name"), &t->name)) t->name = path;
    const YAML::Node r = n["request"];
    std::string rp = Sub(path, "request");
    if (!r) {
      Problem(rp, "is required");
    } else if (Map(r, rp,
                   {"model", "tenant", "tier", "region", "session", "user", "headers", "prompt",
                    "max_tokens"})) {
      if (!r["model"]) Problem(Sub(rp, "model"), "is required");
      String(r["model"], Sub(rp, "model"), &t->request.model);
      String(r["tenant"], Sub(rp, "tenant"), &t->request.tenant);
      if (r["tier"]) Enum(r["tier"], Sub(rp, "tier"), kTiers, &t->request.tier);
      String(r["region"], Sub(rp, "region"), &t->request.region);
      String(r["session"], Sub(rp, "session"), &t->request.session);
      String(r["user"], Sub(rp, "user"), &t->request.user);
      String(r["prompt"], Sub(rp, "prompt"), &t->request.prompt);
      Uint(r["max_tokens"], Sub(rp, "max_tokens"), &t->request.max_tokens);
      if (const YAML::Node h = r["headers"]) {
        if (!h.IsMap()) {
          Problem(Sub(rp, "headers"), "must be a mapping");
        } else {
          for (const auto& kv : h) {
            t->request.headers[absl::AsciiStrToLower(kv.first.Scalar())] = kv.second.Scalar();
          }
        }
      }
    }
    const YAML::Node e = n["expect"];
    std::string ep = Sub(path, "expect");
    if (!e) {
      Problem(ep, "is required");
    } else if (Map(e, ep, {"model", "rule", "deny"})) {
      String(e["model"], Sub(ep, "model"), &t->expect_model);
      String(e["rule"], Sub(ep, "rule"), &t->expect_rule);
      Bool(e["deny"], Sub(ep, "deny"), &t->expect_deny);
      if (t->expect_model.empty() && !t->expect_deny) Problem(ep, "needs model or deny: true");
    }
  }

 private:
  std::vector<BundleProblem>* problems_;
};

template <typename T, typename F>
void ReadList(Reader& r, const YAML::Node& root, const char* key, bool required,
              std::vector<T>* out, F read) {
  const YAML::Node list = root[key];
  if (!list) {
    if (required) r.Problem(key, "must be a non-empty list");
    return;
  }
  if (!list.IsSequence() || (required && list.size() == 0)) {
    r.Problem(key, required ? "must be a non-empty list" : "must be a list");
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    T item;
    read(list[i], absl::StrCat(key, "[", i, "]"), &item);
    out->push_back(std::move(item));
  }
}

// Cross-references: names unique, every model, tenant and intent a rule or test names exists.
void CheckReferences(const PolicyBundle& b, Reader& r) {
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
      if (!intents.contains(rule.match.intents[t])) {
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
}

}  // namespace

std::vector<BundleProblem> ParsePolicyBundle(const std::string& yaml, PolicyBundle* out) {
  std::vector<BundleProblem> problems;
  Reader r(&problems);
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    r.Problem(absl::StrCat("line ", e.mark.line + 1, ", column ", e.mark.column + 1),
              absl::StrCat("not valid YAML: ", e.msg));
    return problems;
  }
  if (!root.IsMap()) {
    r.Problem("", "a bundle must be a YAML mapping with a \"models\" list");
    return problems;
  }
  try {
    r.Map(root, "", {"defaults", "regions", "models", "tenants", "intents", "rules", "tests"});
    if (const YAML::Node regions = root["regions"]) {
      if (r.Map(regions, "regions", {"latency_ms"}) && regions["latency_ms"]) {
        const YAML::Node m = regions["latency_ms"];
        if (!m.IsMap()) {
          r.Problem("regions.latency_ms", "must map a region to {region: milliseconds}");
        } else {
          for (const auto& from : m) {
            const std::string fp = absl::StrCat("regions.latency_ms.", from.first.Scalar());
            if (!from.second.IsMap()) {
              r.Problem(fp, "must map a region to milliseconds");
              continue;
            }
            for (const auto& to : from.second) {
              double ms;
              if (r.Number(to.second, absl::StrCat(fp, ".", to.first.Scalar()), 0, 1e6, &ms)) {
                out->region_latency_ms[from.first.Scalar()][to.first.Scalar()] = ms;
              }
            }
          }
        }
      }
    }
    if (const YAML::Node d = root["defaults"]) {
      if (r.Map(d, "defaults", {"output_tokens"})) {
        r.Uint(d["output_tokens"], "defaults.output_tokens", &out->default_output_tokens);
      }
    }
    ReadList(r, root, "models", true, &out->models,
             [&](const YAML::Node& n, const std::string& p, ModelSpec* m) { r.Model(n, p, m); });
    ReadList(r, root, "tenants", false, &out->tenants,
             [&](const YAML::Node& n, const std::string& p, TenantSpec* t) { r.Tenant(n, p, t); });
    ReadList(r, root, "intents", false, &out->intents,
             [&](const YAML::Node& n, const std::string& p, IntentSpec* i) { r.Intent(n, p, i); });
    ReadList(r, root, "rules", false, &out->rules,
             [&](const YAML::Node& n, const std::string& p, RuleSpec* rule) {
               if (!r.Map(n, p, {"name", "match", "then"})) return;
               r.String(n["name"], Sub(p, "name"), &rule->name);
               r.Match(n["match"], Sub(p, "match"), &rule->match);
               r.Action(n["then"], Sub(p, "then"), &rule->then);
             });
    ReadList(r, root, "tests", false, &out->tests,
             [&](const YAML::Node& n, const std::string& p, BundleTest* t) { r.Test(n, p, t); });
  } catch (const YAML::Exception& e) {
    r.Problem(absl::StrCat("line ", e.mark.line + 1), absl::StrCat("unreadable YAML: ", e.what()));
    return problems;
  }
  CheckReferences(*out, r);
  return problems;
}

absl::StatusOr<PolicyBundle> ParsePolicyBundleOrError(const std::string& yaml) {
  PolicyBundle bundle;
  std::vector<BundleProblem> problems = ParsePolicyBundle(yaml, &bundle);
  if (problems.empty()) return bundle;
  std::vector<std::string> lines;
  for (const BundleProblem& p : problems) {
    lines.push_back(p.path.empty() ? p.message : absl::StrCat(p.path, ": ", p.message));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid policy bundle:\n", absl::StrJoin(lines, "\n")));
}

}  // namespace llmrouter::decision
