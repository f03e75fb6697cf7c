// InventoryService with write access control, drain, outcome reports feeding the monitor, and
// WatchInventory deltas.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "absl/container/flat_hash_map.h"
#include "services/inventory/inventory_service.h"
#include "tests/support/loopback_server.h"

namespace llmrouter::inventory {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace v1 = llmrouter::v1;

class ServiceWithHealthTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> cidrs = {}, OutcomeReportLimits limits = {}) {
    access_ = std::make_unique<WriteAccess>(*WriteAccess::Create("tok", cidrs, "rep"));
    service_ = std::make_unique<InventoryServiceImpl>(registry_, metrics_, &monitor_, access_.get(),
                                                      limits);
    testing::LoopbackServer served = testing::ServeOnLoopback(*service_);
    ASSERT_TRUE(served.server);
    server_ = std::move(served.server);
    stub_ = v1::InventoryService::NewStub(served.channel);
  }
  void TearDown() override {
    if (service_) service_->CloseWatchers();
    if (server_) server_->Shutdown();
  }
  grpc::Status Register(const std::string& address, const std::string& token = "tok") {
    grpc::ClientContext ctx;
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    v1::RegisterEndpointRequest req;
    req.mutable_endpoint()->set_model("m");
    req.mutable_endpoint()->set_address(address);
    v1::RegisterEndpointResponse resp;
    return stub_->RegisterEndpoint(&ctx, req, &resp);
  }
  grpc::Status Drain(const std::string& id, bool resume, v1::DrainEndpointResponse* resp,
                     const std::string& token = "tok") {
    grpc::ClientContext ctx;
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    v1::DrainEndpointRequest req;
    req.set_id(id);
    req.set_resume(resume);
    return stub_->DrainEndpoint(&ctx, req, resp);
  }

  // `count` outcomes for `endpoint`, each a failure (HTTP 500) or a success (200).
  grpc::Status Report(const std::string& endpoint, int count, int http_status,
                      const std::string& token = "rep",
                      v1::ReportOutcomesResponse* resp = nullptr) {
    grpc::ClientContext ctx;
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    v1::ReportOutcomesRequest req;
    for (int i = 0; i < count; ++i) {
      v1::Outcome* o = req.add_outcomes();
      o->set_endpoint_id(endpoint);
      o->set_http_status(http_status);
    }
    v1::ReportOutcomesResponse ignored;
    return stub_->ReportOutcomes(&ctx, req, resp != nullptr ? resp : &ignored);
  }
  v1::HealthState HealthAfterEvaluation() {
    registry_.ApplyLive(monitor_.Evaluate(registry_.Snapshot()->snapshot()));
    return registry_.Snapshot()->snapshot().endpoints(0).health();
  }

  FakeClock clock_;
  prometheus::Registry prom_;
  InventoryMetrics metrics_{prom_};
  EndpointRegistry registry_{clock_};
  HealthMonitor monitor_{clock_, OutlierSettings{}};
  std::unique_ptr<WriteAccess> access_;
  std::unique_ptr<InventoryServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::InventoryService::Stub> stub_;
};

TEST_F(ServiceWithHealthTest, WritesNeedTheToken) {
  Start();
  EXPECT_EQ(Register("127.0.0.1:9001", "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Register("127.0.0.1:9001", "wrong").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(registry_.version(), 0u);
  ASSERT_TRUE(Register("127.0.0.1:9001").ok());
  v1::DrainEndpointResponse drained;
  EXPECT_EQ(Drain("m@127.0.0.1:9001", false, &drained, "").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext ctx;
  v1::DeregisterEndpointRequest req;
  req.set_id("m@127.0.0.1:9001");
  v1::DeregisterEndpointResponse resp;
  EXPECT_EQ(stub_->DeregisterEndpoint(&ctx, req, &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(metrics_.writes_denied.Add({{"reason", "unauthenticated"}}).Value(), 4);
  // Reads stay open.
  grpc::ClientContext list_ctx;
  v1::ListEndpointsResponse list;
  ASSERT_TRUE(stub_->ListEndpoints(&list_ctx, v1::ListEndpointsRequest(), &list).ok());
  EXPECT_EQ(list.endpoints_size(), 1);
}

TEST_F(ServiceWithHealthTest, WritesFromOutsideTheRangesAreDenied) {
  Start({"10.0.0.0/8"});
  grpc::Status s = Register("127.0.0.1:9001");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("--write_allowed_cidrs"));
  EXPECT_EQ(metrics_.writes_denied.Add({{"reason", "address"}}).Value(), 1);
}

TEST_F(ServiceWithHealthTest, DrainAndResume) {
  Start();
  ASSERT_TRUE(Register("127.0.0.1:9001").ok());
  v1::DrainEndpointResponse resp;
  EXPECT_EQ(Drain("ghost", false, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Drain("", false, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Drain("m@127.0.0.1:9001", false, &resp).ok());
  EXPECT_EQ(resp.endpoint().health(), v1::HEALTH_STATE_DRAINING);
  EXPECT_EQ(resp.inventory_version(), 2u);
  // Probes that pass do not end a drain.
  monitor_.RecordProbe("m@127.0.0.1:9001", ProbeSettings{}, true, "");
  registry_.ApplyLive(monitor_.Evaluate(registry_.Snapshot()->snapshot()));
  EXPECT_EQ(registry_.Snapshot()->snapshot().endpoints(0).health(), v1::HEALTH_STATE_DRAINING);
  ASSERT_TRUE(Drain("m@127.0.0.1:9001", true, &resp).ok());
  EXPECT_EQ(resp.endpoint().health(), v1::HEALTH_STATE_HEALTHY);
}

TEST_F(ServiceWithHealthTest, ReportedFailuresEjectOnTheNextEvaluation) {
  Start();
  ASSERT_TRUE(Register("127.0.0.1:9001").ok());
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer rep");
  v1::ReportOutcomesRequest req;
  for (int i = 0; i < 5; ++i) {
    v1::Outcome* o = req.add_outcomes();
    o->set_endpoint_id("m@127.0.0.1:9001");
    o->set_error("connect");
  }
  v1::ReportOutcomesResponse resp;
  ASSERT_TRUE(stub_->ReportOutcomes(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.accepted(), 5u);
  uint64_t v = registry_.version();
  EXPECT_EQ(registry_.Snapshot()->snapshot().endpoints(0).health(), v1::HEALTH_STATE_HEALTHY);
  ASSERT_TRUE(registry_.ApplyLive(monitor_.Evaluate(registry_.Snapshot()->snapshot())));
  EXPECT_EQ(registry_.version(), v + 1);
  const auto& e = registry_.Snapshot()->snapshot().endpoints(0);
  EXPECT_EQ(e.health(), v1::HEALTH_STATE_UNHEALTHY);
  EXPECT_THAT(e.health_detail(), HasSubstr("ejected: 5 consecutive failures"));
  EXPECT_EQ(e.load().error_rate(), 0);  // judged afresh after the ejection
}

TEST_F(ServiceWithHealthTest, ReportsWithoutTheReporterTokenAreRefusedAndEjectNothing) {
  Start();
  ASSERT_TRUE(Register("127.0.0.1:9001").ok());
  monitor_.RecordProbe("m@127.0.0.1:9001", ProbeSettings{}, true, "");
  grpc::Status none = Report("m@127.0.0.1:9001", 30, 500, "");
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(none.error_message(), HasSubstr("reporter token"));
  EXPECT_EQ(Report("m@127.0.0.1:9001", 30, 500, "wrong").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(metrics_.reports_unauthenticated.Value(), 2);
  EXPECT_EQ(metrics_.outcomes_accepted.Value(), 0);
  EXPECT_EQ(HealthAfterEvaluation(), v1::HEALTH_STATE_HEALTHY);
  EXPECT_EQ(monitor_.ejections(), 0);

  // The gateways' token is taken, and so is the write token; the reporter token writes nothing.
  v1::ReportOutcomesResponse resp;
  ASSERT_TRUE(Report("m@127.0.0.1:9001", 1, 200, "rep", &resp).ok());
  EXPECT_EQ(resp.accepted(), 1u);
  ASSERT_TRUE(Report("m@127.0.0.1:9001", 1, 200, "tok", &resp).ok());
  EXPECT_EQ(resp.accepted(), 1u);
  EXPECT_EQ(Register("127.0.0.1:9002", "rep").error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ServiceWithHealthTest, AnOversizeReportIsRefusedWhole) {
  OutcomeReportLimits limits;
  limits.max_per_report = 3;
  Start({}, limits);
  ASSERT_TRUE(Register("127.0.0.1:9001").ok());
  grpc::Status s = Report("m@127.0.0.1:9001", 4, 500);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("at most 3 outcomes"));
  EXPECT_THAT(s.error_message(), HasSubstr("has 4"));
  EXPECT_EQ(metrics_.reports_too_large.Value(), 1);
  EXPECT_EQ(metrics_.outcomes_accepted.Value(), 0);
  v1::ReportOutcomesResponse resp;
  ASSERT_TRUE(Report("m@127.0.0.1:9001", 3, 200, "rep", &resp).ok());
  EXPECT_EQ(resp.accepted(), 3u);
}

TEST_F(ServiceWithHealthTest, OutcomesPerEndpointPerSecondAreCapped) {
  // Below the five consecutive failures that eject: a flood within one second cannot eject.
  OutcomeRateLimit rate(clock_, 4);
  OutcomeReportLimits limits;
  limits.per_endpoint = &rate;
  Start({}, limits);
  ASSERT_TRUE(Register("127.0.0.1:9001").ok());
  ASSERT_TRUE(Register("127.0.0.1:9002").ok());
  monitor_.RecordProbe("m@127.0.0.1:9001", ProbeSettings{}, true, "");

  v1::ReportOutcomesResponse resp;
  ASSERT_TRUE(Report("m@127.0.0.1:9001", 30, 500, "rep", &resp).ok());
  EXPECT_EQ(resp.accepted(), 4u);
  EXPECT_EQ(metrics_.outcomes_rate_limited.Value(), 26);
  // Other reports in the same second find the cap reached; other endpoints have their own.
  ASSERT_TRUE(Report("m@127.0.0.1:9001", 30, 500, "rep", &resp).ok());
  EXPECT_EQ(resp.accepted(), 0u);
  ASSERT_TRUE(Report("m@127.0.0.1:9002", 2, 200, "rep", &resp).ok());
  EXPECT_EQ(resp.accepted(), 2u);
  EXPECT_EQ(metrics_.outcomes_rate_limited.Value(), 56);
  EXPECT_EQ(monitor_.ejections(), 0);
  EXPECT_NE(HealthAfterEvaluation(), v1::HEALTH_STATE_UNHEALTHY);

  // The next second brings a new allowance: the fifth failure in a row ejects.
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(Report("m@127.0.0.1:9001", 30, 500, "rep", &resp).ok());
  EXPECT_EQ(resp.accepted(), 4u);
  EXPECT_EQ(monitor_.ejections(), 1);
  EXPECT_EQ(metrics_.outcomes_accepted.Value(), 10);
}

// Applies a stream of snapshot-then-deltas to rebuild the fleet.
void Apply(const v1::WatchInventoryResponse& msg,
           absl::flat_hash_map<std::string, v1::Endpoint>* fleet, uint64_t* version) {
  if (msg.has_snapshot()) {
    fleet->clear();
    for (const auto& e : msg.snapshot().endpoints()) (*fleet)[e.id()] = e;
    *version = msg.snapshot().version();
    return;
  }
  ASSERT_EQ(msg.delta().base_version(), *version) << "a delta must start where the last ended";
  for (const auto& e : msg.delta().upserted()) (*fleet)[e.id()] = e;
  for (const auto& id : msg.delta().removed_ids()) fleet->erase(id);
  *version = msg.delta().version();
}

TEST_F(ServiceWithHealthTest, WatchSendsDeltasAfterTheFirstSnapshot) {
  Start();
  ASSERT_TRUE(Register("127.0.0.1:9001").ok());
  ASSERT_TRUE(Register("127.0.0.1:9002").ok());
  grpc::ClientContext ctx;
  v1::WatchInventoryRequest req;
  req.set_subscriber("delta-test");
  req.set_deltas(true);
  auto reader = stub_->WatchInventory(&ctx, req);
  v1::WatchInventoryResponse msg;
  ASSERT_TRUE(reader->Read(&msg));
  ASSERT_TRUE(msg.has_snapshot());
  absl::flat_hash_map<std::string, v1::Endpoint> fleet;
  uint64_t version = 0;
  Apply(msg, &fleet, &version);
  EXPECT_EQ(version, 2u);

  ASSERT_TRUE(Register("127.0.0.1:9003").ok());
  ASSERT_TRUE(reader->Read(&msg));
  ASSERT_TRUE(msg.has_delta());
  EXPECT_FALSE(msg.has_snapshot());
  EXPECT_EQ(msg.delta().upserted_size(), 1);
  EXPECT_EQ(msg.delta().upserted(0).id(), "m@127.0.0.1:9003");
  Apply(msg, &fleet, &version);

  registry_.SetDraining("m@127.0.0.1:9001", true).IgnoreError();
  registry_.Remove("m@127.0.0.1:9002").IgnoreError();
  while (version < registry_.version()) {
    ASSERT_TRUE(reader->Read(&msg));
    ASSERT_TRUE(msg.has_delta());
    Apply(msg, &fleet, &version);
  }
  ASSERT_EQ(fleet.size(), 2u);
  EXPECT_EQ(fleet["m@127.0.0.1:9001"].health(), v1::HEALTH_STATE_DRAINING);
  EXPECT_FALSE(fleet.contains("m@127.0.0.1:9002"));
  ctx.TryCancel();
  while (reader->Read(&msg)) {
  }
  reader->Finish();
}

TEST(MakeDeltaTest, FoldsSkippedVersions) {
  v1::InventorySnapshot a, b;
  a.set_version(3);
  b.set_version(7);
  a.add_endpoints()->set_id("keep");
  a.add_endpoints()->set_id("change");
  a.add_endpoints()->set_id("drop");
  b.add_endpoints()->set_id("keep");
  v1::Endpoint* changed = b.add_endpoints();
  changed->set_id("change");
  changed->set_weight(5);
  b.add_endpoints()->set_id("new");
  SnapshotPtr d = MakeDelta(a, b);
  EXPECT_EQ(d->delta().base_version(), 3u);
  EXPECT_EQ(d->delta().version(), 7u);
  ASSERT_EQ(d->delta().upserted_size(), 2);
  EXPECT_EQ(d->delta().upserted(0).id(), "change");
  EXPECT_EQ(d->delta().upserted(1).id(), "new");
  EXPECT_THAT(d->delta().removed_ids(), ElementsAre("drop"));
}

TEST_F(ServiceWithHealthTest, ASubscriberThatNeverReadsDelaysNoOne) {
  Start();
  grpc::ClientContext stalled_ctx;
  v1::WatchInventoryRequest req;
  req.set_subscriber("stalled");
  auto stalled = stub_->WatchInventory(&stalled_ctx, req);  // never read
  grpc::ClientContext ctx;
  req.set_subscriber("reader");
  auto reader = stub_->WatchInventory(&ctx, req);
  // Enough changes, with a large fleet, to fill every flow-control window on the way.
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(Register("127.0.0.1:" + std::to_string(10000 + i)).ok());
  }
  v1::WatchInventoryResponse msg;
  do {
    ASSERT_TRUE(reader->Read(&msg));
  } while (msg.snapshot().version() < 300);
  EXPECT_EQ(msg.snapshot().endpoints_size(), 300);
  ctx.TryCancel();
  stalled_ctx.TryCancel();
  while (reader->Read(&msg)) {
  }
  reader->Finish();
  stalled->Finish();
}

}  // namespace
}  // namespace llmrouter::inventory
