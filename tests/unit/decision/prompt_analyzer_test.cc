#include "services/decision/prompt_analyzer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace llmrouter::decision {
namespace {

using ::testing::ElementsAre;

llmrouter::v1::Prompt P(const std::string& text) {
  llmrouter::v1::Prompt p;
  p.set_excerpt(text);
  return p;
}

TEST(PromptAnalyzerTest, IntentsFromKeywordsAndPatterns) {
  PromptAnalyzer a(
      {{"code", {"compile", "stack trace"}, {R"(\bdef \w+\()"}}, {"legal", {"contract"}, {}}});
  EXPECT_EQ(a.Analyze(P("It fails to COMPILE")).intent_mask, 1u);
  EXPECT_EQ(a.Analyze(P("def main(): pass")).intent_mask, 1u);
  EXPECT_EQ(a.Analyze(P("Here is the stack trace and the contract")).intent_mask, 3u);
  EXPECT_EQ(a.Analyze(P("contracts are plural")).intent_mask, 0u) << "whole words only";
  EXPECT_EQ(a.IntentIndex("legal"), 1);
  EXPECT_EQ(a.IntentIndex("none"), -1);
}

TEST(PromptAnalyzerTest, PiiKinds) {
  PromptAnalyzer a({});
  EXPECT_THAT(PiiKindNames(a.Analyze(P("mail me at jane.doe@example.co.uk")).pii_mask),
              ElementsAre("email"));
  EXPECT_THAT(PiiKindNames(a.Analyze(P("call +44 20 7946 0958 today")).pii_mask),
              ElementsAre("phone"));
  EXPECT_THAT(PiiKindNames(a.Analyze(P("card 4111-1111-1111-1111 exp 12/29")).pii_mask),
              ::testing::Contains("card"));
  EXPECT_THAT(PiiKindNames(a.Analyze(P("SSN 078-05-1120 on file")).pii_mask),
              ::testing::Contains("national_id"));
  EXPECT_THAT(PiiKindNames(a.Analyze(P("NI number AB 12 34 56 C")).pii_mask),
              ::testing::Contains("national_id"));
  EXPECT_EQ(a.Analyze(P("order 4111111111111112 shipped")).pii_mask & kPiiCard, 0u)
      << "fails Luhn: not a card";
  EXPECT_EQ(a.Analyze(P("What is the capital of France?")).pii_mask, 0u);
}

TEST(PromptAnalyzerTest, Luhn) {
  EXPECT_TRUE(LuhnValid("4111 1111 1111 1111"));
  EXPECT_TRUE(LuhnValid("5500-0000-0000-0004"));
  EXPECT_FALSE(LuhnValid("4111 1111 1111 1112"));
  EXPECT_FALSE(LuhnValid("1234"));  // too short
}

TEST(PromptAnalyzerTest, ComplexityGrowsWithReasoningAndParts) {
  PromptAnalyzer a({});
  double simple = a.Analyze(P("What is 2+2?")).complexity;
  double hard = a.Analyze(P("Compare the trade-offs of Raft and Paxos step by step. Why does "
                            "leader election matter? "
                            "How do they handle partitions? What must an implementation do at "
                            "least once, and what "
                            "should it never do? Answer in JSON.\n```\nstruct Node {};\n```"))
                    .complexity;
  EXPECT_LT(simple, 0.2);
  EXPECT_GT(hard, 0.5);
  EXPECT_LE(hard, 1.0);
}

TEST(PromptAnalyzerTest, TokenEstimateFromExcerptOrCaller) {
  PromptAnalyzer a({});
  EXPECT_GT(a.Analyze(P("The quick brown fox jumps over the lazy dog.")).estimated_tokens, 5u);
  llmrouter::v1::Prompt p = P("short");
  p.set_estimated_tokens(5000);
  EXPECT_EQ(a.Analyze(p).estimated_tokens, 5000u);
  EXPECT_EQ(a.Analyze(P("")).estimated_tokens, 0u);
}

}  // namespace
}  // namespace llmrouter::decision
