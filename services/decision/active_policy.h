// The active policy: validates bundles, stores them as revisions, and swaps the compiled
// evaluator that requests read.
#ifndef LLMROUTER_SERVICES_DECISION_ACTIVE_POLICY_H_
#define LLMROUTER_SERVICES_DECISION_ACTIVE_POLICY_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/decision/classifier_models.h"
#include "services/decision/compiled_policy.h"
#include "services/decision/policy_store.h"

namespace llmrouter::decision {

// Hex SHA-256 of a bundle's text.
std::string BundleContentHash(const std::string& bundle);

// ActivePolicy is safe for concurrent use. Current() is wait-free for readers in practice (one
// atomic shared_ptr load) and never touches the store; writers are serialised. Apply() and
// Rollback() either activate a whole revision or leave the active one untouched.
class ActivePolicy {
 public:
  struct ApplyResult {
    llmrouter::v1::PolicyRevision revision;
    bool unchanged = false;
  };

  // `classifier_dir`: where bundles' classifier.file may point (ClassifierModels).
  explicit ActivePolicy(PolicyStore& store,
                        std::string classifier_dir = ClassifierModels::kDefaultClassifierDir)
      : store_(store), classifiers_(&store, std::move(classifier_dir)) {}

  // Compiles the store's active revision, if any. A stored revision that no longer compiles is
  // an error: the service must not start on a policy it cannot read.
  absl::Status LoadFromStore();

  // Validates `bundle`; InvalidArgument lists every problem. When it equals the active
  // revision's text nothing is stored and `unchanged` is set. `classifier_model` is the model
  // file the bundle names when decision may not have it (empty: none sent); it is stored with
  // the revision.
  absl::StatusOr<ApplyResult> Apply(const std::string& bundle, const std::string& author,
                                    const std::string& comment,
                                    const std::string& classifier_model = "");

  // Parses `bundle`, loads the classifier it names and compiles it as revision 0, without
  // storing or running its tests. InvalidArgument lists the problems.
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompileCandidate(
      const std::string& bundle, const std::string& classifier_model);
  // Activates an earlier revision. NotFound for an unknown revision.
  absl::StatusOr<llmrouter::v1::PolicyRevision> Rollback(uint64_t revision,
                                                         const std::string& author,
                                                         const std::string& comment);

  // The evaluator requests use; nullptr until a revision is active.
  std::shared_ptr<const CompiledPolicy> Current() const { return current_.load(); }

 private:
  // Compiles a parsed bundle with its classifier; `model_to_store` (may be null) receives the
  // model file when the store does not hold it yet.
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> CompileWithClassifier(
      PolicyBundle bundle, uint64_t revision, const std::string& content_hash,
      const std::string& classifier_model, std::string* model_to_store);

  PolicyStore& store_;
  ClassifierModels classifiers_;
  absl::Mutex write_mu_;  // serialises Apply and Rollback
  std::atomic<std::shared_ptr<const CompiledPolicy>> current_;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_ACTIVE_POLICY_H_
