// Settings of one fake-llm backend: what it serves, how fast it answers and which failures it
// injects. main.cc fills them from flags; tests build them directly.
#ifndef LLMROUTER_TOOLS_FAKE_LLM_FAKE_LLM_OPTIONS_H_
#define LLMROUTER_TOOLS_FAKE_LLM_FAKE_LLM_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace llmrouter {

struct FakeLlmOptions {
  std::string host = "127.0.0.1";
  int port = 8000;  // 0 picks a free port
  int threads = 1;
  // Served model names; the first one labels the metrics, like vLLM's --served-model-name.
  std::vector<std::string> models = {"fake-model"};
  // Backend id reported in the x-fake-llm-backend header and system_fingerprint; empty means
  // the first model name.
  std::string name;
  // When set, inference requests need `Authorization: Bearer <api_key>`, like a hosted
  // provider; others get 401 invalid_api_key.
  std::string api_key;
  int latency_ms = 0;    // before the first byte of every inference answer
  int per_token_ms = 0;  // between stream chunks; JSON answers wait tokens * per_token_ms too
  int completion_tokens = 16;
  int max_concurrency = 64;  // requests beyond it wait for a slot (vllm:num_requests_waiting)
  // Each is checked in this order with its own draw; see FakeLlmServer.
  double error_rate = 0;
  int error_status = 500;
  double hang_rate = 0;
  double drop_rate = 0;
  std::uint64_t seed = 1;
  // When >= 0, /metrics reports this instead of the real value (to give tests a fixed load).
  double report_running = -1;
  double report_waiting = -1;
  double report_kv_cache = -1;

  const std::string& backend_name() const { return name.empty() ? models.front() : name; }
};

// InvalidArgument naming the first bad field, e.g. "--error_rate must be in [0, 1], got 2".
absl::Status ValidateFakeLlmOptions(const FakeLlmOptions& options);

}  // namespace llmrouter

#endif  // LLMROUTER_TOOLS_FAKE_LLM_FAKE_LLM_OPTIONS_H_
