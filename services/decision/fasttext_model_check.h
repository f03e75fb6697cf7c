// Checks a fastText model file before fastText reads it. fastText's loader trusts every count
// and size in the file (it allocates what a header announces and indexes matrices with ids it
// never bounds), so bytes from an operator, a ConfigMap or an RPC are walked here first.
#ifndef LLMROUTER_SERVICES_DECISION_FASTTEXT_MODEL_CHECK_H_
#define LLMROUTER_SERVICES_DECISION_FASTTEXT_MODEL_CHECK_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace llmrouter::decision {

// The largest model file decision accepts (it must fit a ConfigMap with room to spare).
inline constexpr std::size_t kMaxClassifierModelBytes = 1 << 20;

// OK when `bytes` is a complete supervised fastText model of format version 12 (fastText
// 0.9.x; plain or quantized, softmax or one-vs-all loss) whose every size agrees with the others
// and with the file's length, every word id, n-gram bucket and pruned index lands inside its
// matrix, and every weight is finite and within +-10,000. Otherwise InvalidArgument naming the
// first problem and its byte offset. Reads nothing outside `bytes`; allocates nothing
// proportional to announced sizes.
absl::Status CheckFastTextModel(absl::string_view bytes);

}  // namespace llmrouter::decision

#endif  // LLMROUTER_SERVICES_DECISION_FASTTEXT_MODEL_CHECK_H_
