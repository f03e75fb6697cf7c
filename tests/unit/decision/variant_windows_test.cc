#include "services/decision/variant_windows.h"

#include <gtest/gtest.h>

#include "tests/unit/decision/policy_fixtures.h"

namespace llmrouter::decision {
namespace {

namespace v1 = llmrouter::v1;

// Counts of model m on `track` (policy_fixtures.h).
v1::VariantStats Stats(const std::string& track, uint64_t requests, uint64_t errors,
                       int latency_bucket = 2, int ttft_bucket = 1) {
  return VariantStatsOf("m", track, requests, errors, latency_bucket, ttft_bucket);
}

TEST(VariantWindowsTest, AWindowSumsTheSlotsItCoversPerModelAndTrack) {
  VariantWindows windows(absl::Seconds(10), absl::Minutes(10));
  const absl::Time t0 = kTestNow;
  windows.Record(Stats("canary", 10, 1), t0);
  windows.Record(Stats("canary", 10, 3), t0 + absl::Seconds(30));
  windows.Record(Stats("", 100, 0), t0 + absl::Seconds(30));  // no track: stable
  const absl::Time now = t0 + absl::Seconds(35);

  VariantCounts both = windows.Window("m", "canary", absl::Minutes(1), now);
  EXPECT_EQ(both.requests, 20u);
  EXPECT_EQ(both.errors, 4u);
  EXPECT_DOUBLE_EQ(both.ErrorRate(), 0.2);
  VariantCounts recent = windows.Window("m", "canary", absl::Seconds(10), now);
  EXPECT_EQ(recent.requests, 10u) << "the first report is older than the window";
  EXPECT_EQ(windows.Window("m", "stable", absl::Minutes(1), now).requests, 100u);
  EXPECT_EQ(windows.Window("other", "canary", absl::Minutes(1), now).requests, 0u);
}

TEST(VariantWindowsTest, QuantilesComeFromTheHistogramBuckets) {
  VariantWindows windows;
  // 90 answers in (0.25, 0.5] s, 10 in (4, 8] s: the median is within the first bucket, the
  // p95 within the second.
  v1::VariantStats s = Stats("canary", 100, 0, 2, 0);
  s.set_latency_buckets(2, 90);
  s.set_latency_buckets(6, 10);
  windows.Record(s, kTestNow);
  VariantCounts c = windows.Window("m", "canary", absl::Minutes(1), kTestNow);
  EXPECT_EQ(c.latency_samples(), 100u);
  EXPECT_GT(c.LatencyQuantile(0.5), 0.25);
  EXPECT_LE(c.LatencyQuantile(0.5), 0.5);
  EXPECT_GT(c.LatencyQuantile(0.95), 4);
  EXPECT_LE(c.LatencyQuantile(0.95), 8);
  EXPECT_NEAR(c.LatencyQuantile(0.95), 6, 1e-9) << "halfway through the (4, 8] bucket";
  EXPECT_LE(c.TtftQuantile(0.95), kVariantTtftBounds[0]);
  EXPECT_EQ(VariantCounts().LatencyQuantile(0.95), 0) << "no sample";
  // Beyond the last bound, the quantile is that bound: all that is known.
  v1::VariantStats slow = Stats("slow", 1, 0, static_cast<int>(kVariantLatencyBounds.size()));
  windows.Record(slow, kTestNow);
  EXPECT_EQ(windows.Window("m", "slow", absl::Minutes(1), kTestNow).LatencyQuantile(0.99),
            kVariantLatencyBounds.back());
}

TEST(VariantWindowsTest, LateBatchesCountInTheirOwnSlotAndOldSlotsGo) {
  VariantWindows windows(absl::Seconds(10), absl::Minutes(1));
  windows.Record(Stats("canary", 5, 0), kTestNow + absl::Seconds(40));
  windows.Record(Stats("canary", 7, 0), kTestNow + absl::Seconds(5));  // late, still kept
  EXPECT_EQ(windows.Window("m", "canary", absl::Seconds(10), kTestNow + absl::Seconds(10)).requests,
            7u);
  EXPECT_EQ(windows.Window("m", "canary", absl::Minutes(1), kTestNow + absl::Seconds(45)).requests,
            12u);
  // Two minutes on, both are past the minute kept.
  windows.Record(Stats("canary", 1, 0), kTestNow + absl::Minutes(2));
  EXPECT_EQ(windows.Window("m", "canary", absl::Minutes(5), kTestNow + absl::Minutes(2)).requests,
            1u);
  // Older than what is kept: dropped.
  windows.Record(Stats("canary", 100, 0), kTestNow);
  EXPECT_EQ(windows.Window("m", "canary", absl::Minutes(5), kTestNow + absl::Minutes(2)).requests,
            1u);
}

TEST(VariantWindowsTest, BadInputIsBoundedAndDoesNotBreakTheCounts) {
  VariantWindows windows(absl::Seconds(10), absl::Minutes(1), /*max_variants=*/2);
  v1::VariantStats odd = Stats("a", 10, 50);    // more errors than requests
  odd.mutable_latency_buckets()->Resize(3, 0);  // not the agreed histogram
  windows.Record(odd, kTestNow);
  VariantCounts c = windows.Window("m", "a", absl::Minutes(1), kTestNow);
  EXPECT_EQ(c.requests, 10u);
  EXPECT_EQ(c.errors, 10u);
  EXPECT_EQ(c.latency_samples(), 0u);
  windows.Record(Stats("b", 1, 0), kTestNow);
  windows.Record(Stats("c", 1, 0), kTestNow);  // a third variant
  EXPECT_EQ(windows.dropped(), 1u);
  EXPECT_EQ(windows.Window("m", "c", absl::Minutes(1), kTestNow).requests, 0u);
  // Once a and b have nothing left in the minute kept, a new variant takes their room.
  windows.Record(Stats("d", 1, 0), kTestNow + absl::Minutes(5));
  EXPECT_EQ(windows.dropped(), 1u);
  EXPECT_EQ(windows.Window("m", "d", absl::Minutes(1), kTestNow + absl::Minutes(5)).requests, 1u);
}

}  // namespace
}  // namespace llmrouter::decision
