// The rollout store on a real redis-server: compare-and-set writes, the lease, forgetting, and
// the per-track counts several replicas share.
#include "services/decision/rollout_store.h"

#include <gtest/gtest.h>

#include "tests/support/process_harness.h"
#include "tests/support/redis_server.h"
#include "tests/unit/decision/policy_fixtures.h"

namespace llmrouter::decision {
namespace {

namespace v1 = llmrouter::v1;
using std::chrono::milliseconds;

RedisOptions Options(const testing::RedisServer& redis) {
  RedisOptions o;
  o.address = redis.address();
  o.first_backoff = milliseconds(5);
  o.max_backoff = milliseconds(50);
  return o;
}

v1::VariantStats Stats(const std::string& model, const std::string& track, uint64_t requests,
                       uint64_t errors) {
  v1::VariantStats s;
  s.set_model(model);
  s.set_track(track);
  s.set_requests(requests);
  s.set_errors(errors);
  return s;
}

TEST(RedisRolloutStoreTest, WritesCompareVersionsAndOneReplicaHoldsTheLease) {
  testing::RedisServer redis(testing::MakeTempDir("llmrouter-rollout-store"));
  std::unique_ptr<RolloutStore> a = NewRedisRolloutStore(Options(redis));
  std::unique_ptr<RolloutStore> b = NewRedisRolloutStore(Options(redis));
  v1::RolloutStatus s;
  s.set_name("r");
  s.set_step(1);
  s.set_version(1);
  v1::RolloutEvent e;
  e.set_kind("started");
  ASSERT_TRUE(*a->Save(s, 0, &e));
  // Both read version 1 and promote: exactly one write lands.
  s.set_version(2);
  s.set_step(2);
  e.set_kind("promoted");
  const bool first = *a->Save(s, 1, &e);
  const bool second = *b->Save(s, 1, &e);
  EXPECT_TRUE(first);
  EXPECT_FALSE(second);
  auto kept = b->Load();
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->size(), 1u);
  EXPECT_EQ((*kept)[0].version(), 2u);
  EXPECT_EQ((*kept)[0].step(), 2u);
  auto events = b->Events("r", 10);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].kind(), "promoted");

  EXPECT_TRUE(*a->HoldLease("a", absl::Milliseconds(300)));
  EXPECT_FALSE(*b->HoldLease("b", absl::Milliseconds(300)));
  EXPECT_TRUE(*a->HoldLease("a", absl::Milliseconds(300)));  // renewed
  EXPECT_EQ(*b->LeaseHolder(), "a");
  // A holder that stops renewing loses it after its TTL; one that shuts down gives it up.
  absl::SleepFor(absl::Milliseconds(400));
  EXPECT_TRUE(*b->HoldLease("b", absl::Seconds(30)));
  EXPECT_FALSE(*a->HoldLease("a", absl::Seconds(30)));
  a->ReleaseLease("a");  // not the holder: nothing changes
  EXPECT_EQ(*a->LeaseHolder(), "b");
  b->ReleaseLease("b");
  EXPECT_TRUE(*a->HoldLease("a", absl::Seconds(30)));

  ASSERT_TRUE(a->Forget("r").ok());
  EXPECT_TRUE(b->Load()->empty());
  EXPECT_EQ(b->Events("r", 10)->size(), 2u);  // the history stays
}

TEST(SharedVariantCountsTest, EveryReplicasCountsAreSummedPerModelTrackAndSlot) {
  testing::RedisServer redis(testing::MakeTempDir("llmrouter-variant-counts"));
  const absl::Duration slot = absl::Seconds(10);
  SharedVariantCounts a(Options(redis), "a", slot, absl::Hours(1));
  SharedVariantCounts b(Options(redis), "b", slot, absl::Hours(1));
  VariantWindows wa(slot), wb(slot);
  wa.EnableSharing();
  wb.EnableSharing();
  const absl::Time t0 = kTestNow;
  wa.Record(Stats("m", "canary", 10, 1), t0);
  wb.Record(Stats("m", "canary", 5, 2), t0 + absl::Seconds(12));
  // Names that would make the same key if joined naively stay apart.
  wa.Record(Stats("m|x", "y", 100, 0), t0);
  wa.Record(Stats("m", "x|y", 1000, 0), t0);
  ASSERT_TRUE(a.Flush(wa, t0 + absl::Seconds(12)).ok());
  ASSERT_TRUE(b.Flush(wb, t0 + absl::Seconds(12)).ok());
  // A second flush of the same totals (a retry) counts nothing twice.
  wa.Record(Stats("m", "canary", 0, 0), t0);
  ASSERT_TRUE(a.Flush(wa, t0 + absl::Seconds(12)).ok());

  const absl::Time now = t0 + absl::Seconds(15);
  auto both = a.Window("m", "canary", absl::Minutes(1), now);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->requests, 15u);
  EXPECT_EQ(both->errors, 3u);
  // Slots that began before a step started are left out.
  auto since = b.Window("m", "canary", absl::Minutes(1), now, t0 + absl::Seconds(5));
  EXPECT_EQ(since->requests, 5u);
  EXPECT_EQ(a.Window("m|x", "y", absl::Minutes(1), now)->requests, 100u);
  EXPECT_EQ(a.Window("m", "x|y", absl::Minutes(1), now)->requests, 1000u);
}

TEST(SharedVariantCountsTest, SlotsWaitForRedisAndAreWrittenInBoundedBatches) {
  testing::RedisServer redis(testing::MakeTempDir("llmrouter-variant-counts"));
  const absl::Duration slot = absl::Seconds(1);
  SharedVariantCounts a(Options(redis), "a", slot, absl::Hours(1));
  VariantWindows wa(slot, absl::Hours(1), 5000);
  wa.EnableSharing();
  const absl::Time t0 = kTestNow;
  redis.Kill();
  // More slots than one script call carries: 1,200 seconds of one variant.
  for (int i = 0; i < 1200; ++i) wa.Record(Stats("m", "canary", 1, 0), t0 + absl::Seconds(i));
  const absl::Time now = t0 + absl::Seconds(1200);
  EXPECT_FALSE(a.Flush(wa, now).ok());
  EXPECT_EQ(a.unsent(), 1200u);
  redis.Restart();
  absl::Status flushed;
  for (int i = 0; i < 200 && !(flushed = a.Flush(wa, now)).ok(); ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(flushed.ok()) << flushed;
  EXPECT_EQ(a.unsent(), 0u);
  EXPECT_EQ(a.Window("m", "canary", absl::Hours(1), now)->requests, 1200u);
  // Slots older than what is kept are dropped rather than written late.
  redis.Kill();
  wa.Record(Stats("m", "canary", 1, 0), now);
  EXPECT_FALSE(a.Flush(wa, now).ok());
  EXPECT_EQ(a.unsent(), 1u);
  EXPECT_TRUE(a.Flush(wa, now + absl::Hours(2)).ok());
  EXPECT_EQ(a.unsent(), 0u);
}

}  // namespace
}  // namespace llmrouter::decision
