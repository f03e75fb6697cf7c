// A line diff of two texts, for showing what changed between policy revisions.
#ifndef LLMROUTER_COMMON_LINE_DIFF_H_
#define LLMROUTER_COMMON_LINE_DIFF_H_

#include <string>

namespace llmrouter {

// Every line of `before` and `after` in order, prefixed "-" (only in before), "+" (only in
// after) or " " (in both), from a longest-common-subsequence alignment. Quadratic in the number
// of lines: meant for documents of a few thousand lines.
std::string LineDiff(const std::string& before, const std::string& after);

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_LINE_DIFF_H_
