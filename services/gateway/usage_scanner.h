// Finds token usage in what a backend answered — a JSON body's "usage" object or the final SSE
// chunk sent with stream_options.include_usage — without parsing the whole answer.
#ifndef LLMROUTER_SERVICES_GATEWAY_USAGE_SCANNER_H_
#define LLMROUTER_SERVICES_GATEWAY_USAGE_SCANNER_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace llmrouter::gateway {

struct TokenUsage {
  bool found = false;
  uint32_t prompt_tokens = 0;
  uint32_t completion_tokens = 0;
};

// Reads the last `"usage":{...}` object in `text`; found is false when there is none (or it is
// null).
TokenUsage FindUsage(std::string_view text);

// Follows an SSE stream piece by piece and keeps the usage of the last event that carried one.
// Only the current, unfinished event is buffered (up to a bound), so memory stays small however
// long the stream is. Not thread-safe.
class SseUsageScanner {
 public:
  void Feed(std::string_view piece);
  const TokenUsage& usage() const { return usage_; }

 private:
  std::string event_;
  bool overflow_ = false;
  // What the current line holds so far. A line that is empty or a lone '\r' ends an event, also
  // when a piece ends between its '\r' and its '\n'.
  enum class LineSoFar : unsigned char { kEmpty, kCarriageReturn, kText };
  LineSoFar line_ = LineSoFar::kEmpty;
  TokenUsage usage_;
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_USAGE_SCANNER_H_
