// CI's evaluation of the built-in classifier on the project's corpus (data/classifier): the
// corpus's shape, no held-out prompt repeating a training one, the scores on the held-out split
// against the floors of docs/policies.md, and that training reproduces the committed model.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "services/decision/builtin_classifier.h"
#include "services/decision/classifier_training.h"
#include "services/decision/policy_bundle.h"
#include "tests/support/process_harness.h"

namespace llmrouter::decision {
namespace {

constexpr const char* kTaxonomy[] = {
    "code",          "math",        "legal",         "medical",     "finance", "creative_writing",
    "summarization", "translation", "data_analysis", "general_chat"};

std::vector<LabeledPrompt> Split(const std::string& name) {
  std::vector<LabeledPrompt> prompts;
  std::vector<std::string> files;
  for (const auto& e :
       std::filesystem::directory_iterator(testing::SourcePath("data/classifier/" + name))) {
    if (e.path().extension() == ".jsonl") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) {
    std::ifstream in(f);
    std::stringstream text;
    text << in.rdbuf();
    const absl::Status s = ReadLabeledPrompts(text.str(), f, &prompts);
    EXPECT_TRUE(s.ok()) << s;
  }
  return prompts;
}

TEST(ClassifierCorpusTest, EveryIntentHasEnoughPromptsInBothSplitsAndOtherLanguages) {
  for (const char* split : {"train", "test"}) {
    std::map<std::string, int> count;
    int other_language = 0;
    const std::vector<LabeledPrompt> prompts = Split(split);
    for (const LabeledPrompt& p : prompts) {
      count[p.intent]++;
      other_language += p.lang != "en";
    }
    for (const char* intent : kTaxonomy) {
      EXPECT_GE(count[intent], std::string(split) == "train" ? 150 : 40) << split << " " << intent;
    }
    EXPECT_EQ(count.size(), std::size(kTaxonomy)) << split << ": an intent outside the taxonomy";
    EXPECT_GE(other_language * 10, static_cast<int>(prompts.size())) << split;
  }
}

TEST(ClassifierCorpusTest, NoHeldOutPromptNearlyRepeatsATrainingPrompt) {
  const std::vector<LabeledPrompt> train = Split("train"), test = Split("test");
  for (const auto& [i, j] : NearDuplicates(test, train, 0.6)) {
    ADD_FAILURE() << test[i].where << " nearly repeats " << train[j].where;
  }
}

// The floors (EvaluationFloors' defaults: macro-F1 0.85, recall 0.75 per intent, non-English
// macro-F1 0.75, complexity ordering 0.90, ECE 0.05) are all met. This guards the built-in model
// at what it reaches (docs/policies.md: macro-F1 0.910, lowest recall 0.81, non-English 0.856,
// ordering 0.902, ECE 0.035), so that no change to the corpus, the text preparation or training
// makes anything worse unnoticed. Complexity ordering is held at the floor itself: other seeds
// of the same training score 0.896-0.902, so the built-in model has little margin there.
constexpr EvaluationFloors kReached{.macro_f1 = 0.90,
                                    .intent_recall = 0.80,
                                    .non_english_macro_f1 = 0.85,
                                    .complexity_pairwise = 0.90,
                                    .top_intent_ece = 0.04};

TEST(ClassifierCorpusTest, TheBuiltInModelKeepsItsScoresOnTheHeldOutSplit) {
  auto model = LearnedClassifier::Load(std::string(BuiltinClassifierModel()));
  ASSERT_TRUE(model.ok()) << model.status();
  const ClassifierEvaluation e =
      EvaluateClassifier(**model, Split("test"), ClassifierSpec{}.min_confidence);
  std::cout << FormatEvaluation(e);
  for (const std::string& missed : MissedFloors(e, EvaluationFloors{})) {
    ADD_FAILURE() << "below the floor: " << missed;
  }
  for (const std::string& missed : MissedFloors(e, kReached)) ADD_FAILURE() << missed;
}

TEST(ClassifierCorpusTest, TrainingOnTheCorpusReproducesTheBuiltInModel) {
  auto trained =
      TrainClassifier(Split("train"), TrainingOptions{}, testing::MakeTempDir("classifier-train"));
  ASSERT_TRUE(trained.ok()) << trained.status();
  EXPECT_TRUE(*trained == std::string(BuiltinClassifierModel()))
      << "data/classifier/builtin.ftz is not what the corpus trains: run "
         "scripts/train-classifier.sh and commit the model (and the demo bundle's hash)";
}

}  // namespace
}  // namespace llmrouter::decision
