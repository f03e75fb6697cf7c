#include "services/decision/usage_ledger.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace llmrouter::decision
