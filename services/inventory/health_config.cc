#include "services/inventory/health_config.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/proto_time.h"
#include "common/text_file.h"

namespace llmrouter::inventory {
namespace {

using Problems = std::vector<std::string>;

void CheckKeys(const YAML::Node& node, const std::string& where,
               std::initializer_list<const char*> known, Problems* problems) {
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
      problems->push_back(absl::StrCat(where, key, ": unknown field"));
    }
  }
}

std::optional<absl::Duration> DurationAt(const YAML::Node& node, const char* key,
                                         const std::string& where, Problems* problems) {
  const YAML::Node v = node[key];
  if (!v) return std::nullopt;
  absl::Duration d;
  if (!v.IsScalar() || !absl::ParseDuration(v.as<std::string>(), &d) || d <= absl::ZeroDuration()) {
    problems->push_back(
        absl::StrCat(where, key, ": must be a positive duration such as \"500ms\" or \"5s\""));
    return std::nullopt;
  }
  return d;
}

template <typename T>
std::optional<T> NumberAt(const YAML::Node& node, const char* key, T min, T max,
                          const std::string& where, Problems* problems) {
  const YAML::Node v = node[key];
  if (!v) return std::nullopt;
  try {
    T n = v.as<T>();
    if (n >= min && n <= max) return n;
  } catch (const YAML::Exception&) {
  }
  problems->push_back(absl::StrCat(where, key, ": must be a number in [", min, ", ", max, "]"));
  return std::nullopt;
}

void ParseSources(const YAML::Node& node, const std::string& where, std::vector<MetricSource>* out,
                  Problems* problems) {
  if (!node.IsSequence()) {
    problems->push_back(absl::StrCat(where, ": must be a list of metric names"));
    return;
  }
  out->clear();
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    std::string at = absl::StrCat(where, "[", i, "]");
    MetricSource source;
    if (item.IsScalar()) {
      source.name = item.as<std::string>();
    } else if (item.IsMap() && item["name"] && item["name"].IsScalar()) {
      CheckKeys(item, at + ".", {"name", "scale"}, problems);
      source.name = item["name"].as<std::string>();
      if (auto scale = NumberAt<double>(item, "scale", -1e12, 1e12, at + ".", problems)) {
        source.scale = *scale;
      }
    } else {
      problems->push_back(absl::StrCat(at, ": must be a metric name or {name, scale}"));
      continue;
    }
    if (source.name.empty()) {
      problems->push_back(absl::StrCat(at, ": empty metric name"));
      continue;
    }
    out->push_back(std::move(source));
  }
}

// Sum (or max) of the first source present; nullopt when none is.
std::optional<double> Pick(const ParsedExposition& metrics, const std::vector<MetricSource>& from,
                           bool use_max) {
  for (const MetricSource& source : from) {
    bool found = false;
    double acc = 0;
    for (const MetricSample& s : metrics.samples) {
      if (s.name != source.name || !std::isfinite(s.value)) continue;
      acc = !found ? s.value : (use_max ? std::max(acc, s.value) : acc + s.value);
      found = true;
    }
    if (found) return acc * source.scale;
  }
  return std::nullopt;
}

}  // namespace

ProbeSettings ResolveProbe(const ProbeSettings& defaults, const llmrouter::v1::HealthCheck& own) {
  ProbeSettings p = defaults;
  if (!own.path().empty()) p.path = own.path();
  if (own.has_interval() && FromProto(own.interval()) > absl::ZeroDuration()) {
    p.interval = FromProto(own.interval());
  }
  if (own.has_timeout() && FromProto(own.timeout()) > absl::ZeroDuration()) {
    p.timeout = FromProto(own.timeout());
  }
  if (own.healthy_threshold() > 0) p.healthy_threshold = static_cast<int>(own.healthy_threshold());
  if (own.unhealthy_threshold() > 0) {
    p.unhealthy_threshold = static_cast<int>(own.unhealthy_threshold());
  }
  if (own.disabled()) p.disabled = true;
  if (!own.metrics_path().empty()) p.metrics_path = own.metrics_path();
  return p;
}

LoadMetricMapping LoadMetricMapping::Defaults() {
  LoadMetricMapping m;
  m.requests_running = {
      {"vllm:num_requests_running"}, {"sglang:num_running_reqs"}, {"tgi_batch_current_size"}};
  m.requests_waiting = {
      {"vllm:num_requests_waiting"}, {"sglang:num_queue_reqs"}, {"tgi_queue_size"}};
  // vLLM renamed gpu_cache_usage_perc to kv_cache_usage_perc; both are fractions in [0, 1]
  // despite the name, as is SGLang's token_usage. TGI exports no KV-cache gauge.
  m.kv_cache_usage = {
      {"vllm:kv_cache_usage_perc"}, {"vllm:gpu_cache_usage_perc"}, {"sglang:token_usage"}};
  return m;
}

ScrapedLoad ExtractLoad(const ParsedExposition& metrics, const LoadMetricMapping& mapping) {
  ScrapedLoad load;
  load.requests_running = Pick(metrics, mapping.requests_running, false);
  load.requests_waiting = Pick(metrics, mapping.requests_waiting, false);
  load.kv_cache_usage = Pick(metrics, mapping.kv_cache_usage, true);
  if (load.kv_cache_usage) load.kv_cache_usage = std::clamp(*load.kv_cache_usage, 0.0, 1.0);
  return load;
}

void ParseHealthCheckNode(const YAML::Node& node, const std::string& where,
                          llmrouter::v1::HealthCheck* out, Problems* problems) {
  if (!node.IsMap()) {
    problems->push_back(absl::StrCat(where, ": must be a mapping"));
    return;
  }
  const std::string at = where + ".";
  CheckKeys(node, at,
            {"path", "interval", "timeout", "healthy_threshold", "unhealthy_threshold", "disabled",
             "metrics_path"},
            problems);
  auto path = [&](const char* key, std::string* dst) {
    const YAML::Node v = node[key];
    if (!v) return;
    std::string s = v.IsScalar() ? v.as<std::string>() : "";
    if (s.empty() || s[0] != '/') {
      problems->push_back(absl::StrCat(at, key, ": must be a path starting with /"));
      return;
    }
    *dst = s;
  };
  path("path", out->mutable_path());
  path("metrics_path", out->mutable_metrics_path());
  if (auto d = DurationAt(node, "interval", at, problems)) ToProto(*d, out->mutable_interval());
  if (auto d = DurationAt(node, "timeout", at, problems)) ToProto(*d, out->mutable_timeout());
  if (auto n = NumberAt<int>(node, "healthy_threshold", 1, 100, at, problems)) {
    out->set_healthy_threshold(*n);
  }
  if (auto n = NumberAt<int>(node, "unhealthy_threshold", 1, 100, at, problems)) {
    out->set_unhealthy_threshold(*n);
  }
  if (const YAML::Node v = node["disabled"]) {
    try {
      out->set_disabled(v.as<bool>());
    } catch (const YAML::Exception&) {
      problems->push_back(absl::StrCat(at, "disabled: must be true or false"));
    }
  }
}

absl::StatusOr<HealthConfig> ParseHealthConfigYaml(const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("health config is not valid YAML: ", e.what()));
  }
  HealthConfig config;
  if (root.IsNull()) return config;
  if (!root.IsMap()) return absl::InvalidArgumentError("health config: must be a mapping");
  Problems problems;
  try {
    CheckKeys(root, "", {"probe", "scrape_interval", "load_metrics", "outlier"}, &problems);
    if (const YAML::Node probe = root["probe"]) {
      llmrouter::v1::HealthCheck check;
      ParseHealthCheckNode(probe, "probe", &check, &problems);
      config.probe = ResolveProbe(config.probe, check);
    }
    if (auto d = DurationAt(root, "scrape_interval", "", &problems)) config.scrape_interval = *d;
    if (const YAML::Node m = root["load_metrics"]) {
      if (!m.IsMap()) {
        problems.push_back("load_metrics: must be a mapping");
      } else {
        CheckKeys(m, "load_metrics.", {"requests_running", "requests_waiting", "kv_cache_usage"},
                  &problems);
        if (m["requests_running"]) {
          ParseSources(m["requests_running"], "load_metrics.requests_running",
                       &config.load_metrics.requests_running, &problems);
        }
        if (m["requests_waiting"]) {
          ParseSources(m["requests_waiting"], "load_metrics.requests_waiting",
                       &config.load_metrics.requests_waiting, &problems);
        }
        if (m["kv_cache_usage"]) {
          ParseSources(m["kv_cache_usage"], "load_metrics.kv_cache_usage",
                       &config.load_metrics.kv_cache_usage, &problems);
        }
      }
    }
    if (const YAML::Node o = root["outlier"]) {
      const std::string at = "outlier.";
      OutlierSettings& s = config.outlier;
      if (!o.IsMap()) {
        problems.push_back("outlier: must be a mapping");
      } else {
        CheckKeys(o, at,
                  {"consecutive_failures", "error_rate", "min_requests", "base_ejection",
                   "max_ejection", "degraded_error_rate", "ewma_alpha"},
                  &problems);
        if (auto n = NumberAt<int>(o, "consecutive_failures", 1, 1000, at, &problems)) {
          s.consecutive_failures = *n;
        }
        if (auto n = NumberAt<double>(o, "error_rate", 0.0, 1.0, at, &problems)) s.error_rate = *n;
        if (auto n = NumberAt<int>(o, "min_requests", 1, 1000000, at, &problems)) {
          s.min_requests = *n;
        }
        if (auto d = DurationAt(o, "base_ejection", at, &problems)) s.base_ejection = *d;
        if (auto d = DurationAt(o, "max_ejection", at, &problems)) s.max_ejection = *d;
        if (auto n = NumberAt<double>(o, "degraded_error_rate", 0.0, 1.0, at, &problems)) {
          s.degraded_error_rate = *n;
        }
        if (auto n = NumberAt<double>(o, "ewma_alpha", 0.001, 1.0, at, &problems)) {
          s.ewma_alpha = *n;
        }
        if (s.max_ejection < s.base_ejection) {
          problems.push_back("outlier.max_ejection: must not be shorter than base_ejection");
        }
      }
    }
  } catch (const YAML::Exception& e) {
    problems.push_back(e.what());
  }
  if (config.probe.timeout > config.probe.interval) {
    problems.push_back("probe.timeout: must not be longer than probe.interval");
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
  return config;
}

absl::StatusOr<HealthConfig> LoadHealthConfigFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  return ParseHealthConfigYaml(*text);
}

}  // namespace llmrouter::inventory
