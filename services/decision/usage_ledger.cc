#include "services/decision/usage_ledger.h"

namespace llmrouter::decision {

int64_t UsageLedger::DayIndex(absl::Time t) { return absl::ToUnixSeconds(t) / 86400; }

int64_t UsageLedger::MonthIndex(absl::Time t) {
  const absl::CivilDay day = absl::ToCivilDay(t, absl::UTCTimeZone());
  return day.year() * 12 + day.month() - 1;
}

void UsageLedger::Record(absl::string_view tenant, double usd) {
  const absl::Time now = clock_.Now();
  const int64_t day = DayIndex(now), month = MonthIndex(now);
  absl::MutexLock lock(&mu_);
  Totals& t = totals_[tenant];
  if (t.day != day) {
    t.day = day;
    t.day_usd = 0;
  }
  if (t.month != month) {
    t.month = month;
    t.month_usd = 0;
  }
  t.day_usd += usd;
  t.month_usd += usd;
}

double UsageLedger::Spent(absl::string_view tenant, absl::string_view period) const {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  auto it = totals_.find(tenant);
  if (it == totals_.end()) return 0;
  if (period == "day") return it->second.day == DayIndex(now) ? it->second.day_usd : 0;
  return it->second.month == MonthIndex(now) ? it->second.month_usd : 0;
}

}  // namespace llmrouter::decision
