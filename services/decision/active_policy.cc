#include "services/decision/active_policy.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "services/decision/bundle_tester.h"

namespace llmrouter::decision {

std::string BundleContentHash(const std::string& bundle) { return Sha256Hex(bundle); }

absl::Status ActivePolicy::LoadFromStore() {
  absl::MutexLock lock(&write_mu_);
  absl::StatusOr<llmrouter::v1::PolicyRevision> active = store_.Get(0);
  if (absl::IsNotFound(active.status())) return absl::OkStatus();
  RETURN_IF_ERROR(active.status());
  absl::StatusOr<PolicyBundle> bundle = ParsePolicyBundleOrError(active->bundle());
  if (!bundle.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("stored active revision ", active->revision(),
                     " does not compile: ", bundle.status().message()));
  }
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> compiled = CompileWithClassifier(
      *std::move(bundle), active->revision(), active->content_hash(), "", nullptr);
  if (!compiled.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("stored active revision ", active->revision(),
                     " cannot load its classifier: ", compiled.status().message()));
  }
  current_.store(*std::move(compiled));
  spdlog::info("policy_loaded revision={} hash={}", active->revision(), active->content_hash());
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> ActivePolicy::CompileWithClassifier(
    PolicyBundle bundle, uint64_t revision, const std::string& content_hash,
    const std::string& classifier_model, std::string* model_to_store) {
  std::shared_ptr<const LearnedClassifier> classifier;
  if (bundle.classifier) {
    ASSIGN_OR_RETURN(ClassifierModels::Resolved resolved,
                     classifiers_.Resolve(*bundle.classifier, classifier_model));
    classifier = std::move(resolved.model);
    if (model_to_store != nullptr) *model_to_store = std::move(resolved.to_store);
  }
  if (std::vector<BundleProblem> problems = CheckClassifierIntents(bundle, classifier.get());
      !problems.empty()) {
    return BundleProblemsError(problems);
  }
  return CompiledPolicy::Compile(std::move(bundle), revision, content_hash,
                                 std::move(classifier));
}

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> ActivePolicy::CompileCandidate(
    const std::string& bundle, const std::string& classifier_model) {
  ASSIGN_OR_RETURN(PolicyBundle parsed, ParsePolicyBundleOrError(bundle));
  return CompileWithClassifier(std::move(parsed), 0, "candidate", classifier_model, nullptr);
}

absl::StatusOr<ActivePolicy::ApplyResult> ActivePolicy::Apply(const std::string& bundle,
                                                              const std::string& author,
                                                              const std::string& comment,
                                                              const std::string& classifier_model) {
  ASSIGN_OR_RETURN(PolicyBundle parsed, ParsePolicyBundleOrError(bundle));
  const std::string hash = BundleContentHash(bundle);
  std::string model_to_store;
  ASSIGN_OR_RETURN(std::shared_ptr<const CompiledPolicy> compiled,
                   CompileWithClassifier(parsed, 0, hash, classifier_model, &model_to_store));
  std::vector<std::string> failures;
  for (const auto& t : RunBundleTests(*compiled)) {
    if (!t.passed()) failures.push_back(absl::StrCat("tests \"", t.name(), "\": ", t.detail()));
  }
  if (!failures.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the bundle's own tests fail:\n", absl::StrJoin(failures, "\n")));
  }
  absl::MutexLock lock(&write_mu_);
  std::shared_ptr<const CompiledPolicy> current = current_.load();
  if (current && current->content_hash() == hash) {
    ASSIGN_OR_RETURN(llmrouter::v1::PolicyRevision same, store_.Get(current->revision()));
    return ApplyResult{std::move(same), /*unchanged=*/true};
  }
  ASSIGN_OR_RETURN(llmrouter::v1::PolicyRevision stored,
                   store_.CreateActive(bundle, hash, author, comment, model_to_store));
  current_.store(CompiledPolicy::Compile(std::move(parsed), stored.revision(), hash,
                                         compiled->classifier()));
  spdlog::info("policy_applied revision={} hash={} author=\"{}\"", stored.revision(), hash, author);
  return ApplyResult{std::move(stored), /*unchanged=*/false};
}

absl::StatusOr<llmrouter::v1::PolicyRevision> ActivePolicy::Rollback(uint64_t revision,
                                                                     const std::string& author,
                                                                     const std::string& comment) {
  if (revision == 0) return absl::InvalidArgumentError("revision is required");
  absl::MutexLock lock(&write_mu_);
  ASSIGN_OR_RETURN(llmrouter::v1::PolicyRevision target, store_.Get(revision));
  ASSIGN_OR_RETURN(PolicyBundle parsed, ParsePolicyBundleOrError(target.bundle()));
  // Its classifier comes back from the store with it (a rollback also rolls the model back).
  ASSIGN_OR_RETURN(std::shared_ptr<const CompiledPolicy> compiled,
                   CompileWithClassifier(std::move(parsed), revision, target.content_hash(), "",
                                         nullptr));
  ASSIGN_OR_RETURN(llmrouter::v1::PolicyRevision activated,
                   store_.Activate(revision, author, comment));
  current_.store(std::move(compiled));
  spdlog::info("policy_rolled_back revision={} author=\"{}\"", revision, author);
  return activated;
}

}  // namespace llmrouter::decision
