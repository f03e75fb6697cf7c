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

// The endpoints serving one model. The round-robin cursor is the only mutable part: an
// atomic, so that concurrent requests share it without a lock.
struct ModelEndpoints {
  std::vector<llmrouter::v1::Endpoint> endpoints;  // sorted by id
  mutable std::atomic<uint64_t> next{0};
};

// Immutable after construction; shared by requests in flight through a shared_ptr.
class InventoryView {
 public:
  InventoryView(const llmrouter::v1::InventorySnapshot& snapshot, absl::Time received_at);

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
