// Training and evaluating the prompt classifier from labeled JSONL files (data/classifier/
// README.md gives the format): what `routerctl classifier train|eval` and CI's evaluation run.
#ifndef LLMROUTER_SERVICES_DECISION_CLASSIFIER_TRAINING_H_
#define LLMROUTER_SERVICES_DECISION_CLASSIFIER_TRAINING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/decision/learned_classifier.h"

namespace llmrouter::decision {

struct LabeledPrompt {
  std::string text;  // the last user message: what the classifier reads
  std::string intent;
  std::string band;  // one of kComplexityBands
  std::string lang;  // "en" when the line names none
  std::string where;  // "file:line", for messages
};

// Appends the prompts of a JSONL text. Each line has `intent`, `complexity` and either
// `messages` (an OpenAI chat history ending with a user message) or `text`; `lang` is optional.
// InvalidArgument names the line of the first problem.
absl::Status ReadLabeledPrompts(absl::string_view jsonl, absl::string_view source,
                                std::vector<LabeledPrompt>* out);

// The defaults are what the built-in model uses (docs/policies.md says how they were chosen).
struct TrainingOptions {
  int dim = 48;
  int epoch = 80;
  double learning_rate = 0.5;
  int word_ngrams = 1;
  int min_char_ngram = 3;  // character n-grams carry typos, inflections and unseen words
  int max_char_ngram = 6;
  int bucket = 500000;
  int seed = 1;
  // Quantization: the rows kept (the most important words and n-grams) and the sub-vector size
  // (4 keeps more of each row than 6: complexity ordering and macro-F1 gained, 925 KB < 1 MiB).
  int cutoff = 40000;
  int dsub = 4;
};

// Trains a model on `prompts` with one thread and a fixed seed, so that the same prompts and
// options give a byte-identical file, and quantizes it under kMaxClassifierModelBytes. Returns
// the model file's bytes. `scratch_dir` holds the temporary files fastText reads and writes.
absl::StatusOr<std::string> TrainClassifier(const std::vector<LabeledPrompt>& prompts,
                                            const TrainingOptions& options,
                                            const std::string& scratch_dir);

struct IntentScores {
  std::string intent;
  int support = 0, predicted = 0, correct = 0;
  double precision = 0, recall = 0, f1 = 0;
};

struct ClassifierEvaluation {
  int prompts = 0;
  std::vector<IntentScores> intents;  // the test set's intents, sorted by name
  // confusion[i][j]: prompts of intents[i] predicted as intents[j]; a last column counts
  // predictions outside the test set's intents.
  std::vector<std::vector<int>> confusion;
  double macro_f1 = 0;
  double non_english_macro_f1 = 0;
  int non_english_prompts = 0;
  double accuracy = 0;
  // Of the pairs of prompts with different complexity bands, the share the score orders as
  // their labels are (ties count half).
  double complexity_pairwise = 0;
  // Expected calibration error of the top intent's probability (10 equal-width bins).
  double top_intent_ece = 0;
  double reasoning_precision = 0, reasoning_recall = 0;
};

ClassifierEvaluation EvaluateClassifier(const LearnedClassifier& model,
                                        const std::vector<LabeledPrompt>& prompts,
                                        double min_confidence);
// A report for people: per-intent precision and recall, the confusion matrix, the figures.
std::string FormatEvaluation(const ClassifierEvaluation& e);

struct EvaluationFloors {
  double macro_f1 = 0.85;
  double intent_recall = 0.75;
  double non_english_macro_f1 = 0.75;
  double complexity_pairwise = 0.90;
  double top_intent_ece = 0.05;
};
// One line per floor the evaluation misses; empty when it passes.
std::vector<std::string> MissedFloors(const ClassifierEvaluation& e, const EvaluationFloors& f);

// Pairs (test index, train index) whose word 3-gram sets have a Jaccard similarity above
// `threshold`: a held-out prompt that nearly repeats a training one.
std::vector<std::pair<int, int>> NearDuplicates(const std::vector<LabeledPrompt>& test,
                                                const std::vector<LabeledPrompt>& train,
                                                double threshold);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_CLASSIFIER_TRAINING_H_
