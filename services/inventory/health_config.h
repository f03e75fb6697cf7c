// Settings of active health checks, load scraping and outlier ejection, read from the YAML file
// given by --health_config (every key optional; defaults below):
//   probe:            {path: /health, interval: 5s, timeout: 1s, healthy_threshold: 2,
//                      unhealthy_threshold: 3, metrics_path: /metrics, disabled: false}
//   scrape_interval: 5s
//   load_metrics:     # first name present wins; a {name, scale} entry multiplies the value
//     requests_running: [vllm:num_requests_running, sglang:num_running_reqs, ...]
//     requests_waiting: [vllm:num_requests_waiting, sglang:num_queue_reqs, tgi_queue_size]
//     kv_cache_usage:   [vllm:kv_cache_usage_perc, vllm:gpu_cache_usage_perc, sglang:token_usage]
//   outlier:          {consecutive_failures: 5, error_rate: 0.5, min_requests: 20,
//                      base_ejection: 10s, max_ejection: 5m, degraded_error_rate: 0.2,
//                      ewma_alpha: 0.2}
#ifndef LLMROUTER_SERVICES_INVENTORY_HEALTH_CONFIG_H_
#define LLMROUTER_SERVICES_INVENTORY_HEALTH_CONFIG_H_

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "llmrouter/v1/inventory.pb.h"
#include "services/inventory/prometheus_text.h"

namespace llmrouter::inventory {

// The probe of one endpoint, with every default filled in.
struct ProbeSettings {
  std::string path = "/health";
  absl::Duration interval = absl::Seconds(5);
  absl::Duration timeout = absl::Seconds(1);
  int healthy_threshold = 2;
  int unhealthy_threshold = 3;
  bool disabled = false;
  std::string metrics_path = "/metrics";
};

// An endpoint's own HealthCheck fields override the defaults one by one.
ProbeSettings ResolveProbe(const ProbeSettings& defaults, const llmrouter::v1::HealthCheck& own);

struct MetricSource {
  std::string name;
  double scale = 1;
};

// Which backend metrics give each load signal. Running and waiting add up over the series of
// the first metric present; KV-cache usage takes their maximum (one engine per GPU group).
struct LoadMetricMapping {
  std::vector<MetricSource> requests_running;
  std::vector<MetricSource> requests_waiting;
  std::vector<MetricSource> kv_cache_usage;

  // vLLM (current and older names), SGLang and TGI.
  static LoadMetricMapping Defaults();
};

struct ScrapedLoad {
  std::optional<double> requests_running;
  std::optional<double> requests_waiting;
  std::optional<double> kv_cache_usage;  // clamped to [0, 1]
  bool empty() const { return !requests_running && !requests_waiting && !kv_cache_usage; }
};

ScrapedLoad ExtractLoad(const ParsedExposition& metrics, const LoadMetricMapping& mapping);

struct OutlierSettings {
  int consecutive_failures = 5;
  double error_rate = 0.5;
  int min_requests = 20;  // outcomes seen before the error rate may eject
  absl::Duration base_ejection = absl::Seconds(10);
  absl::Duration max_ejection = absl::Minutes(5);
  double degraded_error_rate = 0.2;
  double ewma_alpha = 0.2;
};

struct HealthConfig {
  ProbeSettings probe;
  absl::Duration scrape_interval = absl::Seconds(5);
  LoadMetricMapping load_metrics = LoadMetricMapping::Defaults();
  OutlierSettings outlier;
};

// InvalidArgument lists every problem with its key ("probe.timeout: ...").
absl::StatusOr<HealthConfig> ParseHealthConfigYaml(const std::string& text);
absl::StatusOr<HealthConfig> LoadHealthConfigFile(const std::string& path);

// Reads a `health_check:` mapping of the endpoints file into `out`; problems are appended
// with `where` as prefix. Durations are strings such as "500ms" or "5s".
void ParseHealthCheckNode(const YAML::Node& node, const std::string& where,
                          llmrouter::v1::HealthCheck* out, std::vector<std::string>* problems);

}  // namespace llmrouter::inventory

#endif  // LLMROUTER_SERVICES_INVENTORY_HEALTH_CONFIG_H_
