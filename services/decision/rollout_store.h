// Where the rollouts' runtime state lives: each rollout's progress (a RolloutStatus, compared by
// version on every write so that no step is taken twice) and its events. Decision's SQLite file
// when one replica runs alone; Redis (--redis) when several share it, with a lease naming the one
// replica that judges. Also the shared per-track counts of several replicas (Redis only).
#ifndef LLMROUTER_SERVICES_DECISION_ROLLOUT_STORE_H_
#define LLMROUTER_SERVICES_DECISION_ROLLOUT_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/redis_connection.h"
#include "llmrouter/v1/rollout.pb.h"
#include "services/decision/variant_windows.h"

namespace llmrouter {
class SqliteDb;
}

namespace llmrouter::decision {

// Thread-safe.
class RolloutStore {
 public:
  virtual ~RolloutStore() = default;
  // Every rollout's kept progress.
  virtual absl::StatusOr<std::vector<llmrouter::v1::RolloutStatus>> Load() = 0;
  // Writes `status` (and `event`, when set) if the kept version of its rollout is still
  // `expected_version` (0: nothing kept); false when another writer changed it first.
  virtual absl::StatusOr<bool> Save(const llmrouter::v1::RolloutStatus& status,
                                    uint64_t expected_version,
                                    const llmrouter::v1::RolloutEvent* event) = 0;
  // Drops a rollout's kept progress (its events stay): a rollout the bundle no longer declares
  // starts afresh if it is declared again.
  virtual absl::Status Forget(const std::string& name) = 0;
  // A rollout's events, newest first.
  virtual absl::StatusOr<std::vector<llmrouter::v1::RolloutEvent>> Events(const std::string& name,
                                                                          std::size_t limit) = 0;
  // Whether `me` holds the lease that lets one replica judge (taking or renewing it for `ttl`).
  virtual absl::StatusOr<bool> HoldLease(const std::string& me, absl::Duration ttl) = 0;
  // Gives the lease up when `me` holds it (a replica shutting down), so another takes it at once.
  virtual void ReleaseLease(const std::string& me) = 0;
  // The lease's holder, or empty.
  virtual absl::StatusOr<std::string> LeaseHolder() = 0;
  // Whether replicas share it (Redis).
  virtual bool shared() const = 0;
};

// Decision's own SQLite file (--db): tables rollout_progress and rollout_events, created when
// missing. One replica: the lease is always held.
absl::StatusOr<std::unique_ptr<RolloutStore>> OpenSqliteRolloutStore(const std::string& path);

// Redis: hash llmrouter:rollouts (a field per rollout), lists llmrouter:rollout_events:<name>
// (the newest 1,000), key llmrouter:rollout_lease.
std::unique_ptr<RolloutStore> NewRedisRolloutStore(RedisOptions options);

// The per-track counts of every replica through Redis: each replica writes its own totals of the
// slots it changed (a field per replica in
// llmrouter:variant:<slot ms>:<model length>:<model>|<track>:<slot>, so a write repeated after a
// timeout counts nothing twice), and whoever judges sums them. Not thread-safe: one thread (the
// rollout controller's).
class SharedVariantCounts {
 public:
  SharedVariantCounts(RedisOptions options, std::string replica, absl::Duration slot,
                      absl::Duration keep);
  // Writes the slots `windows` changed since the last call, at most kMaxKeysPerWrite per script
  // call. Slots not written (Redis down) are written next time while they are younger than
  // `keep`.
  absl::Status Flush(VariantWindows& windows, absl::Time now);
  // Every replica's counts of (model, track) in the slots that overlap [now - window, now] and
  // begin at or after `not_before`.
  absl::StatusOr<VariantCounts> Window(const std::string& model, const std::string& track,
                                       absl::Duration window, absl::Time now,
                                       absl::Time not_before = absl::InfinitePast());
  std::size_t unsent() const { return unsent_.size(); }

  static constexpr std::size_t kMaxKeysPerWrite = 500;

 private:
  std::string SlotKey(const std::string& model, const std::string& track, int64_t slot) const;

  RedisConnection redis_;
  const std::string replica_;
  const absl::Duration slot_;
  const absl::Duration keep_;
  // Slot key -> the totals to write there.
  absl::flat_hash_map<std::string, VariantSlotTotals> unsent_;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_ROLLOUT_STORE_H_
