// Shares the registrations and drains made through any inventory replica's RPCs with every other
// replica, through Redis (--redis), on a thread of its own.
//
// Redis holds two hashes: llmrouter:inventory:endpoints (endpoint id → its expiry in Unix
// milliseconds, 0 for none, a '|' and the registered endpoint as protobuf bytes) and
// llmrouter:inventory:drains (endpoint id → 1). A change made here is written before the next
// read, and every interval the thread reads both hashes and brings the local registry to them:
// endpoints registered elsewhere are added (with what is left of their TTL), those deregistered
// elsewhere removed, drains started or ended. Endpoints from the endpoints file and DNS are each
// replica's own configuration and are never removed by a sync; their drains are shared.
//
// Redis unreachable: changes wait, in order, for it to come back (this replica keeps serving
// what it knows). Redis that lost its data (its epoch changed): this replica writes back what it
// knows instead of removing it.
#ifndef LLMROUTER_SERVICES_INVENTORY_REGISTRATION_SYNC_H_
#define LLMROUTER_SERVICES_INVENTORY_REGISTRATION_SYNC_H_

#include <atomic>
#include <chrono>
#include <deque>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "common/redis_connection.h"
#include "common/redis_store_health.h"
#include "services/inventory/endpoint_registry.h"
#include "services/inventory/inventory_service.h"

namespace llmrouter::inventory {

class RegistrationSync final : public SharedChanges {
 public:
  // Starts the thread; `registry` must outlive this.
  RegistrationSync(RedisOptions redis, std::chrono::milliseconds interval,
                   EndpointRegistry& registry, prometheus::Registry& metrics,
                   const Clock& clock = RealClock::Get());
  // Stops the thread after writing what is queued (while Redis answers).
  ~RegistrationSync() override;
  RegistrationSync(const RegistrationSync&) = delete;
  RegistrationSync& operator=(const RegistrationSync&) = delete;

  void Registered(const llmrouter::v1::Endpoint& endpoint, absl::Duration ttl) override;
  void Deregistered(const std::string& id) override;
  void Drained(const std::string& id, bool draining) override;

  bool up() const { return health_.up(); }
  int64_t syncs() const { return syncs_.load(); }
  // Changes waiting to be written (at most two per endpoint: its registration and its drain).
  std::size_t pending() const {
    absl::MutexLock lock(&mu_);
    return pending_.size();
  }

 private:
  // One change to write: a registration (value set), a deregistration, a drain or its end.
  struct Change {
    enum class Kind { kRegister, kDeregister, kDrain, kResume } kind;
    std::string id;
    std::string value;  // kRegister: the hash value
  };
  void Enqueue(Change change);
  void SyncOnce();
  // Writes the queued changes in order; false (the rest kept) when Redis fails.
  bool WritePending(absl::Status* failure);
  // Reads both hashes and brings the registry to them.
  absl::Status ReadAndApply();
  // After Redis lost its data: queues everything this replica knows to be written again.
  void QueueEverythingKnown();

  const std::chrono::milliseconds interval_;
  EndpointRegistry& registry_;
  const Clock& clock_;
  RedisConnection redis_;
  RedisStoreHealth health_;

  mutable absl::Mutex mu_;
  std::deque<Change> pending_ ABSL_GUARDED_BY(mu_);
  absl::CondVar wake_;

  // Owned by the sync thread: what Redis said (or this replica wrote) at the last sync.
  absl::flat_hash_map<std::string, std::string> shared_endpoints_;
  absl::flat_hash_set<std::string> shared_drains_;
  int64_t data_losses_seen_ = 0;
  // Registrations left in Redis that this replica cannot take (unreadable or rejected), by id,
  // with the value it logged: each is logged once, not at every sync.
  absl::flat_hash_map<std::string, std::string> refused_;

  std::atomic<int64_t> syncs_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace llmrouter::inventory

#endif  // LLMROUTER_SERVICES_INVENTORY_REGISTRATION_SYNC_H_
