// The in-memory evaluator of one policy revision: immutable once built, shared by every
// request in flight through a shared_ptr, and replaced as a whole on activation.
#ifndef LLMROUTER_SERVICES_DECISION_COMPILED_POLICY_H_
#define LLMROUTER_SERVICES_DECISION_COMPILED_POLICY_H_

#include <re2/re2.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "services/decision/endpoint_selector.h"
#include "services/decision/policy_bundle.h"
#include "services/decision/prompt_analyzer.h"

namespace llmrouter::decision {

// A rule with its names resolved to catalog indexes and its regexes compiled.
struct CompiledRule {
  const RuleSpec* spec = nullptr;
  std::vector<std::unique_ptr<RE2>> header_regex;  // parallel to spec->match.headers; null: exact
  uint64_t intent_mask = 0;                        // any of these intents
  std::vector<int> candidates;                     // catalog indexes, preference order
  std::vector<std::pair<int, uint32_t>> split;     // catalog index, weight
  std::vector<int> fallbacks;
  EndpointStrategy endpoint_strategy = EndpointStrategy::kRoundRobin;
};

class CompiledPolicy {
 public:
  // Compiles a bundle that ParsePolicyBundle accepted, stored as `revision`.
  // `classifier` is the model bundle.classifier names, loaded (null when it names none).
  static std::shared_ptr<const CompiledPolicy> Compile(
      PolicyBundle bundle, uint64_t revision, std::string content_hash,
      std::shared_ptr<const LearnedClassifier> classifier = nullptr);

  uint64_t revision() const { return revision_; }
  const std::string& content_hash() const { return content_hash_; }
  const PolicyBundle& bundle() const { return bundle_; }
  const std::vector<ModelSpec>& models() const { return bundle_.models; }
  const std::vector<CompiledRule>& rules() const { return rules_; }
  // The rule of that name, or nullptr.
  const CompiledRule* Rule(absl::string_view name) const;
  const PromptAnalyzer& analyzer() const { return *analyzer_; }
  const std::shared_ptr<const LearnedClassifier>& classifier() const { return classifier_; }
  const absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, double>>& region_latency()
      const {
    return region_latency_;
  }

  // Catalog index of a name or alias, or -1.
  int ModelIndex(absl::string_view name_or_alias) const;
  // The catalog model a requested name or alias stands for; nullptr when unknown.
  const ModelSpec* Resolve(absl::string_view requested) const;
  // nullptr when the bundle defines no tenant of that name.
  const TenantSpec* Tenant(absl::string_view name) const;
  // The tenant a request names ("default" when it names none), else the "default" tenant;
  // nullptr when neither is defined, or when the bundle defines no tenants at all.
  const TenantSpec* ResolveTenant(absl::string_view requested) const;
  // Whether `tenant` (nullptr: no tenants defined) may use catalog model `index`.
  bool TenantAllows(const TenantSpec* tenant, int index) const;
  // Whether a rule matches on the request header `name` (lower-case): what the decision log
  // keeps of a request's headers.
  bool MatchesHeader(absl::string_view name) const { return header_names_.contains(name); }

 private:
  CompiledPolicy() = default;
  PolicyBundle bundle_;
  uint64_t revision_ = 0;
  std::string content_hash_;
  absl::flat_hash_map<std::string, int> by_name_or_alias_;
  absl::flat_hash_map<std::string, const TenantSpec*> tenants_;
  absl::flat_hash_map<std::string, int> rule_index_;
  // Per tenant, a bitmap over catalog indexes of allowed models; absent: all allowed.
  absl::flat_hash_map<const TenantSpec*, std::vector<bool>> allowed_;
  std::vector<CompiledRule> rules_;
  absl::flat_hash_set<std::string> header_names_;
  std::shared_ptr<const LearnedClassifier> classifier_;
  std::unique_ptr<PromptAnalyzer> analyzer_;
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, double>> region_latency_;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_COMPILED_POLICY_H_
