#include "services/decision/pattern_limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "services/decision/prompt_analyzer.h"

namespace llmrouter::decision {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

// The reproducer from the hardening review: each pattern is small enough alone, 150 of them are
// past what RE2 can compile into one set, and decision crashed matching the uncompiled set.
std::vector<std::string> HeavyPatterns(int n) {
  std::vector<std::string> out;
  for (int i = 1; i <= n; ++i) out.push_back(absl::StrCat(R"((?i)\w{1,50}[a-z0-9]{0,100}x)", i));
  return out;
}

std::string HeavyBundle(int n) {
  std::string patterns;
  for (const std::string& p : HeavyPatterns(n)) absl::StrAppend(&patterns, "      - '", p, "'\n");
  return absl::StrCat(R"(models: [{name: m}]
intents:
  - name: chat
    keywords: [hello]
  - name: code
    patterns:
)",
                      patterns);
}

std::vector<std::string> Lines(const std::vector<BundleProblem>& problems) {
  std::vector<std::string> lines;
  for (const auto& p : problems) lines.push_back(p.path + ": " + p.message);
  return lines;
}

TEST(PatternLimitsTest, OnePatternOverItsBudgetIsLocated) {
  EXPECT_TRUE(CheckPattern(R"((?i)\w{1,50}[a-z0-9]{0,100}x1)").ok());
  absl::Status s = CheckPattern(R"((?i)(?:\w{1,50}[a-z0-9]{0,100}){5})");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("RE2 instructions; the limit is 5000"));
  EXPECT_THAT(CheckPattern("(unclosed").message(), HasSubstr("invalid RE2 pattern"));

  PolicyBundle b;
  auto lines = Lines(ParsePolicyBundle(R"(models: [{name: m}]
intents: [{name: code, patterns: ['ok', '(?i)(?:\w{1,50}[a-z0-9]{0,100}){5}']}]
rules:
  - name: r
    match: {headers: {x-a: {regex: '(?i)(?:\w{1,50}[a-z0-9]{0,100}){5}'}}}
    then: {candidates: [m]}
)",
                                       &b));
  EXPECT_THAT(lines, Contains(HasSubstr("intents[0].patterns[1]: pattern compiles to")));
  EXPECT_THAT(lines, Contains(HasSubstr("rules[0].match.headers.x-a.regex: pattern compiles to")));
}

TEST(PatternLimitsTest, IntentsOverTheSetBudgetAreRejectedWhereTheyCrossIt) {
  PolicyBundle b;
  auto lines = Lines(ParsePolicyBundle(HeavyBundle(150), &b));
  ASSERT_EQ(lines.size(), 1u) << ::testing::PrintToString(lines);
  EXPECT_THAT(lines[0], HasSubstr("intents[1]: the intents' keywords and patterns up to here "
                                  "compile to "));
  EXPECT_THAT(lines[0], HasSubstr("all intents together may use 50000"));
  // Fewer of the same patterns fit.
  PolicyBundle fits;
  EXPECT_THAT(Lines(ParsePolicyBundle(HeavyBundle(30), &fits)), ::testing::IsEmpty());
}

TEST(PatternLimitsTest, MeasureIntentsNamesTheFirstIntentOverTheLimit) {
  std::vector<IntentSpec> intents = {
      {"a", {"x"}, {}}, {"b", {}, HeavyPatterns(39)}, {"c", {}, HeavyPatterns(5)}};
  IntentsProgramSize size = MeasureIntents(intents);
  EXPECT_EQ(size.first_over, 2);
  EXPECT_GT(size.size, kMaxIntentsProgramSize);
  intents.pop_back();
  EXPECT_EQ(MeasureIntents(intents).first_over, -1);
}

TEST(PatternLimitsTest, AnAnalyzerGivenAnUncompilableSetStillAnalyzes) {
  // A bundle that bypassed the parser's checks, past even the analyzer's larger RE2 budget: the
  // analyzer drops its intents and keeps its cues.
  PromptAnalyzer a({{"chat", {"hello"}, {}}, {"code", {}, HeavyPatterns(300)}});
  llmrouter::v1::Prompt p;
  p.set_excerpt("hello, prove step by step that it must compile abcx7");
  PromptSignals s = a.Analyze(p);
  EXPECT_EQ(s.intent_mask, 0u);
  EXPECT_GT(s.complexity, 0.1);
  EXPECT_EQ(a.IntentIndex("code"), 1);
}

}  // namespace
}  // namespace llmrouter::decision
