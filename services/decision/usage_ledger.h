// What each tenant has spent in the current day and month (UTC), from the usage gateways
// report: the SpendLedger that spending limits read.
#ifndef LLMROUTER_SERVICES_DECISION_USAGE_LEDGER_H_
#define LLMROUTER_SERVICES_DECISION_USAGE_LEDGER_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "services/decision/spend_ledger.h"

namespace llmrouter::decision {

// Safe for concurrent use; Spent() holds the lock only for one map lookup. The ledger lives in
// memory: a restarted replica starts its periods from zero, and each decision replica counts
// the usage reported to it (gateways report to the replica their channel picks).
class UsageLedger final : public SpendLedger {
 public:
  explicit UsageLedger(const Clock& clock = RealClock::Get()) : clock_(clock) {}

  // Adds `usd` to the tenant's current day and month.
  void Record(absl::string_view tenant, double usd);
  double Spent(absl::string_view tenant, absl::string_view period) const override;

 private:
  struct Totals {
    int64_t day = -1;    // days since the epoch of `day_usd`
    int64_t month = -1;  // months since the epoch of `month_usd`
    double day_usd = 0;
    double month_usd = 0;
  };
  static int64_t DayIndex(absl::Time t);
  static int64_t MonthIndex(absl::Time t);

  const Clock& clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Totals> totals_ ABSL_GUARDED_BY(mu_);
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_USAGE_LEDGER_H_
