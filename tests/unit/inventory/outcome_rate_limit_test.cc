#include "services/inventory/outcome_rate_limit.h"

#include <gtest/gtest.h>

namespace llmrouter::inventory {
namespace {

using Counts = absl::flat_hash_map<absl::string_view, int64_t>;

TEST(OutcomeRateLimitTest, EachEndpointHasItsOwnAllowancePerSecond) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  OutcomeRateLimit limit(clock, 10);
  Counts first = {{"a", 7}, {"b", 12}};
  limit.Admit(first);
  EXPECT_EQ(first["a"], 7);
  EXPECT_EQ(first["b"], 10);
  Counts second = {{"a", 7}, {"b", 1}};
  limit.Admit(second);
  EXPECT_EQ(second["a"], 3);
  EXPECT_EQ(second["b"], 0);
  // Still the same second.
  clock.Advance(absl::Milliseconds(999));
  Counts third = {{"a", 1}};
  limit.Admit(third);
  EXPECT_EQ(third["a"], 0);
  // A new second: the counts start again.
  clock.Advance(absl::Milliseconds(1));
  Counts fourth = {{"a", 11}, {"b", 4}};
  limit.Admit(fourth);
  EXPECT_EQ(fourth["a"], 10);
  EXPECT_EQ(fourth["b"], 4);
}

TEST(OutcomeRateLimitTest, ZeroMeansNoLimit) {
  FakeClock clock;
  OutcomeRateLimit limit(clock, 0);
  Counts counts = {{"a", 1000000}};
  limit.Admit(counts);
  EXPECT_EQ(counts["a"], 1000000);
}

}  // namespace
}  // namespace llmrouter::inventory
