#include "services/gateway/outcome_reporter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <mutex>

#include "services/gateway/usage_scanner.h"
#include "tests/support/metric_value.h"

namespace llmrouter::gateway {
namespace {

class FakeSink : public OutcomeSink {
 public:
  explicit FakeSink(absl::Status answer) : answer_(std::move(answer)) {}
  absl::Status Send(const v1::ReportOutcomesRequest& batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    batches_.push_back(batch);
    return answer_;
  }
  std::vector<v1::ReportOutcomesRequest> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }

 private:
  absl::Status answer_;
  std::mutex mu_;
  std::vector<v1::ReportOutcomesRequest> batches_;
};

double Count(prometheus::Registry& registry, const std::string& result) {
  return testing::MetricValue(registry, "llmrouter_gateway_outcomes_total", {{"result", result}});
}

v1::Outcome Outcome(const std::string& endpoint) {
  v1::Outcome o;
  o.set_endpoint_id(endpoint);
  return o;
}

TEST(OutcomeReporterTest, SendsQueuedOutcomesInBoundedBatches) {
  prometheus::Registry registry;
  auto sink = std::make_unique<FakeSink>(absl::OkStatus());
  FakeSink* seen = sink.get();
  OutcomeReporter reporter({"gw-1", /*max_queue=*/100, /*max_batch=*/2}, std::move(sink), registry);
  for (const char* e : {"a", "b", "c"}) reporter.Report(Outcome(e));
  reporter.Flush();
  std::vector<v1::ReportOutcomesRequest> batches = seen->batches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].reporter(), "gw-1");
  EXPECT_EQ(batches[0].outcomes_size(), 2);
  EXPECT_EQ(batches[1].outcomes(0).endpoint_id(), "c");
  EXPECT_EQ(Count(registry, "sent"), 3);
}

TEST(OutcomeReporterTest, AFullQueueDropsAndCountsInsteadOfWaiting) {
  prometheus::Registry registry;
  OutcomeReporter reporter({"gw-1", /*max_queue=*/2, /*max_batch=*/10},
                           std::make_unique<FakeSink>(absl::OkStatus()), registry);
  for (int i = 0; i < 5; ++i) reporter.Report(Outcome("a"));
  EXPECT_EQ(Count(registry, "dropped_queue_full"), 3);
  reporter.Flush();
  EXPECT_EQ(Count(registry, "sent"), 2);
}

TEST(OutcomeReporterTest, FailedBatchesAreCountedAndDropped) {
  prometheus::Registry registry;
  auto sink = std::make_unique<FakeSink>(absl::UnavailableError("no inventory"));
  FakeSink* seen = sink.get();
  // Three batches' worth: the first failure drops the rest too, without calling the sink again.
  OutcomeReporter reporter({"gw-1", 100, /*max_batch=*/1}, std::move(sink), registry);
  for (const char* e : {"a", "b", "c"}) reporter.Report(Outcome(e));
  reporter.Flush();
  EXPECT_EQ(seen->batches().size(), 1u);
  EXPECT_EQ(Count(registry, "dropped_send_failed"), 3);
  EXPECT_EQ(Count(registry, "sent"), 0);
  reporter.Flush();  // nothing left
  EXPECT_EQ(seen->batches().size(), 1u);
}

TEST(UsageScannerTest, FindsUsageInJsonAnswers) {
  TokenUsage u = FindUsage(
      R"({"choices":[],"usage":{"prompt_tokens":12,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens":7,"total_tokens":19}})");
  EXPECT_TRUE(u.found);
  EXPECT_EQ(u.prompt_tokens, 12u);
  EXPECT_EQ(u.completion_tokens, 7u);
  EXPECT_FALSE(FindUsage(R"({"usage":null})").found);
  EXPECT_FALSE(FindUsage(R"({"choices":[]})").found);
}

TEST(UsageScannerTest, TakesUsageFromTheFinalStreamChunkAcrossPieceBoundaries) {
  SseUsageScanner scanner;
  std::string stream =
      "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n"
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4}}\n\n"
      "data: [DONE]\n\n";
  for (std::size_t i = 0; i < stream.size(); i += 7) scanner.Feed(stream.substr(i, 7));
  EXPECT_TRUE(scanner.usage().found);
  EXPECT_EQ(scanner.usage().prompt_tokens, 9u);
  EXPECT_EQ(scanner.usage().completion_tokens, 4u);
}

}  // namespace
}  // namespace llmrouter::gateway
