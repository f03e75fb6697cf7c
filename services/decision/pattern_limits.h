// Bounds on the RE2 programs a policy bundle makes decision build. RE2 runs in linear time, but
// the size of its compiled program is the author's to choose ({0,100} repeats what it follows a
// hundred times), and a set that outgrows RE2's memory budget does not compile at all. Bundles
// are checked against these limits when they are parsed, so that no bundle can make decision
// build a program it cannot hold.
#ifndef LLMROUTER_SERVICES_DECISION_PATTERN_LIMITS_H_
#define LLMROUTER_SERVICES_DECISION_PATTERN_LIMITS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/decision/policy_bundle.h"

namespace llmrouter::decision {

// RE2 instructions one pattern (an intent's pattern, a header regex) may compile to.
inline constexpr int kMaxPatternProgramSize = 5000;
// RE2 instructions all intents of a bundle (keywords and patterns) may compile to together.
// Keywords' Unicode word-boundary guards cost about 2,700 instructions per intent; at this size
// the set's program is under 2 MiB, far below kIntentSetMaxMemBytes.
inline constexpr int kMaxIntentsProgramSize = 100000;
// The memory RE2 may use for the set of cues and intents: its program (far below this, given
// the limits above) and the DFA states it builds while matching.
inline constexpr int64_t kIntentSetMaxMemBytes = 16 << 20;

// OK, or InvalidArgument naming RE2's complaint or the program's size against the limit.
absl::Status CheckPattern(const std::string& pattern);

// The one regex an intent matches with: its keywords (KeywordsRegex), or any of its patterns.
std::string IntentRegex(const IntentSpec& intent);

// Keywords as one case-insensitive regex (Unicode case folding). A keyword that starts or ends
// with a letter, digit or '_' matches only where a Unicode word boundary is on that side (no
// letter, digit or '_' of any script next to it: "function" does not match "functions", "ber"
// does not match "über"); one that starts or ends with punctuation needs no boundary there
// ("c++", "c#", ".net"); Han, Hiragana and Katakana keywords match anywhere ("代码", "コード"),
// since those scripts separate words with no space.
std::string KeywordsRegex(const std::vector<std::string>& keywords);

// Index of the first intent at which the intents' programs together exceed
// kMaxIntentsProgramSize, and the total size up to and including it; index -1 when they fit.
struct IntentsProgramSize {
  int first_over = -1;
  int64_t size = 0;
};
IntentsProgramSize MeasureIntents(const std::vector<IntentSpec>& intents);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_PATTERN_LIMITS_H_
