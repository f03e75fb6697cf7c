#include "services/decision/inventory_view.h"

namespace llmrouter::decision {

InventoryView::InventoryView(const llmrouter::v1::InventorySnapshot& snapshot,
                             absl::Time received_at, const InventoryView* previous)
    : version_(snapshot.version()), received_at_(received_at) {
  for (const auto& e : snapshot.endpoints()) {
    by_model_[e.model()].endpoints.push_back(e);
    ++endpoint_count_;
  }
  for (auto& [model, group] : by_model_) {
    group.routed = std::make_unique<std::atomic<uint32_t>[]>(group.endpoints.size());
    const ModelEndpoints* before = previous ? previous->ForModel(model) : nullptr;
    if (before) group.next.store(before->next.load(std::memory_order_relaxed));
  }
}

const ModelEndpoints* InventoryView::ForModel(absl::string_view model) const {
  auto it = by_model_.find(model);
  return it == by_model_.end() ? nullptr : &it->second;
}

}  // namespace llmrouter::decision
