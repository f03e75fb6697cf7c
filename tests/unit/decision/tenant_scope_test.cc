#include "services/decision/tenant_scope.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/decision/router.h"

namespace llmrouter::decision {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Each;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
namespace v1 = llmrouter::v1;

constexpr absl::Time kNow = absl::FromUnixSeconds(1700000000);

// Two tenants with rules of their own, a header rule with a secret, and a rule for everyone.
std::shared_ptr<const CompiledPolicy> Policy() {
  auto bundle = ParsePolicyBundleOrError(R"(
models:
  - name: small
  - name: large
tenants:
  - name: default
  - name: batchco
    allowed_tiers: [standard, batch]
    default_tier: batch
  - name: rival
  - name: auditor
    explain: full
  - name: roamer
    client_region: trusted
  - name: quiet
    explain: "off"
rules:
  - name: rival-vip
    match: {tenant: [rival]}
    then: {candidates: [large]}
  - name: internal-key
    match: {headers: {x-internal-key: topsecret-42}}
    then: {candidates: [large]}
  - name: interactive-large
    match: {tier: [interactive]}
    then: {candidates: [large]}
  - name: us-large
    match: {region: [us-east-1]}
    then: {candidates: [large]}
  - name: everyone
    then: {candidates: [small, large]}
)");
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return CompiledPolicy::Compile(*bundle, 3, "hash");
}

std::unique_ptr<InventoryView> View() {
  v1::InventorySnapshot s;
  s.set_version(1);
  for (const char* m : {"small", "large"}) {
    for (int i = 0; i < 2; ++i) {
      v1::Endpoint* e = s.add_endpoints();
      e->set_id(absl::StrCat(m, "-", i));
      e->set_model(m);
      e->set_address(absl::StrCat(m, i, ":80"));
      e->set_health(v1::HEALTH_STATE_HEALTHY);
    }
  }
  return std::make_unique<InventoryView>(s, kNow);
}

v1::RouteRequestRequest Req(const std::string& tenant) {
  v1::RouteRequestRequest r;
  r.set_model("small");
  r.set_tenant(tenant);
  r.set_explain(true);
  return r;
}

TEST(TenantScopeTest, TierIsLoweredToWhatTheTenantAllows) {
  auto policy = Policy();
  const TenantSpec* batchco = policy->Tenant("batchco");
  EXPECT_EQ(TierFor(batchco, v1::PRIORITY_TIER_INTERACTIVE).tier, "standard");
  EXPECT_TRUE(TierFor(batchco, v1::PRIORITY_TIER_INTERACTIVE).lowered());
  EXPECT_EQ(TierFor(batchco, v1::PRIORITY_TIER_BATCH).tier, "batch");
  EXPECT_EQ(TierFor(batchco, v1::PRIORITY_TIER_UNSPECIFIED).tier, "batch") << "its default";
  EXPECT_FALSE(TierFor(batchco, v1::PRIORITY_TIER_UNSPECIFIED).lowered());
  EXPECT_EQ(TierFor(policy->Tenant("default"), v1::PRIORITY_TIER_INTERACTIVE).tier, "interactive");
  EXPECT_EQ(TierFor(nullptr, v1::PRIORITY_TIER_UNSPECIFIED).tier, "standard");
  TenantSpec only_interactive;
  only_interactive.allowed_tiers = {"interactive"};
  EXPECT_EQ(TierFor(&only_interactive, v1::PRIORITY_TIER_BATCH).tier, "interactive")
      << "nothing allowed at or below the request: the lowest allowed tier";
}

TEST(TenantScopeTest, ABatchTenantAskingForInteractiveDoesNotGetTheInteractiveRule) {
  auto policy = Policy();
  auto view = View();
  v1::RouteRequestRequest req = Req("batchco");
  req.set_priority(v1::PRIORITY_TIER_INTERACTIVE);
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(Route(policy.get(), view.get(), req, kNow, {}, &resp).ok());
  EXPECT_EQ(resp.policy_rule(), "everyone");
  EXPECT_THAT(resp.trace().notes(),
              Contains(HasSubstr("tier lowered from interactive to standard: tenant \"batchco\" "
                                 "allows standard, batch")));
  req.set_tenant("default");
  resp.Clear();
  ASSERT_TRUE(Route(policy.get(), view.get(), req, kNow, {}, &resp).ok());
  EXPECT_EQ(resp.policy_rule(), "interactive-large");
}

TEST(TenantScopeTest, ClientRegionCountsOnlyForTrustedTenants) {
  auto policy = Policy();
  auto view = View();
  v1::RouteRequestRequest req = Req("default");
  req.set_region("eu-west-1");
  req.set_client_region("us-east-1");
  EXPECT_EQ(RegionFor(policy->Tenant("default"), req).region, "eu-west-1");
  EXPECT_TRUE(RegionFor(policy->Tenant("default"), req).client_ignored);
  EXPECT_EQ(RegionFor(policy->Tenant("roamer"), req).region, "us-east-1");
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(Route(policy.get(), view.get(), req, kNow, {}, &resp).ok());
  EXPECT_EQ(resp.policy_rule(), "everyone");
  EXPECT_THAT(resp.trace().notes(),
              Contains(HasSubstr("client region \"us-east-1\" ignored: tenant \"default\"")));
  req.set_tenant("roamer");
  resp.Clear();
  ASSERT_TRUE(Route(policy.get(), view.get(), req, kNow, {}, &resp).ok());
  EXPECT_EQ(resp.policy_rule(), "us-large");
}

std::vector<std::string> RuleNames(const v1::RouteTrace& trace) {
  std::vector<std::string> out;
  for (const auto& r : trace.rules()) out.push_back(r.rule() + " " + r.failed_condition());
  return out;
}

TEST(TenantScopeTest, OwnTraceHidesOtherTenantsRulesAndHeaderSecrets) {
  auto policy = Policy();
  auto view = View();
  v1::RouteRequestRequest req = Req("default");
  (*req.mutable_headers())["x-internal-key"] = "wrong";
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(Route(policy.get(), view.get(), req, kNow, {}, &resp).ok());
  // The full trace has it all.
  EXPECT_THAT(RuleNames(resp.trace()), Contains(HasSubstr("rival")));
  EXPECT_THAT(RuleNames(resp.trace()), Contains(HasSubstr("topsecret-42")));
  ApplyExplainPolicy(*policy, req, /*caller_is_admin=*/false, &resp);
  std::vector<std::string> names = RuleNames(resp.trace());
  EXPECT_THAT(names, Each(AllOf(Not(HasSubstr("rival")), Not(HasSubstr("topsecret-42")))));
  EXPECT_THAT(names, Contains("internal-key match.headers.x-internal-key: does not match"));
  EXPECT_THAT(names, Contains("everyone "));
  // The chosen endpoint and the fallbacks stay; other endpoints go.
  for (const v1::CandidateEvaluation& c : resp.trace().candidates()) {
    if (!c.endpoint_id().empty()) {
      EXPECT_TRUE(c.stage() == v1::CANDIDATE_STAGE_SELECTED ||
                  c.stage() == v1::CANDIDATE_STAGE_FALLBACK)
          << c.ShortDebugString();
    }
  }
  EXPECT_THAT(
      resp.trace().candidates(),
      Contains(::testing::Property(&v1::CandidateEvaluation::stage, v1::CANDIDATE_STAGE_SELECTED)));
}

TEST(TenantScopeTest, ExplainFullOffAndAdmin) {
  auto policy = Policy();
  auto view = View();
  auto routed = [&](const std::string& tenant, bool admin) {
    v1::RouteRequestRequest req = Req(tenant);
    v1::RouteRequestResponse resp;
    EXPECT_TRUE(Route(policy.get(), view.get(), req, kNow, {}, &resp).ok());
    ApplyExplainPolicy(*policy, req, admin, &resp);
    return resp;
  };
  EXPECT_THAT(RuleNames(routed("auditor", false).trace()), Contains(HasSubstr("rival-vip")));
  EXPECT_THAT(RuleNames(routed("rival", false).trace()), Contains(HasSubstr("rival-vip")))
      << "its own rule";
  EXPECT_FALSE(routed("quiet", false).has_trace());
  EXPECT_THAT(RuleNames(routed("quiet", true).trace()), Contains(HasSubstr("rival-vip")));
  EXPECT_THAT(RuleNames(routed("default", true).trace()), Contains(HasSubstr("rival-vip")));
  EXPECT_THAT(RuleNames(routed("default", false).trace()), Not(Contains(HasSubstr("rival-vip"))));
}

TEST(TenantScopeTest, BundleFieldsAreValidated) {
  PolicyBundle b;
  std::vector<std::string> lines;
  for (const auto& p : ParsePolicyBundle(R"(
models: [{name: m}]
tenants:
  - {name: a, allowed_tiers: [standard, urgent], default_tier: interactive, client_region: maybe,
     explain: all}
)",
                                         &b)) {
    lines.push_back(p.path + ": " + p.message);
  }
  EXPECT_THAT(lines, Contains(HasSubstr("tenants[0].allowed_tiers[1]: \"urgent\" is not one of")));
  EXPECT_THAT(lines, Contains("tenants[0].default_tier: \"interactive\" is not in allowed_tiers"));
  EXPECT_THAT(lines, Contains(HasSubstr("tenants[0].client_region: \"maybe\" is not one of")));
  EXPECT_THAT(lines,
              Contains(HasSubstr("tenants[0].explain: \"all\" is not one of own, full, off")));
  EXPECT_THAT(lines, Not(IsEmpty()));
}

}  // namespace
}  // namespace llmrouter::decision
