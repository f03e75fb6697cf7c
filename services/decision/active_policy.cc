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
  current_.store(
      CompiledPolicy::Compile(*std::move(bundle), active->revision(), active->content_hash()));
  spdlog::info("policy_loaded revision={} hash={}", active->revision(), active->content_hash());
  return absl::OkStatus();
}

absl::StatusOr<ActivePolicy::ApplyResult> ActivePolicy::Apply(const std::string& bundle,
                                                              const std::string& author,
                                                              const std::string& comment) {
  ASSIGN_OR_RETURN(PolicyBundle parsed, ParsePolicyBundleOrError(bundle));
  const std::string hash = BundleContentHash(bundle);
  std::shared_ptr<const CompiledPolicy> compiled = CompiledPolicy::Compile(parsed, 0, hash);
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
                   store_.CreateActive(bundle, hash, author, comment));
  current_.store(CompiledPolicy::Compile(std::move(parsed), stored.revision(), hash));
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
  ASSIGN_OR_RETURN(llmrouter::v1::PolicyRevision activated,
                   store_.Activate(revision, author, comment));
  current_.store(CompiledPolicy::Compile(std::move(parsed), revision, target.content_hash()));
  spdlog::info("policy_rolled_back revision={} author=\"{}\"", revision, author);
  return activated;
}

}  // namespace llmrouter::decision
