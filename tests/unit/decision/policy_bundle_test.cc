#include "services/decision/policy_bundle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace llmrouter::decision {
namespace {

using ::testing::HasSubstr;

TEST(PolicyBundleTest, ParsesCatalog) {
  auto b = ParsePolicyBundleOrError(R"(
models:
  - name: a
    aliases: [small, auto]
    fallbacks: [b]
    owned_by: team
  - name: b
)");
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->models.size(), 2u);
  EXPECT_THAT(b->models[0].aliases, ::testing::ElementsAre("small", "auto"));
  EXPECT_THAT(b->models[0].fallbacks, ::testing::ElementsAre("b"));
  EXPECT_EQ(b->models[0].owned_by, "team");
}

TEST(PolicyBundleTest, LocatesEveryProblem) {
  PolicyBundle b;
  auto problems = ParsePolicyBundle(R"(
models:
  - name: a
    aliases: [x]
    fallbacks: [ghost, a]
  - name: b
    aliases: [x]
    colour: red
  - aliases: [y]
  - name: a
extra: 1
)",
                                    &b);
  std::vector<std::string> lines;
  for (const auto& p : problems) lines.push_back(p.path + ": " + p.message);
  EXPECT_THAT(lines, ::testing::UnorderedElementsAre(
                         HasSubstr("extra: unknown field"),
                         HasSubstr("models[0].fallbacks[0]: unknown model \"ghost\""),
                         HasSubstr("models[0].fallbacks[1]: a model cannot be its own fallback"),
                         HasSubstr("models[1].aliases[0]: \"x\" is already defined at "
                                   "models[0].aliases[0]"),
                         HasSubstr("models[1].colour: unknown field"),
                         HasSubstr("models[2].name: is required"),
                         HasSubstr("models[3].name: \"a\" is already defined at models[0].name")));
}

TEST(PolicyBundleTest, RejectsNonYamlAndEmptyCatalog) {
  EXPECT_THAT(std::string(ParsePolicyBundleOrError("models: [").status().message()),
              HasSubstr("not valid YAML"));
  EXPECT_THAT(std::string(ParsePolicyBundleOrError("models: []").status().message()),
              HasSubstr("models: must be a non-empty list"));
  EXPECT_THAT(std::string(ParsePolicyBundleOrError("- a").status().message()),
              HasSubstr("must be a YAML mapping"));
}

}  // namespace
}  // namespace llmrouter::decision

namespace llmrouter::decision {
namespace {

TEST(PolicyBundleRulesTest, ParsesFullBundle) {
  auto b = ParsePolicyBundleOrError(R"(
defaults: {output_tokens: 512}
regions:
  latency_ms: {eu-west-1: {us-east-1: 75}}
models:
  - {name: a, capabilities: [code], context_window: 8192, quality: 0.6, data_policy: private,
     price: {input_per_mtok: 0.1, output_per_mtok: 0.3}}
  - {name: b}
tenants:
  - {name: acme, allowed_models: [a], default_tier: batch,
     spend_limit: {usd: 50, period: day, over_limit: downgrade}}
intents:
  - {name: code, keywords: [compile], patterns: ['def \w+\(']}
rules:
  - name: r1
    match:
      model: auto
      tenant: [acme]
      tier: [batch, standard]
      region: [eu-west-1]
      headers: {X-Team: ml, x-env: {regex: "prod-.*"}}
      intent: [code]
      complexity: {min: 0.2, max: 0.9}
      tokens: {max: 4000}
      pii: false
      capabilities: [code]
    then:
      split: [{model: a, weight: 95}, {model: b, weight: 5}]
      sticky: user
      endpoint_strategy: p2c
      constraints: {max_cost_usd: 0.02, min_quality: 0.5, max_latency_ms: 800, data_policy: private}
      fallbacks: [b]
tests:
  - {name: t, request: {model: auto, tenant: acme, prompt: "compile me"}, expect: {model: a, rule: r1}}
)");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->default_output_tokens, 512u);
  const RuleSpec& r = b->rules[0];
  EXPECT_THAT(r.match.models, ::testing::ElementsAre("auto"));
  ASSERT_EQ(r.match.headers.size(), 2u);
  EXPECT_EQ(r.match.headers[0].name, "x-team");
  EXPECT_EQ(r.match.headers[1].regex, "prod-.*");
  EXPECT_EQ(*r.match.tokens.max, 4000);
  EXPECT_FALSE(*r.match.pii);
  EXPECT_EQ(r.then.split[1].weight, 5u);
  EXPECT_EQ(*r.then.constraints.max_latency_ms, 800u);
  EXPECT_EQ(b->tenants[0].spend_limit.over_limit, "downgrade");
  EXPECT_EQ(b->tests[0].expect_rule, "r1");
  EXPECT_EQ(r.then.endpoint_strategy, "p2c");
  EXPECT_EQ(b->region_latency_ms.at("eu-west-1").at("us-east-1"), 75);
}

TEST(PolicyBundleRulesTest, ReadsRateLimitsAndLocatesBadOnes) {
  auto b = ParsePolicyBundleOrError(R"(
models: [{name: a}]
tenants:
  - name: acme
    rate_limits: {window: 2s, requests: 600, tokens: 100000, concurrent: 20,
                  per_api_key: {requests: 60, concurrent: 4}}
  - name: free
)");
  ASSERT_TRUE(b.ok()) << b.status();
  const TenantRateLimits& acme = b->tenants[0].rate_limits;
  EXPECT_EQ(acme.window_ms, 2000);
  EXPECT_EQ(acme.tenant.requests, 600u);
  EXPECT_EQ(acme.tenant.tokens, 100000u);
  EXPECT_EQ(acme.tenant.concurrent, 20u);
  EXPECT_EQ(acme.per_api_key.requests, 60u);
  EXPECT_EQ(acme.per_api_key.tokens, 0u);
  EXPECT_EQ(acme.per_api_key.concurrent, 4u);
  EXPECT_FALSE(b->tenants[1].rate_limits.any());
  EXPECT_EQ(b->tenants[1].rate_limits.window_ms, 60000) << "a minute unless said otherwise";

  PolicyBundle bad;
  auto problems = ParsePolicyBundle(R"(
models: [{name: a}]
tenants:
  - name: t
    rate_limits: {window: 0.5s, requests: -5, tokens: lots, per_api_key: {concurrent: 1.5, rpm: 3}}
  - name: u
    rate_limits: {window: forever, requests: 5000000000}
  - name: v
    spend_limit: {usd: nan}
  - name: w
    spend_limit: {usd: -1}
  - name: x
    spend_limit: {usd: .inf}
)",
                                    &bad);
  std::vector<std::string> lines;
  for (const auto& p : problems) lines.push_back(p.path + ": " + p.message);
  for (const char* want :
       {"tenants[0].rate_limits.window: \"0.5s\" is not a duration from 1s to 24h",
        "tenants[0].rate_limits.requests: must be a non-negative integer",
        "tenants[0].rate_limits.tokens: must be a non-negative integer",
        "tenants[0].rate_limits.per_api_key.concurrent: must be a non-negative integer",
        "tenants[0].rate_limits.per_api_key.rpm", "tenants[1].rate_limits.window: \"forever\"",
        "tenants[1].rate_limits.requests: must be at most 4294967295",
        // NaN would pass every range check and then deny every request of the tenant.
        "tenants[2].spend_limit.usd: must be a number", "tenants[3].spend_limit.usd: -1 is out",
        "tenants[4].spend_limit.usd: must be a number"}) {
    EXPECT_THAT(lines, ::testing::Contains(HasSubstr(want))) << want;
  }
}

TEST(PolicyBundleRulesTest, LocatesRuleProblems) {
  PolicyBundle b;
  auto problems = ParsePolicyBundle(R"(
models: [{name: a, quality: 2}]
tenants: [{name: t, default_tier: urgent}]
intents: [{name: code, patterns: ['(unclosed']}]
rules:
  - name: r0
    match: {tier: [sometimes], tenant: [nobody], intent: [legal], complexity: {min: 0.9, max: 0.1},
            headers: {x-a: {regex: '[z-a]'}}}
    then: {candidates: [a], deny: "no", endpoint_strategy: fastest}
  - name: r0
    then: {split: [{model: a, weight: 90}]}
  - name: r2
    match: {}
    then: {}
  - name: r3
    then: {candidates: [a], tracks: {stable: 80, canary: 10}, sticky: forever}
  - name: r4
    then: {candidates: [a], tracks: {Stable: 100, canary: 120, blue: lots}}
  - name: r5
    then: {candidates: [a], tracks: [stable, canary]}
tests:
  - {name: t, request: {model: a}, expect: {rule: nope}}
)",
                                    &b);
  std::vector<std::string> lines;
  for (const auto& p : problems) lines.push_back(p.path + ": " + p.message);
  for (const char* want : {"models[0].quality: 2 is out of range [0, 1]",
                           "tenants[0].default_tier: \"urgent\"",
                           "intents[0].patterns[0]: invalid RE2 pattern",
                           "rules[0].match.tier[0]: \"sometimes\"",
                           "rules[0].match.complexity: min is greater than max",
                           "rules[0].match.headers.x-a.regex: invalid RE2 pattern",
                           "rules[0].then: deny cannot be combined",
                           "rules[0].then.endpoint_strategy: \"fastest\" is not one of",
                           "rules[0].match.tenant[0]: unknown tenant \"nobody\"",
                           "rules[0].match.intent[0]: unknown intent \"legal\"",
                           "rules[1].then.split: weights sum to 90, not 100",
                           "rules[1].name: duplicate rule \"r0\"",
                           "rules[2].then: needs candidates, split or deny",
                           "tests[0].expect: needs model or deny",
                           "rules[3].then.tracks: weights sum to 90, not 100",
                           "rules[3].then.sticky: \"forever\" is not one of session, user, tenant",
                           "rules[4].then.tracks.Stable: is not a track name",
                           "rules[4].then.tracks.canary: must be a weight from 0 to 100",
                           "rules[4].then.tracks.blue: must be a non-negative integer",
                           "rules[5].then.tracks: must map endpoint tracks to weights",
                           "tests[0].expect.rule: unknown rule \"nope\""}) {
    EXPECT_THAT(lines, ::testing::Contains(HasSubstr(want))) << want;
  }
}

}  // namespace
}  // namespace llmrouter::decision

namespace llmrouter::decision {
namespace {

TEST(PolicyBundleRolloutsTest, ReadsARollout) {
  PolicyBundle b;
  auto problems = ParsePolicyBundle(R"(
models: [{name: m}]
rollouts:
  - name: m-v2
    model: m
    tracks: {stable: blue, canary: green}
    sticky: user
    steps: [{weight: 5, duration: 10m}, {weight: 100, duration: 1h}]
    analysis:
      window: 5m
      min_requests: 50
      error_rate: {max: 0.05, max_increase: 0.01}
      p95_ttft: {max_ratio: 1.5}
)",
                                    &b);
  ASSERT_TRUE(problems.empty()) << problems[0].path << ": " << problems[0].message;
  ASSERT_EQ(b.rollouts.size(), 1u);
  const RolloutSpec& r = b.rollouts[0];
  EXPECT_EQ(r.canary_track, "green");
  EXPECT_EQ(r.stable_track, "blue");
  EXPECT_EQ(r.sticky, "user");
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[0].weight, 5u);
  EXPECT_EQ(r.steps[0].duration_ms, 600000);
  EXPECT_EQ(r.analysis.window_ms, 300000);
  EXPECT_EQ(r.analysis.min_requests, 50u);
  EXPECT_DOUBLE_EQ(r.analysis.error_rate.max_increase, 0.01);
  EXPECT_DOUBLE_EQ(r.analysis.p95_ttft.max_ratio, 1.5);
  EXPECT_EQ(r.Fingerprint().size(), 64u);
}

TEST(PolicyBundleRolloutsTest, LocatesEveryRolloutProblem) {
  PolicyBundle b;
  auto problems = ParsePolicyBundle(R"(
models: [{name: m, aliases: [mm]}, {name: n}]
rollouts:
  - name: r0
    model: m
    steps: [{weight: 20, duration: 1m}, {weight: 10}, {weight: 50, duration: soon}]
    analysis: {window: 1m, min_requests: 0, error_rate: {}}
  - name: r0
    model: mm
    tracks: {stable: canary, canary: canary}
    steps: [{weight: 150, duration: 1m}]
    analysis: {window: 1m}
  - name: Bad Name
    model: n
    sticky: forever
    steps: []
  - model: n
    steps: [{weight: 5, duration: 1m}]
    analysis: {error_rate: {max: 0.1}}
)",
                                    &b);
  std::vector<std::string> lines;
  for (const auto& p : problems) lines.push_back(p.path + ": " + p.message);
  for (const char* want : {
           "rollouts[0].steps[1].weight: must be above the previous step's 20",
           "rollouts[0].steps[1].duration: is required",
           "rollouts[0].steps[2].duration: must be a duration",
           "rollouts[0].steps[2].weight: the last step must give the canary 100, not 50",
           "rollouts[0].analysis.min_requests: must be at least 1",
           "rollouts[0].analysis.error_rate: sets no limit",
           "rollouts[1].name: \"r0\" is already defined at rollouts[0].name",
           "rollouts[1].model: unknown model \"mm\" (a rollout names a catalog model",
           "rollouts[1].tracks: stable and canary must be different tracks",
           "rollouts[1].steps[0].weight: 150 is out of range",
           "rollouts[1].analysis: judges nothing",
           "rollouts[2].name: must be 1 to 63 lower-case letters",
           "rollouts[2].sticky: must be session, user or tenant",
           "rollouts[2].steps: must list steps",
           "rollouts[2].analysis: is required",
           "rollouts[3].name: is required",
           "rollouts[3].model: \"n\" already has a rollout at rollouts[2].model",
           "rollouts[3].steps[0].weight: the last step must give the canary 100, not 5",
       }) {
    EXPECT_THAT(lines, ::testing::Contains(HasSubstr(want))) << want;
  }
}

}  // namespace
}  // namespace llmrouter::decision
