#include "services/decision/lazy_prompt_signals.h"

namespace llmrouter::decision {

uint32_t LazyPromptSignals::estimated_tokens() {
  if (!tokens_) tokens_ = PromptAnalyzer::EstimatedTokens(prompt_);
  return *tokens_;
}

const PromptSignals& LazyPromptSignals::analysis() {
  if (!analyzed_) {
    signals_ = analyzer_.Analyze(prompt_, estimated_tokens());
    analyzed_ = true;
  }
  return signals_;
}

void LazyPromptSignals::Fill(llmrouter::v1::PromptAnalysis* out, bool every_intent) {
  out->set_estimated_tokens(estimated_tokens());
  if (analyzed_) analyzer_.Describe(signals_, every_intent, out);
}

}  // namespace llmrouter::decision
