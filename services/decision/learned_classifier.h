// The learned prompt classifier: one fastText model trained with one-vs-all loss on two label
// families, intents (`__label__code`) and complexity bands (`__label__complexity:medium`), so
// that one forward pass gives both: intent probabilities (normalised over the intents) and a
// complexity score (the bands' normalised probabilities weighting their centres).
#ifndef LLMROUTER_SERVICES_DECISION_LEARNED_CLASSIFIER_H_
#define LLMROUTER_SERVICES_DECISION_LEARNED_CLASSIFIER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fasttext {
class Dictionary;
class FastText;
}

namespace llmrouter::decision {

// Complexity bands, in order; a model's labels name one of them after the intent.
inline constexpr std::array<const char*, 4> kComplexityBands = {"simple", "medium", "complex",
                                                                "reasoning"};
// The score each band stands for: the middle of its range (simple < 0.25 <= medium < 0.5 <=
// complex < 0.75 <= reasoning).
inline constexpr std::array<double, 4> kComplexityBandCentres = {0.125, 0.375, 0.625, 0.875};
// The name of a band that `score` falls in.
const char* ComplexityBand(double score);

// At most this many intents in one model (the analyser keeps intents in a 64-bit mask, shared
// with the bundle's own).
inline constexpr std::size_t kMaxClassifierIntents = 32;

struct ClassifierOutput {
  // Probability of each of the model's intents (indexes into intents()); they sum to 1.
  std::array<float, kMaxClassifierIntents> intent_probability{};
  double complexity = 0;  // in [0, 1]
  double reasoning = 0;   // probability of the reasoning band
  bool empty = true;      // the text had no token the model reads: nothing was predicted
};

// Immutable once loaded; Classify() is safe to call from any number of threads.
class LearnedClassifier {
 public:
  // Checks `bytes` (CheckFastTextModel and the label convention) and loads them. Errors are
  // InvalidArgument and say what is wrong.
  static absl::StatusOr<std::shared_ptr<const LearnedClassifier>> Load(std::string bytes);
  ~LearnedClassifier();

  // Hex SHA-256 of the model file: how bundles name it.
  const std::string& sha256() const { return sha256_; }
  const std::string& bytes() const { return bytes_; }
  // The intents the model knows, in a fixed order (the order of their first label).
  const std::vector<std::string>& intents() const { return intents_; }
  int IntentIndex(absl::string_view name) const;

  // Classifies `text` (its window, see classifier_text.h).
  void Classify(absl::string_view text, ClassifierOutput* out) const;
  // The intent a prompt is taken to have: the most probable one when it reaches
  // `min_confidence`, else general_chat (when the model knows it; else the most probable).
  int BestIntent(const ClassifierOutput& out, double min_confidence) const;

 private:
  LearnedClassifier();

  std::string bytes_;
  std::string sha256_;
  std::unique_ptr<fasttext::FastText> model_;
  std::shared_ptr<const fasttext::Dictionary> dictionary_;  // model_'s, kept for Classify
  std::vector<std::string> intents_;
  // Per fastText label id: its intent index, or kBandLabel + its band index.
  std::vector<uint8_t> labels_;
  static constexpr uint8_t kBandLabel = 128;
  int general_chat_ = -1;
};

// The intent of a prompt nothing more specific fits.
inline constexpr absl::string_view kGeneralChatIntent = "general_chat";

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_LEARNED_CLASSIFIER_H_
