// Reads the few fields fake-llm needs from an OpenAI request body (chat completions,
// completions, embeddings) with simdjson, and nothing more.
#ifndef LLMROUTER_TOOLS_FAKE_LLM_INFERENCE_REQUEST_H_
#define LLMROUTER_TOOLS_FAKE_LLM_INFERENCE_REQUEST_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"

namespace llmrouter {

enum class InferenceApi { kChatCompletions, kCompletions, kEmbeddings };

struct InferenceRequest {
  int model_index = 0;  // into the served model names
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  int max_tokens = -1;         // max_tokens or max_completion_tokens; -1 when absent
  int prompt_tokens = 0;       // estimated as text bytes / 4, or the token ids given
  // Embeddings only: one stable hash and token estimate per input.
  absl::InlinedVector<std::uint64_t, 4> input_hashes;
  bool base64 = false;  // encoding_format "base64"
};

// Parses `body` for `api`. Thread-safe: each thread reuses its own parser, so after warm-up a
// call allocates nothing (beyond input_hashes past four inputs). Errors, to be answered in the
// OpenAI shape: InvalidArgument (HTTP 400) for malformed JSON or a missing or mistyped field,
// NotFound (HTTP 404, code model_not_found) for a model that is not in `served_models`.
absl::StatusOr<InferenceRequest> ParseInferenceRequest(
    InferenceApi api, std::string_view body, const std::vector<std::string>& served_models);

// 64-bit FNV-1a; stable across processes and platforms.
std::uint64_t Fnv1a64(std::string_view bytes, std::uint64_t h = 14695981039346656037ull);

}  // namespace llmrouter

#endif  // LLMROUTER_TOOLS_FAKE_LLM_INFERENCE_REQUEST_H_
