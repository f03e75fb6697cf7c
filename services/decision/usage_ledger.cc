#include "services/decision/usage_ledger.h"

#include <cmath>

namespace llmrouter::decision {

int64_t UsageLedger::DayIndex(absl::Time t) { return absl::ToUnixSeconds(t) / 86400; }

int64_t UsageLedger::MonthIndex(absl::Time t) {
  const absl::CivilDay day = absl::ToCivilDay(t, absl::UTCTimeZone());
  return day.year() * 12 + day.month() - 1;
}

UsageLedger::Totals& UsageLedger::CurrentLocked(absl::string_view tenant, int64_t day,
                                                int64_t month) const {
  Totals& t = totals_[tenant];
  if (t.day != day) {
    t.day = day;
    t.day_usd = 0;
    t.pending_day_micros = 0;
    t.shared_day_micros = 0;
    t.others_day_micros = 0;
  }
  if (t.month != month) {
    t.month = month;
    t.month_usd = 0;
    t.pending_month_micros = 0;
    t.shared_month_micros = 0;
    t.others_month_micros = 0;
  }
  return t;
}

void UsageLedger::Record(absl::string_view tenant, double usd) {
  const absl::Time now = clock_.Now();
  const int64_t micros = std::llround(usd * 1e6);
  absl::MutexLock lock(&mu_);
  Totals& t = CurrentLocked(tenant, DayIndex(now), MonthIndex(now));
  t.day_usd += usd;
  t.month_usd += usd;
  t.pending_day_micros += micros;
  t.pending_month_micros += micros;
}

double UsageLedger::Spent(absl::string_view tenant, absl::string_view period) const {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  Totals& t = CurrentLocked(tenant, DayIndex(now), MonthIndex(now));
  if (!t.asked) {
    // The first question about this tenant: fetch what the other replicas recorded now rather
    // than at the next interval.
    t.asked = true;
    sync_wanted_ = true;
  }
  if (period == "day") return t.day_usd + static_cast<double>(t.others_day_micros) / 1e6;
  return t.month_usd + static_cast<double>(t.others_month_micros) / 1e6;
}

std::vector<UsageLedger::SyncDelta> UsageLedger::TakeSyncDeltas() {
  const absl::Time now = clock_.Now();
  const int64_t day = DayIndex(now), month = MonthIndex(now);
  std::vector<SyncDelta> deltas;
  absl::MutexLock lock(&mu_);
  deltas.reserve(totals_.size());
  for (auto& [tenant, unused] : totals_) {
    Totals& t = CurrentLocked(tenant, day, month);
    const bool recorded = t.shared_day_micros > 0 || t.shared_month_micros > 0;
    if (!t.asked && t.pending_day_micros == 0 && t.pending_month_micros == 0 &&
        !(resend_all_ && recorded)) {
      continue;
    }
    t.shared_day_micros += t.pending_day_micros;
    t.shared_month_micros += t.pending_month_micros;
    deltas.push_back({tenant, day, month, t.pending_day_micros, t.pending_month_micros,
                      t.shared_day_micros, t.shared_month_micros});
    t.pending_day_micros = 0;
    t.pending_month_micros = 0;
  }
  resend_all_ = false;
  return deltas;
}

void UsageLedger::ResendAll() {
  absl::MutexLock lock(&mu_);
  resend_all_ = true;
}

void UsageLedger::Watch(const std::vector<std::string>& tenants) {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  for (const std::string& tenant : tenants) {
    Totals& t = CurrentLocked(tenant, DayIndex(now), MonthIndex(now));
    if (!t.asked) sync_wanted_ = true;
    t.asked = true;
  }
}

void UsageLedger::AwaitSyncWanted(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&sync_wanted_), timeout);
  sync_wanted_ = false;
}

void UsageLedger::WakeSync() {
  absl::MutexLock lock(&mu_);
  sync_wanted_ = true;
}

void UsageLedger::ApplySync(const std::vector<SyncDelta>& deltas,
                            const std::vector<SharedSpend>& shared) {
  absl::MutexLock lock(&mu_);
  for (std::size_t i = 0; i < deltas.size() && i < shared.size(); ++i) {
    auto it = totals_.find(deltas[i].tenant);
    if (it == totals_.end()) continue;
    Totals& t = it->second;
    if (t.day == deltas[i].day) {
      t.others_day_micros = std::max<int64_t>(0, shared[i].day_micros - t.shared_day_micros);
    }
    if (t.month == deltas[i].month) {
      t.others_month_micros = std::max<int64_t>(0, shared[i].month_micros - t.shared_month_micros);
    }
  }
}

void UsageLedger::RestoreSyncDeltas(const std::vector<SyncDelta>& deltas) {
  absl::MutexLock lock(&mu_);
  for (const SyncDelta& d : deltas) {
    auto it = totals_.find(d.tenant);
    if (it == totals_.end()) continue;
    Totals& t = it->second;
    if (t.day == d.day) {
      t.shared_day_micros -= d.day_micros;
      t.pending_day_micros += d.day_micros;
    }
    if (t.month == d.month) {
      t.shared_month_micros -= d.month_micros;
      t.pending_month_micros += d.month_micros;
    }
  }
}

}  // namespace llmrouter::decision
