#include "services/gateway/api_key_db.h"

#include <openssl/rand.h>
#include <sys/stat.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "services/gateway/api_key_store.h"

namespace llmrouter::gateway {
namespace {

// Keys are never deleted, only revoked, so that an id in a log always means one key.
const std::vector<Migration>& Migrations() {
  static const auto* migrations = new std::vector<Migration>{
      {1, R"sql(
CREATE TABLE api_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL DEFAULT '',
  tenant TEXT NOT NULL CHECK (length(tenant) > 0),
  key_sha256 TEXT NOT NULL UNIQUE CHECK (length(key_sha256) = 64),
  created_at INTEGER NOT NULL,  -- Unix seconds
  revoked_at INTEGER            -- Unix seconds; NULL while the key works
);
CREATE INDEX api_keys_by_name ON api_keys (name);
)sql"},
  };
  return *migrations;
}

constexpr std::size_t kMaxField = 128;
constexpr int kRandomBytes = 24;  // 192 bits

bool Printable(absl::string_view s, bool spaces) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e || (!spaces && c == ' ')) return false;
  }
  return true;
}

bool AllDigits(absl::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == absl::string_view::npos;
}

absl::StatusOr<std::string> GenerateKey() {
  unsigned char bytes[kRandomBytes];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return absl::InternalError("OpenSSL could not generate random bytes for a key");
  }
  return absl::StrCat(ApiKeyDb::kKeyPrefix,
                      absl::BytesToHexString(
                          absl::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ApiKeyDb>> ApiKeyDb::Open(const std::string& path, bool create) {
  struct stat st;
  if (!create && stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("API key database ", path,
                                            " does not exist; create it with `routerctl apikeys "
                                            "create --db ",
                                            path, " --tenant T`"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  if (absl::Status s = db->Migrate(Migrations()); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("API key database ", path, ": ", s.message()));
  }
  return std::unique_ptr<ApiKeyDb>(new ApiKeyDb(std::move(db)));
}

absl::StatusOr<CreatedApiKey> ApiKeyDb::Create(absl::string_view tenant, absl::string_view name,
                                               absl::Time now) {
  name = absl::StripAsciiWhitespace(name);
  if (tenant.empty() || tenant.size() > kMaxField || !Printable(tenant, /*spaces=*/false)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tenant \"", tenant, "\" must be 1-128 printable ASCII characters without spaces"));
  }
  if (name.size() > kMaxField || !Printable(name, /*spaces=*/true)) {
    return absl::InvalidArgumentError(
        absl::StrCat("name \"", name, "\" must be at most 128 printable ASCII characters"));
  }
  if (AllDigits(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name \"", name, "\" is a number, which revoke would take for an id; add a letter"));
  }
  CreatedApiKey out;
  ASSIGN_OR_RETURN(out.key, GenerateKey());
  ApiKeyRecord& r = out.record;
  r.name = std::string(name);
  r.tenant = std::string(tenant);
  r.sha256 = Sha256Hex(out.key);
  r.created_at = absl::FromUnixSeconds(absl::ToUnixSeconds(now));
  ASSIGN_OR_RETURN(SqliteStatement insert,
                   db_->Prepare("INSERT INTO api_keys (name, tenant, key_sha256, created_at) "
                                "VALUES (?1, ?2, ?3, ?4)"));
  insert.Bind(1, r.name).Bind(2, r.tenant).Bind(3, r.sha256);
  insert.Bind(4, static_cast<int64_t>(absl::ToUnixSeconds(r.created_at)));
  RETURN_IF_ERROR(insert.Run());
  r.id = db_->LastInsertRowId();
  return out;
}

absl::StatusOr<std::vector<ApiKeyRecord>> ApiKeyDb::Query(absl::string_view where,
                                                          absl::string_view arg) {
  ASSIGN_OR_RETURN(SqliteStatement select,
                   db_->Prepare(absl::StrCat("SELECT id, name, tenant, key_sha256, created_at, "
                                             "revoked_at FROM api_keys WHERE ",
                                             where, " ORDER BY id")));
  if (!arg.empty()) select.Bind(1, arg);
  std::vector<ApiKeyRecord> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    ApiKeyRecord& r = out.emplace_back();
    r.id = select.ColumnInt(0);
    r.name = select.ColumnText(1);
    r.tenant = select.ColumnText(2);
    r.sha256 = select.ColumnText(3);
    r.created_at = absl::FromUnixSeconds(select.ColumnInt(4));
    if (!select.ColumnIsNull(5)) r.revoked_at = absl::FromUnixSeconds(select.ColumnInt(5));
  }
  return out;
}

absl::StatusOr<std::vector<ApiKeyRecord>> ApiKeyDb::List() { return Query("1", ""); }

absl::StatusOr<ApiKeyRecord> ApiKeyDb::Revoke(absl::string_view id_or_name, absl::Time now) {
  id_or_name = absl::StripAsciiWhitespace(id_or_name);
  if (id_or_name.empty()) return absl::InvalidArgumentError("name the key to revoke: id or name");
  const bool by_id = AllDigits(id_or_name);
  // One transaction, so that a concurrent revoke cannot slip between the lookup and the update.
  RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  auto revoke = [&]() -> absl::StatusOr<ApiKeyRecord> {
    ASSIGN_OR_RETURN(std::vector<ApiKeyRecord> found,
                     by_id ? Query("id = ?1", id_or_name)
                           : Query("name = ?1 AND revoked_at IS NULL", id_or_name));
    if (found.empty()) {
      return absl::NotFoundError(
          by_id ? absl::StrCat("no API key has id ", id_or_name)
                : absl::StrCat("no active API key is named \"", id_or_name, "\""));
    }
    if (found.size() > 1) {
      std::vector<int64_t> ids;
      for (const ApiKeyRecord& r : found) ids.push_back(r.id);
      return absl::FailedPreconditionError(
          absl::StrCat(found.size(), " active API keys are named \"", id_or_name, "\" (ids ",
                       absl::StrJoin(ids, ", "), "); revoke one by id"));
    }
    ApiKeyRecord r = found.front();
    if (r.revoked_at) {
      return absl::FailedPreconditionError(
          absl::StrCat("API key ", r.id, " was already revoked at ",
                       absl::FormatTime("%Y-%m-%d %H:%M:%SZ", *r.revoked_at, absl::UTCTimeZone())));
    }
    r.revoked_at = absl::FromUnixSeconds(absl::ToUnixSeconds(now));
    ASSIGN_OR_RETURN(SqliteStatement update,
                     db_->Prepare("UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2"));
    update.Bind(1, static_cast<int64_t>(absl::ToUnixSeconds(*r.revoked_at))).Bind(2, r.id);
    RETURN_IF_ERROR(update.Run());
    return r;
  };
  absl::StatusOr<ApiKeyRecord> revoked = revoke();
  if (!revoked.ok()) {
    db_->Exec("ROLLBACK").IgnoreError();
    return revoked.status();
  }
  RETURN_IF_ERROR(db_->Exec("COMMIT"));
  return revoked;
}

absl::StatusOr<int64_t> ApiKeyDb::DataVersion() {
  ASSIGN_OR_RETURN(SqliteStatement st, db_->Prepare("PRAGMA data_version"));
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return absl::InternalError("PRAGMA data_version returned no row");
  return st.ColumnInt(0);
}

}  // namespace llmrouter::gateway
