#include "common/sqlite_db.h"

#include <sqlite3.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace llmrouter {
namespace {

absl::Status SqliteError(sqlite3* db, absl::string_view what) {
  return absl::InternalError(absl::StrCat("sqlite: ", what, ": ", sqlite3_errmsg(db)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status s = absl::UnavailableError(
        absl::StrCat("sqlite: cannot open ", path, ": ", db ? sqlite3_errmsg(db) : "no memory"));
    sqlite3_close(db);
    return s;
  }
  std::unique_ptr<SqliteDb> out(new SqliteDb(db));
  sqlite3_busy_timeout(db, 5000);
  RETURN_IF_ERROR(out->Exec("PRAGMA foreign_keys = ON"));
  if (path != ":memory:") {
    // Switching a new file to WAL takes an exclusive lock, and SQLite answers SQLITE_BUSY there
    // without calling the busy handler: when several processes open the same new file at once,
    // the losers wait and try again (the file is in WAL mode for good once one has switched).
    absl::Status wal = out->Exec("PRAGMA journal_mode = WAL");
    for (int attempt = 0; !wal.ok() && (sqlite3_errcode(db) & 0xff) == SQLITE_BUSY && attempt < 250;
         ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      wal = out->Exec("PRAGMA journal_mode = WAL");
    }
    RETURN_IF_ERROR(wal);
    RETURN_IF_ERROR(out->Exec("PRAGMA synchronous = NORMAL"));
  }
  return out;
}

SqliteDb::~SqliteDb() { sqlite3_close(db_); }

absl::Status SqliteDb::Exec(absl::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    absl::Status s =
        absl::InternalError(absl::StrCat("sqlite: ", err ? err : "error", " in: ", sql));
    sqlite3_free(err);
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<SqliteStatement> SqliteDb::Prepare(absl::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK) {
    return SqliteError(db_, absl::StrCat("prepare \"", sql, "\""));
  }
  return SqliteStatement(db_, stmt);
}

absl::StatusOr<int> SqliteDb::SchemaVersion() {
  ASSIGN_OR_RETURN(SqliteStatement st, Prepare("PRAGMA user_version"));
  ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? static_cast<int>(st.ColumnInt(0)) : 0;
}

absl::Status SqliteDb::Migrate(const std::vector<Migration>& migrations) {
  ASSIGN_OR_RETURN(int current, SchemaVersion());
  int highest = 0;
  for (const Migration& m : migrations) {
    if (m.version != highest + 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "migrations must be numbered 1, 2, 3...; found ", m.version, " after ", highest));
    }
    highest = m.version;
  }
  if (current > highest) {
    return absl::FailedPreconditionError(absl::StrCat("database schema version ", current,
                                                      " is newer than this build knows (", highest,
                                                      "); refusing to downgrade"));
  }
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    // Another process may have migrated between the first look and the write lock (two tools
    // creating the same new file): look again under the lock.
    absl::StatusOr<int> locked = SchemaVersion();
    if (!locked.ok() || *locked >= m.version) {
      Exec("ROLLBACK").IgnoreError();
      if (!locked.ok()) return locked.status();
      current = *locked;
      continue;
    }
    absl::Status s = Exec(m.sql);
    if (s.ok()) s = Exec(absl::StrCat("PRAGMA user_version = ", m.version));
    if (!s.ok()) {
      Exec("ROLLBACK").IgnoreError();
      return absl::InternalError(absl::StrCat("migration ", m.version, " failed: ", s.message()));
    }
    RETURN_IF_ERROR(Exec("COMMIT"));
  }
  return absl::OkStatus();
}

int64_t SqliteDb::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_) {
  other.stmt_ = nullptr;
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

SqliteStatement& SqliteStatement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, absl::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}

SqliteStatement& SqliteStatement::BindBlob(int index, absl::string_view bytes) {
  sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

absl::StatusOr<bool> SqliteStatement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, absl::StrCat("step \"", sqlite3_sql(stmt_), "\""));
}

absl::Status SqliteStatement::Run() {
  ASSIGN_OR_RETURN(bool row, Step());
  (void)row;
  return absl::OkStatus();
}

absl::Status SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  return absl::OkStatus();
}

int64_t SqliteStatement::ColumnInt(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string SqliteStatement::ColumnText(int col) const {
  const unsigned char* text = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return text ? std::string(reinterpret_cast<const char*>(text), n) : std::string();
}

std::string SqliteStatement::ColumnBlob(int col) const {
  const void* bytes = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return bytes ? std::string(static_cast<const char*>(bytes), n) : std::string();
}

bool SqliteStatement::ColumnIsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

}  // namespace llmrouter
