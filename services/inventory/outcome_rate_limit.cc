#include "services/inventory/outcome_rate_limit.h"

#include <algorithm>

#include "absl/time/time.h"

namespace llmrouter::inventory {

OutcomeRateLimit::OutcomeRateLimit(const Clock& clock, int64_t per_endpoint_per_second)
    : clock_(clock), limit_(per_endpoint_per_second) {}

void OutcomeRateLimit::Admit(absl::flat_hash_map<absl::string_view, int64_t>& wanted) {
  if (limit_ <= 0) return;
  const int64_t second = absl::ToUnixSeconds(clock_.Now());
  absl::MutexLock lock(&mu_);
  if (second != window_) {
    window_ = second;
    taken_.clear();  // also forgets endpoints that are gone
  }
  for (auto& [id, count] : wanted) {
    auto it = taken_.find(id);
    if (it == taken_.end()) it = taken_.emplace(std::string(id), 0).first;
    const int64_t admitted = std::clamp<int64_t>(limit_ - it->second, 0, count);
    it->second += admitted;
    count = admitted;
  }
}

}  // namespace llmrouter::inventory
