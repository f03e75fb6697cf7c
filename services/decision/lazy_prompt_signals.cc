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

void LazyPromptSignals::Fill(llmrouter::v1::PromptAnalysis* out) {
  out->set_estimated_tokens(estimated_tokens());
  if (!analyzed_) return;
  out->set_complexity(signals_.complexity);
  const std::vector<std::string>& names = analyzer_.intent_names();
  for (size_t i = 0; i < names.size(); ++i) {
    if (signals_.intent_mask & (uint64_t{1} << i)) out->add_intents(names[i]);
  }
  for (std::string& kind : PiiKindNames(signals_.pii_mask)) out->add_pii_kinds(std::move(kind));
}

}  // namespace llmrouter::decision
