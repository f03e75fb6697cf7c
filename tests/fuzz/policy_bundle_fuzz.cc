// libFuzzer target: a policy bundle's YAML, as anyone may send it to TestBundle: parsed and
// validated, and when valid compiled, its own tests routed, and a few prompts analysed.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "llmrouter/v1/decision.pb.h"
#include "services/decision/bundle_tester.h"
#include "services/decision/compiled_policy.h"
#include "services/decision/policy_bundle.h"
#include "services/decision/prompt_analyzer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace decision = llmrouter::decision;
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  decision::PolicyBundle bundle;
  if (!decision::ParsePolicyBundle(yaml, &bundle).empty()) return 0;
  std::shared_ptr<const decision::CompiledPolicy> policy =
      decision::CompiledPolicy::Compile(std::move(bundle), /*revision=*/1, "fuzz");
  decision::RunBundleTests(*policy);
  for (const char* text :
       {"", "Why does this Python function raise a KeyError?",
        "Translate step by step, in at most 3 sentences: x1 y2 z3 ```",
        "mail me at a@b.example or call +1 555 0100, card 4111 1111 1111 1111"}) {
    llmrouter::v1::Prompt prompt;
    prompt.set_excerpt(text);
    policy->analyzer().Analyze(prompt);
  }
  return 0;
}
