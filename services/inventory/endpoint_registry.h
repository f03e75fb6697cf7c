// The inventory's state: every endpoint, versioned, with change notification.
#ifndef LLMROUTER_SERVICES_INVENTORY_ENDPOINT_REGISTRY_H_
#define LLMROUTER_SERVICES_INVENTORY_ENDPOINT_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "llmrouter/v1/inventory.pb.h"

namespace llmrouter::inventory {

using SnapshotPtr = std::shared_ptr<const llmrouter::v1::WatchInventoryResponse>;

// Checks an endpoint's fields and fills defaults (id, scheme, weight, health). InvalidArgument
// names the first bad field.
absl::Status NormalizeEndpoint(llmrouter::v1::Endpoint* endpoint);

// What probes, scrapes and outcome reports say about an endpoint right now.
struct LiveStatus {
  // Unset: nothing has been learned yet, the configured health stands.
  std::optional<llmrouter::v1::HealthState> health;
  std::string detail;
  llmrouter::v1::EndpointLoad load;
};

// An EndpointRegistry is safe for concurrent use. Every change increments the version and
// builds one immutable snapshot that all subscribers share; subscribers are called in the
// thread that made the change and must not block.
class EndpointRegistry {
 public:
  using Listener = std::function<void(SnapshotPtr)>;

  explicit EndpointRegistry(const Clock& clock = RealClock::Get());

  // Adds or replaces the endpoint with the same id. A positive ttl makes it expire at
  // now + ttl unless upserted again. InvalidArgument for a malformed endpoint.
  absl::StatusOr<llmrouter::v1::Endpoint> Upsert(llmrouter::v1::Endpoint endpoint,
                                                 absl::Duration ttl = absl::ZeroDuration());
  // Replaces every STATIC endpoint with `endpoints` in one change (a reload of the file).
  absl::Status ReplaceStatic(std::vector<llmrouter::v1::Endpoint> endpoints);
  // NotFound if no endpoint has that id.
  absl::Status Remove(const std::string& id);
  // Removes registered endpoints whose TTL has passed; returns how many.
  int ExpireDue();
  // Sets the live status of the endpoints named in `live` (others are left alone) in one
  // change; publishes only when something other than load.updated_at differs. Returns whether
  // it published. A drained endpoint stays DRAINING whatever its live health.
  bool ApplyLive(const absl::flat_hash_map<std::string, LiveStatus>& live);
  // Starts (draining = true) or ends a drain. Survives re-registration and file reloads.
  // NotFound for an unknown id.
  absl::StatusOr<llmrouter::v1::Endpoint> SetDraining(const std::string& id, bool draining);
  // Endpoints of one source, as configured (without live status); for discovery.
  std::vector<llmrouter::v1::Endpoint> ConfiguredEndpoints(
      llmrouter::v1::EndpointSource source) const;
  // Replaces every endpoint of `source` (STATIC or DNS) with `endpoints` in one change.
  absl::Status ReplaceSource(llmrouter::v1::EndpointSource source,
                             std::vector<llmrouter::v1::Endpoint> endpoints);

  SnapshotPtr Snapshot() const;
  uint64_t version() const;

  // Calls `listener` with the current snapshot at once, then after every change. Returns a
  // token for Unsubscribe, which waits for a call in progress to that listener to return.
  uint64_t Subscribe(Listener listener);
  void Unsubscribe(uint64_t token);
  size_t subscriber_count() const;

 private:
  struct Entry {
    llmrouter::v1::Endpoint endpoint;
    absl::Time expires_at = absl::InfiniteFuture();
    std::optional<LiveStatus> live;
    bool drained = false;
  };
  // Stores `entry` under its id, keeping the live status and drain of the entry it replaces.
  void PutLocked(Entry entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static llmrouter::v1::Endpoint Compose(const Entry& entry);
  // Rebuilds the snapshot after a change and notifies subscribers.
  void Publish() ABSL_LOCKS_EXCLUDED(mu_, notify_mu_);
  SnapshotPtr BuildLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> endpoints_ ABSL_GUARDED_BY(mu_);
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  SnapshotPtr snapshot_ ABSL_GUARDED_BY(mu_);

  // Held while listeners run, so that Unsubscribe never races a call in progress and
  // subscribers see versions in order.
  mutable absl::Mutex notify_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::flat_hash_map<uint64_t, Listener> listeners_ ABSL_GUARDED_BY(notify_mu_);
  uint64_t next_token_ ABSL_GUARDED_BY(notify_mu_) = 1;
};

}  // namespace llmrouter::inventory

#endif  // LLMROUTER_SERVICES_INVENTORY_ENDPOINT_REGISTRY_H_
