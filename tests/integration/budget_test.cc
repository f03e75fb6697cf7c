// Spending limits end to end: the gateway reports what requests used to decision, which prices
// them with the catalog and denies a tenant once it is over its limit.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "llmrouter/v1/decision.grpc.pb.h"
#include "tests/support/http_test_client.h"
#include "tests/support/process_harness.h"
#include "tests/support/redis_server.h"
#include "tests/support/test_processes.h"
#include "tests/support/wait_until.h"

namespace llmrouter::testing {
namespace {

namespace v1 = llmrouter::v1;
using ::testing::HasSubstr;

// One request costs about (20 × 1000 + 8 × 1000) / 1e6 = $0.03; acme may spend $0.01 a day.
constexpr char kAcmeBudget[] = R"(
models:
  - {name: m, price: {input_per_mtok: 1000, output_per_mtok: 1000}}
tenants:
  - {name: default}
  - {name: acme, spend_limit: {usd: 0.01, period: day, over_limit: deny}}
)";

TEST(BudgetTest, TenantOverItsLimitIsDeniedOthersAreServed) {
  const std::string dir = MakeTempDir("llmrouter-budget");
  auto fake = ServiceProcess::Start("fake", BuildPath("tools/fake-llm/fake-llm"),
                                    {"--port=0", "--model=m", "--completion_tokens=8"}, dir);
  ASSERT_TRUE(fake.ok()) << fake.status();
  std::ofstream(dir + "/endpoints.yaml") << absl::StrCat(
      "endpoints:\n  - {id: a, model: m, address: \"127.0.0.1:", (*fake)->port("http_port"),
      "\"}\n");
  std::ofstream(dir + "/policy.yaml") << kAcmeBudget;
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

// A gateway's usage batches go to every decision replica in turn, as its routing calls do.
TEST(BudgetTest, AGatewaySpreadsItsUsageOverEveryDecisionReplica) {
  const std::string dir = MakeTempDir("llmrouter-budget-spread");
  auto fake = StartFakeLlm(dir, "fake", "m");
  ASSERT_TRUE(fake);
  std::ofstream(dir + "/endpoints.yaml") << absl::StrCat(
      "endpoints:\n  - {id: a, model: m, address: \"127.0.0.1:", fake->port("http_port"), "\"}\n");
  std::ofstream(dir + "/policy.yaml") << "models:\n  - {name: m, price: {input_per_mtok: 1}}\n";
  auto inventory = StartInventory(dir, dir + "/endpoints.yaml");
  ASSERT_TRUE(inventory);
  std::vector<std::unique_ptr<ServiceProcess>> decisions;
  for (const char* name : {"decision-a", "decision-b"}) {
    decisions.push_back(StartService(
        dir, name, "services/decision/decision",
        {"--grpc_port=0", "--metrics_port=0", "--host=127.0.0.1",
         absl::StrCat("--db=", dir, "/", name, ".db"), "--policy_file=" + dir + "/policy.yaml",
         absl::StrCat("--inventory_target=127.0.0.1:", inventory->port("grpc_port"))}));
    ASSERT_TRUE(decisions.back());
  }
  // Both replicas behind one target, as a headless Service's name resolves.
  auto gateway = StartService(
      dir, "gateway", "services/gateway/gateway",
      {"--http_port=0", "--metrics_port=0", "--host=127.0.0.1",
       absl::StrCat("--decision_target=ipv4:127.0.0.1:", decisions[0]->port("grpc_port"),
                    ",127.0.0.1:", decisions[1]->port("grpc_port")),
       "--inventory_target="});
  ASSERT_TRUE(gateway);
  auto accepted = [&](const ServiceProcess& d) {
    return ScrapeMetric(d.port("metrics_port"),
                        "llmrouter_decision_usage_outcomes_total{result=\"accepted\"}");
  };
  // Requests spread over several of the reporter's batches (one every 250 ms).
  EXPECT_TRUE(WaitUntil(
      [&] {
        HttpCall(gateway->port("http_port"), "POST", "/v1/chat/completions",
                 R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return accepted(*decisions[0]) > 0 && accepted(*decisions[1]) > 0;
      },
      std::chrono::seconds(20)))
      << accepted(*decisions[0]) << " and " << accepted(*decisions[1]);
}

// Asks a decision replica directly: a route costs nothing, so asking cannot move the ledger
// that is under test (through a gateway every request served would add to it).
grpc::StatusCode RouteStatus(int grpc_port, const std::string& tenant) {
  auto stub = v1::DecisionService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", grpc_port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::RouteRequestRequest req;
  req.set_model("m");
  req.set_tenant(tenant);
  v1::RouteRequestResponse resp;
  return stub->RouteRequest(&ctx, req, &resp).error_code();
}

// acme may spend $0.05 a day; a request costs about $0.03, so one replica alone serves acme
// twice, and only the shared ledger can make a replica that served nothing deny it.
constexpr char kSharedBudget[] = R"(
models:
  - {name: m, price: {input_per_mtok: 1000, output_per_mtok: 1000}}
tenants:
  - {name: default}
  - {name: acme, spend_limit: {usd: 0.05, period: day, over_limit: deny}}
)";

TEST(BudgetTest, TwoReplicasSharingRedisEnforceOneBudgetAcrossARestart) {
  const std::string dir = MakeTempDir("llmrouter-budget-redis");
  RedisServer redis(dir);
  auto fake = StartFakeLlm(dir, "fake", "m");
  ASSERT_TRUE(fake);
  std::ofstream(dir + "/endpoints.yaml") << absl::StrCat(
      "endpoints:\n  - {id: a, model: m, address: \"127.0.0.1:", fake->port("http_port"), "\"}\n");
  std::ofstream(dir + "/policy.yaml") << kSharedBudget;
  auto inventory = StartInventory(dir, dir + "/endpoints.yaml");
  ASSERT_TRUE(inventory);
  auto start_decision = [&](const std::string& name, int grpc_port) {
    return StartService(
        dir, name, "services/decision/decision",
        {absl::StrCat("--grpc_port=", grpc_port), "--metrics_port=0", "--host=127.0.0.1",
         "--db=" + dir + "/" + name + ".db", "--policy_file=" + dir + "/policy.yaml",
         absl::StrCat("--inventory_target=127.0.0.1:", inventory->port("grpc_port")),
         "--redis=" + redis.address(), "--spend_sync_ms=50"});
  };
  auto a = start_decision("decision-a", 0);
  auto b = start_decision("decision-b", 0);
  ASSERT_TRUE(a && b);
  const int a_port = a->port("grpc_port");
  const int b_port = b->port("grpc_port");
  // Only a has a gateway, which reports its usage to a; b is only asked.
  auto via_a = StartService(dir, "gateway-a", "services/gateway/gateway",
                            {"--http_port=0", "--metrics_port=0", "--host=127.0.0.1",
                             absl::StrCat("--decision_target=127.0.0.1:", a_port),
                             "--inventory_target="});
  ASSERT_TRUE(via_a);
  auto chat = [&](const std::string& tenant) {
    return HttpCall(
        via_a->port("http_port"), "POST", "/v1/chat/completions",
        R"({"model":"m","messages":[{"role":"user","content":"Tell me about budgets in one line."}]})",
        {{"x-router-tenant", tenant}});
  };
  ASSERT_TRUE(WaitUntil([&] { return RouteStatus(b_port, "acme") == grpc::StatusCode::OK; }));
  // acme spends through a until a's own ledger denies it ($0.06 of $0.05, two requests).
  int served = 0;
  HttpResult last;
  ASSERT_TRUE(WaitUntil([&] {
    last = chat("acme");
    served += last.status == 200;
    return last.status == 403;
  })) << last.status << " " << last.body;
  EXPECT_GE(served, 2) << "a alone serves acme twice (more while its usage is on its way)";
  // b served acme nothing; it denies acme within a second of a doing so (two syncs of 50 ms).
  EXPECT_TRUE(WaitUntil(
      [&] { return RouteStatus(b_port, "acme") == grpc::StatusCode::PERMISSION_DENIED; },
      std::chrono::seconds(1)))
      << "replica b did not deny acme within a second of a";
  EXPECT_EQ(RouteStatus(b_port, "default"), grpc::StatusCode::OK);

  // a restarts (same port, a fresh process with an empty ledger): its very first answer about
  // acme is a denial, from the totals it read from Redis before serving.
  a->Signal(SIGKILL);
  a->Wait(10000);
  a = start_decision("decision-a-again", a_port);
  ASSERT_TRUE(a);
  EXPECT_EQ(RouteStatus(a_port, "acme"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(RouteStatus(a_port, "default"), grpc::StatusCode::OK);
  // The gateway's channel to a reconnects first (its failed calls are 503s, not answers).
  HttpResult after;
  ASSERT_TRUE(WaitUntil([&] {
    after = chat("acme");
    return after.status != 503;
  }));
  EXPECT_EQ(after.status, 403) << after.body;
  EXPECT_THAT(after.body, HasSubstr("over its spending limit"));
}

}  // namespace
}  // namespace llmrouter::testing
