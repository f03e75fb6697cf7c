#include "services/decision/policy_bundle.h"

#include <yaml-cpp/yaml.h>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace llmrouter::decision {
namespace {

class Checker {
 public:
  explicit Checker(std::vector<BundleProblem>* problems) : problems_(problems) {}

  void Problem(std::string path, std::string message) {
    problems_->push_back({std::move(path), std::move(message)});
  }

  void OnlyKeys(const YAML::Node& node, const std::string& path,
                std::initializer_list<const char*> keys) {
    for (const auto& kv : node) {
      std::string key = kv.first.Scalar();
      bool known = false;
      for (const char* k : keys) known = known || key == k;
      if (!known) {
        Problem(path.empty() ? key : absl::StrCat(path, ".", key),
                absl::StrCat("unknown field (known: ", absl::StrJoin(keys, ", "), ")"));
      }
    }
  }

  bool String(const YAML::Node& node, const std::string& path, std::string* out) {
    if (!node.IsScalar() || node.Scalar().empty()) {
      Problem(path, "must be a non-empty string");
      return false;
    }
    *out = node.Scalar();
    return true;
  }

  void StringList(const YAML::Node& node, const std::string& path, std::vector<std::string>* out) {
    if (!node) return;
    if (!node.IsSequence()) {
      Problem(path, "must be a list of strings");
      return;
    }
    for (size_t i = 0; i < node.size(); ++i) {
      std::string v;
      if (String(node[i], absl::StrCat(path, "[", i, "]"), &v)) out->push_back(std::move(v));
    }
  }

 private:
  std::vector<BundleProblem>* problems_;
};

}  // namespace

std::vector<BundleProblem> ParsePolicyBundle(const std::string& yaml, PolicyBundle* out) {
  std::vector<BundleProblem> problems;
  Checker check(&problems);
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    check.Problem(absl::StrCat("line ", e.mark.line + 1, ", column ", e.mark.column + 1),
                  absl::StrCat("not valid YAML: ", e.msg));
    return problems;
  }
  if (!root.IsMap()) {
    check.Problem("", "a bundle must be a YAML mapping with a \"models\" list");
    return problems;
  }
  check.OnlyKeys(root, "", {"models"});
  const YAML::Node models = root["models"];
  if (!models || !models.IsSequence() || models.size() == 0) {
    check.Problem("models", "must be a non-empty list of models");
    return problems;
  }
  // Names and aliases share one namespace: a request names either.
  absl::flat_hash_map<std::string, std::string> owner;  // name or alias -> path that defined it
  for (size_t i = 0; i < models.size(); ++i) {
    const std::string path = absl::StrCat("models[", i, "]");
    const YAML::Node m = models[i];
    if (!m.IsMap()) {
      check.Problem(path, "must be a mapping");
      continue;
    }
    check.OnlyKeys(m, path, {"name", "aliases", "fallbacks", "owned_by"});
    ModelSpec spec;
    if (!m["name"]) {
      check.Problem(absl::StrCat(path, ".name"), "is required");
    } else {
      check.String(m["name"], absl::StrCat(path, ".name"), &spec.name);
    }
    check.StringList(m["aliases"], absl::StrCat(path, ".aliases"), &spec.aliases);
    check.StringList(m["fallbacks"], absl::StrCat(path, ".fallbacks"), &spec.fallbacks);
    if (m["owned_by"]) check.String(m["owned_by"], absl::StrCat(path, ".owned_by"), &spec.owned_by);
    if (!spec.name.empty()) {
      auto [it, fresh] = owner.emplace(spec.name, absl::StrCat(path, ".name"));
      if (!fresh) {
        check.Problem(absl::StrCat(path, ".name"),
                      absl::StrCat("\"", spec.name, "\" is already defined at ", it->second));
      }
    }
    for (size_t a = 0; a < spec.aliases.size(); ++a) {
      std::string where = absl::StrCat(path, ".aliases[", a, "]");
      auto [it, fresh] = owner.emplace(spec.aliases[a], where);
      if (!fresh) {
        check.Problem(where,
                      absl::StrCat("\"", spec.aliases[a], "\" is already defined at ", it->second));
      }
    }
    out->models.push_back(std::move(spec));
  }
  absl::flat_hash_set<std::string> names;
  for (const ModelSpec& m : out->models) names.insert(m.name);
  for (size_t i = 0; i < out->models.size(); ++i) {
    const ModelSpec& m = out->models[i];
    for (size_t f = 0; f < m.fallbacks.size(); ++f) {
      std::string where = absl::StrCat("models[", i, "].fallbacks[", f, "]");
      if (!names.contains(m.fallbacks[f])) {
        check.Problem(where, absl::StrCat("unknown model \"", m.fallbacks[f],
                                          "\" (fallbacks name catalog models, not aliases)"));
      } else if (m.fallbacks[f] == m.name) {
        check.Problem(where, "a model cannot be its own fallback");
      }
    }
  }
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
