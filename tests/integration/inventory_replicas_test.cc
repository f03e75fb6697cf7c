// Two inventory replicas behind one name share registrations and drains through a real Redis:
// whichever replica an RPC reaches, both serve the same endpoints, a replica started later
// begins with them, and a Redis that restarts without its data loses nothing. A gateway tells
// every replica the outcome of every request.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "llmrouter/v1/inventory.grpc.pb.h"
#include "tests/support/http_test_client.h"
#include "tests/support/process_harness.h"
#include "tests/support/redis_server.h"
#include "tests/support/test_processes.h"
#include "tests/support/wait_until.h"

namespace llmrouter::testing {
namespace {

namespace v1 = llmrouter::v1;

class Replica {
 public:
  Replica(const std::string& name, const std::string& dir, const std::string& redis) {
    auto p = ServiceProcess::Start(
        name, BuildPath("services/inventory/inventory"),
        {"--grpc_port=0", "--metrics_port=0", "--host=127.0.0.1", "--active_health_checks=false",
         "--maintenance_interval_ms=100", "--registration_sync_ms=100",
         "--endpoints_file=" + dir + "/endpoints.yaml", "--redis=" + redis},
        dir);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return;
    process_ = *std::move(p);
    stub_ = v1::InventoryService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", process_->port("grpc_port")),
                            grpc::InsecureChannelCredentials()));
  }

  v1::InventoryService::Stub& stub() { return *stub_; }
  int metrics_port() const { return process_->port("metrics_port"); }

  // The endpoint's state here, or nullopt when this replica does not have it.
  std::optional<v1::Endpoint> Find(const std::string& id) {
    grpc::ClientContext ctx;
    v1::ListEndpointsResponse resp;
    if (!stub_->ListEndpoints(&ctx, v1::ListEndpointsRequest(), &resp).ok()) return std::nullopt;
    for (const v1::Endpoint& e : resp.endpoints()) {
      if (e.id() == id) return e;
    }
    return std::nullopt;
  }
  bool Has(const std::string& id) { return Find(id).has_value(); }
  bool Draining(const std::string& id) {
    auto e = Find(id);
    return e && e->health() == v1::HEALTH_STATE_DRAINING;
  }

  grpc::Status Register(const std::string& id, int port, int ttl_seconds = 0) {
    v1::RegisterEndpointRequest req;
    req.mutable_endpoint()->set_id(id);
    req.mutable_endpoint()->set_model("m");
    req.mutable_endpoint()->set_address(absl::StrCat("127.0.0.1:", port));
    req.mutable_endpoint()->set_region("eu-west-1");
    if (ttl_seconds > 0) req.mutable_ttl()->set_seconds(ttl_seconds);
    grpc::ClientContext ctx;
    v1::RegisterEndpointResponse resp;
    return stub_->RegisterEndpoint(&ctx, req, &resp);
  }
  grpc::Status Deregister(const std::string& id) {
    v1::DeregisterEndpointRequest req;
    req.set_id(id);
    grpc::ClientContext ctx;
    v1::DeregisterEndpointResponse resp;
    return stub_->DeregisterEndpoint(&ctx, req, &resp);
  }
  grpc::Status Drain(const std::string& id, bool resume = false) {
    v1::DrainEndpointRequest req;
    req.set_id(id);
    req.set_resume(resume);
    grpc::ClientContext ctx;
    v1::DrainEndpointResponse resp;
    return stub_->DrainEndpoint(&ctx, req, &resp);
  }

 private:
  std::unique_ptr<ServiceProcess> process_;
  std::unique_ptr<v1::InventoryService::Stub> stub_;
};

constexpr auto kSeen = std::chrono::seconds(3);  // sync every 100 ms: seen well within this

// Two replicas, A and B, with one endpoint from their file (file-a), sharing a fresh Redis.
class InventoryReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir + "/endpoints.yaml")
        << "endpoints:\n  - {id: file-a, model: m, address: \"127.0.0.1:9\"}\n";
    a_ = std::make_unique<Replica>("inventory-a", dir, redis.address());
    b_ = std::make_unique<Replica>("inventory-b", dir, redis.address());
  }

  const std::string dir = MakeTempDir("llmrouter-inventory-replicas");
  RedisServer redis{dir};
  std::unique_ptr<Replica> a_, b_;
};

TEST_F(InventoryReplicasTest, RegistrationsAndDrainsThroughEitherReplicaAreSeenByBoth) {
  Replica& a = *a_;
  Replica& b = *b_;

  // Registered through A: B serves it too, with its fields.
  ASSERT_TRUE(a.Register("reg-1", 11).ok());
  ASSERT_TRUE(WaitUntil([&] { return b.Has("reg-1"); }, kSeen));
  EXPECT_EQ(b.Find("reg-1")->region(), "eu-west-1");
  EXPECT_EQ(b.Find("reg-1")->source(), v1::ENDPOINT_SOURCE_REGISTERED);

  // Drained through B (a registered one and one from the file): A drains them; resumed, both end.
  ASSERT_TRUE(b.Drain("reg-1").ok());
  ASSERT_TRUE(b.Drain("file-a").ok());
  ASSERT_TRUE(WaitUntil([&] { return a.Draining("reg-1") && a.Draining("file-a"); }, kSeen));
  ASSERT_TRUE(a.Drain("file-a", /*resume=*/true).ok());
  ASSERT_TRUE(WaitUntil([&] { return !b.Draining("file-a"); }, kSeen));
  EXPECT_TRUE(b.Draining("reg-1"));

  // A replica started now begins with what the others registered and drained.
  ASSERT_TRUE(b.Register("reg-2", 12).ok());
  Replica c("inventory-c", dir, redis.address());
  ASSERT_TRUE(WaitUntil([&] { return c.Has("reg-1") && c.Has("reg-2"); }, kSeen));
  ASSERT_TRUE(WaitUntil([&] { return c.Draining("reg-1"); }, kSeen));

  // Deregistered through B: gone from A and C; a file endpoint is never removed by a sync.
  ASSERT_TRUE(b.Deregister("reg-1").ok());
  ASSERT_TRUE(WaitUntil([&] { return !a.Has("reg-1") && !c.Has("reg-1"); }, kSeen));
  EXPECT_TRUE(a.Has("file-a"));
  EXPECT_TRUE(c.Has("reg-2"));

  // A registration with a TTL that is not renewed expires everywhere.
  ASSERT_TRUE(a.Register("short", 13, /*ttl_seconds=*/1).ok());
  ASSERT_TRUE(WaitUntil([&] { return b.Has("short"); }, kSeen));
  ASSERT_TRUE(WaitUntil([&] { return !a.Has("short") && !b.Has("short") && !c.Has("short"); },
                        std::chrono::seconds(5)));
  EXPECT_EQ(ScrapeMetric(a.metrics_port(), "llmrouter_inventory_registration_store_up"), 1);
}

TEST_F(InventoryReplicasTest,
       ARedisThatRestartsEmptyLosesNoRegistrationAndChangesMadeMeanwhileArrive) {
  Replica& a = *a_;
  Replica& b = *b_;
  ASSERT_TRUE(a.Register("reg-1", 11).ok());
  ASSERT_TRUE(b.Drain("file-a").ok());
  ASSERT_TRUE(WaitUntil([&] { return b.Has("reg-1") && a.Draining("file-a"); }, kSeen));

  // Redis goes away: registrations still work on the replica they reach, and wait.
  redis.Kill();
  ASSERT_TRUE(a.Register("reg-while-down", 12).ok());
  EXPECT_TRUE(a.Has("reg-while-down"));
  ASSERT_TRUE(WaitUntil(
      [&] {
        return ScrapeMetric(a.metrics_port(), "llmrouter_inventory_registration_store_up") == 0;
      },
      kSeen));
  EXPECT_TRUE(b.Has("reg-1"));  // nothing is removed while Redis is away

  // It comes back without its data: the replicas write back what they know, nothing is removed,
  // and the change made meanwhile reaches the other replica.
  redis.Restart();
  ASSERT_TRUE(WaitUntil([&] { return b.Has("reg-while-down"); }, std::chrono::seconds(10)));
  EXPECT_TRUE(a.Has("reg-1"));
  EXPECT_TRUE(b.Has("reg-1"));
  EXPECT_TRUE(a.Draining("file-a"));
  EXPECT_TRUE(b.Draining("file-a"));
  EXPECT_GE(
      ScrapeMetric(a.metrics_port(), "llmrouter_inventory_registration_store_data_lost_total"), 1);
  // And a replica started now sees all of it.
  Replica c("inventory-c", dir, redis.address());
  ASSERT_TRUE(WaitUntil(
      [&] { return c.Has("reg-1") && c.Has("reg-while-down") && c.Draining("file-a"); }, kSeen));
}

// How many lines of `file` contain `text`.
int LinesWith(const std::string& file, const std::string& text) {
  std::ifstream in(file);
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(text) != std::string::npos;
  return n;
}

TEST_F(InventoryReplicasTest, ARegistrationNoReplicaCanReadIsLoggedOnceNotAtEverySync) {
  Replica& a = *a_;
  Replica& b = *b_;
  // Something else wrote garbage where registrations are kept.
  CommandResult set = RunCommand("/usr/bin/redis-cli",
                                 {"-p", std::to_string(redis.port()), "HSET",
                                  "llmrouter:inventory:endpoints", "junk", "not a registration"});
  ASSERT_EQ(set.code, 0) << set.err;
  ASSERT_TRUE(WaitUntil(
      [&] { return LinesWith(dir + "/inventory-b.log", "registration_unreadable id=junk") > 0; },
      kSeen));
  // Several syncs later (each registration below has gone through both replicas), still once.
  for (int i = 0; i < 3; ++i) {
    const std::string id = absl::StrCat("later-", i);
    ASSERT_TRUE(a.Register(id, 20 + i).ok());
    ASSERT_TRUE(WaitUntil([&] { return b.Has(id); }, kSeen));
  }
  EXPECT_EQ(LinesWith(dir + "/inventory-a.log", "registration_unreadable id=junk"), 1);
  EXPECT_EQ(LinesWith(dir + "/inventory-b.log", "registration_unreadable id=junk"), 1);
  EXPECT_FALSE(a.Has("junk"));
}

// Each replica judges passive health and load from the outcomes it is told, and decision
// follows one of them: a gateway sends every batch to every replica behind its target.
TEST(InventoryOutcomesTest, AGatewayTellsEveryInventoryReplicaEveryOutcome) {
  const std::string dir = MakeTempDir("llmrouter-inventory-outcomes");
  auto fake = StartFakeLlm(dir, "fake", "m");
  ASSERT_TRUE(fake);
  std::ofstream(dir + "/endpoints.yaml") << absl::StrCat(
      "endpoints:\n  - {id: a, model: m, address: \"127.0.0.1:", fake->port("http_port"), "\"}\n");
  std::unique_ptr<ServiceProcess> inventories[2];
  for (int i = 0; i < 2; ++i) {
    inventories[i] = StartService(dir, absl::StrCat("inventory-", i), "services/inventory/inventory",
                                  {"--grpc_port=0", "--metrics_port=0", "--host=127.0.0.1",
                                   "--endpoints_file=" + dir + "/endpoints.yaml"});
    ASSERT_TRUE(inventories[i]);
  }
  std::ofstream(dir + "/policy.yaml") << "models:\n  - {name: m}\n";
  auto decision = StartDecision(dir, dir + "/policy.yaml", *inventories[0]);
  ASSERT_TRUE(decision);
  // Both replicas behind one target, as the headless Service's name resolves.
  auto gateway = StartGateway(
      dir, *decision,
      {absl::StrCat("--inventory_target=ipv4:127.0.0.1:", inventories[0]->port("grpc_port"),
                    ",127.0.0.1:", inventories[1]->port("grpc_port"))});
  ASSERT_TRUE(gateway);
  ASSERT_TRUE(WaitUntil([&] {
    return HttpCall(gateway->port("http_port"), "POST", "/v1/chat/completions",
                    R"({"model":"m","messages":[{"role":"user","content":"hi"}]})")
               .status == 200;
  }));
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(HttpCall(gateway->port("http_port"), "POST", "/v1/chat/completions",
                       R"({"model":"m","messages":[{"role":"user","content":"hi"}]})")
                  .status,
              200);
  }
  auto told = [&](int i) {
    return ScrapeMetric(inventories[i]->port("metrics_port"),
                        "llmrouter_inventory_outcomes_total{result=\"accepted\"}");
  };
  // Each outcome once to each replica (equal counts once the last batch reached both).
  EXPECT_TRUE(WaitUntil([&] { return told(0) >= 10 && told(0) == told(1); }))
      << told(0) << " and " << told(1);
}

}  // namespace
}  // namespace llmrouter::testing
