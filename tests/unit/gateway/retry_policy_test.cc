#include "services/gateway/retry_policy.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace llmrouter::gateway {
namespace {

using std::chrono::milliseconds;

TEST(RetryPolicyTest, BackoffIsJitteredAndCapped) {
  RetryPolicyOptions o;
  EXPECT_EQ(RetryBackoff(o, 0, 12345), milliseconds(0));
  for (uint64_t r : {0ull, 7ull, 1000003ull, ~0ull}) {
    EXPECT_LE(RetryBackoff(o, 1, r), milliseconds(25));
    EXPECT_LE(RetryBackoff(o, 2, r), milliseconds(50));
    EXPECT_LE(RetryBackoff(o, 9, r), milliseconds(250));
  }
  EXPECT_EQ(RetryBackoff(o, 3, 100), milliseconds(100 % 101));
  EXPECT_EQ(RetryBackoff(o, 60, 250), milliseconds(250)) << "no overflow for large n";
}

TEST(RetryPolicyTest, BudgetAllowsAShareOfRequestsInFlight) {
  RetryPolicyOptions o;
  o.budget_ratio = 0.2;
  o.min_retry_concurrency = 2;
  RetryBudget budget(o);
  std::vector<RetryBudget::Retry> held;
  // Nothing in flight: the minimum still allows two.
  held.push_back(budget.TryRetry());
  held.push_back(budget.TryRetry());
  EXPECT_TRUE(held[0] && held[1]);
  EXPECT_FALSE(budget.TryRetry());
  {
    std::vector<std::unique_ptr<RetryBudget::Request>> requests;
    for (int i = 0; i < 20; ++i) requests.push_back(std::make_unique<RetryBudget::Request>(budget));
    // 20 requests: 4 retries.
    held.push_back(budget.TryRetry());
    held.push_back(budget.TryRetry());
    EXPECT_TRUE(held[2] && held[3]);
    EXPECT_FALSE(budget.TryRetry());
  }
  held.clear();
  EXPECT_TRUE(budget.TryRetry()) << "released retries free the budget";
}

TEST(RetryPolicyTest, RetryAfterTakesDeltaSeconds) {
  EXPECT_EQ(ParseRetryAfter("3"), std::chrono::seconds(3));
  EXPECT_EQ(ParseRetryAfter(" 0 "), std::chrono::seconds(0));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"), std::nullopt);
  EXPECT_EQ(ParseRetryAfter(""), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-1"), std::nullopt);
}

}  // namespace
}  // namespace llmrouter::gateway
