// Reading a policy bundle's YAML, section by section, with every problem located by its path
// ("rules[3].then.split"). Internal to the bundle parser (policy_bundle.cc and the bundle_*.cc
// files that read one section each); everything else uses policy_bundle.h.
#ifndef LLMROUTER_SERVICES_DECISION_BUNDLE_READER_H_
#define LLMROUTER_SERVICES_DECISION_BUNDLE_READER_H_

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "services/decision/policy_bundle.h"

namespace llmrouter::decision {

inline constexpr std::initializer_list<const char*> kTiers = {"interactive", "standard", "batch"};

bool OneOf(const std::string& v, std::initializer_list<const char*> options);
// `path`.`key`, or `key` at the top.
std::string Sub(const std::string& path, const char* key);

// Reads YAML scalars, lists and mappings into C++ values, recording a located problem for each
// one that does not fit. Not thread-safe; one per parse.
class BundleReader {
 public:
  explicit BundleReader(std::vector<BundleProblem>* problems) : problems_(problems) {}

  void Problem(std::string path, std::string message);
  // False (and a problem) unless `node` is a mapping; a problem for each key not in `keys`.
  bool Map(const YAML::Node& node, const std::string& path,
           std::initializer_list<const char*> keys);
  // The readers below return false, leaving *out alone, when the node is absent or invalid.
  bool String(const YAML::Node& node, const std::string& path, std::string* out);
  // A string or a list of strings.
  void Strings(const YAML::Node& node, const std::string& path, std::vector<std::string>* out);
  bool Number(const YAML::Node& node, const std::string& path, double lo, double hi, double* out);
  bool Uint(const YAML::Node& node, const std::string& path, uint32_t* out);
  bool Bool(const YAML::Node& node, const std::string& path, bool* out);
  void Enum(const YAML::Node& node, const std::string& path,
            std::initializer_list<const char*> options, std::string* out);
  void RangeOf(const YAML::Node& node, const std::string& path, double lo, double hi, Range* out);
  // A problem unless `pattern` is valid RE2 within pattern_limits.h's bounds.
  void Regex(const std::string& pattern, const std::string& path);

 private:
  std::vector<BundleProblem>* problems_;
};

// One reader per section of the bundle (bundle_catalog.cc, bundle_rules.cc,
// bundle_test_cases.cc); each reads the node at `path` into its struct.
void ReadModel(BundleReader& r, const YAML::Node& m, const std::string& path, ModelSpec* spec);
void ReadTenant(BundleReader& r, const YAML::Node& t, const std::string& path, TenantSpec* spec);
void ReadTenantRateLimits(BundleReader& r, const YAML::Node& n, const std::string& path,
                          TenantRateLimits* limits);
void ReadIntent(BundleReader& r, const YAML::Node& n, const std::string& path, IntentSpec* spec);
void ReadRuleMatch(BundleReader& r, const YAML::Node& n, const std::string& path, RuleMatch* m);
void ReadRuleAction(BundleReader& r, const YAML::Node& n, const std::string& path, RuleAction* a);
void ReadBundleTest(BundleReader& r, const YAML::Node& n, const std::string& path, BundleTest* t);

// Cross-references (bundle_references.cc): names unique, every model, tenant and intent a rule
// or test names exists, the intents within RE2's budget.
void ReadRollout(BundleReader& r, const YAML::Node& n, const std::string& path, RolloutSpec* spec);
void CheckBundleReferences(const PolicyBundle& b, BundleReader& r);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_BUNDLE_READER_H_
