#include "services/decision/policy_lint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/decision/bundle_tester.h"
#include "services/decision/compiled_policy.h"

namespace llmrouter::decision {
namespace {

using ::testing::HasSubstr;
namespace v1 = llmrouter::v1;

std::vector<std::string> Checks(const std::string& yaml) {
  std::vector<std::string> out;
  for (const auto& f : LintPolicyBundle(yaml))
    out.push_back(f.check() + " " + f.path() + ": " + f.message());
  return out;
}

TEST(PolicyLintTest, ShadowedRule) {
  auto checks = Checks(R"(
models: [{name: a}, {name: b}]
tenants: [{name: t1}, {name: t2}]
rules:
  - {name: everyone, match: {model: ["*"]}, then: {candidates: [a]}}
  - {name: only-t1, match: {tenant: [t1]}, then: {candidates: [b]}}
)");
  EXPECT_THAT(checks, ::testing::Contains(
                          HasSubstr("shadowed-rule rules[1]: rule \"only-t1\" can never match")));
}

TEST(PolicyLintTest, ConflictingOverlapButNotSpecificBeforeGeneral) {
  auto checks = Checks(R"(
models: [{name: a}, {name: b}]
tenants: [{name: t1}, {name: t2}]
rules:
  - {name: t1-interactive, match: {tenant: [t1], tier: [interactive]}, then: {candidates: [a]}}
  - {name: t1-or-t2, match: {tenant: [t1, t2]}, then: {candidates: [b]}}
  - {name: by-region, match: {region: [eu]}, then: {candidates: [a]}}
  - {name: batch, match: {tier: [batch]}, then: {candidates: [b]}}
)");
  // t1-interactive is a special case of t1-or-t2: intended, no warning for that pair.
  for (const auto& c : checks)
    EXPECT_THAT(c, ::testing::Not(HasSubstr("\"t1-interactive\" and \"t1-or-t2\"")));
  EXPECT_THAT(checks, ::testing::Contains(HasSubstr(
                          "conflicting-overlap rules[3]: rules \"by-region\" and \"batch\"")));
}

TEST(PolicyLintTest, EmptyCandidatesAndTieBreak) {
  auto checks = Checks(R"(
models:
  - {name: a, quality: 0.3, price: {input_per_mtok: 1, output_per_mtok: 1}}
  - {name: b, quality: 0.4, price: {input_per_mtok: 1, output_per_mtok: 1}}
rules:
  - {name: picky, match: {tier: [batch]}, then: {candidates: [a, b], constraints: {min_quality: 0.9}}}
  - {name: cheap, match: {model: ["*"]}, then: {candidates: [a, b], strategy: cheapest}}
)");
  EXPECT_THAT(checks, ::testing::Contains(HasSubstr(
                          "empty-candidates rules[0].then: rule \"picky\" can never route")));
  EXPECT_THAT(checks, ::testing::Contains(HasSubstr("tie-break rules[1].then.strategy")));
}

TEST(PolicyLintTest, ValidationProblemsAreErrors) {
  auto findings = LintPolicyBundle(R"(
models: [{name: a}]
rules:
  - name: r
    then: {split: [{model: a, weight: 60}, {model: ghost, weight: 30}]}
)");
  std::vector<std::string> msgs;
  for (const auto& f : findings) {
    EXPECT_EQ(f.severity(), v1::LINT_SEVERITY_ERROR);
    msgs.push_back(f.path() + ": " + f.message());
  }
  EXPECT_THAT(msgs, ::testing::Contains("rules[0].then.split: weights sum to 90, not 100"));
  EXPECT_THAT(msgs, ::testing::Contains("rules[0].then.split[1].model: unknown model \"ghost\""));
}

TEST(BundleTesterTest, RunsTheBundlesOwnTests) {
  auto bundle = ParsePolicyBundleOrError(R"(
models: [{name: a, aliases: [auto]}, {name: b}]
intents: [{name: code, keywords: [compile]}]
rules:
  - {name: code, match: {intent: [code]}, then: {candidates: [b]}}
tests:
  - {name: code goes to b, request: {model: auto, prompt: "it does not compile"}, expect: {model: b, rule: code}}
  - {name: wrong on purpose, request: {model: auto, prompt: "hello"}, expect: {model: b}}
)");
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  auto policy = CompiledPolicy::Compile(*bundle, 1, "h");
  auto results = RunBundleTests(*policy);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].passed()) << results[0].detail();
  EXPECT_FALSE(results[1].passed());
  EXPECT_THAT(results[1].detail(), HasSubstr("routed to a by rule catalog; expected b"));
}

TEST(BundleTesterTest, ComparesCandidateWithActive) {
  auto active_bundle =
      ParsePolicyBundleOrError("models: [{name: a, aliases: [auto]}, {name: b}]\n");
  ASSERT_TRUE(active_bundle.ok());
  auto active = CompiledPolicy::Compile(*active_bundle, 4, "h");
  std::vector<v1::RouteRequestRequest> reqs(3);
  reqs[0].set_model("auto");
  reqs[1].set_model("b");
  reqs[2].set_model("auto");
  reqs[2].mutable_prompt()->set_excerpt("please compile this");
  auto resp = TestCandidateBundle(R"(
models: [{name: a, aliases: [auto]}, {name: b, price: {input_per_mtok: 1, output_per_mtok: 2}}]
intents: [{name: code, keywords: [compile]}]
rules:
  - {name: code, match: {intent: [code]}, then: {candidates: [b]}}
)",
                                  active.get(), nullptr, reqs);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->active_revision(), 4u);
  ASSERT_EQ(resp->comparisons_size(), 3);
  EXPECT_FALSE(resp->comparisons(0).changed());
  EXPECT_TRUE(resp->comparisons(2).changed());
  EXPECT_EQ(resp->comparisons(2).active_model(), "a");
  EXPECT_EQ(resp->comparisons(2).candidate_model(), "b");
  EXPECT_GT(resp->comparisons(2).candidate_cost_usd(), 0);
  EXPECT_EQ(resp->changed(), 1u);
  ASSERT_EQ(resp->candidate_distribution_size(), 2);
  EXPECT_EQ(resp->candidate_distribution(1).model(), "b");
  EXPECT_EQ(resp->candidate_distribution(1).requests(), 2u);
  EXPECT_EQ(TestCandidateBundle("models: [", active.get(), nullptr, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmrouter::decision
