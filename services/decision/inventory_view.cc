#include "services/decision/inventory_view.h"

namespace llmrouter::decision {

InventoryView::InventoryView(const llmrouter::v1::InventorySnapshot& snapshot,
                             absl::Time received_at)
    : version_(snapshot.version()), received_at_(received_at) {
  for (const auto& e : snapshot.endpoints()) {
    by_model_[e.model()].endpoints.push_back(e);
    ++endpoint_count_;
  }
}

const ModelEndpoints* InventoryView::ForModel(absl::string_view model) const {
  auto it = by_model_.find(model);
  return it == by_model_.end() ? nullptr : &it->second;
}

}  // namespace llmrouter::decision
