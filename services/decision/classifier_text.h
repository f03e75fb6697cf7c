// The text the prompt classifier reads, prepared the same way for training and prediction.
// fastText splits on whitespace only, so this is where words are made: case folded, digits
// folded, punctuation runs as their own tokens, and scripts written without spaces (Han, kana)
// cut into character bigrams.
#ifndef LLMROUTER_SERVICES_DECISION_CLASSIFIER_TEXT_H_
#define LLMROUTER_SERVICES_DECISION_CLASSIFIER_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace llmrouter::decision {

// The part of a long message the classifier reads: its first kClassifierHeadBytes and its last
// kClassifierTailBytes (a request's instruction is usually at one end of pasted material).
inline constexpr std::size_t kClassifierHeadBytes = 256;
inline constexpr std::size_t kClassifierTailBytes = 64;

// Replaces `*out` with the tokens of `text`'s window, separated by single spaces, never with a
// newline (fastText ends a line there) nor a token starting with fastText's "__label__" prefix.
// Invalid UTF-8 bytes are dropped. Linear in the window; `*out`'s capacity is reused.
void PrepareClassifierText(absl::string_view text, std::string* out);

// The same tokens for the whole of `text`, without the window (corpus checks compare whole
// prompts).
void TokenizeForClassifier(absl::string_view text, std::string* out);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_CLASSIFIER_TEXT_H_
