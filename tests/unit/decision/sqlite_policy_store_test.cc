#include "services/decision/sqlite_policy_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/process_harness.h"

namespace llmrouter::decision {
namespace {

using ::testing::HasSubstr;

TEST(SqlitePolicyStoreTest, RevisionsPersistAndActivationMoves) {
  FakeClock clock;
  std::string path = testing::MakeTempDir("policystore") + "/decision.db";
  {
    auto store = SqlitePolicyStore::Open(path, clock);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->Get(0).status().code(), absl::StatusCode::kNotFound);
    auto r1 = (*store)->CreateActive("bundle-1", "h1", "alice", "first");
    ASSERT_TRUE(r1.ok()) << r1.status();
    EXPECT_EQ(r1->revision(), 1u);
    EXPECT_TRUE(r1->active());
    auto r2 = (*store)->CreateActive("bundle-2", "h2", "bob", "second");
    ASSERT_TRUE(r2.ok());
    EXPECT_EQ(r2->revision(), 2u);
    auto back = (*store)->Activate(1, "carol", "roll back");
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(back->active());
  }
  auto store = SqlitePolicyStore::Open(path, clock);
  ASSERT_TRUE(store.ok());
  auto active = (*store)->Get(0);
  ASSERT_TRUE(active.ok());
  EXPECT_EQ(active->revision(), 1u);
  EXPECT_EQ(active->bundle(), "bundle-1");
  EXPECT_EQ(active->author(), "alice");
  auto r2 = (*store)->Get(2);
  ASSERT_TRUE(r2.ok());
  EXPECT_FALSE(r2->active());
  EXPECT_EQ((*store)->Activate(9, "x", "").status().code(), absl::StatusCode::kNotFound);
}

TEST(SqlitePolicyStoreTest, ListPagesNewestFirstWithoutBundles) {
  auto store = SqlitePolicyStore::Open(":memory:");
  ASSERT_TRUE(store.ok());
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE((*store)->CreateActive("b" + std::to_string(i), "h", "a", "").ok());
  }
  auto page = (*store)->List(0, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].revision(), 5u);
  EXPECT_TRUE((*page)[0].active());
  EXPECT_TRUE((*page)[0].bundle().empty());
  auto next = (*store)->List(4, 10);
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->size(), 3u);
  EXPECT_EQ((*next)[0].revision(), 3u);
  EXPECT_FALSE((*next)[0].active());
}

TEST(SqlitePolicyStoreTest, RevisionsAreImmutable) {
  std::string path = testing::MakeTempDir("policystore") + "/decision.db";
  auto store = SqlitePolicyStore::Open(path);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->CreateActive("b", "h", "a", "").ok());
  auto db = SqliteDb::Open(path);
  ASSERT_TRUE(db.ok());
  absl::Status s = (*db)->Exec("UPDATE policy_revisions SET bundle = 'x'");
  EXPECT_THAT(std::string(s.message()), HasSubstr("immutable"));
}

}  // namespace
}  // namespace llmrouter::decision
