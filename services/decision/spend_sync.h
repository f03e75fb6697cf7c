// Shares decision's spend ledger with the other decision replicas through Redis (--redis), on a
// thread of its own: every interval it writes what this replica (this process) has recorded in
// each tenant's day and month (hashes llmrouter:spend:day:<day>:<tenant> and
// llmrouter:spend:month:<month>:<tenant>, a field per replica, in micro-dollars, with TTLs past
// their period) in one Lua script, and hands the sums back to the ledger. Replicas write their
// running totals, never increments, so a write repeated after a timeout counts nothing twice. Usage
// reaches exactly one replica (the one a gateway's batch went to), so it is counted once; every
// replica sees every tenant's spend within an interval, and a restarted replica starts from the
// shared totals.
//
// Redis unreachable: the amounts wait for the next sync (nothing is lost), and limits are judged
// on this replica's amounts plus the others' as last seen.
#ifndef LLMROUTER_SERVICES_DECISION_SPEND_SYNC_H_
#define LLMROUTER_SERVICES_DECISION_SPEND_SYNC_H_

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/redis_connection.h"
#include "common/redis_store_health.h"
#include "services/decision/usage_ledger.h"

namespace prometheus {
class Counter;
class Gauge;
class Registry;
}  // namespace prometheus

namespace llmrouter::decision {

class SpendSync {
 public:
  // Syncs once (the tenants the ledger watches get the shared totals before decision serves),
  // then starts the thread, which syncs every `interval` and as soon as the ledger wants it.
  // `ledger` must outlive this.
  SpendSync(RedisOptions redis, std::chrono::milliseconds interval, UsageLedger& ledger,
            prometheus::Registry& registry);
  // Stops the thread after one last sync.
  ~SpendSync();
  SpendSync(const SpendSync&) = delete;
  SpendSync& operator=(const SpendSync&) = delete;

  bool up() const { return health_.up(); }
  int64_t syncs() const { return syncs_.load(); }

 private:
  void SyncOnce();

  std::chrono::milliseconds interval_;
  std::string replica_;  // this process's field in the shared hashes
  UsageLedger& ledger_;
  RedisConnection redis_;
  RedisStoreHealth health_;
  std::atomic<int64_t> syncs_{0};
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_SPEND_SYNC_H_
