// Two gateways' rate limiters sharing their counts through a real redis-server.
#include "services/gateway/rate_limit_sync.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <iostream>
#include <thread>
#include <vector>

#include "tests/support/process_harness.h"
#include "tests/support/redis_server.h"
#include "tests/support/wait_until.h"

namespace llmrouter::gateway {
namespace {

using std::chrono::milliseconds;
using testing::WaitUntil;

constexpr int64_t kWindowMs = 20000;

int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Waits, if need be, for a fresh window: the test's requests must all fall in one window.
void StartOfAWindow() {
  if (NowMs() % kWindowMs > kWindowMs / 2) {
    std::this_thread::sleep_for(milliseconds(kWindowMs - NowMs() % kWindowMs + 50));
  }
}

RateLimitRequest Acme(uint64_t requests, uint64_t concurrent) {
  RateLimitRequest r;
  r.window = milliseconds(kWindowMs);
  r.tenant = "acme";
  r.tenant_quota.requests = requests;
  r.tenant_quota.concurrent = concurrent;
  return r;
}

struct Gateway {
  Gateway(const testing::RedisServer& redis, const std::string& name, bool fail_closed = false,
          milliseconds lease_ttl = milliseconds(10000)) {
    RateLimitSyncOptions o;
    o.redis.address = redis.address();
    o.redis.first_backoff = milliseconds(5);
    o.redis.max_backoff = milliseconds(50);
    o.replica = name;
    o.interval = milliseconds(5);
    o.lease_ttl = lease_ttl;
    o.fail_closed = fail_closed;
    sync = std::make_unique<RateLimitSync>(o, limiter, registry);
  }
  // Waits for a sync that started after now.
  bool Synced() {
    const int64_t from = sync->syncs();
    return WaitUntil([&] { return sync->syncs() >= from + 2; });
  }
  prometheus::Registry registry;
  RateLimiter limiter;
  std::unique_ptr<RateLimitSync> sync;
};

// `clients_per_gateway` clients on each of a and b, each sending `requests` admissions about a
// millisecond apart against a limit of `limit` requests: how many were admitted in all.
int AdmittedTogether(Gateway& a, Gateway& b, int clients_per_gateway, int requests,
                     uint64_t limit) {
  std::atomic<int> admitted{0};
  auto client = [&](RateLimiter& limiter) {
    for (int i = 0; i < requests; ++i) {
      RateLimiter::Lease lease;
      if (limiter.Admit(Acme(limit, 0), &lease).admitted) admitted.fetch_add(1);
      std::this_thread::sleep_for(milliseconds(1));
    }
  };
  std::vector<std::thread> clients;
  for (int i = 0; i < clients_per_gateway; ++i) {
    clients.emplace_back(client, std::ref(a.limiter));
    clients.emplace_back(client, std::ref(b.limiter));
  }
  for (std::thread& t : clients) t.join();
  return admitted.load();
}

TEST(RateLimitSyncTest, TwoGatewaysTogetherStayWithinFivePercentOfTheLimit) {
  testing::RedisServer redis(testing::MakeTempDir("llmrouter-rl-sync"));
  Gateway a(redis, "a"), b(redis, "b");
  StartOfAWindow();
  // One client each, for 400 ms: far more than the limit asks for.
  const int admitted = AdmittedTogether(a, b, 1, 400, 200);
  std::cout << "[rate-limit-sync] admitted " << admitted << " of a limit of 200\n";
  EXPECT_GE(admitted, 200);
  EXPECT_LE(admitted, 210);
}

TEST(RateLimitSyncTest, FourClientsPerGatewayStayWithinFivePercentOfTheLimit) {
  // Many connections per gateway, as under load: eight clients ask for five times the limit
  // between them.
  testing::RedisServer redis(testing::MakeTempDir("llmrouter-rl-sync"));
  Gateway a(redis, "a"), b(redis, "b");
  StartOfAWindow();
  const int admitted = AdmittedTogether(a, b, 4, 600, 1000);
  std::cout << "[rate-limit-sync] 8 clients admitted " << admitted << " of a limit of 1000\n";
  EXPECT_GE(admitted, 1000);
  EXPECT_LE(admitted, 1050);
}

TEST(RateLimitSyncTest, AValueNoReplicaWroteDoesNotStopTheSharing) {
  testing::RedisServer redis(testing::MakeTempDir("llmrouter-rl-sync"));
  Gateway a(redis, "a"), b(redis, "b");
  StartOfAWindow();
  RateLimiter::Lease lease;
  ASSERT_TRUE(a.limiter.Admit(Acme(10, 0), &lease).admitted);
  ASSERT_TRUE(a.Synced());
  // Something else wrote junk into the window's counts and the leases.
  const int64_t index = NowMs() / kWindowMs;
  const std::string window = "llmrouter:rl:" + std::to_string(kWindowMs) + ":" +
                             std::to_string(index) + ":t\nacme";
  RedisConnection junk({redis.address()});
  ASSERT_TRUE(junk.Command({"HSET", window + ":requests", "junk", "lots"}).ok());
  ASSERT_TRUE(junk.Command({"HSET", "llmrouter:rl:inflight:t\nacme", "junk", "no-colon"}).ok());
  ASSERT_TRUE(a.Synced() && b.Synced());
  EXPECT_TRUE(a.sync->up() && b.sync->up());
  // b still learns a's count: with its own first one, 8 more fit, not 9.
  std::vector<RateLimiter::Lease> leases(12);
  ASSERT_TRUE(b.limiter.Admit(Acme(10, 0), &leases[0]).admitted);
  ASSERT_TRUE(b.Synced());
  int admitted = 0;
  for (std::size_t i = 1; i < leases.size(); ++i) {
    admitted += b.limiter.Admit(Acme(10, 0), &leases[i]).admitted ? 1 : 0;
  }
  EXPECT_EQ(admitted, 8);
}

TEST(RateLimitSyncTest, AGatewayThatDiesReleasesItsConcurrencySlotsWithinTheLeaseTtl) {
  testing::RedisServer redis(testing::MakeTempDir("llmrouter-rl-sync"));
  auto a = std::make_unique<Gateway>(redis, "a", false, milliseconds(300));
  Gateway b(redis, "b", false, milliseconds(300));
  std::vector<RateLimiter::Lease> held(2);
  ASSERT_TRUE(a->limiter.Admit(Acme(0, 2), &held[0]).admitted);
  ASSERT_TRUE(a->limiter.Admit(Acme(0, 2), &held[1]).admitted);
  ASSERT_TRUE(a->Synced());
  RateLimiter::Lease lease;
  ASSERT_TRUE(b.limiter.Admit(Acme(0, 2), &lease).admitted);  // b has not seen a's yet
  lease.Release();
  ASSERT_TRUE(b.Synced());
  RateLimitStatus full = b.limiter.Admit(Acme(0, 2), &lease);
  EXPECT_FALSE(full.admitted) << "a holds both slots";
  EXPECT_EQ(full.exceeded, RateLimitKind::kConcurrent);
  // a dies with its slots held: no release, no further refresh of its lease.
  a->sync.reset();
  held.clear();  // (its limiter's own counts die with it; the shared lease is what matters)
  EXPECT_TRUE(WaitUntil([&] {
    RateLimiter::Lease again;
    return b.limiter.Admit(Acme(0, 2), &again).admitted;
  }));
}

TEST(RateLimitSyncTest, RedisDownFailsOpenByDefaultOrClosedAndCountingResumes) {
  testing::RedisServer redis(testing::MakeTempDir("llmrouter-rl-sync"));
  Gateway open(redis, "open"), closed(redis, "closed", /*fail_closed=*/true);
  ASSERT_TRUE(WaitUntil([&] { return open.sync->up() && closed.sync->up(); }));
  RateLimiter::Lease lease;
  ASSERT_TRUE(open.limiter.Admit(Acme(1000, 0), &lease).admitted);
  ASSERT_TRUE(closed.limiter.Admit(Acme(1000, 0), &lease).admitted);
  redis.Kill();
  ASSERT_TRUE(open.Synced() && closed.Synced());  // syncs that found Redis gone
  ASSERT_FALSE(open.sync->up() || closed.sync->up());
  EXPECT_TRUE(open.limiter.Admit(Acme(1000, 0), &lease).admitted) << "fails open";
  RateLimitStatus refused = closed.limiter.Admit(Acme(1000, 0), &lease);
  EXPECT_FALSE(refused.admitted) << "fails closed";
  EXPECT_TRUE(refused.store_unavailable);
  redis.Restart();
  ASSERT_TRUE(WaitUntil([&] { return open.sync->up() && closed.sync->up(); }));
  EXPECT_TRUE(closed.limiter.Admit(Acme(1000, 0), &lease).admitted);
  // What "open" admitted while Redis was away reached it once it was back.
  ASSERT_TRUE(open.Synced());
  ASSERT_TRUE(closed.Synced());
  RateLimitStatus seen = closed.limiter.Admit(Acme(1000, 0), &lease);
  EXPECT_LE(seen.remaining_requests, 1000u - 3) << "open's admission while Redis was away, "
                                                   "and closed's two since it came back";
}

TEST(RateLimitSyncTest, RequestsNeverWaitOnAFrozenRedis) {
  testing::RedisServer redis(testing::MakeTempDir("llmrouter-rl-sync"));
  Gateway a(redis, "a");
  RateLimiter::Lease lease;
  ASSERT_TRUE(a.limiter.Admit(Acme(100000, 0), &lease).admitted);
  ASSERT_TRUE(a.Synced());
  redis.Freeze();
  // The sync thread is stuck on the frozen Redis (up to its command timeout each try); every
  // admission meanwhile is answered from local state.
  for (int i = 0; i < 1000; ++i) {
    RateLimiter::Lease l;
    ASSERT_TRUE(a.limiter.Admit(Acme(100000, 0), &l).admitted);
  }
  ASSERT_TRUE(WaitUntil([&] { return !a.sync->up(); }));
  redis.Thaw();
  EXPECT_TRUE(WaitUntil([&] { return a.sync->up(); }));
}

}  // namespace
}  // namespace llmrouter::gateway
