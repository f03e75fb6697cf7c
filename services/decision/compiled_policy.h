// The in-memory evaluator of one policy revision: immutable once built, shared by every
// request in flight through a shared_ptr, and replaced as a whole on activation.
#ifndef LLMROUTER_SERVICES_DECISION_COMPILED_POLICY_H_
#define LLMROUTER_SERVICES_DECISION_COMPILED_POLICY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/decision/policy_bundle.h"

namespace llmrouter::decision {

class CompiledPolicy {
 public:
  // Compiles a valid bundle stored as `revision`.
  static std::shared_ptr<const CompiledPolicy> Compile(PolicyBundle bundle, uint64_t revision,
                                                       std::string content_hash);

  uint64_t revision() const { return revision_; }
  const std::string& content_hash() const { return content_hash_; }
  const std::vector<ModelSpec>& models() const { return bundle_.models; }

  // The catalog model a requested name or alias stands for; nullptr when unknown.
  const ModelSpec* Resolve(absl::string_view requested) const;
  // The requested model followed by its fallbacks, without repeats.
  std::vector<const ModelSpec*> CandidateModels(const ModelSpec& requested) const;

 private:
  CompiledPolicy() = default;
  PolicyBundle bundle_;
  uint64_t revision_ = 0;
  std::string content_hash_;
  absl::flat_hash_map<std::string, const ModelSpec*> by_name_or_alias_;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_COMPILED_POLICY_H_
