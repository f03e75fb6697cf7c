// libFuzzer target: usage found in a backend's answer (JSON body or SSE stream). The stream
// scanner must find the same usage however the stream is cut into reads: the input is fed whole,
// byte by byte, split at every point (short inputs) and at points drawn from the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "services/gateway/usage_scanner.h"

namespace {

using llmrouter::gateway::SseUsageScanner;
using llmrouter::gateway::TokenUsage;

bool Same(const TokenUsage& a, const TokenUsage& b) {
  return a.found == b.found && a.prompt_tokens == b.prompt_tokens &&
         a.completion_tokens == b.completion_tokens;
}

TokenUsage FeedInPieces(std::string_view text, const std::vector<size_t>& cuts) {
  SseUsageScanner scanner;
  size_t from = 0;
  for (size_t cut : cuts) {
    scanner.Feed(text.substr(from, cut - from));
    from = cut;
  }
  scanner.Feed(text.substr(from));
  return scanner.usage();
}

void ExpectSame(const TokenUsage& whole, const TokenUsage& split, const char* how, size_t at) {
  if (Same(whole, split)) return;
  std::fprintf(stderr,
               "usage differs when the stream is fed %s (at %zu): whole found=%d %u/%u, "
               "split found=%d %u/%u\n",
               how, at, whole.found, whole.prompt_tokens, whole.completion_tokens, split.found,
               split.prompt_tokens, split.completion_tokens);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  llmrouter::gateway::FindUsage(text);

  const TokenUsage whole = FeedInPieces(text, {});
  {
    SseUsageScanner scanner;
    for (char c : text) scanner.Feed(std::string_view(&c, 1));
    ExpectSame(whole, scanner.usage(), "byte by byte", 0);
  }
  if (size <= 512) {
    for (size_t cut = 1; cut < size; ++cut) {
      ExpectSame(whole, FeedInPieces(text, {cut}), "in two pieces", cut);
    }
  }
  // A few cuts at once, at points taken from the input itself (deterministic per input).
  std::vector<size_t> cuts;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < size && cuts.size() < 8; i += 1 + size / 9) {
    h = (h ^ data[i]) * 1099511628211ull;
    size_t cut = size ? h % size : 0;
    if (cut > 0 && (cuts.empty() || cut > cuts.back())) cuts.push_back(cut);
  }
  ExpectSame(whole, FeedInPieces(text, cuts), "in several pieces", cuts.empty() ? 0 : cuts[0]);
  return 0;
}
