#include "services/decision/usage_ledger.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace llmrouter::decision {
namespace {

TEST(UsageLedgerTest, DaysAndMonthsRollOver) {
  // 2026-01-31 23:00 UTC.
  FakeClock clock(absl::FromCivil(absl::CivilSecond(2026, 1, 31, 23, 0, 0), absl::UTCTimeZone()));
  UsageLedger ledger(clock);
  EXPECT_EQ(ledger.Spent("acme", "day"), 0);
  ledger.Record("acme", 1.5);
  ledger.Record("acme", 0.5);
  ledger.Record("other", 7);
  EXPECT_DOUBLE_EQ(ledger.Spent("acme", "day"), 2.0);
  EXPECT_DOUBLE_EQ(ledger.Spent("acme", "month"), 2.0);
  clock.Advance(absl::Hours(2));  // February 1st: a new day and a new month
  EXPECT_EQ(ledger.Spent("acme", "day"), 0);
  EXPECT_EQ(ledger.Spent("acme", "month"), 0);
  ledger.Record("acme", 1);
  clock.Advance(absl::Hours(24));  // February 2nd: same month
  EXPECT_EQ(ledger.Spent("acme", "day"), 0);
  EXPECT_DOUBLE_EQ(ledger.Spent("acme", "month"), 1.0);
  EXPECT_DOUBLE_EQ(ledger.Spent("other", "month"), 0) << "January's spend is not February's";
}

// A sync sends the tenants with something new and those a spend limit asks about; a tenant
// only ever reported on (usage names tenants as gateways saw them) is not sent again and again.
TEST(UsageLedgerTest, SyncDeltasHoldWhatChangedAndWhatLimitsAskAbout) {
  UsageLedger ledger;
  ledger.Record("made-up", 0.5);
  EXPECT_EQ(ledger.Spent("limited", "day"), 0);
  auto names = [](const std::vector<UsageLedger::SyncDelta>& deltas) {
    std::vector<std::string> out;
    for (const auto& d : deltas) out.push_back(d.tenant);
    std::sort(out.begin(), out.end());
    return out;
  };
  std::vector<UsageLedger::SyncDelta> first = ledger.TakeSyncDeltas();
  EXPECT_EQ(names(first), (std::vector<std::string>{"limited", "made-up"}));
  for (const auto& d : first) {
    if (d.tenant == "made-up") {
      EXPECT_EQ(d.day_total_micros, 500000);
    }
  }
  EXPECT_EQ(names(ledger.TakeSyncDeltas()), (std::vector<std::string>{"limited"}));
  ledger.Record("made-up", 0.25);
  std::vector<UsageLedger::SyncDelta> again = ledger.TakeSyncDeltas();
  ASSERT_EQ(names(again), (std::vector<std::string>{"limited", "made-up"}));
  for (const auto& d : again) {
    if (d.tenant == "made-up") {
      EXPECT_EQ(d.day_total_micros, 750000) << "a running total";
    }
  }
}

}  // namespace
}  // namespace llmrouter::decision
