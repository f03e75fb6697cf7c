// The policy store seam: durable, immutable revisions and the record of which one is active.
#ifndef LLMROUTER_SERVICES_DECISION_POLICY_STORE_H_
#define LLMROUTER_SERVICES_DECISION_POLICY_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "llmrouter/v1/policy.pb.h"

namespace llmrouter::decision {

// Implementations are safe for concurrent use. Revisions are never modified once created.
class PolicyStore {
 public:
  virtual ~PolicyStore() = default;
  // Stores `bundle` as a new revision and makes it active, atomically; with the classifier model
  // it names when `classifier_model` is not empty (models are kept by content hash, once).
  virtual absl::StatusOr<llmrouter::v1::PolicyRevision> CreateActive(
      const std::string& bundle, const std::string& content_hash, const std::string& author,
      const std::string& comment, const std::string& classifier_model) = 0;
  absl::StatusOr<llmrouter::v1::PolicyRevision> CreateActive(const std::string& bundle,
                                                             const std::string& content_hash,
                                                             const std::string& author,
                                                             const std::string& comment) {
    return CreateActive(bundle, content_hash, author, comment, std::string());
  }
  // The classifier model stored under its hex SHA-256. NotFound when none is.
  virtual absl::StatusOr<std::string> GetClassifierModel(const std::string& sha256) = 0;
  // Makes an existing revision active. NotFound for an unknown revision.
  virtual absl::StatusOr<llmrouter::v1::PolicyRevision> Activate(uint64_t revision,
                                                                 const std::string& author,
                                                                 const std::string& comment) = 0;
  // Revision 0 means the active one. NotFound when there is none.
  virtual absl::StatusOr<llmrouter::v1::PolicyRevision> Get(uint64_t revision) = 0;
  // Up to `limit` revisions older than `before` (0: from the newest), newest first, without
  // their bundle text.
  virtual absl::StatusOr<std::vector<llmrouter::v1::PolicyRevision>> List(uint64_t before,
                                                                          int limit) = 0;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_POLICY_STORE_H_
