#include "services/gateway/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace llmrouter::gateway {
namespace {

using std::chrono::milliseconds;

class RateLimiterTest : public ::testing::Test {
 protected:
  // The clock starts at the beginning of a 10 s window.
  RateLimiter limiter_{[this] { return now_ms_.load(); }};
  std::atomic<int64_t> now_ms_{1'000'000'000'000};

  static RateLimitRequest Tenant(uint64_t requests, uint64_t tokens, uint64_t concurrent,
                                 uint64_t reserve = 0) {
    RateLimitRequest r;
    r.window = milliseconds(10000);
    r.tenant = "acme";
    r.tenant_quota = {requests, tokens, concurrent};
    r.tokens = reserve;
    return r;
  }
};

TEST_F(RateLimiterTest, RequestsPerWindowAreCountedAndResetWithTheWindow) {
  RateLimitRequest r = Tenant(3, 0, 0);
  std::vector<RateLimiter::Lease> leases(4);
  for (int i = 0; i < 3; ++i) {
    RateLimitStatus s = limiter_.Admit(r, &leases[i]);
    ASSERT_TRUE(s.admitted) << i;
    EXPECT_TRUE(s.has_requests);
    EXPECT_EQ(s.limit_requests, 3u);
    EXPECT_EQ(s.remaining_requests, 2u - i);
    EXPECT_EQ(s.reset_requests, milliseconds(10000));
    EXPECT_FALSE(s.has_tokens);
  }
  now_ms_ += 4000;
  RateLimitStatus refused = limiter_.Admit(r, &leases[3]);
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.exceeded, RateLimitKind::kRequests);
  EXPECT_EQ(refused.exceeded_scope, "tenant");
  EXPECT_EQ(refused.exceeded_limit, 3u);
  EXPECT_EQ(refused.retry_after, milliseconds(6000));
  EXPECT_EQ(refused.remaining_requests, 0u);
  leases.clear();  // finishing requests gives nothing back: they were counted in the window
  EXPECT_FALSE(limiter_.Admit(r, &leases.emplace_back()).admitted);
  now_ms_ += 6000;  // the next window
  EXPECT_TRUE(limiter_.Admit(r, &leases.emplace_back()).admitted);
}

TEST_F(RateLimiterTest, TokensAreReservedAtAdmissionAndReconciledFromUsage) {
  RateLimiter::Lease a, b, c;
  ASSERT_TRUE(limiter_.Admit(Tenant(0, 1000, 0, 600), &a).admitted);
  RateLimitStatus over = limiter_.Admit(Tenant(0, 1000, 0, 600), &b);
  EXPECT_FALSE(over.admitted) << "600 reserved + 600 asked > 1000";
  EXPECT_EQ(over.exceeded, RateLimitKind::kTokens);
  EXPECT_EQ(over.remaining_tokens, 400u);
  a.Reconcile(150);  // it used far less than it reserved (max_tokens was generous)
  a.Reconcile(900);  // only the first report counts
  RateLimitStatus fits = limiter_.Admit(Tenant(0, 1000, 0, 600), &b);
  EXPECT_TRUE(fits.admitted);
  EXPECT_EQ(fits.remaining_tokens, 250u);
  b.Reconcile(1200);  // it used more than it reserved: the window is over, further asks wait
  EXPECT_FALSE(limiter_.Admit(Tenant(0, 1000, 0, 1), &c).admitted);
}

TEST_F(RateLimiterTest, UsageReportedInALaterWindowCountsWhatTheReservationMissed) {
  RateLimiter::Lease a, b;
  ASSERT_TRUE(limiter_.Admit(Tenant(0, 1000, 0, 100), &a).admitted);
  now_ms_ += 10000;  // a long stream ends in the next window
  a.Reconcile(700);
  RateLimitStatus s = limiter_.Admit(Tenant(0, 1000, 0, 300), &b);
  EXPECT_TRUE(s.admitted);
  EXPECT_EQ(s.remaining_tokens, 100u) << "600 missed by the reservation + 300";
}

TEST_F(RateLimiterTest, ConcurrencySlotsAreHeldUntilTheLeaseGoes) {
  RateLimiter::Lease a, b, c;
  ASSERT_TRUE(limiter_.Admit(Tenant(0, 0, 2), &a).admitted);
  ASSERT_TRUE(limiter_.Admit(Tenant(0, 0, 2), &b).admitted);
  RateLimitStatus full = limiter_.Admit(Tenant(0, 0, 2), &c);
  EXPECT_FALSE(full.admitted);
  EXPECT_EQ(full.exceeded, RateLimitKind::kConcurrent);
  EXPECT_EQ(full.retry_after, milliseconds(1000));
  now_ms_ += 30000;  // windows pass: requests in flight stay in flight
  EXPECT_FALSE(limiter_.Admit(Tenant(0, 0, 2), &c).admitted);
  RateLimiter::Lease moved = std::move(a);
  a = RateLimiter::Lease();  // the moved-from lease holds nothing
  EXPECT_FALSE(limiter_.Admit(Tenant(0, 0, 2), &c).admitted);
  moved.Release();
  EXPECT_TRUE(limiter_.Admit(Tenant(0, 0, 2), &c).admitted);
}

TEST_F(RateLimiterTest, TheTenantAndEachApiKeyAreLimitedAndARefusalCountsNowhere) {
  auto with_key = [](const std::string& key) {
    RateLimitRequest r;
    r.window = milliseconds(10000);
    r.tenant = "acme";
    r.tenant_quota.requests = 5;
    r.api_key = key;
    r.api_key_quota.requests = 2;
    return r;
  };
  std::vector<RateLimiter::Lease> leases(10);
  EXPECT_TRUE(limiter_.Admit(with_key("k1"), &leases[0]).admitted);
  RateLimitStatus second = limiter_.Admit(with_key("k1"), &leases[1]);
  EXPECT_TRUE(second.admitted);
  EXPECT_EQ(second.limit_requests, 2u) << "the headers show the scope with the least left";
  EXPECT_EQ(second.remaining_requests, 0u);
  RateLimitStatus key_full = limiter_.Admit(with_key("k1"), &leases[2]);
  EXPECT_FALSE(key_full.admitted);
  EXPECT_EQ(key_full.exceeded_scope, "API key");
  // The refusal did not use the tenant's allowance: k2 and k3 get the remaining three.
  EXPECT_TRUE(limiter_.Admit(with_key("k2"), &leases[3]).admitted);
  EXPECT_TRUE(limiter_.Admit(with_key("k2"), &leases[4]).admitted);
  EXPECT_TRUE(limiter_.Admit(with_key("k3"), &leases[5]).admitted);
  RateLimitStatus tenant_full = limiter_.Admit(with_key("k3"), &leases[6]);
  EXPECT_FALSE(tenant_full.admitted);
  EXPECT_EQ(tenant_full.exceeded_scope, "tenant");
}

// A lease passed again is released first, outside the limiter's lock (it deadlocked when the
// lease held a slot of the same limiter).
TEST_F(RateLimiterTest, ALeaseReusedForTheNextRequestGivesItsSlotBackFirst) {
  RateLimiter other{[this] { return now_ms_.load(); }};  // outlives the lease
  RateLimiter::Lease lease;
  ASSERT_TRUE(limiter_.Admit(Tenant(0, 0, 1), &lease).admitted);
  EXPECT_TRUE(limiter_.Admit(Tenant(0, 0, 1), &lease).admitted);
  EXPECT_TRUE(other.Admit(Tenant(0, 0, 1), &lease).admitted);
  RateLimiter::Lease second;
  EXPECT_TRUE(limiter_.Admit(Tenant(0, 0, 1), &second).admitted) << "the first slot came back";
}

TEST_F(RateLimiterTest, NoLimitsMeansNothingIsCountedOrTracked) {
  RateLimiter::Lease lease;
  RateLimitRequest r = Tenant(0, 0, 0);
  RateLimitStatus s = limiter_.Admit(r, &lease);
  EXPECT_TRUE(s.admitted);
  EXPECT_FALSE(s.has_requests);
  EXPECT_FALSE(s.has_tokens);
  EXPECT_EQ(limiter_.scopes(), 0u);
}

TEST_F(RateLimiterTest, IdleScopesAreForgotten) {
  for (int i = 0; i < 100; ++i) {
    RateLimitRequest r = Tenant(1000, 0, 0);
    r.api_key = "key-" + std::to_string(i);
    r.api_key_quota.requests = 1;
    RateLimiter::Lease lease;
    ASSERT_TRUE(limiter_.Admit(r, &lease).admitted);
  }
  EXPECT_EQ(limiter_.scopes(), 101u);
  RateLimiter::Lease held;
  RateLimitRequest busy = Tenant(0, 0, 5);
  busy.tenant = "busy";
  ASSERT_TRUE(limiter_.Admit(busy, &held).admitted);
  now_ms_ += 30000;  // three windows later
  RateLimiter::Lease lease;
  ASSERT_TRUE(limiter_.Admit(Tenant(10, 0, 0), &lease).admitted);
  EXPECT_EQ(limiter_.scopes(), 2u) << "acme, and busy with a request in flight";
}

TEST_F(RateLimiterTest, ConcurrentAdmissionsNeverExceedTheLimit) {
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        RateLimiter::Lease lease;
        if (limiter_.Admit(Tenant(1000, 0, 0), &lease).admitted) admitted.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 1000);
}

TEST_F(RateLimiterTest, FarFromItsLimitsACountWaitsForThePeriodicSyncNearOneItIsDueAtOnce) {
  std::vector<RateLimiter::Lease> leases(12);
  limiter_.TakeChanged();
  // A scope new to this replica is due at once: the other replicas' counts are unknown.
  ASSERT_TRUE(limiter_.Admit(Tenant(100, 0, 0), &leases[0]).admitted);
  EXPECT_TRUE(limiter_.TakeChanged());
  // 100 requests allowed: the first few leave far more room than ten times what is unshared.
  for (int i = 1; i < 5; ++i) ASSERT_TRUE(limiter_.Admit(Tenant(100, 0, 0), &leases[i]).admitted);
  EXPECT_FALSE(limiter_.TakeChanged()) << "5 unshared of 95 left: batched";
  for (int i = 5; i < 10; ++i) ASSERT_TRUE(limiter_.Admit(Tenant(100, 0, 0), &leases[i]).admitted);
  EXPECT_TRUE(limiter_.TakeChanged()) << "10 unshared of 90 left: shared at once";
  // Once shared, the next request is far again.
  std::vector<RateLimiter::SyncDelta> deltas = limiter_.TakeSyncDeltas();
  limiter_.ApplySync(deltas, {{10, 0, 0}});
  ASSERT_TRUE(limiter_.Admit(Tenant(100, 0, 0), &leases[10]).admitted);
  EXPECT_FALSE(limiter_.TakeChanged());
  // A concurrency limit half taken: every admission and release is due at once.
  RateLimiter::Lease x, y;
  RateLimitRequest c = Tenant(0, 0, 4);
  c.tenant = "busy";
  ASSERT_TRUE(limiter_.Admit(c, &x).admitted);
  EXPECT_TRUE(limiter_.TakeChanged()) << "a new scope";
  ASSERT_TRUE(limiter_.Admit(c, &y).admitted);
  EXPECT_TRUE(limiter_.TakeChanged());
  y.Release();
  EXPECT_TRUE(limiter_.TakeChanged());
  x.Release();
  EXPECT_FALSE(limiter_.TakeChanged());
}

TEST_F(RateLimiterTest, AScopeTheLastSyncLeftOutIsDueAtOnceWhenUsedAgain) {
  std::vector<RateLimiter::Lease> leases(3);
  ASSERT_TRUE(limiter_.Admit(Tenant(100, 0, 0), &leases[0]).admitted);
  limiter_.TakeChanged();
  ASSERT_EQ(limiter_.TakeSyncDeltas(false).size(), 1u);
  ASSERT_TRUE(limiter_.Admit(Tenant(100, 0, 0), &leases[1]).admitted);
  EXPECT_FALSE(limiter_.TakeChanged()) << "in every sync: batched";
  ASSERT_EQ(limiter_.TakeSyncDeltas(false).size(), 1u);
  // A sync that leaves it out (nothing changed it): what it knows of the others ages from now.
  ASSERT_EQ(limiter_.TakeSyncDeltas(false).size(), 0u);
  ASSERT_TRUE(limiter_.Admit(Tenant(100, 0, 0), &leases[2]).admitted);
  EXPECT_TRUE(limiter_.TakeChanged());
}

TEST_F(RateLimiterTest, OnlyChangedScopesAreSyncedEachTimeIdleOnesWithAll) {
  RateLimiter::Lease a, b;
  RateLimitRequest other = Tenant(100, 0, 0);
  other.tenant = "other";
  ASSERT_TRUE(limiter_.Admit(Tenant(100, 0, 0), &a).admitted);
  ASSERT_TRUE(limiter_.Admit(other, &b).admitted);
  EXPECT_EQ(limiter_.TakeSyncDeltas(false).size(), 2u);
  EXPECT_EQ(limiter_.TakeSyncDeltas(false).size(), 0u) << "nothing changed";
  b.Release();
  std::vector<RateLimiter::SyncDelta> changed = limiter_.TakeSyncDeltas(false);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].in_flight, 0u);
  EXPECT_EQ(limiter_.TakeSyncDeltas(true).size(), 2u) << "now and then, every scope";
}

TEST_F(RateLimiterTest, ALeaseIsGivenBackEvenAfterItsWindowHasPassed) {
  // A long stream under a concurrency limit holds its slot past the end of the window.
  RateLimiter::Lease stream;
  ASSERT_TRUE(limiter_.Admit(Tenant(0, 0, 5), &stream).admitted);
  std::vector<RateLimiter::SyncDelta> held = limiter_.TakeSyncDeltas(false);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].in_flight, 1u);
  limiter_.ApplySync(held, {{1, 0, 0}});
  now_ms_ += 15000;  // the next window
  stream.Release();
  std::vector<RateLimiter::SyncDelta> released = limiter_.TakeSyncDeltas(false);
  ASSERT_EQ(released.size(), 1u) << "the shared store would count the slot until its TTL";
  EXPECT_EQ(released[0].in_flight, 0u);
  limiter_.ApplySync(released, {{0, 0, 0}});
  EXPECT_EQ(limiter_.TakeSyncDeltas(false).size(), 0u);
  // A failed write is written again.
  RateLimiter::Lease again;
  ASSERT_TRUE(limiter_.Admit(Tenant(0, 0, 5), &again).admitted);
  std::vector<RateLimiter::SyncDelta> lost = limiter_.TakeSyncDeltas(false);
  limiter_.RestoreSyncDeltas(lost);
  EXPECT_EQ(limiter_.TakeSyncDeltas(false).size(), 1u);
}

TEST_F(RateLimiterTest, AdmissionsWhileTheSharedStoreIsDownAreCounted) {
  RateLimiter::Lease lease;
  ASSERT_TRUE(limiter_.Admit(Tenant(100, 0, 0), &lease).admitted);
  EXPECT_EQ(limiter_.TakeAdmittedWhileStoreDown(), 0u);
  limiter_.SetSharedStoreUnavailable(true, /*fail_closed=*/false);
  ASSERT_TRUE(limiter_.Admit(Tenant(100, 0, 0), &lease).admitted);
  ASSERT_TRUE(limiter_.Admit(Tenant(100, 0, 0), &lease).admitted);
  EXPECT_EQ(limiter_.TakeAdmittedWhileStoreDown(), 2u);
  limiter_.SetSharedStoreUnavailable(false, false);
  ASSERT_TRUE(limiter_.Admit(Tenant(100, 0, 0), &lease).admitted);
  EXPECT_EQ(limiter_.TakeAdmittedWhileStoreDown(), 0u);
}

TEST(RateLimitFormatTest, ResetsReadLikeOpenAis) {
  EXPECT_EQ(FormatResetDuration(milliseconds(20)), "20ms");
  EXPECT_EQ(FormatResetDuration(milliseconds(1000)), "1s");
  EXPECT_EQ(FormatResetDuration(milliseconds(1001)), "2s");
  EXPECT_EQ(FormatResetDuration(milliseconds(360000)), "6m0s");
  EXPECT_EQ(FormatResetDuration(milliseconds(3725000)), "1h2m5s");
  EXPECT_EQ(FormatResetDuration(milliseconds(-5)), "0ms");
}

}  // namespace
}  // namespace llmrouter::gateway
