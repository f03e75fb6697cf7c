#include "common/sqlite_db.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tests/support/process_harness.h"

namespace llmrouter {
namespace {

using ::testing::HasSubstr;

TEST(SqliteDbTest, MigratesOnceAndRecordsVersion) {
  std::string path = testing::MakeTempDir("sqlite") + "/db.sqlite";
  std::vector<Migration> steps = {{1, "CREATE TABLE a (x INTEGER);"},
                                  {2, "ALTER TABLE a ADD COLUMN y TEXT;"}};
  {
    auto db = SqliteDb::Open(path);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Migrate(steps).ok());
    EXPECT_EQ(*(*db)->SchemaVersion(), 2);
    ASSERT_TRUE((*db)->Exec("INSERT INTO a (x, y) VALUES (1, 'one')").ok());
  }
  // Re-opening applies nothing twice (ALTER TABLE would fail the second time).
  auto db = SqliteDb::Open(path);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Migrate(steps).ok());
  auto st = (*db)->Prepare("SELECT y FROM a WHERE x = ?");
  ASSERT_TRUE(st.ok());
  st->Bind(1, int64_t{1});
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->ColumnText(0), "one");
}

TEST(SqliteDbTest, ProcessesCreatingTheSameNewFileMigrateItOnce) {
  // Each connection may see version 0 before another one takes the write lock and migrates;
  // each must look again under the lock instead of applying step 1 a second time.
  for (int round = 0; round < 5; ++round) {
    std::string path = testing::MakeTempDir("sqlite") + "/db.sqlite";
    std::vector<Migration> steps = {{1, "CREATE TABLE a (x INTEGER);"},
                                    {2, "ALTER TABLE a ADD COLUMN y TEXT;"}};
    std::vector<std::thread> openers;
    std::atomic<int> failures{0};
    for (int i = 0; i < 6; ++i) {
      openers.emplace_back([&] {
        auto db = SqliteDb::Open(path);
        absl::Status s = db.ok() ? (*db)->Migrate(steps) : db.status();
        if (!s.ok()) {
          ADD_FAILURE() << s;
          failures.fetch_add(1);
        }
      });
    }
    for (std::thread& t : openers) t.join();
    EXPECT_EQ(failures.load(), 0) << "round " << round;
  }
}

TEST(SqliteDbTest, RefusesDowngrade) {
  auto db = SqliteDb::Open(":memory:");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Migrate({{1, "CREATE TABLE a (x);"}, {2, "CREATE TABLE b (x);"}}).ok());
  absl::Status s = (*db)->Migrate({{1, "CREATE TABLE a (x);"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("newer than this build"));
}

TEST(SqliteDbTest, FailedMigrationRollsBackWholeStep) {
  auto db = SqliteDb::Open(":memory:");
  ASSERT_TRUE(db.ok());
  absl::Status s =
      (*db)->Migrate({{1, "CREATE TABLE a (x); CREATE TABLE a (y);"}});  // second fails
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), HasSubstr("migration 1 failed"));
  EXPECT_EQ(*(*db)->SchemaVersion(), 0);
  // Table a from the failed step must not exist.
  EXPECT_TRUE((*db)->Exec("CREATE TABLE a (z)").ok());
}

TEST(SqliteDbTest, RejectsGapsInNumbering) {
  auto db = SqliteDb::Open(":memory:");
  ASSERT_TRUE(db.ok());
  absl::Status s = (*db)->Migrate({{1, "SELECT 1;"}, {3, "SELECT 1;"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST(SqliteDbTest, PrepareErrorNamesStatement) {
  auto db = SqliteDb::Open(":memory:");
  ASSERT_TRUE(db.ok());
  auto st = (*db)->Prepare("SELEC nonsense");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.status().message()), HasSubstr("SELEC nonsense"));
}

TEST(SqliteDbTest, OpenFailsForUnwritableLocation) {
  auto db = SqliteDb::Open("/nonexistent-dir/x/y.db");
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace llmrouter
