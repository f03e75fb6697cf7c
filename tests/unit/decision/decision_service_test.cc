#include "services/decision/decision_service.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "services/decision/sqlite_policy_store.h"
#include "tests/support/loopback_server.h"

namespace llmrouter::decision {
namespace {

namespace v1 = llmrouter::v1;

// $1 per million prompt tokens, $2 per million completion tokens.
constexpr char kBundle[] =
    "models:\n  - name: m1\n    price: {input_per_mtok: 1, output_per_mtok: 2}\n"
    "tenants:\n  - name: acme\n  - name: default\n    spend_limit: {usd: 5, period: day}\n";

class ReportUsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqlitePolicyStore::Open(":memory:");
    ASSERT_TRUE(store.ok());
    store_ = *std::move(store);
    policy_ = std::make_unique<ActivePolicy>(*store_);
    ASSERT_TRUE(policy_->Apply(kBundle, "test", "").ok());
    service_ = std::make_unique<DecisionServiceImpl>(*policy_, metrics_, RouterOptions{}, clock_);
    service_->set_usage_ledger(&ledger_);
    service_->set_variant_windows(&variants_);
    testing::LoopbackServer served = testing::ServeOnLoopback(*service_);
    ASSERT_TRUE(served.server);
    server_ = std::move(served.server);
    stub_ = v1::DecisionService::NewStub(served.channel);
  }
  void TearDown() override { server_->Shutdown(); }

  v1::ReportUsageResponse Report(const std::vector<v1::Outcome>& outcomes) {
    v1::ReportUsageRequest req;
    for (const v1::Outcome& o : outcomes) *req.add_outcomes() = o;
    grpc::ClientContext ctx;
    v1::ReportUsageResponse resp;
    EXPECT_TRUE(stub_->ReportUsage(&ctx, req, &resp).ok());
    return resp;
  }

  static v1::Outcome Outcome(const std::string& model, uint32_t prompt, uint32_t completion,
                             double cost_usd) {
    v1::Outcome o;
    o.set_tenant("acme");
    o.set_model(model);
    o.set_http_status(200);
    o.set_prompt_tokens(prompt);
    o.set_completion_tokens(completion);
    o.set_cost_usd(cost_usd);
    return o;
  }

  FakeClock clock_;
  prometheus::Registry registry_;
  DecisionMetrics metrics_{registry_};
  UsageLedger ledger_{clock_};
  VariantWindows variants_;
  std::unique_ptr<SqlitePolicyStore> store_;
  std::unique_ptr<ActivePolicy> policy_;
  std::unique_ptr<DecisionServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::DecisionService::Stub> stub_;
};

TEST_F(ReportUsageTest, PerTrackCountsGoToTheVariantWindows) {
  v1::ReportUsageRequest req;
  v1::VariantStats* canary = req.add_variants();
  canary->set_model("m1");
  canary->set_track("canary");
  canary->set_requests(40);
  canary->set_errors(4);
  grpc::ClientContext ctx;
  v1::ReportUsageResponse resp;
  ASSERT_TRUE(stub_->ReportUsage(&ctx, req, &resp).ok());
  VariantCounts c = variants_.Window("m1", "canary", absl::Minutes(1), clock_.Now());
  EXPECT_EQ(c.requests, 40u);
  EXPECT_DOUBLE_EQ(c.ErrorRate(), 0.1);
  // Models outside the catalog and overlong track names are not kept.
  v1::ReportUsageRequest junk;
  junk.add_variants()->set_model("not-in-the-catalog");
  v1::VariantStats* long_track = junk.add_variants();
  long_track->set_model("m1");
  long_track->set_track(std::string(1000, 't'));
  long_track->set_requests(1);
  grpc::ClientContext junk_ctx;
  ASSERT_TRUE(stub_->ReportUsage(&junk_ctx, junk, &resp).ok());
  EXPECT_EQ(
      variants_.Window("not-in-the-catalog", "stable", absl::Minutes(1), clock_.Now()).requests,
      0u);
  EXPECT_EQ(variants_.Window("m1", std::string(1000, 't'), absl::Minutes(1), clock_.Now()).requests,
            0u);
}

TEST_F(ReportUsageTest, ReportedTokensArePricedWithTheCatalog) {
  // The catalog's price of the real tokens wins over the gateway's estimate.
  v1::ReportUsageResponse resp = Report({Outcome("m1", 1000000, 500000, 99)});
  EXPECT_EQ(resp.accepted(), 1u);
  EXPECT_DOUBLE_EQ(ledger_.Spent("acme", "day"), 2.0);
}

TEST_F(ReportUsageTest, WithoutTokensTheGatewaysCostEstimateCounts) {
  Report({Outcome("m1", 0, 0, 0.25), Outcome("m1", 0, 0, 0)});
  EXPECT_DOUBLE_EQ(ledger_.Spent("acme", "month"), 0.25);
}

TEST_F(ReportUsageTest, ASummedOutcomeCountsEveryAttemptAndPricesTheSum) {
  v1::Outcome sum = Outcome("m1", 1000000, 500000, 99);
  sum.set_attempts(3);
  v1::Outcome ghost = Outcome("ghost", 10, 10, 0.5);
  ghost.set_attempts(4);
  v1::ReportUsageResponse resp = Report({sum, ghost});
  EXPECT_EQ(resp.accepted(), 3u);
  EXPECT_EQ(resp.unknown_model(), 4u);
  EXPECT_DOUBLE_EQ(ledger_.Spent("acme", "day"), 2.0);
}

TEST_F(ReportUsageTest, SpendIsRecordedUnderTheTenantRoutingResolves) {
  // A name the bundle does not know is routed as default, so its spend is default's: made-up
  // names cannot escape default's limit, and do not each get an entry in the ledger.
  v1::Outcome made_up = Outcome("m1", 1000000, 0, 0);
  made_up.set_tenant("made-up-1");
  v1::Outcome another = made_up;
  another.set_tenant("made-up-2");
  v1::Outcome unnamed = made_up;
  unnamed.clear_tenant();
  Report({made_up, another, unnamed, Outcome("m1", 1000000, 0, 0)});
  EXPECT_DOUBLE_EQ(ledger_.Spent("default", "day"), 3.0);
  EXPECT_DOUBLE_EQ(ledger_.Spent("acme", "day"), 1.0);
  EXPECT_DOUBLE_EQ(ledger_.Spent("made-up-1", "day"), 0);
}

TEST_F(ReportUsageTest, ModelsTheCatalogDoesNotKnowAreCountedApart) {
  v1::ReportUsageResponse resp = Report({Outcome("ghost", 10, 10, 0.5)});
  EXPECT_EQ(resp.accepted(), 0u);
  EXPECT_EQ(resp.unknown_model(), 1u);
  EXPECT_DOUBLE_EQ(ledger_.Spent("acme", "day"), 0);
}

}  // namespace
}  // namespace llmrouter::decision
