// Prompt analysis on the routing hot path: token estimate, intents (the learned classifier's,
// and keyword and RE2 rules from the bundle on top), a complexity score (the classifier's, or
// cheap features without one), and PII signals. What the caller asks is the last user message
// (Prompt.last_user_message, else the excerpt): intents, cues and the classifier read it; the
// rest of the excerpt (system prompt, history) only adds intents whose scope is `conversation`;
// PII is looked for in the whole excerpt.
#ifndef LLMROUTER_SERVICES_DECISION_PROMPT_ANALYZER_H_
#define LLMROUTER_SERVICES_DECISION_PROMPT_ANALYZER_H_

#include <re2/set.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "llmrouter/v1/decision.pb.h"
#include "services/decision/learned_classifier.h"
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

enum class IntentSource : uint8_t { kKeywords, kClassifier, kFallback };

// One intent the analysis lists, with its confidence (1 for keyword matches).
struct ListedIntent {
  uint8_t index = 0;  // into PromptAnalyzer::intent_names()
  float confidence = 0;
  IntentSource source = IntentSource::kKeywords;
};

struct PromptSignals {
  uint32_t estimated_tokens = 0;
  double complexity = 0;     // [0, 1]
  uint64_t intent_mask = 0;  // bit i: intent_names()[i] is listed
  uint32_t pii_mask = 0;
  // The listed intents, best guess first: keyword matches, then the classifier's intents at or
  // above its min_confidence by probability, or general_chat when neither found any.
  static constexpr std::size_t kMaxListed = 6;
  std::array<ListedIntent, kMaxListed> listed{};
  uint8_t listed_count = 0;
  bool classified = false;   // the learned classifier read the prompt
  ClassifierOutput learned;  // what it said (when classified)
};

// Immutable once built; Analyze() is safe to call concurrently and allocates nothing for
// prompts without PII candidates.
class PromptAnalyzer {
 public:
  // At most 64 intents are supported between the bundle's and the classifier's (the bundle
  // parser and LearnedClassifier::Load enforce 64 and 32).
  explicit PromptAnalyzer(const std::vector<IntentSpec>& intents,
                          std::shared_ptr<const LearnedClassifier> classifier = nullptr,
                          double min_confidence = 0.4);

  PromptSignals Analyze(const llmrouter::v1::Prompt& prompt) const;
  // The same, with the token estimate already known (EstimatedTokens, or the caller's); PII is
  // looked for only `with_pii` (pii_mask stays 0 otherwise: see PiiMask).
  PromptSignals Analyze(const llmrouter::v1::Prompt& prompt, uint32_t estimated_tokens,
                        bool with_pii = true) const;
  // The PII kinds found in the prompt (kPii* bits): in the excerpt, and in a last user message
  // cut out of it. A few regex passes over the text when it holds a digit or an '@'.
  static uint32_t PiiMask(const llmrouter::v1::Prompt& prompt);
  // The caller's estimate of the full prompt, else an estimate from the excerpt.
  static uint32_t EstimatedTokens(const llmrouter::v1::Prompt& prompt);
  // Fills `out` from `s`: listed intents with their confidences and, when `every_intent`
  // (explain), the classifier's other intents too.
  void Describe(const PromptSignals& s, bool every_intent,
                llmrouter::v1::PromptAnalysis* out) const;
  const LearnedClassifier* classifier() const { return classifier_.get(); }
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
  // Lists the classifier's confident intents after the keyword matches already listed.
  void ListLearnedIntents(PromptSignals* s) const;
  // The conversation-scoped intents alone, or null when there are none or RE2 cannot compile
  // them; fills conversation_intents_.
  std::unique_ptr<RE2::Set> BuildConversationSet(const std::vector<IntentSpec>& intents);
  // Matches cues and every intent on the last user message.
  MessageCues MatchMessage(absl::string_view message, PromptSignals* s) const;
  // Adds the conversation-scoped intents found in the rest of the prompt.
  void MatchConversation(absl::string_view excerpt, PromptSignals* s) const;

  // The bundle's intents, then the classifier's that the bundle does not define.
  std::vector<std::string> intent_names_;
  // Reasoning and constraint cue groups first, then the bundle's intents, matched in one pass.
  std::unique_ptr<RE2::Set> signals_;
  std::shared_ptr<const LearnedClassifier> classifier_;
  double min_confidence_ = 0.4;
  std::vector<uint8_t> learned_index_;  // classifier intent -> index in intent_names_
  int general_chat_ = -1;               // index in intent_names_ of the classifier's general_chat
  // The intents with scope `conversation`, matched on the excerpt; conversation_intents_[i] is
  // the intent index of the set's pattern i.
  std::unique_ptr<RE2::Set> conversation_;
  std::vector<int> conversation_intents_;
};

// True when the digits of `s` (spaces and dashes ignored) pass the Luhn check.
bool LuhnValid(absl::string_view s);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_PROMPT_ANALYZER_H_
