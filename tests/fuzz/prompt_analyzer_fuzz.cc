// libFuzzer target: prompt analysis (token estimate, cues and intents, PII) of any prompt text,
// with the demo bundle's intents. The token estimate keeps its header's promise: never more
// tokens than bytes, at least one for non-empty text.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/token_estimator.h"
#include "llmrouter/v1/decision.pb.h"
#include "services/decision/policy_bundle.h"
#include "services/decision/prompt_analyzer.h"

namespace {

using llmrouter::decision::IntentSpec;
using llmrouter::decision::PromptAnalyzer;

const PromptAnalyzer& Analyzer() {
  static const PromptAnalyzer* analyzer = [] {
    std::vector<IntentSpec> intents(3);
    intents[0].name = "code";
    intents[0].keywords = {"function", "compile",    "bug",        "stack trace", "refactor",
                           "python",   "javascript", "typescript", "sql"};
    intents[0].patterns = {"```"};
    intents[1].name = "math";
    intents[1].patterns = {R"(\d+\s*[-+*/^]\s*\d+)", R"((?i)\b(?:integral|derivative)\b)"};
    intents[2].name = "translate";
    intents[2].keywords = {"translate", "traduire", "übersetzen", "翻译", "c++"};
    intents[2].scope = llmrouter::decision::IntentScope::kConversation;
    return new PromptAnalyzer(intents);
  }();
  return *analyzer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  const uint32_t tokens = llmrouter::EstimateTokens(text);
  if (tokens > size || (size > 0 && tokens == 0)) {
    std::fprintf(stderr, "EstimateTokens: %u tokens for %zu bytes\n", tokens, size);
    std::abort();
  }
  // The long-prompt counter, with a window small enough that most inputs cross it.
  llmrouter::PromptTokenCounter counter(size % 64);
  counter.Add(text);
  if (counter.Total() > 3 * size) {
    std::fprintf(stderr, "PromptTokenCounter: %u tokens for %zu bytes\n", counter.Total(), size);
    std::abort();
  }
  llmrouter::v1::Prompt prompt;
  prompt.set_excerpt(text);
  // Half the inputs also carry a last user message: the input's second half.
  if (size % 2 == 1) prompt.set_last_user_message(text.substr(size / 2));
  llmrouter::decision::PromptSignals signals = Analyzer().Analyze(prompt);
  if (!(signals.complexity >= 0 && signals.complexity <= 1)) {
    std::fprintf(stderr, "complexity %f outside [0, 1]\n", signals.complexity);
    std::abort();
  }
  if (signals.intent_mask >> 3 != 0) std::abort();  // only the three intents above
  llmrouter::decision::PiiKindNames(signals.pii_mask);
  return 0;
}
