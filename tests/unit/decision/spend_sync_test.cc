// Two decision replicas' spend ledgers sharing their totals through a real redis-server.
#include "services/decision/spend_sync.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/process_harness.h"
#include "tests/support/redis_server.h"
#include "tests/support/wait_until.h"

namespace llmrouter::decision {
namespace {

using std::chrono::milliseconds;
using testing::WaitUntil;

struct Replica {
  // `watched`: the tenants with a spend limit in the policy decision starts with.
  explicit Replica(const testing::RedisServer& redis, std::vector<std::string> watched = {},
                   milliseconds interval = milliseconds(10)) {
    RedisOptions o;
    o.address = redis.address();
    o.first_backoff = milliseconds(5);
    o.max_backoff = milliseconds(50);
    ledger.Watch(watched);
    sync = std::make_unique<SpendSync>(o, interval, ledger, registry);
  }
  // Waits for two syncs that started after now.
  bool Synced() {
    const int64_t from = sync->syncs();
    return WaitUntil([&] { return sync->syncs() >= from + 2; });
  }
  prometheus::Registry registry;
  UsageLedger ledger;
  std::unique_ptr<SpendSync> sync;
};

TEST(SpendSyncTest, EveryReplicaSeesTheSpendRecordedByAnyAndARestartKeepsIt) {
  testing::RedisServer redis(testing::MakeTempDir("llmrouter-spend-sync"));
  Replica a(redis), b(redis);
  EXPECT_EQ(b.ledger.Spent("acme", "day"), 0);  // b now follows acme
  a.ledger.Record("acme", 1.25);
  a.ledger.Record("acme", 0.5);
  b.ledger.Record("acme", 0.25);
  EXPECT_DOUBLE_EQ(a.ledger.Spent("acme", "day"), 1.75) << "its own at once";
  ASSERT_TRUE(a.Synced() && b.Synced());
  ASSERT_TRUE(a.Synced() && b.Synced());
  EXPECT_DOUBLE_EQ(a.ledger.Spent("acme", "day"), 2.0);
  EXPECT_DOUBLE_EQ(b.ledger.Spent("acme", "day"), 2.0);
  EXPECT_DOUBLE_EQ(b.ledger.Spent("acme", "month"), 2.0);
  EXPECT_EQ(b.ledger.Spent("other", "day"), 0);

  // A replica restarted (a new ledger) whose policy limits acme has the shared totals before
  // it serves: its first sync runs before SpendSync's constructor returns.
  Replica restarted(redis, {"acme"}, milliseconds(60000));
  EXPECT_DOUBLE_EQ(restarted.ledger.Spent("acme", "day"), 2.0);
  EXPECT_DOUBLE_EQ(restarted.ledger.Spent("acme", "month"), 2.0);
}

TEST(SpendSyncTest, TheFirstQuestionAboutATenantFetchesItsSharedTotalsWithoutWaitingAnInterval) {
  testing::RedisServer redis(testing::MakeTempDir("llmrouter-spend-sync"));
  Replica a(redis);
  a.ledger.Record("acme", 1.5);
  ASSERT_TRUE(a.Synced());
  // b syncs once a minute; a tenant limited by a bundle applied after b started is asked about
  // at its first request, and that question wakes the sync.
  Replica b(redis, {}, milliseconds(60000));
  EXPECT_EQ(b.ledger.Spent("acme", "day"), 0) << "not fetched yet";
  EXPECT_TRUE(WaitUntil([&] { return b.ledger.Spent("acme", "day") == 1.5; },
                        std::chrono::seconds(10)))
      << b.ledger.Spent("acme", "day");
}

TEST(SpendSyncTest, SpendRecordedWhileRedisIsDownIsSharedOnceItIsBack) {
  testing::RedisServer redis(testing::MakeTempDir("llmrouter-spend-sync"));
  Replica a(redis), b(redis);
  EXPECT_EQ(b.ledger.Spent("acme", "day"), 0);
  ASSERT_TRUE(a.Synced() && b.Synced());
  ASSERT_TRUE(a.sync->up());
  redis.Freeze();
  a.ledger.Record("acme", 3.0);
  ASSERT_TRUE(WaitUntil([&] { return !a.sync->up(); }));
  EXPECT_DOUBLE_EQ(a.ledger.Spent("acme", "day"), 3.0) << "its own still counts";
  redis.Thaw();
  ASSERT_TRUE(WaitUntil([&] { return b.ledger.Spent("acme", "day") == 3.0; }));
}

TEST(SpendSyncTest, ARedisThatRestartsWithoutItsDataGetsEveryReplicasTotalsBack) {
  testing::RedisServer redis(testing::MakeTempDir("llmrouter-spend-sync"));
  Replica a(redis), b(redis);
  // Neither replica asks about acme (no limit), so nothing but the loss sends its totals again.
  a.ledger.Record("acme", 2.0);
  b.ledger.Record("acme", 1.0);
  ASSERT_TRUE(a.Synced() && b.Synced());
  redis.Kill();
  redis.Restart();
  ASSERT_TRUE(WaitUntil([&] { return a.sync->up() && b.sync->up(); }));
  ASSERT_TRUE(a.Synced() && b.Synced());
  Replica c(redis);
  ASSERT_TRUE(c.Synced());
  EXPECT_TRUE(WaitUntil([&] { return c.ledger.Spent("acme", "day") == 3.0; }))
      << c.ledger.Spent("acme", "day");
}

}  // namespace
}  // namespace llmrouter::decision
