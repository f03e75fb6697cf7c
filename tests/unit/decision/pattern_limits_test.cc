#include "services/decision/pattern_limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <re2/re2.h>

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
  EXPECT_THAT(lines[0], HasSubstr("all intents together may use 100000"));
  // Fewer of the same patterns fit.
  PolicyBundle fits;
  EXPECT_THAT(Lines(ParsePolicyBundle(HeavyBundle(30), &fits)), ::testing::IsEmpty());
}

TEST(PatternLimitsTest, MeasureIntentsNamesTheFirstIntentOverTheLimit) {
  std::vector<IntentSpec> intents = {
      {"a", {"x"}, {}}, {"b", {}, HeavyPatterns(76)}, {"c", {}, HeavyPatterns(5)}};
  IntentsProgramSize size = MeasureIntents(intents);
  EXPECT_EQ(size.first_over, 2);
  EXPECT_GT(size.size, kMaxIntentsProgramSize);
  intents.pop_back();
  EXPECT_EQ(MeasureIntents(intents).first_over, -1);
}

// True when `text` shows the keyword intent built from `keywords`.
bool KeywordsMatch(const std::vector<std::string>& keywords, const std::string& text) {
  PromptAnalyzer a({{"k", keywords, {}}});
  llmrouter::v1::Prompt p;
  p.set_excerpt(text);
  return a.Analyze(p).intent_mask == 1;
}

TEST(UnicodeKeywordsTest, KeywordsEndingInPunctuationMatch) {
  EXPECT_TRUE(KeywordsMatch({"c++"}, "How do I write a move constructor in C++?"));
  EXPECT_TRUE(KeywordsMatch({"c++"}, "c++ templates"));
  EXPECT_TRUE(KeywordsMatch({"c#"}, "Port this from Java to C#."));
  EXPECT_TRUE(KeywordsMatch({".net"}, "Which .NET version added spans?"));
  EXPECT_FALSE(KeywordsMatch({"c++"}, "abc++ is not a language")) << "a word boundary before c";
  EXPECT_FALSE(KeywordsMatch({"c#"}, "music# notes"));
}

TEST(UnicodeKeywordsTest, CjkKeywordsMatchInsideSentences) {
  EXPECT_TRUE(KeywordsMatch({"代码"}, "请帮我检查这段代码有没有错误"));
  EXPECT_TRUE(KeywordsMatch({"コード"}, "このコードを説明してください"));
  EXPECT_TRUE(KeywordsMatch({"コード"}, "コード"));
  EXPECT_FALSE(KeywordsMatch({"代码"}, "请帮我写一首诗"));
}

TEST(UnicodeKeywordsTest, BoundariesAreUnicodeWordBoundaries) {
  EXPECT_TRUE(KeywordsMatch({"función"}, "¿Qué hace esta función?"));
  EXPECT_TRUE(KeywordsMatch({"función"}, "FUNCIÓN principal")) << "case folding beyond ASCII";
  EXPECT_FALSE(KeywordsMatch({"function"}, "Was ist die Funktion der Mitochondrien?"));
  EXPECT_FALSE(KeywordsMatch({"function"}, "Explain functional programming"));
  // RE2's ASCII \b sees a boundary between "ü" and "b"; a Unicode one does not.
  EXPECT_FALSE(KeywordsMatch({"ber"}, "über alles"));
  EXPECT_TRUE(KeywordsMatch({"über"}, "Über alles"));
  EXPECT_FALSE(KeywordsMatch({"mir"}, "привет мирный"));
  EXPECT_TRUE(KeywordsMatch({"мир"}, "привет, мир!"));
  EXPECT_FALSE(KeywordsMatch({"мир"}, "привет мирный"));
  EXPECT_TRUE(KeywordsMatch({"function"}, "a function."));
  EXPECT_TRUE(KeywordsMatch({"stack trace"}, "see the stack trace"));
}

TEST(UnicodeKeywordsTest, GuardsAreGroupedNotRepeatedPerKeyword) {
  std::vector<std::string> many;
  for (int i = 0; i < 100; ++i) many.push_back(absl::StrCat("word", i));
  RE2 one(KeywordsRegex({"word"}));
  RE2 hundred(KeywordsRegex(many));
  ASSERT_TRUE(one.ok() && hundred.ok());
  EXPECT_LT(hundred.ProgramSize(), one.ProgramSize() + 2000);
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
