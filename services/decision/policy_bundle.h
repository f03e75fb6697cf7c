// A policy bundle: the YAML document operators author. This version holds the model catalog;
// tenants, rules and tests extend it.
//
//   models:
//     - name: llama-3.1-8b-instruct      # as the backends name it
//       aliases: [small, auto]
//       fallbacks: [qwen2.5-7b-instruct]  # tried, in order, when this model cannot serve
//       owned_by: platform-team
#ifndef LLMROUTER_SERVICES_DECISION_POLICY_BUNDLE_H_
#define LLMROUTER_SERVICES_DECISION_POLICY_BUNDLE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace llmrouter::decision {

struct ModelSpec {
  std::string name;
  std::vector<std::string> aliases;
  std::vector<std::string> fallbacks;
  std::string owned_by;
};

struct PolicyBundle {
  std::vector<ModelSpec> models;
};

// One located problem, e.g. {"models[2].fallbacks[0]", "unknown model \"gpt-9\""}.
struct BundleProblem {
  std::string path;
  std::string message;
};

// Parses and checks a bundle. Returns every problem found; an empty list means `out` is valid.
std::vector<BundleProblem> ParsePolicyBundle(const std::string& yaml, PolicyBundle* out);

// Parses a bundle or returns InvalidArgument whose message lists every problem, one
// "path: message" per line.
absl::StatusOr<PolicyBundle> ParsePolicyBundleOrError(const std::string& yaml);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_POLICY_BUNDLE_H_
