// The router analyses a prompt only when the policy needs it (lazy_prompt_signals.h), and then
// at most once per request; the response's analysis.analysed says whether it ran.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/decision/router.h"

namespace llmrouter::decision {
namespace {

namespace v1 = llmrouter::v1;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr absl::Time kNow = absl::FromUnixSeconds(1700000000);

constexpr char kBundle[] = R"(
models:
  - {name: small}
  - {name: large}
  - {name: private, data_policy: private}
intents:
  - {name: code, keywords: [function]}
  - {name: math, keywords: [integral]}
rules:
  - name: code-to-large
    match: {model: [auto], intent: [code]}
    then: {candidates: [large]}
  - name: hard-to-large
    match: {model: [auto], complexity: {min: 0.9}}
    then: {candidates: [large]}
  - name: math-to-large
    match: {model: [auto], intent: [math]}
    then: {candidates: [large]}
  - name: pii-for-private
    match: {model: [private], pii: true}
    then: {candidates: [private]}
  - name: keep-private
    match: {model: [guarded]}
    then: {candidates: [private, small], constraints: {data_policy: private}}
  - name: long-to-large
    match: {model: [small], tokens: {min: 100000}}
    then: {candidates: [large]}
  - name: auto-default
    match: {model: [auto]}
    then: {candidates: [small]}
)";

class RouterLazinessTest : public ::testing::Test {
 protected:
  RouterLazinessTest() {
    auto bundle = ParsePolicyBundleOrError(kBundle);
    EXPECT_TRUE(bundle.ok()) << bundle.status();
    policy_ = CompiledPolicy::Compile(*bundle, 1, "h");
    v1::InventorySnapshot s;
    for (const char* model : {"small", "large", "private"}) {
      v1::Endpoint* e = s.add_endpoints();
      e->set_id(std::string(model) + "-1");
      e->set_model(model);
      e->set_address("10.0.0.1:80");
      e->set_health(v1::HEALTH_STATE_HEALTHY);
    }
    view_ = std::make_unique<InventoryView>(s, kNow);
  }

  v1::RouteRequestResponse RouteIt(const std::string& model, const std::string& prompt,
                                   bool explain = false, uint32_t caller_tokens = 0) {
    v1::RouteRequestRequest req;
    req.set_model(model);
    req.set_explain(explain);
    req.mutable_prompt()->set_excerpt(prompt);
    req.mutable_prompt()->set_estimated_tokens(caller_tokens);
    v1::RouteRequestResponse resp;
    absl::Status s = Route(policy_.get(), view_.get(), req, kNow, {}, &resp);
    EXPECT_TRUE(s.ok()) << s;
    return resp;
  }

  std::shared_ptr<const CompiledPolicy> policy_;
  std::unique_ptr<InventoryView> view_;
};

TEST_F(RouterLazinessTest, ExplicitModelWithoutPromptConditionsIsNotAnalysed) {
  v1::RouteRequestResponse resp = RouteIt("small",
                                          "Write a function; my card is 4111 1111 1111 "
                                          "1111",
                                          /*explain=*/false, 40);
  EXPECT_EQ(resp.target().model(), "small");
  EXPECT_FALSE(resp.analysis().analysed());
  // Only what was needed is reported: the caller's estimate, no intents or PII.
  EXPECT_EQ(resp.analysis().estimated_tokens(), 40u);
  EXPECT_THAT(resp.analysis().intents(), IsEmpty());
  EXPECT_THAT(resp.analysis().pii_kinds(), IsEmpty());
}

TEST_F(RouterLazinessTest, ATokenConditionUsesTheEstimateWithoutAnalysing) {
  v1::RouteRequestResponse resp = RouteIt("small", "a short prompt with no estimate");
  EXPECT_FALSE(resp.analysis().analysed()) << "the token estimator alone runs";
  EXPECT_GT(resp.analysis().estimated_tokens(), 0u);
}

TEST_F(RouterLazinessTest, AnIntentConditionAnalysesOnceForAllRules) {
  v1::RouteRequestResponse resp = RouteIt("auto", "Compute this integral");
  EXPECT_EQ(resp.policy_rule(), "math-to-large");
  EXPECT_TRUE(resp.analysis().analysed());
  EXPECT_THAT(resp.analysis().intents(), ElementsAre("math"));
}

TEST_F(RouterLazinessTest, ExplainAnalyses) {
  v1::RouteRequestResponse resp = RouteIt("small", "Write a function", /*explain=*/true);
  EXPECT_TRUE(resp.analysis().analysed());
  EXPECT_THAT(resp.analysis().intents(), ElementsAre("code"));
}

// A pii condition or a data policy that a candidate does not meet looks for PII, and for
// nothing else: the intents, complexity and classifier are not computed for it.
TEST_F(RouterLazinessTest, PiiConditionsAndDataPoliciesLookForPiiAlone) {
  v1::RouteRequestResponse resp = RouteIt("private", "card 4111 1111 1111 1111");
  EXPECT_EQ(resp.policy_rule(), "pii-for-private");
  EXPECT_THAT(resp.analysis().pii_kinds(), ElementsAre("card"));
  EXPECT_FALSE(resp.analysis().analysed());
  resp = RouteIt("guarded", "card 4111 1111 1111 1111");
  EXPECT_EQ(resp.target().model(), "private");
  EXPECT_FALSE(resp.analysis().analysed());
  EXPECT_THAT(resp.analysis().pii_kinds(), ElementsAre("card"));
}

// An intent condition analyses the prompt without looking for PII (regex passes over the
// whole excerpt), unless explain asks for the whole picture.
TEST_F(RouterLazinessTest, AnIntentConditionDoesNotLookForPiiButExplainDoes) {
  v1::RouteRequestResponse resp =
      RouteIt("auto", "Compute this integral for card 4111 1111 1111 1111");
  EXPECT_TRUE(resp.analysis().analysed());
  EXPECT_THAT(resp.analysis().pii_kinds(), ::testing::IsEmpty());
  resp = RouteIt("auto", "Compute this integral for card 4111 1111 1111 1111", /*explain=*/true);
  EXPECT_THAT(resp.analysis().pii_kinds(), ElementsAre("card"));
}

}  // namespace
}  // namespace llmrouter::decision
