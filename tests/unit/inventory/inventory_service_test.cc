#include "services/inventory/inventory_service.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "tests/support/loopback_server.h"
#include "tests/support/metric_value.h"

namespace llmrouter::inventory {
namespace {

using ::testing::HasSubstr;
namespace v1 = llmrouter::v1;

class InventoryServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::LoopbackServer served = testing::ServeOnLoopback(service_);
    ASSERT_TRUE(served.server);
    server_ = std::move(served.server);
    stub_ = v1::InventoryService::NewStub(served.channel);
  }
  void TearDown() override { server_->Shutdown(); }

  grpc::Status Register(const std::string& model, const std::string& address,
                        v1::RegisterEndpointResponse* resp) {
    grpc::ClientContext ctx;
    v1::RegisterEndpointRequest req;
    req.mutable_endpoint()->set_model(model);
    req.mutable_endpoint()->set_address(address);
    return stub_->RegisterEndpoint(&ctx, req, resp);
  }

  prometheus::Registry prom_;
  InventoryMetrics metrics_{prom_};
  EndpointRegistry registry_;
  InventoryServiceImpl service_{registry_, metrics_};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::InventoryService::Stub> stub_;
};

TEST_F(InventoryServiceTest, RegisterListDeregister) {
  v1::RegisterEndpointResponse reg;
  ASSERT_TRUE(Register("m1", "127.0.0.1:9001", &reg).ok());
  EXPECT_EQ(reg.endpoint().id(), "m1@127.0.0.1:9001");
  EXPECT_EQ(reg.endpoint().source(), v1::ENDPOINT_SOURCE_REGISTERED);
  ASSERT_TRUE(Register("m2", "127.0.0.1:9002", &reg).ok());

  grpc::ClientContext ctx;
  v1::ListEndpointsRequest list_req;
  list_req.set_model("m2");
  v1::ListEndpointsResponse list;
  ASSERT_TRUE(stub_->ListEndpoints(&ctx, list_req, &list).ok());
  ASSERT_EQ(list.endpoints_size(), 1);
  EXPECT_EQ(list.endpoints(0).model(), "m2");
  EXPECT_EQ(list.inventory_version(), 2u);

  grpc::ClientContext ctx2;
  v1::DeregisterEndpointRequest dereg;
  dereg.set_id("m1@127.0.0.1:9001");
  v1::DeregisterEndpointResponse dresp;
  ASSERT_TRUE(stub_->DeregisterEndpoint(&ctx2, dereg, &dresp).ok());
  EXPECT_EQ(dresp.inventory_version(), 3u);

  grpc::ClientContext ctx3;
  grpc::Status again = stub_->DeregisterEndpoint(&ctx3, dereg, &dresp);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(InventoryServiceTest, RegisterRejectsInvalidEndpointWithReason) {
  v1::RegisterEndpointResponse reg;
  grpc::Status s = Register("m", "no-port", &reg);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("host:port"));
}

TEST_F(InventoryServiceTest, WatchSendsSnapshotOnSubscribeAndAfterChanges) {
  v1::RegisterEndpointResponse reg;
  ASSERT_TRUE(Register("m1", "127.0.0.1:9001", &reg).ok());
  grpc::ClientContext ctx;
  v1::WatchInventoryRequest req;
  req.set_subscriber("test");
  auto reader = stub_->WatchInventory(&ctx, req);
  v1::WatchInventoryResponse resp;
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.snapshot().version(), 1u);
  EXPECT_EQ(resp.snapshot().endpoints_size(), 1);

  ASSERT_TRUE(Register("m2", "127.0.0.1:9002", &reg).ok());
  ASSERT_TRUE(Register("m3", "127.0.0.1:9003", &reg).ok());
  // Versions only increase; intermediate ones may be skipped, the latest always arrives.
  uint64_t last = resp.snapshot().version();
  while (last < 3) {
    ASSERT_TRUE(reader->Read(&resp));
    EXPECT_GT(resp.snapshot().version(), last);
    last = resp.snapshot().version();
  }
  EXPECT_EQ(resp.snapshot().endpoints_size(), 3);
  ctx.TryCancel();
  while (reader->Read(&resp)) {
  }
  reader->Finish();
}

TEST_F(InventoryServiceTest, ReportOutcomesCountsUnknownEndpointsAndCostByModel) {
  v1::RegisterEndpointResponse reg;
  ASSERT_TRUE(Register("m1", "127.0.0.1:9001", &reg).ok());
  grpc::ClientContext ctx;
  v1::ReportOutcomesRequest req;
  auto add = [&req](const std::string& endpoint, const std::string& model, double cost) {
    v1::Outcome* o = req.add_outcomes();
    o->set_endpoint_id(endpoint);
    o->set_model(model);
    o->set_cost_usd(cost);
  };
  add("m1@127.0.0.1:9001", "m1", 0.25);
  // The label is the endpoint's own model, whatever the gateway called it.
  add("m1@127.0.0.1:9001", "made-up-name", 0.5);
  add("ghost", "m1", 1);  // unknown endpoints are not counted
  v1::ReportOutcomesResponse resp;
  ASSERT_TRUE(stub_->ReportOutcomes(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.accepted(), 2u);
  EXPECT_EQ(resp.unknown_endpoint(), 1u);
  EXPECT_EQ(metrics_.outcomes_unknown_endpoint.Value(), 1);
  EXPECT_DOUBLE_EQ(metrics_.reported_cost.Add({{"model", "m1"}}).Value(), 0.75);
  EXPECT_EQ(testing::MetricValue(prom_, "llmrouter_inventory_reported_cost_usd_total",
                                 {{"model", "made-up-name"}}),
            0);
}

}  // namespace
}  // namespace llmrouter::inventory
