#include "common/log_throttle.h"

#include <gtest/gtest.h>

namespace llmrouter {
namespace {

TEST(LogThrottleTest, OncePerIntervalWithTheCountLeftOut) {
  LogThrottle throttle(std::chrono::seconds(1));
  const auto t0 = std::chrono::steady_clock::time_point(std::chrono::hours(1));
  EXPECT_TRUE(throttle.ShouldLog(t0));
  EXPECT_EQ(throttle.TakeSuppressed(), 0u);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(throttle.ShouldLog(t0 + std::chrono::milliseconds(i)));
  EXPECT_FALSE(throttle.ShouldLog(t0 + std::chrono::milliseconds(999)));
  EXPECT_TRUE(throttle.ShouldLog(t0 + std::chrono::seconds(1)));
  EXPECT_EQ(throttle.TakeSuppressed(), 6u);
  EXPECT_EQ(throttle.TakeSuppressed(), 0u);
}

}  // namespace
}  // namespace llmrouter
