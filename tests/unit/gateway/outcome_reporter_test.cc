#include "services/gateway/outcome_reporter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <mutex>

#include "common/variant_buckets.h"
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

// One attempt of model m on `track`: its status, error kind, latency and TTFT in ms.
v1::Outcome Attempt(const std::string& track, uint32_t status, const std::string& error,
                    int latency_ms, int ttft_ms = 0) {
  v1::Outcome o = Usage("acme", "m", 1, 1, 0);
  o.set_track(track);
  o.set_http_status(status);
  o.set_error(error);
  o.mutable_latency()->set_nanos(latency_ms % 1000 * 1000000);
  o.mutable_latency()->set_seconds(latency_ms / 1000);
  if (ttft_ms > 0) o.mutable_time_to_first_token()->set_nanos(ttft_ms * 1000000);
  return o;
}

TEST(SummarizeUsageTest, CountsEachModelsTracksForRolloutAnalysis) {
  v1::ReportOutcomesRequest batch;
  *batch.add_outcomes() =
      Attempt("canary", 200, "", 300, 70);  // latency (0.25, 0.5], TTFT (0.05, 0.1]
  *batch.add_outcomes() = Attempt("canary", 200, "", 5000);           // (4, 8], not streamed
  *batch.add_outcomes() = Attempt("canary", 503, "", 10);             // an error
  *batch.add_outcomes() = Attempt("canary", 0, "timeout", 60000);     // an error without an answer
  *batch.add_outcomes() = Attempt("canary", 404, "", 10);             // the client's mistake
  *batch.add_outcomes() = Attempt("canary", 200, "reset", 900);       // a stream cut after its 200
  *batch.add_outcomes() = Attempt("canary", 200, "client_gone", 10);  // not judged
  *batch.add_outcomes() = Attempt("", 200, "", 100);                  // no track: stable
  v1::ReportUsageRequest usage = SummarizeUsage(batch);
  ASSERT_EQ(usage.variants_size(), 2);
  const v1::VariantStats& canary = usage.variants(0);
  EXPECT_EQ(canary.model(), "m");
  EXPECT_EQ(canary.track(), "canary");
  EXPECT_EQ(canary.requests(), 6u);
  EXPECT_EQ(canary.errors(), 3u);
  ASSERT_EQ(canary.latency_buckets_size(), static_cast<int>(kVariantLatencyBounds.size() + 1));
  ASSERT_EQ(canary.ttft_buckets_size(), static_cast<int>(kVariantTtftBounds.size() + 1));
  EXPECT_EQ(canary.latency_buckets(2), 1u);
  EXPECT_EQ(canary.latency_buckets(6), 1u);
  EXPECT_EQ(canary.ttft_buckets(2), 1u);
  uint64_t latencies = 0, ttfts = 0;
  for (uint64_t n : canary.latency_buckets()) latencies += n;
  for (uint64_t n : canary.ttft_buckets()) ttfts += n;
  EXPECT_EQ(latencies, 2u) << "successful answers only";
  EXPECT_EQ(ttfts, 1u) << "streamed answers only";
  const v1::VariantStats& stable = usage.variants(1);
  EXPECT_EQ(stable.track(), "stable");
  EXPECT_EQ(stable.requests(), 1u);
  EXPECT_EQ(stable.latency_buckets(0), 1u) << "0.1 s is within the first bound";
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
