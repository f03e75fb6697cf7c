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

TEST(OutcomeReporterTest, AFailedBatchIsDroppedAndTheRestWaitsForTheNextTick) {
  prometheus::Registry registry;
  auto sink = std::make_unique<FakeSink>(absl::UnavailableError("no inventory"));
  FakeSink* seen = sink.get();
  OutcomeReporter reporter({"gw-1", 100, /*max_batch=*/1}, std::move(sink), registry);
  for (const char* e : {"a", "b", "c"}) reporter.Report(Outcome(e));
  reporter.Flush();  // "a" fails: no more calls on a failing sink this tick
  ASSERT_EQ(seen->batches().size(), 1u);
  EXPECT_EQ(seen->batches()[0].outcomes(0).endpoint_id(), "a");
  EXPECT_EQ(Count(registry, "dropped_send_failed"), 1);
  reporter.Report(Outcome("d"));
  reporter.Flush();  // "b" first: what waited goes ahead of newer outcomes
  ASSERT_EQ(seen->batches().size(), 2u);
  EXPECT_EQ(seen->batches()[1].outcomes(0).endpoint_id(), "b");
  EXPECT_EQ(Count(registry, "dropped_send_failed"), 2);
  EXPECT_EQ(Count(registry, "sent"), 0);
}

v1::Outcome Usage(const std::string& tenant, const std::string& model, uint32_t prompt,
                  uint32_t completion, double cost) {
  v1::Outcome o;
  o.set_tenant(tenant);
  o.set_model(model);
  o.set_decision_id("d");
  o.set_prompt_tokens(prompt);
  o.set_completion_tokens(completion);
  o.set_cost_usd(cost);
  return o;
}

TEST(SummarizeUsageTest, SumsPerTenantModelAndKind) {
  v1::ReportOutcomesRequest batch;
  batch.set_reporter("gw-1");
  *batch.add_outcomes() = Usage("acme", "m1", 10, 5, 0.01);
  *batch.add_outcomes() = Usage("acme", "m1", 20, 7, 0.02);
  *batch.add_outcomes() = Usage("acme", "m2", 1, 1, 0.5);
  *batch.add_outcomes() = Usage("beta", "m1", 3, 0, 0.1);
  *batch.add_outcomes() = Usage("acme", "m1", 0, 0, 0.25);  // no tokens: decision takes the cost
  *batch.add_outcomes() = Usage("acme", "m1", 0, 0, 0.25);
  v1::ReportUsageRequest usage = SummarizeUsage(batch);
  EXPECT_EQ(usage.reporter(), "gw-1");
  ASSERT_EQ(usage.outcomes_size(), 4);
  const v1::Outcome& acme_m1 = usage.outcomes(0);
  EXPECT_EQ(acme_m1.tenant(), "acme");
  EXPECT_EQ(acme_m1.model(), "m1");
  EXPECT_EQ(acme_m1.attempts(), 2u);
  EXPECT_EQ(acme_m1.prompt_tokens(), 30u);
  EXPECT_EQ(acme_m1.completion_tokens(), 12u);
  EXPECT_DOUBLE_EQ(acme_m1.cost_usd(), 0.03);
  EXPECT_EQ(usage.outcomes(1).model(), "m2");
  EXPECT_EQ(usage.outcomes(2).tenant(), "beta");
  const v1::Outcome& untokened = usage.outcomes(3);
  EXPECT_EQ(untokened.attempts(), 2u);
  EXPECT_EQ(untokened.prompt_tokens() + untokened.completion_tokens(), 0u);
  EXPECT_DOUBLE_EQ(untokened.cost_usd(), 0.5);
  EXPECT_TRUE(untokened.decision_id().empty());
}

TEST(SummarizeUsageTest, ASumThatWouldOverflowStartsAnother) {
  v1::ReportOutcomesRequest batch;
  *batch.add_outcomes() = Usage("acme", "m1", 3000000000u, 1, 0);
  *batch.add_outcomes() = Usage("acme", "m1", 3000000000u, 1, 0);
  v1::ReportUsageRequest usage = SummarizeUsage(batch);
  ASSERT_EQ(usage.outcomes_size(), 2);
  EXPECT_EQ(usage.outcomes(0).prompt_tokens(), 3000000000u);
  EXPECT_EQ(usage.outcomes(1).prompt_tokens(), 3000000000u);
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

// Found by fuzzing: a CRLF stream whose read ends between the '\r' and '\n' of the blank line
// that closes an event lost that event's usage (often the final one), so budgets under-counted.
TEST(UsageScannerTest, CrlfStreamsGiveTheSameUsageHoweverTheyAreSplit) {
  // The usage event is the stream's last (some backends send no [DONE]).
  const std::string stream =
      "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\r\n\r\n"
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4}}\r\n\r\n";
  for (std::size_t cut = 1; cut < stream.size(); ++cut) {
    SseUsageScanner scanner;
    scanner.Feed(std::string_view(stream).substr(0, cut));
    scanner.Feed(std::string_view(stream).substr(cut));
    EXPECT_TRUE(scanner.usage().found) << "split at " << cut;
    EXPECT_EQ(scanner.usage().completion_tokens, 4u) << "split at " << cut;
  }
  // A lone '\r' inside a line is text, not a blank line.
  SseUsageScanner scanner;
  scanner.Feed("data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n");
  scanner.Feed("x\r");
  scanner.Feed("\n");
  EXPECT_FALSE(scanner.usage().found) << "the event has not ended";
  scanner.Feed("\n");
  EXPECT_EQ(scanner.usage().completion_tokens, 2u);
}

}  // namespace
}  // namespace llmrouter::gateway
