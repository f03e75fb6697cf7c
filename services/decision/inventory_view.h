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

// The endpoints serving one model. The mutable parts are atomics, so that concurrent requests
// share them without a lock: the round-robin cursor, and how many requests decision sent to
// each endpoint since this view's load figures were taken (least_outstanding counts them, so
// that it does not send everything to one endpoint until the next load update).
struct ModelEndpoints {
  std::vector<llmrouter::v1::Endpoint> endpoints;  // sorted by id
  mutable std::atomic<uint64_t> next{0};
  std::unique_ptr<std::atomic<uint32_t>[]> routed;  // parallel to endpoints

  uint32_t RoutedTo(const llmrouter::v1::Endpoint& e) const {
    return routed[&e - endpoints.data()].load(std::memory_order_relaxed);
  }
  void NoteRouted(const llmrouter::v1::Endpoint& e) const {
    routed[&e - endpoints.data()].fetch_add(1, std::memory_order_relaxed);
  }
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
