// A thin SQLite wrapper: one connection, prepared statements, versioned schema migrations.
#ifndef LLMROUTER_COMMON_SQLITE_DB_H_
#define LLMROUTER_COMMON_SQLITE_DB_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct sqlite3;
struct sqlite3_stmt;

namespace llmrouter {

// One schema step. Versions start at 1 and increase by one; a database records the highest
// version applied (PRAGMA user_version) and applies only newer steps, each in its own
// transaction.
struct Migration {
  int version;
  absl::string_view sql;
};

class SqliteStatement;

// A SqliteDb is one connection and is not safe for concurrent use: callers serialise access.
// Errors carry SQLite's message and the statement that failed.
class SqliteDb {
 public:
  // Opens (creating if needed) the file at `path` in WAL mode with foreign keys on.
  // ":memory:" opens a private in-memory database.
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more statements that return no rows.
  absl::Status Exec(absl::string_view sql);
  absl::StatusOr<SqliteStatement> Prepare(absl::string_view sql);

  // Applies the migrations newer than the database's version. FailedPrecondition when the
  // database is newer than the highest migration given (a downgrade).
  absl::Status Migrate(const std::vector<Migration>& migrations);
  absl::StatusOr<int> SchemaVersion();

  int64_t LastInsertRowId() const;
  sqlite3* handle() { return db_; }

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// A prepared statement. Bind indexes start at 1, column indexes at 0.
class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  ~SqliteStatement();

  SqliteStatement& Bind(int index, int64_t value);
  SqliteStatement& Bind(int index, absl::string_view value);
  // Bytes stored as a BLOB (text is stored as TEXT, which SQLite may re-encode).
  SqliteStatement& BindBlob(int index, absl::string_view bytes);
  // Returns true while a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Runs a statement that returns no rows.
  absl::Status Run();
  absl::Status Reset();

  int64_t ColumnInt(int col) const;
  std::string ColumnText(int col) const;
  std::string ColumnBlob(int col) const;
  bool ColumnIsNull(int col) const;

 private:
  friend class SqliteDb;
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_SQLITE_DB_H_
