// inventory as a real process against several fake-llm backends whose reported load differs:
// probes and scrapes fill ListEndpoints with each backend's load, a killed backend turns
// UNHEALTHY, DNS discovery finds a backend by name, and writes need the token.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <functional>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "llmrouter/v1/inventory.grpc.pb.h"
#include "tests/support/http_test_client.h"
#include "tests/support/process_harness.h"

namespace llmrouter::testing {
namespace {

using ::testing::HasSubstr;
namespace v1 = llmrouter::v1;

class InventoryHealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("llmrouter-inventory-health");
    light_ =
        StartFake("light", {"--report_running=5", "--report_waiting=2", "--report_kv_cache=0.25"});
    heavy_ =
        StartFake("heavy", {"--report_running=12", "--report_waiting=9", "--report_kv_cache=0.75"});
    doomed_ = StartFake("doomed", {"--report_waiting=4"});
    ASSERT_TRUE(light_ && heavy_ && doomed_);
    auto addr = [](const std::unique_ptr<ServiceProcess>& p) {
      return absl::StrCat("127.0.0.1:", p->port("http_port"));
    };
    std::ofstream(dir_ + "/endpoints.yaml") << absl::StrCat(
        "endpoints:\n"
        "  - {id: light, model: m, address: \"",
        addr(light_),
        "\", pool: dedicated}\n"
        "  - {id: heavy, model: m, address: \"",
        addr(heavy_),
        "\", pool: spot}\n"
        "  - {id: doomed, model: m, address: \"",
        addr(doomed_),
        "\"}\n"
        "discovery:\n"
        "  - {service: \"localhost:",
        light_->port("http_port"), "\", model: by-dns}\n");
    std::ofstream(dir_ + "/health.yaml")
        << "probe: {interval: 200ms, timeout: 150ms, unhealthy_threshold: 2, "
           "healthy_threshold: 1}\n"
           "scrape_interval: 200ms\n";
    std::ofstream(dir_ + "/token") << "let-me-write\n";
    std::ofstream(dir_ + "/reporter-token") << "let-me-report\n";
    auto inv = ServiceProcess::Start(
        "inventory", BuildPath("services/inventory/inventory"),
        {"--grpc_port=0", "--metrics_port=0", "--host=127.0.0.1",
         "--endpoints_file=" + dir_ + "/endpoints.yaml", "--health_config=" + dir_ + "/health.yaml",
         "--active_health_checks", "--health_tick_ms=100", "--dns_interval_ms=200",
         "--maintenance_interval_ms=100", "--write_token_file=" + dir_ + "/token",
         "--reporter_token_file=" + dir_ + "/reporter-token"},
        dir_);
    ASSERT_TRUE(inv.ok()) << inv.status();
    inventory_ = *std::move(inv);
    stub_ = v1::InventoryService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", inventory_->port("grpc_port")),
                            grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<ServiceProcess> StartFake(const std::string& name,
                                            std::vector<std::string> extra) {
    std::vector<std::string> args = {"--port=0", "--model=m", "--name=" + name};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p = ServiceProcess::Start(name, BuildPath("tools/fake-llm/fake-llm"), args, dir_);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : nullptr;
  }

  absl::flat_hash_map<std::string, v1::Endpoint> List() {
    grpc::ClientContext ctx;
    v1::ListEndpointsResponse resp;
    absl::flat_hash_map<std::string, v1::Endpoint> out;
    if (!stub_->ListEndpoints(&ctx, v1::ListEndpointsRequest(), &resp).ok()) return out;
    for (const auto& e : resp.endpoints()) out[e.id()] = e;
    return out;
  }

  // Polls ListEndpoints until `done` holds; the generous limit only bounds a failing run.
  bool Eventually(const std::function<bool(absl::flat_hash_map<std::string, v1::Endpoint>&)>& done,
                  absl::flat_hash_map<std::string, v1::Endpoint>* last) {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (absl::Now() < give_up) {
      *last = List();
      if (done(*last)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  static std::string Describe(const absl::flat_hash_map<std::string, v1::Endpoint>& fleet) {
    std::string out;
    for (const auto& [id, e] : fleet) absl::StrAppend(&out, e.ShortDebugString(), "\n");
    return out;
  }

  std::string dir_;
  std::unique_ptr<ServiceProcess> light_, heavy_, doomed_, inventory_;
  std::unique_ptr<v1::InventoryService::Stub> stub_;
};

TEST_F(InventoryHealthTest, ScrapedLoadAppearsAndAKilledBackendTurnsUnhealthy) {
  absl::flat_hash_map<std::string, v1::Endpoint> fleet;
  ASSERT_TRUE(Eventually(
      [](auto& f) {
        return f.contains("light") && f["light"].load().requests_waiting() == 2 &&
               f["heavy"].load().requests_waiting() == 9 &&
               f["doomed"].load().requests_waiting() == 4;
      },
      &fleet))
      << Describe(fleet);
  EXPECT_EQ(fleet["light"].health(), v1::HEALTH_STATE_HEALTHY);
  EXPECT_EQ(fleet["light"].load().requests_running(), 5);
  EXPECT_EQ(fleet["light"].load().kv_cache_usage(), 0.25);
  EXPECT_EQ(fleet["heavy"].load().requests_running(), 12);
  EXPECT_EQ(fleet["heavy"].load().kv_cache_usage(), 0.75);
  EXPECT_TRUE(fleet["heavy"].load().has_updated_at());

  doomed_->Signal(SIGKILL);
  doomed_->Wait(10000);
  ASSERT_TRUE(Eventually([](auto& f) { return f["doomed"].health() == v1::HEALTH_STATE_UNHEALTHY; },
                         &fleet))
      << Describe(fleet);
  EXPECT_THAT(fleet["doomed"].health_detail(), HasSubstr("probe: connect"));
  // The others are untouched.
  EXPECT_EQ(fleet["light"].health(), v1::HEALTH_STATE_HEALTHY);
  EXPECT_EQ(fleet["heavy"].health(), v1::HEALTH_STATE_HEALTHY);
}

TEST_F(InventoryHealthTest, DnsDiscoveryFindsTheBackendByName) {
  absl::flat_hash_map<std::string, v1::Endpoint> fleet;
  const std::string id = absl::StrCat("by-dns@127.0.0.1:", light_->port("http_port"));
  ASSERT_TRUE(Eventually(
      [&](auto& f) {
        return f.contains(id) && f[id].health() == v1::HEALTH_STATE_HEALTHY &&
               f[id].load().requests_waiting() == 2;
      },
      &fleet))
      << Describe(fleet);
  EXPECT_EQ(fleet[id].source(), v1::ENDPOINT_SOURCE_DNS);
}

TEST_F(InventoryHealthTest, DrainNeedsTheTokenAndSticksAgainstPassingProbes) {
  v1::DrainEndpointRequest req;
  req.set_id("light");
  v1::DrainEndpointResponse resp;
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->DrainEndpoint(&ctx, req, &resp).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer let-me-write");
  ASSERT_TRUE(stub_->DrainEndpoint(&ctx, req, &resp).ok());
  // Wait for a probe cycle to have reported on the endpoint; it stays DRAINING.
  absl::flat_hash_map<std::string, v1::Endpoint> fleet;
  ASSERT_TRUE(Eventually(
      [](auto& f) { return f.contains("light") && f["light"].load().requests_waiting() == 2; },
      &fleet))
      << Describe(fleet);
  EXPECT_EQ(fleet["light"].health(), v1::HEALTH_STATE_DRAINING);
}

TEST_F(InventoryHealthTest, ReportedFailuresEjectAnEndpointWhoseProbesPass) {
  absl::flat_hash_map<std::string, v1::Endpoint> fleet;
  ASSERT_TRUE(Eventually(
      [](auto& f) {
        return f.contains("heavy") && f["heavy"].health() == v1::HEALTH_STATE_HEALTHY;
      },
      &fleet))
      << Describe(fleet);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer let-me-report");  // as a gateway does
  v1::ReportOutcomesRequest req;
  req.set_reporter("test-gateway");
  for (int i = 0; i < 5; ++i) {
    v1::Outcome* o = req.add_outcomes();
    o->set_endpoint_id("heavy");
    o->set_http_status(503);
  }
  v1::ReportOutcomesResponse resp;
  ASSERT_TRUE(stub_->ReportOutcomes(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.accepted(), 5u);
  ASSERT_TRUE(
      Eventually([](auto& f) { return f["heavy"].health() == v1::HEALTH_STATE_UNHEALTHY; }, &fleet))
      << Describe(fleet);
  EXPECT_THAT(fleet["heavy"].health_detail(), HasSubstr("ejected: 5 consecutive failures"));
  EXPECT_EQ(fleet["light"].health(), v1::HEALTH_STATE_HEALTHY);
}

// The sum of llmrouter_inventory_probes_total over results, from the inventory's /metrics.
double ProbesDone(int metrics_port) {
  HttpResult r = HttpCall(metrics_port, "GET", "/metrics");
  double total = 0;
  for (absl::string_view line : absl::StrSplit(r.body, '\n')) {
    if (!absl::StartsWith(line, "llmrouter_inventory_probes_total{")) continue;
    double v = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) total += v;
  }
  return total;
}

TEST_F(InventoryHealthTest, ProbesThatChangeNothingPublishNothing) {
  doomed_->Signal(SIGKILL);
  doomed_->Wait(10000);
  // Settled: every endpoint is either up with its load scraped or down for good.
  absl::flat_hash_map<std::string, v1::Endpoint> fleet;
  ASSERT_TRUE(Eventually(
      [](auto& f) {
        if (f.size() < 4) return false;
        for (auto& [id, e] : f) {
          bool up = e.health() == v1::HEALTH_STATE_HEALTHY && e.load().has_updated_at();
          if (!up && e.health() != v1::HEALTH_STATE_UNHEALTHY) return false;
        }
        return f["doomed"].health() == v1::HEALTH_STATE_UNHEALTHY;
      },
      &fleet))
      << Describe(fleet);
  grpc::ClientContext ctx;
  v1::ListEndpointsResponse before;
  ASSERT_TRUE(stub_->ListEndpoints(&ctx, v1::ListEndpointsRequest(), &before).ok());
  // Wait for three more probes of every endpoint (the dead one included).
  const int port = inventory_->port("metrics_port");
  const double target = ProbesDone(port) + 3.0 * before.endpoints_size();
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (ProbesDone(port) < target && absl::Now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(ProbesDone(port), target);
  grpc::ClientContext ctx2;
  v1::ListEndpointsResponse after;
  ASSERT_TRUE(stub_->ListEndpoints(&ctx2, v1::ListEndpointsRequest(), &after).ok());
  EXPECT_EQ(after.inventory_version(), before.inventory_version())
      << before.ShortDebugString() << "\n"
      << after.ShortDebugString();
}

}  // namespace
}  // namespace llmrouter::testing
