// The prompt's signals for one request, computed when a rule, a filter or the trace first asks
// for them, so that traffic whose policy asks nothing of the prompt pays for no analysis.
#ifndef LLMROUTER_SERVICES_DECISION_LAZY_PROMPT_SIGNALS_H_
#define LLMROUTER_SERVICES_DECISION_LAZY_PROMPT_SIGNALS_H_

#include <cstdint>
#include <optional>

#include "llmrouter/v1/decision.pb.h"
#include "services/decision/prompt_analyzer.h"

namespace llmrouter::decision {

// What one decision learned of its prompt: enough to route the request again without its text
// (the decision log keeps it to replay a decision for why-not).
struct PromptSnapshot {
  uint32_t estimated_tokens = 0;
  bool analysed = false;
  std::optional<uint32_t> pii;  // unset: nothing asked for PII
  PromptSignals signals;        // meaningful when analysed
};

// One per request, not thread-safe; the analyzer and the prompt must outlive it. Each value is
// computed at most once: the token estimate alone (the caller's, else the estimator's on the
// excerpt) without the analysis, the analysis (intents, complexity, classifier) at its first
// use, and PII (regex passes over the whole excerpt) only when something asks for it.
class LazyPromptSignals {
 public:
  LazyPromptSignals(const PromptAnalyzer& analyzer, const llmrouter::v1::Prompt& prompt)
      : analyzer_(analyzer), prompt_(prompt) {}
  // Replays `known`: nothing is computed from the prompt; what the decision did not compute
  // reads as nothing found (no intent, no PII), as it did not matter to it.
  LazyPromptSignals(const PromptAnalyzer& analyzer, const llmrouter::v1::Prompt& prompt,
                    const PromptSnapshot& known);
  LazyPromptSignals(const LazyPromptSignals&) = delete;
  LazyPromptSignals& operator=(const LazyPromptSignals&) = delete;

  // The full prompt's token estimate; does not analyse the prompt.
  uint32_t estimated_tokens();
  // The analysis (intents, complexity, the classifier), computed now if it has not been; its
  // pii_mask is not set: ask pii_mask().
  const PromptSignals& analysis();
  // The PII kinds found in the prompt, looked for now if they have not been (a rule's pii
  // condition, a data_policy constraint, explain).
  uint32_t pii_mask();
  // Whether analysis() has run for this request.
  bool analyzed() const { return analyzed_; }
  // What has been computed so far.
  PromptSnapshot Snapshot() const;

  // Writes what is known into `out`: the token estimate always, the rest when analysed (with
  // every intent's confidence when `every_intent`, for explain; analysis.analysed says which).
  void Fill(llmrouter::v1::PromptAnalysis* out, bool every_intent);

 private:
  const PromptAnalyzer& analyzer_;
  const llmrouter::v1::Prompt& prompt_;
  std::optional<uint32_t> tokens_;
  bool analyzed_ = false;
  bool replay_ = false;  // built from a snapshot: computes nothing
  std::optional<uint32_t> pii_;
  PromptSignals signals_;
};

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_LAZY_PROMPT_SIGNALS_H_
