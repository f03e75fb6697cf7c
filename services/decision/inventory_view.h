// Decision's read-only view of one inventory snapshot, indexed for routing.
#ifndef LLMROUTER_SERVICES_DECISION_INVENTORY_VIEW_H_
#define LLMROUTER_SERVICES_DECISION_INVENTORY_VIEW_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "llmrouter/v1/inventory.pb.h"

namespace llmrouter::decision {

// Requests decision itself sent to one endpoint that are probably still running: each send
// adds one, and the sum decays with the endpoint's typical request time, so that it stands for
// the sends the next load figures will not have seen yet. Atomics, updated without a lock; two
// racing sends may count as one, which is harmless for a load estimate.
struct RecentSends {
  std::atomic<double> count{0};
  std::atomic<int64_t> at_ns{0};
};

// The endpoints serving one model. The mutable parts are atomics, so that concurrent requests
// share them without a lock: the round-robin cursor, and the recent sends to each endpoint
// (least_outstanding adds them to the measured load, so that it does not send everything to
// one endpoint until the next load update).
struct ModelEndpoints {
  std::vector<llmrouter::v1::Endpoint> endpoints;  // sorted by id
  mutable std::atomic<uint64_t> next{0};
  std::unique_ptr<RecentSends[]> sends;  // parallel to endpoints

  // Sends to `e` (one of `endpoints`) still likely running at `now`.
  double RecentSendsTo(const llmrouter::v1::Endpoint& e, absl::Time now) const;
  void NoteSent(const llmrouter::v1::Endpoint& e, absl::Time now) const;
};

// Immutable after construction; shared by requests in flight through a shared_ptr.
class InventoryView {
 public:
  // `previous` (may be null), the view this one replaces, hands on its round-robin cursors, so
  // that an inventory update does not send the next requests to every model's first endpoint.
  InventoryView(const llmrouter::v1::InventorySnapshot& snapshot, absl::Time received_at,
                const InventoryView* previous = nullptr);

  uint64_t version() const { return version_; }
  absl::Time received_at() const { return received_at_; }
  size_t endpoint_count() const { return endpoint_count_; }
  // nullptr when no endpoint serves `model`.
  const ModelEndpoints* ForModel(absl::string_view model) const;

 private:
  uint64_t version_;
  absl::Time received_at_;
  size_t endpoint_count_ = 0;
  absl::node_hash_map<std::string, ModelEndpoints> by_model_;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_INVENTORY_VIEW_H_
