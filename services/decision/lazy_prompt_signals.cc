#include "services/decision/lazy_prompt_signals.h"

#include <string>

namespace llmrouter::decision {

LazyPromptSignals::LazyPromptSignals(const PromptAnalyzer& analyzer,
                                     const llmrouter::v1::Prompt& prompt,
                                     const PromptSnapshot& known)
    : analyzer_(analyzer),
      prompt_(prompt),
      tokens_(known.estimated_tokens),
      analyzed_(known.analysed),
      replay_(true),
      pii_(known.pii.value_or(0)),
      signals_(known.signals) {
  if (!known.analysed) signals_ = PromptSignals{};
  signals_.estimated_tokens = known.estimated_tokens;
  signals_.pii_mask = *pii_;
}

PromptSnapshot LazyPromptSignals::Snapshot() const {
  PromptSnapshot out;
  out.estimated_tokens = tokens_.value_or(0);
  out.analysed = analyzed_;
  out.pii = pii_;
  if (analyzed_) out.signals = signals_;
  return out;
}

uint32_t LazyPromptSignals::estimated_tokens() {
  if (!tokens_) tokens_ = PromptAnalyzer::EstimatedTokens(prompt_);
  return *tokens_;
}

const PromptSignals& LazyPromptSignals::analysis() {
  if (!analyzed_ && !replay_) {
    signals_ = analyzer_.Analyze(prompt_, estimated_tokens(), /*with_pii=*/false);
    analyzed_ = true;
    if (pii_) signals_.pii_mask = *pii_;
  }
  return signals_;
}

uint32_t LazyPromptSignals::pii_mask() {
  if (!pii_) {
    pii_ = PromptAnalyzer::PiiMask(prompt_);
    signals_.pii_mask = *pii_;
  }
  return *pii_;
}

void LazyPromptSignals::Fill(llmrouter::v1::PromptAnalysis* out, bool every_intent) {
  out->set_estimated_tokens(estimated_tokens());
  if (analyzed_) {
    // The trace shows everything; a plain answer shows PII kinds only when they were looked for.
    if (every_intent) pii_mask();
    analyzer_.Describe(signals_, every_intent, out);
  } else if (pii_) {
    // Only PII was asked about (a pii condition, a data policy): analysed stays false.
    for (std::string& kind : PiiKindNames(*pii_)) out->add_pii_kinds(std::move(kind));
  }
}

}  // namespace llmrouter::decision
