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
