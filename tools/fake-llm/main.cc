// fake-llm: an OpenAI-compatible fake model backend with latency, streaming, failure injection
// and vLLM-style /metrics, for the demo, the integration tests and the benchmarks.

// Boost 1.74's coroutine headers need <utility> first with g++ 12.
// clang-format off
#include <utility>
// clang-format on

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_split.h"
#include "common/service_runner.h"
#include "spdlog/spdlog.h"
#include "tools/fake-llm/fake_llm_options.h"
#include "tools/fake-llm/fake_llm_server.h"

// Shared with every service (common/service_runner.cc): --host, --ready_file, --log_level,
// --log_format and --shutdown_grace_ms.
ABSL_DECLARE_FLAG(std::string, host);

ABSL_FLAG(int, port, 8000, "HTTP port; 0 picks a free port (see --ready_file)");
ABSL_FLAG(std::string, model, "fake-model",
          "Served model name, or several separated by commas; the first labels the metrics");
ABSL_FLAG(std::string, name, "",
          "Backend id for the x-fake-llm-backend header and system_fingerprint; default --model");
ABSL_FLAG(std::string, api_key, "",
          "When set, inference requests need 'Authorization: Bearer <this>' (401 otherwise), "
          "like a hosted provider");
ABSL_FLAG(int, latency_ms, 0, "Delay before the first byte of every inference answer");
ABSL_FLAG(int, per_token_ms, 0,
          "Delay before each generated token (stream chunk); a JSON answer waits for all of them");
ABSL_FLAG(int, completion_tokens, 16, "Tokens (words) generated unless max_tokens is smaller");
ABSL_FLAG(int, max_concurrency, 64,
          "Requests served at once; more wait (vllm:num_requests_waiting)");
ABSL_FLAG(double, error_rate, 0, "Share of inference requests answered with --error_status");
ABSL_FLAG(int, error_status, 500, "HTTP status of injected errors, 400-599");
ABSL_FLAG(double, hang_rate, 0, "Share of inference requests never answered");
ABSL_FLAG(double, drop_rate, 0,
          "Share of inference requests whose connection is closed mid-answer (streams: after "
          "half the tokens)");
ABSL_FLAG(std::uint64_t, seed, 1, "Seed of the fault draws and response ids");
ABSL_FLAG(int, threads, 1, "Worker threads, each with its own event loop");
ABSL_FLAG(double, report_running, -1,
          "When >= 0, /metrics reports this vllm:num_requests_running instead of the real one");
ABSL_FLAG(double, report_waiting, -1,
          "When >= 0, /metrics reports this vllm:num_requests_waiting instead of the real one");
ABSL_FLAG(double, report_kv_cache, -1,
          "When >= 0, /metrics reports this vllm:kv_cache_usage_perc instead of the modelled one");

namespace llmrouter {
namespace {

int Run() {
  absl::StatusOr<ServiceOptions> service = ServiceOptionsFromFlags({.name = "fake-llm"});
  if (!service.ok()) {
    std::fprintf(stderr, "fake-llm: %s\n", service.status().ToString().c_str());
    return 2;
  }
  FakeLlmOptions options;
  options.host = service->host;
  options.port = absl::GetFlag(FLAGS_port);
  options.models = absl::StrSplit(absl::GetFlag(FLAGS_model), ',', absl::SkipEmpty());
  options.name = absl::GetFlag(FLAGS_name);
  options.api_key = absl::GetFlag(FLAGS_api_key);
  options.latency_ms = absl::GetFlag(FLAGS_latency_ms);
  options.per_token_ms = absl::GetFlag(FLAGS_per_token_ms);
  options.completion_tokens = absl::GetFlag(FLAGS_completion_tokens);
  options.max_concurrency = absl::GetFlag(FLAGS_max_concurrency);
  options.error_rate = absl::GetFlag(FLAGS_error_rate);
  options.error_status = absl::GetFlag(FLAGS_error_status);
  options.hang_rate = absl::GetFlag(FLAGS_hang_rate);
  options.drop_rate = absl::GetFlag(FLAGS_drop_rate);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.report_running = absl::GetFlag(FLAGS_report_running);
  options.report_waiting = absl::GetFlag(FLAGS_report_waiting);
  options.report_kv_cache = absl::GetFlag(FLAGS_report_kv_cache);
  if (absl::Status valid = ValidateFakeLlmOptions(options); !valid.ok()) {
    std::fprintf(stderr, "fake-llm: %s\n", valid.ToString().c_str());
    return 2;
  }

  FakeLlmServer server(options);
  if (absl::Status started = server.Start(); !started.ok()) {
    spdlog::error("fake_llm_start_failed error=\"{}\"", started.ToString());
    return 1;
  }
  ServiceRunner runner(*service);
  runner.AddPort("http_port", server.port());
  if (absl::Status ready = runner.WriteReadyFile(); !ready.ok()) {
    spdlog::error("ready_file_failed error=\"{}\"", ready.ToString());
    server.Stop(std::chrono::milliseconds(0));
    return 1;
  }
  spdlog::info("fake_llm_listening address={}:{} backend={} models={}", options.host, server.port(),
               options.backend_name(), absl::GetFlag(FLAGS_model));
  int sig = WaitForShutdownSignal();
  spdlog::info("fake_llm_stopping signal={}", sig);
  server.Stop(service->shutdown_grace);
  spdlog::info("fake_llm_stopped");
  return 0;
}

}  // namespace
}  // namespace llmrouter

int main(int argc, char** argv) {
  llmrouter::BlockShutdownSignals();
  // A fake backend should not be reachable from the network unless asked to.
  absl::SetFlag(&FLAGS_host, "127.0.0.1");
  absl::SetProgramUsageMessage(
      "An OpenAI-compatible fake model backend.\n"
      "  fake-llm --port=0 --ready_file=/tmp/fake.json --model=m1 --latency_ms=20");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr, "fake-llm: unexpected argument \"%s\"\n", rest[1]);
    return 2;
  }
  return llmrouter::Run();
}
