#include "services/decision/pattern_limits.h"

#include <re2/re2.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace llmrouter::decision {

absl::Status CheckPattern(const std::string& pattern) {
  RE2 re(pattern, RE2::Quiet);
  if (!re.ok())
    return absl::InvalidArgumentError(absl::StrCat("invalid RE2 pattern: ", re.error()));
  if (re.ProgramSize() > kMaxPatternProgramSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pattern compiles to ", re.ProgramSize(), " RE2 instructions; the limit is ",
        kMaxPatternProgramSize, " (bounded repeats such as {0,100} multiply what they follow)"));
  }
  return absl::OkStatus();
}

std::string IntentRegex(const IntentSpec& intent) {
  std::vector<std::string> alternatives;
  if (!intent.keywords.empty()) {
    std::vector<std::string> quoted;
    quoted.reserve(intent.keywords.size());
    for (const std::string& k : intent.keywords) quoted.push_back(RE2::QuoteMeta(k));
    alternatives.push_back(absl::StrCat(R"((?i)\b(?:)", absl::StrJoin(quoted, "|"), R"()\b)"));
  }
  for (const std::string& p : intent.patterns) alternatives.push_back(absl::StrCat("(?:", p, ")"));
  return absl::StrJoin(alternatives, "|");
}

IntentsProgramSize MeasureIntents(const std::vector<IntentSpec>& intents) {
  IntentsProgramSize out;
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kIntentSetMaxMemBytes);
  for (size_t i = 0; i < intents.size(); ++i) {
    RE2 re(IntentRegex(intents[i]), options);
    // A pattern that does not compile is reported where it is written; it adds nothing here.
    if (!re.ok()) continue;
    out.size += re.ProgramSize();
    if (out.size > kMaxIntentsProgramSize) {
      out.first_over = static_cast<int>(i);
      return out;
    }
  }
  return out;
}

}  // namespace llmrouter::decision
