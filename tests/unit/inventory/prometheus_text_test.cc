#include "services/inventory/prometheus_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "services/inventory/health_config.h"

namespace llmrouter::inventory {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;

// Trimmed from a vLLM 0.6 server's /metrics.
constexpr char kVllm[] =
    R"(# HELP vllm:num_requests_running Number of requests currently running on GPU.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="meta-llama/Llama-3.1-8B-Instruct"} 7.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="meta-llama/Llama-3.1-8B-Instruct"} 3.0
# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.4215
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{le="0.001",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.0
vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="meta-llama/Llama-3.1-8B-Instruct"} 812.0
vllm:time_to_first_token_seconds_sum{model_name="meta-llama/Llama-3.1-8B-Instruct"} 41.28
# HELP python_gc_objects_collected_total Objects collected during gc
# TYPE python_gc_objects_collected_total counter
python_gc_objects_collected_total{generation="0"} 12345.0
)";

// Trimmed from an SGLang 0.3 server.
constexpr char kSglang[] = R"(# HELP sglang:num_running_reqs The number of running requests
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{name="Qwen/Qwen2.5-72B-Instruct"} 12.0
# HELP sglang:num_queue_reqs The number of requests in the waiting queue
# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{name="Qwen/Qwen2.5-72B-Instruct"} 5.0
# HELP sglang:token_usage The token usage
# TYPE sglang:token_usage gauge
sglang:token_usage{name="Qwen/Qwen2.5-72B-Instruct"} 0.87
)";

// Trimmed from text-generation-inference 2.x (no labels, no trailing newline).
constexpr char kTgi[] =
    "# TYPE tgi_queue_size gauge\ntgi_queue_size 9\n"
    "# TYPE tgi_batch_current_size gauge\ntgi_batch_current_size 4\n"
    "# TYPE tgi_request_count counter\ntgi_request_count 1234";

TEST(PrometheusTextTest, ReadsNamesWithColonsLabelsAndFamilies) {
  ParsedExposition p = ParsePrometheusText(kVllm);
  EXPECT_THAT(p.errors, IsEmpty());
  ASSERT_THAT(p.samples, SizeIs(7));
  EXPECT_EQ(p.samples[0].name, "vllm:num_requests_running");
  EXPECT_THAT(p.samples[0].labels,
              ElementsAre(Pair("model_name", "meta-llama/Llama-3.1-8B-Instruct")));
  EXPECT_EQ(p.samples[0].value, 7.0);
  EXPECT_TRUE(std::isinf(p.samples[4].value) == false);
  EXPECT_EQ(*p.samples[4].Label("le"), "+Inf");
  EXPECT_EQ(p.families["vllm:gpu_cache_usage_perc"].type, "gauge");
  EXPECT_EQ(p.families["vllm:num_requests_waiting"].help,
            "Number of requests waiting to be processed.");
  EXPECT_EQ(p.samples[6].Label("missing"), nullptr);
}

TEST(PrometheusTextTest, ReadsEscapesSpecialValuesAndTimestamps) {
  ParsedExposition p = ParsePrometheusText(
      "# HELP weird A help with a \\\\ backslash\\nand a newline\n"
      "weird{path=\"C:\\\\dir\",quote=\"say \\\"hi\\\"\",nl=\"a\\nb\",} NaN 1700000000123\n"
      "weird{k=\"v\"} +Inf\n"
      "weird{k=\"w\"}\t-Inf   -5\n"
      "weird 1.5e3 1700000000.5\n"
      "  # indented comment\n"
      "\r\n"
      "plain_total 42 # {trace_id=\"abc\"} 1.0\n");
  EXPECT_THAT(p.errors, IsEmpty());
  ASSERT_THAT(p.samples, SizeIs(5));
  EXPECT_EQ(p.families["weird"].help, "A help with a \\ backslash\nand a newline");
  EXPECT_THAT(p.samples[0].labels, ElementsAre(Pair("path", "C:\\dir"), Pair("quote", "say \"hi\""),
                                               Pair("nl", "a\nb")));
  EXPECT_TRUE(std::isnan(p.samples[0].value));
  EXPECT_EQ(p.samples[0].timestamp_ms, 1700000000123);
  EXPECT_TRUE(std::isinf(p.samples[1].value) && p.samples[1].value > 0);
  EXPECT_TRUE(std::isinf(p.samples[2].value) && p.samples[2].value < 0);
  EXPECT_EQ(p.samples[2].timestamp_ms, -5);
  EXPECT_EQ(p.samples[3].value, 1500);
  EXPECT_EQ(p.samples[3].timestamp_ms, 1700000000500);
  EXPECT_EQ(p.samples[4].value, 42);
  EXPECT_FALSE(p.samples[4].timestamp_ms.has_value());
}

TEST(PrometheusTextTest, SkipsBadLinesAndKeepsTheRest) {
  ParsedExposition p = ParsePrometheusText(
      "good 1\n"
      "{no_name=\"x\"} 1\n"
      "bad_value{a=\"b\"} twelve\n"
      "unterminated{a=\"b} 3\n"
      "missing_eq{a \"b\"} 3\n"
      "trailing 1 2 3\n"
      "also_good{a=\"}\"} 2\n"
      "# EOF\n"
      "after_eof 9\n");
  ASSERT_THAT(p.samples, SizeIs(2));
  EXPECT_EQ(p.samples[1].name, "also_good");
  EXPECT_EQ(*p.samples[1].Label("a"), "}");
  ASSERT_THAT(p.errors, SizeIs(5));
  EXPECT_THAT(p.errors[0], HasSubstr("line 2: expected a metric name"));
  EXPECT_THAT(p.errors[1], HasSubstr("line 3: bad value \"twelve\""));
  EXPECT_THAT(p.errors[2], HasSubstr("line 4: label a needs a terminated"));
  EXPECT_THAT(p.errors[3], HasSubstr("line 5: expected '='"));
  EXPECT_THAT(p.errors[4], HasSubstr("line 6: unexpected text"));
}

TEST(LoadMappingTest, DefaultsReadVllmWithTheOlderCacheName) {
  ScrapedLoad load = ExtractLoad(ParsePrometheusText(kVllm), LoadMetricMapping::Defaults());
  EXPECT_EQ(load.requests_running, 7.0);
  EXPECT_EQ(load.requests_waiting, 3.0);
  EXPECT_DOUBLE_EQ(*load.kv_cache_usage, 0.4215);
}

TEST(LoadMappingTest, DefaultsReadSglangAndTgi) {
  ScrapedLoad s = ExtractLoad(ParsePrometheusText(kSglang), LoadMetricMapping::Defaults());
  EXPECT_EQ(s.requests_running, 12.0);
  EXPECT_EQ(s.requests_waiting, 5.0);
  EXPECT_DOUBLE_EQ(*s.kv_cache_usage, 0.87);
  ScrapedLoad t = ExtractLoad(ParsePrometheusText(kTgi), LoadMetricMapping::Defaults());
  EXPECT_EQ(t.requests_running, 4.0);
  EXPECT_EQ(t.requests_waiting, 9.0);
  EXPECT_FALSE(t.kv_cache_usage.has_value());
}

TEST(LoadMappingTest, SumsSeriesPrefersFirstNameAndClampsKv) {
  ScrapedLoad load = ExtractLoad(ParsePrometheusText("vllm:num_requests_waiting{engine=\"0\"} 2\n"
                                                     "vllm:num_requests_waiting{engine=\"1\"} 5\n"
                                                     "vllm:num_requests_waiting{engine=\"2\"} NaN\n"
                                                     "vllm:kv_cache_usage_perc{engine=\"0\"} 0.5\n"
                                                     "vllm:kv_cache_usage_perc{engine=\"1\"} 1.7\n"
                                                     "vllm:gpu_cache_usage_perc 0.1\n"),
                                 LoadMetricMapping::Defaults());
  EXPECT_EQ(load.requests_waiting, 7.0);
  EXPECT_EQ(load.kv_cache_usage, 1.0);
  EXPECT_FALSE(load.requests_running.has_value());
}

TEST(LoadMappingTest, YamlMappingReplacesDefaultsWithScale) {
  auto config = ParseHealthConfigYaml(R"(
load_metrics:
  requests_waiting: [my_queue_depth]
  kv_cache_usage: [{name: my_kv_percent, scale: 0.01}]
)");
  ASSERT_TRUE(config.ok()) << config.status();
  ScrapedLoad load = ExtractLoad(
      ParsePrometheusText("my_queue_depth 4\nmy_kv_percent 63\nvllm:num_requests_waiting 99\n"),
      config->load_metrics);
  EXPECT_EQ(load.requests_waiting, 4.0);
  EXPECT_DOUBLE_EQ(*load.kv_cache_usage, 0.63);
  // Not mentioned: keeps the built-in list.
  EXPECT_EQ(config->load_metrics.requests_running.front().name, "vllm:num_requests_running");
}

TEST(HealthConfigTest, ReadsProbeAndOutlierSettings) {
  auto config = ParseHealthConfigYaml(R"(
probe: {path: /ready, interval: 2s, timeout: 250ms, healthy_threshold: 1, unhealthy_threshold: 4}
scrape_interval: 3s
outlier: {consecutive_failures: 3, error_rate: 0.4, base_ejection: 1s, max_ejection: 8s}
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->probe.path, "/ready");
  EXPECT_EQ(config->probe.interval, absl::Seconds(2));
  EXPECT_EQ(config->probe.timeout, absl::Milliseconds(250));
  EXPECT_EQ(config->probe.healthy_threshold, 1);
  EXPECT_EQ(config->probe.unhealthy_threshold, 4);
  EXPECT_EQ(config->scrape_interval, absl::Seconds(3));
  EXPECT_EQ(config->outlier.consecutive_failures, 3);
  EXPECT_EQ(config->outlier.max_ejection, absl::Seconds(8));
}

TEST(HealthConfigTest, ListsEveryProblem) {
  auto config = ParseHealthConfigYaml(R"(
probe: {path: health, timeout: soon, unhealthy_threshold: 0, colour: red}
load_metrics: {kv_cache_usage: [{scale: 2}]}
outlier: {error_rate: 3}
extra: 1
)");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string msg(config.status().message());
  EXPECT_THAT(msg, HasSubstr("probe.path: must be a path starting with /"));
  EXPECT_THAT(msg, HasSubstr("probe.timeout: must be a positive duration"));
  EXPECT_THAT(msg, HasSubstr("probe.unhealthy_threshold: must be a number in [1, 100]"));
  EXPECT_THAT(msg, HasSubstr("probe.colour: unknown field"));
  EXPECT_THAT(msg, HasSubstr("load_metrics.kv_cache_usage[0]: must be a metric name"));
  EXPECT_THAT(msg, HasSubstr("outlier.error_rate: must be a number in [0, 1]"));
  EXPECT_THAT(msg, HasSubstr("extra: unknown field"));
}

TEST(HealthConfigTest, EndpointOverridesResolveOneByOne) {
  llmrouter::v1::HealthCheck own;
  own.set_path("/ping");
  own.set_unhealthy_threshold(1);
  ProbeSettings p = ResolveProbe(ProbeSettings{}, own);
  EXPECT_EQ(p.path, "/ping");
  EXPECT_EQ(p.unhealthy_threshold, 1);
  EXPECT_EQ(p.healthy_threshold, 2);
  EXPECT_EQ(p.interval, absl::Seconds(5));
  EXPECT_EQ(p.metrics_path, "/metrics");
}

}  // namespace
}  // namespace llmrouter::inventory
