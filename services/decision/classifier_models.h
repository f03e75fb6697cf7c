// Finds and loads the classifier model a bundle names by hash: among a model sent with the
// bundle, the policy store's models, the built-in one, and the file the bundle names. Loaded
// models are kept by hash, so revisions sharing a model share one copy.
#ifndef LLMROUTER_SERVICES_DECISION_CLASSIFIER_MODELS_H_
#define LLMROUTER_SERVICES_DECISION_CLASSIFIER_MODELS_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/decision/learned_classifier.h"
#include "services/decision/policy_bundle.h"
#include "services/decision/policy_store.h"

namespace llmrouter::decision {

// Safe for concurrent use.
class ClassifierModels {
 public:
  struct Resolved {
    std::shared_ptr<const LearnedClassifier> model;
    // The model file when the store does not hold it yet (it must be stored with the revision);
    // empty otherwise.
    std::string to_store;
  };

  // `store` may be null (bundles checked without a store: routerctl, tests). A bundle's
  // `classifier.file` must name a regular file of at most kMaxClassifierModelBytes inside
  // `file_dir` (after links are followed: a ConfigMap mount's files are links into it), so that
  // a bundle sent to an open RPC cannot make decision read any other file, or a device.
  explicit ClassifierModels(PolicyStore* store, std::string file_dir = kDefaultClassifierDir)
      : store_(store), file_dir_(std::move(file_dir)) {}

  // Where the chart mounts operators' models (decision.policy.classifierConfigMap).
  static constexpr const char* kDefaultClassifierDir = "/etc/llm-router/classifier";

  // The model `spec` names. `uploaded` is a model file sent with the bundle (may be empty).
  // InvalidArgument, naming "classifier.sha256" or "classifier.file", when no source has it or
  // the bytes are not a valid model.
  absl::StatusOr<Resolved> Resolve(const ClassifierSpec& spec, const std::string& uploaded);

 private:
  // The bytes of `spec.file`, checked as the constructor says.
  absl::StatusOr<std::string> ReadModelFile(const std::string& path) const;

  PolicyStore* store_;
  const std::string file_dir_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::weak_ptr<const LearnedClassifier>> loaded_
      ABSL_GUARDED_BY(mu_);
};

// Problems of a bundle with its classifier: rule conditions on intents neither the bundle nor
// the model defines. Empty when there are none.
std::vector<BundleProblem> CheckClassifierIntents(const PolicyBundle& bundle,
                                                  const LearnedClassifier* model);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_CLASSIFIER_MODELS_H_
