// A parser for the Prometheus text exposition format (0.0.4, and the OpenMetrics lines a
// scraper meets in practice), used to read load from the backends' own /metrics.
#ifndef LLMROUTER_SERVICES_INVENTORY_PROMETHEUS_TEXT_H_
#define LLMROUTER_SERVICES_INVENTORY_PROMETHEUS_TEXT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace llmrouter::inventory {

struct MetricSample {
  std::string name;
  // In the order written, values unescaped.
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;  // may be NaN or +/-Inf
  std::optional<int64_t> timestamp_ms;

  // The value of a label, or nullptr.
  const std::string* Label(absl::string_view label) const;
};

struct MetricFamilyInfo {
  std::string type;  // "gauge", "counter", ... as written; empty without a TYPE line
  std::string help;  // unescaped
};

struct ParsedExposition {
  std::vector<MetricSample> samples;
  absl::flat_hash_map<std::string, MetricFamilyInfo> families;
  // One message per line that could not be read ("line 7: ..."); such lines are skipped so
  // that one odd series never hides the rest of a scrape.
  std::vector<std::string> errors;
};

// Never fails as a whole: bad lines land in `errors`.
ParsedExposition ParsePrometheusText(absl::string_view text);

}  // namespace llmrouter::inventory

#endif  // LLMROUTER_SERVICES_INVENTORY_PROMETHEUS_TEXT_H_
