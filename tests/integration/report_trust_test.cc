// Issue 11, finding 4, with the real binaries: once inventory protects writes, only gateways
// (holding the reporter token) are trusted with outcome reports. A forged report of 30 HTTP 500s
// per endpoint from a client without the token ejects nothing, while the real gateway's reports
// keep arriving. The same holds for the usage decision judges budgets and rollouts by.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "llmrouter/v1/decision.grpc.pb.h"
#include "llmrouter/v1/inventory.grpc.pb.h"
#include "tests/support/http_test_client.h"
#include "tests/support/process_harness.h"
#include "tests/support/test_processes.h"

namespace llmrouter::testing {
namespace {

using ::testing::HasSubstr;
namespace v1 = llmrouter::v1;

// Polls `done` until it holds; the generous limit only bounds a failing run.
bool Eventually(const std::function<bool()>& done) {
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (absl::Now() < give_up) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class ReportTrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("llmrouter-report-trust");
    a_ = StartFakeLlm(dir_, "a", "m");
    b_ = StartFakeLlm(dir_, "b", "m");
    ASSERT_TRUE(a_ && b_);
    std::ofstream(dir_ + "/endpoints.yaml") << absl::StrCat(
        "endpoints:\n  - {id: a, model: m, address: \"127.0.0.1:", a_->port("http_port"),
        "\"}\n  - {id: b, model: m, address: \"127.0.0.1:", b_->port("http_port"), "\"}\n");
    std::ofstream(dir_ + "/health.yaml")
        << "probe: {interval: 200ms, timeout: 150ms, unhealthy_threshold: 2, "
           "healthy_threshold: 1}\n";
    std::ofstream(dir_ + "/policy.yaml")
        << "models:\n  - {name: m}\ntenants:\n  - {name: default}\n";
    std::ofstream(dir_ + "/write-token") << "operators-only\n";
    std::ofstream(dir_ + "/reporter-token") << "gateways-only\n";
    inventory_ = StartInventory(dir_, dir_ + "/endpoints.yaml",
                                {"--health_config=" + dir_ + "/health.yaml", "--health_tick_ms=100",
                                 "--write_token_file=" + dir_ + "/write-token",
                                 "--reporter_token_file=" + dir_ + "/reporter-token"});
    ASSERT_TRUE(inventory_);
    decision_ = StartDecision(dir_, dir_ + "/policy.yaml", *inventory_,
                              {"--reporter_token_file=" + dir_ + "/reporter-token"});
    ASSERT_TRUE(decision_);
    gateway_ =
        StartGateway(dir_, *decision_,
                     {absl::StrCat("--inventory_target=127.0.0.1:", inventory_->port("grpc_port")),
                      "--inventory_reporter_token_file=" + dir_ + "/reporter-token",
                      "--decision_reporter_token_file=" + dir_ + "/reporter-token"});
    ASSERT_TRUE(gateway_);
    stub_ = v1::InventoryService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", inventory_->port("grpc_port")),
                            grpc::InsecureChannelCredentials()));
  }

  std::map<std::string, v1::Endpoint> List() {
    grpc::ClientContext ctx;
    v1::ListEndpointsResponse resp;
    std::map<std::string, v1::Endpoint> out;
    if (!stub_->ListEndpoints(&ctx, v1::ListEndpointsRequest(), &resp).ok()) return out;
    for (const auto& e : resp.endpoints()) out[e.id()] = e;
    return out;
  }

  bool BothHealthy() {
    auto fleet = List();
    return fleet["a"].health() == v1::HEALTH_STATE_HEALTHY &&
           fleet["b"].health() == v1::HEALTH_STATE_HEALTHY;
  }

  // What an attacker sends: 30 HTTP 500s for every endpoint, with `authorization` if not empty.
  grpc::Status ForgeFailures(const std::string& authorization) {
    grpc::ClientContext ctx;
    if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
    v1::ReportOutcomesRequest req;
    req.set_reporter("attacker");
    for (const char* id : {"a", "b"}) {
      for (int i = 0; i < 30; ++i) {
        v1::Outcome* o = req.add_outcomes();
        o->set_endpoint_id(id);
        o->set_model("m");
        o->set_http_status(500);
      }
    }
    v1::ReportOutcomesResponse resp;
    return stub_->ReportOutcomes(&ctx, req, &resp);
  }

  std::string dir_;
  std::unique_ptr<ServiceProcess> a_, b_, inventory_, decision_, gateway_;
  std::unique_ptr<v1::InventoryService::Stub> stub_;
};

TEST_F(ReportTrustTest, ForgedFailuresEjectNothingWhileTheGatewaysReportsArrive) {
  ASSERT_TRUE(Eventually([&] { return BothHealthy(); })) << inventory_->ReadLog();

  grpc::Status anonymous = ForgeFailures("");
  EXPECT_EQ(anonymous.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(anonymous.error_message(), HasSubstr("reporter token"));
  EXPECT_EQ(ForgeFailures("Bearer guessed").error_code(), grpc::StatusCode::UNAUTHENTICATED);

  const int inventory_metrics = inventory_->port("metrics_port");
  EXPECT_EQ(ScrapeMetric(inventory_metrics,
                         "llmrouter_inventory_reports_denied_total{reason=\"unauthenticated\"}"),
            2);

  // The real gateway's reports, sent after the forged ones, arrive and are applied.
  const int port = gateway_->port("http_port");
  for (int i = 0; i < 4; ++i) {
    HttpResult r = HttpCall(port, "POST", "/v1/chat/completions",
                            R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(inventory_metrics,
                        "llmrouter_inventory_outcomes_total{result=\"accepted\"}") >= 4;
  })) << gateway_->ReadLog();
  // Applied on a health tick that came after the forged reports: the latency average that only
  // outcomes give shows up.
  ASSERT_TRUE(Eventually([&] {
    auto fleet = List();
    return fleet["a"].load().has_latency_ewma() || fleet["b"].load().has_latency_ewma();
  }));
  EXPECT_TRUE(BothHealthy());
  EXPECT_EQ(ScrapeMetric(inventory_metrics, "llmrouter_inventory_ejections_total"), 0);
  EXPECT_EQ(ScrapeMetric(gateway_->port("metrics_port"),
                         "llmrouter_gateway_outcomes_total{result=\"dropped_send_failed\"}"),
            0);

  // The same report with the reporter token is believed, which is what made it dangerous.
  ASSERT_TRUE(ForgeFailures("Bearer gateways-only").ok());
  EXPECT_TRUE(Eventually([&] {
    auto fleet = List();
    return fleet["a"].health() == v1::HEALTH_STATE_UNHEALTHY &&
           fleet["b"].health() == v1::HEALTH_STATE_UNHEALTHY;
  }));
}

TEST_F(ReportTrustTest, ForgedUsageIsRefusedWhileTheGatewaysUsageCounts) {
  auto decision = v1::DecisionService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", decision_->port("grpc_port")),
                          grpc::InsecureChannelCredentials()));
  // What an attacker would send to roll a canary back or exhaust a tenant's budget.
  auto forge = [&](const std::string& authorization) {
    grpc::ClientContext ctx;
    if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
    v1::ReportUsageRequest req;
    v1::Outcome* o = req.add_outcomes();
    o->set_model("m");
    o->set_attempts(1000);
    o->set_cost_usd(1000);
    v1::VariantStats* v = req.add_variants();
    v->set_model("m");
    v->set_track("canary");
    v->set_requests(1000);
    v->set_errors(1000);
    v1::ReportUsageResponse resp;
    return decision->ReportUsage(&ctx, req, &resp);
  };
  grpc::Status anonymous = forge("");
  EXPECT_EQ(anonymous.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(anonymous.error_message(), HasSubstr("reporter token"));
  EXPECT_EQ(forge("Bearer guessed").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  const int decision_metrics = decision_->port("metrics_port");
  EXPECT_EQ(ScrapeMetric(decision_metrics,
                         "llmrouter_decision_usage_outcomes_total{result=\"unauthenticated\"}"),
            2000);

  // The gateway's usage carries the token and counts.
  const int port = gateway_->port("http_port");
  for (int i = 0; i < 4; ++i) {
    HttpResult r = HttpCall(port, "POST", "/v1/chat/completions",
                            R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(decision_metrics,
                        "llmrouter_decision_usage_outcomes_total{result=\"accepted\"}") >= 4;
  })) << gateway_->ReadLog();
  EXPECT_EQ(ScrapeMetric(gateway_->port("metrics_port"),
                         "llmrouter_gateway_outcomes_total{result=\"dropped_send_failed\"}"),
            0);
}

}  // namespace
}  // namespace llmrouter::testing
