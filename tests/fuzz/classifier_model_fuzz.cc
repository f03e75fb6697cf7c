// Classifier model files come from operators, ConfigMaps and the ApplyBundle RPC: whatever the
// bytes, CheckFastTextModel must refuse them cleanly or pass only files fastText can load and
// run (LearnedClassifier::Load, then a prediction).
#include <cstddef>
#include <cstdint>
#include <string>

#include "services/decision/fasttext_model_check.h"
#include "services/decision/learned_classifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using llmrouter::decision::LearnedClassifier;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (!llmrouter::decision::CheckFastTextModel(bytes).ok()) return 0;
  auto model = LearnedClassifier::Load(std::move(bytes));
  if (!model.ok()) return 0;
  llmrouter::decision::ClassifierOutput out;
  (*model)->Classify("Write a Python function that sorts a list; 请翻译这句话", &out);
  (*model)->BestIntent(out, 0.4);
  return 0;
}
