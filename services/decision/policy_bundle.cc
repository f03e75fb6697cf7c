// Parses a whole bundle: the top-level sections here, each list's items by the readers of
// bundle_reader.h, then the checks across sections.
#include "services/decision/policy_bundle.h"

#include <yaml-cpp/yaml.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/decision/bundle_reader.h"

namespace llmrouter::decision {
namespace {

template <typename T, typename F>
void ReadList(BundleReader& r, const YAML::Node& root, const char* key, bool required,
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

void ReadClassifier(BundleReader& r, const YAML::Node& n, const std::string& path,
                    PolicyBundle* out) {
  if (!r.Map(n, path, {"sha256", "file", "min_confidence"})) return;
  ClassifierSpec spec;
  if (!r.String(n["sha256"], Sub(path, "sha256"), &spec.sha256) ||
      spec.sha256.size() != 64 ||
      spec.sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
    r.Problem(Sub(path, "sha256"),
              "must be the model file's SHA-256 in lower-case hex (64 characters), e.g. from "
              "`routerctl classifier train` or `sha256sum`");
  }
  if (n["file"]) r.String(n["file"], Sub(path, "file"), &spec.file);
  if (n["min_confidence"]) {
    r.Number(n["min_confidence"], Sub(path, "min_confidence"), 0, 1, &spec.min_confidence);
  }
  out->classifier = std::move(spec);
}

}  // namespace

std::vector<BundleProblem> ParsePolicyBundle(const std::string& yaml, PolicyBundle* out) {
  std::vector<BundleProblem> problems;
  BundleReader r(&problems);
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
    r.Map(root, "",
          {"defaults", "regions", "models", "tenants", "intents", "classifier", "rules", "tests",
           "rollouts"});
    if (const YAML::Node c = root["classifier"]) ReadClassifier(r, c, "classifier", out);
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
    ReadList(
        r, root, "models", true, &out->models,
        [&](const YAML::Node& n, const std::string& p, ModelSpec* m) { ReadModel(r, n, p, m); });
    ReadList(
        r, root, "tenants", false, &out->tenants,
        [&](const YAML::Node& n, const std::string& p, TenantSpec* t) { ReadTenant(r, n, p, t); });
    ReadList(
        r, root, "intents", false, &out->intents,
        [&](const YAML::Node& n, const std::string& p, IntentSpec* i) { ReadIntent(r, n, p, i); });
    ReadList(r, root, "rules", false, &out->rules,
             [&](const YAML::Node& n, const std::string& p, RuleSpec* rule) {
               if (!r.Map(n, p, {"name", "match", "then"})) return;
               r.String(n["name"], Sub(p, "name"), &rule->name);
               ReadRuleMatch(r, n["match"], Sub(p, "match"), &rule->match);
               ReadRuleAction(r, n["then"], Sub(p, "then"), &rule->then);
             });
    ReadList(r, root, "tests", false, &out->tests,
             [&](const YAML::Node& n, const std::string& p, BundleTest* t) {
               ReadBundleTest(r, n, p, t);
             });
    ReadList(r, root, "rollouts", false, &out->rollouts,
             [&](const YAML::Node& n, const std::string& p, RolloutSpec* spec) {
               ReadRollout(r, n, p, spec);
             });
  } catch (const YAML::Exception& e) {
    r.Problem(absl::StrCat("line ", e.mark.line + 1), absl::StrCat("unreadable YAML: ", e.what()));
    return problems;
  }
  CheckBundleReferences(*out, r);
  return problems;
}

absl::StatusOr<PolicyBundle> ParsePolicyBundleOrError(const std::string& yaml) {
  PolicyBundle bundle;
  std::vector<BundleProblem> problems = ParsePolicyBundle(yaml, &bundle);
  if (problems.empty()) return bundle;
  return BundleProblemsError(problems);
}

absl::Status BundleProblemsError(const std::vector<BundleProblem>& problems) {
  std::vector<std::string> lines;
  for (const BundleProblem& p : problems) {
    lines.push_back(p.path.empty() ? p.message : absl::StrCat(p.path, ": ", p.message));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid policy bundle:\n", absl::StrJoin(lines, "\n")));
}

}  // namespace llmrouter::decision
