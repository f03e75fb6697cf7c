// Shares a RateLimiter's counts with the other gateway replicas through Redis (--redis), on a
// thread of its own: soon after anything was counted (within min_gap), and at least every
// interval, it adds what this replica counted since the last sync to the window's shared totals
// and refreshes its requests in flight, in one Lua script (EVALSHA), and hands the totals back
// to the limiter. Requests never wait on it: admission adds the other replicas' counts as last
// seen, so replicas may together admit what they count within one sync round trip beyond a
// limit.
//
// Keys (all with TTLs): llmrouter:rl:<window ms>:<window index>:<scope>:requests|tokens, hashes
// of replica → its count in the window (running counts, so a write repeated after a timeout
// counts once), and llmrouter:rl:inflight:<scope>, a hash of replica → "count:expiry ms": a
// replica that dies stops counting once its lease TTL has passed.
//
// Redis unreachable or hung: the counts wait for the next sync (nothing this replica counted is
// lost) and, by default, limits fail open on what was last seen; with fail_closed, every
// request with limits gets 429 until Redis answers again.
#ifndef LLMROUTER_SERVICES_GATEWAY_RATE_LIMIT_SYNC_H_
#define LLMROUTER_SERVICES_GATEWAY_RATE_LIMIT_SYNC_H_

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/redis_connection.h"
#include "common/redis_store_health.h"
#include "services/gateway/rate_limiter.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
}  // namespace prometheus

namespace llmrouter::gateway {

struct RateLimitSyncOptions {
  RedisOptions redis;
  std::string replica;  // unique per gateway process (RedisReplicaName())
  // A sync follows a change that leaves a scope near a limit within min_gap (the limiter says
  // which), and happens at least every interval (batching the rest; an idle replica keeps its
  // leases and learns the others' counts).
  std::chrono::milliseconds interval{20};
  std::chrono::milliseconds min_gap{1};
  std::chrono::milliseconds lease_ttl{10000};
  bool fail_closed = false;
};

class RateLimitSync {
 public:
  // Starts the thread; `limiter` must outlive this.
  RateLimitSync(RateLimitSyncOptions options, RateLimiter& limiter, prometheus::Registry& registry);
  // Stops the thread after one last sync.
  ~RateLimitSync();
  RateLimitSync(const RateLimitSync&) = delete;
  RateLimitSync& operator=(const RateLimitSync&) = delete;

  // Whether the last sync reached Redis.
  bool up() const { return health_.up(); }
  // Syncs done, successful or not; for tests that wait for one.
  int64_t syncs() const { return syncs_.load(); }

 private:
  void Run();
  void SyncOnce();
  // One script call for these scopes; on failure they wait for the next sync.
  absl::Status SyncScopes(const std::vector<RateLimiter::SyncDelta>& deltas);

  RateLimitSyncOptions options_;
  RateLimiter& limiter_;
  RedisConnection redis_;
  RedisStoreHealth health_;
  prometheus::Counter& admitted_while_down_;
  std::atomic<int64_t> syncs_{0};
  std::chrono::steady_clock::time_point last_all_;  // the sync thread's
  absl::Mutex wake_mu_;
  bool due_ ABSL_GUARDED_BY(wake_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(wake_mu_) = false;
  std::thread thread_;
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_RATE_LIMIT_SYNC_H_
