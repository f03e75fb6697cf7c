// Prompt analysis on the routing hot path: token estimate, intents (keyword and RE2 rules from
// the bundle), a complexity score from cheap features, and PII signals. What the caller asks is
// the last user message (Prompt.last_user_message, else the excerpt): intents, cues and the
// classifier read it; the rest of the excerpt (system prompt, history) only adds intents whose
// scope is `conversation`; PII is looked for in the whole excerpt. The seam for a learned
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
  // Sets bits of `intent_mask` for the bundle's intents it recognises in `last_user_message`
  // (the caller's bounded window of it, or the excerpt when the caller sent none).
  virtual void Classify(absl::string_view last_user_message, PromptSignals* signals) const = 0;
};

// Immutable once built; Analyze() is safe to call concurrently and allocates nothing for
// prompts without PII candidates.
class PromptAnalyzer {
 public:
  // At most 64 intents are supported (the bundle parser enforces it).
  explicit PromptAnalyzer(const std::vector<IntentSpec>& intents,
                          std::shared_ptr<const PromptClassifier> classifier = nullptr);

  PromptSignals Analyze(const llmrouter::v1::Prompt& prompt) const;
  // The same, with the token estimate already known (EstimatedTokens, or the caller's).
  PromptSignals Analyze(const llmrouter::v1::Prompt& prompt, uint32_t estimated_tokens) const;
  // The caller's estimate of the full prompt, else an estimate from the excerpt.
  static uint32_t EstimatedTokens(const llmrouter::v1::Prompt& prompt);
  // Index of a named intent, or -1.
  int IntentIndex(absl::string_view name) const;
  const std::vector<std::string>& intent_names() const { return intent_names_; }

 private:
  // What the last user message shows besides intents: the complexity features.
  struct MessageCues {
    int questions = 0;
    int reasoning = 0;
    int constraints = 0;
    bool code = false;
  };

  // The cues and `intents` (none when null) in one set, or null when RE2 cannot compile it.
  static std::unique_ptr<RE2::Set> BuildSignalSet(const std::vector<IntentSpec>* intents);
  // The conversation-scoped intents alone, or null when there are none or RE2 cannot compile
  // them; fills conversation_intents_.
  std::unique_ptr<RE2::Set> BuildConversationSet(const std::vector<IntentSpec>& intents);
  // Matches cues and every intent on the last user message.
  MessageCues MatchMessage(absl::string_view message, PromptSignals* s) const;
  // Adds the conversation-scoped intents found in the rest of the prompt.
  void MatchConversation(absl::string_view excerpt, PromptSignals* s) const;

  std::vector<std::string> intent_names_;
  // Reasoning and constraint cue groups first, then the bundle's intents, matched in one pass.
  std::unique_ptr<RE2::Set> signals_;
  // The intents with scope `conversation`, matched on the excerpt; conversation_intents_[i] is
  // the intent index of the set's pattern i.
  std::unique_ptr<RE2::Set> conversation_;
  std::vector<int> conversation_intents_;
  std::shared_ptr<const PromptClassifier> classifier_;
};

// True when the digits of `s` (spaces and dashes ignored) pass the Luhn check.
bool LuhnValid(absl::string_view s);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_PROMPT_ANALYZER_H_
