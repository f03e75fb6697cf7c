#include "services/decision/learned_classifier.h"

#include <fasttext/fasttext.h>

#include <algorithm>
#include <cmath>
#include <istream>
#include <sstream>
#include <streambuf>

#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "services/decision/classifier_text.h"
#include "services/decision/fasttext_model_check.h"

namespace llmrouter::decision {
namespace {

constexpr absl::string_view kLabelPrefix = "__label__";
constexpr absl::string_view kBandPrefix = "complexity:";
constexpr int32_t kFastTextVersion = 12;

// FastText::loadModel(std::istream&) skips the header check that loadModel(filename) makes and
// reads the format version from a member only that check sets; this sets it.
class CheckedFastText : public fasttext::FastText {
 public:
  void SetVersion(int32_t v) { version = v; }

  // Decodes a quantized input matrix once, so that prediction adds plain rows: decoding each
  // row from its product-quantizer codes took 70% of a prediction (docs/benchmarks.md). The file
  // stays small; memory holds rows x dim floats (40,000 x 64 x 4 B = 10 MB for the built-in).
  void DequantizeInput() {
    // A file under the 1 MiB cap can still announce a million rows of 1,024 codes' worth of
    // floats: decode only what fits 64 MB, and leave larger models quantized (slower, small).
    constexpr int64_t kMaxDecodedFloats = int64_t{16} << 20;
    if (!quant_) return;
    const int64_t rows = input_->size(0), dim = input_->size(1);
    if (rows * dim > kMaxDecodedFloats) return;
    auto dense = std::make_shared<fasttext::DenseMatrix>(rows, dim);
    fasttext::Vector row(dim);
    for (int64_t i = 0; i < rows; ++i) {
      row.zero();
      input_->addRowToVector(row, static_cast<int32_t>(i));
      std::copy(row.data(), row.data() + dim, dense->data() + i * dim);
    }
    input_ = std::move(dense);
    quant_ = false;
    buildModel();
  }
};

// An istream over bytes it does not own (fastText reads models and lines from istreams).
class ViewBuffer : public std::streambuf {
 public:
  explicit ViewBuffer(absl::string_view bytes) {
    char* begin = const_cast<char*>(bytes.data());
    setg(begin, begin, begin + bytes.size());
  }
};

bool ValidIntentName(absl::string_view name) {
  if (name.empty() || name.size() > 64 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

const char* ComplexityBand(double score) {
  if (score < 0.25) return kComplexityBands[0];
  if (score < 0.5) return kComplexityBands[1];
  if (score < 0.75) return kComplexityBands[2];
  return kComplexityBands[3];
}

LearnedClassifier::LearnedClassifier() = default;
LearnedClassifier::~LearnedClassifier() = default;

absl::StatusOr<std::shared_ptr<const LearnedClassifier>> LearnedClassifier::Load(
    std::string bytes) {
  if (absl::Status s = CheckFastTextModel(bytes); !s.ok()) return s;
  std::shared_ptr<LearnedClassifier> c(new LearnedClassifier());
  c->bytes_ = std::move(bytes);
  c->sha256_ = Sha256Hex(c->bytes_);
  auto model = std::make_unique<CheckedFastText>();
  model->SetVersion(kFastTextVersion);
  ViewBuffer buffer(absl::string_view(c->bytes_).substr(2 * sizeof(int32_t)));
  std::istream in(&buffer);
  try {
    model->loadModel(in);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("classifier model: fastText: ", e.what()));
  }
  if (model->getArgs().loss != fasttext::loss_name::ova) {
    return absl::InvalidArgumentError(
        "classifier model: trained with softmax loss; intents and complexity bands need "
        "one-vs-all (routerctl classifier train makes such models)");
  }
  const std::shared_ptr<const fasttext::Dictionary> dict = model->getDictionary();
  std::array<bool, kComplexityBands.size()> bands_seen{};
  for (int32_t id = 0; id < dict->nlabels(); ++id) {
    const std::string label = dict->getLabel(id);
    absl::string_view name = label;
    if (!absl::ConsumePrefix(&name, kLabelPrefix)) {
      return absl::InvalidArgumentError(
          absl::StrCat("classifier model: label \"", label, "\" lacks fastText's __label__"));
    }
    if (absl::ConsumePrefix(&name, kBandPrefix)) {
      const auto band = std::find(kComplexityBands.begin(), kComplexityBands.end(), name);
      if (band == kComplexityBands.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "classifier model: label \"", label,
            "\" names no complexity band (simple, medium, complex, reasoning)"));
      }
      bands_seen[band - kComplexityBands.begin()] = true;
      c->labels_.push_back(kBandLabel + static_cast<uint8_t>(band - kComplexityBands.begin()));
      continue;
    }
    if (!ValidIntentName(name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "classifier model: label \"", label,
          "\" is neither an intent ([a-z][a-z0-9_]*) nor complexity:<band>"));
    }
    int intent_index = c->IntentIndex(name);
    if (intent_index < 0) {
      if (c->intents_.size() == kMaxClassifierIntents) {
        return absl::InvalidArgumentError(absl::StrCat("classifier model: more than ",
                                                       kMaxClassifierIntents, " intents"));
      }
      intent_index = static_cast<int>(c->intents_.size());
      c->intents_.emplace_back(name);
    }
    c->labels_.push_back(static_cast<uint8_t>(intent_index));
  }
  if (c->intents_.empty() ||
      std::find(bands_seen.begin(), bands_seen.end(), false) != bands_seen.end()) {
    return absl::InvalidArgumentError(
        "classifier model: needs at least one intent and all four complexity bands");
  }
  c->general_chat_ = c->IntentIndex(kGeneralChatIntent);
  model->DequantizeInput();
  c->dictionary_ = model->getDictionary();
  c->model_ = std::move(model);
  return std::shared_ptr<const LearnedClassifier>(std::move(c));
}

int LearnedClassifier::IntentIndex(absl::string_view name) const {
  for (std::size_t i = 0; i < intents_.size(); ++i) {
    if (intents_[i] == name) return static_cast<int>(i);
  }
  return -1;
}

int LearnedClassifier::BestIntent(const ClassifierOutput& out, double min_confidence) const {
  int best = 0;
  for (std::size_t i = 1; i < intents_.size(); ++i) {
    if (out.intent_probability[i] > out.intent_probability[best]) best = static_cast<int>(i);
  }
  if ((out.empty || out.intent_probability[best] < min_confidence) && general_chat_ >= 0) {
    return general_chat_;
  }
  return best;
}

void LearnedClassifier::Classify(absl::string_view text, ClassifierOutput* out) const {
  *out = ClassifierOutput{};
  thread_local std::string prepared;
  thread_local std::vector<int32_t> words, labels;
  thread_local fasttext::Predictions predictions;
  PrepareClassifierText(text, &prepared);
  if (prepared.empty()) return;  // nothing the model reads: no prediction
  // Training lines end with a newline, which fastText reads as its end-of-sentence word: every
  // training example carries that word, so a prediction must too.
  prepared.push_back('\n');
  ViewBuffer buffer(prepared);
  std::istream in(&buffer);
  dictionary_->getLine(in, words, labels);
  predictions.clear();
  if (words.empty()) return;
  try {
    model_->predict(static_cast<int32_t>(labels_.size()), words, predictions, 0.0);
  } catch (const std::exception&) {
    // fastText throws when a sum turns NaN; CheckFastTextModel bounds the weights so that a
    // model it passes cannot, but a prediction must never take decision down.
    return;
  }
  // One-vs-all gives each label its own sigmoid: each family is normalised on its own.
  double intent_total = 0, band_total = 0;
  std::array<double, kComplexityBands.size()> band{};
  for (const auto& [log_probability, id] : predictions) {
    const double p = std::exp(log_probability);
    const uint8_t label = labels_[id];
    if (label >= kBandLabel) {
      band[label - kBandLabel] += p;
      band_total += p;
    } else {
      out->intent_probability[label] += static_cast<float>(p);
      intent_total += p;
    }
  }
  if (intent_total <= 0 || band_total <= 0) {
    *out = ClassifierOutput{};
    return;
  }
  for (float& p : out->intent_probability) p = static_cast<float>(p / intent_total);
  for (std::size_t b = 0; b < band.size(); ++b) {
    out->complexity += band[b] / band_total * kComplexityBandCentres[b];
  }
  out->reasoning = band.back() / band_total;
  out->empty = false;
}

}  // namespace llmrouter::decision
