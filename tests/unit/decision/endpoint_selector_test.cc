#include "services/decision/endpoint_selector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "services/decision/router.h"

namespace llmrouter::decision {
namespace {

using ::testing::HasSubstr;
namespace v1 = llmrouter::v1;

struct Ep {
  std::string id;
  double waiting = 0, running = 0, kv = 0;
  double ttft_s = -1;
  std::string region;
  uint32_t weight = 1;
  v1::HealthState health = v1::HEALTH_STATE_HEALTHY;
};

std::unique_ptr<InventoryView> View(const std::vector<Ep>& eps) {
  v1::InventorySnapshot s;
  for (const Ep& e : eps) {
    auto* p = s.add_endpoints();
    p->set_id(e.id);
    p->set_model("m");
    p->set_address(e.id + ":1");
    p->set_region(e.region);
    p->set_weight(e.weight);
    p->set_health(e.health);
    p->mutable_load()->set_requests_waiting(e.waiting);
    p->mutable_load()->set_requests_running(e.running);
    p->mutable_load()->set_kv_cache_usage(e.kv);
    if (e.ttft_s >= 0) ToProto(absl::Seconds(e.ttft_s), p->mutable_load()->mutable_ttft_ewma());
  }
  return std::make_unique<InventoryView>(s, absl::Now());
}

std::string First(const InventoryView& view, const SelectionInput& in,
                  v1::RouteTrace* trace = nullptr) {
  ModelSpec model;
  model.name = "m";
  EndpointList out;
  int unusable = 0;
  OrderEndpoints(*view.ForModel("m"), model, in, trace, &out, &unusable);
  return out.empty() ? "" : out[0]->id();
}

TEST(EndpointSelectorTest, LeastOutstandingAndLowestLatency) {
  auto view = View({{"busy", 5, 8}, {"idle", 0, 1}, {"mid", 1, 3}});
  SelectionInput in;
  in.strategy = EndpointStrategy::kLeastOutstanding;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(First(*view, in), "idle");
  auto lat = View({{"slow", 0, 0, 0, 0.8}, {"fast", 0, 0, 0, 0.05}, {"unmeasured"}});
  in.strategy = EndpointStrategy::kLowestLatency;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(First(*lat, in), "fast");
}

TEST(EndpointSelectorTest, PowerOfTwoNeverPicksTheMostLoaded) {
  auto view = View({{"a", 0, 1}, {"b", 1, 1}, {"hot", 40, 30, 0.95}, {"c", 0, 2}, {"d", 2, 0}});
  SelectionInput in;
  in.strategy = EndpointStrategy::kPowerOfTwo;
  std::map<std::string, int> firsts;
  for (int i = 0; i < 2000; ++i) ++firsts[First(*view, in)];
  EXPECT_EQ(firsts["hot"], 0);
  EXPECT_GE(firsts.size(), 3u) << "p2c still spreads load";
}

TEST(EndpointSelectorTest, WeightedFollowsWeights) {
  auto view = View({{"big", 0, 0, 0, -1, "", 3}, {"small", 0, 0, 0, -1, "", 1}});
  SelectionInput in;
  in.strategy = EndpointStrategy::kWeighted;
  int big = 0;
  for (int i = 0; i < 10000; ++i) big += First(*view, in) == "big";
  EXPECT_NEAR(big / 10000.0, 0.75, 0.03);
}

TEST(EndpointSelectorTest, PrefersSameRegionThenNearestAndSaysSo) {
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, double>> latency;
  latency["eu-west"]["eu-central"] = 20;
  latency["eu-west"]["us-east"] = 80;
  SelectionInput in;
  in.client_region = "eu-west";
  in.region_latency = &latency;
  auto view = View({{"us", 0, 0, 0, -1, "us-east"},
                    {"de", 0, 0, 0, -1, "eu-central"},
                    {"ie", 0, 0, 0, -1, "eu-west"}});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(First(*view, in), "ie");
  auto failover = View({{"us", 0, 0, 0, -1, "us-east"},
                        {"de", 0, 0, 0, -1, "eu-central"},
                        {"ie", 0, 0, 0, -1, "eu-west", 1, v1::HEALTH_STATE_UNHEALTHY}});
  v1::RouteTrace trace;
  EXPECT_EQ(First(*failover, in, &trace), "de");
  ASSERT_EQ(trace.notes_size(), 1);
  EXPECT_THAT(trace.notes(0), HasSubstr("no usable endpoint of \"m\" in region eu-west"));
  EXPECT_THAT(trace.notes(0), HasSubstr("eu-central (20 ms)"));
}

TEST(EndpointSelectorTest, SessionsStickAndFewMoveWhenMembershipChanges) {
  std::vector<Ep> ten;
  for (int i = 0; i < 10; ++i) ten.push_back({absl::StrCat("e", i)});
  auto before = View(ten);
  std::vector<Ep> nine(ten.begin(), ten.end() - 1);
  auto after = View(nine);
  SelectionInput in;
  int moved = 0, on_removed = 0;
  const int kKeys = 5000;
  for (int k = 0; k < kKeys; ++k) {
    std::string key = absl::StrCat("session-", k);
    in.sticky_key = key;
    std::string a = First(*before, in);
    EXPECT_EQ(First(*before, in), a) << "a session keeps its replica";
    if (a == "e9") ++on_removed;
    moved += First(*after, in) != a;
  }
  // Only the sessions of the removed replica move: about 1/10 of them.
  EXPECT_EQ(moved, on_removed);
  EXPECT_LE(moved, kKeys / 10 + kKeys / 50);
}

TEST(EndpointSelectorTest, StickinessYieldsToOverload) {
  SelectionInput in;
  in.sticky_key = "s-1";
  auto calm = View({{"a"}, {"b"}, {"c"}});
  std::string home = First(*calm, in);
  std::vector<Ep> eps = {{"a"}, {"b"}, {"c"}};
  for (Ep& e : eps) {
    if (e.id == home) e.waiting = 50;
  }
  auto hot = View(eps);
  EXPECT_NE(First(*hot, in), home);
}

}  // namespace
}  // namespace llmrouter::decision

namespace llmrouter::decision {
namespace {

// Tiers and pools through Route(): interactive on dedicated, batch on spot with spill-over to
// dedicated while it is lightly loaded, batch shed when everything it may use is saturated.
class TierPoolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bundle = ParsePolicyBundleOrError(R"(
models: [{name: m}]
rules:
  - name: tiers
    match: {model: [m]}
    then:
      candidates: [m]
      pools: {interactive: [dedicated], batch: [spot]}
      spill_over: {batch: [dedicated], below_load: 3}
      shed: {tiers: [batch], queue_above: 5}
)");
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    policy_ = CompiledPolicy::Compile(*bundle, 1, "h");
  }

  absl::Status RouteTier(v1::PriorityTier tier, double spot_waiting, double dedicated_waiting,
                         v1::RouteRequestResponse* resp, RouteNotes* notes = nullptr) {
    v1::InventorySnapshot s;
    for (auto [id, pool, waiting] :
         {std::tuple{"d1", "dedicated", dedicated_waiting}, std::tuple{"s1", "spot", spot_waiting},
          std::tuple{"s2", "spot", spot_waiting}}) {
      auto* e = s.add_endpoints();
      e->set_id(id);
      e->set_model("m");
      e->set_address("h:1");
      e->set_pool(pool);
      e->set_health(v1::HEALTH_STATE_HEALTHY);
      e->mutable_load()->set_requests_waiting(waiting);
    }
    view_ = std::make_unique<InventoryView>(s, absl::Now());
    v1::RouteRequestRequest req;
    req.set_model("m");
    req.set_priority(tier);
    req.set_explain(true);
    return Route(policy_.get(), view_.get(), req, absl::Now(), {}, resp, notes);
  }

  std::shared_ptr<const CompiledPolicy> policy_;
  std::unique_ptr<InventoryView> view_;
};

TEST_F(TierPoolsTest, InteractiveUsesDedicatedOnly) {
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(RouteTier(v1::PRIORITY_TIER_INTERACTIVE, 0, 0, &resp).ok());
  EXPECT_EQ(resp.target().endpoint_id(), "d1");
  EXPECT_EQ(resp.fallbacks_size(), 0);
  int wrong_pool = 0;
  for (const auto& c : resp.trace().candidates()) {
    wrong_pool += c.stage() == v1::CANDIDATE_STAGE_WRONG_POOL;
  }
  EXPECT_EQ(wrong_pool, 2);
}

TEST_F(TierPoolsTest, BatchUsesSpotThenSpillsToLightlyLoadedDedicated) {
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(RouteTier(v1::PRIORITY_TIER_BATCH, 0, 0, &resp).ok());
  EXPECT_EQ(resp.target().pool(), "spot");
  ASSERT_EQ(resp.fallbacks_size(), 2);
  EXPECT_EQ(resp.fallbacks(1).endpoint_id(), "d1") << "spill-over comes last";
  // Spot saturated, dedicated light: batch goes to dedicated.
  ASSERT_TRUE(RouteTier(v1::PRIORITY_TIER_BATCH, 9, 1, &resp).ok());
  EXPECT_EQ(resp.target().endpoint_id(), "d1");
}

TEST_F(TierPoolsTest, BatchIsShedWhileInteractiveIsServed) {
  v1::RouteRequestResponse resp;
  RouteNotes notes;
  // Spot saturated and dedicated too loaded to spill into: batch is shed...
  absl::Status s = RouteTier(v1::PRIORITY_TIER_BATCH, 9, 4, &resp, &notes);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("batch requests are shed"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("retry after"));
  EXPECT_TRUE(notes.shed);
  // ...while interactive still gets the dedicated endpoint.
  v1::RouteRequestResponse interactive;
  ASSERT_TRUE(RouteTier(v1::PRIORITY_TIER_INTERACTIVE, 9, 4, &interactive).ok());
  EXPECT_EQ(interactive.target().endpoint_id(), "d1");
}

}  // namespace
}  // namespace llmrouter::decision

namespace llmrouter::decision {
namespace {

TEST(EndpointSelectorRegionTest, MeasuredLatencyRefinesTheMatrix) {
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, double>> latency;
  latency["eu-west"]["eu-central"] = 20;
  latency["eu-west"]["eu-north"] = 30;
  SelectionInput in;
  in.client_region = "eu-west";
  in.region_latency = &latency;
  // On paper eu-central is nearer, but gateways measure 400 ms there and 40 ms in eu-north.
  v1::InventorySnapshot s;
  for (auto [id, region, ms] :
       {std::tuple{"de", "eu-central", 400}, std::tuple{"se", "eu-north", 40}}) {
    auto* e = s.add_endpoints();
    e->set_id(id);
    e->set_model("m");
    e->set_address("h:1");
    e->set_region(region);
    e->set_health(v1::HEALTH_STATE_HEALTHY);
    ToProto(absl::Milliseconds(ms), e->mutable_load()->mutable_latency_ewma());
  }
  InventoryView view(s, absl::Now());
  EXPECT_EQ(First(view, in), "se");
  // Without measurements the matrix decides.
  auto plain = View({{"de", 0, 0, 0, -1, "eu-central"}, {"se", 0, 0, 0, -1, "eu-north"}});
  EXPECT_EQ(First(*plain, in), "de");
}

}  // namespace
}  // namespace llmrouter::decision
