// The seam to what tenants have spent: the gateway's outcome reports (tokens × catalog price)
// feed an implementation; until one is wired in, no tenant is over its limit.
#ifndef LLMROUTER_SERVICES_DECISION_SPEND_LEDGER_H_
#define LLMROUTER_SERVICES_DECISION_SPEND_LEDGER_H_

#include "absl/strings/string_view.h"

namespace llmrouter::decision {

// Implementations are safe for concurrent use and answer without blocking.
class SpendLedger {
 public:
  virtual ~SpendLedger() = default;
  // US dollars spent by `tenant` in the current period ("day" or "month").
  virtual double Spent(absl::string_view tenant, absl::string_view period) const = 0;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_SPEND_LEDGER_H_
