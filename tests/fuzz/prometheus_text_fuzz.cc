// libFuzzer target: the Prometheus text parser reads whatever a backend's /metrics answers.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "services/inventory/prometheus_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using llmrouter::inventory::ParsePrometheusText;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  llmrouter::inventory::ParsedExposition parsed = ParsePrometheusText(text);
  // A sample's name is never empty; every line holds at most one sample.
  for (const auto& sample : parsed.samples) {
    if (sample.name.empty()) std::abort();
    for (const auto& [label, value] : sample.labels) {
      if (sample.Label(label) == nullptr) std::abort();
    }
  }
  return 0;
}
