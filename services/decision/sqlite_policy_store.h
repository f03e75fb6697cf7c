// PolicyStore on an SQLite file.
#ifndef LLMROUTER_SERVICES_DECISION_SQLITE_POLICY_STORE_H_
#define LLMROUTER_SERVICES_DECISION_SQLITE_POLICY_STORE_H_

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/sqlite_db.h"
#include "services/decision/policy_store.h"

namespace llmrouter::decision {

// A PolicyStore in an SQLite file (WAL), migrated to the current schema when opened.
class SqlitePolicyStore final : public PolicyStore {
 public:
  static absl::StatusOr<std::unique_ptr<SqlitePolicyStore>> Open(
      const std::string& path, const Clock& clock = RealClock::Get());

  using PolicyStore::CreateActive;
  absl::StatusOr<llmrouter::v1::PolicyRevision> CreateActive(
      const std::string& bundle, const std::string& content_hash, const std::string& author,
      const std::string& comment, const std::string& classifier_model) override;
  absl::StatusOr<std::string> GetClassifierModel(const std::string& sha256) override;
  absl::StatusOr<llmrouter::v1::PolicyRevision> Activate(uint64_t revision,
                                                         const std::string& author,
                                                         const std::string& comment) override;
  absl::StatusOr<llmrouter::v1::PolicyRevision> Get(uint64_t revision) override;
  absl::StatusOr<std::vector<llmrouter::v1::PolicyRevision>> List(uint64_t before,
                                                                  int limit) override;

 private:
  SqlitePolicyStore(std::unique_ptr<SqliteDb> db, const Clock& clock)
      : db_(std::move(db)), clock_(clock) {}
  absl::Status InsertClassifierModelLocked(const std::string& model)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<llmrouter::v1::PolicyRevision> GetLocked(uint64_t revision)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertActivationLocked(uint64_t revision, const std::string& author,
                                      const std::string& comment)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Inserts a revision and its activation; the caller holds a transaction open around it.
  absl::StatusOr<llmrouter::v1::PolicyRevision> InsertActiveRevisionLocked(
      const std::string& bundle, const std::string& content_hash, const std::string& author,
      const std::string& comment) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
  const Clock& clock_;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_SQLITE_POLICY_STORE_H_
