#include "tools/fake-llm/fake_llm_metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace llmrouter {

namespace {

void Family(std::string* out, const char* name, const char* type, const char* help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

}  // namespace

std::string FakeLlmMetrics::Render(int running_now, int waiting_now, int max_concurrency,
                                   ReportedLoadOverrides overrides) const {
  const std::string label = absl::StrCat("model_name=\"", model_name_, "\"");
  const double running = overrides.running >= 0 ? overrides.running : running_now;
  const double waiting = overrides.waiting >= 0 ? overrides.waiting : waiting_now;
  const double kv =
      overrides.kv_cache >= 0
          ? overrides.kv_cache
          : std::min(1.0, static_cast<double>(running_now) / std::max(max_concurrency, 1));
  auto load = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  std::string out;
  out.reserve(2048);
  Family(&out, "vllm:num_requests_running", "gauge", "Number of requests in model execution.");
  absl::StrAppend(&out, "vllm:num_requests_running{", label, "} ", running, "\n");
  Family(&out, "vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.");
  absl::StrAppend(&out, "vllm:num_requests_waiting{", label, "} ", waiting, "\n");
  Family(&out, "vllm:kv_cache_usage_perc", "gauge",
         "KV-cache usage. 1 means 100 percent usage (modelled as running / max_concurrency).");
  absl::StrAppend(&out, "vllm:kv_cache_usage_perc{", label, "} ", kv, "\n");
  Family(&out, "vllm:request_success_total", "counter",
         "Count of successfully processed requests.");
  absl::StrAppend(&out, "vllm:request_success_total{finished_reason=\"stop\",", label, "} ",
                  load(stop_), "\n");
  absl::StrAppend(&out, "vllm:request_success_total{finished_reason=\"length\",", label, "} ",
                  load(length_), "\n");
  Family(&out, "vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.");
  absl::StrAppend(&out, "vllm:prompt_tokens_total{", label, "} ", load(prompt_tokens_), "\n");
  Family(&out, "vllm:generation_tokens_total", "counter", "Number of generation tokens processed.");
  absl::StrAppend(&out, "vllm:generation_tokens_total{", label, "} ", load(generation_tokens_),
                  "\n");
  Family(&out, "fake_llm_injected_faults_total", "counter",
         "Failures injected by --error_rate, --hang_rate and --drop_rate.");
  const char* kinds[] = {"", "error", "hang", "drop"};
  for (int i = 1; i < 4; ++i) {
    absl::StrAppend(&out, "fake_llm_injected_faults_total{fault=\"", kinds[i], "\",", label, "} ",
                    load(faults_[i]), "\n");
  }
  return out;
}

}  // namespace llmrouter
