// The bundle parser's parts one by one: the typed readers and each section's reader, apart from
// ParsePolicyBundle (policy_bundle_test.cc covers the whole).
#include "services/decision/bundle_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace llmrouter::decision {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class BundleReaderTest : public ::testing::Test {
 protected:
  std::vector<std::string> Lines() const {
    std::vector<std::string> out;
    for (const BundleProblem& p : problems_) out.push_back(p.path + ": " + p.message);
    return out;
  }
  std::vector<BundleProblem> problems_;
  BundleReader r_{&problems_};
};

TEST_F(BundleReaderTest, TypedReadersLocateWhatDoesNotFit) {
  const YAML::Node n = YAML::Load(R"({s: "", list: [a, 7, [x]], num: 12, flag: maybe,
                                      level: loud, range: {min: 3, max: 1}, extra: 1})");
  EXPECT_FALSE(r_.Map(n["s"], "m", {"a"}));
  EXPECT_TRUE(r_.Map(n, "", {"s", "list", "num", "flag", "level", "range"}));
  std::string s;
  EXPECT_FALSE(r_.String(n["s"], "s", &s));
  EXPECT_FALSE(r_.String(n["absent"], "absent", &s));
  std::vector<std::string> list;
  r_.Strings(n["list"], "list", &list);
  EXPECT_THAT(list, ElementsAre("a", "7"));
  double d = 0;
  EXPECT_FALSE(r_.Number(n["num"], "num", 0, 10, &d));
  bool b = false;
  EXPECT_FALSE(r_.Bool(n["flag"], "flag", &b));
  std::string level = "quiet";
  r_.Enum(n["level"], "level", {"quiet", "normal"}, &level);
  EXPECT_EQ(level, "quiet");
  Range range;
  r_.RangeOf(n["range"], "range", 0, 10, &range);
  EXPECT_THAT(
      Lines(),
      ElementsAre("m: must be a mapping",
                  "extra: unknown field (known: s, list, num, flag, level, range)",
                  "s: must be a non-empty string", "list[2]: must be a non-empty string",
                  "num: 12 is out of range [0, 10]", "flag: must be true or false",
                  "level: \"loud\" is not one of quiet, normal", "range: min is greater than max"));
}

TEST_F(BundleReaderTest, CatalogSections) {
  ModelSpec model;
  ReadModel(r_, YAML::Load("{name: m, price: {input_per_mtok: 1}, quality: 0.5}"), "models[0]",
            &model);
  EXPECT_EQ(model.input_price_per_mtok, 1);
  EXPECT_EQ(model.quality, 0.5);
  TenantSpec tenant;
  ReadTenant(r_, YAML::Load("{name: t, allowed_tiers: [batch], client_region: trusted}"),
             "tenants[0]", &tenant);
  EXPECT_THAT(tenant.allowed_tiers, ElementsAre("batch"));
  EXPECT_TRUE(tenant.trust_client_region);
  EXPECT_EQ(tenant.explain, "own");
  IntentSpec intent;
  ReadIntent(r_, YAML::Load("{name: i}"), "intents[0]", &intent);
  EXPECT_THAT(Lines(), ElementsAre("intents[0]: needs keywords or patterns"));
}

TEST_F(BundleReaderTest, IntentScope) {
  IntentSpec plain, wide, bad;
  ReadIntent(r_, YAML::Load("{name: a, keywords: [x]}"), "intents[0]", &plain);
  EXPECT_EQ(plain.scope, IntentScope::kLastMessage);
  ReadIntent(r_, YAML::Load("{name: b, keywords: [x], scope: conversation}"), "intents[1]", &wide);
  EXPECT_EQ(wide.scope, IntentScope::kConversation);
  EXPECT_THAT(Lines(), ::testing::IsEmpty());
  ReadIntent(r_, YAML::Load("{name: c, keywords: [x], scope: everything}"), "intents[2]", &bad);
  EXPECT_THAT(Lines(), ElementsAre("intents[2].scope: \"everything\" is not one of last_message, "
                                   "conversation"));
}

TEST_F(BundleReaderTest, RuleSections) {
  RuleMatch match;
  ReadRuleMatch(r_, YAML::Load("{tier: [batch], headers: {X-Team: search}}"), "rules[0].match",
                &match);
  ASSERT_EQ(match.headers.size(), 1u);
  EXPECT_EQ(match.headers[0].name, "x-team");
  RuleAction action;
  ReadRuleAction(r_, YAML::Load("{split: [{model: a, weight: 60}, {model: b, weight: 40}]}"),
                 "rules[0].then", &action);
  EXPECT_EQ(action.split.size(), 2u);
  EXPECT_THAT(Lines(), IsEmpty());
  RuleAction bad;
  ReadRuleAction(r_, YAML::Load("{shed: {tiers: [batch]}}"), "rules[1].then", &bad);
  EXPECT_THAT(Lines(), ElementsAre("rules[1].then.shed: needs queue_above or kv_above",
                                   "rules[1].then: needs candidates, split or deny"));
}

TEST_F(BundleReaderTest, TestCasesAndReferences) {
  BundleTest test;
  ReadBundleTest(r_, YAML::Load("{name: t, request: {model: a, tier: batch}, expect: {model: a}}"),
                 "tests[0]", &test);
  EXPECT_EQ(test.request.tier, "batch");
  EXPECT_THAT(Lines(), IsEmpty());
  PolicyBundle bundle;
  bundle.models.push_back({.name = "a"});
  bundle.tests.push_back(test);
  bundle.tests.back().expect_model = "ghost";
  CheckBundleReferences(bundle, r_);
  EXPECT_THAT(Lines(), ElementsAre(HasSubstr("tests[0].expect.model: unknown model \"ghost\"")));
}

}  // namespace
}  // namespace llmrouter::decision
