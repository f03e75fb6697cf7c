#include "services/decision/inventory_view.h"

#include <algorithm>
#include <cmath>

namespace llmrouter::decision {

InventoryView::InventoryView(const llmrouter::v1::InventorySnapshot& snapshot,
                             absl::Time received_at, const InventoryView* previous)
    : version_(snapshot.version()), received_at_(received_at) {
  for (const auto& e : snapshot.endpoints()) {
    by_model_[e.model()].endpoints.push_back(e);
    ++endpoint_count_;
  }
  for (auto& [model, group] : by_model_) {
    group.sends = std::make_unique<RecentSends[]>(group.endpoints.size());
    const ModelEndpoints* before = previous ? previous->ForModel(model) : nullptr;
    if (before) group.next.store(before->next.load(std::memory_order_relaxed));
  }
}

namespace {

// How long a request to `e` typically runs: its latency average, else its time to first token,
// else a quarter second. Unknown, it is kept short, so that the estimate does not outweigh
// measured queues before the first outcomes are in (the next scrape corrects it anyway).
double TypicalSeconds(const llmrouter::v1::Endpoint& e) {
  for (const auto* d : {&e.load().latency_ewma(), &e.load().ttft_ewma()}) {
    const double s = static_cast<double>(d->seconds()) + d->nanos() / 1e9;
    if (s > 0) return std::min(s, 30.0);
  }
  return 0.25;
}

}  // namespace

double ModelEndpoints::RecentSendsTo(const llmrouter::v1::Endpoint& e, absl::Time now) const {
  const RecentSends& r = sends[&e - endpoints.data()];
  const double count = r.count.load(std::memory_order_relaxed);
  if (count == 0) return 0;
  const double elapsed = (absl::ToUnixNanos(now) - r.at_ns.load(std::memory_order_relaxed)) / 1e9;
  return elapsed > 0 ? count * std::exp(-elapsed / TypicalSeconds(e)) : count;
}

void ModelEndpoints::NoteSent(const llmrouter::v1::Endpoint& e, absl::Time now) const {
  RecentSends& r = sends[&e - endpoints.data()];
  const double count = RecentSendsTo(e, now) + 1;
  r.count.store(count, std::memory_order_relaxed);
  r.at_ns.store(absl::ToUnixNanos(now), std::memory_order_relaxed);
}

const ModelEndpoints* InventoryView::ForModel(absl::string_view model) const {
  auto it = by_model_.find(model);
  return it == by_model_.end() ? nullptr : &it->second;
}

}  // namespace llmrouter::decision
