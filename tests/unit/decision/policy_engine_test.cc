// Rules, tenants, constraints, splits and strategies, through Route().
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "services/decision/router.h"
#include "services/decision/why_not.h"
#include "tests/unit/decision/policy_fixtures.h"

namespace llmrouter::decision {
namespace {

using ::testing::HasSubstr;
namespace v1 = llmrouter::v1;

constexpr absl::Time kNow = absl::FromUnixSeconds(1700000000);

constexpr char kBundle[] = R"(
defaults:
  output_tokens: 100
models:
  - name: small
    aliases: [fast]
    capabilities: [chat]
    context_window: 4096
    price: {input_per_mtok: 0.1, output_per_mtok: 0.2}
    quality: 0.5
    data_policy: private
  - name: coder
    capabilities: [chat, code]
    context_window: 16384
    price: {input_per_mtok: 0.5, output_per_mtok: 1.0}
    quality: 0.7
    data_policy: private
  - name: frontier
    capabilities: [chat, code, legal, long-context]
    context_window: 128000
    price: {input_per_mtok: 5, output_per_mtok: 15}
    quality: 0.95
    data_policy: external
  - name: canary
    capabilities: [chat]
    context_window: 4096
    price: {input_per_mtok: 0.1, output_per_mtok: 0.2}
    quality: 0.5
    data_policy: private
tenants:
  - name: default
    allowed_models: [small, coder, canary]
  - name: acme
    default_tier: interactive
  - name: cheapskate
    allowed_models: [small, frontier]
    spend_limit: {usd: 10, period: month, over_limit: downgrade}
  - name: broke
    spend_limit: {usd: 10, period: day, over_limit: deny}
  - name: metered
    rate_limits: {window: 30s, requests: 100, per_api_key: {tokens: 5000}}
intents:
  - name: code
    keywords: [function, compile, stack trace]
    patterns: ['```']
  - name: legal
    keywords: [contract, liability, indemnify]
rules:
  - name: block-internal
    match: {headers: {x-env: {regex: "internal-.*"}}}
    then: {deny: "internal environments may not call the router"}
  - name: pii-stays-private
    match: {pii: true}
    then:
      candidates: [frontier, coder, small]
      constraints: {data_policy: private}
  - name: legal-to-frontier
    match: {intent: [legal], tenant: [acme]}
    then: {candidates: [frontier]}
  - name: code
    match: {model: [auto], intent: [code]}
    then:
      candidates: [coder, frontier]
      constraints: {max_cost_usd: 0.001}
  - name: canary-split
    match: {model: [small], tier: [batch]}
    then:
      split: [{model: small, weight: 90}, {model: canary, weight: 10}]
      sticky: session
  - name: auto-cheapest
    match: {model: [auto]}
    then: {candidates: [frontier, coder, small], strategy: cheapest}
)";

class PolicyEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    policy_ = CompileForTest(kBundle, 3, "h");
    ASSERT_TRUE(policy_);
    v1::InventorySnapshot s;
    s.set_version(1);
    for (const char* m : {"small", "coder", "frontier", "canary"}) {
      AddHealthyEndpoint(&s, m, std::string(m) + "-1");
    }
    view_ = std::make_unique<InventoryView>(s, kNow);
  }

  absl::Status RouteIt(const v1::RouteRequestRequest& req, v1::RouteRequestResponse* resp,
                       const SpendLedger* ledger = nullptr) {
    RouterOptions o;
    o.ledger = ledger;
    return Route(policy_.get(), view_.get(), req, kNow, o, resp);
  }

  static v1::RouteRequestRequest Req(const std::string& model, const std::string& tenant,
                                     const std::string& prompt) {
    v1::RouteRequestRequest r;
    r.set_model(model);
    r.set_tenant(tenant);
    r.mutable_prompt()->set_excerpt(prompt);
    r.set_explain(true);
    return r;
  }

  std::shared_ptr<const CompiledPolicy> policy_;
  std::unique_ptr<InventoryView> view_;
};

TEST_F(PolicyEngineTest, CodeIntentRoutesAutoToCoderWithinCostCap) {
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(RouteIt(Req("auto", "acme", "Why does this function not compile?"), &resp).ok());
  EXPECT_EQ(resp.target().model(), "coder");
  EXPECT_EQ(resp.policy_rule(), "code");
  EXPECT_THAT(resp.analysis().intents(), ::testing::ElementsAre("code"));
  EXPECT_GT(resp.estimated_cost_usd(), 0);
  // frontier is over the cap and says so in the trace.
  bool frontier_over_cap = false;
  for (const auto& c : resp.trace().candidates()) {
    if (c.model() == "frontier") {
      frontier_over_cap = c.stage() == v1::CANDIDATE_STAGE_OVER_COST_CAP;
      EXPECT_THAT(c.detail(), HasSubstr("exceeds max_cost_usd"));
    }
  }
  EXPECT_TRUE(frontier_over_cap);
  // The rules before "code" were evaluated and say why they did not match.
  ASSERT_GE(resp.trace().rules_size(), 4);
  EXPECT_THAT(resp.trace().rules(0).failed_condition(),
              HasSubstr("match.headers.x-env: header absent"));
  EXPECT_THAT(resp.trace().rules(1).failed_condition(), HasSubstr("match.pii"));
  EXPECT_TRUE(resp.trace().rules(3).matched());
}

TEST_F(PolicyEngineTest, HeaderRegexDenies) {
  v1::RouteRequestRequest req = Req("auto", "acme", "hi");
  (*req.mutable_headers())["x-env"] = "internal-staging";
  v1::RouteRequestResponse resp;
  absl::Status s = RouteIt(req, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("denied by rule \"block-internal\""));
  (*req.mutable_headers())["x-env"] = "prod";
  EXPECT_TRUE(RouteIt(req, &resp).ok());
}

TEST_F(PolicyEngineTest, PiiKeepsPromptOnPrivateModels) {
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(
      RouteIt(Req("auto", "acme", "My card is 4111 1111 1111 1111, please help"), &resp).ok());
  EXPECT_EQ(resp.policy_rule(), "pii-stays-private");
  EXPECT_EQ(resp.target().model(), "coder");
  EXPECT_THAT(resp.analysis().pii_kinds(), ::testing::Contains("card"));
  EXPECT_EQ(resp.trace().candidates(0).model(), "frontier");
  EXPECT_EQ(resp.trace().candidates(0).stage(), v1::CANDIDATE_STAGE_DATA_POLICY);
}

TEST_F(PolicyEngineTest, TenantRulesAndAllowedModels) {
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(RouteIt(Req("auto", "acme", "Review this contract for liability"), &resp).ok());
  EXPECT_EQ(resp.target().model(), "frontier");
  EXPECT_EQ(resp.policy_rule(), "legal-to-frontier");
  // An unknown tenant falls back to "default", which may not use frontier: cheapest is small.
  v1::RouteRequestResponse other;
  ASSERT_TRUE(RouteIt(Req("auto", "stranger", "Review this contract for liability"), &other).ok());
  EXPECT_EQ(other.policy_rule(), "auto-cheapest");
  EXPECT_EQ(other.target().model(), "small");
  // Asking for frontier directly as default tenant is refused with the reason.
  v1::RouteRequestResponse denied;
  absl::Status s = RouteIt(Req("frontier", "stranger", "hello"), &denied);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("TENANT_NOT_ALLOWED"));
}

TEST_F(PolicyEngineTest, ContextTooSmallIsExplained) {
  v1::RouteRequestRequest req = Req("fast", "acme", "summarise");
  req.mutable_prompt()->set_estimated_tokens(10000);
  v1::RouteRequestResponse resp;
  absl::Status s = RouteIt(req, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("CONTEXT_TOO_SMALL"));
}

// The gateway enforces a tenant's rate limits; decision sends them with every answer, under
// the tenant's name as resolved, and nothing for tenants without limits.
TEST_F(PolicyEngineTest, RateLimitsTravelWithTheAnswer) {
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(RouteIt(Req("small", "metered", "hi"), &resp).ok());
  ASSERT_TRUE(resp.has_rate_limits());
  EXPECT_EQ(resp.rate_limits().tenant(), "metered");
  EXPECT_EQ(resp.rate_limits().window().seconds(), 30);
  EXPECT_EQ(resp.rate_limits().tenant_limits().requests(), 100u);
  EXPECT_EQ(resp.rate_limits().tenant_limits().tokens(), 0u);
  EXPECT_EQ(resp.rate_limits().per_api_key().tokens(), 5000u);
  v1::RouteRequestResponse none;
  ASSERT_TRUE(RouteIt(Req("small", "acme", "hi"), &none).ok());
  EXPECT_FALSE(none.has_rate_limits());
}

TEST_F(PolicyEngineTest, UnknownTenantWithoutDefaultIsDenied) {
  auto bundle = ParsePolicyBundleOrError("models: [{name: m}]\ntenants: [{name: a}]\n");
  ASSERT_TRUE(bundle.ok());
  auto policy = CompiledPolicy::Compile(*bundle, 1, "h");
  v1::RouteRequestResponse resp;
  absl::Status s = Route(policy.get(), view_.get(), Req("m", "zed", ""), kNow, {}, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("tenant \"zed\" is not in the policy"));
}

TEST_F(PolicyEngineTest, StickySplitKeepsSessionsAndHoldsRatio) {
  std::map<std::string, int> counts;
  for (int i = 0; i < 10000; ++i) {
    v1::RouteRequestRequest req = Req("small", "acme", "");
    req.set_explain(false);
    req.set_priority(v1::PRIORITY_TIER_BATCH);
    req.set_session_key("session-" + std::to_string(i));
    v1::RouteRequestResponse first, again;
    ASSERT_TRUE(RouteIt(req, &first).ok());
    ASSERT_TRUE(RouteIt(req, &again).ok());
    ASSERT_EQ(first.target().model(), again.target().model()) << "session moved";
    EXPECT_EQ(first.policy_rule(), "canary-split");
    ++counts[first.target().model()];
    // The other track is the fallback.
    ASSERT_GE(first.fallbacks_size(), 1);
    EXPECT_NE(first.fallbacks(0).model(), first.target().model());
  }
  EXPECT_NEAR(counts["canary"] / 10000.0, 0.10, 0.015);
  EXPECT_NEAR(counts["small"] / 10000.0, 0.90, 0.015);
}

TEST_F(PolicyEngineTest, CheapestStrategyRanksByEstimatedCost) {
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(RouteIt(Req("auto", "acme", "Tell me a story about a lighthouse."), &resp).ok());
  EXPECT_EQ(resp.policy_rule(), "auto-cheapest");
  EXPECT_EQ(resp.target().model(), "small");
  ASSERT_EQ(resp.fallbacks_size(), 2);
  EXPECT_EQ(resp.fallbacks(0).model(), "coder");
  EXPECT_EQ(resp.fallbacks(1).model(), "frontier");
}

class FixedLedger : public SpendLedger {
 public:
  explicit FixedLedger(double spent) : spent_(spent) {}
  double Spent(absl::string_view, absl::string_view) const override { return spent_; }

 private:
  double spent_;
};

TEST_F(PolicyEngineTest, BudgetsDowngradeOrDeny) {
  FixedLedger over(11), under(1);
  v1::RouteRequestResponse resp;
  ASSERT_TRUE(RouteIt(Req("frontier", "cheapskate", "hi"), &resp, &under).ok());
  EXPECT_EQ(resp.target().model(), "frontier");
  // Over the limit with "downgrade": only the cheapest allowed candidate remains.
  v1::RouteRequestResponse down;
  ASSERT_TRUE(RouteIt(Req("auto", "cheapskate", "tell me a story"), &down, &over).ok());
  EXPECT_EQ(down.target().model(), "small");
  v1::RouteRequestResponse denied;
  absl::Status s = RouteIt(Req("auto", "broke", "hi"), &denied, &over);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("over its spending limit"));
  // The notes tell the service what to count (llmrouter_decision_budget_limited_routes_total).
  RouterOptions o;
  o.ledger = &over;
  RouteNotes notes;
  v1::RouteRequestResponse noted;
  ASSERT_TRUE(
      Route(policy_.get(), view_.get(), Req("auto", "cheapskate", "story"), kNow, o, &noted, &notes)
          .ok());
  EXPECT_EQ(notes.budget_action, "downgrade");
  EXPECT_EQ(notes.tenant, "cheapskate");
  RouteNotes none;
  ASSERT_TRUE(
      Route(policy_.get(), view_.get(), Req("auto", "acme", "story"), kNow, o, &noted, &none).ok());
  EXPECT_TRUE(none.budget_action.empty());
}

TEST_F(PolicyEngineTest, WhyNotNamesTheStageAndRule) {
  auto answer =
      WhyNot(policy_.get(), view_.get(), Req("auto", "acme", "Why does this function not compile?"),
             "frontier", kNow, {});
  ASSERT_TRUE(answer.ok());
  EXPECT_FALSE(answer->would_be_chosen());
  EXPECT_EQ(answer->stage(), v1::CANDIDATE_STAGE_OVER_COST_CAP);
  EXPECT_EQ(answer->rule(), "code");
  EXPECT_EQ(answer->chosen_model(), "coder");
  EXPECT_THAT(answer->detail(), HasSubstr("max_cost_usd"));

  auto chosen =
      WhyNot(policy_.get(), view_.get(), Req("auto", "acme", "Why does this function not compile?"),
             "coder", kNow, {});
  ASSERT_TRUE(chosen.ok());
  EXPECT_TRUE(chosen->would_be_chosen());

  auto not_listed =
      WhyNot(policy_.get(), view_.get(), Req("auto", "acme", "Why does this function not compile?"),
             "canary", kNow, {});
  ASSERT_TRUE(not_listed.ok());
  EXPECT_EQ(not_listed->stage(), v1::CANDIDATE_STAGE_NOT_IN_RULE);
  EXPECT_THAT(not_listed->detail(), HasSubstr("rule \"code\" matched first"));

  auto unknown = WhyNot(policy_.get(), view_.get(), Req("auto", "acme", "x"), "gpt-9", kNow, {});
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->stage(), v1::CANDIDATE_STAGE_UNKNOWN_MODEL);
  EXPECT_FALSE(unknown->chosen_model().empty());
}

TEST_F(PolicyEngineTest, WhyNotExplainsALowerRankedModel) {
  auto answer =
      WhyNot(policy_.get(), view_.get(), Req("auto", "acme", "Tell me a story about a lighthouse."),
             "coder", kNow, {});
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->stage(), v1::CANDIDATE_STAGE_LOWER_SCORE);
  EXPECT_EQ(answer->rule(), "auto-cheapest");
  EXPECT_THAT(answer->detail(), HasSubstr("\"coder\" ranks below \"small\""));
}

TEST_F(PolicyEngineTest, UnhealthyEndpointIsWhyNot) {
  v1::InventorySnapshot s;
  auto* e = s.add_endpoints();
  e->set_id("coder-1");
  e->set_model("coder");
  e->set_address("h:1");
  e->set_health(v1::HEALTH_STATE_UNHEALTHY);
  auto* f = s.add_endpoints();
  f->set_id("frontier-1");
  f->set_model("frontier");
  f->set_address("h:1");
  f->set_health(v1::HEALTH_STATE_HEALTHY);
  InventoryView view(s, kNow);
  auto answer = WhyNot(policy_.get(), &view, Req("coder", "acme", "hello"), "coder", kNow, {});
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->stage(), v1::CANDIDATE_STAGE_UNHEALTHY);
  EXPECT_THAT(answer->detail(), HasSubstr("coder-1"));
}

}  // namespace
}  // namespace llmrouter::decision
