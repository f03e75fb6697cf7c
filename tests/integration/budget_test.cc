// Spending limits end to end: the gateway reports what requests used to decision, which prices
// them with the catalog and denies a tenant once it is over its limit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/support/http_test_client.h"
#include "tests/support/process_harness.h"

namespace llmrouter::testing {
namespace {

using ::testing::HasSubstr;

TEST(BudgetTest, TenantOverItsLimitIsDeniedOthersAreServed) {
  const std::string dir = MakeTempDir("llmrouter-budget");
  auto fake = ServiceProcess::Start("fake", BuildPath("tools/fake-llm/fake-llm"),
                                    {"--port=0", "--model=m", "--completion_tokens=8"}, dir);
  ASSERT_TRUE(fake.ok()) << fake.status();
  std::ofstream(dir + "/endpoints.yaml") << absl::StrCat(
      "endpoints:\n  - {id: a, model: m, address: \"127.0.0.1:", (*fake)->port("http_port"),
      "\"}\n");
  // One request costs about (20 × 1000 + 8 × 1000) / 1e6 = $0.03; acme may spend $0.01 a day.
  std::ofstream(dir + "/policy.yaml") << R"(
models:
  - {name: m, price: {input_per_mtok: 1000, output_per_mtok: 1000}}
tenants:
  - {name: default}
  - {name: acme, spend_limit: {usd: 0.01, period: day, over_limit: deny}}
)";
  auto inventory = ServiceProcess::Start("inventory", BuildPath("services/inventory/inventory"),
                                         {"--grpc_port=0", "--metrics_port=0", "--host=127.0.0.1",
                                          "--endpoints_file=" + dir + "/endpoints.yaml"},
                                         dir);
  ASSERT_TRUE(inventory.ok()) << inventory.status();
  auto decision = ServiceProcess::Start(
      "decision", BuildPath("services/decision/decision"),
      {"--grpc_port=0", "--metrics_port=0", "--host=127.0.0.1", "--db=" + dir + "/d.db",
       "--policy_file=" + dir + "/policy.yaml",
       absl::StrCat("--inventory_target=127.0.0.1:", (*inventory)->port("grpc_port"))},
      dir);
  ASSERT_TRUE(decision.ok()) << decision.status();
  auto gateway = ServiceProcess::Start(
      "gateway", BuildPath("services/gateway/gateway"),
      {"--http_port=0", "--metrics_port=0", "--host=127.0.0.1",
       absl::StrCat("--decision_target=127.0.0.1:", (*decision)->port("grpc_port")),
       absl::StrCat("--inventory_target=127.0.0.1:", (*inventory)->port("grpc_port"))},
      dir);
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  const int port = (*gateway)->port("http_port");
  auto chat = [&](const std::string& tenant) {
    return HttpCall(
        port, "POST", "/v1/chat/completions",
        R"({"model":"m","messages":[{"role":"user","content":"Tell me about budgets in one line."}]})",
        {{"x-router-tenant", tenant}});
  };
  HttpResult first;
  for (int i = 0; i < 250 && first.status != 200; ++i) {
    first = chat("acme");
    if (first.status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(first.status, 200) << first.body;
  // The outcome reaches decision within a flush interval or two; then acme is over its limit.
  HttpResult denied;
  for (int i = 0; i < 250; ++i) {
    denied = chat("acme");
    if (denied.status == 403) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_THAT(denied.body, HasSubstr("over its spending limit"));
  EXPECT_EQ(chat("someone-else").status, 200) << "other tenants are still served";
  std::string metrics = HttpCall((*decision)->port("metrics_port"), "GET", "/metrics").body;
  EXPECT_THAT(
      metrics,
      HasSubstr("llmrouter_decision_budget_limited_routes_total{action=\"deny\",tenant=\"acme\"}"));
  EXPECT_THAT(metrics, HasSubstr("llmrouter_decision_usage_outcomes_total{result=\"accepted\"}"));
}

}  // namespace
}  // namespace llmrouter::testing
