// fake-llm's /metrics in vLLM's names and label style, so that inventory scrapes it exactly as
// it scrapes a real vLLM server. Written by hand in the Prometheus text format 0.0.4.
#ifndef LLMROUTER_TOOLS_FAKE_LLM_FAKE_LLM_METRICS_H_
#define LLMROUTER_TOOLS_FAKE_LLM_FAKE_LLM_METRICS_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

namespace llmrouter {

enum class InjectedFault { kNone, kError, kHang, kDrop };

// Load values that replace the measured ones in /metrics when >= 0 (the --report_* flags).
struct ReportedLoadOverrides {
  double running = -1;
  double waiting = -1;
  double kv_cache = -1;
};

// Thread-safe: counters are relaxed atomics.
class FakeLlmMetrics {
 public:
  // `model_name` labels every series, as vLLM labels them with its first served model name.
  explicit FakeLlmMetrics(std::string model_name) : model_name_(std::move(model_name)) {}

  // A request answered in full: tokens count once the answer is out.
  void AddSuccess(bool truncated, int prompt_tokens, int generation_tokens) {
    (truncated ? length_ : stop_).fetch_add(1, std::memory_order_relaxed);
    prompt_tokens_.fetch_add(prompt_tokens, std::memory_order_relaxed);
    generation_tokens_.fetch_add(generation_tokens, std::memory_order_relaxed);
  }
  void AddFault(InjectedFault fault) {
    faults_[static_cast<int>(fault)].fetch_add(1, std::memory_order_relaxed);
  }

  // The exposition text. `running` and `waiting` come from the admission queue; the KV-cache
  // usage is modelled as running / max_concurrency.
  std::string Render(int running, int waiting, int max_concurrency,
                     ReportedLoadOverrides overrides = {}) const;

 private:
  const std::string model_name_;
  std::atomic<std::uint64_t> stop_{0};
  std::atomic<std::uint64_t> length_{0};
  std::atomic<std::uint64_t> prompt_tokens_{0};
  std::atomic<std::uint64_t> generation_tokens_{0};
  std::atomic<std::uint64_t> faults_[4] = {};
};

}  // namespace llmrouter

#endif  // LLMROUTER_TOOLS_FAKE_LLM_FAKE_LLM_METRICS_H_
