// What each tenant has spent in the current day and month (UTC), from the usage gateways
// report: the SpendLedger that spending limits read.
#ifndef LLMROUTER_SERVICES_DECISION_USAGE_LEDGER_H_
#define LLMROUTER_SERVICES_DECISION_USAGE_LEDGER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "services/decision/spend_ledger.h"

namespace llmrouter::decision {

// Safe for concurrent use; Spent() holds the lock only for one map lookup. Alone, the ledger
// lives in memory: a restarted replica starts its periods from zero, and each decision replica
// counts the usage reported to it. With --redis, a SpendSync (spend_sync.h) shares it: every
// replica adds what it recorded to the shared totals, and Spent() answers with everyone's.
class UsageLedger final : public SpendLedger {
 public:
  explicit UsageLedger(const Clock& clock = RealClock::Get()) : clock_(clock) {}

  // Adds `usd` to the tenant's current day and month.
  void Record(absl::string_view tenant, double usd);
  double Spent(absl::string_view tenant, absl::string_view period) const override;

  // Sharing with other replicas. Per tenant with something recorded since the last sync, or
  // asked about by Spent() (a tenant with a spend limit), what was recorded since then (in
  // micro-dollars), taken out of the pending amounts. Tenants only reported on are not sent
  // again until more is recorded for them: usage names tenants as gateways saw them.
  struct SyncDelta {
    std::string tenant;
    int64_t day = 0;  // the period indices the amounts belong to
    int64_t month = 0;
    int64_t day_micros = 0;
    int64_t month_micros = 0;
    // All this replica has shared for the periods, the delta included: what it writes, so
    // that writing it again (after a timeout whose write did land) counts nothing twice.
    int64_t day_total_micros = 0;
    int64_t month_total_micros = 0;
  };
  std::vector<SyncDelta> TakeSyncDeltas();
  // The shared totals (every replica's, this one's included) after `deltas`, one per delta.
  struct SharedSpend {
    int64_t day_micros = 0;
    int64_t month_micros = 0;
  };
  void ApplySync(const std::vector<SyncDelta>& deltas, const std::vector<SharedSpend>& shared);
  // The deltas could not be shared: they wait for the next sync.
  void RestoreSyncDeltas(const std::vector<SyncDelta>& deltas);
  // The shared store lost its data: the next TakeSyncDeltas sends every tenant this replica has
  // recorded spend for in the current periods, so that its totals are written again.
  void ResendAll();

  // Keeps these tenants' shared totals fresh from the next sync on, as if Spent() had asked
  // about them: decision watches the active policy's tenants with a spend limit before it
  // serves, so that a restarted replica does not judge them on its own amounts alone.
  void Watch(const std::vector<std::string>& tenants);
  // Blocks until a sync is wanted sooner than the interval — Spent() asked about a tenant whose
  // shared totals this replica has not fetched yet, or WakeSync() — or until `timeout` passes.
  void AwaitSyncWanted(absl::Duration timeout);
  void WakeSync();

  static int64_t DayIndex(absl::Time t);
  static int64_t MonthIndex(absl::Time t);

 private:
  struct Totals {
    int64_t day = -1;    // days since the epoch of `day_usd`
    int64_t month = -1;  // months since the epoch of `month_usd`
    double day_usd = 0;  // this replica's
    double month_usd = 0;
    // Shared mode: recorded here and not yet shared, shared, and the other replicas' totals.
    int64_t pending_day_micros = 0;
    int64_t pending_month_micros = 0;
    int64_t shared_day_micros = 0;
    int64_t shared_month_micros = 0;
    int64_t others_day_micros = 0;
    int64_t others_month_micros = 0;
    bool asked = false;  // Spent() was called for it: keep its shared totals fresh
  };
  // The tenant's totals, rolled over to the current day and month.
  Totals& CurrentLocked(absl::string_view tenant, int64_t day, int64_t month) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  mutable absl::Mutex mu_;
  // Mutable: Spent() on a tenant not seen yet starts tracking it, so that a sync fetches what
  // other replicas recorded for it.
  mutable absl::flat_hash_map<std::string, Totals> totals_ ABSL_GUARDED_BY(mu_);
  bool resend_all_ ABSL_GUARDED_BY(mu_) = false;
  mutable bool sync_wanted_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_USAGE_LEDGER_H_
