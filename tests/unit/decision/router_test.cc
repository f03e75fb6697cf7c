#include "services/decision/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace llmrouter::decision {
namespace {

using ::testing::HasSubstr;
namespace v1 = llmrouter::v1;

constexpr absl::Time kNow = absl::FromUnixSeconds(1700000000);

std::shared_ptr<const CompiledPolicy> Policy() {
  auto bundle = ParsePolicyBundleOrError(R"(
models:
  - name: small
    aliases: [auto]
    fallbacks: [large]
  - name: large
  - name: lonely
)");
  EXPECT_TRUE(bundle.ok());
  return CompiledPolicy::Compile(*bundle, 7, "hash");
}

v1::Endpoint Ep(const std::string& id, const std::string& model,
                v1::HealthState health = v1::HEALTH_STATE_HEALTHY) {
  v1::Endpoint e;
  e.set_id(id);
  e.set_model(model);
  e.set_address(id + ":80");
  e.set_scheme("http");
  e.set_health(health);
  return e;
}

std::unique_ptr<InventoryView> View(std::vector<v1::Endpoint> eps, absl::Time at = kNow) {
  v1::InventorySnapshot s;
  s.set_version(42);
  for (auto& e : eps) *s.add_endpoints() = e;
  return std::make_unique<InventoryView>(s, at);
}

v1::RouteRequestRequest Req(const std::string& model, bool explain = false) {
  v1::RouteRequestRequest r;
  r.set_model(model);
  r.set_explain(explain);
  return r;
}

TEST(RouterTest, RoundRobinsOverHealthyEndpointsWithFallbackPlan) {
  auto policy = Policy();
  auto view = View({Ep("s1", "small"), Ep("s2", "small"), Ep("l1", "large")});
  std::vector<std::string> chosen;
  for (int i = 0; i < 4; ++i) {
    v1::RouteRequestResponse resp;
    ASSERT_TRUE(Route(policy.get(), view.get(), Req("small"), kNow, {}, &resp).ok());
    chosen.push_back(resp.target().endpoint_id());
    ASSERT_EQ(resp.fallbacks_size(), 2);
    EXPECT_NE(resp.fallbacks(0).endpoint_id(), resp.target().endpoint_id());
    EXPECT_EQ(resp.fallbacks(1).endpoint_id(), "l1");
    EXPECT_EQ(resp.policy_revision(), 7u);
    EXPECT_EQ(resp.decision_id().size(), 16u);
  }
  EXPECT_THAT(chosen, ::testing::ElementsAre("s1", "s2", "s1", "s2"));
}

TEST(RouterTest, AliasResolvesToCatalogModel) {
  auto policy = Policy();
  auto view = View({Ep("s1", "small")});
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(Route(policy.get(), view.get(), Req("auto"), kNow, {}, &resp).ok());
  EXPECT_EQ(resp.target().model(), "small");
  EXPECT_EQ(resp.target().upstream_model(), "small");
}

TEST(RouterTest, SkipsUnhealthyAndDrainingAndExplainsWhy) {
  auto policy = Policy();
  auto view = View({Ep("s1", "small", v1::HEALTH_STATE_UNHEALTHY),
                    Ep("s2", "small", v1::HEALTH_STATE_DRAINING),
                    Ep("s3", "small", v1::HEALTH_STATE_DEGRADED), Ep("s4", "small")});
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(Route(policy.get(), view.get(), Req("small", true), kNow, {}, &resp).ok());
  EXPECT_EQ(resp.target().endpoint_id(), "s4");  // healthy before degraded
  ASSERT_EQ(resp.fallbacks_size(), 1);
  EXPECT_EQ(resp.fallbacks(0).endpoint_id(), "s3");
  std::map<std::string, v1::CandidateStage> stages;
  for (const auto& c : resp.trace().candidates()) stages[c.endpoint_id()] = c.stage();
  EXPECT_EQ(stages["s1"], v1::CANDIDATE_STAGE_UNHEALTHY);
  EXPECT_EQ(stages["s2"], v1::CANDIDATE_STAGE_DRAINING);
  EXPECT_EQ(stages["s4"], v1::CANDIDATE_STAGE_SELECTED);
  EXPECT_EQ(stages[""], v1::CANDIDATE_STAGE_NO_ENDPOINT);  // "large" has no endpoint
}

TEST(RouterTest, FallsBackToNextModelWhenRequestedHasNoEndpoint) {
  auto policy = Policy();
  auto view = View({Ep("l1", "large")});
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(Route(policy.get(), view.get(), Req("small"), kNow, {}, &resp).ok());
  EXPECT_EQ(resp.target().model(), "large");
}

TEST(RouterTest, UnknownModelIsNotFoundNamingTheCatalog) {
  auto policy = Policy();
  auto view = View({});
  v1::RouteRequestResponse resp;
  absl::Status s = Route(policy.get(), view.get(), Req("gpt-9"), kNow, {}, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"gpt-9\" is not in the policy catalog"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("small, large, lonely"));
  // A huge name is not echoed back whole (the hardening review sent 1 MB).
  s = Route(policy.get(), view.get(), Req(std::string(1 << 20, 'x')), kNow, {}, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_LT(s.message().size(), 1000u);
}

TEST(RouterTest, NoUsableEndpointIsUnavailableWithReason) {
  auto policy = Policy();
  v1::RouteRequestResponse resp;
  auto empty = View({});
  absl::Status s = Route(policy.get(), empty.get(), Req("lonely"), kNow, {}, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), HasSubstr("no endpoint serves model \"lonely\""));
  auto down = View({Ep("x", "lonely", v1::HEALTH_STATE_UNHEALTHY)});
  s = Route(policy.get(), down.get(), Req("lonely"), kNow, {}, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), HasSubstr("all 1 endpoints"));
}

TEST(RouterTest, MissingPolicyOrInventoryIsUnavailable) {
  auto policy = Policy();
  v1::RouteRequestResponse resp;
  EXPECT_EQ(Route(nullptr, nullptr, Req("small"), kNow, {}, &resp).code(),
            absl::StatusCode::kUnavailable);
  absl::Status s = Route(policy.get(), nullptr, Req("small"), kNow, {}, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), HasSubstr("no inventory snapshot"));
}

TEST(RouterTest, StaleViewIsFlaggedAndExplained) {
  auto policy = Policy();
  auto view = View({Ep("s1", "small")}, kNow - absl::Minutes(5));
  RouterOptions options;
  options.stale_after = absl::Seconds(30);
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(Route(policy.get(), view.get(), Req("small", true), kNow, options, &resp).ok());
  EXPECT_TRUE(resp.inventory_stale());
  EXPECT_EQ(resp.inventory_age().seconds(), 300);
  ASSERT_EQ(resp.trace().notes_size(), 1);
  EXPECT_THAT(resp.trace().notes(0), HasSubstr("stale"));
}

TEST(RouterTest, FallbackPlanIsBounded) {
  auto policy = Policy();
  std::vector<v1::Endpoint> eps;
  for (int i = 0; i < 10; ++i) eps.push_back(Ep("s" + std::to_string(i), "small"));
  auto view = View(eps);
  RouterOptions options;
  options.max_fallbacks = 3;
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(Route(policy.get(), view.get(), Req("small"), kNow, options, &resp).ok());
  EXPECT_EQ(resp.fallbacks_size(), 3);
}

TEST(RouterTest, AnalysisUsesCallerTokenEstimate) {
  auto policy = Policy();
  auto view = View({Ep("s1", "small")});
  v1::RouteRequestRequest req = Req("small");
  req.mutable_prompt()->set_excerpt("short excerpt of a much longer prompt");
  req.mutable_prompt()->set_estimated_tokens(9000);
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(Route(policy.get(), view.get(), req, kNow, {}, &resp).ok());
  EXPECT_EQ(resp.analysis().estimated_tokens(), 9000u);
}

}  // namespace
}  // namespace llmrouter::decision

namespace llmrouter::decision {
namespace {

// Hardening review: every inventory update restarted round-robin at the first endpoint, so
// frequent updates sent most requests there.
TEST(RouterLoadBalancingTest, RoundRobinContinuesAcrossInventoryUpdates) {
  auto policy = Policy();
  v1::InventorySnapshot s;
  *s.add_endpoints() = Ep("s1", "small");
  *s.add_endpoints() = Ep("s2", "small");
  auto first = std::make_unique<InventoryView>(s, kNow);
  std::vector<std::string> chosen;
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(Route(policy.get(), first.get(), Req("small"), kNow, {}, &resp).ok());
  chosen.push_back(resp.target().endpoint_id());
  for (int update = 0; update < 3; ++update) {
    auto next = std::make_unique<InventoryView>(s, kNow, first.get());
    first = std::move(next);
    ASSERT_TRUE(Route(policy.get(), first.get(), Req("small"), kNow, {}, &resp).ok());
    chosen.push_back(resp.target().endpoint_id());
  }
  EXPECT_THAT(chosen, ::testing::ElementsAre("s1", "s2", "s1", "s2"));
}

// Hardening review: between two load updates least_outstanding saw the same figures and sent
// everything to one endpoint; decision now counts what it sent since.
TEST(RouterLoadBalancingTest, LeastOutstandingCountsItsOwnRequestsBetweenLoadUpdates) {
  auto bundle = ParsePolicyBundleOrError(R"(
models: [{name: small}]
rules:
  - name: lo
    then: {candidates: [small], endpoint_strategy: least_outstanding}
)");
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  auto policy = CompiledPolicy::Compile(*bundle, 1, "h");
  v1::Endpoint busy = Ep("s3", "small");
  busy.mutable_load()->set_requests_running(2);
  auto view = View({Ep("s1", "small"), Ep("s2", "small"), busy});
  std::map<std::string, int> count;
  for (int i = 0; i < 12; ++i) {
    v1::RouteRequestResponse resp;
    ASSERT_TRUE(Route(policy.get(), view.get(), Req("small"), kNow, {}, &resp).ok());
    ++count[resp.target().endpoint_id()];
  }
  // s1 and s2 fill up to s3's two running requests, then all three take turns: the loads
  // (running + sent) end within one of each other. Without the count, all 12 went to s1.
  const int loads[] = {count["s1"], count["s2"], count["s3"] + 2};
  EXPECT_LE(*std::max_element(loads, loads + 3) - *std::min_element(loads, loads + 3), 1)
      << count["s1"] << " " << count["s2"] << " " << count["s3"];
  EXPECT_GE(count["s3"], 2);
}

}  // namespace
}  // namespace llmrouter::decision
