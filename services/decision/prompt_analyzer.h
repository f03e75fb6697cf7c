// Prompt analysis on the routing hot path: token estimate, intents (keyword and RE2 rules from
// the bundle), a complexity score from cheap features, and PII signals. The seam for a learned
// classifier is PromptClassifier: an analyser may be given one, whose intents are merged in.
#ifndef LLMROUTER_SERVICES_DECISION_PROMPT_ANALYZER_H_
#define LLMROUTER_SERVICES_DECISION_PROMPT_ANALYZER_H_

#include <re2/set.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "llmrouter/v1/decision.pb.h"
#include "services/decision/policy_bundle.h"

namespace llmrouter::decision {

enum PiiKind : uint32_t {
  kPiiEmail = 1u << 0,
  kPiiPhone = 1u << 1,
  kPiiCard = 1u << 2,        // digits that pass the Luhn check
  kPiiNationalId = 1u << 3,  // US SSN, UK National Insurance number
};

// Names of the PII kinds set in `mask`, in a fixed order ("email", "phone", "card", "national_id").
std::vector<std::string> PiiKindNames(uint32_t mask);

struct PromptSignals {
  uint32_t estimated_tokens = 0;
  double complexity = 0;     // [0, 1]
  uint64_t intent_mask = 0;  // bit i: the bundle's intents[i]
  uint32_t pii_mask = 0;
};

// A learned classifier would implement this; none ships yet.
class PromptClassifier {
 public:
  virtual ~PromptClassifier() = default;
  // Sets bits of `intent_mask` for the bundle's intents it recognises.
  virtual void Classify(absl::string_view text, PromptSignals* signals) const = 0;
};

// Immutable once built; Analyze() is safe to call concurrently and allocates nothing for
// prompts without PII candidates.
class PromptAnalyzer {
 public:
  // At most 64 intents are supported (the bundle parser enforces it).
  explicit PromptAnalyzer(const std::vector<IntentSpec>& intents,
                          std::shared_ptr<const PromptClassifier> classifier = nullptr);

  PromptSignals Analyze(const llmrouter::v1::Prompt& prompt) const;
  // Index of a named intent, or -1.
  int IntentIndex(absl::string_view name) const;
  const std::vector<std::string>& intent_names() const { return intent_names_; }

 private:
  // The cues and `intents` (none when null) in one set, or null when RE2 cannot compile it.
  static std::unique_ptr<RE2::Set> BuildSignalSet(const std::vector<IntentSpec>* intents);

  std::vector<std::string> intent_names_;
  // Reasoning and constraint cue groups first, then the bundle's intents, matched in one pass.
  std::unique_ptr<RE2::Set> signals_;
  std::shared_ptr<const PromptClassifier> classifier_;
};

// True when the digits of `s` (spaces and dashes ignored) pass the Luhn check.
bool LuhnValid(absl::string_view s);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_PROMPT_ANALYZER_H_
