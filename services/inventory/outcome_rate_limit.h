// Caps how many outcome reports inventory takes for one endpoint per second, over all reporters,
// so that a flood of reports (a buggy or hijacked gateway) cannot drown an endpoint's error rate
// and latency averages or keep the health monitor's lock busy.
#ifndef LLMROUTER_SERVICES_INVENTORY_OUTCOME_RATE_LIMIT_H_
#define LLMROUTER_SERVICES_INVENTORY_OUTCOME_RATE_LIMIT_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace llmrouter::inventory {

// Safe for concurrent use; `clock` must outlive it. Windows are the clock's whole seconds: each
// endpoint may take `per_endpoint_per_second` outcomes in one, the rest are refused. Memory
// holds one count per endpoint reported on in the current second.
class OutcomeRateLimit {
 public:
  // 0: no limit.
  OutcomeRateLimit(const Clock& clock, int64_t per_endpoint_per_second);

  // `wanted` maps endpoint ids to how many outcomes a report carries for each; on return each
  // count is how many of them may be recorded (the first ones). One lock for the whole report.
  void Admit(absl::flat_hash_map<absl::string_view, int64_t>& wanted);

  int64_t per_endpoint_per_second() const { return limit_; }

 private:
  const Clock& clock_;
  const int64_t limit_;
  absl::Mutex mu_;
  int64_t window_ ABSL_GUARDED_BY(mu_) = INT64_MIN;  // the second the counts belong to
  absl::flat_hash_map<std::string, int64_t> taken_ ABSL_GUARDED_BY(mu_);
};

}  // namespace llmrouter::inventory

#endif  // LLMROUTER_SERVICES_INVENTORY_OUTCOME_RATE_LIMIT_H_
