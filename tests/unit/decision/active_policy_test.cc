#include "services/decision/active_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/decision/sqlite_policy_store.h"

namespace llmrouter::decision {
namespace {

using ::testing::HasSubstr;

constexpr char kBundleA[] = "models:\n  - name: a\n";
constexpr char kBundleB[] = "models:\n  - name: b\n    aliases: [auto]\n";

class ActivePolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqlitePolicyStore::Open(":memory:");
    ASSERT_TRUE(s.ok());
    store_ = *std::move(s);
    policy_ = std::make_unique<ActivePolicy>(*store_);
  }
  std::unique_ptr<SqlitePolicyStore> store_;
  std::unique_ptr<ActivePolicy> policy_;
};

TEST_F(ActivePolicyTest, ApplySwapsEvaluatorAndKeepsOldOneAliveForReaders) {
  EXPECT_EQ(policy_->Current(), nullptr);
  ASSERT_TRUE(policy_->Apply(kBundleA, "t", "").ok());
  std::shared_ptr<const CompiledPolicy> held = policy_->Current();
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->revision(), 1u);
  auto r = policy_->Apply(kBundleB, "t", "");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->unchanged);
  EXPECT_EQ(policy_->Current()->revision(), 2u);
  EXPECT_NE(policy_->Current()->Resolve("auto"), nullptr);
  // A request still holding revision 1 keeps reading it.
  EXPECT_NE(held->Resolve("a"), nullptr);
}

TEST_F(ActivePolicyTest, SameBundleIsUnchanged) {
  ASSERT_TRUE(policy_->Apply(kBundleA, "t", "").ok());
  auto r = policy_->Apply(kBundleA, "t", "");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->unchanged);
  EXPECT_EQ(r->revision.revision(), 1u);
  EXPECT_EQ(store_->List(0, 10)->size(), 1u);
}

TEST_F(ActivePolicyTest, InvalidBundleLeavesActiveRevisionUntouched) {
  ASSERT_TRUE(policy_->Apply(kBundleA, "t", "").ok());
  auto r = policy_->Apply("models:\n  - name: a\n    fallbacks: [zz]\n", "t", "");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("models[0].fallbacks[0]"));
  EXPECT_EQ(policy_->Current()->revision(), 1u);
  EXPECT_EQ(store_->List(0, 10)->size(), 1u);
}

TEST_F(ActivePolicyTest, RollbackAndReload) {
  ASSERT_TRUE(policy_->Apply(kBundleA, "t", "").ok());
  ASSERT_TRUE(policy_->Apply(kBundleB, "t", "").ok());
  auto back = policy_->Rollback(1, "ops", "bad deploy");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(policy_->Current()->revision(), 1u);
  EXPECT_EQ(policy_->Rollback(7, "ops", "").status().code(), absl::StatusCode::kNotFound);
  ActivePolicy reloaded(*store_);
  ASSERT_TRUE(reloaded.LoadFromStore().ok());
  EXPECT_EQ(reloaded.Current()->revision(), 1u);
  EXPECT_EQ(reloaded.Current()->content_hash(), BundleContentHash(kBundleA));
}

}  // namespace
}  // namespace llmrouter::decision
