#include "services/decision/prompt_analyzer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/decision/builtin_classifier.h"

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

// A chat prompt as the gateway sends it: every message in the excerpt, system prompt first, and
// the last user message on its own.
llmrouter::v1::Prompt Chat(const std::string& system, const std::string& user) {
  llmrouter::v1::Prompt p = P(system + "\n" + user);
  p.set_last_user_message(user);
  return p;
}

TEST(PromptAnalyzerTest, IntentsReadTheLastUserMessageNotTheSystemPrompt) {
  PromptAnalyzer a({{"code", {"function", "compile"}, {}}});
  const std::string system = "You are a helpful assistant. Call the search function when unsure.";
  EXPECT_EQ(a.Analyze(Chat(system, "What is the capital of France?")).intent_mask, 0u);
  EXPECT_EQ(a.Analyze(Chat(system, "Why does this not compile?")).intent_mask, 1u);
  // Without a last user message (an older caller), the excerpt is what is matched.
  EXPECT_EQ(a.Analyze(P(system)).intent_mask, 1u);
}

TEST(PromptAnalyzerTest, ConversationScopedIntentsAlsoReadTheRestOfThePrompt) {
  IntentSpec code{"code", {"function"}, {}};
  IntentSpec support{"support", {"ticket"}, {}, IntentScope::kConversation};
  PromptAnalyzer a({code, support});
  const std::string system = "You answer each support ticket; never describe an internal function.";
  EXPECT_EQ(a.Analyze(Chat(system, "My order is late")).intent_mask, 2u)
      << "support reads the system prompt, code does not";
  EXPECT_EQ(a.Analyze(Chat("Be brief.", "Open a ticket about this function")).intent_mask, 3u);
}

TEST(PromptAnalyzerTest, PiiAnywhereInTheExcerptAndInACutOffLastMessage) {
  PromptAnalyzer a({});
  EXPECT_THAT(PiiKindNames(a.Analyze(Chat("Customer: jane@example.com", "Summarise")).pii_mask),
              ElementsAre("email"));
  llmrouter::v1::Prompt cut = P("a long history, cut before the last message");
  cut.set_truncated(true);
  cut.set_last_user_message("my card is 4111 1111 1111 1111");
  EXPECT_THAT(PiiKindNames(a.Analyze(cut).pii_mask), ElementsAre("card"));
}

std::shared_ptr<const LearnedClassifier> Builtin() {
  auto model = LearnedClassifier::Load(std::string(BuiltinClassifierModel()));
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

TEST(PromptAnalyzerTest, TheClassifierReadsTheLastUserMessage) {
  PromptAnalyzer a({}, Builtin());
  const PromptSignals s = a.Analyze(Chat(
      "You are a senior Python engineer. Review code, fix bugs, write functions and unit tests.",
      "Translate 'see you tomorrow at the station' into French, please."));
  ASSERT_TRUE(s.classified);
  ASSERT_GE(s.listed_count, 1);
  EXPECT_EQ(a.intent_names()[s.listed[0].index], "translation");
  EXPECT_EQ(s.listed[0].source, IntentSource::kClassifier);
}

TEST(PromptAnalyzerTest, KeywordIntentsComeFirstWithFullConfidence) {
  PromptAnalyzer a({{"code", {}, {"```"}}}, Builtin());
  const PromptSignals s =
      a.Analyze(P("Translate the comments of this into German:\n```\n# add two numbers\n```"));
  ASSERT_GE(s.listed_count, 1);
  EXPECT_EQ(a.intent_names()[s.listed[0].index], "code");
  EXPECT_EQ(s.listed[0].source, IntentSource::kKeywords);
  EXPECT_EQ(s.listed[0].confidence, 1.0f);
  // The bundle's `code` and the model's are one intent.
  EXPECT_EQ(a.IntentIndex("code"), 0);
  EXPECT_GE(a.IntentIndex("translation"), 1);
}

TEST(PromptAnalyzerTest, DescribeShowsConfidencesAndEveryIntentForExplain) {
  PromptAnalyzer a({}, Builtin());
  const PromptSignals s = a.Analyze(P("Write a haiku about autumn rain"));
  llmrouter::v1::PromptAnalysis brief, full;
  a.Describe(s, false, &brief);
  a.Describe(s, true, &full);
  EXPECT_TRUE(brief.analysed());
  EXPECT_EQ(brief.intents_size(), brief.intent_confidences_size());
  EXPECT_EQ(full.intent_confidences_size(), 10);
  EXPECT_FALSE(brief.classifier_sha256().empty());
  EXPECT_FALSE(brief.complexity_band().empty());
}

}  // namespace
}  // namespace llmrouter::decision
