#include "services/decision/sqlite_policy_store.h"

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace llmrouter::decision {
namespace {

using llmrouter::v1::PolicyRevision;

// Versioned schema. Append new steps; never edit a released one.
const std::vector<Migration>& Migrations() {
  static const auto* m = new std::vector<Migration>{
      {1, R"sql(
CREATE TABLE policy_revisions (
  revision      INTEGER PRIMARY KEY AUTOINCREMENT,
  content_hash  TEXT    NOT NULL,
  author        TEXT    NOT NULL,
  comment       TEXT    NOT NULL,
  created_at_ms INTEGER NOT NULL,
  bundle        TEXT    NOT NULL
);
CREATE TRIGGER policy_revisions_immutable BEFORE UPDATE ON policy_revisions
BEGIN SELECT RAISE(ABORT, 'policy revisions are immutable'); END;
CREATE TABLE policy_activations (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  revision        INTEGER NOT NULL REFERENCES policy_revisions(revision),
  author          TEXT    NOT NULL,
  comment         TEXT    NOT NULL,
  activated_at_ms INTEGER NOT NULL
);
)sql"},
      // Classifier models that bundles name by content hash, kept for every revision that may
      // be rolled back to.
      {2, R"sql(
CREATE TABLE classifier_models (
  sha256        TEXT    PRIMARY KEY,
  model         BLOB    NOT NULL,
  created_at_ms INTEGER NOT NULL
);
)sql"},
  };
  return *m;
}

constexpr char kActiveRevisionSql[] =
    "(SELECT revision FROM policy_activations ORDER BY id DESC LIMIT 1)";

PolicyRevision RowToRevision(const SqliteStatement& st, bool with_bundle) {
  PolicyRevision r;
  r.set_revision(static_cast<uint64_t>(st.ColumnInt(0)));
  r.set_content_hash(st.ColumnText(1));
  r.set_author(st.ColumnText(2));
  r.set_comment(st.ColumnText(3));
  ToProto(absl::FromUnixMillis(st.ColumnInt(4)), r.mutable_created_at());
  r.set_active(st.ColumnInt(5) != 0);
  if (with_bundle) r.set_bundle(st.ColumnText(6));
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqlitePolicyStore>> SqlitePolicyStore::Open(const std::string& path,
                                                                           const Clock& clock) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  RETURN_IF_ERROR(db->Migrate(Migrations()));
  return std::unique_ptr<SqlitePolicyStore>(new SqlitePolicyStore(std::move(db), clock));
}

absl::Status SqlitePolicyStore::InsertActivationLocked(uint64_t revision, const std::string& author,
                                                       const std::string& comment) {
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db_->Prepare("INSERT INTO policy_activations (revision, author, comment, "
                                "activated_at_ms) VALUES (?, ?, ?, ?)"));
  st.Bind(1, static_cast<int64_t>(revision))
      .Bind(2, author)
      .Bind(3, comment)
      .Bind(4, absl::ToUnixMillis(clock_.Now()));
  return st.Run();
}

absl::StatusOr<PolicyRevision> SqlitePolicyStore::InsertActiveRevisionLocked(
    const std::string& bundle, const std::string& content_hash, const std::string& author,
    const std::string& comment) {
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db_->Prepare("INSERT INTO policy_revisions (content_hash, author, comment, "
                                "created_at_ms, bundle) VALUES (?, ?, ?, ?, ?)"));
  st.Bind(1, content_hash)
      .Bind(2, author)
      .Bind(3, comment)
      .Bind(4, absl::ToUnixMillis(clock_.Now()))
      .Bind(5, bundle);
  RETURN_IF_ERROR(st.Run());
  uint64_t revision = static_cast<uint64_t>(db_->LastInsertRowId());
  RETURN_IF_ERROR(InsertActivationLocked(revision, author, comment));
  return GetLocked(revision);
}

absl::StatusOr<PolicyRevision> SqlitePolicyStore::CreateActive(
    const std::string& bundle, const std::string& content_hash, const std::string& author,
    const std::string& comment, const std::string& classifier_model) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  const absl::Status model_stored =
      classifier_model.empty() ? absl::OkStatus() : InsertClassifierModelLocked(classifier_model);
  absl::StatusOr<PolicyRevision> out =
      model_stored.ok() ? InsertActiveRevisionLocked(bundle, content_hash, author, comment)
                        : absl::StatusOr<PolicyRevision>(model_stored);
  if (!out.ok()) {
    db_->Exec("ROLLBACK").IgnoreError();
    return out.status();
  }
  RETURN_IF_ERROR(db_->Exec("COMMIT"));
  return out;
}

absl::Status SqlitePolicyStore::InsertClassifierModelLocked(const std::string& model) {
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db_->Prepare("INSERT OR IGNORE INTO classifier_models (sha256, model, "
                                "created_at_ms) VALUES (?, ?, ?)"));
  st.Bind(1, Sha256Hex(model)).BindBlob(2, model).Bind(3, absl::ToUnixMillis(clock_.Now()));
  return st.Run();
}

absl::StatusOr<std::string> SqlitePolicyStore::GetClassifierModel(const std::string& sha256) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db_->Prepare("SELECT model FROM classifier_models WHERE sha256 = ?"));
  st.Bind(1, sha256);
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("no classifier model ", sha256, " is stored"));
  return st.ColumnBlob(0);
}

absl::StatusOr<PolicyRevision> SqlitePolicyStore::Activate(uint64_t revision,
                                                           const std::string& author,
                                                           const std::string& comment) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(GetLocked(revision).status());
  RETURN_IF_ERROR(InsertActivationLocked(revision, author, comment));
  return GetLocked(revision);
}

absl::StatusOr<PolicyRevision> SqlitePolicyStore::Get(uint64_t revision) {
  absl::MutexLock lock(&mu_);
  return GetLocked(revision);
}

absl::StatusOr<PolicyRevision> SqlitePolicyStore::GetLocked(uint64_t revision) {
  std::string sql = absl::StrCat(
      "SELECT revision, content_hash, author, comment, created_at_ms, revision = ",
      kActiveRevisionSql,
      ", bundle FROM policy_revisions WHERE revision = ", revision == 0 ? kActiveRevisionSql : "?");
  ASSIGN_OR_RETURN(SqliteStatement st, db_->Prepare(sql));
  if (revision != 0) st.Bind(1, static_cast<int64_t>(revision));
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) {
    return absl::NotFoundError(revision == 0 ? std::string("no policy revision is active")
                                             : absl::StrCat("no policy revision ", revision));
  }
  return RowToRevision(st, /*with_bundle=*/true);
}

absl::StatusOr<std::vector<PolicyRevision>> SqlitePolicyStore::List(uint64_t before, int limit) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(
      SqliteStatement st,
      db_->Prepare(absl::StrCat(
          "SELECT revision, content_hash, author, comment, created_at_ms, revision = ",
          kActiveRevisionSql,
          " FROM policy_revisions WHERE (?1 = 0 OR revision < ?1) ORDER BY revision DESC "
          "LIMIT ?2")));
  st.Bind(1, static_cast<int64_t>(before)).Bind(2, static_cast<int64_t>(limit));
  std::vector<PolicyRevision> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(RowToRevision(st, /*with_bundle=*/false));
  }
  return out;
}

}  // namespace llmrouter::decision
