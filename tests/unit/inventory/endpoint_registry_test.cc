#include "services/inventory/endpoint_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace llmrouter::inventory {
namespace {

using llmrouter::v1::Endpoint;
using ::testing::HasSubstr;

Endpoint Make(const std::string& model, const std::string& address) {
  Endpoint e;
  e.set_model(model);
  e.set_address(address);
  return e;
}

std::vector<std::string> Ids(const SnapshotPtr& s) {
  std::vector<std::string> out;
  for (const auto& e : s->snapshot().endpoints()) out.push_back(e.id());
  return out;
}

TEST(EndpointRegistryTest, UpsertFillsDefaultsAndBumpsVersion) {
  FakeClock clock;
  EndpointRegistry reg(clock);
  EXPECT_EQ(reg.version(), 0u);
  auto e = reg.Upsert(Make("m", "10.0.0.1:8000"));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->id(), "m@10.0.0.1:8000");
  EXPECT_EQ(e->scheme(), "http");
  EXPECT_EQ(e->weight(), 1u);
  EXPECT_EQ(e->health(), llmrouter::v1::HEALTH_STATE_HEALTHY);
  EXPECT_EQ(reg.version(), 1u);
  EXPECT_EQ(reg.Snapshot()->snapshot().version(), 1u);
}

TEST(EndpointRegistryTest, RejectsBadEndpoints) {
  EndpointRegistry reg;
  EXPECT_THAT(std::string(reg.Upsert(Make("", "h:1")).status().message()), HasSubstr("model"));
  EXPECT_THAT(std::string(reg.Upsert(Make("m", "nohostport")).status().message()),
              HasSubstr("not host:port"));
  EXPECT_THAT(std::string(reg.Upsert(Make("m", "h:70000")).status().message()),
              HasSubstr("not host:port"));
  Endpoint bad_scheme = Make("m", "h:1");
  bad_scheme.set_scheme("ftp");
  EXPECT_EQ(reg.Upsert(bad_scheme).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reg.version(), 0u);
}

TEST(EndpointRegistryTest, TtlExpiresUnlessRenewed) {
  FakeClock clock;
  EndpointRegistry reg(clock);
  ASSERT_TRUE(reg.Upsert(Make("m", "h:1"), absl::Seconds(10)).ok());
  ASSERT_TRUE(reg.Upsert(Make("m", "h:2")).ok());  // no TTL
  clock.Advance(absl::Seconds(6));
  ASSERT_TRUE(reg.Upsert(Make("m", "h:1"), absl::Seconds(10)).ok());  // heartbeat
  clock.Advance(absl::Seconds(6));
  EXPECT_EQ(reg.ExpireDue(), 0);
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(reg.ExpireDue(), 1);
  EXPECT_THAT(Ids(reg.Snapshot()), ::testing::ElementsAre("m@h:2"));
}

TEST(EndpointRegistryTest, ReplaceStaticKeepsRegisteredEndpoints) {
  EndpointRegistry reg;
  ASSERT_TRUE(reg.ReplaceStatic({Make("a", "h:1"), Make("b", "h:2")}).ok());
  ASSERT_TRUE(reg.Upsert(Make("c", "h:3")).ok());
  ASSERT_TRUE(reg.ReplaceStatic({Make("b", "h:2")}).ok());
  EXPECT_THAT(Ids(reg.Snapshot()), ::testing::ElementsAre("b@h:2", "c@h:3"));
  // A bad static list changes nothing.
  uint64_t v = reg.version();
  absl::Status s = reg.ReplaceStatic({Make("d", "h:4"), Make("", "h:5")});
  EXPECT_THAT(std::string(s.message()), HasSubstr("endpoints[1]"));
  EXPECT_EQ(reg.version(), v);
}

TEST(EndpointRegistryTest, RemoveUnknownIsNotFound) {
  EndpointRegistry reg;
  EXPECT_EQ(reg.Remove("nope").code(), absl::StatusCode::kNotFound);
}

TEST(EndpointRegistryTest, SubscribersGetCurrentThenEveryChangeInOrder) {
  EndpointRegistry reg;
  ASSERT_TRUE(reg.Upsert(Make("a", "h:1")).ok());
  std::vector<uint64_t> seen;
  uint64_t token = reg.Subscribe([&](SnapshotPtr s) { seen.push_back(s->snapshot().version()); });
  ASSERT_TRUE(reg.Upsert(Make("b", "h:2")).ok());
  ASSERT_TRUE(reg.Remove("a@h:1").ok());
  reg.Unsubscribe(token);
  ASSERT_TRUE(reg.Upsert(Make("c", "h:3")).ok());
  EXPECT_THAT(seen, ::testing::ElementsAre(1, 2, 3));
  EXPECT_EQ(reg.subscriber_count(), 0u);
}

TEST(EndpointRegistryTest, LiveStatusIsOneChangeAndOnlyWhenSomethingDiffers) {
  FakeClock clock;
  EndpointRegistry reg(clock);
  ASSERT_TRUE(reg.Upsert(Make("m", "10.0.0.1:8000")).ok());
  ASSERT_TRUE(reg.Upsert(Make("m", "10.0.0.2:8000")).ok());
  int published = 0;
  reg.Subscribe([&](SnapshotPtr) { ++published; });
  published = 0;
  absl::flat_hash_map<std::string, LiveStatus> live;
  live["m@10.0.0.1:8000"].health = llmrouter::v1::HEALTH_STATE_UNHEALTHY;
  live["m@10.0.0.1:8000"].detail = "probe: refused";
  live["m@10.0.0.2:8000"].load.set_requests_waiting(5);
  live["gone"].load.set_requests_waiting(1);
  EXPECT_TRUE(reg.ApplyLive(live));
  EXPECT_EQ(published, 1);
  auto snap = reg.Snapshot()->snapshot();
  EXPECT_EQ(snap.endpoints(0).health(), llmrouter::v1::HEALTH_STATE_UNHEALTHY);
  EXPECT_EQ(snap.endpoints(0).health_detail(), "probe: refused");
  EXPECT_EQ(snap.endpoints(1).load().requests_waiting(), 5);
  // Only the measurement time moved: no new version.
  live["m@10.0.0.2:8000"].load.mutable_updated_at()->set_seconds(5);
  EXPECT_FALSE(reg.ApplyLive(live));
  EXPECT_EQ(published, 1);
  // A heartbeat re-registration keeps what was learned.
  auto again = reg.Upsert(Make("m", "10.0.0.2:8000"), absl::Seconds(10));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->load().requests_waiting(), 5);
}

TEST(EndpointRegistryTest, DrainBeatsProbesAndSurvivesReregistrationUntilResumed) {
  FakeClock clock;
  EndpointRegistry reg(clock);
  ASSERT_TRUE(reg.Upsert(Make("m", "10.0.0.1:8000")).ok());
  EXPECT_EQ(reg.SetDraining("nope", true).status().code(), absl::StatusCode::kNotFound);
  auto drained = reg.SetDraining("m@10.0.0.1:8000", true);
  ASSERT_TRUE(drained.ok());
  EXPECT_EQ(drained->health(), llmrouter::v1::HEALTH_STATE_DRAINING);
  absl::flat_hash_map<std::string, LiveStatus> live;
  live["m@10.0.0.1:8000"].health = llmrouter::v1::HEALTH_STATE_HEALTHY;
  reg.ApplyLive(live);
  ASSERT_TRUE(reg.Upsert(Make("m", "10.0.0.1:8000")).ok());
  EXPECT_EQ(reg.Snapshot()->snapshot().endpoints(0).health(), llmrouter::v1::HEALTH_STATE_DRAINING);
  uint64_t v = reg.version();
  ASSERT_TRUE(reg.SetDraining("m@10.0.0.1:8000", true).ok());
  EXPECT_EQ(reg.version(), v);  // no change, no version
  auto resumed = reg.SetDraining("m@10.0.0.1:8000", false);
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->health(), llmrouter::v1::HEALTH_STATE_HEALTHY);
}

TEST(EndpointRegistryTest, ReplaceSourceTouchesOnlyThatSource) {
  FakeClock clock;
  EndpointRegistry reg(clock);
  ASSERT_TRUE(reg.Upsert(Make("m", "10.0.0.1:8000")).ok());
  Endpoint d1 = Make("m", "10.1.0.1:8000"), d2 = Make("m", "10.1.0.2:8000");
  ASSERT_TRUE(reg.ReplaceSource(llmrouter::v1::ENDPOINT_SOURCE_DNS, {d1, d2}).ok());
  EXPECT_EQ(reg.ConfiguredEndpoints(llmrouter::v1::ENDPOINT_SOURCE_DNS).size(), 2u);
  ASSERT_TRUE(reg.ReplaceSource(llmrouter::v1::ENDPOINT_SOURCE_DNS, {d2}).ok());
  EXPECT_THAT(Ids(reg.Snapshot()), ::testing::ElementsAre("m@10.0.0.1:8000", "m@10.1.0.2:8000"));
}

}  // namespace
}  // namespace llmrouter::inventory
